import math

import pytest
import torch
from torch_geometric.utils import to_undirected

from pyg_dnnmod.weights import (
    eigenvector_centrality,
    pagerank,
    weighted_degree,
)

nx = pytest.importorskip('networkx')


def to_networkx(edge_index, edge_weight, num_nodes, directed=False):
    G = nx.DiGraph() if directed else nx.Graph()
    G.add_nodes_from(range(num_nodes))
    for (u, v), w in zip(edge_index.t().tolist(), edge_weight.tolist()):
        G.add_edge(u, v, weight=w)
    return G


def as_tensor(result, num_nodes):
    return torch.tensor([result[i] for i in range(num_nodes)],
                        dtype=torch.float64)


def random_graph(seed, num_nodes=40, num_edges=120, directed=False):
    r"""A random weighted graph with isolated nodes, stored PyG-style."""
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes - 5, (2, num_edges),
                               generator=gen)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    # One weight per pair, so networkx (which keeps one) sees the same graph.
    key = edge_index[0] * num_nodes + edge_index[1]
    if not directed:
        key = torch.minimum(edge_index[0], edge_index[1]) * num_nodes + \
            torch.maximum(edge_index[0], edge_index[1])
    key = torch.unique(key)
    edge_index = torch.stack([key // num_nodes, key % num_nodes])
    edge_weight = torch.rand(edge_index.size(1), generator=gen,
                             dtype=torch.float64) + 0.1
    if not directed:
        edge_index, edge_weight = to_undirected(edge_index, edge_weight,
                                                num_nodes)
    return edge_index, edge_weight, num_nodes


# Against networkx ############################################################


def test_lenet_graph_matches_networkx(lenet_graph):
    data = lenet_graph
    w = data.edge_weight.double()
    G = to_networkx(data.edge_index, w, data.num_nodes)
    n = data.num_nodes
    torch.testing.assert_close(
        weighted_degree(data.edge_index, w, n),
        as_tensor(dict(G.degree(weight='weight')), n), rtol=0, atol=1e-9)
    torch.testing.assert_close(
        eigenvector_centrality(data.edge_index, w, n),
        as_tensor(nx.eigenvector_centrality(G, weight='weight'), n), rtol=0,
        atol=1e-5)
    torch.testing.assert_close(
        pagerank(data.edge_index, w, n),
        as_tensor(nx.pagerank(G, weight='weight'), n), rtol=0, atol=1e-5)
    # float32 in, float32 out, same values.
    ours = eigenvector_centrality(data.edge_index, data.edge_weight, n)
    assert ours.dtype == torch.float32


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_random_undirected_matches_networkx(seed):
    edge_index, w, n = random_graph(seed)
    G = to_networkx(edge_index, w, n)
    torch.testing.assert_close(
        weighted_degree(edge_index, w, n),
        as_tensor(dict(G.degree(weight='weight')), n), rtol=0, atol=1e-9)
    torch.testing.assert_close(
        eigenvector_centrality(edge_index, w, n, max_iter=1000),
        as_tensor(nx.eigenvector_centrality(G, max_iter=1000,
                                            weight='weight'), n), rtol=0,
        atol=1e-5)
    torch.testing.assert_close(
        pagerank(edge_index, w, n, alpha=0.9),
        as_tensor(nx.pagerank(G, alpha=0.9, weight='weight'), n), rtol=0,
        atol=1e-5)
    # Unweighted.
    torch.testing.assert_close(
        eigenvector_centrality(edge_index, None, n, max_iter=1000),
        as_tensor(nx.eigenvector_centrality(G, max_iter=1000, weight=None),
                  n).float(), rtol=0, atol=1e-5)


@pytest.mark.parametrize('seed', [3, 4])
def test_random_directed_matches_networkx(seed):
    # Stored one way: networkx's DiGraph results, dangling nodes included.
    edge_index, w, n = random_graph(seed, directed=True)
    G = to_networkx(edge_index, w, n, directed=True)
    assert any(G.out_degree(v) == 0 for v in G)
    torch.testing.assert_close(
        pagerank(edge_index, w, n),
        as_tensor(nx.pagerank(G, weight='weight'), n), rtol=0, atol=1e-5)
    torch.testing.assert_close(
        eigenvector_centrality(edge_index, w, n, max_iter=1000),
        as_tensor(nx.eigenvector_centrality(G, max_iter=1000,
                                            weight='weight'), n), rtol=0,
        atol=1e-5)


def test_pagerank_personalization_and_dangling():
    edge_index, w, n = random_graph(5, directed=True)
    G = to_networkx(edge_index, w, n, directed=True)
    gen = torch.Generator().manual_seed(5)
    pers = torch.rand(n, generator=gen, dtype=torch.float64)
    dang = torch.rand(n, generator=gen, dtype=torch.float64)
    ref = nx.pagerank(G, weight='weight',
                      personalization=dict(enumerate(pers.tolist())),
                      dangling=dict(enumerate(dang.tolist())))
    torch.testing.assert_close(
        pagerank(edge_index, w, n, personalization=pers, dangling=dang),
        as_tensor(ref, n), rtol=0, atol=1e-5)


def test_self_loops_follow_networkx():
    edge_index = torch.tensor([[0, 0, 1, 1, 2], [0, 1, 0, 2, 1]])
    w = torch.tensor([3.0, 1.0, 1.0, 2.0, 2.0], dtype=torch.float64)
    G = nx.Graph()
    G.add_weighted_edges_from([(0, 0, 3.0), (0, 1, 1.0), (1, 2, 2.0)])
    # A self-loop counts twice in networkx's degree.
    assert weighted_degree(edge_index, w).tolist() == [7.0, 3.0, 2.0]
    torch.testing.assert_close(
        eigenvector_centrality(edge_index, w),
        as_tensor(nx.eigenvector_centrality(G, weight='weight'), 3), rtol=0,
        atol=1e-5)
    torch.testing.assert_close(
        pagerank(edge_index, w),
        as_tensor(nx.pagerank(G, weight='weight'), 3), rtol=0, atol=1e-5)


# Closed forms ################################################################


def test_closed_forms(device):
    # Path 0 - 1 - 2: the Perron vector is (1, sqrt 2, 1) / 2.
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]], device=device)
    x = eigenvector_centrality(edge_index, tol=1e-10, max_iter=1000)
    expected = torch.tensor([0.5, math.sqrt(0.5), 0.5], device=device)
    torch.testing.assert_close(x, expected, rtol=0, atol=1e-6)
    assert x.device.type == device.type
    # Star with centre 0: x_0 = (1 - a) / 3 + a (x_1 + x_2), x_1 = (1 - a) / 3
    # + a x_0 / 2, so x_0 = (1 + 2a) / (3 (1 + a)) exactly.
    a = 0.85
    edge_index = torch.tensor([[0, 0, 1, 2], [1, 2, 0, 0]], device=device)
    x = pagerank(edge_index, alpha=a, tol=1e-12, max_iter=1000)
    centre = (1 + 2 * a) / (3 * (1 + a))
    expected = torch.tensor([centre, (1 - centre) / 2, (1 - centre) / 2],
                            device=device)
    torch.testing.assert_close(x, expected, rtol=0, atol=1e-6)
    w = torch.tensor([2.0, 0.5, 2.0, 0.5], device=device)
    assert weighted_degree(edge_index, w).tolist() == [2.5, 2.0, 0.5]
    assert weighted_degree(edge_index, num_nodes=4).tolist() == [2, 1, 1, 0]


