r"""The CPU fast path of :func:`~pyg_dnnmod.utils.modularity` for integer
labels, and the reductions its input checks share.

Modularity of one graph is a handful of passes over its edge list. On the
CPU, torch runs every elementwise op of more than about 32,000 elements on
all intra-op threads, and each of them pays a thread wake-up; on a machine
whose other cores are busy that wake-up costs milliseconds, far more than
the sums themselves (one graph of 20,000 nodes took 26-190 ms with two
threads and a busy second core, 2.8 ms with one). The same sums in NumPy
run on one thread, with no per-op dispatch cost, and need no
:func:`torch.unique` over (graph, label) pairs when the labels are small
non-negative integers, as class labels are.

The value is networkx's modularity (see
:func:`~pyg_dnnmod.utils.modularity`) written as

.. math::
    Q = \frac{\sum_{(i, j) \text{ inside}} w_{ij}}{2m} - \gamma
    \sum_c \left( \frac{K_c}{2m} \right)^2

for an undirected graph (self-loops doubled, as there) and
:math:`\sum_{\text{inside}} w_{ij} / m - \gamma \sum_c K^{out}_c
K^{in}_c / m^2` for a directed one, one value per graph of the batch;
every sum is a sequential :func:`numpy.bincount`, so one graph gives the
same bits alone and inside a batch whose edges keep its order.
"""
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

# Labels up to this multiple of the node count index their terms directly;
# sparser labels are first made contiguous by one sort.
_DIRECT_LABELS = 4


def index_range(index: Tensor) -> Tuple[int, int]:
    r"""The smallest and largest entry of a non-empty integer tensor, by
    NumPy on the CPU (one thread) and by torch elsewhere.

    Example:
        >>> index_range(torch.tensor([[3, 0], [7, 2]]))
        (0, 7)
    """
    if index.device.type == 'cpu':
        a = index.numpy()
        return int(a.min()), int(a.max())
    return int(index.min()), int(index.max())


def all_finite(x: Tensor) -> bool:
    r"""Whether every entry of the floating tensor :obj:`x` is finite: one
    sum first (finite unless an entry is not, or the sum overflows), and the
    exact elementwise check only when it is not.

    Example:
        >>> all_finite(torch.tensor([1., 2.]))
        True
        >>> all_finite(torch.tensor([1., float('nan')]))
        False
    """
    x = x.detach()
    if x.device.type == 'cpu':
        a = x.numpy() if x.dtype != torch.bfloat16 else x.float().numpy()
        return bool(np.isfinite(a.sum(dtype=np.float64))) or \
            bool(np.isfinite(a).all())
    return bool(torch.isfinite(x.sum(dtype=torch.float64))) or \
        bool(torch.isfinite(x).all())


def crossing_edge(edge_index: Tensor, batch: Tensor) -> Optional[int]:
    r"""The position of the first edge of :obj:`edge_index` whose two nodes
    lie in different graphs of :obj:`batch`, or :obj:`None`.

    Example:
        >>> batch = torch.tensor([0, 0, 1, 1])
        >>> crossing_edge(torch.tensor([[0, 1, 2], [1, 0, 3]]), batch) is None
        True
        >>> crossing_edge(torch.tensor([[0, 1, 2], [1, 2, 3]]), batch)
        1
    """
    if edge_index.device.type == 'cpu':
        b = batch.numpy()
        split = b[edge_index[0].numpy()] != b[edge_index[1].numpy()]
        return int(split.argmax()) if split.any() else None
    graph = batch[edge_index]
    split = (graph[0] != graph[1]).nonzero().view(-1)
    return int(split[0]) if split.numel() else None


def _term_ids(labels: np.ndarray, batch: Optional[np.ndarray],
              num_graphs: int) -> Tuple[np.ndarray, np.ndarray]:
    r"""Returns ``(term, graph_of_term)``: an id per node for its (graph,
    label) pair and the graph of every id. Terms of pairs that do not occur
    are zero in every sum, so the ids may have gaps."""
    num_nodes = labels.size
    lo, hi = (int(labels.min()), int(labels.max())) if num_nodes else (0, 0)
    if lo >= 0 and hi < _DIRECT_LABELS * num_nodes + 16:
        width = hi + 1
    else:
        _, labels = np.unique(labels, return_inverse=True)
        labels = labels.reshape(-1)
        width = int(labels.max()) + 1 if num_nodes else 1
    if batch is None:
        return labels, np.zeros(width, dtype=np.int64)
    if num_graphs * width <= _DIRECT_LABELS * num_nodes + 16:
        term = batch * width + labels
        return term, np.arange(num_graphs * width) // width
    key, term = np.unique(batch * width + labels, return_inverse=True)
    return term.reshape(-1), key // width


def hard_modularity_cpu(edge_index: Tensor, labels: Tensor,
                        edge_weight: Optional[Tensor],
                        resolution: float, directed: bool,
                        batch: Optional[Tensor],
                        num_graphs: int) -> np.ndarray:
    r"""The modularity of the integer :obj:`labels` of every graph
    :math:`[B]` (float64), for checked CPU input; see the module doc.

    Example:
        >>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
        >>> hard_modularity_cpu(edge_index, torch.tensor([0, 0, 1, 1]), None,
        ...                     1.0, False, None, 1)  # 4/6 - 2 (3/6)^2
        array([0.16666667])
    """
    row, col = edge_index.numpy()
    if edge_weight is None:
        w = np.ones(row.size)
    else:
        w = edge_weight.detach().numpy()
    b = None if batch is None else batch.numpy()
    term, graph_of_term = _term_ids(labels.numpy(), b, num_graphs)
    num_terms = graph_of_term.size
    # Every sum runs over the (graph, label) terms: K_c is the weight of
    # the entries that leave class c, so no per-node degree is needed.
    term_row, term_col = term[row], term[col]
    if directed:
        k_c = np.bincount(term_row, w, num_terms)  # K^out_c
        norm_c = k_c  # m = sum of K^out_c over the graph
        spread_c = k_c * np.bincount(term_col, w, num_terms)
    else:
        loops = row == col
        if loops.any():  # a self-loop adds 2w to its node's degree
            w = np.where(loops, 2.0 * w, w)
        k_c = np.bincount(term_row, w, num_terms)
        norm_c = k_c  # 2m = sum of K_c over the graph
        spread_c = k_c * k_c
    inside = term_row == term_col
    inner_c = np.bincount(term_row[inside], w[inside], num_terms)
    # Per graph: sequential sums over its terms, in label order.
    graph = np.zeros(num_terms, dtype=np.int64) if b is None else \
        graph_of_term
    size = 1 if b is None else num_graphs
    norm, inner, spread = (np.bincount(graph, v, size)
                           for v in (norm_c, inner_c, spread_c))
    safe = np.where(norm == 0, 1.0, norm)
    q = inner / safe - resolution * spread / safe**2
    return np.where(norm == 0, 0.0, q)
