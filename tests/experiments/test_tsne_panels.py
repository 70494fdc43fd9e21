import pytest
import torch
from torch import nn

from pyg_dnnmod.experiments import (
    TSNE_COLUMNS,
    modularity_curves,
    tsne_embedding,
    tsne_panels,
)
from pyg_dnnmod.utils import knn_graph, modularity


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))


@pytest.fixture(scope='module')
def data():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(80) % 2
    x = torch.randn(80, 1, 8, 8, generator=gen) + y.view(-1, 1, 1, 1)
    return x, y


def test_modularity_equals_the_curve_of_the_same_draw(data):
    x, y = data
    points = tsne_panels(_model(), x, y, num_samples=40, k=4, seed=3,
                         perplexity=8)
    assert points.columns.tolist() == list(TSNE_COLUMNS)
    assert points.groupby('layer').size().to_dict() == {'0': 40, '2': 40}
    curve = modularity_curves(_model(), x, y, k=4, num_samples=40,
                              repeats=1, seed=3)
    per_layer = points.groupby('layer_index')['modularity'].first()
    assert per_layer.tolist() == pytest.approx(curve['modularity'].tolist(),
                                               abs=1e-6)
    # The labels are those of the drawn samples.
    one = points[points['layer_index'] == 0]
    assert one['label'].tolist() == y[one['sample_index'].tolist()].tolist()
    assert one['sample'].tolist() == list(range(40))


def test_deterministic_and_input_panel(data):
    x, y = data
    a = tsne_panels(_model(), x, y, num_samples=40, perplexity=8,
                    include_input=True)
    b = tsne_panels(_model(), x, y, num_samples=40, perplexity=8,
                    include_input=True)
    assert a.equals(b)
    assert a['layer'].unique().tolist() == ['input', '0', '2']
    first = a[a['layer_index'] == -1]
    index = torch.tensor(first['sample_index'].tolist())
    edge_index, edge_weight = knn_graph(x[index].reshape(40, -1), 3)
    assert first['modularity'].iloc[0] == pytest.approx(
        modularity(edge_index, y[index], edge_weight), abs=1e-6)


def test_map_separates_separated_classes():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(60) % 3
    centres = torch.eye(3, 20) * 20
    x = centres[y] + torch.randn(60, 20, generator=gen)
    points = tsne_embedding(x, perplexity=10, seed=0)
    assert points.shape == (60, 2)
    # Every point's nearest neighbour in the map has its class.
    dist = torch.cdist(points, points)
    dist.fill_diagonal_(float('inf'))
    assert bool((y[dist.argmin(dim=1)] == y).all())


def test_bad_input(data):
    x, y = data
    with pytest.raises(ValueError, match=r"'perplexity' must lie in \(0, N\) "
                       r"for N=40 samples \(got 40\)"):
        tsne_panels(_model(), x, y, num_samples=40, perplexity=40)
    with pytest.raises(ValueError, match=r"'k' must be smaller than the "
                       r"number of samples \(got k=40 for N=40\)"):
        tsne_panels(_model(), x, y, num_samples=40, k=40)
    with pytest.raises(TypeError, match=r"'model' must be a torch.nn.Module"):
        tsne_panels(None, x, y)
    with pytest.raises(ValueError, match=r"'perplexity' must lie in"):
        tsne_embedding(torch.randn(5, 3), perplexity=5)
