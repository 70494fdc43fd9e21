import pytest
import torch
from torch_geometric.data import Data

from pyg_dnnmod import AddModularity, FeatureKNNGraph, modularity
from pyg_dnnmod.utils import knn_graph


def test_feature_knn_graph_matches_function():
    torch.manual_seed(0)
    x = torch.randn(20, 5)
    data = Data(x=x, y=torch.arange(20) % 2)
    out = FeatureKNNGraph(k=3, metric='pearson')(data)
    edge_index, edge_weight = knn_graph(x, k=3, metric='pearson')
    assert out.edge_index.tolist() == edge_index.tolist()
    assert torch.equal(out.edge_weight, edge_weight)
    # The transform works on a copy.
    assert 'edge_index' not in data
    assert repr(FeatureKNNGraph(k=3)) == "FeatureKNNGraph(k=3, metric='cosine')"


def test_add_modularity_uses_edge_weight():
    data = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]),
                edge_weight=torch.tensor([3., 3., 1., 1.]),
                y=torch.tensor([0, 0, 1]))
    out = AddModularity()(data)
    # m = 4; community 0: 2L = 6, K = 3 + 4 = 7; community 1: K = 1.
    assert out.modularity == pytest.approx(6 / 8 - (7 / 8)**2 - (1 / 8)**2)
    assert out.modularity == modularity(data.edge_index, data.y,
                                        data.edge_weight)


def test_composed_pipeline():
    from torch_geometric.transforms import Compose
    x = torch.tensor([[1., 0.], [1., .1], [0., 1.], [.1, 1.]])
    data = Compose([FeatureKNNGraph(k=1), AddModularity()])(
        Data(x=x, y=torch.tensor([0, 0, 1, 1])))
    assert data.modularity == pytest.approx(0.5)


def test_missing_attributes():
    with pytest.raises(ValueError, match=r"needs node features 'data.x'"):
        FeatureKNNGraph()(Data(num_nodes=3))
    with pytest.raises(ValueError, match=r"needs class labels 'data.y'"):
        AddModularity()(Data(edge_index=torch.zeros(2, 0, dtype=torch.long)))
