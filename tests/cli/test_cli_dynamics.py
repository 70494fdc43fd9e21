import json

import pandas as pd
import pytest
from scipy.stats import spearmanr

from pyg_dnnmod.cli import main


@pytest.fixture(scope='module')
def dynamics_run(tmp_path_factory):
    r"""``pyg-dnnmod dynamics --epochs 3`` on the embedded default."""
    out = tmp_path_factory.mktemp('dynamics') / 'out'
    code = main(['dynamics', '--epochs', '3', '--num-samples', '200',
                 '--out', str(out)])
    assert code == 0
    return out


@pytest.mark.slow
def test_acceptance_on_the_default(dynamics_run):
    r"""Issue 5: the deep layers' modularity rises with the accuracy while
    the first layer stays within 0.1 of its epoch-0 value."""
    out = dynamics_run
    assert sorted(p.name for p in out.iterdir()) == [
        'dynamics.csv', 'dynamics.png', 'epoch_003.pt', 'run.json']
    df = pd.read_csv(out / 'dynamics.csv')
    assert df.columns.tolist() == [
        'epoch', 'layer_index', 'layer', 'modularity', 'train_loss',
        'train_acc', 'test_loss', 'test_acc', 'lr']
    grid = df.pivot(index='epoch', columns='layer', values='modularity')
    accuracy = df.groupby('epoch')['test_acc'].first()
    assert grid.index.tolist() == [0, 1, 2, 3]
    first, last = grid['features.0'], grid['features.10']
    assert (first - first[0]).abs().max() < 0.1
    assert last[3] > last[0] + 0.2
    assert accuracy[3] > accuracy[0] + 0.5
    assert spearmanr(last, accuracy)[0] > 0.8
    record = json.loads((out / 'run.json').read_text())
    assert record['command'] == 'dynamics'
    assert record['config']['epochs'] == 3
    assert record['recipe'] == 'digits'
    # run.json is written inside the 'write' stage, so it lacks that one.
    assert {'data', 'model', 'train', 'snapshots', 'plot', 'total'} <= \
        set(record['timings'])


@pytest.mark.slow
def test_same_grid_from_train_checkpoints(dynamics_run, tmp_path, run_cli):
    run = tmp_path / 'run'
    code, _, err = run_cli('train', '--epochs', 2, '--out', run)
    assert code == 0, err
    out = tmp_path / 'out'
    code, stdout, err = run_cli('dynamics', '--checkpoints', run,
                                '--num-samples', 200, '--out', out)
    assert code == 0, err
    got = pd.read_csv(out / 'dynamics.csv')
    trained = pd.read_csv(dynamics_run / 'dynamics.csv')
    trained = trained[trained['epoch'] <= 2].reset_index(drop=True)
    # Training is deterministic: the same weights at every epoch.
    assert got['modularity'].tolist() == pytest.approx(
        trained['modularity'].tolist(), abs=1e-6)
    assert got['test_acc'].tolist() == pytest.approx(
        trained['test_acc'].tolist())
    record = json.loads((out / 'run.json').read_text())
    assert record['epochs'] == [0, 1, 2]
    assert 'features.10' in stdout and 'test_acc' in stdout


def test_calibrated_grid_from_checkpoints(tmp_path, run_cli):
    run = tmp_path / 'run'
    code, _, err = run_cli('train', '--epochs', 1, '--out', run)
    assert code == 0, err
    out = tmp_path / 'out'
    code, stdout, err = run_cli('dynamics', '--checkpoints', run,
                                '--num-samples', 100, '--calibrate',
                                '--permutations', 100, '--out', out)
    assert code == 0, err
    df = pd.read_csv(out / 'dynamics.csv')
    assert df.columns.tolist()[-4:] == ['q_null_mean', 'q_null_std', 'z',
                                        'p']
    last = df[df['layer'] == 'features.10'].set_index('epoch')
    # One epoch already lifts the last layer well above chance.
    assert last.loc[1, 'z'] > 3 and last.loc[1, 'z'] > last.loc[0, 'z'] + 2
    record = json.loads((out / 'run.json').read_text())
    assert record['params']['calibrate'] is True


ERRORS = [
    (['--permutations', '1', '--calibrate'],
     "--permutations must be at least 2 (got 1)"),
    (['--every', '0'], "--every must be >= 1 (got 0)"),
    (['--epochs', '-1'], "--epochs must be >= 0 (got -1)"),
    (['--k', '20', '--num-samples', '20'],
     "--k 20 must be smaller than --num-samples 20"),
    (['--checkpoints', '{tmp}'], "holds no epoch_XXX.pt checkpoint"),
    (['--show-layers', 'conv9', '--epochs', '0'],
     "--show-layers names ['conv9'], which are not among the selected "
     "layers"),
    (['--lr', '0'], "bad training option: --lr must be > 0 (got 0.0)"),
]


@pytest.mark.parametrize('argv,message', ERRORS,
                         ids=[' '.join(a) for a, _ in ERRORS])
def test_errors_exit_2_and_write_nothing(tmp_path, run_cli, argv, message):
    argv = [a.format(tmp=tmp_path) for a in argv]
    out = tmp_path / 'out'
    code, stdout, err = run_cli('dynamics', *argv, '--out', out)
    assert code == 2
    assert stdout == ''
    assert err.startswith('pyg-dnnmod dynamics: error: ')
    assert err.count('\n') == 1
    assert message.format(tmp=tmp_path) in err
    assert list(tmp_path.iterdir()) == []
