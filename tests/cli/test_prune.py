import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from pyg_dnnmod.cli import main
from pyg_dnnmod.cli.commands.prune import add_parser, make_config
from pyg_dnnmod.experiments.pruning import PRUNING_COLUMNS

FACTORY = '''
import torch
from pyg_dnnmod.models import DigitsDeepCNN


def build():
    torch.manual_seed(0)
    return DigitsDeepCNN(channels=(4, 8), convs_per_block=3)
'''
# Small settings: the factory's untrained model (features.3, .6, .13 and .16
# are removable), 60 test samples, one fine-tuning epoch.
TINY = ['--model', 'tinynets:build', '--num-samples', '60', '--repeats', '2',
        '--epochs', '1', '--no-progress']


@pytest.fixture(scope='module')
def factory(tmp_path_factory):
    folder = tmp_path_factory.mktemp('factory')
    (folder / 'tinynets.py').write_text(FACTORY)
    return folder


@pytest.fixture
def in_process(factory, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.syspath_prepend(str(factory))


def test_end_to_end(factory, tmp_path):
    out = tmp_path / 'run'
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(factory)] + sys.path), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'pyg_dnnmod', 'prune', *TINY, '--layers',
         'features.16,features.6', '--control', '--save-models', '--out',
         str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        'finetune_history.csv', 'largest_gain.pt', 'modularity.csv',
        'pruned.pt', 'pruning.csv', 'pruning.png', 'run.json',
        'summary.csv']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['run']

    table = pd.read_csv(out / 'pruning.csv', keep_default_na=False)
    assert table.columns.tolist() == list(PRUNING_COLUMNS)
    assert table['model'].tolist() == ['original', 'pruned', 'largest_gain']
    assert table['removed'][1] == 'features.6, features.16'
    assert (table['FLOPs'] == 2 * table['MACs']).all()

    curves = pd.read_csv(out / 'modularity.csv')
    summary = pd.read_csv(out / 'summary.csv')
    means = curves.groupby(['init', 'layer_index'])['modularity'].mean()
    for _, row in summary.iterrows():
        assert row['mean'] == pytest.approx(
            means[(row['init'], row['layer_index'])])
    pruned = summary[summary['init'] == 'pruned']
    assert pruned['original_layer_index'].tolist() == [0, 1, 3, 4]

    history = pd.read_csv(out / 'finetune_history.csv')
    assert set(history['model']) == {'pruned', 'largest_gain'}
    final = history[history['model'] == 'pruned']['test_acc'].iloc[-1]
    assert table['acc_after_%'][1] == pytest.approx(100 * final)

    record = json.loads((out / 'run.json').read_text())
    assert record['command'] == 'prune'
    assert record['removed']['pruned'] == ['features.6', 'features.16']
    assert record['config']['epochs'] == 1
    assert record['selection'] == 'given layers'

    # The saved state_dict loads into the same cut of the factory's model.
    from pyg_dnnmod.pruning import remove_layers
    sys.path.insert(0, str(factory))
    try:
        import tinynets
    finally:
        sys.path.remove(str(factory))
    model = remove_layers(tinynets.build(), ['features.6', 'features.16'])
    model.load_state_dict(torch.load(out / 'pruned.pt', weights_only=True))

    assert 'wrote ' in proc.stdout and 'largest_gain' in proc.stdout


def test_one_at_a_time(in_process, tmp_path, capsys):
    out = tmp_path / 'sweep'
    code = main(['prune', *TINY, '--one-at-a-time', '--max-steps', '3',
                 '--out', str(out)])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / 'pruning.csv', keep_default_na=False)
    assert table['model'].tolist() == ['original', '-features.16',
                                       '-features.13', '-features.6']
    record = json.loads((out / 'run.json').read_text())
    assert record['correlation']['n'] == 3
    gain = table['modularity_gain'][1:].to_numpy()
    change = table['acc_change_%'][1:].to_numpy()
    assert np.ptp(gain) > 0 and np.ptp(change) > 0  # not degenerate
    assert record['correlation']['pearson'] == pytest.approx(
        np.corrcoef(gain, change)[0, 1])
    assert 'Spearman rho' in capsys.readouterr().out


