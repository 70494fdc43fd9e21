r"""Newman modularity of a node partition, by scatter over the edge list.

This is where a snapshot's modularity is computed: one pass over the edges,
no dense matrix, no networkx, for one graph or a whole PyG batch at once.
"""
from typing import Optional, Tuple, Union, overload

import torch
from torch import Tensor
from torch_geometric.utils import scatter


def _check_graph(edge_index: Tensor, communities: Tensor,
                 edge_weight: Optional[Tensor], num_nodes: Optional[int],
                 batch: Optional[Tensor]) -> Tuple[Tensor, Tensor, int]:
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
    if communities.dtype.is_floating_point or communities.is_complex() \
            or communities.dtype == torch.bool:
        raise TypeError(f"'communities' must be integer labels "
                        f"(got dtype {communities.dtype})")
    if communities.dim() != 1:
        raise ValueError(f"'communities' must be one-dimensional [num_nodes] "
                         f"(got shape {list(communities.shape)})")
    if num_nodes is None:
        num_nodes = communities.numel()
    elif communities.numel() != num_nodes:
        raise ValueError(f"'communities' must hold one label per node "
                         f"(got {communities.numel()} labels for "
                         f"num_nodes={num_nodes})")
    if edge_index.numel() > 0:
        lo, hi = int(edge_index.min()), int(edge_index.max())
        if lo < 0 or hi >= num_nodes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"'edge_index' holds node index {bad}, out of "
                             f"range for {num_nodes} nodes")
    if edge_weight is not None:
        if edge_weight.dim() != 1 or edge_weight.numel() != edge_index.size(1):
            raise ValueError(f"'edge_weight' must have shape [num_edges] = "
                             f"[{edge_index.size(1)}] (got "
                             f"{list(edge_weight.shape)})")
        if not bool(torch.isfinite(edge_weight).all()):
            raise ValueError("'edge_weight' contains NaN or Inf values")
    if batch is not None and (batch.dim() != 1 or batch.numel() != num_nodes):
        raise ValueError(f"'batch' must have shape [num_nodes] = "
                         f"[{num_nodes}] (got {list(batch.shape)})")
    return edge_index.long(), communities.to(edge_index.device).long(), \
        num_nodes


def _community_terms(
    edge_index: Tensor,
    communities: Tensor,
    edge_weight: Optional[Tensor],
    num_nodes: Optional[int],
    resolution: float,
    directed: bool,
    batch: Optional[Tensor],
) -> Tuple[Tensor, Tensor, Tensor, int]:
    r"""Returns ``(terms, community_id, graph_of_term, num_graphs)``: one
    modularity term per (graph, community) pair present."""
    edge_index, communities, num_nodes = _check_graph(
        edge_index, communities, edge_weight, num_nodes, batch)
    device = edge_index.device
    row, col = edge_index[0], edge_index[1]
    if edge_weight is None:
        w = torch.ones(row.numel(), dtype=torch.float64, device=device)
    else:
        # float64 accumulation: the sums run over every edge of the graph.
        w = edge_weight.to(torch.float64)
    if batch is None:
        batch = torch.zeros(num_nodes, dtype=torch.long, device=device)
        num_graphs = 1
    else:
        batch = batch.to(device).long()
        num_graphs = int(batch.max()) + 1 if batch.numel() > 0 else 0

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
    return terms, uniq[:, 1], uniq[:, 0], num_graphs


@overload
def modularity(edge_index: Tensor, communities: Tensor,
               edge_weight: Optional[Tensor] = ...,
               num_nodes: Optional[int] = ..., resolution: float = ...,
               directed: bool = ..., batch: None = ...) -> float:
    pass


@overload
def modularity(edge_index: Tensor, communities: Tensor,
               edge_weight: Optional[Tensor] = ...,
               num_nodes: Optional[int] = ..., resolution: float = ...,
               directed: bool = ..., batch: Tensor = ...) -> Tensor:
    pass


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

    Args:
        edge_index (torch.Tensor): The edges :math:`[2, E]`.
        communities (torch.Tensor): One integer label per node :math:`[N]`,
            not necessarily contiguous.
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
        A :obj:`float` for one graph, a float64 tensor with one value per
        graph if :obj:`batch` is given.

    Example:
        >>> # Two triangles joined by one edge (networkx's barbell_graph(3, 0)).
        >>> edge_index = torch.tensor([[0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5],
        ...                            [1, 2, 0, 2, 0, 1, 3, 2, 4, 5, 3, 5, 3, 4]])
        >>> communities = torch.tensor([0, 0, 0, 1, 1, 1])
        >>> round(modularity(edge_index, communities), 6)  # 70 / 196
        0.357143
    """
    terms, _, graph, num_graphs = _community_terms(
        edge_index, communities, edge_weight, num_nodes, resolution,
        directed, batch)
    out = scatter(terms, graph, 0, num_graphs, reduce='sum')
    if batch is None:
        return float(out[0]) if out.numel() > 0 else 0.0
    return out


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

    Arguments as in :func:`modularity`.

    Returns:
        (torch.Tensor, torch.Tensor): the sorted community ids :math:`[C]`
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
    """
    terms, comm, graph, num_graphs = _community_terms(
        edge_index, communities, edge_weight, num_nodes, resolution,
        directed, batch)
    ids, col = torch.unique(comm, return_inverse=True)
    out = terms.new_zeros(max(num_graphs, 1) if batch is None else num_graphs,
                          ids.numel())
    out[graph, col] = terms
    return ids, out[0] if batch is None else out
