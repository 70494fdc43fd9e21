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
                        edge_weight: Optional[Tensor], num_nodes: int,
                        resolution: float, directed: bool,
                        batch: Optional[Tensor],
                        num_graphs: int) -> np.ndarray:
    r"""The modularity of the integer :obj:`labels` of every graph
    :math:`[B]` (float64), for checked CPU input; see the module doc.

    Example:
        >>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
        >>> hard_modularity_cpu(edge_index, torch.tensor([0, 0, 1, 1]), None,
        ...                     4, 1.0, False, None, 1)  # 4/6 - 2 (3/6)^2
        array([0.16666667])
    """
    row, col = edge_index.numpy()
    if edge_weight is None:
        w = np.ones(row.size)
    else:
        w = edge_weight.detach().numpy().astype(np.float64)
    b = None if batch is None else batch.numpy()
    term, graph_of_term = _term_ids(labels.numpy(), b, num_graphs)
    num_terms = graph_of_term.size
    inside = np.flatnonzero(term[row] == term[col])

    def per_graph(index: Optional[np.ndarray], values: np.ndarray):
        if index is None:  # one graph: a sequential sum, as bincount's
            return np.bincount(np.zeros(values.size, dtype=np.int64),
                               values, 1)
        return np.bincount(index, values, num_graphs)

    edge_graph = None if b is None else b[row[inside]]
    if directed:
        k_out = np.bincount(row, w, num_nodes)
        k_in = np.bincount(col, w, num_nodes)
        m = per_graph(b, k_out)
        inner = per_graph(edge_graph, w[inside])
        k_c = np.bincount(term, k_out, num_terms) * \
            np.bincount(term, k_in, num_terms)
        norm = m
    else:
        loops = np.flatnonzero(row == col)
        if loops.size:  # a self-loop adds 2w to its node's degree
            w = w.copy()
            w[loops] *= 2
        deg = np.bincount(row, w, num_nodes)
        norm = per_graph(b, deg)  # 2m
        inner = per_graph(edge_graph, w[inside])
        k_c = np.bincount(term, deg, num_terms)**2
    spread = per_graph(None if b is None else graph_of_term, k_c)
    safe = np.where(norm == 0, 1.0, norm)
    q = inner / safe - resolution * spread / safe**2
    return np.where(norm == 0, 0.0, q)
