import heapq

import numpy as np
import pytest
import torch

from pyg_dnnmod import modularity
from pyg_dnnmod.testing import (
    paper_knn_adjacency,
    paper_modularity,
    paper_similarity,
)
from pyg_dnnmod.utils import knn_graph


def to_dense(edge_index, edge_weight, n):
    adj = torch.zeros(n, n, dtype=torch.float64)
    adj[edge_index[0].cpu(), edge_index[1].cpu()] = \
        edge_weight.cpu().double()
    return adj.numpy()


def clustered(n, d, num_classes, seed, spread=1.0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(num_classes, d, generator=gen, dtype=dtype) * 3
    y = torch.arange(n) % num_classes
    x = centers[y] + spread * torch.randn(n, d, generator=gen, dtype=dtype)
    return x, y


def test_hand_computed_cosine(device):
    # Two pairs of nearly parallel vectors; cosine(0, 1) = 1 / sqrt(1.01).
    x = torch.tensor([[1., 0.], [1., .1], [0., 1.], [.1, 1.]], device=device)
    edge_index, edge_weight = knn_graph(x, k=1)
    assert edge_index.tolist() == [[0, 1, 2, 3], [1, 0, 3, 2]]
    assert torch.allclose(edge_weight.cpu(),
                          torch.full((4, ), 1 / 1.01**0.5))
    assert edge_weight.dtype == torch.float32


def test_half_symmetrization_one_way_pair(device):
    # 0 and 1 choose each other; 2 chooses 1, 1 does not choose 2.
    x = torch.tensor([[1., 0.], [1., 0.2], [1., 1.]], device=device,
                     dtype=torch.float64)
    s12 = float(torch.nn.functional.cosine_similarity(x[1:2], x[2:3]))
    s01 = float(torch.nn.functional.cosine_similarity(x[0:1], x[1:2]))
    edge_index, edge_weight = knn_graph(x, k=1)
    assert edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert edge_weight.tolist() == pytest.approx([s01, s01, s12 / 2,
                                                  s12 / 2])
    _, w_max = knn_graph(x, k=1, symmetrize='max')
    assert w_max.tolist() == pytest.approx([s01, s01, s12, s12])
    _, w_sum = knn_graph(x, k=1, symmetrize='sum')
    assert w_sum.tolist() == pytest.approx([2 * s01, 2 * s01, s12, s12])


def test_directed_layout_is_source_to_target(device):
    x = torch.tensor([[1., 0.], [1., 0.2], [1., 1.]], device=device)
    edge_index, _ = knn_graph(x, k=1, symmetrize='none')
    # Row 1 = the node, row 0 = the neighbour it chose: 0->1, 1->0, 2->1.
    target, source = edge_index[1].tolist(), edge_index[0].tolist()
    assert sorted(zip(target, source)) == [(0, 1), (1, 0), (2, 1)]
    assert torch.bincount(edge_index[1], minlength=3).tolist() == [1, 1, 1]


def test_ties_go_to_lowest_index(device):
    # Rows 1..5 are identical: every one ties with every other.
    x = torch.tensor([[0., 1.]] + [[1., 0.]] * 5, device=device)
    for block_size in (1, 2, 3, 6):
        edge_index, _ = knn_graph(x, k=2, symmetrize='none',
                                  block_size=block_size)
        nbrs = {}
        for s, t in edge_index.t().tolist():
            nbrs.setdefault(t, []).append(s)
        expected = {i: heapq.nlargest(
            2, [j for j in range(6) if j != i],
            key=lambda j: float(x[i] @ x[j])) for i in range(6)}
        assert {i: sorted(v) for i, v in nbrs.items()} == \
            {i: sorted(v) for i, v in expected.items()}
        assert sorted(nbrs[3]) == [1, 2] and sorted(nbrs[1]) == [2, 3]
        # Node 0 is orthogonal to all: ties at 0, lowest indices 1 and 2.
        assert sorted(nbrs[0]) == [1, 2]


def test_loop_allows_self(device):
    x = torch.tensor([[1., 0.], [0., 1.], [1., 1.]], device=device)
    edge_index, edge_weight = knn_graph(x, k=1, loop=True)
    assert edge_index.tolist() == [[0, 1, 2], [0, 1, 2]]
    assert edge_weight.tolist() == pytest.approx([1.0, 1.0, 1.0])


@pytest.mark.parametrize('metric', ['cosine', 'pearson', 'dot', 'euclidean'])
def test_metrics_match_dense_reference(metric, device):
    x, _ = clustered(40, 6, 3, seed=1)
    sim = paper_similarity(x.numpy(), metric)
    for block_size in (7, None):
        edge_index, edge_weight = knn_graph(x.to(device), k=4, metric=metric,
                                            block_size=block_size)
        assert edge_weight.dtype == torch.float64
        np.testing.assert_allclose(
            to_dense(edge_index, edge_weight, 40),
            paper_knn_adjacency(sim, 4), atol=1e-12)


@pytest.mark.parametrize('n,k', [(30, 1), (60, 3), (150, 5), (200, 10)])
def test_paper_pipeline_agreement(n, k, device):
    x, y = clustered(n, 16, 4, seed=n + k, spread=2.5)
    # Duplicate rows, zero rows and rows of mixed sign (negative cosines).
    x[5] = x[3]
    x[n - 1] = x[3]
    x[7] = 0
    x[11] = -x[12]
    sim = paper_similarity(x.numpy())
    adj = paper_knn_adjacency(sim, k)
    for block_size in (13, None):
        edge_index, edge_weight = knn_graph(x.to(device), k=k,
                                            block_size=block_size)
        np.testing.assert_allclose(to_dense(edge_index, edge_weight, n), adj,
                                   atol=1e-12)
        q = modularity(edge_index, y.to(device), edge_weight)
        assert q == pytest.approx(paper_modularity(adj, y.tolist()),
                                  abs=1e-6)


def test_paper_quirk_agrees_for_relu_features():
    # With non-negative features every node has k others of positive
    # similarity, and the paper's "diagonal = 0" gives the same graph.
    x, y = clustered(80, 10, 4, seed=3)
    x = x.clamp_min(0)
    sim = paper_similarity(x.numpy())
    edge_index, edge_weight = knn_graph(x, k=5)
    np.testing.assert_allclose(to_dense(edge_index, edge_weight, 80),
                               paper_knn_adjacency(sim, 5, self_as_zero=True),
                               atol=1e-12)


def test_float32_close_to_float64_reference():
    x, y = clustered(300, 64, 5, seed=7)
    ei32, ew32 = knn_graph(x.float(), k=5)
    ei64, ew64 = knn_graph(x, k=5)
    assert ei32.tolist() == ei64.tolist()
    assert torch.allclose(ew32.double(), ew64, atol=1e-6)


def test_block_size_and_shape_independence(device):
    x, _ = clustered(97, 8, 3, seed=2, dtype=torch.float32)
    ref = knn_graph(x.to(device), k=3)
    for block_size in (1, 10, 96, 500):
        out = knn_graph(x.to(device), k=3, block_size=block_size)
        assert out[0].tolist() == ref[0].tolist()
        assert torch.equal(out[1], ref[1])
    # [N, C, H, W] input is flattened.
    img = x.view(97, 2, 2, 2)
    assert knn_graph(img.to(device), k=3)[0].tolist() == ref[0].tolist()


def test_devices_agree():
    if not torch.cuda.is_available():
        pytest.skip('no CUDA device')
    x, _ = clustered(500, 32, 5, seed=4)
    x[10] = x[20]
    cpu = knn_graph(x, k=5)
    gpu = knn_graph(x.cuda(), k=5)
    assert cpu[0].tolist() == gpu[0].cpu().tolist()
    assert torch.allclose(cpu[1], gpu[1].cpu(), atol=1e-12)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(x=torch.tensor([[0., float('nan')], [1., 1.], [2., 0.]]), k=1),
     ValueError, r"'x' contains NaN or Inf values .*first row 0"),
    (dict(x=torch.tensor([[0., 1.], [1., float('inf')], [2., 0.]]), k=1),
     ValueError, r"'x' contains NaN or Inf"),
    (dict(x=torch.ones(3, 2), k=3), ValueError, r"got k=3 for N=3"),
    (dict(x=torch.ones(3, 2), k=0), ValueError, r"'k' must be >= 1 \(got 0\)"),
    (dict(x=torch.ones(3, 2), k=1.5), TypeError, r"'k' must be an int"),
    (dict(x=torch.ones(3), k=1), ValueError,
     r"'x' must be at least two-dimensional .*got 1 dimension"),
    (dict(x=[[1., 0.]], k=1), TypeError, r"'x' must be a torch.Tensor"),
    (dict(x=torch.ones(3, 2), k=1, metric='manhattan'), ValueError,
     r"'metric' must be one of .*'manhattan'"),
    (dict(x=torch.ones(3, 2), k=1, symmetrize='min'), ValueError,
     r"'symmetrize' must be one of .*'min'"),
    (dict(x=torch.ones(3, 2), k=1, block_size=0), ValueError,
     r"'block_size' must be a positive int \(got 0\)"),
])
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        knn_graph(**kwargs)


