r"""Writes the notebooks from their cell lists (``cells/nbXX.py``, one
module per notebook), without outputs.

Notebooks are kept as code here so that their diffs are readable; run
``python notebooks/make_notebooks.py`` after editing, and commit both (an
unchanged notebook is not rewritten; cell ids are stable). The test suite
(``tests/test_notebooks.py``) executes every ``notebooks/*.ipynb`` top to
bottom, checks that each is what this script writes, and counts its
``plot_*`` cells (a new notebook adds its count to ``PLOT_CELLS`` there).
"""
import hashlib
import importlib.util
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent


def _load_cells() -> dict:
    r"""The cell lists of ``cells/nbXX.py``, one module per notebook, by
    notebook name in file order (the folder is not a package)."""
    notebooks = {}
    for path in sorted((HERE / 'cells').glob('nb*.py')):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        notebooks[module.NAME] = module.CELLS
    return notebooks


#: The cells of every notebook, by file name: kind ('md' or 'code') and
#: source.
NOTEBOOKS = _load_cells()


def cell_id(name: str, index: int) -> str:
    r"""A stable cell id (nbformat's are random), so that regenerating a
    notebook changes only what its cells changed."""
    return hashlib.sha1(f'{name}:{index}'.encode()).hexdigest()[:8]


def build(name: str) -> nbformat.NotebookNode:
    r"""The notebook :obj:`name` of :data:`NOTEBOOKS`, without outputs."""
    cells = []
    for index, (kind, src) in enumerate(NOTEBOOKS[name]):
        cell = new_markdown_cell(src) if kind == 'md' else new_code_cell(src)
        cell.id = cell_id(name, index)
        cells.append(cell)
    nb = new_notebook(cells=cells)
    nb.metadata['kernelspec'] = {'name': 'python3',
                                 'display_name': 'Python 3',
                                 'language': 'python'}
    return nb


def same_cells(a: nbformat.NotebookNode, b: nbformat.NotebookNode) -> bool:
    r"""Whether two notebooks hold the same cells (kind and source) and
    metadata, whatever their cell ids."""
    def key(nb: nbformat.NotebookNode) -> list:
        return [(c.cell_type, c.source) for c in nb.cells]
    return key(a) == key(b) and a.metadata == b.metadata


def write_all() -> None:
    r"""Writes every notebook whose cells changed; an unchanged one is left
    as it is, byte for byte."""
    for name in NOTEBOOKS:
        nb, path = build(name), HERE / name
        if path.exists() and same_cells(nbformat.read(path, as_version=4),
                                        nb):
            continue
        nbformat.write(nb, path)


if __name__ == '__main__':
    write_all()
