import math

import pytest
import torch
from torch import nn

from pyg_dnnmod import layer_graphs
from pyg_dnnmod.snapshots import LayerGraphs
from pyg_dnnmod.similarity import (
    gram_snapshot,
    graphs_with_cka_from_features,
    layer_graphs_with_cka,
    modularity_difference,
    upper_triangle_spearman,
)
from pyg_dnnmod.snapshots import snapshot

torch.set_num_threads(1)


def textbook_cka(x, y):
    x = x.reshape(x.size(0), -1).double()
    y = y.reshape(y.size(0), -1).double()
    x, y = x - x.mean(dim=0), y - y.mean(dim=0)
    return float(torch.linalg.matrix_norm(y.t() @ x) ** 2 /
                 (torch.linalg.matrix_norm(x.t() @ x) *
                  torch.linalg.matrix_norm(y.t() @ y)))


def clusters(n=90, d=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    centers = torch.randn(3, d, generator=gen, dtype=torch.float64)
    noise = torch.randn(n, d, generator=gen, dtype=torch.float64)
    return y, [('sharp', centers[y] + 0.3 * noise),
               ('blurred', centers[y] + 3.0 * noise),
               ('noise', noise)]


@pytest.mark.parametrize('metric', ['cosine', 'pearson'])
def test_snapshots_equal_knn_snapshots_in_float64(metric):
    y, features = clusters()
    graphs, cka = graphs_with_cka_from_features(features, y, k=4,
                                                metric=metric)
    expected = LayerGraphs.from_features(features, y, k=4, metric=metric)
    assert graphs.layer_names == ['sharp', 'blurred', 'noise']
    for got, want in zip(graphs, expected):
        assert torch.equal(got.edge_index, want.edge_index)
        assert torch.allclose(got.edge_weight, want.edge_weight)
        assert torch.equal(got.y, want.y) and got.t == want.t
        assert got.layer == want.layer and got.num_nodes == want.num_nodes
    assert torch.allclose(graphs.modularity(), expected.modularity(),
                          atol=1e-6)
    for i, (_, a) in enumerate(features):
        for j, (_, b) in enumerate(features):
            assert cka[i, j].item() == pytest.approx(textbook_cka(a, b),
                                                     abs=1e-10)
    # The clusters are found where they are sharp.
    q = graphs.modularity()
    assert q[0] > q[1] > q[2]
    assert graphs.meta['k'] == 4 and graphs.meta['metric'] == metric


def test_gram_snapshot_matches_snapshot():
    y, features = clusters(n=30)
    x = features[0][1]
    data, gram = gram_snapshot(x, y, k=3, t=2, layer='conv')
    want = snapshot(x, y, k=3, t=2, layer='conv')
    assert torch.equal(data.edge_index, want.edge_index)
    assert data.edge_weight.dtype == torch.float32
    assert (data.t, data.layer) == (2, 'conv')
    assert torch.allclose(gram, x @ x.t())


def test_model_snapshots_and_cka(trained_digits):
    from pyg_dnnmod.features import extract_features
    from pyg_dnnmod.pretrained import digits_data

    model, _ = trained_digits
    x, y = digits_data('test')
    graphs, cka = layer_graphs_with_cka(model, x, y, k=3, num_samples=200,
                                        seed=1)
    reference = layer_graphs(model, x, y, k=3, num_samples=200, seed=1)
    assert graphs.layer_names == reference.layer_names
    assert graphs.meta['sample_index'] == reference.meta['sample_index']
    # float32 features: the two similarity computations round differently,
    # which may swap a neighbour whose similarity ties to 1e-7.
    for got, want in zip(graphs, reference):
        a = set(map(tuple, got.edge_index.t().tolist()))
        b = set(map(tuple, want.edge_index.t().tolist()))
        assert len(a ^ b) <= 0.01 * len(a)
    assert torch.allclose(graphs.modularity(), reference.modularity(),
                          atol=2e-3)
    index = torch.tensor(graphs.meta['sample_index'])
    features = list(extract_features(model, x[index], layers=2).values())
    # The last two layers (4096 features each): the feature-space form
    # costs N * D_i * D_j.
    for i, a in enumerate(features, start=2):
        for j, b in enumerate(features, start=2):
            assert cka[i, j].item() == pytest.approx(textbook_cka(a, b),
                                                     abs=1e-5)


def test_modularity_difference():
    diff = modularity_difference(torch.tensor([0.25, 0.5, 1.0]))
    assert diff.tolist() == [[0.0, 0.25, 0.75], [0.25, 0.0, 0.5],
                             [0.75, 0.5, 0.0]]
    with pytest.raises(ValueError, match=r"one-dimensional \[num_layers\] "
                       r"\(got shape \[2, 2\]\)"):
        modularity_difference(torch.eye(2))


def test_upper_triangle_spearman():
    a = torch.tensor([[0., 1., 2., 3.], [1., 0., 4., 5.], [2., 4., 0., 6.],
                      [3., 5., 6., 0.]])
    b = a.clone()
    # Swap the ranks of two pairs in the upper triangle only: d = (1, -1).
    b[0, 1], b[0, 2] = 2.0, 1.0
    # rho = 1 - 6 sum d^2 / (n (n^2 - 1)) = 1 - 12 / 210 for n = 6 pairs.
    assert upper_triangle_spearman(a, b) == pytest.approx(1 - 12 / 210)
    # The lower triangle is ignored.
    c = a.clone()
    c[3, 0] = -100.0
    assert upper_triangle_spearman(a, c) == pytest.approx(1.0)
    # NaN pairs are left out; too few pairs or a constant side give NaN.
    d = a.clone()
    d[0, 1] = math.nan
    assert upper_triangle_spearman(a, d) == pytest.approx(1.0)
    assert math.isnan(upper_triangle_spearman(torch.eye(2), torch.eye(2)))
    assert math.isnan(upper_triangle_spearman(a, torch.ones(4, 4)))
    with pytest.raises(ValueError, match='same shape'):
        upper_triangle_spearman(a, torch.eye(3))


def test_bad_input():
    y, features = clusters(n=12)
    with pytest.raises(ValueError, match="'features' is empty"):
        graphs_with_cka_from_features([], y)
    with pytest.raises(ValueError, match="'metric' must be one of"):
        gram_snapshot(features[0][1], y, metric='cos')
    with pytest.raises(ValueError, match='one label per sample'):
        gram_snapshot(features[0][1], y[:5])
    model = nn.Sequential(nn.Linear(16, 4))
    with pytest.raises(ValueError, match='k=12 for N=12'):
        layer_graphs_with_cka(model, features[0][1].float(), y, k=12)
    with pytest.raises(TypeError, match="'inputs' must be a torch.Tensor"):
        layer_graphs_with_cka(model, [[0.0]], y)
