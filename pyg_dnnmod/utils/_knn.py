r"""Exact k-NN graphs over dense features by blocked matrix product + top-k.

This is where a layer snapshot's graph is built. The similarity matrix is
never materialised: it is computed block by block, only the upper triangle
of the block grid (similarity is symmetric, so block (I, J) also serves rows
J), and every block is merged into a running top-k per row. Memory is
:math:`O(N \cdot k + \text{block}^2)`, work half a Gram matrix plus the
diagonal blocks, on CPU and CUDA alike.
"""
import contextlib
import math
import warnings
from typing import Iterator, Optional, Tuple

import torch
from torch import Tensor

from pyg_dnnmod.utils._projection import random_projection
from pyg_dnnmod.utils._symmetrize import SYMMETRIZE_MODES, symmetrize_edges

METRICS = ('cosine', 'pearson', 'euclidean', 'dot')
PRECISIONS = ('float32', 'bf16', 'fp16')
_LOW = {'bf16': torch.bfloat16, 'fp16': torch.float16}
_UNIT_ROUNDOFF = {'bf16': 2.0**-8, 'fp16': 2.0**-11}
# An absolute bound on the rounding of a subnormal product.
_TINY = {'bf16': 2.0**-133, 'fp16': 2.0**-24}

def _check_features(x: Tensor, name: str = 'x') -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor "
                        f"(got {type(x).__name__})")
    if x.dim() < 2:
        raise ValueError(f"'{name}' must be at least two-dimensional "
                         f"[num_nodes, num_features] (got {x.dim()} "
                         f"dimension{'s' if x.dim() != 1 else ''} with shape "
                         f"{tuple(x.shape)})")
    if x.is_complex():
        raise TypeError(f"'{name}' must be real (got dtype {x.dtype})")
    if x.numel() == 0:
        raise ValueError(f"'{name}' must hold at least one node and one "
                         f"feature (got shape {tuple(x.shape)})")
    x = x.reshape(x.size(0), -1)
    if x.dtype != torch.float64:
        x = x.to(torch.float32)
    # Row sums are finite unless a row holds NaN/Inf (or overflows), and cost
    # one reduction; the exact element check runs only when they are not.
    if not bool(torch.isfinite(x.sum(dim=1)).all()) and \
            not bool(torch.isfinite(x).all()):
        bad = (~torch.isfinite(x)).any(dim=1).nonzero().view(-1)
        raise ValueError(f"'{name}' contains NaN or Inf values (in "
                         f"{bad.numel()} rows, first row {int(bad[0])})")
    return x


