r"""Exact k-NN graphs over dense features by blocked matrix product + top-k.

This is where a layer snapshot's graph is built. The similarity matrix is
never materialised: it is computed block by block, only the upper triangle
of the block grid (similarity is symmetric, so block (I, J) also serves rows
J), and every block is merged into a running top-k per row. Memory is
:math:`O(N \cdot k + \text{block}^2)`, work half a Gram matrix plus the
diagonal blocks, on CPU and CUDA alike. The pieces it shares with the
other k-NN builders (checks, feature preparation, tie rule, duplicates) are
in :mod:`pyg_dnnmod.utils.knn_kernel`; here are the blocked search over the
upper triangle and the low-precision candidate search with exact
re-ranking.
"""
import contextlib
import math
from typing import Iterator, Optional, Tuple

import torch
from torch import Tensor

from pyg_dnnmod.utils._projection import random_projection
from pyg_dnnmod.utils._symmetrize import symmetrize_edges
from pyg_dnnmod.utils.threads import small_work
from pyg_dnnmod.utils.knn_kernel import (
    block_similarity,
    check_features,
    check_knn_args,
    default_block_size,
    duplicate_groups,
    neighbour_similarity,
    prepare_features,
    topk_lowest_index,
)

PRECISIONS = ('float32', 'bf16', 'fp16')
_LOW = {'bf16': torch.bfloat16, 'fp16': torch.float16}
_UNIT_ROUNDOFF = {'bf16': 2.0**-8, 'fp16': 2.0**-11}
# An absolute bound on the rounding of a subnormal product.
_TINY = {'bf16': 2.0**-133, 'fp16': 2.0**-24}


