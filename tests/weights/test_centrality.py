import math

import numpy as np
import pytest
import torch
from torch_geometric.utils import to_undirected

from pyg_dnnmod.models import get_input_shape, get_model, list_models
from pyg_dnnmod.weights import (
    eigenvector_centrality,
    pagerank,
    weight_graph,
    weighted_degree,
)

nx = pytest.importorskip('networkx')

EIGENVECTOR_METHODS = ('auto', 'power', 'arpack')


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
        eigenvector_centrality(data.edge_index, w, n, method='power'),
        as_tensor(nx.eigenvector_centrality(G, weight='weight'), n), rtol=0,
        atol=1e-5)
    torch.testing.assert_close(
        pagerank(data.edge_index, w, n),
        as_tensor(nx.pagerank(G, weight='weight'), n), rtol=0, atol=1e-5)
    # float32 in, float32 out, same values.
    for method in ('power', 'auto'):
        ours = eigenvector_centrality(data.edge_index, data.edge_weight, n,
                                      method=method)
        assert ours.dtype == torch.float32


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_random_undirected_matches_networkx(seed):
    edge_index, w, n = random_graph(seed)
    G = to_networkx(edge_index, w, n)
    torch.testing.assert_close(
        weighted_degree(edge_index, w, n),
        as_tensor(dict(G.degree(weight='weight')), n), rtol=0, atol=1e-9)
    torch.testing.assert_close(
        eigenvector_centrality(edge_index, w, n, max_iter=1000,
                               method='power'),
        as_tensor(nx.eigenvector_centrality(G, max_iter=1000,
                                            weight='weight'), n), rtol=0,
        atol=1e-5)
    torch.testing.assert_close(
        pagerank(edge_index, w, n, alpha=0.9),
        as_tensor(nx.pagerank(G, alpha=0.9, weight='weight'), n), rtol=0,
        atol=1e-5)
    # Unweighted.
    torch.testing.assert_close(
        eigenvector_centrality(edge_index, None, n, max_iter=1000,
                               method='power'),
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
        eigenvector_centrality(edge_index, w, n, max_iter=1000,
                               method='power'),
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
        eigenvector_centrality(edge_index, w, method='power'),
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
    for method in EIGENVECTOR_METHODS:
        x = eigenvector_centrality(empty, num_nodes=4, method=method)
        torch.testing.assert_close(x, torch.full((4, ), 0.5))
        assert eigenvector_centrality(empty, num_nodes=0,
                                      method=method).numel() == 0


# The exact solver against networkx's numpy (ARPACK) version ##################


def from_networkx(G):
    r"""A networkx graph as a PyG edge list (undirected: both directions, a
    self-loop once)."""
    G = nx.convert_node_labels_to_integers(G)
    pairs, weights = [], []
    for u, v, w in G.edges(data='weight', default=1.0):
        pairs.append((u, v))
        weights.append(float(w))
        if not G.is_directed() and u != v:
            pairs.append((v, u))
            weights.append(float(w))
    edge_index = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
    return edge_index, torch.tensor(weights, dtype=torch.float64), len(G), G


def strongly_connected_digraph(num_nodes, seed):
    r"""A weighted directed cycle through all nodes plus random chords."""
    gen = torch.Generator().manual_seed(seed)
    G = nx.DiGraph()
    for i in range(num_nodes):
        G.add_edge(i, (i + 1) % num_nodes,
                   weight=float(torch.rand(1, generator=gen)) + 0.1)
    for u, v in torch.randint(0, num_nodes, (3 * num_nodes, 2),
                              generator=gen).tolist():
        if u != v:
            G.add_edge(u, v, weight=float(torch.rand(1, generator=gen)) + 0.1)
    return G


def hand_graphs():
    loops = nx.Graph()
    loops.add_weighted_edges_from([(0, 0, 3.0), (0, 1, 1.0), (1, 2, 2.0),
                                   (2, 0, 0.5)])
    small = nx.DiGraph()
    small.add_weighted_edges_from([(0, 1, 2.0), (1, 2, 0.5), (2, 0, 1.0),
                                   (2, 3, 3.0), (3, 1, 1.5), (1, 0, 0.25)])
    cycle = nx.DiGraph()  # periodic: eigenvalues on a circle, LR picks rho
    cycle.add_weighted_edges_from([(0, 1, 2.0), (1, 2, 1.0), (2, 0, 0.5)])
    return {
        'karate': nx.karate_club_graph(),  # weighted, dense solver
        'les_miserables': nx.les_miserables_graph(),  # weighted, ARPACK
        'bipartite': nx.complete_bipartite_graph(3, 5),
        'self_loop': loops,
        'directed_small': small,
        'directed_cycle': cycle,
        'directed_large': strongly_connected_digraph(100, 0),  # ARPACK
    }


@pytest.mark.parametrize('method', ['auto', 'arpack'])
@pytest.mark.parametrize('name', list(hand_graphs()))
def test_hand_graphs_match_networkx_numpy(name, method):
    edge_index, w, n, G = from_networkx(hand_graphs()[name])
    ours = eigenvector_centrality(edge_index, w, n, method=method)
    ref = as_tensor(nx.eigenvector_centrality_numpy(G, weight='weight'), n)
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-9)
    # Unweighted too.
    ours = eigenvector_centrality(edge_index, None, n, method=method)
    ref = as_tensor(nx.eigenvector_centrality_numpy(G), n)
    assert ours.dtype == torch.get_default_dtype()
    torch.testing.assert_close(ours.double(), ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_power_is_networkx_power_iteration(seed):
    edge_index, w, n = random_graph(seed)
    G = to_networkx(edge_index, w, n)
    for max_iter, tol in [(1000, 1e-6), (1000, 1e-9)]:
        ref = nx.eigenvector_centrality(G, max_iter=max_iter, tol=tol,
                                        weight='weight')
        torch.testing.assert_close(
            eigenvector_centrality(edge_index, w, n, max_iter=max_iter,
                                   tol=tol, method='power'),
            as_tensor(ref, n), rtol=0, atol=1e-12)
    with pytest.raises(nx.PowerIterationFailedConvergence):
        nx.eigenvector_centrality(G, max_iter=3, weight='weight')
    with pytest.raises(RuntimeError, match='did not converge'):
        eigenvector_centrality(edge_index, w, n, max_iter=3, method='power')


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_disconnected_is_the_dominant_component(seed):
    # networkx's numpy version refuses a disconnected graph; ours is the
    # limit of the power iteration: the Perron vector of the component with
    # the largest eigenvalue, 0 elsewhere (isolated nodes included).
    edge_index, w, n = random_graph(seed)
    G = to_networkx(edge_index, w, n)
    assert not nx.is_connected(G)
    parts = [G.subgraph(c) for c in nx.connected_components(G)]
    rho = [np.linalg.eigvalsh(nx.to_numpy_array(g)).max() for g in parts]
    top = parts[int(np.argmax(rho))]
    ref = torch.zeros(n, dtype=torch.float64)
    for node, value in nx.eigenvector_centrality_numpy(
            top, weight='weight').items():
        ref[node] = value
    for method in ('auto', 'arpack'):
        torch.testing.assert_close(
            eigenvector_centrality(edge_index, w, n, method=method), ref,
            rtol=0, atol=1e-9)
    power = eigenvector_centrality(edge_index, w, n, max_iter=10000,
                                   tol=1e-12, method='power')
    torch.testing.assert_close(power, ref, rtol=0, atol=1e-6)


def test_tied_components_follow_the_power_iteration():
    # Two triangles of weight 2 (eigenvalue 4) and a weight-1 edge: the
    # uniform start keeps 1 / sqrt(6) on the triangles, 0 on the edge.
    G = nx.Graph()
    G.add_weighted_edges_from([(0, 1, 2.0), (1, 2, 2.0), (2, 0, 2.0),
                               (3, 4, 2.0), (4, 5, 2.0), (5, 3, 2.0),
                               (6, 7, 1.0)])
    edge_index, w, n, G = from_networkx(G)
    expected = torch.tensor([6**-0.5] * 6 + [0.0, 0.0],
                            dtype=torch.float64)
    torch.testing.assert_close(eigenvector_centrality(edge_index, w, n),
                               expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        as_tensor(nx.eigenvector_centrality(G, tol=1e-12, max_iter=1000,
                                            weight='weight'), n),
        expected, rtol=0, atol=1e-9)
    # Directed: a 3-cycle of weight 2 and 3 <-> 4 with weights 4 and 1 both
    # have eigenvalue 2; the second one's left and right eigenvectors
    # differ, so its share is (y . 1) / (y . x).
    G = nx.DiGraph()
    G.add_weighted_edges_from([(0, 1, 2.0), (1, 2, 2.0), (2, 0, 2.0),
                               (3, 4, 4.0), (4, 3, 1.0)])
    edge_index, w, n, G = from_networkx(G)
    ref = as_tensor(nx.eigenvector_centrality(G, tol=1e-13, max_iter=1000,
                                              weight='weight'), n)
    for method in EIGENVECTOR_METHODS:
        torch.testing.assert_close(
            eigenvector_centrality(edge_index, w, n, max_iter=1000,
                                   tol=1e-13, method=method),
            ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize('seed', [3, 4])
def test_directed_not_strongly_connected(seed):
    # networkx's numpy version refuses these (isolated nodes; seed 4 also
    # has dangling nodes); one strongly connected component holds the
    # largest eigenvalue, so the eigenvector is unique: the power limit.
    edge_index, w, n = random_graph(seed, directed=True)
    G = to_networkx(edge_index, w, n, directed=True)
    with pytest.raises(nx.AmbiguousSolution):
        nx.eigenvector_centrality_numpy(G, weight='weight')
    ours = eigenvector_centrality(edge_index, w, n)
    torch.testing.assert_close(
        eigenvector_centrality(edge_index, w, n, method='arpack'), ours)
    power = as_tensor(nx.eigenvector_centrality(G, max_iter=10000, tol=1e-13,
                                                weight='weight'), n)
    torch.testing.assert_close(ours, power, rtol=0, atol=1e-8)
    big = max(nx.weakly_connected_components(G), key=len)
    assert nx.is_strongly_connected(G.subgraph(big)) == (seed == 3)
    if seed == 3:  # then networkx's numpy version of that part is ours
        ref = torch.zeros(n, dtype=torch.float64)
        for node, value in nx.eigenvector_centrality_numpy(
                G.subgraph(big), weight='weight').items():
            ref[node] = value
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-9)


def test_directed_without_unique_eigenvector():
    # Two 2-cycles of eigenvalue 1 both feeding node 4: the eigenspace is
    # two-dimensional within one weakly connected component. 'arpack'
    # refuses; 'auto' runs networkx's power iteration.
    G = nx.DiGraph()
    G.add_weighted_edges_from([(0, 1, 1.0), (1, 0, 1.0), (2, 3, 1.0),
                               (3, 2, 1.0), (1, 4, 0.5), (3, 4, 2.0)])
    edge_index, w, n, G = from_networkx(G)
    with pytest.raises(ValueError, match="method='arpack'.* not unique"):
        eigenvector_centrality(edge_index, w, n, method='arpack')
    auto = eigenvector_centrality(edge_index, w, n)
    assert torch.equal(auto, eigenvector_centrality(edge_index, w, n,
                                                    method='power'))
    torch.testing.assert_close(
        auto, as_tensor(nx.eigenvector_centrality(G, weight='weight'), n),
        rtol=0, atol=1e-9)


def test_zero_weights_link_nothing():
    edge_index, w, n, G = from_networkx(nx.les_miserables_graph())
    for method in EIGENVECTOR_METHODS:
        torch.testing.assert_close(
            eigenvector_centrality(edge_index, torch.zeros_like(w), n,
                                   method=method),
            torch.full((n, ), n**-0.5, dtype=torch.float64))
    # A zero-weight edge to an extra node is no edge.
    ref = eigenvector_centrality(edge_index, w, n)
    more = torch.cat([edge_index, torch.tensor([[0, n], [n, 0]])], dim=1)
    x = eigenvector_centrality(more, torch.cat([w, w.new_zeros(2)]), n + 1)
    assert torch.equal(x[:n], ref) and x[n] == 0


def test_exact_on_device(device):
    edge_index, w, n, G = from_networkx(nx.les_miserables_graph())
    ref = eigenvector_centrality(edge_index, w, n)
    x = eigenvector_centrality(edge_index.to(device), w.float().to(device),
                               n)
    assert x.device.type == device.type and x.dtype == torch.float32
    torch.testing.assert_close(x.cpu(), ref.float())


def test_power_fails_on_resnet56_where_exact_converges():
    torch.manual_seed(0)
    data = weight_graph(get_model('resnet56'), input_shape=(3, 32, 32))
    w, n = data.edge_weight.double(), data.num_nodes
    with pytest.raises(RuntimeError, match="did not converge in "
                       "max_iter=100 iterations"):
        eigenvector_centrality(data.edge_index, w, n, method='power')
    ours = eigenvector_centrality(data.edge_index, w, n)
    ref = networkx_numpy(data.edge_index, w, n)
    assert float((ours - ref).abs().max()) <= 1e-6


# Every model of the registry #################################################

# Over this many stored entries a networkx Graph takes gigabytes; the
# reference is then networkx's own code on the matrix it would build.
NETWORKX_MAX_ENTRIES = 500_000


def networkx_numpy(edge_index, weight, num_nodes):
    r""":func:`networkx.eigenvector_centrality_numpy` of a connected graph
    stored in both directions with one weight per pair."""
    if edge_index.size(1) <= NETWORKX_MAX_ENTRIES:
        G = to_networkx(edge_index, weight, num_nodes)
        return as_tensor(nx.eigenvector_centrality_numpy(G, weight='weight'),
                         num_nodes)
    import scipy as sp
    from scipy.sparse.csgraph import connected_components
    row, col = edge_index.numpy()
    M = sp.sparse.csr_array((weight.numpy(), (row, col)),
                            shape=(num_nodes, num_nodes))
    assert connected_components(M, directed=False)[0] == 1
    # networkx 3.6, eigenvector_centrality_numpy, after its checks:
    _, eigenvector = sp.sparse.linalg.eigs(M.T, k=1, which="LR", maxiter=50,
                                           tol=0)
    largest = eigenvector.flatten().real
    norm = np.sign(largest.sum()) * sp.linalg.norm(largest)
    return torch.from_numpy(largest / norm)


def test_networkx_numpy_reference_is_networkx():
    torch.manual_seed(0)
    data = weight_graph(get_model('resnet20'), input_shape=(3, 32, 32))
    w, n = data.edge_weight.double(), data.num_nodes
    G = to_networkx(data.edge_index, w, n)
    direct = as_tensor(nx.eigenvector_centrality_numpy(G, weight='weight'),
                       n)
    global NETWORKX_MAX_ENTRIES
    limit, NETWORKX_MAX_ENTRIES = NETWORKX_MAX_ENTRIES, 0
    try:
        replica = networkx_numpy(data.edge_index, w, n)
    finally:
        NETWORKX_MAX_ENTRIES = limit
    torch.testing.assert_close(replica, direct, rtol=0, atol=1e-12)


# The registry's CIFAR-size and small models (ResNet-56 and -110 included);
# all of them, the ImageNet-size ones too (up to 72,000 nodes, ten seconds
# or more each to build), are checked the same way by bench/centrality.py.
# VGG11_1 ... VGG19_6 are VGG11 and VGG19 with convolutions removed.
CHECKED_MODELS = [name for name in list_models() if not (
    name.startswith(('resnet50', 'resnet101', 'resnet152', 'alexnet',
                     'vgg11_', 'vgg19_'))
    or name.endswith('_imagenet') or name == 'vit_tiny')]  # no conv graph


def test_checked_models_cover_the_paper_resnets():
    assert {'resnet56', 'resnet56a', 'resnet110', 'resnet110a', 'vgg19',
            'lenet5'} <= set(CHECKED_MODELS)


@pytest.mark.slow
@pytest.mark.parametrize('name', CHECKED_MODELS)
def test_registry_weight_graphs_match_networkx_numpy(name):
    torch.manual_seed(0)
    model = get_model(name)
    data = weight_graph(model, input_shape=get_input_shape(name))
    del model
    w, n = data.edge_weight.double(), data.num_nodes
    ours = eigenvector_centrality(data.edge_index, w, n)
    ref = networkx_numpy(data.edge_index, w, n)
    assert ours.shape == (n, ) and bool((ours >= 0).all())
    assert float((ours - ref).abs().max()) <= 1e-6


# Bad input ###################################################################


def test_no_convergence():
    edge_index, w, n = random_graph(0)
    with pytest.raises(RuntimeError, match="did not converge in "
                       "max_iter=2 iterations"):
        eigenvector_centrality(edge_index, w, n, max_iter=2, method='power')
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


def test_bad_method():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"'method' must be one of "
                       r"\['auto', 'power', 'arpack'\] \(got 'lanczos'\)"):
        eigenvector_centrality(edge_index, method='lanczos')
    with pytest.raises(ValueError, match=r"'method' .* \(got None\)"):
        eigenvector_centrality(edge_index, method=None)
