r"""How far a snapshot's modularity is from chance: the label-permutation
null of :func:`~pyg_dnnmod.utils.modularity`.

Raw modularity depends on :math:`N`, :math:`k`, the class sizes and the
degrees, so two layers (or two models) compare honestly only against what
the same graph gives when the labels carry no information. The null keeps
the graph and the class sizes and permutes the labels uniformly at random;
its mean is known in closed form (:func:`expected_modularity`), its spread
is measured by permutations computed as one batched scatter
(:func:`permuted_modularity`), and :func:`modularity_null` reports the
observed value, both, the z-score and the permutation p-value.
"""
from typing import NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor
from torch_geometric.utils import scatter

from pyg_dnnmod.utils._modularity import _check_graph, _weights_and_batch

#: Permutation rows per chunk times the largest of (edges, nodes, terms):
#: bounds the temporary memory of :func:`permuted_modularity` (about 32 MB
#: of float64 per chunk).
_CHUNK_ELEMENTS = 2**22
#: Two modularity values closer than this count as equal in the p-value
#: (the observed value and a permutation that reproduces the partition are
#: computed along different summation orders).
_TIE = 1e-12


class ModularityNull(NamedTuple):
    r"""The result of :func:`modularity_null`: floats for one graph, float64
    tensors :math:`[B]` for a batch."""
    q: Union[float, Tensor]
    expected: Union[float, Tensor]
    std: Union[float, Tensor]
    z: Union[float, Tensor]
    p: Union[float, Tensor]


class _Graph(NamedTuple):
    r"""What the null needs from a checked graph, computed once."""
    row: Tensor
    col: Tensor
    weight: Tensor  # the weight each stored entry adds to the numerator
    out_degree: Tensor
    in_degree: Tensor  # the same tensor as out_degree when undirected
    total: Tensor  # [B]: 2m undirected, m directed
    term: Tensor  # [N]: the (graph, community) id of every node
    term_graph: Tensor  # [T]: the graph of every term
    batch: Tensor  # [N]
    num_graphs: int


def _prepare(edge_index: Tensor, communities: Tensor,
             edge_weight: Optional[Tensor], num_nodes: Optional[int],
             directed: bool, batch: Optional[Tensor]) -> _Graph:
    if isinstance(communities, Tensor) and communities.dim() == 2:
        raise TypeError("'communities' must be integer labels [num_nodes] "
                        "for the permutation null (got a soft assignment "
                        f"of shape {list(communities.shape)})")
    edge_index, communities, num_nodes, _ = _check_graph(
        edge_index, communities, edge_weight, num_nodes, batch)
    w, batch, num_graphs = _weights_and_batch(edge_index, edge_weight,
                                              num_nodes, batch)
    row, col = edge_index[0], edge_index[1]
    pair = torch.stack([batch, communities], dim=1)
    uniq, term = torch.unique(pair, dim=0, return_inverse=True)
    if directed:
        k_out = scatter(w, row, 0, num_nodes, reduce='sum')
        k_in = scatter(w, col, 0, num_nodes, reduce='sum')
        total = scatter(k_out, batch, 0, num_graphs, reduce='sum')
    else:
        # The convention of modularity(): a self-loop, stored once, adds 2w
        # to its node's degree and 2w to the numerator 2 L_c.
        w = torch.where(row == col, 2 * w, w)
        k_out = k_in = scatter(w, row, 0, num_nodes, reduce='sum')
        total = scatter(k_out, batch, 0, num_graphs, reduce='sum')
    return _Graph(row, col, w, k_out, k_in, total, term.view(-1),
                  uniq[:, 0], batch, num_graphs)


def _check_permutations(num_permutations: int, seed: int) -> None:
    if isinstance(num_permutations, bool) or not isinstance(
            num_permutations, int):
        raise TypeError(f"'num_permutations' must be an integer "
                        f"(got {num_permutations!r})")
    if num_permutations < 2:
        raise ValueError(f"'num_permutations' must be >= 2, so that the "
                         f"null has a spread (got {num_permutations})")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"'seed' must be an integer (got {seed!r})")


