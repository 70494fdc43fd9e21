r"""Every notebook runs top to bottom (a broken cell fails the suite), shows
the figures of its plot cells, is committed without outputs, and is what
``notebooks/make_notebooks.py`` writes."""
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / 'notebooks').glob('*.ipynb'))
# A cell that calls one of pyg_dnnmod.plotting's plot_* functions.
PLOT_CALL = re.compile(r'\bplot_\w+\(')
# The cells of every notebook that draw a figure with a plot_* function, so
# that a figure cannot silently disappear; a new notebook adds its count.
PLOT_CELLS = {
    '01_quick_start.ipynb': 3,  # curve, t-SNE grid, ablation curves
    '02_snapshots_as_pyg_dataset.ipynb': 0,  # a pyplot figure of its own
    '03_pruning.ipynb': 2,  # curve, pruning report
    '04_adversarial_and_training_dynamics.ipynb': 2,  # attacks, epochs
    '05_weight_graphs_and_accuracy_prediction.ipynb': 2,  # scatter, bins
    '06_population_benchmark_and_gnn_baseline.ipynb': 1,  # leaderboard
}


def load_generator():
    r"""``notebooks/make_notebooks.py`` as a module (the folder is not a
    package)."""
    spec = importlib.util.spec_from_file_location(
        'make_notebooks', ROOT / 'notebooks' / 'make_notebooks.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def execute(nb, folder):
    r"""Runs :obj:`nb` in place as the suite runs every notebook: a fresh
    python3 kernel started in :obj:`folder`, every cell in order, a
    :class:`nbclient.exceptions.CellExecutionError` at the first cell that
    raises. The caller sets ``MPLBACKEND``; the kernel inherits the
    environment (the session's model cache included)."""
    from nbclient import NotebookClient
    NotebookClient(nb, timeout=600, kernel_name='python3',
                   resources={'metadata': {'path': str(folder)}}).execute()


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
    # A backend that displays nothing: the figures must show regardless.
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    # One thread in the kernel: the notebooks are sized for one core, and
    # the suite runs on two workers (pytest -n 2), where a kernel's
    # OpenMP threads would compete with the other worker's.
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    nb = nbformat.read(path, as_version=4)
    # Runs in a scratch folder; the session's model cache (set in the
    # environment by the `trained_digits` fixture) is inherited.
    execute(nb, tmp_path)
    assert plot_cells_without_image(nb) == []


@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: p.name)
def test_plot_cells_are_counted(path):
    assert path.name in PLOT_CELLS, \
        f'add the number of plot_* cells of {path.name} to PLOT_CELLS'
    nb = nbformat.read(path, as_version=4)
    plots = [c for c in nb.cells
             if c.cell_type == 'code' and PLOT_CALL.search(c.source)]
    assert len(plots) == PLOT_CELLS[path.name]


def test_notebooks_are_what_the_generator_writes():
    # Edited by hand, or not regenerated after make_notebooks.py changed:
    # the committed notebook and its cell list have parted.
    generator = load_generator()
    assert sorted(generator.NOTEBOOKS) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        committed = nbformat.read(path, as_version=4)
        assert generator.same_cells(committed, generator.build(path.name)), \
            f'{path.name}: run python notebooks/make_notebooks.py'


@pytest.mark.slow  # a kernel start, a few seconds
def test_a_broken_cell_fails_the_run(tmp_path, monkeypatch):
    # A real notebook with its first code cell replaced by one that raises:
    # the run stops there with CellExecutionError (so the suite fails), and
    # no later cell runs, which also keeps this test cheap.
    from nbclient.exceptions import CellExecutionError
    from nbformat.v4 import new_code_cell

    monkeypatch.setenv('MPLBACKEND', 'Agg')
    # One thread in the kernel: the notebooks are sized for one core, and
    # the suite runs on two workers (pytest -n 2), where a kernel's
    # OpenMP threads would compete with the other worker's.
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == 'code']
    assert len(code) >= 2
    nb.cells[code[0]] = new_code_cell('1 / 0  # a deliberately broken cell')
    with pytest.raises(CellExecutionError) as info:
        execute(nb, tmp_path)
    assert info.value.ename == 'ZeroDivisionError'
    assert nb.cells[code[0]].outputs[-1].output_type == 'error'
    assert [nb.cells[i].execution_count for i in code[1:]] == \
        [None] * (len(code) - 1)
