r"""The ``torchrun`` entry takes the model options of ``curve`` and writes
its files, run here in this process as a group of one (gloo)."""
import json
import socket

import pandas as pd
import pytest
import torch.distributed as dist

from pyg_dnnmod.cli.torchrun import build_parser, main

pytestmark = pytest.mark.skipif(not dist.is_available(),
                                reason='torch.distributed is unavailable')


@pytest.fixture
def group_of_one(monkeypatch):
    r"""The environment torchrun gives a single process."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    for name, value in dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                            RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
                            LOCAL_WORLD_SIZE='1').items():
        monkeypatch.setenv(name, value)


def test_curve_of_a_chosen_model_with_its_files(tmp_path, group_of_one,
                                                capsys):
    from pyg_dnnmod.datasets import load_dataset
    from pyg_dnnmod.experiments import CURVE_COLUMNS, modularity_curves
    from pyg_dnnmod.pretrained import load_model

    out = tmp_path / 'run'
    code = main(['--model', 'digits_cnn', '--random-init', '--dataset',
                 'synthetic', '--num-samples', '40', '--k', '4',
                 '--repeats', '2', '--seed', '3', '--device', 'cpu',
                 '--check', '--out', str(out), '--no-progress'])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert not dist.is_initialized()  # the group it joined is left
    assert 'equal to the single-process curve: True' in captured.out

    df = pd.read_csv(out / 'modularity.csv', dtype={'layer': str})
    assert df.columns.tolist() == list(CURVE_COLUMNS)
    # The reference: the single-process curves of the same model and draws.
    data = load_dataset('synthetic', shape=(1, 16, 16))
    model, _ = load_model('digits_cnn', data, random_init=True, seed=3)
    ref = modularity_curves({'random': model}, data.inputs, data.labels,
                            num_samples=40, k=4, seed=3, repeats=2)
    assert df['layer'].tolist() == ref['layer'].tolist()
    assert df['repeat'].tolist() == ref['repeat'].tolist()
    assert df['init'].unique().tolist() == ['random']
    assert df['num_edges'].tolist() == ref['num_edges'].tolist()
    assert df['modularity'].to_numpy() == pytest.approx(
        ref['modularity'].to_numpy(), abs=1e-9)

    summary = pd.read_csv(out / 'summary.csv')
    assert summary['count'].tolist() == [2] * summary.shape[0]
    assert (out / 'modularity_curve.png').read_bytes()[1:4] == b'PNG'
    record = json.loads((out / 'run.json').read_text())
    assert record['command'] == 'torchrun'
    assert (record['world_size'], record['backend']) == (1, 'gloo')
    assert record['equal_to_single_process'] is True
    assert record['model']['init'] == 'random'
    assert record['data']['input_shape'] == [1, 16, 16]
    assert record['sample_seeds'] == [3, 4]


def test_help_is_complete():
    parser = build_parser()
    assert parser.description.endswith('.')
    text = parser.format_help()
    for option in ('--model', '--checkpoint', '--random-init', '--dataset',
                   '--layers', '--num-samples', '--repeats', '--check',
                   '--out'):
        assert option in text, option
    assert 'modularity.csv, summary.csv, modularity_curve.png and run.json' \
        in ' '.join(text.split())


def test_an_error_is_one_line_and_leaves_the_group(tmp_path, group_of_one,
                                                   capsys):
    code = main(['--model', 'digits_cnn', '--random-init', '--dataset',
                 'synthetic', '--num-samples', '10', '--k', '10',
                 '--device', 'cpu', '--out', str(tmp_path / 'x')])
    err = capsys.readouterr().err
    assert code == 2
    assert err == ('pyg-dnnmod torchrun (rank 0): error: --k 10 must be '
                   'smaller than --num-samples 10 (every sample needs k '
                   'other samples); lower --k or raise --num-samples\n')
    assert not dist.is_initialized()
    assert not (tmp_path / 'x').exists()
