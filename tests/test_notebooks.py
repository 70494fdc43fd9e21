r"""Every notebook runs top to bottom (a broken cell fails the suite), and
is committed without outputs."""
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] /
                    'notebooks').glob('*.ipynb'))


@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == 'code':
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.slow
@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, trained_digits, tmp_path, monkeypatch):
    from nbclient import NotebookClient
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    nb = nbformat.read(path, as_version=4)
    # Runs in a scratch folder; the session's model cache (set in the
    # environment by the `trained_digits` fixture) is inherited.
    NotebookClient(nb, timeout=600, kernel_name='python3',
                   resources={'metadata': {'path': str(tmp_path)}}).execute()