def knn_graph(
    x: Tensor,
    k: int = 3,
    metric: str = 'cosine',
    loop: bool = False,
    symmetrize: str = 'half',
    block_size: Optional[int] = None,
    eps: float = 1e-8,
    precision: str = 'float32',
    rerank_margin: Optional[int] = None,
    projection: Optional[int] = None,
    projection_seed: int = 0,
) -> Tuple[Tensor, Tensor]:
    r"""Builds the weighted k-NN graph of the rows of :obj:`x` exactly, as in
    the `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_ paper.

    Every node :math:`i` is linked to the :math:`k` other nodes :math:`j` of
    largest similarity :math:`s_{ij}`, giving the directed adjacency

    .. math::
        A_{ij} = \begin{cases} s_{ij} & j \in \mathcal{N}_k(i) \\
        0 & \text{otherwise,} \end{cases}

    which is then symmetrised. The paper's choice (the default) is
    :math:`\frac{1}{2}(\mathbf{A} + \mathbf{A}^{\top})`: a mutual pair keeps
    its weight :math:`w`, a one-way pair gets :math:`w / 2`.

    Similarities (see :func:`prepare_features`): :obj:`"cosine"`
    :math:`\langle \mathbf{x}_i, \mathbf{x}_j\rangle / (\max(\|\mathbf{x}_i\|,
    \epsilon) \max(\|\mathbf{x}_j\|, \epsilon))`, :obj:`"pearson"` (cosine
    of the row-centred features), :obj:`"dot"` and :obj:`"euclidean"`,
    whose weight is the similarity :math:`1 / (1 + \|\mathbf{x}_i -
    \mathbf{x}_j\|_2)` (nearest first, always positive).

    Semantics kept from the paper's code, and the one difference:

    * no self edge unless :obj:`loop=True`; ties go to the lowest index, as
      :obj:`heapq.nlargest` over :obj:`range(N)` does, whatever the block
      size or device;
    * the paper's code sets the diagonal of the similarity matrix to zero
      instead of excluding it, so a node with fewer than :math:`k` other nodes
      of positive similarity takes itself as a zero-weight neighbour in place
      of a negatively similar one. The two agree whenever every node has at
      least :math:`k` others with positive similarity (always for ReLU
      features); here a node's neighbours are always :math:`k` other nodes;
    * negative similarities are kept as negative weights.

    The similarity matrix is never built: blocks of
    :math:`\text{block} \times \text{block}` similarities of the upper
    triangle are computed one at a time and merged into a running top-k, so
    peak memory is :math:`O(N k + \text{block}^2)` besides :obj:`x` and the
    work is about half a Gram matrix :math:`\mathbf{X}\mathbf{X}^{\top}` plus
    the diagonal blocks.
    Exact ties are resolved deterministically, duplicate rows included (all
    copies of a row share one computed similarity); two similarities that
    differ only by floating-point rounding may order differently with another
    block size or device, so compare in float64 where that matters.

    Args:
        x (torch.Tensor): Node features :math:`[N, D]` (or :math:`[N, *]`,
            flattened), float32 by default; float64 is kept as float64.
        k (int, optional): The number of neighbours of every node.
            (default: :obj:`3`)
        metric (str, optional): :obj:`"cosine"`, :obj:`"pearson"`,
            :obj:`"euclidean"` or :obj:`"dot"`. (default: :obj:`"cosine"`)
        loop (bool, optional): If :obj:`True`, a node may be its own
            neighbour. (default: :obj:`False`)
        symmetrize (str, optional): :obj:`"half"` for
            :math:`(\mathbf{A} + \mathbf{A}^{\top}) / 2`, :obj:`"max"` for the
            larger of the two directions' weights, :obj:`"sum"` for
            :math:`\mathbf{A} + \mathbf{A}^{\top}`, or :obj:`"none"` for the
            directed k-NN edges in PyG's :obj:`flow="source_to_target"` layout
            (:obj:`edge_index[1]` is the node, :obj:`edge_index[0]` its
            neighbour). Undirected results hold every edge in both directions.
            (default: :obj:`"half"`)
        block_size (int, optional): Rows per block; by default about
            :math:`N / 8`, between 256 and 4096. (default: :obj:`None`)
        eps (float, optional): The norm clamp of cosine and Pearson.
            (default: :obj:`1e-8`)
        precision (str, optional): :obj:`"float32"`, or :obj:`"bf16"` /
            :obj:`"fp16"` to find candidates with a low-precision matrix
            product and then re-rank them exactly: the top
            :math:`k + \text{margin}` candidates of every row are recomputed
            in float32, a row whose k-th value clears the proven error bound
            of the low-precision product is exact, any other row is
            recomputed in full. The edges are those of float32 (up to ties
            closer than float32 rounding); faster where the hardware has
            bf16 matrix units and the layer is not very wide (measured on
            an AVX512-BF16 CPU: 1.6x at :math:`N = 10^4, D = 4096`, but
            slower from :math:`D = 16384`, where the bound, which grows
            with :math:`D`, proves fewer rows). Not for
            :obj:`"euclidean"`.
            (default: :obj:`"float32"`)
        rerank_margin (int, optional): Extra candidates per row for the
            re-ranking. (default: :obj:`max(k, 32)`)
        projection (int, optional): If set, neighbours are searched among
            the rows projected to this many dimensions by
            :func:`~pyg_dnnmod.utils.random_projection` (after centring
            for :obj:`"pearson"`): approximate neighbours for very wide
            layers, at :math:`d / D` of the cost. The weights stay the
            exact similarities of the original rows; duplicates of the
            original rows still tie. Not exact: see
            :obj:`bench/projection.py` for its measured effect on
            neighbours and modularity. (default: :obj:`None`)
        projection_seed (int, optional): The seed of the projection.
            (default: :obj:`0`)

    Returns:
        (torch.LongTensor, torch.Tensor): :obj:`edge_index` :math:`[2, E]`
        sorted by row then column, and :obj:`edge_weight` :math:`[E]` in the
        dtype of the computation (float32, or float64 for float64 input).

    Example:
        >>> x = torch.tensor([[1., 0.], [1., 0.1], [0., 1.], [0.1, 1.]])
        >>> edge_index, edge_weight = knn_graph(x, k=1)
        >>> edge_index
        tensor([[0, 1, 2, 3],
                [1, 0, 3, 2]])
        >>> edge_weight
        tensor([0.9950, 0.9950, 0.9950, 0.9950])
    """
    x = check_features(x)
    num_nodes = x.size(0)
    max_k = check_knn_args(num_nodes, k, loop, symmetrize, metric=metric,
                           block_size=block_size)
    if block_size is None:
        block_size = default_block_size(num_nodes)

    if precision not in PRECISIONS:
        raise ValueError(f"'precision' must be one of {PRECISIONS} "
                         f"(got {precision!r})")
    if projection is not None and (isinstance(projection, bool) or
                                   not isinstance(projection, int) or
                                   projection < 1):
        raise ValueError(f"'projection' must be None or a positive int "
                         f"(got {projection!r})")
    if precision != 'float32' and metric == 'euclidean':
        raise ValueError(f"'precision={precision!r}' supports the metrics "
                         f"'cosine', 'pearson' and 'dot' (got "
                         f"metric={metric!r})")

    z = prepare_features(x, metric, eps)
    # Neighbours are searched among `search`; duplicates are those of the
    # original rows, so that copies tie whatever a projection does.
    search = z
    if projection is not None and projection < z.size(1):
        search = random_projection(z, projection, projection_seed)
        if metric in ('cosine', 'pearson'):
            search = prepare_features(search, 'cosine', eps)
    sim = _Similarity(search, metric, first=duplicate_groups(z),
                      find_duplicates=False)
    if precision == 'float32' or z.dtype == torch.float64:
        best = _upper_triangle_topk(sim, k, loop, block_size)
    else:
        k_cand = min(max_k, k + (rerank_margin if rerank_margin is not None
                                 else max(k, 32)))
        with _float32_accumulation(z.device):
            approx = _upper_triangle_topk(sim.low_precision(_LOW[precision]),
                                          k_cand, loop, block_size,
                                          exact_ties=False)
        best, _ = _rerank(sim, approx, k, loop, precision, block_size)
    nodes = torch.arange(num_nodes, device=z.device)
    weight = neighbour_similarity(z, None, best.idx, metric)
    out = symmetrize_edges(nodes.repeat_interleave(k), best.idx.view(-1),
                           weight.view(-1), num_nodes, symmetrize)
    if not bool(torch.isfinite(out[1]).all()):
        raise ValueError(f"the {metric!r} similarities of 'x' overflow to "
                         f"Inf or NaN; use metric='cosine' or scale 'x' down")
    return out


