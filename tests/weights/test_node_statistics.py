import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from torch_geometric.data import Data

from pyg_dnnmod.weights import (
    aggregate_statistics,
    eigenvector_centrality,
    node_statistics,
    pagerank,
    weight_graph,
    weighted_degree,
)


def path_graph(signed: bool = False) -> Data:
    w = torch.tensor([2.0, 2.0, -1.0 if signed else 1.0,
                      -1.0 if signed else 1.0])
    return Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]),
                edge_weight=w, layer=torch.tensor([0, 1, 1]),
                pos_in_layer=torch.tensor([0, 0, 1]), num_nodes=3,
                layer_names=['in', 'out'])


def test_node_statistics_columns_and_values(lenet_graph):
    data = lenet_graph
    table = node_statistics(data)
    assert list(table.columns) == [
        'layer', 'layer_name', 'pos_in_layer', 'weighted_degree',
        'eigenvector_centrality', 'pagerank'
    ]
    assert len(table) == 239 and table.index.name == 'node'
    assert table['layer_name'].iloc[0] == 'input'
    assert table['layer_name'].iloc[-1] == 'fc3'
    assert table['pos_in_layer'].iloc[-1] == 9
    w = data.edge_weight.double()
    n = data.num_nodes
    np.testing.assert_allclose(table['weighted_degree'],
                               weighted_degree(data.edge_index, w, n))
    np.testing.assert_allclose(table['eigenvector_centrality'],
                               eigenvector_centrality(data.edge_index, w, n),
                               atol=1e-12)
    np.testing.assert_allclose(table['pagerank'],
                               pagerank(data.edge_index, w, n), atol=1e-12)


def test_signed_graph_ranks_by_magnitude():
    signed = node_statistics(path_graph(signed=True))
    plain = node_statistics(path_graph())
    assert signed['weighted_degree'].tolist() == [2.0, 1.0, -1.0]
    assert plain['weighted_degree'].tolist() == [2.0, 3.0, 1.0]
    for col in ('eigenvector_centrality', 'pagerank'):
        np.testing.assert_allclose(signed[col], plain[col])


def test_generic_graph_without_layers():
    data = Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=3)
    table = node_statistics(data, ['weighted_degree'])
    assert list(table.columns) == ['weighted_degree']
    assert table['weighted_degree'].tolist() == [1.0, 1.0, 0.0]


def test_eigenvector_method_default_converges_on_resnet110():
    # networkx's power iteration needs more than 100 steps here; the
    # default (exact) solver and the one-call pipeline do not.
    from pyg_dnnmod.models import get_model
    torch.manual_seed(0)
    data = weight_graph(get_model('resnet110'), input_shape=(3, 32, 32))
    w, n = data.edge_weight.double(), data.num_nodes
    table = node_statistics(data, ['eigenvector_centrality'])
    np.testing.assert_array_equal(table['eigenvector_centrality'],
                                  eigenvector_centrality(data.edge_index, w,
                                                         n, method='arpack'))
    with pytest.raises(RuntimeError, match='did not converge'):
        node_statistics(data, ['eigenvector_centrality'], max_iter=100,
                        method='power')
    agg = aggregate_statistics(data, statistics=['eigenvector_centrality'])
    assert len(agg) == 111 + 1 and agg.loc['all'].notna().all()
    assert agg['eigenvector_centrality'][['median', 'mean',
                                          'std']].notna().all().all()
    # The vector decays by about 100 every few layers away from its peak:
    # in the first layers it is round-off (|x| < 1e-16, clipped at 0, so a
    # layer may be constant, with NaN skewness and kurtosis).
    first = table.loc[table['layer'] == 1, 'eigenvector_centrality']
    assert (first < 1e-16).all()
    assert (table['eigenvector_centrality'] >= 0).all()


def test_eigenvector_method_power_passes_through(lenet_graph):
    data = lenet_graph
    w, n = data.edge_weight.double(), data.num_nodes
    table = node_statistics(data, ['eigenvector_centrality'],
                            method='power', max_iter=500, tol=1e-8)
    np.testing.assert_array_equal(
        table['eigenvector_centrality'],
        eigenvector_centrality(data.edge_index, w, n, max_iter=500, tol=1e-8,
                               method='power'))
    # Both solve the same eigenproblem.
    np.testing.assert_allclose(table['eigenvector_centrality'],
                               node_statistics(data)['eigenvector_centrality'],
                               rtol=0, atol=1e-6)


