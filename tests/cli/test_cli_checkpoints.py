r"""``--checkpoint`` reads back every format the tool writes, takes the model
and data set a file records, refuses other data and whole pickled models in
plain words; hints name only options the command has; ``dynamics`` keeps
its trained model and scales its milestones; folder names say which
checkpoint was used (issue 20, points 4 and 9)."""
import argparse
import json
import re

import pandas as pd
import pytest
import torch

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli import build_parser
from pyg_dnnmod.cli._errors import CLIError
from pyg_dnnmod.cli.commands import align, curve, prune
from pyg_dnnmod.models import get_model
from pyg_dnnmod.pretrained import digits_model, load_model_checkpoint
from pyg_dnnmod.training import save_model_checkpoint


def commands() -> dict:
    parser = build_parser()
    action = next(a for a in parser._actions
                  if isinstance(a, argparse._SubParsersAction))
    return action.choices


def options_in(message: str) -> set:
    return set(re.findall(r'(?<![\w-])--[a-z][a-z0-9-]*', message))


@pytest.mark.slow
def test_train_checkpoint_round_trip(tmp_path, run_cli, monkeypatch):
    run = tmp_path / 'run'
    code, _, err = run_cli('train', '--dataset', 'synthetic', '--model',
                           'digits_cnn', '--epochs', 1, '--batch-size', 200,
                           '--out', run, '--no-progress')
    assert code == 0, err
    stored = torch.load(run / 'epoch_001.pt', weights_only=True)
    assert stored['info'] == dict(model='digits_cnn', dataset='synthetic',
                                  num_classes=10)
    # Neither --model nor --dataset: those the file records.
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli('curve', '--checkpoint', run / 'epoch_001.pt',
                           '--num-samples', 100, '--repeats', 1,
                           '--no-progress')
    assert code == 0, err
    folder = tmp_path / 'pyg_dnnmod_out' / \
        'curve-digits_cnn-synthetic-N100-k3-ckpt-epoch_001'
    record = json.loads((folder / 'run.json').read_text())
    assert record['params']['dataset'] == 'synthetic'
    assert (record['model']['epoch'], record['model']['trained_on']) == (
        1, 'synthetic')
    # Read on other data, a clear error naming both.
    code, _, err = run_cli('curve', '--checkpoint', run / 'epoch_001.pt',
                           '--dataset', 'translated-digits', '--out',
                           tmp_path / 'x')
    assert code == 2
    assert (f"error: --checkpoint '{run / 'epoch_001.pt'}' was trained on "
            f"--dataset synthetic (synthetic clusters), not on the "
            f"translated digits: pass --dataset synthetic (got --dataset "
            f"translated-digits)\n") in err
    code, _, err = run_cli('dynamics', '--checkpoints', run, '--dataset',
                           'translated-digits', '--out', tmp_path / 'y')
    assert code == 2
    assert f"--checkpoints '{run / 'epoch_001.pt'}' was trained on " \
           f"--dataset synthetic" in err
    assert not (tmp_path / 'x').exists() and not (tmp_path / 'y').exists()


def test_cached_model_and_pickled_model(trained_digits, tmp_path, run_cli):
    _, info = trained_digits
    code, _, err = run_cli('curve', '--checkpoint', info['path'],
                           '--num-samples', 100, '--repeats', 1, '--out',
                           tmp_path / 'a', '--no-progress')
    assert code == 0, err
    record = json.loads((tmp_path / 'a' / 'run.json').read_text())
    assert record['model']['trained_on'] == 'translated-digits'
    whole = tmp_path / 'whole.pt'
    torch.save(digits_model(), whole)
    code, _, err = run_cli('curve', '--checkpoint', whole, '--out',
                           tmp_path / 'b')
    assert code == 2 and '\x1b' not in err and err.count('\n') == 1
    assert (f"error: --checkpoint: '{whole}' is not a checkpoint that loads "
            f"with weights_only=True: it holds pickled Python objects (class "
            f"pyg_dnnmod.models.digits_cnn.DigitsCNN)") in err
    assert "torch.save(model.state_dict(), 'whole_weights.pt')" in err