@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
@pytest.mark.parametrize('metric', ['cosine', 'pearson', 'dot'])
@pytest.mark.parametrize('margin', [None, 0])
def test_low_precision_rerank_gives_float32_edges(precision, metric, margin,
                                                  device):
    x, _ = clustered(300, 64, 5, seed=11, spread=2.0, dtype=torch.float32)
    x = x.relu()
    x[5] = x[3]
    x[200] = x[3]
    x[7] = 0
    ref_index, ref_weight = knn_graph(x.to(device), k=5, metric=metric)
    # margin=0 leaves no spare candidates, so most rows take the exact
    # fallback path; the default margin proves most rows exact directly.
    index, weight = knn_graph(x.to(device), k=5, metric=metric,
                              precision=precision, rerank_margin=margin,
                              block_size=64)
    assert index.tolist() == ref_index.tolist()
    # Weights are recomputed per pair, whatever found the neighbours.
    assert torch.equal(weight, ref_weight)


def test_low_precision_rejects_euclidean():
    with pytest.raises(ValueError, match=r"'precision='bf16'' supports"):
        knn_graph(torch.ones(4, 2), k=1, metric='euclidean', precision='bf16')
    with pytest.raises(ValueError, match=r"'precision' must be one of"):
        knn_graph(torch.ones(4, 2), k=1, precision='int8')


