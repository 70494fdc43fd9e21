r"""Node centralities of a weighted graph, by scatter over its edge list.

Vahedian et al. (2021) summarise every weight-graph snapshot by simple node
statistics (weighted degree, eigenvector centrality). These functions compute
them on a PyG edge list with :func:`torch_geometric.utils.scatter` and a
sparse power iteration, no dense matrix and no networkx, and reproduce
networkx's definitions, iterations and stopping rules exactly, so that the
numbers agree with :func:`networkx.eigenvector_centrality` and
:func:`networkx.pagerank` to their tolerance.

An undirected graph is stored the PyG way: every edge in both directions, a
self-loop once. Each stored entry :obj:`(i, j)` is read as the directed edge
:math:`i \to j`, so a graph stored both ways gives networkx's undirected
results and a graph stored one way gives its :class:`~networkx.DiGraph`
results. Repeated entries add up (networkx's multigraph convention).
"""
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.utils import scatter


def _check_edges(edge_index: Tensor, edge_weight: Optional[Tensor],
                 num_nodes: Optional[int]) -> Tuple[Tensor, Tensor, int]:
    r"""Validates the edge list; returns ``(edge_index, weight, num_nodes)``
    with the weights in float64."""
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"'edge_index' must be a torch.Tensor "
                        f"(got {type(edge_index).__name__})")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                         f"(got {list(edge_index.shape)})")
    if edge_index.dtype.is_floating_point or edge_index.is_complex() \
            or edge_index.dtype == torch.bool:
        raise TypeError(f"'edge_index' must hold integers "
                        f"(got dtype {edge_index.dtype})")
    edge_index = edge_index.long()
    if num_nodes is None:
        num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
    elif not isinstance(num_nodes, int) or isinstance(num_nodes, bool) \
            or num_nodes < 0:
        raise ValueError(f"'num_nodes' must be a non-negative integer "
                         f"(got {num_nodes!r})")
    if edge_index.numel() > 0:
        lo, hi = int(edge_index.min()), int(edge_index.max())
        if lo < 0 or hi >= num_nodes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"'edge_index' holds node index {bad}, out of "
                             f"range for num_nodes={num_nodes}")
    if edge_weight is None:
        weight = torch.ones(edge_index.size(1), dtype=torch.float64,
                            device=edge_index.device)
    else:
        if not isinstance(edge_weight, Tensor):
            raise TypeError(f"'edge_weight' must be a torch.Tensor "
                            f"(got {type(edge_weight).__name__})")
        if edge_weight.dim() != 1 or \
                edge_weight.numel() != edge_index.size(1):
            raise ValueError(f"'edge_weight' must have shape [num_edges] = "
                             f"[{edge_index.size(1)}] (got "
                             f"{list(edge_weight.shape)})")
        if not bool(torch.isfinite(edge_weight).all()):
            raise ValueError("'edge_weight' contains NaN or Inf values")
        weight = edge_weight.to(edge_index.device, torch.float64)
    return edge_index, weight, num_nodes


def _check_iteration(max_iter: int, tol: float) -> None:
    if not isinstance(max_iter, int) or isinstance(max_iter, bool) \
            or max_iter < 1:
        raise ValueError(f"'max_iter' must be an integer >= 1 "
                         f"(got {max_iter!r})")
    if not tol > 0:
        raise ValueError(f"'tol' must be > 0 (got {tol!r})")


def _check_nonnegative(weight: Tensor, name: str) -> None:
    if weight.numel() and bool((weight < 0).any()):
        raise ValueError(
            f"'{name}' requires non-negative edge weights (got minimum "
            f"{float(weight.min()):g}); pass 'edge_weight.abs()' to rank "
            f"nodes of a signed graph by weight magnitude")


def _out_dtype(edge_weight: Optional[Tensor]) -> torch.dtype:
    if edge_weight is not None and edge_weight.is_floating_point():
        return edge_weight.dtype
    return torch.get_default_dtype()


