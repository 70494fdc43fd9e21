r"""Node centralities of a weighted graph, by scatter over its edge list.

Vahedian et al. (2021) summarise every weight-graph snapshot by simple node
statistics (weighted degree, eigenvector centrality). These functions compute
them on a PyG edge list with :func:`torch_geometric.utils.scatter` and a
sparse power iteration, no dense matrix and no networkx, and reproduce
networkx's definitions, iterations and stopping rules exactly, so that the
numbers agree with :func:`networkx.eigenvector_centrality` and
:func:`networkx.pagerank` to their tolerance. The eigenvector centrality is
by default solved exactly instead (scipy's ARPACK, as
:func:`networkx.eigenvector_centrality_numpy`), since the power iteration
does not converge on the weight graphs of deep ResNets.

An undirected graph is stored the PyG way: every edge in both directions, a
self-loop once. Each stored entry :obj:`(i, j)` is read as the directed edge
:math:`i \to j`, so a graph stored both ways gives networkx's undirected
results and a graph stored one way gives its :class:`~networkx.DiGraph`
results. Repeated entries add up (networkx's multigraph convention).
"""
from typing import Any, Optional, Tuple

import numpy as np
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


#: The solvers :func:`eigenvector_centrality` knows.
EIGENVECTOR_METHODS = ('auto', 'power', 'arpack')

# Components whose spectral radii agree to this relative tolerance count as
# tied (their eigenvectors share the largest eigenvalue); well above the
# round-off of ARPACK and LAPACK, far below any gap the power iteration
# could resolve.
_TIE_RTOL = 1e-10
# Components up to this size are solved densely by LAPACK: exact, and
# faster than ARPACK there (which needs more than k + 1 nodes anyway).
_DENSE_MAX = 64


def _power_centrality(edge_index: Tensor, weight: Tensor, num_nodes: int,
                      max_iter: int, tol: float) -> Tensor:
    r"""networkx's power iteration on :math:`\mathbf{A} + \mathbf{I}`,
    in float64 on the device of the edges."""
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
            return x
    raise RuntimeError(f"eigenvector_centrality did not converge in "
                       f"max_iter={max_iter} iterations (tol={tol}); raise "
                       f"'max_iter' or 'tol'")


def _perron(matrix: Any, symmetric: bool) -> Tuple[float, np.ndarray]:
    r"""The largest (real) eigenvalue of a non-negative sparse matrix,
    where it is simple, and its eigenvector, signed positive with unit
    Euclidean norm, as :func:`networkx.eigenvector_centrality_numpy` takes
    it."""
    size = matrix.shape[0]
    if size <= _DENSE_MAX:
        dense = matrix.toarray()
        if symmetric:
            values, vectors = np.linalg.eigh(dense)
        else:
            values, vectors = np.linalg.eig(dense)
        i = int(np.argmax(values.real))
    else:
        from scipy.sparse.linalg import ArpackNoConvergence, eigs, eigsh

        # A fixed positive start (the Perron vector is positive on it)
        # makes ARPACK deterministic; tol=0 is machine precision.
        start = np.full(size, size**-0.5)
        try:
            if symmetric:
                values, vectors = eigsh(matrix, k=1, which='LA', v0=start,
                                        tol=0)
            else:
                values, vectors = eigs(matrix, k=1, which='LR', v0=start,
                                       tol=0)
        except ArpackNoConvergence as error:
            raise RuntimeError(f"eigenvector_centrality did not converge: "
                               f"ARPACK found no eigenvector in {size * 10} "
                               f"restarts ({error}); try "
                               f"method='power'") from None
        i = 0
    vector = vectors[:, i].real
    vector = vector / (np.sign(vector.sum()) * np.linalg.norm(vector))
    # Round-off may leave entries of about -1e-17 where the vector is 0.
    return float(values[i].real), np.maximum(vector, 0.0)


