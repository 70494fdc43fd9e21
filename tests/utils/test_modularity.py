import random

import igraph
import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data

from pyg_dnnmod import community_modularity, modularity
from pyg_dnnmod.utils._modularity_cpu import (
    all_finite,
    crossing_edge,
    index_range,
)


def nx_to_pyg(graph: nx.Graph, weight: str = 'weight'):
    rows, cols, ws = [], [], []
    for u, v, w in graph.edges(data=weight, default=1.0):
        rows.append(u)
        cols.append(v)
        ws.append(w)
        if not graph.is_directed() and u != v:
            rows.append(v)
            cols.append(u)
            ws.append(w)
    edge_index = torch.tensor([rows, cols], dtype=torch.long).view(2, -1)
    return edge_index, torch.tensor(ws, dtype=torch.float64)


def partition(labels):
    groups = {}
    for node, c in enumerate(labels):
        groups.setdefault(c, set()).add(node)
    return list(groups.values())


def random_graph(n, p, seed, directed=False, loops=False, negative=False):
    rng = random.Random(seed)
    graph = nx.DiGraph() if directed else nx.Graph()
    graph.add_nodes_from(range(n))
    for u in range(n):
        for v in range(n):
            if (u == v and not loops) or (not directed and v < u):
                continue
            if rng.random() < p:
                lo = -1.0 if negative else 0.1
                graph.add_edge(u, v, weight=rng.uniform(lo, 2.0))
    return graph


def test_barbell_closed_form(device):
    # networkx's own test: barbell_graph(3, 0) has modularity 70 / 196.
    graph = nx.barbell_graph(3, 0)
    edge_index, _ = nx_to_pyg(graph)
    labels = torch.tensor([0, 0, 0, 1, 1, 1], device=device)
    assert modularity(edge_index.to(device), labels) == pytest.approx(
        70 / 196, abs=1e-12)


def test_two_disjoint_edges_hand_computed(device):
    # m = 2, each community: L_c / m = 1/2, (K_c / 2m)^2 = 1/4 -> Q = 1/2.
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]], device=device)
    assert modularity(edge_index, torch.tensor([0, 0, 1, 1],
                                               device=device)) == 0.5
    # All in one community: Q = 1 - 1 = 0.
    assert modularity(edge_index, torch.zeros(4, dtype=torch.long,
                                              device=device)) == 0.0


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('directed', [False, True])
@pytest.mark.parametrize('loops', [False, True])
@pytest.mark.parametrize('resolution', [1.0, 0.5, 2.0])
def test_networkx_agreement(seed, directed, loops, resolution, device):
    graph = random_graph(25, 0.2, seed, directed=directed, loops=loops)
    rng = random.Random(seed)
    labels = [rng.choice([3, 8, 42]) for _ in range(25)]
    expected = nx.community.modularity(graph, partition(labels),
                                       resolution=resolution)
    edge_index, edge_weight = nx_to_pyg(graph)
    got = modularity(edge_index.to(device), torch.tensor(labels,
                                                         device=device),
                     edge_weight.to(device), resolution=resolution,
                     directed=directed)
    assert got == pytest.approx(expected, abs=1e-12)
    # Unweighted.
    expected = nx.community.modularity(graph, partition(labels), weight=None,
                                       resolution=resolution)
    got = modularity(edge_index.to(device), torch.tensor(labels,
                                                         device=device),
                     resolution=resolution, directed=directed)
    assert got == pytest.approx(expected, abs=1e-12)


def test_negative_weights_kept_like_networkx():
    graph = random_graph(20, 0.4, seed=9, negative=True)
    labels = [i % 3 for i in range(20)]
    edge_index, edge_weight = nx_to_pyg(graph)
    assert modularity(edge_index, torch.tensor(labels),
                      edge_weight) == pytest.approx(
                          nx.community.modularity(graph, partition(labels)),
                          abs=1e-12)


def test_empty_graph_and_isolated_nodes():
    empty = torch.empty(2, 0, dtype=torch.long)
    assert modularity(empty, torch.tensor([0, 1, 1])) == 0.0
    # An isolated node changes nothing.
    edge_index = torch.tensor([[0, 1], [1, 0]])
    assert modularity(edge_index, torch.tensor([0, 0, 1])) == \
        modularity(edge_index, torch.tensor([0, 0]))


