import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import DMoNPooling
from torch_geometric.utils import to_dense_adj, to_dense_batch

from pyg_dnnmod import community_modularity, modularity
from pyg_dnnmod.utils._modularity import collapse_regularization


def random_graph(n, p, seed, directed=False, loops=False, negative=False):
    r"""A random weighted graph, undirected ones stored both ways."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(n, n, generator=g) < p
    if not loops:
        keep.fill_diagonal_(False)
    if not directed:
        keep = keep.triu()
    row, col = keep.nonzero().t()
    lo = -1.0 if negative else 0.1
    w = lo + (2.0 - lo) * torch.rand(row.numel(), generator=g,
                                     dtype=torch.float64)
    if not directed:
        off = row != col
        row, col, w = (torch.cat([row, col[off]]), torch.cat([col, row[off]]),
                       torch.cat([w, w[off]]))
    return torch.stack([row, col]), w


def one_hot(labels):
    ids, inverse = torch.unique(labels, return_inverse=True)
    return torch.eye(ids.numel(), dtype=torch.float64)[inverse]


def soft_assignment(n, c, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=g, dtype=dtype).softmax(dim=-1)


def dense_reference(edge_index, s, w, num_nodes, resolution=1.0):
    r"""Tr(S^T B S) / 2m with the dense modularity matrix, for a graph
    without self-loops (where the conventions agree trivially)."""
    a = to_dense_adj(edge_index, edge_attr=w, max_num_nodes=num_nodes)[0]
    d = a.sum(dim=1)
    two_m = d.sum()
    b = a - resolution * torch.outer(d, d) / two_m
    return torch.trace(s.t() @ b @ s) / two_m, b / two_m


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('directed', [False, True])
@pytest.mark.parametrize('loops', [False, True])
@pytest.mark.parametrize('resolution', [1.0, 0.5, 2.0])
def test_one_hot_equals_hard_labels(seed, directed, loops, resolution):
    edge_index, w = random_graph(25, 0.2, seed, directed, loops,
                                 negative=seed == 5)
    g = torch.Generator().manual_seed(100 + seed)
    labels = torch.tensor([3, 8, 42])[torch.randint(0, 3, (25, ),
                                                    generator=g)]
    for weight in (w, None):
        hard = modularity(edge_index, labels, weight, resolution=resolution,
                          directed=directed)
        soft = modularity(edge_index, one_hot(labels), weight,
                          resolution=resolution, directed=directed)
        assert isinstance(hard, float)
        assert isinstance(soft, torch.Tensor) and soft.dim() == 0
        assert soft.dtype == torch.float64
        assert float(soft) == pytest.approx(hard, abs=1e-12)
    ids, hard_terms = community_modularity(edge_index, labels, w,
                                           resolution=resolution,
                                           directed=directed)
    soft_ids, soft_terms = community_modularity(edge_index, one_hot(labels),
                                                w, resolution=resolution,
                                                directed=directed)
    assert soft_ids.tolist() == list(range(ids.numel()))
    assert torch.allclose(soft_terms, hard_terms, atol=1e-12)


def test_one_hot_with_empty_columns_and_float32():
    # A column nobody belongs to adds nothing; float32 input is accumulated
    # in float64.
    edge_index, w = random_graph(20, 0.3, seed=7, loops=True)
    labels = torch.arange(20) % 3
    s = torch.zeros(20, 5)
    s[torch.arange(20), labels * 2] = 1.0
    assert float(modularity(edge_index, s, w.float())) == pytest.approx(
        modularity(edge_index, labels, w.float()), abs=1e-12)


@pytest.mark.parametrize('directed', [False, True])
def test_batch_equals_per_graph(directed, device):
    graphs, expected_soft, expected_hard = [], [], []
    for seed in range(5):
        n = 10 + seed
        edge_index, w = random_graph(n, 0.3, seed, directed,
                                     loops=seed % 2 == 1)
        s = soft_assignment(n, 3, seed)
        labels = (torch.arange(n) * 7 + seed) % 3
        graphs.append(Data(edge_index=edge_index, edge_weight=w, s=s,
                           y=labels, num_nodes=n))
        expected_soft.append(float(modularity(edge_index, s, w,
                                              directed=directed)))
        expected_hard.append(modularity(edge_index, labels, w,
                                        directed=directed))
    # An edgeless graph inside the batch has Q = 0.
    graphs.append(Data(edge_index=torch.empty(2, 0, dtype=torch.long),
                       edge_weight=torch.empty(0, dtype=torch.float64),
                       s=soft_assignment(2, 3, 9), y=torch.tensor([0, 1]),
                       num_nodes=2))
    expected_soft.append(0.0)
    expected_hard.append(0.0)
    batch = Batch.from_data_list(graphs).to(device)
    soft = modularity(batch.edge_index, batch.s, batch.edge_weight,
                      directed=directed, batch=batch.batch)
    assert soft.shape == (6, ) and soft.dtype == torch.float64
    assert soft.cpu().tolist() == pytest.approx(expected_soft, abs=1e-12)
    hard = modularity(batch.edge_index, one_hot(batch.y.cpu()).to(device),
                      batch.edge_weight, directed=directed, batch=batch.batch)
    assert hard.cpu().tolist() == pytest.approx(expected_hard, abs=1e-12)
    ids, terms = community_modularity(batch.edge_index, batch.s,
                                      batch.edge_weight, directed=directed,
                                      batch=batch.batch)
    assert ids.tolist() == [0, 1, 2] and terms.shape == (6, 3)
    assert terms.sum(dim=1).cpu().tolist() == pytest.approx(expected_soft,
                                                            abs=1e-12)


@pytest.mark.parametrize('resolution', [1.0, 0.7])
def test_dense_reference_value_and_gradient(resolution):
    # Independent reference: the dense B; dQ/dS = 2 B S / 2m (B symmetric).
    edge_index, w = random_graph(15, 0.3, seed=3)
    s = soft_assignment(15, 4, seed=3).requires_grad_()
    q = modularity(edge_index, s, w, resolution=resolution)
    q.backward()
    expected, b = dense_reference(edge_index, s.detach(), w, 15, resolution)
    assert q.item() == pytest.approx(float(expected), abs=1e-12)
    assert torch.allclose(s.grad, 2 * b @ s.detach(), atol=1e-12)


def test_matches_pyg_dmon_pooling():
    # PyG's DMoNPooling computes -Tr(S^T B S) / 2m densely (its spectral
    # loss) and DMoN's collapse term (its cluster loss), averaged over a batch.
    torch.manual_seed(0)
    graphs = []
    for seed, n in enumerate([12, 9, 15]):
        edge_index, w = random_graph(n, 0.35, seed)
        graphs.append(Data(edge_index=edge_index, edge_weight=w.float(),
                           x=torch.randn(n, 6), num_nodes=n))
    batch = Batch.from_data_list(graphs)
    x, mask = to_dense_batch(batch.x, batch.batch)
    adj = to_dense_adj(batch.edge_index, batch.batch, batch.edge_weight)
    pool = DMoNPooling(6, k=4).eval()
    s, _, _, spectral, _, cluster = pool(x, adj, mask)
    s = s[mask]  # back to [N, C], nodes in batch order
    q = modularity(batch.edge_index, s, batch.edge_weight, batch=batch.batch)
    assert -q.mean().item() == pytest.approx(spectral.item(), abs=1e-5)
    # Its cluster loss broadcasts [B] against [B, 1] when B > 1, so compare
    # graph by graph.
    collapse = collapse_regularization(s, batch.batch)
    for i, n in enumerate(mask.sum(dim=1).tolist()):
        *_, cluster = pool(x[i:i + 1, :n], adj[i:i + 1, :n, :n])
        assert collapse[i].item() == pytest.approx(cluster.item(), abs=1e-5)


@pytest.mark.parametrize('directed', [False, True])
@pytest.mark.parametrize('loops', [False, True])
def test_gradcheck_soft_and_edge_weight(directed, loops):
    edge_index, w = random_graph(8, 0.4, seed=11, directed=directed,
                                 loops=loops, negative=True)
    w = w.clone().requires_grad_()
    s = soft_assignment(8, 3, seed=11).requires_grad_()

    def q(s, w):
        return modularity(edge_index, s, w, resolution=0.8,
                          directed=directed)

    assert torch.autograd.gradcheck(q, (s, w))
    # Integer labels: differentiable w.r.t. the weights, and a tensor then.
    labels = torch.arange(8) % 3
    out = modularity(edge_index, labels, w, directed=directed)
    assert isinstance(out, torch.Tensor) and out.requires_grad
    assert torch.autograd.gradcheck(
        lambda w: modularity(edge_index, labels, w, directed=directed), (w, ))


def test_gradcheck_batched():
    graphs = []
    for seed, n in enumerate([6, 5, 7]):
        edge_index, w = random_graph(n, 0.5, seed, loops=True)
        graphs.append(Data(edge_index=edge_index, edge_weight=w,
                           num_nodes=n))
    batch = Batch.from_data_list(graphs)
    s = soft_assignment(batch.num_nodes, 3, seed=4).requires_grad_()
    w = batch.edge_weight.clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda s, w: modularity(batch.edge_index, s, w, batch=batch.batch),
        (s, w))
    assert torch.autograd.gradcheck(
        lambda s, w: community_modularity(batch.edge_index, s, w,
                                          batch=batch.batch)[1], (s, w))
    assert torch.autograd.gradcheck(
        lambda s: collapse_regularization(s, batch.batch), (s, ))


def test_zero_weight_graph_has_finite_zero_gradient():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    s = soft_assignment(3, 2, seed=0).requires_grad_()
    q = modularity(edge_index, s, w)
    q.backward()
    assert q.item() == 0.0
    assert s.grad.abs().sum() == 0 and torch.isfinite(w.grad).all()


def test_return_types():
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
    labels = torch.tensor([0, 0, 1, 1])
    w = torch.ones(4, requires_grad=True)
    assert modularity(edge_index, labels) == 0.5
    assert isinstance(modularity(edge_index, labels, w), torch.Tensor)
    with torch.no_grad():
        assert modularity(edge_index, labels, w) == 0.5
        soft = modularity(edge_index, torch.eye(2)[labels])
        assert isinstance(soft, torch.Tensor) and soft.dim() == 0
        assert float(soft) == 0.5


def test_hand_computed_soft_value():
    # Path 0-1-2-3 (2m = 6, d = [1, 2, 2, 1]), node 1 split evenly:
    # column 0: 2 * 0.5 / 6 - (1 + 1)^2 / 36 = 1/18,
    # column 1: (2 * 0.5 + 2 * 1) / 6 - (1 + 2 + 1)^2 / 36 = 1/18.
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    s = torch.tensor([[1., 0.], [.5, .5], [0., 1.], [0., 1.]])
    assert float(modularity(edge_index, s)) == pytest.approx(1 / 9)
    assert community_modularity(edge_index, s)[1].tolist() == \
        pytest.approx([1 / 18, 1 / 18])
    # Uniform rows: S^T A S and S^T d d^T S / 2m cancel, Q = 0 exactly.
    assert float(modularity(edge_index, torch.full((4, 3), 1 / 3))) == \
        pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize('communities,kwargs,error,match', [
    (torch.tensor([0.5, 1.0, 0.0, 1.0]), {}, TypeError,
     r"'communities' must be integer labels when one-dimensional .*float32"),
    (torch.zeros(4, 2, dtype=torch.long), {}, TypeError,
     r"must be a floating soft assignment \(got dtype torch.int64\)"),
    (torch.zeros(4, 2, dtype=torch.bool), {}, TypeError,
     r"floating soft assignment \(got dtype torch.bool\)"),
    (torch.zeros(4, 2, 1), {}, ValueError,
     r"\[num_nodes, num_communities\] \(got shape \[4, 2, 1\]\)"),
    (torch.zeros(4, 0), {}, ValueError,
     r"at least one column \(got shape \[4, 0\]\)"),
    (torch.tensor([[1., 0.], [float('nan'), 1.], [0., 1.], [0., 1.]]), {},
     ValueError, r"'communities' contains NaN"),
    (torch.zeros(3, 2), dict(num_nodes=4), ValueError,
     r"one row per node \(got 3 rows for num_nodes=4\)"),
    (torch.zeros(3, 2), {}, ValueError,
     r"'edge_index' holds node index 3, out of range for 3 nodes"),
])
def test_bad_input(communities, kwargs, error, match):
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
    with pytest.raises(error, match=match):
        modularity(edge_index, communities, **kwargs)


def test_collapse_regularization_bad_input():
    with pytest.raises(ValueError, match=r"'s' must be a floating soft "
                       r"assignment .*\(got \[4\]\)"):
        collapse_regularization(torch.ones(4))
    with pytest.raises(ValueError, match=r"'batch' must have shape "
                       r"\[num_nodes\] = \[4\] \(got \[3\]\)"):
        collapse_regularization(torch.ones(4, 2), torch.zeros(3))