#: The functional twin of the transform
#: :class:`~pyg_dnnmod.transforms.FeatureKNNGraph`, under the name the
#: package root exports (:obj:`knn_graph` there would shadow PyG's
#: :func:`torch_geometric.nn.knn_graph`).
feature_knn_graph = knn_graph


def _topk_any(sim: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    return sim.topk(k, dim=1, largest=True, sorted=False)


class _RunningTopK:
    r"""The best :obj:`k` (value, index) pairs of every row, merged block by
    block. Column blocks reach each row in ascending order, and the kept
    pairs are stored sorted by index, so "ties to the lowest index" is
    "ties to the lowest position" in every merge. :obj:`exact_ties=False`
    lets :meth:`torch.topk` choose among ties: any top-k set, as the
    low-precision candidate search needs, and much faster when a coarse
    format makes ties common."""
    def __init__(self, num_nodes: int, k: int, like: Tensor,
                 exact_ties: bool = True) -> None:
        self.k = k
        self.topk = topk_lowest_index if exact_ties else _topk_any
        self.val = like.new_full((num_nodes, k), -math.inf)
        self.idx = torch.full((num_nodes, k), -1, dtype=torch.long,
                              device=like.device)

    def update(self, rows: slice, sim: Tensor, col_start: int) -> None:
        with small_work(sim.numel()):
            self._update(rows, sim, col_start)

    def _update(self, rows: slice, sim: Tensor, col_start: int) -> None:
        k = self.k
        # The block's own top-k (ties to the lowest index, or any with
        # exact_ties=False) holds every entry of the block that can enter
        # the rows' top-k; merging the two short lists avoids copying the
        # block.
        val_b, idx_b = self.topk(sim, min(k, sim.size(1)))
        idx_b, order = (idx_b + col_start).sort(dim=1)
        val_b = val_b.gather(1, order).to(self.val.dtype)
        cand_val = torch.cat([self.val[rows], val_b], dim=1)
        cand_idx = torch.cat([self.idx[rows], idx_b], dim=1)
        val, pos = self.topk(cand_val, k)
        idx, order = cand_idx.gather(1, pos).sort(dim=1)
        self.val[rows] = val.gather(1, order)
        self.idx[rows] = idx


@contextlib.contextmanager
def _float32_accumulation(device: torch.device) -> Iterator[None]:
    r"""cuBLAS may accumulate bf16/fp16 products in reduced precision by
    default; the error bound of the re-ranking assumes float32
    accumulation, so that is switched off for the low-precision pass."""
    if device.type != 'cuda':
        yield
        return
    flags = torch.backends.cuda.matmul
    saved = (flags.allow_bf16_reduced_precision_reduction,
             flags.allow_fp16_reduced_precision_reduction)
    flags.allow_bf16_reduced_precision_reduction = False
    flags.allow_fp16_reduced_precision_reduction = False
    try:
        yield
    finally:
        (flags.allow_bf16_reduced_precision_reduction,
         flags.allow_fp16_reduced_precision_reduction) = saved


class _Similarity:
    r"""Blocks of the similarity matrix of the prepared rows :obj:`z`.

    All copies of a duplicated row get the similarity computed against its
    first copy, so that they tie exactly (see
    :func:`~pyg_dnnmod.utils.knn_kernel.duplicate_groups`).
    """
    def __init__(self, z: Tensor, metric: str, compute: Optional[Tensor] = None,
                 first: Optional[Tensor] = None,
                 find_duplicates: bool = True) -> None:
        self.z = z
        self.metric = metric
        self.num_nodes = z.size(0)
        self.compute = z if compute is None else compute
        self.sq_norm = (z * z).sum(dim=1) if metric == 'euclidean' else None
        arange = torch.arange(self.num_nodes, device=z.device)
        self.first = duplicate_groups(z) if (first is None and
                                             find_duplicates) else first
        if self.first is not None:
            is_member = self.first != arange
            is_member[self.first[is_member]] = True
            reps, self.rep_pos = torch.unique(self.first[is_member],
                                              return_inverse=True)
            self.member_idx = is_member.nonzero().view(-1)
            self.shared = self._raw(slice(None), reps)  # [N, num_groups]

    def low_precision(self, dtype: torch.dtype) -> '_Similarity':
        return _Similarity(self.z, self.metric, self.z.to(dtype),
                           first=self.first, find_duplicates=False)

    def _raw(self, a, b) -> Tensor:
        sq = self.sq_norm
        out = block_similarity(self.compute[a], self.compute[b], self.metric,
                               None if sq is None else sq[a],
                               None if sq is None else sq[b])
        # A low-precision block stays so: its top-k is cheaper, and only the
        # selected values are widened (exactly) by the running top-k.
        return out

    def rows(self, ids: Tensor) -> Tensor:
        r"""Similarities of the rows :obj:`ids` against all rows."""
        out = self._raw(ids, slice(None))
        if self.first is not None:
            out[:, self.member_idx] = self.shared[ids][:, self.rep_pos]
        return out

    def block(self, rows: slice, cols: slice) -> Tensor:
        r"""Similarities of :obj:`rows` (a slice) against :obj:`cols`."""
        out = self._raw(rows, cols)
        if self.first is not None:
            sel = (self.member_idx >= cols.start) & \
                (self.member_idx < cols.stop)
            if bool(sel.any()):
                out[:, self.member_idx[sel] - cols.start] = \
                    self.shared[rows][:, self.rep_pos[sel]]
        return out


def _upper_triangle_topk(sim: _Similarity, k: int, loop: bool,
                         block_size: int,
                         exact_ties: bool = True) -> _RunningTopK:
    r"""The top-k of every row, computing only the upper triangle of the
    block grid: block (I, J) serves rows I against columns J and,
    transposed, rows J against columns I."""
    num_nodes = sim.num_nodes
    best = _RunningTopK(num_nodes, k, sim.z, exact_ties)
    starts = list(range(0, num_nodes, block_size))
    for i, a0 in enumerate(starts):
        rows_a = slice(a0, min(a0 + block_size, num_nodes))
        for b0 in starts[i:]:
            rows_b = slice(b0, min(b0 + block_size, num_nodes))
            if b0 == a0:
                block = sim.block(rows_a, rows_b)
                if not loop:
                    block.fill_diagonal_(-math.inf)
                best.update(rows_a, block, b0)
                continue
            block = sim.block(rows_a, rows_b)
            best.update(rows_a, block, b0)
            if sim.first is None:
                with small_work(block.numel()):
                    block_t = block.t().contiguous()
            else:  # the overrides differ by direction
                block_t = sim.block(rows_b, rows_a)
            del block
            best.update(rows_b, block_t, a0)
    return best


def _low_precision_slack(z: Tensor, precision: str) -> Tensor:
    r"""The per-row slack :math:`E_i` of the low-precision products.

    With :math:`\hat{\mathbf{z}} = \mathrm{fl}(\mathbf{z})` the rows rounded
    to the low-precision format, residuals
    :math:`r_i = \|\hat{\mathbf{z}}_i - \mathbf{z}_i\|` (exact in float32:
    the difference of a number and its rounding is representable) and
    norms :math:`n_i = \|\mathbf{z}_i\|`, :math:`\hat{n}_i =
    \|\hat{\mathbf{z}}_i\|`, Cauchy-Schwarz gives for every pair

    .. math::
        |\hat{\mathbf{z}}_i^{\top} \hat{\mathbf{z}}_j -
        \mathbf{z}_i^{\top} \mathbf{z}_j| \le r_i n_j + n_i r_j + r_i r_j,

    the float32 accumulation of the (exact) low-precision products adds at
    most :math:`\gamma_D \hat{n}_i \hat{n}_j` and the float32 re-ranking
    value :math:`\gamma_D n_i n_j`, with :math:`\gamma_D = D u_{32} / (1 -
    D u_{32})`. :math:`E_i` takes the maximum over :math:`j` of their sum,
    with a margin of :math:`1\,\% + 3 \gamma_D` for the float32 norms and the
    rounding of the bound itself. The rounding of
    the product to the low-precision format is relative and is added by the
    caller. Residuals of the actual data are about half the worst case
    :math:`u \, n_i`, which is what makes most rows provably exact.
    """
    dim = z.size(1)
    zl = z.to(_LOW[precision]).to(z.dtype)
    # Norms in float32 are within a factor (1 + gamma) of the true ones.
    r, n, nl = (t.norm(dim=1).double() for t in (zl - z, z, zl))
    gamma = dim * 2.0**-24 / (1 - dim * 2.0**-24)
    r_max, n_max, nl_max = r.max(), n.max(), nl.max()
    slack = (r * n_max + n * r_max + r * r_max + gamma * nl * nl_max +
             gamma * n * n_max)
    return (slack * (1.01 + 3 * gamma) + _TINY[precision]).to(z.dtype)


def _rerank(sim: _Similarity, approx: _RunningTopK, k: int, loop: bool,
            precision: str, block_size: int) -> Tuple[_RunningTopK, int]:
    r"""Exact top-k from low-precision candidates; also returns how many
    rows needed the full float32 recomputation.

    The candidates' similarities are recomputed in the working precision.
    Every other column :math:`j` of row :math:`i` has a low-precision value
    :math:`a_{ij} \le L_i`, the lowest value among the candidates, so its
    exact value is at most :math:`L_i + |L_i| u / (1 - u) + E_i`
    (output rounding with unit roundoff :math:`u`, and the slack
    :math:`E_i` of :func:`_low_precision_slack`). A row whose exact k-th
    value exceeds that is provably exact: no other column can enter its
    top-k, not even as a tie. Any other row is recomputed in full in the
    working precision.
    """
    z = sim.z
    num_nodes = z.size(0)
    u = _UNIT_ROUNDOFF[precision]
    slack = _low_precision_slack(z, precision)
    # With every other node a candidate there is nothing to miss.
    complete = approx.k >= (num_nodes if loop else num_nodes - 1)
    cand = approx.idx  # sorted by index: positions break ties by index
    rep = cand if sim.first is None else sim.first[cand]
    vals = neighbour_similarity(z, None, rep, sim.metric)
    if not loop:
        own = torch.arange(num_nodes, device=z.device).unsqueeze(1)
        vals = vals.masked_fill(cand == own, -math.inf)
    best = _RunningTopK(num_nodes, k, z)
    best.val, pos = topk_lowest_index(vals, k)
    best.idx = cand.gather(1, pos)
    # Every column that is not a candidate has a low-precision value at
    # most the row's lowest candidate value; one that overflowed the format
    # (fp16) bounds nothing.
    lowest = approx.val.min(dim=1).values
    bound = lowest + lowest.abs() * (u / (1 - u)) + slack
    bound = bound.masked_fill(~lowest.isfinite(), math.inf)
    exact_rows = complete | (best.val[:, -1] > bound)
    redo = (~exact_rows).nonzero().view(-1)
    for r0 in range(0, redo.numel(), block_size):
        ids = redo[r0:r0 + block_size]
        out = sim.rows(ids)
        if not loop:
            out[torch.arange(ids.numel(), device=z.device), ids] = -math.inf
        val, idx = topk_lowest_index(out, k)
        best.val[ids] = val
        best.idx[ids] = idx
    return best, int(redo.numel())
