import math

import pytest
import torch

from pyg_dnnmod.utils import knn_graph
from pyg_dnnmod.similarity import (
    duplicate_rows,
    gram_matrix,
    gram_similarity,
    knn_graph_from_similarity,
)

torch.set_num_threads(1)


def features(n=120, d=30, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=dtype)
    x[7] = x[3]  # duplicate rows tie exactly
    x[n - 1] = x[3]
    x[5] = 0.0  # a zero row has similarity 0 to everything
    return x


def from_gram(x, k, metric='cosine', symmetrize='half', loop=False):
    sim = gram_similarity(gram_matrix(x), metric, row_sums=x.sum(dim=1),
                          num_features=x.size(1))
    return knn_graph_from_similarity(sim, k, loop=loop, symmetrize=symmetrize,
                                     duplicates=duplicate_rows(x))


@pytest.mark.parametrize('block_size', [None, 1, 7, 50, 500])
def test_gram_matrix_is_x_xt_and_exactly_symmetric(block_size):
    x = features(n=53)
    gram = gram_matrix(x, block_size=block_size)
    assert gram.dtype == torch.float64
    assert torch.allclose(gram, x @ x.t(), rtol=0, atol=1e-12)
    assert torch.equal(gram, gram.t())


def test_gram_matrix_float32_and_shapes():
    x = torch.arange(12.).view(3, 2, 2)  # flattened to [3, 4]
    gram = gram_matrix(x)
    assert gram.dtype == torch.float32
    flat = x.view(3, 4)
    assert gram.tolist() == (flat @ flat.t()).tolist()
    assert gram_matrix(torch.tensor([[1, 2], [3, 4]])).tolist() == \
        [[5.0, 11.0], [11.0, 25.0]]


@pytest.mark.parametrize('metric', ['cosine', 'pearson', 'euclidean', 'dot'])
@pytest.mark.parametrize('symmetrize', ['half', 'max', 'sum', 'none'])
def test_same_edges_as_knn_graph(metric, symmetrize):
    x = features()
    for k in (1, 3, 10):
        expected_index, expected_weight = knn_graph(
            x, k, metric=metric, symmetrize=symmetrize)
        edge_index, edge_weight = from_gram(x, k, metric, symmetrize)
        assert torch.equal(edge_index, expected_index)
        assert edge_weight.dtype == torch.float64
        # Rounding differs (K_ij / (|x_i| |x_j|) against z_i . z_j); the
        # Euclidean similarity of duplicates is 1 / (1 + sqrt(rounding)).
        atol = 1e-6 if metric == 'euclidean' else 1e-12
        assert torch.allclose(edge_weight, expected_weight, rtol=1e-10,
                              atol=atol)


@pytest.mark.parametrize('metric', ['cosine', 'pearson'])
def test_same_edges_with_loops_and_relu_features(metric):
    x = features(n=90, d=12, seed=3).relu()
    for k in (2, 5):
        expected = knn_graph(x, k, metric=metric, loop=True)
        got = from_gram(x, k, metric, loop=True)
        assert torch.equal(got[0], expected[0])
        assert torch.allclose(got[1], expected[1], rtol=1e-10, atol=1e-12)


def test_ties_go_to_the_lowest_index():
    # Nodes 1, 2 and 3 are all at similarity 1 from node 0 (and from each
    # other): node 0's single neighbour must be node 1, node 3's node 0.
    x = torch.tensor([[1., 0.], [2., 0.], [3., 0.], [4., 0.], [0., 1.]],
                     dtype=torch.float64)
    edge_index, _ = from_gram(x, 1, symmetrize='none')
    target_to_source = {int(t): int(s) for s, t in edge_index.t()}
    assert target_to_source == {0: 1, 1: 0, 2: 0, 3: 0, 4: 0}
    assert torch.equal(edge_index, knn_graph(x, 1, symmetrize='none')[0])