def test_hints_name_only_the_options_of_the_command(tmp_path):
    data = common.load_data('synthetic', model_spec='digits_cnn')
    fashion = save_model_checkpoint(
        digits_model(), tmp_path / 'fashion.pt',
        {'model': 'digits_cnn', 'dataset': 'fashion-mnist'})
    deep = save_model_checkpoint(
        get_model('digits_deep_cnn'), tmp_path / 'deep.pt',
        {'model': 'digits_deep_cnn', 'dataset': 'synthetic'})
    whole = tmp_path / 'whole.pt'
    torch.save(digits_model(), whole)
    cases = [(['--model', 'digits_deep_cnn'], 'no trained weights here'),
             (['--checkpoint', str(fashion)], 'was trained on --dataset'),
             (['--checkpoint', str(deep), '--model', 'digits_cnn'],
              'the file records --model digits_deep_cnn; got --model '
              'digits_cnn'),
             (['--checkpoint', str(whole)], 'torch.save(model.state_dict()')]
    checked = []
    for name, parser in commands().items():
        if '--checkpoint' not in parser._option_string_actions:
            continue
        for argv, expected in cases:
            args = parser.parse_args(argv + ['--dataset', 'synthetic'])
            resolve = (prune.resolve_trained_model if name == 'prune'
                       else common.resolve_model)
            with pytest.raises(CLIError) as error:
                resolve(args, data, progress=False)
            message = str(error.value)
            assert expected in message
            offered = set(parser._option_string_actions)
            assert options_in(message) <= offered, (name, message)
            checked.append((name, '--random-init' in message))
    assert len(checked) == 4 * 8
    assert ('prune', False) in checked and ('curve', True) in checked


def test_prune_sample_hint_and_data_root(tmp_path, run_cli):
    code, _, err = run_cli('prune', '--num-samples', 105, '--out', tmp_path)
    assert code == 2 and '--unbalanced' not in err
    assert err.endswith("so a balanced draw is impossible; pass a multiple "
                        "of 10\n")
    with pytest.raises(CLIError, match=r"^--data-root data: --dataset "
                       r"mnist-5k reads no folder, so --data-root would be "
                       r"ignored; drop it"):
        common.load_data('mnist-5k', root='data')


def test_model_and_dataset_from_the_checkpoint_record(tmp_path):
    path = save_model_checkpoint(
        digits_model(), tmp_path / 'deep.pt',
        {'model': 'digits_deep_cnn', 'dataset': 'digits'})
    parser = commands()['curve']
    args = parser.parse_args(['--checkpoint', str(path)])
    args._prepare(args)
    assert (args.model, args.dataset) == ('digits_deep_cnn', 'digits')
    args = parser.parse_args(['--checkpoint', str(path), '--model', 'vgg11',
                              '--dataset', 'cifar10'])
    args._prepare(args)
    assert (args.model, args.dataset) == ('vgg11', 'cifar10')


def test_folder_names_say_which_checkpoint(tmp_path):
    ckpt = ['--checkpoint', 'runs/a/epoch_010.pt']
    parsers = commands()
    assert curve.run_name(parsers['curve'].parse_args(
        ['--model', 'vgg11'] + ckpt)) == \
        'curve-vgg11-translated-digits-N500-k3-ckpt-epoch_010'
    assert prune.run_name(parsers['prune'].parse_args(ckpt)) == \
        'prune-digits_deep_resnet-translated-digits-gain0.01-ckpt-epoch_010'
    assert align.run_name(parsers['align'].parse_args(
        ckpt + ['--checkpoint-b', 'b.pt'])) == \
        'align-digits_cnn-ckpt-epoch_010-vs-digits_cnn-b-translated-digits-' \
        'N500-k10-mutual_knn'
    assert common.run_name('cka', parsers['cka'].parse_args(ckpt)) == \
        'cka-digits_cnn-translated-digits-N500-k3-ckpt-epoch_010'
    assert common.run_name('cka', parsers['cka'].parse_args([])) == \
        'cka-digits_cnn-translated-digits-N500-k3'


@pytest.mark.parametrize('argv, milestones', [
    (['--epochs', '30'], (20, )),
    (['--epochs', '30', '--milestones', '8'], (8, )),
    (['--epochs', '30', '--milestones', 'none'], ()),
    ([], (8, )),
])
def test_dynamics_scales_the_milestones(argv, milestones):
    args = commands()['dynamics'].parse_args(argv)
    assert common.make_config(args, scale_milestones=True)[0].milestones == \
        milestones
    # train keeps them, so that --resume may grow --epochs.
    args = commands()['train'].parse_args(argv)
    assert common.make_config(args)[0].milestones == \
        (milestones if '--milestones' in argv else (8, ))


@pytest.mark.slow
def test_dynamics_keeps_its_trained_model(tmp_path, run_cli):
    out = tmp_path / 'dyn'
    code, stdout, err = run_cli('dynamics', '--epochs', 2, '--num-samples',
                                100, '--layers', 1, '--out', out,
                                '--no-progress')
    assert code == 0, err
    assert f'next: pyg-dnnmod curve --checkpoint {out}/epoch_002.pt' in stdout
    record = json.loads((out / 'run.json').read_text())
    assert record['config']['milestones'] == [1]  # round(8 * 2 / 12)
    assert record['checkpoint'] == 'epoch_002.pt'
    model, info = load_model_checkpoint(out / 'epoch_002.pt')
    df = pd.read_csv(out / 'dynamics.csv')
    assert (info['spec'], info['trained_on'], info['epoch']) == (
        'digits_cnn', 'translated-digits', 2)
    assert info['test_acc'] == pytest.approx(
        df.loc[df['epoch'] == 2, 'test_acc'].iloc[0])
