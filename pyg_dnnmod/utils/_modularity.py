r"""Newman modularity of a node partition, by scatter over the edge list.

This is where a snapshot's modularity is computed: one pass over the edges,
no dense matrix, no networkx, for one graph or a whole PyG batch at once.
The partition is hard (integer labels) or soft (a GNN's cluster
probabilities), and the value is differentiable, so it also serves as a
loss inside GNN pipelines (DMoN-style clustering).
"""
import math
from typing import Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.utils import scatter

from pyg_dnnmod.utils._modularity_cpu import (
    all_finite,
    crossing_edge,
    hard_modularity_cpu,
    index_range,
)


def _check_batch(batch: Tensor, num_nodes: int) -> None:
    if not isinstance(batch, Tensor):
        raise TypeError(f"'batch' must be a torch.Tensor "
                        f"(got {type(batch).__name__})")
    if batch.dim() != 1 or batch.numel() != num_nodes:
        raise ValueError(f"'batch' must have shape [num_nodes] = "
                         f"[{num_nodes}] (got {list(batch.shape)})")
    if batch.dtype.is_floating_point or batch.dtype == torch.bool or \
            batch.is_complex():
        raise TypeError(f"'batch' must hold integer graph ids "
                        f"(got dtype {batch.dtype})")
    if batch.numel() > 0 and index_range(batch)[0] < 0:
        raise ValueError(f"'batch' must hold graph ids >= 0 "
                         f"(got {index_range(batch)[0]})")


def _check_graph(edge_index: Tensor, communities: Tensor,
                 edge_weight: Optional[Tensor], num_nodes: Optional[int],
                 batch: Optional[Tensor]) -> Tuple[Tensor, Tensor, int, bool]:
    r"""Checks the input; returns ``(edge_index, communities, num_nodes,
    soft)`` with integer labels as :obj:`long` and a soft assignment as it
    is (so that gradients reach it)."""
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"'edge_index' must be a torch.Tensor "
                        f"(got {type(edge_index).__name__})")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                         f"(got {list(edge_index.shape)})")
    if edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        raise TypeError(f"'edge_index' must hold integers "
                        f"(got dtype {edge_index.dtype})")
    if not isinstance(communities, Tensor):
        communities = torch.as_tensor(communities)
    soft = communities.dim() == 2
    if communities.dim() not in (1, 2):
        raise ValueError(f"'communities' must be integer labels [num_nodes] "
                         f"or a soft assignment [num_nodes, "
                         f"num_communities] (got shape "
                         f"{list(communities.shape)})")
    if communities.is_complex():
        raise TypeError(f"'communities' must be real (got dtype "
                        f"{communities.dtype})")
    if soft:
        if not communities.dtype.is_floating_point:
            raise TypeError(f"'communities' of shape [num_nodes, "
                            f"num_communities] must be a floating soft "
                            f"assignment (got dtype {communities.dtype}); "
                            f"pass integer labels as a one-dimensional "
                            f"tensor")
        if communities.size(1) == 0:
            raise ValueError(f"'communities' must have at least one column "
                             f"(got shape {list(communities.shape)})")
        if not all_finite(communities):
            raise ValueError("'communities' contains NaN or Inf values")
    elif communities.dtype.is_floating_point or \
            communities.dtype == torch.bool:
        raise TypeError(f"'communities' must be integer labels when "
                        f"one-dimensional (got dtype {communities.dtype}); "
                        f"a soft assignment is a floating [num_nodes, "
                        f"num_communities] tensor")
    length = communities.size(0)
    if num_nodes is None:
        num_nodes = length
    elif length != num_nodes:
        what = 'row' if soft else 'label'
        raise ValueError(f"'communities' must hold one {what} per node "
                         f"(got {length} {what}s for "
                         f"num_nodes={num_nodes})")
    if edge_index.numel() > 0:
        lo, hi = index_range(edge_index)
        if lo < 0 or hi >= num_nodes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"'edge_index' holds node index {bad}, out of "
                             f"range for {num_nodes} nodes")
    if edge_weight is not None:
        if edge_weight.dim() != 1 or edge_weight.numel() != edge_index.size(1):
            raise ValueError(f"'edge_weight' must have shape [num_edges] = "
                             f"[{edge_index.size(1)}] (got "
                             f"{list(edge_weight.shape)})")
        if edge_weight.dtype.is_floating_point and not all_finite(
                edge_weight):
            raise ValueError("'edge_weight' contains NaN or Inf values")
    if batch is not None:
        _check_batch(batch, num_nodes)
        batch = batch.to(edge_index.device).long()
        split = crossing_edge(edge_index.long(), batch)
        if split is not None:
            u, v = edge_index[:, split].tolist()
            a, b = int(batch[u]), int(batch[v])
            raise ValueError(f"'edge_index' links node {u} of graph {a} to "
                             f"node {v} of graph {b} of 'batch'; edges must "
                             f"stay within one graph")
    communities = communities.to(edge_index.device)
    if not soft:
        communities = communities.long()
    return edge_index.long(), communities, num_nodes, soft