def _resolution(resolution: float) -> float:
    try:
        value = float(resolution)
    except (TypeError, ValueError):
        raise TypeError(f"'resolution' must be a real number (got "
                        f"{type(resolution).__name__})") from None
    if value != value or value in (float('inf'), float('-inf')):
        raise ValueError(f"'resolution' must be finite (got {resolution})")
    return value


def _per_graph(values: Tensor, index: Tensor, num_graphs: int) -> Tensor:
    r"""Sums the columns of :obj:`values` :math:`[R, X]` by the graph
    :obj:`index` :math:`[X]` of each column: :math:`[R, B]`."""
    if num_graphs == 1:
        return values.sum(dim=1, keepdim=True)
    out = values.new_zeros(values.size(0), num_graphs)
    return out.scatter_add_(1, index.expand_as(values), values)


def _q_rows(g: _Graph, labels: Tensor, resolution: float,
            directed: bool) -> Tensor:
    r"""The modularity :math:`[R, B]` of every row of term ids
    :obj:`labels` :math:`[R, N]` on the fixed graph."""
    num_rows, num_terms = labels.size(0), g.term_graph.numel()
    inside = (labels[:, g.row] == labels[:, g.col]).to(g.weight.dtype)
    numerator = _per_graph(inside * g.weight, g.batch[g.row], g.num_graphs)
    k_out = labels.new_zeros(num_rows, num_terms, dtype=g.weight.dtype)
    k_out.scatter_add_(1, labels, g.out_degree.expand(num_rows, -1))
    if directed:
        k_in = labels.new_zeros(num_rows, num_terms, dtype=g.weight.dtype)
        k_in.scatter_add_(1, labels, g.in_degree.expand(num_rows, -1))
        product = k_out * k_in
    else:
        product = k_out * k_out
    squares = _per_graph(product, g.term_graph, g.num_graphs)
    total = g.total.unsqueeze(0)
    safe = torch.where(total == 0, torch.ones_like(total), total)
    q = numerator / safe - resolution * squares / safe**2
    return torch.where(total == 0, torch.zeros_like(q), q)