def test_batch_equals_per_graph(device):
    graphs, expected = [], []
    for seed in range(5):
        graph = random_graph(10 + seed, 0.3, seed, loops=seed % 2 == 1)
        labels = [(i * 7 + seed) % 3 for i in range(graph.number_of_nodes())]
        edge_index, edge_weight = nx_to_pyg(graph)
        graphs.append(Data(edge_index=edge_index, edge_weight=edge_weight,
                           y=torch.tensor(labels),
                           num_nodes=graph.number_of_nodes()))
        expected.append(nx.community.modularity(graph, partition(labels)))
    # An empty graph inside the batch gets Q = 0.
    graphs.append(Data(edge_index=torch.empty(2, 0, dtype=torch.long),
                       edge_weight=torch.empty(0, dtype=torch.float64),
                       y=torch.tensor([0, 1]), num_nodes=2))
    expected.append(0.0)
    batch = Batch.from_data_list(graphs).to(device)
    out = modularity(batch.edge_index, batch.y, batch.edge_weight,
                     batch=batch.batch)
    assert isinstance(out, torch.Tensor) and out.shape == (6, )
    assert out.cpu().tolist() == pytest.approx(expected, abs=1e-12)


def test_community_terms_sum_to_q(device):
    graph = random_graph(30, 0.2, seed=1)
    labels = [[5, 9, 11][i % 3] for i in range(30)]
    edge_index, edge_weight = nx_to_pyg(graph)
    ids, terms = community_modularity(edge_index.to(device),
                                      torch.tensor(labels, device=device),
                                      edge_weight.to(device))
    assert ids.tolist() == [5, 9, 11]
    m = graph.size(weight='weight')
    for c, term in zip(ids.tolist(), terms.tolist()):
        nodes = {i for i in range(30) if labels[i] == c}
        l_c = graph.subgraph(nodes).size(weight='weight')
        k_c = sum(d for _, d in graph.degree(nodes, weight='weight'))
        assert term == pytest.approx(l_c / m - (k_c / (2 * m))**2, abs=1e-12)
    assert float(terms.sum()) == pytest.approx(
        modularity(edge_index, torch.tensor(labels), edge_weight), abs=1e-12)


def test_community_terms_batched():
    e = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
    batch = Batch.from_data_list([
        Data(edge_index=e, y=torch.tensor([0, 0, 1, 1]), num_nodes=4),
        Data(edge_index=e, y=torch.tensor([0, 0, 0, 0]), num_nodes=4),
    ])
    ids, terms = community_modularity(batch.edge_index, batch.y,
                                      batch=batch.batch)
    assert ids.tolist() == [0, 1]
    assert terms.tolist() == [[0.25, 0.25], [0.0, 0.0]]


