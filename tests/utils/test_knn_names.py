r"""The top-level k-NN name: :obj:`pyg_dnnmod.feature_knn_graph`, not
:obj:`knn_graph`, which is PyG's (:obj:`torch_geometric.nn.knn_graph`, with
another contract) and would be shadowed by a star import."""
import warnings

import pytest
import torch

import pyg_dnnmod
from pyg_dnnmod.transforms import FeatureKNNGraph
from pyg_dnnmod.utils import feature_knn_graph, knn_graph


def test_feature_knn_graph_is_the_functional_core():
    assert pyg_dnnmod.feature_knn_graph is knn_graph
    assert feature_knn_graph is knn_graph
    assert 'feature_knn_graph' in pyg_dnnmod.__all__
    assert 'feature_knn_graph' in pyg_dnnmod.utils.__all__
    assert 'knn_graph' in pyg_dnnmod.utils.__all__


def test_old_top_level_name_warns_and_returns_the_same_function():
    with pytest.warns(DeprecationWarning,
                      match=r"'pyg_dnnmod\.knn_graph' is deprecated; use "
                      r"'pyg_dnnmod\.feature_knn_graph' or "
                      r"'pyg_dnnmod\.utils\.knn_graph'") as record:
        old = pyg_dnnmod.knn_graph
    assert old is knn_graph
    # stacklevel=2: the warning points at the caller, not at the package.
    assert record[0].filename == __file__
    with pytest.warns(DeprecationWarning, match='feature_knn_graph'):
        from pyg_dnnmod import knn_graph as imported
    assert imported is knn_graph


def test_star_import_no_longer_binds_knn_graph():
    assert 'knn_graph' not in pyg_dnnmod.__all__
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter('error', DeprecationWarning)
        exec('from pyg_dnnmod import *', namespace)
    assert 'knn_graph' not in namespace
    assert namespace['feature_knn_graph'] is knn_graph


def test_star_import_keeps_pyg_knn_graph():
    import torch_geometric.nn.pool
    namespace = {}
    exec('from torch_geometric.nn.pool import *\nfrom pyg_dnnmod import *',
         namespace)
    assert namespace['knn_graph'] is torch_geometric.nn.pool.knn_graph


def test_feature_knn_graph_is_the_transform_twin():
    from torch_geometric.data import Data
    x = torch.tensor([[1., 0.], [1., .1], [0., 1.], [.1, 1.]])
    data = FeatureKNNGraph(k=1)(Data(x=x))
    edge_index, edge_weight = feature_knn_graph(x, k=1)
    assert torch.equal(data.edge_index, edge_index)
    assert torch.equal(data.edge_weight, edge_weight)