def prepare_features(x: Tensor, metric: str = 'cosine',
                     eps: float = 1e-8) -> Tensor:
    r"""Returns the rows that the :obj:`metric` compares by dot product.

    * :obj:`"cosine"`: :math:`\mathbf{x}_i / \max(\|\mathbf{x}_i\|_2,
      \epsilon)`, so a zero row has similarity :math:`0` to every row (the
      paper's code does the same).
    * :obj:`"pearson"`: every row is centred by its own mean first, then
      normalised as for cosine; the dot product is Pearson's :math:`r`
      between two samples (over their features).
    * :obj:`"dot"` and :obj:`"euclidean"`: the rows unchanged.

    Args:
        x (torch.Tensor): Features :math:`[N, D]`, float32 or float64.
        metric (str, optional): The metric. (default: :obj:`"cosine"`)
        eps (float, optional): The norm clamp. (default: :obj:`1e-8`)

    Example:
        >>> prepare_features(torch.tensor([[3., 4.], [0., 0.]]))
        tensor([[0.6000, 0.8000],
                [0.0000, 0.0000]])
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or \
            not 0 < eps < math.inf:  # NaN fails too
        raise ValueError(f"'eps' must be a finite float > 0 (got {eps!r})")
    if metric not in ('cosine', 'pearson'):
        return x
    # Row statistics in float64, rounded once at the end: a row's result
    # then does not depend on how many rows share the tensor (reduction
    # kernels may split differently), so shards and blocks agree.
    out = torch.empty_like(x)
    step = max(1, 2**22 // max(1, x.size(1)))
    for a in range(0, x.size(0), step):
        xb = x[a:a + step].to(torch.float64)
        if metric == 'pearson':
            xb = xb - xb.mean(dim=1, keepdim=True)
        xb = xb / xb.norm(dim=1, keepdim=True).clamp_min(eps)
        out[a:a + step] = xb.to(x.dtype)
    return out


def pair_dot(a: Tensor, b: Tensor, cols: Tensor) -> Tensor:
    r"""The dot products :math:`\mathbf{a}_i^{\top} \mathbf{b}_{c_{ij}}` of
    every row :math:`i` of :obj:`a` with the rows :obj:`cols[i]` of
    :obj:`b`, :math:`[R, C]`, by one sampled dense-dense product
    (:func:`torch.sparse.sampled_addmm`): no :math:`R \times C \times D`
    copy of the gathered rows, and every product is computed on its own, so
    its bits do not depend on which other rows or columns are asked for.

    Example:
        >>> a = torch.tensor([[1., 2.], [3., 4.]])
        >>> pair_dot(a, a, torch.tensor([[0, 1], [1, 1]]))
        tensor([[ 5., 11.],
                [25., 25.]])
    """
    num_rows, width = cols.shape
    if num_rows == 0 or width == 0:
        return a.new_empty((num_rows, width))
    crow = torch.arange(0, num_rows * width + 1, width, device=a.device)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "sparse CSR support is in beta"
        pattern = torch.sparse_csr_tensor(
            crow, cols.reshape(-1), a.new_zeros(num_rows * width),
            size=(num_rows, b.size(0)), check_invariants=False)
        out = torch.sparse.sampled_addmm(pattern, a, b.t(), beta=0.0)
    return out.values().view(num_rows, width)


def neighbour_similarity(z: Tensor, rows: Optional[Tensor], nbrs: Tensor,
                         metric: str) -> Tensor:
    r"""The similarity of every row :obj:`rows[i]` of the prepared features
    :obj:`z` (see :func:`prepare_features`) to each of its neighbours
    :obj:`nbrs[i]`, :math:`[R, k]`, every pair computed on its own;
    :obj:`rows=None` means the first :math:`R` rows in order.

    :func:`knn_graph` chooses neighbours by blocked matrix products, whose
    last bits depend on the block shapes; the weights it returns come from
    here instead (:func:`pair_dot`, one kernel for every pair), so they do
    not depend on the block size, the number of processes or the precision
    used to find the neighbours. The Euclidean similarity is accumulated in
    float64.

    Example:
        >>> z = prepare_features(torch.tensor([[1., 0.], [1., 1.], [0., 1.]]))
        >>> neighbour_similarity(z, torch.tensor([0, 2]),
        ...                      torch.tensor([[1, 2], [1, 0]]), 'cosine')
        tensor([[0.7071, 0.0000],
                [0.7071, 0.0000]])
    """
    out = torch.empty(nbrs.shape, dtype=z.dtype, device=z.device)
    k, dim = max(1, nbrs.size(1)), max(1, z.size(1))
    # Chunks hold about 2^24 gathered feature values: R x D rows for the
    # sampled product, R x k x D neighbour rows for the Euclidean distance.
    euclidean = metric == 'euclidean'
    step = max(1, 2**24 // (k * dim if euclidean else dim))
    for a in range(0, nbrs.size(0), step):
        b = min(a + step, nbrs.size(0))
        zi = z[a:b] if rows is None else z.index_select(0, rows[a:b])
        if not euclidean:
            out[a:b] = pair_dot(zi, z, nbrs[a:b])
            continue
        # index_select is much faster than advanced indexing by a 2-D index.
        zj = z.index_select(0, nbrs[a:b].reshape(-1)).view(
            -1, nbrs.size(1), z.size(1))
        diff = zi.unsqueeze(1).to(torch.float64) - zj.to(torch.float64)
        val = 1.0 / (1.0 + diff.pow(2).sum(dim=-1).sqrt())
        out[a:b] = val.to(z.dtype)
    return out


def _block_similarity(xb: Tensor, x: Tensor, metric: str,
                      sq_norm_b: Optional[Tensor],
                      sq_norm: Optional[Tensor]) -> Tensor:
    sim = xb @ x.t()
    if metric == 'euclidean':
        # A monotone similarity of the distance: 1 / (1 + d), in (0, 1].
        dist2 = (sq_norm_b.unsqueeze(1) + sq_norm.unsqueeze(0) - 2 * sim)
        sim = 1.0 / (1.0 + dist2.clamp_min_(0).sqrt_())
    return sim


def _row_hash(bits: Tensor, seed: int) -> Tensor:
    r"""An exact integer hash of every row of :obj:`bits` (int32): identical
    rows get the same value whatever the order of summation, since integer
    addition (wrapping in int64) is associative, unlike float addition."""
    gen = torch.Generator().manual_seed(seed)
    mult = torch.randint(1, 2**31 - 1, (bits.size(1), ), generator=gen)
    mult = mult.to(bits.device)
    # Rows in chunks of about 2**24 entries keep the int64 copies small.
    step = max(1, 2**24 // max(1, bits.size(1)))
    return torch.cat([(bits[i:i + step].to(torch.int64) * mult).sum(dim=1)
                      for i in range(0, bits.size(0), step)])


def _shared(h: Tensor) -> Tensor:
    r"""Mask of the entries of :obj:`h` that occur more than once."""
    _, inverse, counts = torch.unique(h, return_inverse=True,
                                      return_counts=True)
    return counts[inverse] > 1


def _duplicate_groups(z: Tensor) -> Optional[Tensor]:
    r"""Finds bit-identical rows: returns :obj:`first` with
    ``first[i]`` the lowest index of the rows equal to row ``i``, or
    :obj:`None` when all rows differ.

    A matrix product need not give bit-identical results for two identical
    columns (tiles at the matrix edge use other kernels), so duplicates would
    break the "ties to the lowest index" rule; :func:`knn_graph` gives all
    copies of a row one shared value instead.

    Cost: a hash of about 64 evenly spaced columns for every row, a hash of
    the full row only for rows whose sampled hash is shared, and an exact
    comparison of the rows whose full hashes agree.
    """
    num_nodes = z.size(0)
    bits = z.contiguous().view(torch.int32)
    sampled = bits[:, ::max(1, bits.size(1) // 64)]
    candidates = _shared(_row_hash(sampled, seed=0)).nonzero().view(-1)
    if candidates.numel() == 0:
        return None
    h = _row_hash(bits[candidates], seed=1)
    candidates, h = candidates[_shared(h)], h[_shared(h)]
    if candidates.numel() == 0:
        return None
    first = torch.arange(num_nodes, device=z.device)
    h_sorted, perm = h.sort(stable=True)
    members = candidates[perm].tolist()
    starts = torch.cat([torch.ones(1, dtype=torch.bool, device=z.device),
                        h_sorted[1:] != h_sorted[:-1]]).tolist()
    head = members[0]
    for member, is_start in zip(members, starts):
        # Members of one hash group are in index order (stable sort of
        # candidates, which are ascending), so the head is the lowest index.
        if is_start:
            head = member
        elif torch.equal(z[head], z[member]):
            first[member] = head
    if bool((first == torch.arange(num_nodes, device=z.device)).all()):
        return None
    return first


def _topk_lowest_index(sim: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    r"""Row-wise top-k where ties go to the lowest column index.

    :meth:`torch.topk` does not specify which of several equal values it
    returns. Its set is right unless the k-th value ties with the (k+1)-th,
    which one extra element of the same top-k call reveals; only those rows
    are recomputed, keeping every value above the k-th one and then the
    lowest-index copies of it.
    """
    if k >= sim.size(1):
        val, idx = sim.sort(dim=1, descending=True, stable=True)
        return val, idx
    val, idx = sim.topk(k + 1, dim=1, largest=True, sorted=True)
    tied = (val[:, k] == val[:, k - 1]).nonzero().view(-1)
    val, idx = val[:, :k].contiguous(), idx[:, :k].contiguous()
    if tied.numel() > 0:
        s = sim[tied]
        t = val[tied, k - 1:k]
        above = s > t
        need = k - above.sum(dim=1, keepdim=True)
        equal = s == t
        keep = above | (equal & (equal.cumsum(dim=1) <= need))
        # Exactly k entries per row are kept; `nonzero` lists them in column
        # order, so a stable sort by value restores a descending order.
        cols = keep.nonzero()[:, 1].view(-1, k)
        vals = s.gather(1, cols)
        vals, perm = vals.sort(dim=1, descending=True, stable=True)
        val[tied] = vals
        idx[tied] = cols.gather(1, perm)
    return val, idx


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
        self.topk = _topk_lowest_index if exact_ties else _topk_any
        self.val = like.new_full((num_nodes, k), -math.inf)
        self.idx = torch.full((num_nodes, k), -1, dtype=torch.long,
                              device=like.device)

    def update(self, rows: slice, sim: Tensor, col_start: int) -> None:
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


def _default_block_size(num_nodes: int) -> int:
    # About eight row blocks: the upper triangle of the block grid then costs
    # (1 + 1/8) / 2 of a full Gram matrix, and each block product is still
    # large enough to run at full speed.
    return max(1, min(num_nodes, 4096, max(256, -(-num_nodes // 8))))


def check_knn_args(num_nodes: int, k: int, loop: bool, symmetrize: str,
                   metric: Optional[str] = None,
                   block_size: Optional[int] = None) -> int:
    r"""Checks the arguments shared by the k-NN builders and returns the
    largest valid :obj:`k` (:math:`N - 1`, or :math:`N` with self-loops)."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"'k' must be an int (got {type(k).__name__} {k!r})")
    max_k = num_nodes if loop else num_nodes - 1
    if k < 1:
        raise ValueError(f"'k' must be >= 1 (got {k})")
    if k > max_k:
        raise ValueError(f"'k' must be smaller than the number of nodes "
                         f"{'' if not loop else 'or equal to it '}"
                         f"(got k={k} for N={num_nodes} nodes)")
    if metric is not None and metric not in METRICS:
        raise ValueError(f"'metric' must be one of {METRICS} "
                         f"(got {metric!r})")
    if symmetrize not in SYMMETRIZE_MODES:
        raise ValueError(f"'symmetrize' must be one of {SYMMETRIZE_MODES} "
                         f"(got {symmetrize!r})")
    if block_size is not None and (isinstance(block_size, bool) or
                                   not isinstance(block_size, int) or
                                   block_size < 1):
        raise ValueError(f"'block_size' must be a positive int "
                         f"(got {block_size!r})")
    return max_k


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
    work is about half a Gram matrix :math:`\mathbf{X}\mathbf{X}^{\top}`.
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
    x = _check_features(x)
    num_nodes = x.size(0)
    max_k = check_knn_args(num_nodes, k, loop, symmetrize, metric=metric,
                           block_size=block_size)
    if block_size is None:
        block_size = _default_block_size(num_nodes)

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
    sim = _Similarity(search, metric, first=_duplicate_groups(z),
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
    first copy, so that they tie exactly (see :func:`_duplicate_groups`).
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
        self.first = _duplicate_groups(z) if (first is None and
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
        out = _block_similarity(self.compute[a], self.compute[b], self.metric,
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
    best.val, pos = _topk_lowest_index(vals, k)
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
        val, idx = _topk_lowest_index(out, k)
        best.val[ids] = val
        best.idx[ids] = idx
    return best, int(redo.numel())