def _groups(label: np.ndarray, num_groups: int) -> list:
    r"""The (sorted) members of every group of a labelling."""
    size = np.bincount(label, minlength=num_groups)
    return np.split(np.argsort(label, kind='stable'), np.cumsum(size)[:-1])


def _simple_eigenvalue(matrix: Any) -> bool:
    r"""Whether the largest eigenvalue of a weakly connected non-negative
    matrix is simple: it belongs to one strongly connected component only
    (each such component's eigenvalue is its spectral radius)."""
    from scipy.sparse.csgraph import connected_components

    num_strong, label = connected_components(matrix, directed=True,
                                             connection='strong')
    if num_strong == 1:
        return True
    diagonal = matrix.diagonal()
    radius = []
    for nodes in _groups(label, num_strong):
        radius.append(float(diagonal[nodes[0]]) if nodes.size == 1 else
                      _perron(matrix[nodes][:, nodes].T.tocsr(), False)[0])
    radius = np.asarray(radius)
    return int((radius >= radius.max() * (1 - _TIE_RTOL)).sum()) == 1


def _exact_centrality(edge_index: Tensor, weight: Tensor, num_nodes: int,
                      strict: bool) -> Optional[np.ndarray]:
    r"""The limit of the power iteration, computed per weakly connected
    component with LAPACK or ARPACK; :obj:`None` (or a :class:`ValueError`
    when :obj:`strict`) where a directed component that may hold the
    largest eigenvalue has it more than once."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    row, col = edge_index.cpu().numpy()
    weight = weight.cpu().numpy()
    keep = weight > 0  # a zero weight is no link, also to the iteration
    if not keep.all():
        row, col, weight = row[keep], col[keep], weight[keep]
    matrix = sp.csr_array((weight, (row, col)),
                          shape=(num_nodes, num_nodes))
    matrix.sum_duplicates()
    transpose = matrix.T.tocsr()
    transpose.sum_duplicates()
    symmetric = bool(np.array_equal(matrix.indptr, transpose.indptr)
                     and np.array_equal(matrix.indices, transpose.indices)
                     and np.array_equal(matrix.data, transpose.data))
    num_comps, label = connected_components(matrix, directed=False)
    size = np.bincount(label, minlength=num_comps)
    # rho <= min(largest row sum, largest column sum) bounds a component.
    bound_row = np.zeros(num_comps)
    bound_col = np.zeros(num_comps)
    np.maximum.at(bound_row, label, matrix.sum(axis=1))
    np.maximum.at(bound_col, label, matrix.sum(axis=0))
    bound = np.minimum(bound_row, bound_col)
    members = _groups(label, num_comps)

    # A single node's eigenvalue is its self-loop weight.
    diagonal = matrix.diagonal()
    single = size[label] == 1
    best = float(diagonal[single].max()) if single.any() else -np.inf
    solved = []  # (nodes, rho, left Perron vector, submatrix)
    multi = np.flatnonzero(size > 1)
    for comp in multi[np.argsort(-bound[multi], kind='stable')]:
        if bound[comp] < best * (1 - _TIE_RTOL):
            break  # neither this component nor any later one can tie
        nodes = members[comp]
        sub = matrix if nodes.size == num_nodes else \
            matrix[nodes][:, nodes]
        if not symmetric and not _simple_eigenvalue(sub):
            if strict:
                raise ValueError(
                    "eigenvector_centrality(method='arpack') got a directed "
                    "graph whose largest eigenvalue is shared by two "
                    "strongly connected components of one weakly connected "
                    "component, so its eigenvector is not unique; use "
                    "method='power' for networkx's power iteration")
            return None
        rho, vector = _perron(sub if symmetric else sub.T.tocsr(), symmetric)
        solved.append([nodes, rho, vector, sub])
        best = max(best, rho)

    tied = [entry for entry in solved if entry[1] >= best * (1 - _TIE_RTOL)]
    x = np.zeros(num_nodes)
    # The power iteration from the uniform vector ends in the projection
    # of that vector onto the eigenspace: every tied component keeps its
    # Perron vector x_c, scaled by (y_c . 1) / (y_c . x_c) with the right
    # eigenvector y_c (= x_c when symmetric); a tied single node by 1.
    tied_single = single & (diagonal >= best * (1 - _TIE_RTOL))
    x[tied_single] = 1.0
    for nodes, rho, vector, sub in tied:
        if len(tied) + int(tied_single.sum()) == 1:
            coefficient = 1.0
        elif symmetric:
            coefficient = vector.sum()
        else:
            right = _perron(sub, False)[1]
            coefficient = right.sum() / (right @ vector)
        x[nodes] = coefficient * vector
    return x / np.linalg.norm(x)


def eigenvector_centrality(edge_index: Tensor,
                           edge_weight: Optional[Tensor] = None,
                           num_nodes: Optional[int] = None,
                           max_iter: int = 100, tol: float = 1e-6,
                           method: str = 'auto') -> Tensor:
    r"""Eigenvector centrality: the Perron vector of the weighted adjacency
    matrix, by an exact eigensolver or by networkx's power iteration.

    With :math:`A_{ij} = w_{ij}` for the entry :math:`i \to j`, the
    centrality is the non-negative left eigenvector of the largest
    eigenvalue :math:`\lambda_1`, scaled to unit Euclidean norm,

    .. math::
        \mathbf{A}^{\top} \mathbf{x} = \lambda_1 \mathbf{x}, \qquad
        \mathbf{x} \geq 0, \qquad \| \mathbf{x} \|_2 = 1,

    so :math:`\lambda_1 x_j = \sum_{i \to j} w_{ij} x_i`; a graph stored in
    both directions has a symmetric :math:`\mathbf{A}`.

    :obj:`method='power'` is :func:`networkx.eigenvector_centrality` step
    for step: from :math:`\mathbf{x}_0 = \mathbf{1} / N`, the iteration

    .. math::
        \mathbf{x}_{t+1} = \frac{(\mathbf{A} + \mathbf{I})^{\top}
        \mathbf{x}_t}{\| (\mathbf{A} + \mathbf{I})^{\top} \mathbf{x}_t \|_2}

    (the shift by :math:`\mathbf{I}` lets it converge on bipartite graphs)
    stops once :math:`\| \mathbf{x}_{t+1} - \mathbf{x}_t \|_1 < N \cdot
    \mathrm{tol}` and raises a :class:`RuntimeError` after
    :obj:`max_iter` steps, as networkx does. Its error shrinks like
    :math:`((\lambda_2 + 1) / (\lambda_1 + 1))^t`, so it fails on graphs
    with a small spectral gap, e.g. the weight graph of a CIFAR ResNet-56
    (:math:`\lambda_2 / \lambda_1 \approx 0.97`) within 100 steps.

    :obj:`method='arpack'` solves the eigenproblem to machine precision on
    the CPU (CUDA inputs go there and back) with
    :func:`scipy.sparse.linalg.eigsh` (:obj:`which='LA'`) when
    :math:`\mathbf{A}` is symmetric and :func:`scipy.sparse.linalg.eigs`
    on :math:`\mathbf{A}^{\top}` (:obj:`which='LR'`) otherwise, from a fixed
    start (so runs repeat exactly), and with LAPACK for components of at
    most 64 nodes. On a connected (directed: strongly connected) graph it
    is :func:`networkx.eigenvector_centrality_numpy` (to round-off: within
    :math:`10^{-14}` on the weight graph of every model of
    :mod:`pyg_dnnmod.models`), except that entries round-off leaves at
    about :math:`-10^{-17}` (where the vector is practically 0, e.g. far
    from the centre of a deep ResNet) are set to 0. Should ARPACK not
    converge, a :class:`RuntimeError` is raised, as by the power iteration.
    networkx's numpy version refuses all other
    graphs (:obj:`AmbiguousSolution`); here they get what the power
    iteration converges to, the uniform start projected onto the
    eigenspace of :math:`\lambda_1`:

    .. math::
        \mathbf{x} \propto \sum_{c \,:\, \rho(c) = \lambda_1}
        \frac{\mathbf{y}_c^{\top} \mathbf{1}}{\mathbf{y}_c^{\top}
        \mathbf{x}_c} \, \mathbf{x}_c,

    over the weakly connected components :math:`c` whose spectral radius
    :math:`\rho(c)` is :math:`\lambda_1` (to a relative :math:`10^{-10}`),
    with :math:`\mathbf{x}_c` and :math:`\mathbf{y}_c` the left and right
    Perron vectors of :math:`c` (equal for an undirected graph); every
    other node gets 0. Typically one component holds :math:`\lambda_1`
    and the result is its Perron vector. Zero-weight edges link nothing,
    and a node without links is a component of eigenvalue 0 (or its
    self-loop weight): a graph without edges gets the uniform vector
    :math:`\mathbf{1} / \sqrt{N}`, as from the power iteration. A directed
    component made of several strongly connected components is solved as a
    whole when only one of them has the spectral radius :math:`\rho(c)`
    (its eigenvector is then unique); when two share it, the eigenvector is
    not unique and a :class:`ValueError` is raised. :obj:`max_iter` and
    :obj:`tol` belong to the power iteration and are not used.

    :obj:`method='auto'` is :obj:`'arpack'`, except on such an ambiguous
    directed graph, which it gives to the power iteration.

    Args:
        edge_index (torch.Tensor): The edge indices, shape :obj:`[2, E]`.
        edge_weight (torch.Tensor, optional): Non-negative edge weights,
            shape :obj:`[E]`. (default: :obj:`None`, every weight 1)
        num_nodes (int, optional): The number of nodes.
            (default: :obj:`None`, one more than the largest index)
        max_iter (int, optional): The most power iterations.
            (default: :obj:`100`)
        tol (float, optional): The power iteration's tolerance per node.
            (default: :obj:`1e-6`)
        method (str, optional): :obj:`'auto'`, :obj:`'arpack'` or
            :obj:`'power'`. (default: :obj:`'auto'`)

    Returns:
        torch.Tensor: Shape :obj:`[num_nodes]`, on the device of
        :obj:`edge_index`, in the dtype of :obj:`edge_weight` (the default
        dtype without it); computed in float64.

    Example:
        >>> # the path 0 - 1 - 2, stored in both directions
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> eigenvector_centrality(edge_index)
        tensor([0.5000, 0.7071, 0.5000])
        >>> # 0 -> 1 -> 2 -> 0 and 1 -> 0, stored one way (a DiGraph)
        >>> edge_index = torch.tensor([[0, 1, 2, 1], [1, 2, 0, 0]])
        >>> eigenvector_centrality(edge_index)
        tensor([0.7265, 0.5484, 0.4140])
        >>> eigenvector_centrality(edge_index, method='power')
        tensor([0.7265, 0.5484, 0.4140])
    """
    if method not in EIGENVECTOR_METHODS:
        raise ValueError(f"'method' must be one of "
                         f"{list(EIGENVECTOR_METHODS)} (got {method!r})")
    _check_iteration(max_iter, tol)
    edge_index, weight, num_nodes = _check_edges(edge_index, edge_weight,
                                                 num_nodes)
    _check_nonnegative(weight, 'eigenvector_centrality')
    out_dtype = _out_dtype(edge_weight)
    device = edge_index.device
    if num_nodes == 0:
        return torch.empty(0, dtype=out_dtype, device=device)
    if method != 'power':
        x = _exact_centrality(edge_index, weight, num_nodes,
                              strict=method == 'arpack')
        if x is not None:
            return torch.from_numpy(x).to(device, out_dtype)
    x = _power_centrality(edge_index, weight, num_nodes, max_iter, tol)
    return x.to(out_dtype)


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