def _permuted_rows(g: _Graph, resolution: float, directed: bool,
                   num_permutations: int, seed: int) -> Tensor:
    r""":math:`[P, B]`: the modularity of :obj:`num_permutations`
    within-graph permutations of the labels, drawn on the CPU from
    :obj:`seed` (so the values do not depend on the device)."""
    num_nodes = g.term.numel()
    device = g.term.device
    generator = torch.Generator().manual_seed(seed)
    # Nodes ordered by graph; a random key within each graph's block turns
    # one sort per row into one uniform permutation per graph.
    order = torch.sort(g.batch.cpu(), stable=True)
    graph_of_slot = order.values.to(torch.float64)
    slots = order.indices.to(device)
    sorted_terms = g.term[slots]
    width = max(g.row.numel(), num_nodes, g.term_graph.numel(), 1)
    chunk = max(1, _CHUNK_ELEMENTS // width)
    out = []
    for start in range(0, num_permutations, chunk):
        rows = min(chunk, num_permutations - start)
        keys = torch.rand(rows, num_nodes, generator=generator,
                          dtype=torch.float64)
        if g.num_graphs > 1:
            keys += graph_of_slot
        shuffle = keys.argsort(dim=1).to(device)
        labels = torch.empty(rows, num_nodes, dtype=torch.long,
                             device=device)
        labels[:, slots] = sorted_terms[shuffle]
        out.append(_q_rows(g, labels, resolution, directed))
    return torch.cat(out, dim=0)


def _expected(g: _Graph, resolution: float, directed: bool) -> Tensor:
    r"""The closed-form mean :math:`[B]` of the null (see
    :func:`expected_modularity`)."""
    ones = torch.ones_like(g.out_degree)
    n = scatter(ones, g.batch, 0, g.num_graphs, reduce='sum')
    n_c = scatter(ones, g.term, 0, g.term_graph.numel(), reduce='sum')
    n_g = n[g.term_graph]
    pairs = scatter(n_c * (n_c - 1), g.term_graph, 0, g.num_graphs,
                    reduce='sum')
    same = torch.where(n > 1, pairs / (n * (n - 1)).clamp(min=1),
                       torch.zeros_like(n))
    loop = g.row == g.col
    edge_graph = g.batch[g.row]
    w_off = scatter(torch.where(loop, 0.0, g.weight.double()), edge_graph, 0,
                    g.num_graphs, reduce='sum')
    w_loop = scatter(torch.where(loop, g.weight.double(), 0.0), edge_graph,
                     0, g.num_graphs, reduce='sum')
    size = n.clamp(min=1)
    mean_out = scatter(g.out_degree, g.batch, 0, g.num_graphs,
                       reduce='sum') / size
    mean_in = scatter(g.in_degree, g.batch, 0, g.num_graphs,
                      reduce='sum') / size
    cov = scatter(g.out_degree * g.in_degree, g.batch, 0, g.num_graphs,
                  reduce='sum') / size - mean_out * mean_in
    # Sampling n_c of the n nodes without replacement: the finite
    # population correction (n - n_c) / (n - 1), zero when n = 1.
    fpc = torch.where(n_g > 1, (n_g - n_c) / (n_g - 1).clamp(min=1),
                      torch.zeros_like(n_g))
    t = g.term_graph
    products = n_c * fpc * cov[t] + n_c**2 * mean_out[t] * mean_in[t]
    squares = scatter(products, t, 0, g.num_graphs, reduce='sum')
    total = g.total
    safe = torch.where(total == 0, torch.ones_like(total), total)
    q = (same * w_off + w_loop) / safe - resolution * squares / safe**2
    return torch.where(total == 0, torch.zeros_like(q), q)


def expected_modularity(
    edge_index: Tensor,
    communities: Tensor,
    edge_weight: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    resolution: float = 1.0,
    directed: bool = False,
    batch: Optional[Tensor] = None,
) -> Union[float, Tensor]:
    r"""The mean modularity of :obj:`communities` under the label-permutation
    null, in closed form: the graph fixed, the labels permuted uniformly at
    random within each graph, so that every class keeps its size.

    **Derivation** (undirected; stored entries as in
    :func:`~pyg_dnnmod.utils.modularity`, a self-loop once with weight
    :math:`2w`, so that :math:`2m = \sum_e w_e = \sum_i k_i`). With
    :math:`n` nodes and class sizes :math:`n_c`,
    :math:`Q = \frac{1}{2m} \sum_e w_e [c_{u_e} = c_{v_e}] - \gamma
    \sum_c K_c^2 / (2m)^2` has two random parts.

    * A self-loop is always inside its class. Two distinct nodes share a
      class with probability
      :math:`p = \sum_c n_c (n_c - 1) / (n (n - 1))` (the second node is
      one of the :math:`n - 1` others), so
      :math:`\mathbb{E}[\sum_e w_e [\,\cdot\,]] = p\,W_{\mathrm{off}} +
      W_{\mathrm{loop}}`.
    * :math:`K_c = \sum_{i \in S_c} k_i` sums the degrees of a sample
      :math:`S_c` of :math:`n_c` nodes drawn without replacement, so
      :math:`\mathbb{E}[K_c] = n_c \bar{k}` and
      :math:`\mathrm{Var}[K_c] = n_c \frac{n - n_c}{n - 1} \sigma_k^2`
      (the finite-population correction; :math:`\sigma_k^2` the population
      variance of the degrees), hence

    .. math::
        \mathbb{E}[Q] = \frac{p\,W_{\mathrm{off}} + W_{\mathrm{loop}}}{2m}
        - \frac{\gamma}{(2m)^2} \sum_c \left[ n_c \frac{n - n_c}{n - 1}
        \sigma_k^2 + (n_c \bar{k})^2 \right].

    Directed graphs (:math:`Q = \sum_c [L_c / m - \gamma K^{out}_c
    K^{in}_c / m^2]`) replace :math:`2m` by :math:`m`, the self-loops count
    once, and :math:`\mathbb{E}[K^{out}_c K^{in}_c] = n_c \frac{n - n_c}{n
    - 1} \mathrm{cov}(k^{out}, k^{in}) + n_c^2 \bar{k}^{out} \bar{k}^{in}`.
    Exact for any weights (negative included), class sizes and self-loops;
    a graph of zero total weight has :math:`0`.

    Arguments as in :func:`~pyg_dnnmod.utils.modularity` (hard labels only).

    Returns:
        A float for one graph, a float64 tensor :math:`[B]` with
        :obj:`batch`.

    Example:
        >>> # A 4-cycle, two classes of two: the adjacent pairs (0, 1) and
        >>> # (2, 3) give 0.5 - 0.5 = 0, the opposite ones -0.5; one of the
        >>> # three pairings of the nodes is opposite.
        >>> edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 0],
        ...                            [1, 0, 2, 1, 3, 2, 0, 3]])
        >>> round(expected_modularity(edge_index, torch.tensor([0, 0, 1, 1])), 6)
        -0.166667
    """
    resolution = _resolution(resolution)
    g = _prepare(edge_index, communities, edge_weight, num_nodes, directed,
                 batch)
    out = _expected(g, resolution, directed)
    return out if batch is not None else float(out[0])


def permuted_modularity(
    edge_index: Tensor,
    communities: Tensor,
    edge_weight: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    resolution: float = 1.0,
    directed: bool = False,
    num_permutations: int = 1000,
    seed: int = 0,
    batch: Optional[Tensor] = None,
) -> Tensor:
    r"""The modularity of :obj:`num_permutations` random relabellings of
    :obj:`communities` on the same graph: the samples of the null of
    :func:`modularity_null`.

    Every permutation is uniform within each graph of :obj:`batch` (class
    sizes kept); all of them are evaluated as one batched scatter over the
    edge list, in chunks of bounded memory (about 32 MB of float64 each),
    without calling :func:`~pyg_dnnmod.utils.modularity` per permutation.
    The permutations are drawn on the CPU from :obj:`seed`, so the values
    do not depend on the device.

    The other arguments are those of :func:`~pyg_dnnmod.utils.modularity`
    (hard labels only).

    Args:
        num_permutations (int, optional): :math:`P \geq 2`.
            (default: :obj:`1000`)
        seed (int, optional): Seed of the permutations. (default: :obj:`0`)

    Returns:
        torch.Tensor: float64, :math:`[P]` for one graph, :math:`[B, P]`
        with :obj:`batch`.

    Example:
        >>> edge_index = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
        >>> q = permuted_modularity(edge_index, torch.tensor([0, 0, 1, 1]),
        ...                         num_permutations=6, seed=1)
        >>> sorted(set(q.tolist()))  # the two pairings: 0.5 or -0.5
        [-0.5, 0.5]
    """
    resolution = _resolution(resolution)
    _check_permutations(num_permutations, seed)
    g = _prepare(edge_index, communities, edge_weight, num_nodes, directed,
                 batch)
    q = _permuted_rows(g, resolution, directed, num_permutations, seed).t()
    return q if batch is not None else q[0]


def _null(g: _Graph, resolution: float, directed: bool,
          num_permutations: int, seed: int) -> Tuple[Tensor, ...]:
    observed = _q_rows(g, g.term.unsqueeze(0), resolution, directed)[0]
    samples = _permuted_rows(g, resolution, directed, num_permutations, seed)
    expected = _expected(g, resolution, directed)
    std = samples.std(dim=0)
    flat = std <= _TIE
    z = (observed - expected) / torch.where(flat, torch.ones_like(std), std)
    z = torch.where(flat, torch.full_like(z, float('nan')), z)
    hits = (samples >= observed.unsqueeze(0) - _TIE).sum(dim=0)
    p = (1.0 + hits.double()) / (1.0 + num_permutations)
    return observed, expected, std, z, p


def modularity_null(
    edge_index: Tensor,
    communities: Tensor,
    edge_weight: Optional[Tensor] = None,
    num_nodes: Optional[int] = None,
    num_permutations: int = 1000,
    seed: int = 0,
    batch: Optional[Tensor] = None,
    resolution: float = 1.0,
    directed: bool = False,
) -> ModularityNull:
    r"""The modularity of :obj:`communities` calibrated against chance: the
    null keeps the graph and the class sizes and permutes the labels
    uniformly at random (within each graph of :obj:`batch`).

    .. math::
        z = \frac{Q - \mathbb{E}_\pi[Q]}{\mathrm{sd}_\pi[Q]}, \qquad
        p = \frac{1 + \#\{r : Q_{\pi_r} \geq Q\}}{1 + P},

    with :math:`\mathbb{E}_\pi[Q]` in closed form
    (:func:`expected_modularity`, which also gives the derivation), the
    standard deviation (ddof = 1) and the p-value from :math:`P`
    permutations (:func:`permuted_modularity`, one batched scatter). A
    layer whose raw :math:`Q` grows with width, :math:`N` or :math:`k`
    alone does not grow in :math:`z`. :math:`z` is NaN when the null has no
    spread (e.g. a single class); values within :math:`10^{-12}` of
    :math:`Q` count as ties (:math:`\geq`) in :math:`p`.

    Args:
        edge_index (torch.Tensor): The edges :math:`[2, E]`.
        communities (torch.Tensor): Integer labels :math:`[N]`.
        edge_weight (torch.Tensor, optional): Edge weights :math:`[E]`.
            (default: :obj:`None`)
        num_nodes (int, optional): The number of nodes. (default:
            :obj:`None`, the length of :obj:`communities`)
        num_permutations (int, optional): :math:`P \geq 2`.
            (default: :obj:`1000`)
        seed (int, optional): Seed of the permutations (drawn on the CPU).
            (default: :obj:`0`)
        batch (torch.Tensor, optional): The graph of every node :math:`[N]`;
            each graph gets its own null. (default: :obj:`None`)
        resolution (float, optional): :math:`\gamma`. (default: :obj:`1.0`)
        directed (bool, optional): As in
            :func:`~pyg_dnnmod.utils.modularity`. (default: :obj:`False`)

    Returns:
        ModularityNull: :obj:`(q, expected, std, z, p)`, floats for one
        graph, float64 tensors :math:`[B]` with :obj:`batch`.

    Example:
        >>> # Two triangles joined by one edge, the triangles as classes.
        >>> edge_index = torch.tensor([[0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5],
        ...                            [1, 2, 0, 2, 0, 1, 3, 2, 4, 5, 3, 5, 3, 4]])
        >>> null = modularity_null(edge_index, torch.tensor([0, 0, 0, 1, 1, 1]),
        ...                        num_permutations=999)
        >>> round(null.q, 6), round(null.expected, 6)  # 70/196, -51/490
        (0.357143, -0.104082)
        >>> round(null.z, 2), null.p  # 2 of the 20 labellings reach Q
        (2.67, 0.113)
    """
    resolution = _resolution(resolution)
    _check_permutations(num_permutations, seed)
    g = _prepare(edge_index, communities, edge_weight, num_nodes, directed,
                 batch)
    values = _null(g, resolution, directed, num_permutations, seed)
    if batch is not None:
        return ModularityNull(*values)
    return ModularityNull(*(float(v[0]) for v in values))
