import json
import subprocess
import sys

import pandas as pd
import pytest
import torch
from torch import nn


RUN_NAME = 'curve-digits_cnn-translated-digits-N500-k3'


def _check_summary(folder):
    df = pd.read_csv(folder / 'modularity.csv')
    summary = pd.read_csv(folder / 'summary.csv')
    keys = [c for c in ('init', 'k', 'num_samples', 'metric')
            if c in summary.columns] + ['layer_index', 'layer']
    grouped = df.groupby(keys, sort=False)['modularity']
    assert summary['mean'].tolist() == pytest.approx(
        grouped.mean().tolist())
    assert summary['std'].tolist() == pytest.approx(grouped.std().tolist())
    return df, summary


@pytest.mark.slow
def test_default_run_without_arguments(trained_digits, tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'pyg_dnnmod', 'curve'],
                          capture_output=True, text=True, cwd=tmp_path,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / 'pyg_dnnmod_out' / RUN_NAME
    assert sorted(p.name for p in folder.iterdir()) == [
        'modularity.csv', 'modularity_curve.png', 'run.json', 'summary.csv']
    df, summary = _check_summary(folder)
    assert df.columns.tolist()[:4] == ['layer_index', 'layer', 'repeat',
                                       'modularity']
    assert len(df) == 5 * 4  # 5 repeats x 4 conv layers
    assert df['seed'].unique().tolist() == [0, 1, 2, 3, 4]
    assert set(df['num_samples']) == {500} and set(df['k']) == {3}
    assert set(df['metric']) == {'cosine'}
    mean = summary['mean'].tolist()
    assert mean[0] < 0.35 and mean[-1] > 0.75
    record = json.loads((folder / 'run.json').read_text())
    assert record['command'] == 'curve' and record['argv'] == ['curve']
    # Parameters keep their parsed types: an int, not the text '500'.
    assert record['params']['num_samples'] == 500
    assert record['params']['k'] == 3 and record['params']['layers'] is None
    assert record['model']['weights'] == 'pretrained default'
    assert record['model']['cached'] is True
    assert set(record['timings']) == {'data', 'model', 'curves', 'plot',
                                      'total'}
    assert record['versions']['torch'] == torch.__version__
    assert record['device'] in ('cpu', 'cuda')
    # The table and the paths on stdout.
    assert 'features.10' in proc.stdout and '±' in proc.stdout
    assert f'wrote pyg_dnnmod_out/{RUN_NAME}/modularity_curve.png' in \
        proc.stdout
    png = (folder / 'modularity_curve.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'


def test_ablation_with_random_init_overlay(trained_digits, tmp_path, run_cli):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('curve', '--k', '3,5',
                                '--compare-random-init', '--num-samples',
                                50, '--repeats', 2, '--out', out)
    assert code == 0, err
    df, summary = _check_summary(out)
    assert len(df) == 2 * 2 * 2 * 4  # init x k x repeats x layers
    assert summary[['init', 'k']].drop_duplicates().values.tolist() == [
        ['trained', 3], ['trained', 5], ['random', 3], ['random', 5]]
    record = json.loads((out / 'run.json').read_text())
    assert record['ablation'] == 'k'
    assert record['curves'] == ['random', 'trained']
    assert 'k = 5, random init' in stdout
    # The trained curve ends far above the random one.
    last = summary[(summary['layer_index'] == 3) & (summary['k'] == 3)]
    trained, random = last['mean'].tolist()
    assert trained > random + 0.3


def test_calibrated_curve(trained_digits, tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run_cli('curve', '--calibrate', '--permutations',
                                200, '--num-samples', 100, '--repeats', 2)
    assert code == 0, err
    folder = tmp_path / 'pyg_dnnmod_out' / \
        'curve-digits_cnn-translated-digits-N100-k3-calibrated'
    df, summary = _check_summary(folder)
    assert df.columns.tolist()[-4:] == ['q_null_mean', 'q_null_std', 'z',
                                        'p']
    # The null sits near zero; the trained last layer is far above it.
    assert summary['null_mean'].abs().max() < 0.05
    assert summary['z_mean'].iloc[-1] > 20
    # The deep layers beat every permutation (N = 100 is too few for the
    # first ones to do so in every draw).
    assert (df.loc[df['layer_index'] >= 2, 'p'] == 1 / 201).all()
    record = json.loads((folder / 'run.json').read_text())
    assert record['params']['calibrate'] is True
    assert record['permutations'] == 200
    assert '(z ' in stdout
    code, _, err = run_cli('curve', '--permutations', 50, '--repeats', 1)
    assert code == 2 and '--permutations 50 needs --calibrate' in err


def test_default_folder_is_never_clobbered(trained_digits, tmp_path, run_cli,
                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ['curve', '--num-samples', 30, '--repeats', 1, '--metric',
            'pearson', '--layers', '2']
    assert run_cli(*args)[0] == 0
    assert run_cli(*args)[0] == 0
    name = 'curve-digits_cnn-translated-digits-N30-k3-pearson'
    assert sorted(p.name for p in (tmp_path / 'pyg_dnnmod_out').iterdir()) \
        == [name, f'{name}-2']
    df = pd.read_csv(tmp_path / 'pyg_dnnmod_out' / name / 'modularity.csv')
    assert df['layer'].tolist() == ['features.7', 'features.10']
    assert df['metric'].unique().tolist() == ['pearson']
    # --overwrite replaces the plain name.
    assert run_cli(*args, '--overwrite')[0] == 0
    assert len(list((tmp_path / 'pyg_dnnmod_out').iterdir())) == 2


def test_random_init_and_checkpoint(trained_digits, tmp_path, run_cli):
    model, _ = trained_digits
    ckpt = tmp_path / 'weights.pt'
    torch.save(model.state_dict(), ckpt)
    code, _, err = run_cli('curve', '--checkpoint', ckpt,
                           '--num-samples', 50, '--repeats', 1, '--out',
                           tmp_path / 'a')
    assert code == 0, err
    code, _, err = run_cli('curve', '--num-samples', 50, '--repeats',
                           1, '--out', tmp_path / 'b')
    assert code == 0, err
    a = pd.read_csv(tmp_path / 'a' / 'modularity.csv')
    b = pd.read_csv(tmp_path / 'b' / 'modularity.csv')
    assert a['modularity'].tolist() == b['modularity'].tolist()
    code, _, err = run_cli('curve', '--random-init', '--num-samples',
                           50, '--repeats', 1, '--out', tmp_path / 'c')
    assert code == 0, err
    c = pd.read_csv(tmp_path / 'c' / 'modularity.csv')
    assert c['init'].unique().tolist() == ['random']
    assert c['modularity'].iloc[-1] < b['modularity'].iloc[-1] - 0.3


def _bad_checkpoint(tmp_path):
    path = tmp_path / 'linear.pt'
    torch.save(nn.Linear(2, 3).state_dict(), path)
    return path


ERRORS = [
    (['--dataset', 'cifar10'],
     "--dataset cifar10 reads a local copy: pass --data-root DIR"),
    (['--dataset', 'cifar100', '--data-root', '{tmp}'],
     "--data-root: CIFAR-100 not found under 'root'"),
    (['--model', 'vgg99'], "--model: Unknown model 'vgg99'"),
    (['--model', 'digits_cnn', '--dataset', 'digits'],
     "--model digits_cnn has no trained weights here (the default digits_cnn "
     "is trained only for --dataset translated-digits): pass --checkpoint "
     "FILE"),
    (['--model', 'lenet5', '--random-init', '--dataset', 'digits'],
     "--model lenet5: 'input_size' must be >= 12 (got 8)"),
    (['--model', 'torchvision:resnet18', '--random-init'],
     "--model torchvision:resnet18 cannot take the translated digits inputs "
     "of shape [1, 16, 16]"),
    (['--layers', 'conv9'], "--layers conv9: unknown layer name(s) "
                            "['conv9']"),
    (['--checkpoint', '{ckpt}'], "does not fit the model: missing keys"),
    (['--checkpoint', '{tmp}/none.pt'], "--checkpoint '{tmp}/none.pt' does "
                                        "not exist"),
    (['--k', '50', '--num-samples', '50'],
     "--k 50 must be smaller than --num-samples 50"),
    (['--k', '3,5', '--num-samples', '50,100'],
     "only one of --k, --num-samples and --metric may list several values"),
    (['--k', 'three'], "--k must be an integer or a comma-separated list"),
    (['--metric', 'cos'], "--metric must be one or more of cosine, pearson"),
    (['--num-samples', '55'], "--num-samples 55: 'num_samples' (55) is not a "
                              "multiple of the number of classes (10)"),
    (['--num-samples', '5000'], "--num-samples 5000 exceeds the 898 samples"),
    (['--repeats', '0'], "--repeats must be >= 1 (got 0)"),
    (['--device', 'tpu'], "--device must be 'auto', 'cpu', 'cuda'"),
    (['--random-init', '--compare-random-init'],
     "--compare-random-init overlays the random-init curve"),
]


@pytest.mark.parametrize('argv,message', ERRORS,
                         ids=[' '.join(a) for a, _ in ERRORS])
def test_errors_exit_2_with_one_line_and_write_nothing(
        trained_digits, tmp_path, run_cli, argv, message):
    ckpt = _bad_checkpoint(tmp_path)
    fill = dict(tmp=tmp_path, ckpt=ckpt)
    argv = [a.format(**fill) for a in argv]
    out = tmp_path / 'out'
    code, stdout, err = run_cli('curve', *argv, '--repeats',
                                argv[argv.index('--repeats') + 1]
                                if '--repeats' in argv else 1,
                                '--out', out)
    assert code == 2
    assert stdout == ''
    assert err.startswith('pyg-dnnmod curve: error: ')
    assert err.count('\n') == 1
    assert message.format(**fill) in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['linear.pt']


def test_existing_output_folder(trained_digits, tmp_path, run_cli):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    code, _, err = run_cli('curve', '--out', out)
    assert code == 2
    assert f"output folder '{out}' already exists and is not empty; pass " \
           f"--overwrite" in err
    code, _, err = run_cli('curve', '--out', out, '--overwrite')
    assert code == 2
    assert f"refusing to overwrite '{out}': it holds no run.json" in err
    assert [p.name for p in out.iterdir()] == ['notes.txt']


def test_factory_model_and_its_random_init(tmp_path, run_cli, monkeypatch):
    (tmp_path / 'my_nets.py').write_text(
        'import torch\n'
        'from torch import nn\n'
        'def build():\n'
        '    torch.manual_seed(5)\n'
        '    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(),\n'
        '                         nn.Conv2d(4, 4, 3), nn.Flatten())\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / 'out'
    code, _, err = run_cli('curve', '--model', 'my_nets:build',
                           '--dataset', 'synthetic', '--compare-random-init',
                           '--num-samples', 30, '--repeats', 1, '--out', out)
    assert code == 0, err
    df = pd.read_csv(out / 'modularity.csv', dtype={'layer': str})
    assert df['layer'].unique().tolist() == ['0', '2']
    assert df['init'].unique().tolist() == ['trained', 'random']
    # The factory seeds its own init; the random init is a different draw.
    trained = df[df['init'] == 'trained']['modularity'].tolist()
    random = df[df['init'] == 'random']['modularity'].tolist()
    assert trained != random
    record = json.loads((out / 'run.json').read_text())
    assert record['model']['weights'] == 'as returned by the factory'
    assert record['data']['input_shape'] == [3, 32, 32]

    code, _, err = run_cli('curve', '--model', 'my_nets:nothing',
                           '--out', tmp_path / 'x')
    assert code == 2
    assert "--model my_nets:nothing: 'my_nets' has no callable 'nothing'" \
        in err


def test_torchvision_model(tmp_path, run_cli):
    pytest.importorskip('torchvision')
    out = tmp_path / 'out'
    code, _, err = run_cli('curve', '--model', 'torchvision:resnet18',
                           '--random-init', '--dataset', 'synthetic',
                           '--num-samples', 20, '--repeats', 1, '--layers',
                           '3', '--out', out)
    assert code == 0, err
    df = pd.read_csv(out / 'modularity.csv')
    # The paper's ResNet points: stem + blocks, here the last three blocks.
    assert df['layer'].tolist() == ['model.layer3.1', 'model.layer4.0',
                                    'model.layer4.1']
