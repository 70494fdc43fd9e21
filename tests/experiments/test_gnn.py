import pandas as pd
import pytest
import torch
from torch_geometric.data import Data

from pyg_dnnmod import layer_graphs, modularity
from pyg_dnnmod.experiments.gnn import (
    gnn_on_snapshots,
    project_features,
    stratified_split,
)
from pyg_dnnmod.snapshots import LayerGraphs


@pytest.fixture(autouse=True)
def one_thread():
    # Small GNN/GRU workloads run far slower with two threads on a loaded
    # two-core machine.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def cluster_snapshots(separations, n=90, seed=0):
    r"""Gaussian class clusters, one snapshot per separation."""
    y = torch.arange(n) % 3
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(3, 16, generator=g)
    features = [(f'sep{s}', s * centers[y] + torch.randn(n, 16, generator=g))
                for s in separations]
    return LayerGraphs.from_features(features, y, k=3, keep_features=True)


def test_accuracy_follows_separation_and_modularity():
    graphs = cluster_snapshots([0.0, 1.0, 4.0])
    df = gnn_on_snapshots(graphs, epochs=100)
    assert list(df.columns) == ['layer_index', 'layer', 'modularity',
                                'gcn_acc', 'label_prop_acc', 'gru_acc']
    assert df.layer.tolist() == ['sep0.0', 'sep1.0', 'sep4.0']
    assert df.layer_index.tolist() == [0, 1, 2]
    expected_q = [modularity(d.edge_index, d.y, d.edge_weight)
                  for d in graphs]
    assert df.modularity.tolist() == pytest.approx(expected_q, abs=1e-12)
    # Pure noise: chance level (1/3 of 45 test nodes, give or take).
    assert df.gcn_acc[0] < 0.55 and df.label_prop_acc[0] < 0.55
    # Separated clusters: nearly perfect for every model.
    for col in ('gcn_acc', 'label_prop_acc', 'gru_acc'):
        assert df[col][2] > 0.95
        assert df.attrs['spearman'][col] == pytest.approx(1.0)
    assert df.modularity.is_monotonic_increasing
    assert df.gcn_acc.is_monotonic_increasing
    assert df.attrs['num_train'] == 45 and df.attrs['num_test'] == 45


def test_deterministic_and_options():
    graphs = cluster_snapshots([0.5, 2.0], n=60, seed=1)
    a = gnn_on_snapshots(graphs, epochs=30, seed=3)
    b = gnn_on_snapshots(graphs, epochs=30, seed=3)
    pd.testing.assert_frame_equal(a, b)
    c = gnn_on_snapshots(graphs, epochs=30, recurrent=False,
                         label_propagation=False, num_features=4)
    assert list(c.columns) == ['layer_index', 'layer', 'modularity',
                               'gcn_acc']
    assert set(c.attrs['spearman']) == {'gcn_acc'}
    # A plain list of Data works; one snapshot has no rank correlation.
    one = gnn_on_snapshots(list(graphs)[:1], epochs=5, recurrent=False)
    assert len(one) == 1 and pd.isna(one.attrs['spearman']['gcn_acc'])


@pytest.mark.slow
def test_default_model_small(trained_digits):
    from pyg_dnnmod.pretrained import digits_data
    model, _ = trained_digits
    x, y = digits_data('test')
    graphs = layer_graphs(model, x, y, k=3, num_samples=150,
                          keep_features=True)
    df = gnn_on_snapshots(graphs, epochs=100)
    assert df.layer.tolist() == graphs.layer_names
    assert df.modularity.tolist() == pytest.approx(
        [modularity(d.edge_index, d.y, d.edge_weight) for d in graphs])
    # The trained CNN separates the digits at its last convolution only:
    # accuracy and modularity rise together (paper: Q about 0.2 -> 0.85).
    assert df.modularity.iloc[-1] > df.modularity.iloc[0] + 0.3
    assert df.gcn_acc.iloc[-1] > 0.8
    assert df.gcn_acc.iloc[-1] > df.gcn_acc.iloc[0] + 0.3
    assert df.label_prop_acc.iloc[-1] > 0.8
    assert df.gru_acc.iloc[-1] > 0.8
    assert df.attrs['spearman']['gcn_acc'] > 0.5


def test_stratified_split():
    y = torch.tensor([0] * 10 + [1] * 4 + [2] * 1 + [5] * 2)
    mask = stratified_split(y, 0.3, seed=0)
    counts = [int(mask[y == c].sum()) for c in (0, 1, 2, 5)]
    # round(3.0), round(1.2), a single sample trains, and one of two.
    assert counts == [3, 1, 1, 1]
    assert torch.equal(mask, stratified_split(y, 0.3, seed=0))
    assert not torch.equal(mask, stratified_split(y, 0.3, seed=1))
    # Never all of a class with two or more samples.
    assert int(stratified_split(y, 0.99)[y == 0].sum()) == 9


def test_project_features():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(20, 5, generator=g) * 10
    z = project_features(x, num_features=8)
    # No projection when there are few features: standardised columns.
    expected = (x - x.mean(0)) / x.std(0, unbiased=False)
    assert torch.allclose(z, expected, atol=1e-5)
    # A dead unit does not divide by zero.
    assert torch.isfinite(project_features(torch.zeros(4, 3))).all()
    big = torch.rand(30, 500, generator=g)
    z = project_features(big, num_features=16, seed=1)
    assert z.shape == (30, 16)
    assert torch.equal(z, project_features(big, num_features=16, seed=1))
    assert not torch.equal(z, project_features(big, num_features=16, seed=2))
    assert torch.allclose(z.mean(0), torch.zeros(16), atol=1e-5)
    assert torch.allclose(z.std(0, unbiased=False), torch.ones(16),
                          atol=1e-4)


def test_bad_input():
    graphs = cluster_snapshots([1.0, 2.0], n=30)
    no_x = LayerGraphs.from_features([('a', torch.randn(30, 4))],
                                     torch.arange(30) % 3, k=3)
    with pytest.raises(ValueError, match=r"snapshot 0 \('a'\) has no node "
                       r"features 'x'; build the snapshots with "
                       r"keep_features=True"):
        gnn_on_snapshots(no_x)
    other = Data(x=torch.randn(30, 4), y=torch.arange(30) % 2,
                 edge_index=graphs[0].edge_index, layer='b')
    with pytest.raises(ValueError, match=r"snapshot 1 \('b'\) has other "
                       r"nodes or labels"):
        gnn_on_snapshots([graphs[0], other])
    with pytest.raises(ValueError, match=r"at least one snapshot \(got 0\)"):
        gnn_on_snapshots([])
    with pytest.raises(TypeError, match=r"'graphs' must be a sequence of "
                       r"PyG Data snapshots \(got Data\)"):
        gnn_on_snapshots(graphs[0])
    with pytest.raises(ValueError, match=r"'train_fraction' must lie in "
                       r"\(0, 1\) \(got 1.0\)"):
        gnn_on_snapshots(graphs, train_fraction=1.0)
    with pytest.raises(ValueError, match=r"'epochs' must be an int >= 1 "
                       r"\(got 0\)"):
        gnn_on_snapshots(graphs, epochs=0)
    with pytest.raises(ValueError, match=r"'num_features' must be an int "
                       r">= 1 \(got 0\)"):
        gnn_on_snapshots(graphs, num_features=0)
    bad = graphs[0].clone()
    bad.x[0, 0] = float('nan')
    with pytest.raises(ValueError, match=r"'x' contains NaN"):
        gnn_on_snapshots([bad])
