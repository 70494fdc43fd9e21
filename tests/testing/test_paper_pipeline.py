import numpy as np
import torch

from pyg_dnnmod import modularity
from pyg_dnnmod.utils import knn_graph
from pyg_dnnmod.testing import (
    paper_knn_adjacency,
    paper_modularity,
    paper_similarity,
    paper_similarity_loop,
)


def features(n=60, d=40, num_classes=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % num_classes
    x = (torch.randn(num_classes, d, generator=gen)[y] +
         torch.randn(n, d, generator=gen)).relu()
    return x, y


def test_loop_similarity_is_the_matrix_product_off_the_diagonal():
    x, _ = features()
    x[3] = x[5]  # a duplicate row
    loop = paper_similarity_loop(x.numpy())
    gemm = paper_similarity(x.numpy())
    assert np.all(np.diag(loop) == 0)
    off = ~np.eye(len(x), dtype=bool)
    assert np.abs(loop - gemm)[off].max() < 1e-6
    assert abs(loop[3, 5] - 1.0) < 1e-6


def test_papers_own_pipeline_matches_ours():
    # The paper's code: pairwise cosine loop, heapq.nlargest over range(N)
    # with the zero diagonal as a candidate, dense (A + A^T) / 2, networkx.
    # With strictly positive similarities self is never picked, so the
    # graph is ours.
    x, y = features(n=80, seed=1)
    x = x + 0.1
    adj = paper_knn_adjacency(paper_similarity_loop(x.numpy()), k=3,
                              self_as_zero=True)
    expected = paper_modularity(adj, y.tolist())
    edge_index, edge_weight = knn_graph(x, k=3)
    dense = np.zeros_like(adj)
    dense[edge_index[0].numpy(), edge_index[1].numpy()] = edge_weight.numpy()
    assert np.abs(dense - adj).max() < 1e-6
    assert abs(modularity(edge_index, y, edge_weight) - expected) < 1e-6
