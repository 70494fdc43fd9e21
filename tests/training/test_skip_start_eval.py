r"""Epoch 0's pass over the training set can be skipped
(``TrainConfig.eval_train_at_start``, ``train --no-eval-train-at-start``),
and a checkpoint written before the field existed resumes as before."""
import json
import math

import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from pyg_dnnmod.training import TrainConfig, train


class CountingPairs(Dataset):
    r"""(x, y) pairs that count how often they are read."""
    def __init__(self, x, y):
        self.x, self.y, self.reads = x, y, 0

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        self.reads += 1
        return self.x[i], int(self.y[i])


def _data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(24, 3, generator=gen)
    return x, (x[:, 0] > 0).long()


def _config(**changes):
    return TrainConfig(**dict(dict(epochs=0, batch_size=8, lr=0.1,
                                   weight_decay=0.0), **changes))


def test_epoch_zero_reads_the_training_set_only_when_asked():
    x, y = _data()
    test = (x[:10], y[:10])
    for flag, reads in ((True, 24), (False, 0)):
        data = CountingPairs(x, y)
        torch.manual_seed(0)
        history = train(torch.nn.Linear(3, 2), data, test,
                        _config(eval_train_at_start=flag), progress=False,
                        device='cpu')
        assert data.reads == reads
        row = history.iloc[0]
        assert row['epoch'] == 0
        # The test set is scored either way.
        assert 0.0 <= row['test_acc'] <= 1.0 and row['test_loss'] > 0
        assert math.isnan(row['train_acc']) == (not flag)
        assert math.isnan(row['train_loss']) == (not flag)


def test_skipping_changes_no_weight_and_no_later_row():
    x, y = _data()
    runs = []
    for flag in (True, False):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2)
        history = train(model, (x, y), (x, y),
                        _config(epochs=2, eval_train_at_start=flag),
                        progress=False, device='cpu')
        runs.append((model.state_dict(), history))
    (weights, full), (skipped_weights, skipped) = runs
    for key, value in weights.items():
        assert torch.equal(skipped_weights[key], value), key
    columns = ['train_loss', 'train_acc', 'test_loss', 'test_acc', 'lr']
    pd.testing.assert_frame_equal(full.loc[1:, columns],
                                  skipped.loc[1:, columns])
    assert full.loc[0, 'test_acc'] == skipped.loc[0, 'test_acc']
    assert full.loc[0, 'train_acc'] >= 0 and \
        math.isnan(skipped.loc[0, 'train_acc'])


def test_a_checkpoint_without_the_field_resumes(tmp_path):
    x, y = _data()
    torch.manual_seed(0)
    whole = torch.nn.Linear(3, 2)
    train(whole, (x, y), None, _config(epochs=2), progress=False,
          device='cpu')
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    train(model, (x, y), None, _config(epochs=1),
          checkpoint_dir=tmp_path, progress=False, device='cpu')
    # As a checkpoint of an earlier release: no such field in its config.
    path = tmp_path / 'epoch_001.pt'
    checkpoint = torch.load(path, weights_only=True)
    del checkpoint['config']['eval_train_at_start']
    torch.save(checkpoint, path)
    history = train(model, (x, y), None,
                    _config(epochs=2, eval_train_at_start=False),
                    checkpoint_dir=tmp_path, resume=True, progress=False,
                    device='cpu')
    assert history['epoch'].tolist() == [0, 1, 2]
    # Epoch 0 of the stored run was evaluated (the old default).
    assert not math.isnan(history.loc[0, 'train_acc'])
    for key, value in whole.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    stored = torch.load(tmp_path / 'epoch_002.pt', weights_only=True)
    assert stored['config']['eval_train_at_start'] is False


def test_the_field_must_be_a_bool():
    with pytest.raises(TypeError, match=r"'eval_train_at_start' must be a "
                                        r"bool \(got 'no'\)"):
        TrainConfig(eval_train_at_start='no')


def test_train_command_skips_it(tmp_path, monkeypatch, capsys):
    from pyg_dnnmod.cli import main

    (tmp_path / 'tiny_skip_nets.py').write_text(
        'import torch\n'
        'def build():\n'
        '    torch.manual_seed(0)\n'
        '    return torch.nn.Sequential(torch.nn.Flatten(),\n'
        '                               torch.nn.Linear(64, 10))\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / 'run'
    code = main(['train', '--dataset', 'digits', '--model',
                 'tiny_skip_nets:build', '--epochs', '1',
                 '--no-eval-train-at-start', '--threads', '1', '--out',
                 str(out), '--no-progress'])
    assert code == 0, capsys.readouterr().err
    history = pd.read_csv(out / 'history.csv')
    assert history['epoch'].tolist() == [0, 1]
    assert history['train_acc'].isna().tolist() == [True, False]
    assert history['test_acc'].notna().all()
    record = json.loads((out / 'run.json').read_text())
    assert record['config']['eval_train_at_start'] is False
