import pytest
import torch
from torch import nn

from pyg_dnnmod import epoch_layer_graphs, layer_graphs
from pyg_dnnmod.snapshots import LayerGraphsCallback
from pyg_dnnmod.training import TrainConfig, train


def test_checkpoints_and_callback_give_the_same_grid(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(90, 6)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16),
                          nn.ReLU(), nn.Linear(16, 3))
    callback = LayerGraphsCallback(x, y, k=3)
    train(model, (x, y), (x, y), TrainConfig(epochs=3, batch_size=30,
                                             lr=0.1, milestones=()),
          checkpoint_dir=tmp_path, callback=callback, progress=False)
    grid = callback.result
    assert grid.epochs == [0, 1, 2, 3]
    assert grid.layer_names == ['0', '2', '4']
    q = grid.modularity()
    assert q.shape == (4, 3)
    # The same grid from the checkpoints written by train().
    fresh = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16),
                          nn.ReLU(), nn.Linear(16, 3))
    from_disk = epoch_layer_graphs(fresh, tmp_path, x, y, k=3)
    assert from_disk.epochs == [0, 1, 2, 3]
    assert torch.allclose(from_disk.modularity(), q, atol=1e-12)
    # Each row equals layer_graphs on that epoch's weights.
    assert torch.allclose(q[-1], layer_graphs(model, x, y, k=3).modularity())
    df = grid.to_dataframe()
    assert list(df.columns) == ['epoch', 'layer_index', 'layer', 'modularity']
    assert len(df) == 12
    with pytest.raises(KeyError, match='no snapshots for epoch 7'):
        grid[7]


def test_bad_checkpoints(tmp_path):
    model = nn.Sequential(nn.Linear(6, 4))
    x, y = torch.randn(10, 6), torch.arange(10) % 2
    with pytest.raises(ValueError, match='holds no epoch_XXX.pt'):
        epoch_layer_graphs(model, tmp_path, x, y)
    torch.save(nn.Linear(5, 4).state_dict(), tmp_path / 'bad.pt')
    with pytest.raises(ValueError, match='bad.pt'):
        epoch_layer_graphs(model, [tmp_path / 'bad.pt'], x, y)