def _weights_and_batch(edge_index: Tensor, edge_weight: Optional[Tensor],
                       num_nodes: int, batch: Optional[Tensor]
                       ) -> Tuple[Tensor, Tensor, int]:
    device = edge_index.device
    if edge_weight is None:
        w = torch.ones(edge_index.size(1), dtype=torch.float64,
                       device=device)
    else:
        # float64 accumulation: the sums run over every edge of the graph.
        w = edge_weight.to(device, torch.float64)
    if batch is None:
        batch = torch.zeros(num_nodes, dtype=torch.long, device=device)
        num_graphs = 1
    else:
        batch = batch.to(device).long()
        num_graphs = index_range(batch)[1] + 1 if batch.numel() > 0 else 0
    return w, batch, num_graphs


def _soft_terms(
    edge_index: Tensor,
    s: Tensor,
    w: Tensor,
    num_nodes: int,
    resolution: float,
    directed: bool,
    batch: Tensor,
    num_graphs: int,
) -> Tensor:
    r"""The terms :math:`Q_c` of a soft assignment :math:`S`, one row per
    graph :math:`[B, C]`, from the edge list alone."""
    s = s.to(torch.float64)
    row, col = edge_index[0], edge_index[1]
    # Per stored entry (i, j): w_ij * S_ic * S_jc, the entries of S^T A S on
    # its diagonal; one-hot rows reduce this to the hard "inside" mask.
    inner = s[row] * s[col]
    if directed:
        k_out = scatter(w, row, 0, num_nodes, reduce='sum')
        k_in = scatter(w, col, 0, num_nodes, reduce='sum')
        m = scatter(k_out, batch, 0, num_graphs, reduce='sum')
        l_c = scatter(w.unsqueeze(-1) * inner, batch[row], 0, num_graphs,
                      reduce='sum')
        kout_c = scatter(k_out.unsqueeze(-1) * s, batch, 0, num_graphs,
                         reduce='sum')
        kin_c = scatter(k_in.unsqueeze(-1) * s, batch, 0, num_graphs,
                        reduce='sum')
        safe = torch.where(m == 0, torch.ones_like(m), m).unsqueeze(-1)
        terms = l_c / safe - resolution * kout_c * kin_c / safe**2
    else:
        # The same self-loop convention as the hard case (see there).
        w = torch.where(row == col, 2 * w, w)
        deg = scatter(w, row, 0, num_nodes, reduce='sum')
        m = scatter(deg, batch, 0, num_graphs, reduce='sum')  # this is 2m
        two_l_c = scatter(w.unsqueeze(-1) * inner, batch[row], 0, num_graphs,
                          reduce='sum')
        k_c = scatter(deg.unsqueeze(-1) * s, batch, 0, num_graphs,
                      reduce='sum')
        safe = torch.where(m == 0, torch.ones_like(m), m).unsqueeze(-1)
        terms = two_l_c / safe - resolution * (k_c / safe)**2
    # Zero total weight: Q = 0, and the "safe" division keeps gradients
    # finite there.
    return torch.where(m.unsqueeze(-1) == 0, torch.zeros_like(terms), terms)


