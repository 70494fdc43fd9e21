import pandas as pd
import pytest
import torch
from torch import nn

from pyg_dnnmod.experiments import HISTORY_FILE, train_model
from pyg_dnnmod.training import TrainConfig, list_checkpoints


@pytest.fixture(scope='module')
def data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(96, 4, generator=gen)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return x, y


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _config(epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=16, lr=0.1, milestones=(2, ))


def test_history_csv_equals_history_and_grows_with_resume(tmp_path, data):
    history = train_model(_model(), data, data, _config(2), out=tmp_path,
                          progress=False)
    on_disk = pd.read_csv(tmp_path / HISTORY_FILE)
    assert on_disk['epoch'].tolist() == [0, 1, 2]
    pd.testing.assert_frame_equal(on_disk, history, check_dtype=False)
    assert [e for e, _ in list_checkpoints(tmp_path)] == [0, 1, 2]

    resumed = train_model(_model(), data, data, _config(3), out=tmp_path,
                          resume=True, progress=False)
    straight_dir = tmp_path / 'straight'
    straight = train_model(_model(), data, data, _config(3),
                           out=straight_dir, progress=False)
    on_disk = pd.read_csv(tmp_path / HISTORY_FILE)
    assert on_disk['epoch'].tolist() == [0, 1, 2, 3]
    columns = ['train_loss', 'train_acc', 'test_loss', 'test_acc', 'lr']
    pd.testing.assert_frame_equal(resumed[columns], straight[columns])
    pd.testing.assert_frame_equal(on_disk[columns], straight[columns],
                                  check_dtype=False)
    assert straight['test_acc'].iloc[-1] > 0.8


def test_log_is_written_after_every_epoch(tmp_path, data):
    seen = []
    history_path = tmp_path / HISTORY_FILE

    class Spy(nn.Module):
        # The history.csv of epoch e exists when epoch e + 1 trains.
        def __init__(self) -> None:
            super().__init__()
            self.net = _model()

        def forward(self, x):
            if self.training:
                seen.append(len(pd.read_csv(history_path))
                            if history_path.exists() else 0)
            return self.net(x)

    train_model(Spy(), data, None, _config(2), out=tmp_path, progress=False)
    batches = 96 // 16
    assert seen == [1] * batches + [2] * batches


def test_without_out_writes_nothing(tmp_path, data, monkeypatch):
    monkeypatch.chdir(tmp_path)
    history = train_model(_model(), data, None, _config(1), progress=False)
    assert history['epoch'].tolist() == [0, 1]
    assert history['test_acc'].isna().all()
    assert list(tmp_path.iterdir()) == []