@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
@pytest.mark.parametrize('metric', ['cosine', 'pearson', 'dot'])
def test_low_precision_slack_bounds_every_pair(precision, metric, device):
    from pyg_dnnmod.utils._knn import (
        _LOW,
        _UNIT_ROUNDOFF,
        _low_precision_slack,
        _Similarity,
        prepare_features,
    )
    gen = torch.Generator().manual_seed(3)
    # Rows of very different norms, so that 'dot' tests the norm terms.
    x = torch.randn(200, 300, generator=gen) * torch.logspace(
        -1, 1, 200).unsqueeze(1)
    z = prepare_features(x.to(device), metric, 1e-8)
    n = z.size(0)
    sim = _Similarity(z, metric).low_precision(_LOW[precision])
    approx = sim.block(slice(0, n), slice(0, n)).double()
    exact = z.double() @ z.double().t()
    u = _UNIT_ROUNDOFF[precision]
    slack = _low_precision_slack(z, precision).double().unsqueeze(1)
    assert (exact <= approx + approx.abs() * u / (1 - u) + slack).all()
    assert (exact >= approx - approx.abs() * u / (1 + u) - slack).all()
    if metric != 'dot':
        # The measured residuals make it well under the worst case 3u
        # of unit rows (rounding of both inputs and the output).
        assert slack.max() < 0.6 * 3 * u


def test_low_precision_rerank_proves_most_rows():
    from pyg_dnnmod.utils._knn import (
        _rerank,
        _Similarity,
        _upper_triangle_topk,
        prepare_features,
    )
    x, _ = clustered(600, 256, 6, seed=5, spread=2.0, dtype=torch.float32)
    x = x.relu()
    # 50 near-copies of one row: bf16 cannot tell them apart, so their
    # top-k cannot be proven from 35 candidates: they take the float32
    # rows.
    gen = torch.Generator().manual_seed(0)
    x[:50] = x[0] + 1e-4 * torch.rand(50, 256, generator=gen)
    z = prepare_features(x, 'cosine', 1e-8)
    sim = _Similarity(z, 'cosine')
    ref = _upper_triangle_topk(sim, 3, False, 128)
    z64 = z.double()
    exact = z64 @ z64.t()
    exact.fill_diagonal_(-2)
    top4 = exact.topk(4, dim=1).values
    clear = (top4[:, 2] - top4[:, 3]) > 1e-6
    redo = {}
    low = sim.low_precision(torch.bfloat16)
    for margin in (32, 0):
        approx = _upper_triangle_topk(low, 3 + margin, False, 128,
                                      exact_ties=False)
        best, redo[margin] = _rerank(sim, approx, 3, False, 'bf16', 128)
        idx = best.idx.sort(dim=1).values
        # The float32 graph wherever float32 can separate the k-th
        # neighbour from the next; among the near-copies (similarities
        # equal to float32 rounding) neighbours of the same similarity.
        assert torch.equal(idx[clear], ref.idx[clear])
        assert clear[50:].float().mean() > 0.95
        got = exact.gather(1, idx).sort(dim=1).values
        want = exact.gather(1, ref.idx).sort(dim=1).values
        assert (got - want).abs().max() < 1e-6
    # Only the near-copies (and rows whose neighbours they are) need the
    # float32 rows with the default margin; with none, every row does.
    assert 50 <= redo[32] <= 60
    assert redo[0] == 600