@pytest.mark.parametrize('argv, message', [
    (['--selector', 'budget'], r'--selector budget needs --m'),
    (['--remove', 'features.4'],
     r"unknown layer name\(s\) \['features.4'\] in --remove"),
    (['--remove', 'features.3', '--selector', 'gain'],
     r'either --remove or --selector'),
    (['--k', '60'], r'--k 60 must be smaller than --num-samples 60'),
    (['--cumulative'], r'--cumulative belongs to --one-at-a-time'),
    (['--tau', '-1'], r'picks no removable layer on this curve'),
    (['--lr', '0'], r"bad fine-tuning option: --lr must be > 0"),
    (['--milestones', '3,x'], r'--milestones must be an integer'),
    (['--remove', 'features.10'],
     r"cannot remove 'features.10' from DigitsDeepCNN: it maps 4 to 8"),
    (['--finetune-seeds', '0,0'], r'--finetune-seeds lists a value more '
                                  r'than once'),
    (['--finetune-seeds', '-1'], r'--finetune-seeds must be >= 0'),
    (['--threads', '0'], r'--threads must be >= 1 \(got 0\)'),
])
def test_errors(in_process, tmp_path, capsys, argv, message):
    import re
    out = tmp_path / 'out'
    assert main(['prune', *TINY, *argv, '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('pyg-dnnmod prune: error: ')
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_seeds_threads_and_recipes(in_process, tmp_path, capsys):
    out = tmp_path / 'seeds'
    before = torch.get_num_threads()
    code = main(['prune', *TINY, '--layers', 'features.16',
                 '--finetune-seeds', '0,2', '--threads', '1',
                 '--finetune-original', '--out', str(out)])
    assert code == 0, capsys.readouterr().err
    assert torch.get_num_threads() == before
    table = pd.read_csv(out / 'pruning.csv')
    assert table['num_seeds'].tolist() == [0, 2, 2]
    record = json.loads((out / 'run.json').read_text())
    assert record['finetune_seeds'] == [0, 2] and record['num_threads'] == 1
    # The default digits recipe is the short repair at lr 0.001.
    assert record['recipe'] == 'digits'
    assert (record['config']['lr'], record['config']['milestones']) == (
        0.001, [])
    assert 'mean of seeds 0,2' in capsys.readouterr().out

    parser = add_parser(argparse.ArgumentParser().add_subparsers())
    args = parser.parse_args(['--recipe', 'digits-full'])
    config, recipe = make_config(args)
    assert recipe == 'digits-full'
    assert (config.epochs, config.lr, config.milestones) == (12, 0.01, (8, ))
    args = parser.parse_args([])
    assert args.model == 'digits_deep_resnet'
    config, recipe = make_config(args)
    assert (recipe, config.epochs, config.lr) == ('digits', 2, 0.001)


def test_model_without_weights(tmp_path, capsys):
    out = tmp_path / 'out'
    assert main(['prune', '--model', 'vgg11', '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert '--model vgg11' in err and not out.exists()


@pytest.mark.slow
def test_default_run(default_cache, tmp_path):
    r"""``pyg-dnnmod prune`` with no arguments: digits_deep_resnet trained
    on the translated digits (cached), gain threshold 0.01, two fine-tuning
    epochs at lr 0.001."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-m', 'pyg_dnnmod', 'prune'],
                          capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / 'pyg_dnnmod_out' / \
        'prune-digits_deep_resnet-translated-digits-gain0.01'
    table = pd.read_csv(out / 'pruning.csv', keep_default_na=False)
    pruned = table.set_index('model').loc['pruned']
    assert pruned['FLOPs_reduction_%'] >= 20.0
    assert pruned['acc_change_%'] >= -1.0
    record = json.loads((out / 'run.json').read_text())
    assert record['selection'] == 'GainThreshold(tau=0.01)'
    assert record['model']['spec'] == 'digits_deep_resnet'