def weighted_degree(edge_index: Tensor, edge_weight: Optional[Tensor] = None,
                    num_nodes: Optional[int] = None) -> Tensor:
    r"""The weighted degree (strength) of every node,

    .. math::
        s_i = \sum_{(i, j) \in \mathcal{E}} w_{ij},

    summed over the stored entries leaving node :math:`i`. For an undirected
    graph stored in both directions this is networkx's
    :obj:`G.degree(weight='weight')`, a self-loop (stored once) counting
    twice as there; for a directed graph it is the weighted out-degree.
    Without :obj:`edge_weight` it is the plain degree.

    Args:
        edge_index (torch.Tensor): The edge indices, shape :obj:`[2, E]`.
        edge_weight (torch.Tensor, optional): The edge weights, shape
            :obj:`[E]`. (default: :obj:`None`, every weight 1)
        num_nodes (int, optional): The number of nodes.
            (default: :obj:`None`, one more than the largest index)

    Returns:
        torch.Tensor: Shape :obj:`[num_nodes]`, in the dtype of
        :obj:`edge_weight` (the default dtype without it).

    Example:
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> edge_weight = torch.tensor([2., 2., 0.5, 0.5])
        >>> weighted_degree(edge_index, edge_weight)
        tensor([2.0000, 2.5000, 0.5000])
    """
    edge_index, weight, num_nodes = _check_edges(edge_index, edge_weight,
                                                 num_nodes)
    row, col = edge_index[0], edge_index[1]
    # networkx counts a self-loop twice in an undirected degree.
    weight = torch.where(row == col, 2 * weight, weight)
    deg = scatter(weight, row, 0, num_nodes, reduce='sum')
    return deg.to(_out_dtype(edge_weight))


def eigenvector_centrality(edge_index: Tensor,
                           edge_weight: Optional[Tensor] = None,
                           num_nodes: Optional[int] = None,
                           max_iter: int = 100, tol: float = 1e-6) -> Tensor:
    r"""Eigenvector centrality by networkx's power iteration.

    The centrality is the Perron vector of the weighted adjacency matrix
    :math:`\mathbf{A}` (:math:`A_{ij} = w_{ij}` for the entry
    :math:`i \to j`). Exactly as :func:`networkx.eigenvector_centrality`,
    the iteration starts from :math:`\mathbf{x}_0 = \mathbf{1} / N`, runs on
    the shifted matrix :math:`\mathbf{A} + \mathbf{I}` (same eigenvectors,
    but it also converges on bipartite graphs such as a network's layered
    weight graph) with Euclidean normalisation,

    .. math::
        \mathbf{x}_{t+1} = \frac{(\mathbf{A} + \mathbf{I})^{\top}
        \mathbf{x}_t}{\| (\mathbf{A} + \mathbf{I})^{\top} \mathbf{x}_t \|_2},

    and stops once :math:`\| \mathbf{x}_{t+1} - \mathbf{x}_t \|_1 < N
    \cdot \mathrm{tol}`, returning :math:`\mathbf{x}_{t+1}` (unit Euclidean
    norm). Sums run in float64.

    Args:
        edge_index (torch.Tensor): The edge indices, shape :obj:`[2, E]`.
        edge_weight (torch.Tensor, optional): Non-negative edge weights,
            shape :obj:`[E]`. (default: :obj:`None`, every weight 1)
        num_nodes (int, optional): The number of nodes.
            (default: :obj:`None`, one more than the largest index)
        max_iter (int, optional): The most iterations; like networkx, a
            :class:`RuntimeError` is raised when they do not converge.
            (default: :obj:`100`)
        tol (float, optional): The tolerance per node. (default: :obj:`1e-6`)

    Returns:
        torch.Tensor: Shape :obj:`[num_nodes]`, in the dtype of
        :obj:`edge_weight` (the default dtype without it).

    Example:
        >>> # the path 0 - 1 - 2, stored in both directions
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> eigenvector_centrality(edge_index)
        tensor([0.5000, 0.7071, 0.5000])
    """
    _check_iteration(max_iter, tol)
    edge_index, weight, num_nodes = _check_edges(edge_index, edge_weight,
                                                 num_nodes)
    _check_nonnegative(weight, 'eigenvector_centrality')
    out_dtype = _out_dtype(edge_weight)
    if num_nodes == 0:
        return torch.empty(0, dtype=out_dtype, device=edge_index.device)
    row, col = edge_index[0], edge_index[1]
    x = torch.full((num_nodes, ), 1.0 / num_nodes, dtype=torch.float64,
                   device=edge_index.device)
    for _ in range(max_iter):
        x_last = x
        # networkx: x[nbr] += x_last[n] * w for every edge n -> nbr.
        x = x_last + scatter(x_last[row] * weight, col, 0, num_nodes,
                             reduce='sum')
        norm = float(torch.linalg.vector_norm(x))
        x = x / (norm if norm > 0 else 1.0)
        if float((x - x_last).abs().sum()) < num_nodes * tol:
            return x.to(out_dtype)
    raise RuntimeError(f"eigenvector_centrality did not converge in "
                       f"max_iter={max_iter} iterations (tol={tol}); raise "
                       f"'max_iter' or 'tol'")