def reference_summary(x: np.ndarray) -> list:
    return [
        np.median(x),
        np.mean(x),
        np.std(x),
        stats.skew(x, bias=True),
        stats.kurtosis(x, fisher=True, bias=True),
    ]


def test_aggregate_matches_numpy_and_scipy(lenet_graph):
    agg = aggregate_statistics(lenet_graph)
    assert list(agg.index) == ['input', 'conv1', 'conv2', 'fc1', 'fc2',
                               'fc3', 'all']
    assert list(agg.columns.get_level_values(1)[:5]) == [
        'median', 'mean', 'std', 'skewness', 'kurtosis'
    ]
    table = node_statistics(lenet_graph)
    for stat in ('weighted_degree', 'eigenvector_centrality', 'pagerank'):
        for lid, name in enumerate(lenet_graph.layer_names):
            x = table.loc[table['layer'] == lid, stat].to_numpy()
            np.testing.assert_allclose(agg.loc[name, stat].to_numpy(),
                                       reference_summary(x), rtol=1e-9)
        np.testing.assert_allclose(agg.loc['all', stat].to_numpy(),
                                   reference_summary(table[stat].to_numpy()),
                                   rtol=1e-9)


def test_aggregate_hand_computed_and_constant_groups():
    agg = aggregate_statistics(path_graph(), statistics=['weighted_degree'])
    deg = agg['weighted_degree']
    # Degrees: layer 'in' = [2], 'out' = [3, 1], all = [2, 3, 1].
    assert deg.loc['in'].iloc[:3].tolist() == [2.0, 2.0, 0.0]
    assert deg.loc['out'].iloc[:3].tolist() == [2.0, 2.0, 1.0]
    assert deg.loc['out', 'skewness'] == 0.0
    assert deg.loc['out', 'kurtosis'] == -2.0  # two points: m4 / m2^2 = 1
    # One value: no shape, as in scipy.
    assert np.isnan(deg.loc['in', 'skewness'])
    assert np.isnan(deg.loc['in', 'kurtosis'])
    assert np.isnan(stats.skew([2.0])) and np.isnan(stats.kurtosis([2.0]))


def test_aggregate_from_table_and_by_none():
    table = node_statistics(path_graph())
    whole = aggregate_statistics(table, by=None)
    assert list(whole.index) == ['all']
    pd.testing.assert_frame_equal(
        whole, aggregate_statistics(path_graph()).loc[['all']])
    by_pos = aggregate_statistics(table, by='pos_in_layer')
    assert list(by_pos.index) == [0, 1, 'all']


def test_bad_input(lenet_graph):
    with pytest.raises(ValueError, match="unknown statistic 'closeness' in "
                       "'statistics'"):
        node_statistics(lenet_graph, ['closeness'])
    with pytest.raises(ValueError, match="'statistics' must name at least"):
        node_statistics(lenet_graph, [])
    with pytest.raises(TypeError, match="'data' must be a "
                       "torch_geometric.data.Data \\(got dict\\)"):
        node_statistics({})
    with pytest.raises(ValueError, match="'by' must be a column of the node "
                       "table \\(got 'block'"):
        aggregate_statistics(path_graph(), by='block')
    with pytest.raises(ValueError, match="'data' has no statistic columns"):
        aggregate_statistics(pd.DataFrame({'layer': [0, 1]}))
    with pytest.raises(TypeError, match="'data' must be a "
                       "torch_geometric.data.Data or a pandas.DataFrame"):
        aggregate_statistics([1, 2])
    with pytest.raises(ValueError, match=r"'method' must be one of \['auto', "
                       r"'power', 'arpack'\] \(got 'exact'\)"):
        node_statistics(lenet_graph, ['weighted_degree'], method='exact')


def test_weight_graph_end_to_end_snapshots(lenet):
    # Two "epochs": the features of the paper are the per-layer summaries.
    first = aggregate_statistics(weight_graph(lenet, input_shape=(3, 32, 32)))
    with torch.no_grad():
        lenet.fc1.weight.mul_(3.0)
    second = aggregate_statistics(weight_graph(lenet,
                                               input_shape=(3, 32, 32)))
    assert first.shape == second.shape == (7, 15)
    ratio = second.loc['fc1', ('weighted_degree', 'mean')] / \
        first.loc['fc1', ('weighted_degree', 'mean')]
    # fc1's degree = its in-edges (scaled by 3) + its out-edges (fc2, same).
    assert 1.0 < ratio < 3.0
    assert second.loc['conv1', ('weighted_degree', 'mean')] == \
        first.loc['conv1', ('weighted_degree', 'mean')]
