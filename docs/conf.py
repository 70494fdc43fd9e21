"""Sphinx configuration: the API reference is built from the docstrings."""
import datetime
import os
import sys

sys.path.insert(0, os.path.abspath('..'))

import pyg_dnnmod  # noqa: E402

project = 'pyg_dnnmod'
author = 'pyg_dnnmod developers'
copyright = f'{datetime.date.today().year}, {author}'
version = release = pyg_dnnmod.__version__

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.autosummary',
    'sphinx.ext.napoleon',
    'sphinx.ext.mathjax',
    'sphinx.ext.viewcode',
]
autosummary_generate = True
autodoc_member_order = 'bysource'
autodoc_default_options = {'members': True, 'undoc-members': False}
autodoc_typehints = 'none'
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True
add_module_names = False
suppress_warnings = ['autosummary.import_cycle']
html_theme = 'furo'
html_title = f'pyg_dnnmod {version}'
exclude_patterns = ['_build']
nitpicky = False
