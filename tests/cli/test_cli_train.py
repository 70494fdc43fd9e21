import json

import pandas as pd
import pytest
import torch



def test_train_resume_and_curve_from_checkpoint(tmp_path, run_cli):
    out = tmp_path / 'run'
    args = ['train', '--dataset', 'digits', '--batch-size', 64, '--out', out]
    code, stdout, err = run_cli(*args, '--epochs', 1)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        'epoch_000.pt', 'epoch_001.pt', 'history.csv', 'run.json',
        'training_curve.png']
    record = json.loads((out / 'run.json').read_text())
    assert record['status'] == 'finished' and record['recipe'] == 'digits'
    assert record['config']['batch_size'] == 64
    assert record['config']['weight_decay'] == 5e-4  # the digits recipe
    assert record['augment'] is False

    # Without --resume a run is never mixed with a new one.
    code, _, err = run_cli(*args, '--epochs', 2)
    assert code == 2
    assert f"output folder '{out}' already holds a run; pass --resume" in err
    code, _, err = run_cli(*args, '--epochs', 2, '--resume', '--lr',
                           0.1)
    assert code == 2
    assert "--resume: '" in err and "(--lr 0.01 there vs 0.1 now)" in err

    code, stdout, err = run_cli(*args, '--epochs', 2, '--resume')
    assert code == 0, err
    history = pd.read_csv(out / 'history.csv')
    assert history['epoch'].tolist() == [0, 1, 2]
    assert history['test_acc'].iloc[-1] > history['test_acc'].iloc[0]
    stored = torch.load(out / 'epoch_002.pt', weights_only=True)
    assert stored['history'][-1]['test_acc'] == pytest.approx(
        history['test_acc'].iloc[-1])
    assert 'next: pyg-dnnmod curve --model digits_cnn --dataset digits' in \
        stdout

    code, _, err = run_cli('curve', '--dataset', 'digits',
                           '--checkpoint', out / 'epoch_002.pt',
                           '--num-samples', 50, '--repeats', 1, '--out',
                           tmp_path / 'curve')
    assert code == 0, err
    record = json.loads((tmp_path / 'curve' / 'run.json').read_text())
    assert record['model']['epoch'] == 2
    assert record['model']['test_acc'] == pytest.approx(
        history['test_acc'].iloc[-1])


@pytest.mark.parametrize('argv,message', [
    (['--weight-decay', '-1'], "bad training option: --weight-decay must be "
                               ">= 0 (got -1.0)"),
    (['--milestones', '5,3'], "bad training option: --milestones must be "
                              "strictly increasing"),
    (['--epochs', '-1'], "bad training option: --epochs must be >= 0"),
    (['--resume'], "holds no checkpoint (epoch_XXX.pt) to continue from"),
    (['--resume', '--overwrite'], "--resume continues the run and "
                                  "--overwrite deletes it"),
    (['--dataset', 'imagenet50'], "--dataset imagenet50 reads a local copy"),
])
def test_train_errors(tmp_path, run_cli, argv, message):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('train', *argv, '--out', out)
    assert code == 2 and stdout == ''
    assert message in err and err.count('\n') == 1
    assert not out.exists()