def pagerank(edge_index: Tensor, edge_weight: Optional[Tensor] = None,
             num_nodes: Optional[int] = None, alpha: float = 0.85,
             max_iter: int = 100, tol: float = 1e-6,
             personalization: Optional[Tensor] = None,
             dangling: Optional[Tensor] = None) -> Tensor:
    r"""PageRank by networkx's power iteration (:func:`networkx.pagerank`).

    With the row-stochastic transition matrix :math:`P_{ij} = w_{ij} /
    \sum_k w_{ik}`, the personalization vector :math:`\mathbf{p}` (uniform
    by default) and the dangling nodes :math:`\mathcal{D}` (zero total
    out-weight), whose mass is redistributed by :math:`\mathbf{d}`
    (:math:`\mathbf{p}` by default), the iteration from
    :math:`\mathbf{x}_0 = \mathbf{1} / N` is

    .. math::
        \mathbf{x}_{t+1} = \alpha \Big( \mathbf{P}^{\top} \mathbf{x}_t +
        \mathbf{d} \sum_{i \in \mathcal{D}} x_{t,i} \Big) +
        (1 - \alpha) \, \mathbf{p},

    stopped once :math:`\| \mathbf{x}_{t+1} - \mathbf{x}_t \|_1 < N \cdot
    \mathrm{tol}`. Sums run in float64; the result sums to 1.

    Args:
        edge_index (torch.Tensor): The edge indices, shape :obj:`[2, E]`.
        edge_weight (torch.Tensor, optional): Non-negative edge weights,
            shape :obj:`[E]`. (default: :obj:`None`, every weight 1)
        num_nodes (int, optional): The number of nodes.
            (default: :obj:`None`, one more than the largest index)
        alpha (float, optional): The damping factor, in :math:`[0, 1]`.
            (default: :obj:`0.85`)
        max_iter (int, optional): The most iterations; like networkx, a
            :class:`RuntimeError` is raised when they do not converge.
            (default: :obj:`100`)
        tol (float, optional): The tolerance per node. (default: :obj:`1e-6`)
        personalization (torch.Tensor, optional): Non-negative restart
            weights, shape :obj:`[num_nodes]`, normalised to sum 1.
            (default: :obj:`None`, uniform)
        dangling (torch.Tensor, optional): Non-negative weights, shape
            :obj:`[num_nodes]`, by which the mass of dangling nodes is
            spread, normalised to sum 1.
            (default: :obj:`None`, :obj:`personalization`)

    Returns:
        torch.Tensor: Shape :obj:`[num_nodes]`, in the dtype of
        :obj:`edge_weight` (the default dtype without it).

    Example:
        >>> # the star 0 - {1, 2}, stored in both directions
        >>> edge_index = torch.tensor([[0, 0, 1, 2], [1, 2, 0, 0]])
        >>> pagerank(edge_index).sum()
        tensor(1.)
        >>> pagerank(edge_index)
        tensor([0.4865, 0.2568, 0.2568])
    """
    _check_iteration(max_iter, tol)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"'alpha' must be in [0, 1] (got {alpha!r})")
    edge_index, weight, num_nodes = _check_edges(edge_index, edge_weight,
                                                 num_nodes)
    _check_nonnegative(weight, 'pagerank')
    out_dtype = _out_dtype(edge_weight)
    device = edge_index.device
    if num_nodes == 0:
        return torch.empty(0, dtype=out_dtype, device=device)

    def distribution(vec: Optional[Tensor], name: str,
                     default: Tensor) -> Tensor:
        if vec is None:
            return default
        vec = torch.as_tensor(vec).to(device, torch.float64)
        if vec.shape != (num_nodes, ):
            raise ValueError(f"'{name}' must have shape [num_nodes] = "
                             f"[{num_nodes}] (got {list(vec.shape)})")
        if not bool(torch.isfinite(vec).all()) or bool((vec < 0).any()) \
                or float(vec.sum()) <= 0:
            raise ValueError(f"'{name}' must be finite and non-negative "
                             f"with a positive sum")
        return vec / vec.sum()

    uniform = torch.full((num_nodes, ), 1.0 / num_nodes, dtype=torch.float64,
                         device=device)
    p = distribution(personalization, 'personalization', uniform)
    d = distribution(dangling, 'dangling', p)

    row, col = edge_index[0], edge_index[1]
    out_weight = scatter(weight, row, 0, num_nodes, reduce='sum')
    is_dangling = out_weight == 0
    safe = torch.where(is_dangling, torch.ones_like(out_weight), out_weight)
    prob = weight / safe[row]

    x = uniform
    for _ in range(max_iter):
        x_last = x
        x = alpha * (scatter(x_last[row] * prob, col, 0, num_nodes,
                             reduce='sum') + x_last[is_dangling].sum() * d) \
            + (1 - alpha) * p
        if float((x - x_last).abs().sum()) < num_nodes * tol:
            return x.to(out_dtype)
    raise RuntimeError(f"pagerank did not converge in max_iter={max_iter} "
                       f"iterations (tol={tol}); raise 'max_iter' or 'tol'")