@pytest.mark.parametrize('args,kwargs,error,match', [
    ((torch.tensor([[0, 5], [5, 0]]), torch.tensor([0, 1, 1])), {},
     ValueError, r"'edge_index' holds node index 5, out of range for 3"),
    ((torch.tensor([[0, -1], [1, 0]]), torch.tensor([0, 1, 1])), {},
     ValueError, r"node index -1"),
    ((torch.tensor([0, 1]), torch.tensor([0, 1])), {}, ValueError,
     r"'edge_index' must have shape \[2, num_edges\] \(got \[2\]\)"),
    ((torch.tensor([[0., 1.], [1., 0.]]), torch.tensor([0, 1])), {},
     TypeError, r"'edge_index' must hold integers"),
    ((torch.tensor([[0, 1], [1, 0]]), torch.tensor([0.5, 1.0])), {},
     TypeError, r"'communities' must be integer labels .*float32"),
    ((torch.tensor([[0, 1], [1, 0]]), torch.tensor([0, 1, 1])),
     dict(num_nodes=2), ValueError,
     r"one label per node \(got 3 labels for num_nodes=2\)"),
    ((torch.tensor([[0, 1], [1, 0]]), torch.tensor([0, 1])),
     dict(edge_weight=torch.ones(3)), ValueError,
     r"'edge_weight' must have shape \[num_edges\] = \[2\] \(got \[3\]\)"),
    ((torch.tensor([[0, 1], [1, 0]]), torch.tensor([0, 1])),
     dict(edge_weight=torch.tensor([1.0, float('nan')])), ValueError,
     r"'edge_weight' contains NaN"),
    ((torch.tensor([[0, 1], [1, 0]]), torch.tensor([0, 1])),
     dict(batch=torch.tensor([0])), ValueError,
     r"'batch' must have shape \[num_nodes\] = \[2\] \(got \[1\]\)"),
])
def test_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        modularity(*args, **kwargs)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(resolution=float('nan')), ValueError,
     r"'resolution' must be finite \(got nan\)"),
    (dict(resolution=float('inf')), ValueError,
     r"'resolution' must be finite \(got inf\)"),
    (dict(resolution='1'), TypeError,
     r"'resolution' must be a real number \(got str\)"),
    (dict(batch=torch.tensor([0., 0., 1., 1.])), TypeError,
     r"'batch' must hold integer graph ids \(got dtype torch.float32\)"),
    (dict(batch=[0, 0, 1, 1]), TypeError,
     r"'batch' must be a torch.Tensor \(got list\)"),
    (dict(batch=torch.tensor([0, 0, -1, -1])), ValueError,
     r"'batch' must hold graph ids >= 0 \(got -1\)"),
    (dict(batch=torch.tensor([0, 1, 1, 1])), ValueError,
     r"'edge_index' links node 0 of graph 0 to node 1 of graph 1 of "
     r"'batch'"),
])
def test_bad_resolution_and_batch(kwargs, error, match):
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
    labels = torch.tensor([0, 0, 1, 1])
    with pytest.raises(error, match=match):
        modularity(edge_index, labels, **kwargs)
    with pytest.raises(error, match=match):
        community_modularity(edge_index, labels, **kwargs)
    # The valid batch of the same two graphs: one edge inside a single
    # community each, Q = 1 - 0.5 * (2/2)^2 per graph.
    out = modularity(edge_index, labels, batch=torch.tensor([0, 0, 1, 1]),
                     resolution=0.5)
    assert out.tolist() == [0.5, 0.5]


def test_collapse_regularization_rejects_float_batch():
    from pyg_dnnmod.utils import collapse_regularization
    s = torch.eye(2)[[0, 1, 0, 1]]
    with pytest.raises(TypeError, match=r"'batch' must hold integer graph "
                       r"ids \(got dtype torch.float32\)"):
        collapse_regularization(s, batch=torch.tensor([0., 0., 1., 1.]))
    out = collapse_regularization(s, batch=torch.tensor([0, 0, 1, 1]))
    assert out.tolist() == pytest.approx([0.0, 0.0], abs=1e-6)


# The CPU fast path (integer labels, NumPy sums) against the scatter path
# (taken when a gradient is tracked), igraph and networkx.
def scatter_path(edge_index, labels, edge_weight, **kwargs):
    r"""The torch scatter path: a weight that requires grad keeps
    `modularity` off the NumPy fast path."""
    w = edge_weight.clone().requires_grad_()
    out = modularity(edge_index, labels, w, **kwargs)
    return out.detach()


@pytest.mark.parametrize('directed', [False, True])
@pytest.mark.parametrize('loops', [False, True])
@pytest.mark.parametrize('labels', ['contiguous', 'sparse', 'negative'])
def test_fast_path_equals_scatter_path_and_networkx(directed, loops, labels):
    for seed in range(4):
        graph = random_graph(30, 0.2, seed, directed=directed, loops=loops)
        ids = [(i * 7 + seed) % 4 for i in range(30)]
        ids = {'contiguous': ids, 'sparse': [10**9 * c for c in ids],
               'negative': [c - 2 for c in ids]}[labels]
        edge_index, edge_weight = nx_to_pyg(graph)
        y = torch.tensor(ids)
        fast = modularity(edge_index, y, edge_weight, directed=directed,
                          resolution=0.7)
        slow = scatter_path(edge_index, y, edge_weight, directed=directed,
                            resolution=0.7)
        expected = nx.community.modularity(graph, partition(ids),
                                           resolution=0.7)
        assert isinstance(fast, float)
        assert fast == pytest.approx(float(slow), abs=1e-13)
        assert fast == pytest.approx(expected, abs=1e-13)


