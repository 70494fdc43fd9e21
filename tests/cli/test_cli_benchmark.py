import json

import pandas as pd
import pytest

from pyg_dnnmod.experiments import BASELINES
from pyg_dnnmod.weights.zoo import finished_networks, tiny_zoo

#: The zoo of the benchmark tests (see test_dnn_dynamics_dataset.py),
#: shared by the session: a resumed zoo trains nothing.
ZOO = dict(num_networks=12, widths=(0.5, 1.0), seed=3)


@pytest.fixture(scope='module')
def zoo(tmp_path_factory):
    return tiny_zoo(tmp_path_factory.getbasetemp() / 'benchmark-zoo', **ZOO)


def test_benchmark_end_to_end(run_cli, zoo, tmp_path):
    out = tmp_path / 'out'
    code, stdout, stderr = run_cli(
        'benchmark', '--zoo', zoo, '--num-networks', 12, '--T', 1,
        '--seeds', '0,1', '--narrow-max', 0.5, '--out', out,
        '--no-progress')
    assert code == 0, stderr
    assert finished_networks(zoo) == list(range(12))  # nothing trained
    assert sorted(p.name for p in out.iterdir()) == [
        'benchmark.png', 'leaderboard.csv', 'leaderboard.md', 'results.csv',
        'run.json']
    results = pd.read_csv(out / 'results.csv')
    assert len(results) == 2 * 2 * len(BASELINES)
    assert set(results['baseline']) == set(BASELINES)
    board = pd.read_csv(out / 'leaderboard.csv')
    assert board[['split', 'baseline']].values.tolist() == [
        [s, b] for s in ('seed', 'width') for b in BASELINES]
    markdown = (out / 'leaderboard.md').read_text()
    table = [line for line in markdown.splitlines() if line.startswith('|')]
    assert len(table) == 2 + 10
    assert 'mean ± std over seeds 0, 1' in markdown
    assert table[2] in stdout  # the table is printed too
    record = json.loads((out / 'run.json').read_text())
    assert record['command'] == 'benchmark'
    assert record['networks'] == 12
    assert record['split_sizes_first_seed']['width'] == dict(
        train=6, valid=2, test=4)
    assert (out / 'benchmark.png').read_bytes()[1:4] == b'PNG'


def test_benchmark_bad_input(run_cli, zoo, tmp_path):
    code, _, err = run_cli('benchmark', '--seeds', 'a')
    assert code == 2 and '--seeds must be an integer' in err
    code, _, err = run_cli('benchmark', '--baselines', 'mean,knn')
    assert code == 2 and '--baselines must be one or more of mean, ' in err
    code, _, err = run_cli('benchmark', '--zoo', zoo, '--T', 0)
    assert code == 2 and '--T must be >= 1 (got 0)' in err
    code, _, err = run_cli('benchmark', '--zoo', zoo, '--num-networks', 12,
                           '--T', 3, '--out', tmp_path / 'a')
    assert code == 2 and "'T' must be at most the 1 epochs the zoo kept" \
        in err
    # A zoo keeps its data: another one is refused, naming both.
    code, _, err = run_cli('benchmark', '--zoo', zoo, '--num-networks', 12,
                           '--data', 'fashion-mnist', '--out',
                           tmp_path / 'b')
    assert code == 2
    assert "data='centred-digits' stored vs 'fashion-mnist' now" in err
    assert not (tmp_path / 'a').exists() and not (tmp_path / 'b').exists()