def _hard_terms(
    edge_index: Tensor,
    communities: Tensor,
    w: Tensor,
    num_nodes: int,
    resolution: float,
    directed: bool,
    batch: Tensor,
    num_graphs: int,
) -> Tuple[Tensor, Tensor, Tensor]:
    r"""Returns ``(terms, community_id, graph_of_term)``: one modularity term
    per (graph, community) pair present."""
    row, col = edge_index[0], edge_index[1]
    # Contiguous ids for the (graph, community) pairs; labels need not be
    # contiguous and may repeat across graphs.
    pair = torch.stack([batch, communities], dim=1)
    uniq, cid = torch.unique(pair, dim=0, return_inverse=True)
    num_terms = uniq.size(0)

    if directed:
        # networkx: m = sum of weights, Q_c = L_c / m - gamma K^out K^in / m^2,
        # every directed edge (and self-loop) counted once.
        k_out = scatter(w, row, 0, num_nodes, reduce='sum')
        k_in = scatter(w, col, 0, num_nodes, reduce='sum')
        m = scatter(k_out, batch, 0, num_graphs, reduce='sum')
        inside = cid[row] == cid[col]
        l_c = scatter(w[inside], cid[row[inside]], 0, num_terms, reduce='sum')
        kout_c = scatter(k_out, cid, 0, num_terms, reduce='sum')
        kin_c = scatter(k_in, cid, 0, num_terms, reduce='sum')
        m_c = m[uniq[:, 0]]
        safe = torch.where(m_c == 0, torch.ones_like(m_c), m_c)
        terms = l_c / safe - resolution * kout_c * kin_c / safe**2
    else:
        # Stored PyG-style: u != v in both directions, a self-loop once. A
        # self-loop adds 2w to its node's degree (as in networkx), so doubling
        # self-loops makes every sum below a sum over stored entries.
        w = torch.where(row == col, 2 * w, w)
        deg = scatter(w, row, 0, num_nodes, reduce='sum')
        two_m = scatter(deg, batch, 0, num_graphs, reduce='sum')
        inside = cid[row] == cid[col]
        two_l_c = scatter(w[inside], cid[row[inside]], 0, num_terms,
                          reduce='sum')
        k_c = scatter(deg, cid, 0, num_terms, reduce='sum')
        two_m_c = two_m[uniq[:, 0]]
        safe = torch.where(two_m_c == 0, torch.ones_like(two_m_c), two_m_c)
        terms = two_l_c / safe - resolution * (k_c / safe)**2
        m_c = two_m_c
    # A graph without edge weight has no modularity to speak of: Q = 0.
    terms = torch.where(m_c == 0, torch.zeros_like(terms), terms)
    return terms, uniq[:, 1], uniq[:, 0]


def _check_resolution(resolution: float) -> None:
    try:
        finite = math.isfinite(resolution)
    except (TypeError, RuntimeError):
        raise TypeError(f"'resolution' must be a real number (got "
                        f"{type(resolution).__name__})") from None
    if not finite:
        raise ValueError(f"'resolution' must be finite (got {resolution})")


def _cpu_labels(edge_index: Tensor, communities: Tensor,
                edge_weight: Optional[Tensor],
                batch: Optional[Tensor]) -> bool:
    r"""Whether :func:`modularity` takes the CPU fast path: integer labels
    and every tensor on the CPU, with no gradient to track."""
    tensors = (edge_index, communities, edge_weight, batch)
    return (isinstance(edge_index, Tensor) and
            isinstance(communities, Tensor) and communities.dim() == 1 and
            not _tracks_grad(edge_weight) and
            all(t is None or (isinstance(t, Tensor) and
                              t.device.type == 'cpu') for t in tensors))