def test_empty_graph():
    empty = torch.empty(2, 0, dtype=torch.long)
    assert weighted_degree(empty, num_nodes=0).numel() == 0
    assert eigenvector_centrality(empty, num_nodes=0).numel() == 0
    assert pagerank(empty, num_nodes=0).numel() == 0
    # Isolated nodes only: no links, every node alike.
    torch.testing.assert_close(pagerank(empty, num_nodes=4),
                               torch.full((4, ), 0.25))
    torch.testing.assert_close(eigenvector_centrality(empty, num_nodes=4),
                               torch.full((4, ), 0.5))


# Bad input ###################################################################


def test_no_convergence():
    edge_index, w, n = random_graph(0)
    with pytest.raises(RuntimeError, match="did not converge in "
                       "max_iter=2 iterations"):
        eigenvector_centrality(edge_index, w, n, max_iter=2)
    with pytest.raises(RuntimeError, match="pagerank did not converge"):
        pagerank(edge_index, w, n, max_iter=1)


def test_bad_input():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"'edge_index' must have shape "
                       r"\[2, num_edges\] \(got \[3\]\)"):
        weighted_degree(torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="'edge_index' must hold integers"):
        weighted_degree(edge_index.float())
    with pytest.raises(ValueError, match="node index 1, out of range for "
                       "num_nodes=1"):
        weighted_degree(edge_index, num_nodes=1)
    with pytest.raises(ValueError, match=r"'edge_weight' must have shape "
                       r"\[num_edges\] = \[2\] \(got \[3\]\)"):
        pagerank(edge_index, torch.ones(3))
    with pytest.raises(ValueError, match="'edge_weight' contains NaN"):
        pagerank(edge_index, torch.tensor([1.0, float('nan')]))
    with pytest.raises(ValueError, match="non-negative edge weights \\(got "
                       "minimum -1\\)"):
        eigenvector_centrality(edge_index, torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="'alpha' must be in \\[0, 1\\] "
                       "\\(got 1.5\\)"):
        pagerank(edge_index, alpha=1.5)
    with pytest.raises(ValueError, match="'max_iter' must be an integer >= "
                       "1 \\(got 0\\)"):
        pagerank(edge_index, max_iter=0)
    with pytest.raises(ValueError, match="'tol' must be > 0 \\(got 0\\)"):
        eigenvector_centrality(edge_index, tol=0)
    with pytest.raises(ValueError, match=r"'personalization' must have "
                       r"shape \[num_nodes\] = \[2\] \(got \[3\]\)"):
        pagerank(edge_index, personalization=torch.ones(3))