def test_fast_path_equals_igraph_on_a_knn_graph():
    from pyg_dnnmod.utils import knn_graph
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(600) % 6
    x = (torch.randn(6, 32, generator=gen)[y] +
         torch.randn(600, 32, generator=gen)).relu()
    edge_index, edge_weight = knn_graph(x, k=5)
    keep = edge_index[0] < edge_index[1]
    g = igraph.Graph(n=600, edges=edge_index[:, keep].t().tolist())
    expected = g.modularity(y.tolist(),
                            weights=edge_weight[keep].double().tolist())
    assert modularity(edge_index, y, edge_weight) == \
        pytest.approx(expected, abs=1e-12)
    assert 0.3 < expected < 0.9  # the classes are real clusters


def test_batched_fast_path_gives_the_bits_of_single_graphs():
    graphs = []
    for seed in range(6):
        graph = random_graph(12 + seed, 0.3, seed, loops=seed % 2 == 1)
        edge_index, edge_weight = nx_to_pyg(graph)
        graphs.append(Data(edge_index=edge_index, edge_weight=edge_weight,
                           y=torch.tensor([(i * 5 + seed) % 3 for i in
                                           range(12 + seed)]),
                           num_nodes=12 + seed))
    batch = Batch.from_data_list(graphs)
    out = modularity(batch.edge_index, batch.y, batch.edge_weight,
                     batch=batch.batch)
    single = [modularity(g.edge_index, g.y, g.edge_weight) for g in graphs]
    assert out.dtype == torch.float64 and out.tolist() == single
    slow = scatter_path(batch.edge_index, batch.y, batch.edge_weight,
                        batch=batch.batch)
    assert torch.allclose(out, slow, rtol=0, atol=1e-13)


def test_many_graphs_and_many_labels_take_the_sorted_ids():
    # 300 graphs x labels up to 10^6: too many (graph, label) cells to
    # index directly, so the ids are made contiguous by one sort.
    gen = torch.Generator().manual_seed(1)
    graphs = []
    for i in range(300):
        edge_index = torch.randint(0, 8, (2, 20), generator=gen)
        graphs.append(Data(edge_index=edge_index,
                           edge_weight=torch.rand(20, generator=gen),
                           y=torch.randint(0, 10**6, (8, ), generator=gen),
                           num_nodes=8))
    batch = Batch.from_data_list(graphs)
    out = modularity(batch.edge_index, batch.y, batch.edge_weight,
                     batch=batch.batch, directed=True)
    slow = scatter_path(batch.edge_index, batch.y, batch.edge_weight,
                        batch=batch.batch, directed=True)
    assert torch.allclose(out, slow, rtol=0, atol=1e-13)


def test_unweighted_integer_and_float32_weights():
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    y = torch.tensor([0, 0, 1, 1])
    # 4/6 - 2 (3/6)^2 = 1/6, whatever the weights' dtype
    assert modularity(edge_index, y) == pytest.approx(1 / 6, abs=1e-15)
    for w in (torch.ones(6, dtype=torch.int64), torch.ones(6)):
        assert modularity(edge_index, y, w) == pytest.approx(1 / 6,
                                                             abs=1e-15)


def test_shared_reductions():
    assert index_range(torch.tensor([4, -2, 9])) == (-2, 9)
    assert all_finite(torch.tensor([1e38, 1e38]))  # the sum overflows
    assert not all_finite(torch.tensor([1.0, float('-inf')]))
    assert all_finite(torch.tensor([1.0, 2.0], dtype=torch.bfloat16))
    batch = torch.tensor([0, 0, 1, 1])
    assert crossing_edge(torch.tensor([[0, 2], [1, 3]]), batch) is None
    assert crossing_edge(torch.tensor([[0, 2, 1], [1, 3, 3]]), batch) == 2


def test_errors_are_those_of_the_scatter_path():
    edge_index = torch.tensor([[0, 2], [1, 3]])
    with pytest.raises(ValueError, match="links node 1 of graph 0 to node "
                                         "3 of graph 1"):
        modularity(torch.tensor([[0, 1], [1, 3]]), torch.zeros(4,
                                                               dtype=int),
                   batch=torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError, match="'edge_weight' contains NaN"):
        modularity(edge_index, torch.zeros(4, dtype=int),
                   torch.tensor([1.0, float('nan')]))
    with pytest.raises(ValueError, match="node index 7, out of range"):
        modularity(torch.tensor([[0, 7], [1, 3]]), torch.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="'resolution' must be finite"):
        modularity(edge_index, torch.zeros(4, dtype=int),
                   resolution=float('inf'))