def _community_terms(
    edge_index: Tensor,
    communities: Tensor,
    edge_weight: Optional[Tensor],
    num_nodes: Optional[int],
    resolution: float,
    directed: bool,
    batch: Optional[Tensor],
) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor], int]:
    r"""Returns ``(terms, community_id, graph_of_term, num_graphs)``: for a
    soft assignment a dense :math:`[B, C]` table and two :obj:`None`; for
    labels one term per (graph, community) pair present."""
    _check_resolution(resolution)
    edge_index, communities, num_nodes, soft = _check_graph(
        edge_index, communities, edge_weight, num_nodes, batch)
    w, batch, num_graphs = _weights_and_batch(edge_index, edge_weight,
                                              num_nodes, batch)
    if soft:
        terms = _soft_terms(edge_index, communities, w, num_nodes,
                            resolution, directed, batch, num_graphs)
        return terms, None, None, num_graphs
    terms, comm, graph = _hard_terms(edge_index, communities, w, num_nodes,
                                     resolution, directed, batch, num_graphs)
    return terms, comm, graph, num_graphs


def _tracks_grad(*tensors: Optional[Tensor]) -> bool:
    return torch.is_grad_enabled() and any(
        t is not None and isinstance(t, Tensor) and t.requires_grad
        for t in tensors)


