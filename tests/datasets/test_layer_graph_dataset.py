import os

import pytest
import torch
from torch import nn

from pyg_dnnmod import LayerGraphDataset, layer_graphs


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8))
    x = torch.randn(40, 5)
    y = torch.arange(40) % 4
    return model, x, y


def test_cached_and_keyed(tmp_path, setup):
    model, x, y = setup
    ds = LayerGraphDataset(str(tmp_path), model, x, y, k=3)
    expected = layer_graphs(model, x, y, k=3)
    assert len(ds) == 2 and ds.layer_names == expected.layer_names
    assert ds[1].edge_index.tolist() == expected[1].edge_index.tolist()
    assert torch.allclose(ds.modularity(), expected.modularity())
    files = sorted(os.listdir(tmp_path / 'processed'))
    # A second dataset with the same parameters loads the same file.
    mtime = os.path.getmtime(ds.processed_paths[0])
    again = LayerGraphDataset(str(tmp_path), model, x, y, k=3)
    assert again.key == ds.key
    assert os.path.getmtime(again.processed_paths[0]) == mtime
    # Any changed parameter, weight or input gets its own file.
    keys = {ds.key}
    keys.add(LayerGraphDataset(str(tmp_path), model, x, y, k=4).key)
    keys.add(LayerGraphDataset(str(tmp_path), model, x, y, k=3,
                               metric='pearson').key)
    keys.add(LayerGraphDataset(str(tmp_path), model, x + 1, y, k=3).key)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    changed = LayerGraphDataset(str(tmp_path), model, x, y, k=3)
    keys.add(changed.key)
    assert len(keys) == 5
    assert not torch.allclose(changed.modularity(), ds.modularity())
    assert not any('.tmp' in f for f in os.listdir(tmp_path / 'processed'))
    assert len(files) >= 2


def test_failed_build_writes_nothing(tmp_path, setup):
    model, x, y = setup
    with pytest.raises(ValueError, match='nope'):
        LayerGraphDataset(str(tmp_path), model, x, y, layers=['nope'])
    processed = tmp_path / 'processed'
    left = os.listdir(processed) if processed.exists() else []
    assert not any(f.startswith('layer_graphs_') for f in left)


def test_key_covers_non_persistent_buffers(setup):
    from pyg_dnnmod.datasets import cache_key
    from pyg_dnnmod.models import NormalizedModel
    model, x, y = setup
    a = NormalizedModel(model, mean=[0.0], std=[1.0])
    b = NormalizedModel(model, mean=[0.5], std=[1.0])
    assert cache_key(a, x, y, {}) != cache_key(b, x, y, {})


def test_key_handles_batchnorm_counters():
    # BatchNorm keeps a 0-dim int64 buffer (num_batches_tracked).
    from pyg_dnnmod.datasets import cache_key
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    x, y = torch.randn(6, 1, 5, 5), torch.arange(6) % 2
    key = cache_key(model, x, y, {})
    model[1].num_batches_tracked += 1
    assert cache_key(model, x, y, {}) != key