def test_hand_computed_graph():
    # cos(0, 1) = 0.995..., cos(2, 3) likewise; 0 and 1 are mutual
    # neighbours, so are 2 and 3: every edge keeps its full weight.
    x = torch.tensor([[1., 0.], [1., .1], [0., 1.], [.1, 1.]])
    edge_index, edge_weight = from_gram(x, 1)
    assert edge_index.tolist() == [[0, 1, 2, 3], [1, 0, 3, 2]]
    expected = 1 / math.sqrt(1.01)
    assert torch.allclose(edge_weight, torch.full((4, ), expected))
    # k = 2: node 0's second neighbour is 3 (cos 0.0995) rather than 2
    # (cos 0); node 3's is 1 (0.2 / 1.01 = 0.198) rather than 0 (0.0995).
    edge_index, edge_weight = from_gram(x, 2, symmetrize='none')
    pairs = sorted((int(t), int(s)) for s, t in edge_index.t())
    assert pairs == [(0, 1), (0, 3), (1, 0), (1, 3), (2, 1), (2, 3),
                     (3, 1), (3, 2)]


def test_gram_similarity_values():
    x = torch.tensor([[3., 4.], [0., 0.], [6., 8.], [1., 3.]],
                     dtype=torch.float64)
    gram = gram_matrix(x)
    cosine = gram_similarity(gram)
    assert cosine[0, 2].item() == pytest.approx(1.0)
    assert cosine[1].tolist() == [0.0] * 4
    assert cosine[0, 3].item() == pytest.approx(15 / (5 * math.sqrt(10)))
    # Pearson of two-feature rows is +-1 (or 0 for a constant row).
    pearson = gram_similarity(gram, 'pearson', x.sum(dim=1), 2)
    assert pearson[0, 3].item() == pytest.approx(1.0)
    assert pearson[1, 0].item() == 0.0
    euclidean = gram_similarity(gram, 'euclidean')
    assert euclidean[0, 2].item() == pytest.approx(1 / 6)
    assert torch.equal(gram_similarity(gram, 'dot'), gram)


def test_duplicate_rows():
    x = torch.tensor([[1., 2.], [0., 1.], [1., 2.], [0., 1.], [5., 5.]])
    assert duplicate_rows(x).tolist() == [0, 1, 0, 1, 4]
    assert duplicate_rows(torch.eye(4)) is None


def test_bad_input():
    x = features(n=10)
    sim = gram_similarity(gram_matrix(x))
    with pytest.raises(ValueError, match=r"'k' must be >= 1 \(got 0\)"):
        knn_graph_from_similarity(sim, 0)
    with pytest.raises(ValueError, match='k=10 for N=10'):
        knn_graph_from_similarity(sim, 10)
    with pytest.raises(TypeError, match="'k' must be an int"):
        knn_graph_from_similarity(sim, 2.0)
    with pytest.raises(ValueError, match="'symmetrize' must be one of"):
        knn_graph_from_similarity(sim, 2, symmetrize='mean')
    with pytest.raises(ValueError, match=r"square matrix \[N, N\] \(got "
                       r"shape \[10, 9\]\)"):
        knn_graph_from_similarity(sim[:, :9], 2)
    bad = sim.clone()
    bad[0, 1] = math.nan
    with pytest.raises(ValueError, match="'sim' contains NaN"):
        knn_graph_from_similarity(bad, 2)
    with pytest.raises(ValueError, match=r"'duplicates' must have shape "
                       r"\[10\]"):
        knn_graph_from_similarity(sim, 2, duplicates=torch.arange(3))
    with pytest.raises(ValueError, match="'metric' must be one of"):
        gram_similarity(sim, 'cos')
    with pytest.raises(ValueError, match="needs 'row_sums' and "
                       "'num_features'"):
        gram_similarity(sim, 'pearson')
    with pytest.raises(TypeError, match="'gram' must be floating point"):
        gram_similarity(torch.eye(3, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN or Inf"):
        gram_matrix(torch.tensor([[1.0, math.inf]]))
    with pytest.raises(ValueError, match="'block_size' must be a positive "
                       r"int \(got 0\)"):
        gram_matrix(x, block_size=0)