def modularity(
    edge_index: Tensor,
    communities: Tensor,
    edge_weight: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    resolution: float = 1.0,
    directed: bool = False,
    batch: Optional[Tensor] = None,
) -> Union[float, Tensor]:
    r"""The modularity of the partition :obj:`communities` of a weighted
    graph, as defined by :func:`networkx.community.modularity`

    .. math::
        Q = \sum_{c} \left[ \frac{L_c}{m} - \gamma
        \left( \frac{K_c}{2m} \right)^2 \right],

    where :math:`m` is the total edge weight, :math:`L_c` the weight of the
    edges inside community :math:`c`, :math:`K_c` the summed (weighted)
    degree of its nodes and :math:`\gamma` the :obj:`resolution`. The code
    computes the equivalent per-entry form
    :math:`\sum_c [2L_c / 2m - \gamma (K_c / 2m)^2]` with one scatter over
    the stored entries.

    An undirected graph is stored the PyG way: every edge :math:`u \neq v` in
    both directions and a self-loop once; as in networkx a self-loop adds
    twice its weight to its node's degree and once to :math:`L_c`.
    A directed graph (:obj:`directed=True`, :obj:`edge_index[0]` the source)
    uses :math:`Q = \sum_c [L_c / m - \gamma K^{out}_c K^{in}_c / m^2]`.
    Negative weights are kept as they are (the paper's code keeps negative
    similarities). A graph whose total weight is zero, e.g. one without
    edges, has :math:`Q = 0`.

    :obj:`communities` may also be a soft assignment: a floating
    :math:`[N, C]` matrix :math:`\mathbf{S}` (rows are usually
    probabilities, e.g. a softmax, but any real values are taken as they
    are), as in `"Graph Clustering with Graph Neural Networks"
    <https://arxiv.org/abs/2006.16904>`_ (DMoN). Then

    .. math::
        Q = \frac{\mathrm{Tr}(\mathbf{S}^{\top} \mathbf{B} \mathbf{S})}{2m}
        = \frac{\mathrm{Tr}(\mathbf{S}^{\top} \mathbf{A} \mathbf{S})}{2m}
        - \gamma \frac{\| \mathbf{S}^{\top} \mathbf{d} \|_2^2}{(2m)^2},

    with :math:`\mathbf{B} = \mathbf{A} - \gamma \mathbf{d}\mathbf{d}^{\top}
    / 2m`, computed from the edge list (:math:`O(E C)`, never the dense
    :math:`\mathbf{B}`) with the self-loop and directed conventions above
    (directed: :math:`\mathrm{Tr}(\mathbf{S}^{\top} \mathbf{A}
    \mathbf{S}) / m - \gamma (\mathbf{S}^{\top} \mathbf{d}^{out})^{\top}
    (\mathbf{S}^{\top} \mathbf{d}^{in}) / m^2`), so a one-hot
    :math:`\mathbf{S}` gives the same value as its integer labels. The result
    is differentiable with respect to :math:`\mathbf{S}` and to
    :obj:`edge_weight` (for integer labels too), so :math:`-Q` can serve as
    a loss.

    Args:
        edge_index (torch.Tensor): The edges :math:`[2, E]`.
        communities (torch.Tensor): One integer label per node :math:`[N]`,
            not necessarily contiguous, or a floating soft assignment
            :math:`[N, C]`. A floating one-dimensional tensor is rejected.
        edge_weight (torch.Tensor, optional): Edge weights :math:`[E]`; all
            ones if :obj:`None`. (default: :obj:`None`)
        num_nodes (int, optional): The number of nodes; by default the length
            of :obj:`communities`. (default: :obj:`None`)
        resolution (float, optional): The resolution :math:`\gamma`.
            (default: :obj:`1.0`)
        directed (bool, optional): Whether :obj:`edge_index` holds directed
            edges. (default: :obj:`False`)
        batch (torch.Tensor, optional): The graph of every node :math:`[N]`
            (a PyG :class:`~torch_geometric.data.Batch`'s :obj:`batch`);
            communities are then taken within each graph.
            (default: :obj:`None`)

    Returns:
        With :obj:`batch`: a float64 tensor :math:`[B]`, one value per graph.
        Without: a 0-dim float64 tensor for a soft assignment, or when
        :obj:`edge_weight` requires grad (and grad mode is on); otherwise a
        Python :obj:`float`.

    Example:
        >>> # Two triangles joined by one edge (networkx's barbell_graph(3, 0)).
        >>> edge_index = torch.tensor([[0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5],
        ...                            [1, 2, 0, 2, 0, 1, 3, 2, 4, 5, 3, 5, 3, 4]])
        >>> communities = torch.tensor([0, 0, 0, 1, 1, 1])
        >>> round(modularity(edge_index, communities), 6)  # 70 / 196
        0.357143
        >>> # The same partition, soft: one-hot rows give the same value.
        >>> s = torch.eye(2)[communities].requires_grad_()
        >>> q = modularity(edge_index, s)
        >>> round(q.item(), 6)
        0.357143
        >>> q.backward()  # dQ/dS, e.g. for a DMoN-style loss
        >>> s.grad.shape
        torch.Size([6, 2])
    """
    if _cpu_labels(edge_index, communities, edge_weight, batch):
        _check_resolution(resolution)
        edge_index, communities, _, _ = _check_graph(
            edge_index, communities, edge_weight, num_nodes, batch)
        num_graphs = 1
        if batch is not None:
            batch = batch.long()
            num_graphs = index_range(batch)[1] + 1 if batch.numel() else 0
        q = hard_modularity_cpu(edge_index, communities, edge_weight,
                                resolution, directed, batch, num_graphs)
        return torch.from_numpy(q) if batch is not None else float(q[0])
    terms, _, graph, num_graphs = _community_terms(
        edge_index, communities, edge_weight, num_nodes, resolution,
        directed, batch)
    soft = graph is None
    if soft:
        out = terms.sum(dim=-1)
    else:
        out = scatter(terms, graph, 0, num_graphs, reduce='sum')
    if batch is not None:
        return out
    if soft or _tracks_grad(edge_weight):
        return out[0]
    return float(out[0])