@pytest.mark.parametrize('kwargs,match', [
    (dict(x=torch.zeros(0, 4), k=1),
     r"'x' must hold at least one node and one feature \(got shape \(0, 4\)"),
    (dict(x=torch.zeros(5, 0), k=1),
     r"'x' must hold at least one node and one feature \(got shape \(5, 0\)"),
    (dict(x=torch.zeros(5, 0, 3), k=1), r"\(got shape \(5, 0, 3\)\)"),
    (dict(x=torch.ones(3, 2), k=1, eps=0.0),
     r"'eps' must be a finite float > 0 \(got 0.0\)"),
    (dict(x=torch.ones(3, 2), k=1, eps=-1e-8), r"'eps' .*\(got -1e-08\)"),
    (dict(x=torch.ones(3, 2), k=1, eps=float('nan')), r"'eps' .*\(got nan\)"),
    (dict(x=torch.ones(3, 2), k=1, eps=float('inf'), metric='dot'),
     r"'eps' .*\(got inf\)"),
    (dict(x=torch.ones(3, 2), k=1, eps='1e-8'), r"'eps' .*\(got '1e-8'\)"),
])
def test_empty_input_and_bad_eps(kwargs, match):
    with pytest.raises(ValueError, match=match):
        knn_graph(**kwargs)


@pytest.mark.parametrize('precision', ['float32', 'bf16'])
def test_dot_overflow_to_inf_is_an_error(precision):
    # Finite features (row sums too) whose dot products exceed float32.
    x = torch.tensor([[1e20, 1e20], [1e20, 2e20], [-1e20, 1e20]])
    with pytest.raises(ValueError, match=r"the 'dot' similarities of 'x' "
                       r"overflow to Inf or NaN; use metric='cosine'"):
        knn_graph(x, k=1, metric='dot', precision=precision)
    # Cosine of the same rows, and dot of the rows scaled down, are fine.
    edge_index, edge_weight = knn_graph(x, k=1)
    assert bool(torch.isfinite(edge_weight).all())
    _, weight = knn_graph(x * 1e-20, k=1, metric='dot', symmetrize='none')
    # a.b = 3, a.c = 0, b.c = 1: every node's best neighbour.
    assert weight.tolist() == pytest.approx([3.0, 3.0, 1.0], rel=1e-6)


@pytest.mark.parametrize('metric', ['cosine', 'pearson'])
@pytest.mark.parametrize('dim', [300, 70_000])  # narrow, and wider than a chunk
def test_prepared_rows_do_not_depend_on_the_other_rows(metric, dim):
    from pyg_dnnmod.utils import prepare_features, row_norms
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, dim, generator=gen) * torch.logspace(-3, 3, 40)[:,
                                                                        None]
    z = prepare_features(x, metric)
    # A row's result is the same alone, in a shard, or reordered.
    assert torch.equal(prepare_features(x[7:8], metric), z[7:8])
    assert torch.equal(prepare_features(x[5:31], metric), z[5:31])
    perm = torch.randperm(40, generator=gen)
    assert torch.equal(prepare_features(x[perm], metric), z[perm])
    # The float64 reference, rounded once: within one float32 rounding.
    xd = x.double()
    if metric == 'pearson':
        xd = xd - xd.mean(dim=1, keepdim=True)
    ref = xd / xd.norm(dim=1, keepdim=True)
    assert torch.allclose(z.double(), ref, rtol=2**-22, atol=0)
    assert torch.allclose(row_norms(x), x.double().norm(dim=1),
                          rtol=1e-12, atol=0)


def test_prepared_rows_leave_the_input_alone_and_keep_zero_rows():
    from pyg_dnnmod.utils import prepare_features
    x = torch.tensor([[3., 4.], [0., 0.], [1., 1.]], dtype=torch.float64)
    before = x.clone()
    for metric in ('cosine', 'pearson'):
        z = prepare_features(x, metric)
        assert torch.equal(x, before) and z.dtype == torch.float64
        assert torch.equal(z[1], torch.zeros(2, dtype=torch.float64))
    assert torch.equal(prepare_features(x, 'cosine')[0],
                       torch.tensor([0.6, 0.8], dtype=torch.float64))
