r"""The paper's snapshot pipeline, reproduced as the baseline.

Lu et al.'s code (``utils/calculate_similarity.py`` and
``utils/network_indicators.py`` of ``yaolu-zjut/Dynamic-Graphs-Construction``)
builds the full similarity matrix, takes every row's top-k with
:func:`heapq.nlargest` over :obj:`range(N)`, symmetrises the dense adjacency
as :math:`(\mathbf{A} + \mathbf{A}^{\top}) / 2` and calls
:func:`networkx.community.modularity`. This module does the same with numpy,
with one documented change: a node's own index is excluded from its
candidates instead of having similarity zero (see
:func:`pyg_dnnmod.utils.knn_graph`; :obj:`self_as_zero=True` restores the quirk).

It is deliberately slow and dense: it is the yardstick, not a tool.
"""
import heapq
from typing import Any, Sequence

import numpy as np


def paper_similarity(x: np.ndarray, metric: str = 'cosine',
                     eps: float = 1e-8) -> np.ndarray:
    r"""The dense :math:`N \times N` similarity matrix, diagonal included.

    Example:
        >>> paper_similarity(np.array([[1., 0.], [1., 1.]])).round(4)
        array([[1.    , 0.7071],
               [0.7071, 1.    ]])
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if metric == 'pearson':
        x = x - x.mean(axis=1, keepdims=True)
    if metric in ('cosine', 'pearson'):
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), eps)
        return x @ x.T
    if metric == 'dot':
        return x @ x.T
    if metric == 'euclidean':
        d = np.sqrt(((x[:, None, :] - x[None, :, :])**2).sum(-1))
        return 1.0 / (1.0 + d)
    raise ValueError(f"unknown metric {metric!r}")


def paper_similarity_loop(x: Any) -> np.ndarray:
    r"""The dense similarity matrix computed the way the paper's code does:
    one :func:`torch.cosine_similarity` call per pair :math:`i < j`, each
    value written to both halves of a float64 matrix whose diagonal stays
    zero. :math:`N (N - 1) / 2` calls: minutes at :math:`N = 10^4`. The
    benchmarks time it as the paper's pipeline; :func:`paper_similarity`
    is the same matrix (up to float32 rounding, with ones on the diagonal)
    by one matrix product.

    Example:
        >>> paper_similarity_loop(np.array([[1., 0.], [1., 1.]])).round(4)
        array([[0.    , 0.7071],
               [0.7071, 0.    ]])
    """
    import torch

    feat = torch.as_tensor(np.asarray(x, dtype=np.float32))
    feat = feat.reshape(len(feat), -1)
    n = feat.size(0)
    sim = np.zeros((n, n))
    for i in range(n):
        row_i = feat[i].reshape(1, -1)
        for j in range(i + 1, n):
            value = float(torch.cosine_similarity(row_i,
                                                  feat[j].reshape(1, -1)))
            sim[i, j] = sim[j, i] = value
    return sim


def paper_knn_adjacency(sim: np.ndarray, k: int,
                        self_as_zero: bool = False) -> np.ndarray:
    r"""The paper's :math:`(\mathbf{A} + \mathbf{A}^{\top}) / 2` from a dense
    similarity matrix, one :func:`heapq.nlargest` per row.

    Example:
        >>> sim = np.array([[1., .9, .1], [.9, 1., .2], [.1, .2, 1.]])
        >>> paper_knn_adjacency(sim, k=1)
        array([[0. , 0.9, 0. ],
               [0.9, 0. , 0.1],
               [0. , 0.1, 0. ]])
    """
    n = sim.shape[0]
    adj = np.zeros((n, n))
    for i in range(n):
        row = sim[i].copy()
        if self_as_zero:
            row[i] = 0.0
            candidates = range(n)
        else:
            candidates = [j for j in range(n) if j != i]
        for j in heapq.nlargest(k, candidates, key=row.__getitem__):
            adj[i, j] = row[j]
    return (adj + adj.T) / 2


def paper_modularity(adj: np.ndarray, labels: Sequence[int]) -> float:
    r"""networkx modularity of the class partition of a dense weighted
    adjacency, as ``network_indicators.calculate_modularity`` computes it.

    Example:
        >>> adj = np.array([[0., 1., 0., 0.], [1., 0., 0., 0.],
        ...                 [0., 0., 0., 1.], [0., 0., 1., 0.]])
        >>> paper_modularity(adj, [0, 0, 1, 1])
        0.5
    """
    import networkx as nx

    graph = nx.from_numpy_array(np.asarray(adj))
    labels = np.asarray(labels)
    communities = [set(np.flatnonzero(labels == c).tolist())
                   for c in np.unique(labels)]
    return float(nx.community.modularity(graph, communities))