def community_modularity(
    edge_index: Tensor,
    communities: Tensor,
    edge_weight: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    resolution: float = 1.0,
    directed: bool = False,
    batch: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    r"""The per-community terms of :func:`modularity`,
    :math:`Q_c = L_c / m - \gamma (K_c / 2m)^2`, whose sum is :math:`Q`; a
    large :math:`Q_c` marks a class that its neighbours keep to themselves.
    For a soft assignment :math:`\mathbf{S}` the term of column :math:`c` is
    :math:`(\mathbf{S}^{\top} \mathbf{A} \mathbf{S})_{cc} / 2m - \gamma
    (\mathbf{S}^{\top} \mathbf{d})_c^2 / (2m)^2`.

    Arguments as in :func:`modularity`; the terms are differentiable in the
    same way.

    Returns:
        (torch.Tensor, torch.Tensor): the sorted community ids :math:`[C]`
        (the column indices :math:`0, \ldots, C - 1` for a soft assignment)
        and their terms, :math:`[C]` for one graph or :math:`[B, C]` with a
        :obj:`batch` (zero where a graph lacks a community), in float64.

    Example:
        >>> # The path 0 - 1 - 2 - 3 cut in the middle.
        >>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
        >>> labels = torch.tensor([7, 7, 3, 3])
        >>> ids, terms = community_modularity(edge_index, labels)
        >>> ids
        tensor([3, 7])
        >>> terms  # 2/6 - (3/6)^2 each
        tensor([0.0833, 0.0833], dtype=torch.float64)
        >>> float(terms.sum()) == modularity(edge_index, labels)
        True
        >>> # Soft: node 1 split evenly between the two halves.
        >>> s = torch.tensor([[1., 0.], [.5, .5], [0., 1.], [0., 1.]])
        >>> community_modularity(edge_index, s)[1]  # 1/6 - (2/6)^2, 3/6 - (4/6)^2
        tensor([0.0556, 0.0556], dtype=torch.float64)
    """
    terms, comm, graph, num_graphs = _community_terms(
        edge_index, communities, edge_weight, num_nodes, resolution,
        directed, batch)
    if graph is None:
        ids = torch.arange(terms.size(1), device=terms.device)
        out = terms
    else:
        ids, col = torch.unique(comm, return_inverse=True)
        # index_put (not in-place) keeps the table differentiable.
        out = terms.new_zeros(num_graphs, ids.numel()).index_put(
            (graph, col), terms)
    return ids, out[0] if batch is None else out


def collapse_regularization(s: Tensor,
                            batch: Optional[Tensor] = None) -> Tensor:
    r"""The collapse regulariser of DMoN, from `"Graph Clustering with Graph
    Neural Networks" <https://arxiv.org/abs/2006.16904>`_,

    .. math::
        \frac{\sqrt{C}}{N} \left\| \sum_i \mathbf{S}_{i,:} \right\|_2 - 1,

    which is :math:`0` when the :math:`N` nodes are spread evenly over the
    :math:`C` communities and :math:`\sqrt{C} - 1` when they all fall into
    one: added to :math:`-Q`, it keeps a soft modularity loss from
    collapsing into a single community.

    Args:
        s (torch.Tensor): A soft assignment :math:`[N, C]`.
        batch (torch.Tensor, optional): The graph of every node :math:`[N]`.
            (default: :obj:`None`)

    Returns:
        A 0-dim tensor, or one value per graph :math:`[B]` with a
        :obj:`batch`, in the dtype of :obj:`s`; differentiable.

    Example:
        >>> even = torch.eye(2)[[0, 1, 0, 1]]
        >>> abs(float(collapse_regularization(even))) < 1e-6  # even: 0
        True
        >>> collapse_regularization(torch.eye(2)[[0, 0, 0, 0]])  # sqrt(2) - 1
        tensor(0.4142)
    """
    if not isinstance(s, Tensor) or s.dim() != 2 \
            or not s.dtype.is_floating_point:
        what = list(s.shape) if isinstance(s, Tensor) else type(s).__name__
        raise ValueError(f"'s' must be a floating soft assignment "
                         f"[num_nodes, num_communities] (got {what})")
    if batch is None:
        return (s.size(1)**0.5 / max(s.size(0), 1) *
                torch.linalg.vector_norm(s.sum(dim=0)) - 1)
    _check_batch(batch, s.size(0))
    batch = batch.to(s.device).long()
    num_graphs = int(batch.max()) + 1 if batch.numel() > 0 else 0
    sizes = scatter(s, batch, 0, num_graphs, reduce='sum')
    count = scatter(torch.ones_like(batch, dtype=s.dtype), batch, 0,
                    num_graphs, reduce='sum').clamp(min=1)
    return (s.size(1)**0.5 / count *
            torch.linalg.vector_norm(sizes, dim=-1) - 1)
