r"""Every notebook runs top to bottom (a broken cell fails the suite), shows
the figures of its plot cells, and is committed without outputs."""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / 'notebooks').glob('*.ipynb'))
# A cell that calls one of pyg_dnnmod.plotting's plot_* functions.
PLOT_CALL = re.compile(r'\bplot_\w+\(')


@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == 'code':
            assert cell.outputs == [] and cell.execution_count is None


def test_figures_reach_jupyter_display():
    # IPython's display asks for a PNG; without pyplot's inline backend
    # no formatter knows matplotlib's Figure, so a bare one shows only text.
    import pandas as pd
    from IPython.core.formatters import DisplayFormatter
    from matplotlib.figure import Figure

    from pyg_dnnmod.plotting import plot_modularity_curve

    bare = Figure()
    bare.add_subplot()
    formatter = DisplayFormatter()
    assert 'image/png' not in formatter.format(bare)[0]
    summary = pd.DataFrame({'layer_index': [0, 1], 'layer': ['a', 'b'],
                            'mean': [0.2, 0.8]})
    data, _ = formatter.format(plot_modularity_curve(summary))
    assert data['image/png'][:8] == b'\x89PNG\r\n\x1a\n'


def test_every_figure_is_made_by_the_display_factory():
    # A Figure(...) built elsewhere in plotting would not show in Jupyter.
    for path in sorted((ROOT / 'pyg_dnnmod' / 'plotting').glob('*.py')):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split('#')[0].strip()
            if re.search(r'\bFigure\(', code) and not code.startswith('>>>') \
                    and 'DisplayFigure(' not in code:
                pytest.fail(f'{path.name}:{number} makes a Figure without '
                            f'new_figure(): {line.strip()}')


def plot_cells_without_image(nb):
    r"""The code cells that call a plot_* function but display no PNG."""
    missing = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != 'code' or not PLOT_CALL.search(cell.source):
            continue
        if not any(out.output_type in ('display_data', 'execute_result')
                   and 'image/png' in out.get('data', {})
                   for out in cell.outputs):
            texts = [out.get('data', {}).get('text/plain', '')
                     for out in cell.outputs]
            missing.append((index, texts))
    return missing


@pytest.mark.slow
@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, trained_digits, tmp_path, monkeypatch):
    from nbclient import NotebookClient
    # A backend that displays nothing: the figures must show regardless.
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    nb = nbformat.read(path, as_version=4)
    # Runs in a scratch folder; the session's model cache (set in the
    # environment by the `trained_digits` fixture) is inherited.
    NotebookClient(nb, timeout=600, kernel_name='python3',
                   resources={'metadata': {'path': str(tmp_path)}}).execute()
    assert plot_cells_without_image(nb) == []
    if path.name.startswith('01_'):
        plots = [c for c in nb.cells
                 if c.cell_type == 'code' and PLOT_CALL.search(c.source)]
        assert len(plots) == 3  # curve, t-SNE grid, ablation curves
