r"""The pieces every exact k-NN builder of the package shares.

Three builders make the same graph: :func:`~pyg_dnnmod.utils.knn_graph`
(blocked, one process),
:func:`~pyg_dnnmod.similarity.knn_graph_from_similarity` (from a
precomputed Gram matrix) and
:func:`~pyg_dnnmod.distributed.distributed_knn_graph` (rows sharded across
processes). They agree edge for edge because they share what is here:

* the argument checks (:func:`check_features`, :func:`check_knn_args`,
  :func:`check_knn_modes`, :func:`check_block_size`) and the default block
  size (:func:`default_block_size`);
* the feature preparation (:func:`prepare_features`), the similarity of a
  block of rows (:func:`block_similarity`) and of chosen pairs
  (:func:`pair_dot`, :func:`neighbour_similarity`);
* the tie rule, "ties go to the lowest index" (:func:`topk_lowest_index`);
* the duplicate handling: bit-identical rows are found
  (:func:`duplicate_groups`, from the exact integer hashes of
  :func:`row_hash`) and share one computed similarity, so that they tie.

An internal module: its names are public for the package's other
subpackages; users call the builders.
"""
import math
import warnings
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from pyg_dnnmod.names import METRICS
from pyg_dnnmod.utils._symmetrize import SYMMETRIZE_MODES
from pyg_dnnmod.utils.threads import small_work

# METRICS, the similarity metrics of the k-NN builders, comes from
# pyg_dnnmod.names (the command line offers them without torch).

__all__ = [
    'METRICS',
    'SYMMETRIZE_MODES',
    'check_features',
    'check_knn_modes',
    'check_block_size',
    'check_knn_args',
    'default_block_size',
    'prepare_features',
    'row_norms',
    'pair_dot',
    'neighbour_similarity',
    'block_similarity',
    'row_hash',
    'duplicate_groups',
    'topk_lowest_index',
]


def check_features(x: Tensor, name: str = 'x') -> Tensor:
    r"""Checks the node features :obj:`x` of a k-NN builder and returns them
    as a float matrix :math:`[N, D]`: trailing dimensions are flattened,
    float64 stays float64 and anything else becomes float32. Raises a
    :class:`TypeError` or :class:`ValueError` naming :obj:`name` for a
    non-tensor, fewer than two dimensions, complex values, an empty tensor,
    or NaN and Inf values.

    Example:
        >>> check_features(torch.ones(2, 1, 2, dtype=torch.int64))
        tensor([[1., 1.],
                [1., 1.]])
        >>> check_features(torch.ones(3))
        Traceback (most recent call last):
        ...
        ValueError: 'x' must be at least two-dimensional [num_nodes, num_features] (got 1 dimension with shape (3,))
    """
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


def check_knn_modes(metric: Optional[str], symmetrize: str) -> None:
    r"""Checks :obj:`metric` (one of :obj:`METRICS`, or :obj:`None` to skip)
    and :obj:`symmetrize` (one of :obj:`SYMMETRIZE_MODES`).

    Example:
        >>> check_knn_modes('cosine', 'half')
        >>> check_knn_modes('cosine', 'mean')
        Traceback (most recent call last):
        ...
        ValueError: 'symmetrize' must be one of ('half', 'max', 'sum', 'none') (got 'mean')
    """
    if metric is not None and metric not in METRICS:
        raise ValueError(f"'metric' must be one of {METRICS} "
                         f"(got {metric!r})")
    if symmetrize not in SYMMETRIZE_MODES:
        raise ValueError(f"'symmetrize' must be one of {SYMMETRIZE_MODES} "
                         f"(got {symmetrize!r})")


def check_block_size(block_size: Optional[int]) -> None:
    r"""Checks that :obj:`block_size` is :obj:`None` or a positive int.

    Example:
        >>> check_block_size(0)
        Traceback (most recent call last):
        ...
        ValueError: 'block_size' must be a positive int (got 0)
    """
    if block_size is not None and (isinstance(block_size, bool) or
                                   not isinstance(block_size, int) or
                                   block_size < 1):
        raise ValueError(f"'block_size' must be a positive int "
                         f"(got {block_size!r})")


def check_knn_args(num_nodes: int, k: int, loop: bool, symmetrize: str,
                   metric: Optional[str] = None,
                   block_size: Optional[int] = None) -> int:
    r"""Checks the arguments shared by the k-NN builders and returns the
    largest valid :obj:`k` (:math:`N - 1`, or :math:`N` with self-loops).

    Example:
        >>> check_knn_args(5, 3, loop=False, symmetrize='half')
        4
        >>> check_knn_args(5, 5, loop=False, symmetrize='half')
        Traceback (most recent call last):
        ...
        ValueError: 'k' must be smaller than the number of nodes (got k=5 for N=5 nodes)
    """
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"'k' must be an int (got {type(k).__name__} {k!r})")
    max_k = num_nodes if loop else num_nodes - 1
    if k < 1:
        raise ValueError(f"'k' must be >= 1 (got {k})")
    if k > max_k:
        raise ValueError(f"'k' must be smaller than the number of nodes "
                         f"{'' if not loop else 'or equal to it '}"
                         f"(got k={k} for N={num_nodes} nodes)")
    check_knn_modes(metric, symmetrize)
    check_block_size(block_size)
    return max_k


def default_block_size(num_nodes: int) -> int:
    r"""The default rows per block for :math:`N` nodes: about :math:`N / 8`,
    between 256 and 4096 (and at most :math:`N`), and at least 512 once
    :math:`N` exceeds 1,024.

    About eight row blocks: the upper triangle of the block grid then costs
    :math:`(1 + 1/8) / 2` of a full Gram matrix, and each block product is
    still large enough to run near full speed. Blocks of 256 rows are not,
    once there are many of them: at :math:`N = 2000, D = 4096` they made the
    whole k-NN 10-20 % slower than blocks of 512 on a 2-core AVX-512 CPU,
    more than the smaller triangle saved; at :math:`N = 500` three blocks of
    256 are as fast as one of 500 and do a quarter less work.

    Example:
        >>> [default_block_size(n) for n in (100, 500, 2000, 10000)]
        [100, 256, 512, 1250]
    """
    lower = 256 if num_nodes <= 1024 else 512
    return max(1, min(num_nodes, 4096, max(lower, -(-num_nodes // 8))))


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
    # Row statistics are accumulated in float64 and rounded once: a row's
    # result then does not depend on how many rows share the tensor
    # (reduction kernels may split differently), so shards, blocks and
    # devices agree. Cosine is one read of x for the norms and one pass that
    # divides by them.
    if metric == 'pearson':
        return _centred_unit_rows(x, eps)
    norm = row_norms(x).clamp_min_(eps).to(x.device, x.dtype)
    return x / norm.unsqueeze(1)


# Values per float64 chunk of _centred_unit_rows: 128 KB, within the cache,
# and below torch's parallel grain (32,768 values), so that each op runs on
# one thread: on a machine whose other cores are busy, every op that wakes
# the intra-op threads costs milliseconds.
_CHUNK = 2**14


def row_norms(x: Tensor) -> Tensor:
    r"""The Euclidean norm of every row of :obj:`x` :math:`[N, D]`,
    accumulated in float64 (so a row's norm does not depend on the other
    rows), as a float64 tensor :math:`[N]` on the CPU. On the CPU this is
    one single-threaded NumPy pass (:func:`numpy.einsum` casts in small
    buffers, with no float64 copy of :obj:`x`); elsewhere one torch
    reduction.

    Example:
        >>> row_norms(torch.tensor([[3., 4.], [0., 0.]]))
        tensor([5., 0.], dtype=torch.float64)
    """
    x = x.detach()
    if x.device.type != 'cpu':
        return torch.linalg.vector_norm(x, dim=1, dtype=torch.float64).cpu()
    a = x.numpy() if x.dtype in (torch.float32, torch.float64) else \
        x.float().numpy()
    return torch.from_numpy(np.sqrt(np.einsum('ij,ij->i', a, a,
                                              dtype=np.float64)))


def _centred_unit_rows(x: Tensor, eps: float) -> Tensor:
    r"""Every row minus its mean, divided by the norm of the result, in
    float64 chunk by chunk and rounded once (Pearson's rows)."""
    out = torch.empty_like(x)
    num_nodes, dim = x.shape
    # Small chunks on the CPU (see _CHUNK), large ones for a GPU's kernels.
    chunk = _CHUNK if x.device.type == 'cpu' else 2**22
    if dim <= chunk:
        step = max(1, chunk // max(1, dim))
        for a in range(0, num_nodes, step):
            xb = x[a:a + step].to(torch.float64, copy=True)
            xb.sub_(xb.mean(dim=1, keepdim=True))
            xb.div_(torch.linalg.vector_norm(xb, dim=1, keepdim=True)
                    .clamp_min_(eps))
            out[a:a + step] = xb
        return out
    chunks = [slice(c, c + chunk) for c in range(0, dim, chunk)]
    for i in range(num_nodes):
        mean = sum(float(x[i, c].to(torch.float64).sum())
                   for c in chunks) / dim
        sq = sum(float(torch.linalg.vector_norm(
            x[i, c].to(torch.float64) - mean))**2 for c in chunks)
        norm = max(math.sqrt(sq), eps)
        for c in chunks:
            out[i, c] = x[i, c].to(torch.float64).sub_(mean).div_(norm)
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

    :func:`~pyg_dnnmod.utils.knn_graph` chooses neighbours by blocked matrix
    products, whose last bits depend on the block shapes; the weights it
    returns come from here instead (:func:`pair_dot`, one kernel for every
    pair), so they do not depend on the block size, the number of processes
    or the precision used to find the neighbours. The Euclidean similarity
    is accumulated in float64.

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


def block_similarity(za: Tensor, zb: Tensor, metric: str,
                     sq_norm_a: Optional[Tensor] = None,
                     sq_norm_b: Optional[Tensor] = None) -> Tensor:
    r"""The similarities of the prepared rows :obj:`za` against the rows
    :obj:`zb` by one matrix product, :math:`[R_a, R_b]`. For
    :obj:`"euclidean"` they are :math:`1 / (1 + d_{ij})`, a monotone
    similarity of the distance in :math:`(0, 1]`, from the squared row norms
    :obj:`sq_norm_a` and :obj:`sq_norm_b`; every other metric is the dot
    product.

    Example:
        >>> z = torch.tensor([[0., 0.], [3., 4.]])
        >>> sq = (z * z).sum(dim=1)
        >>> block_similarity(z, z, 'euclidean', sq, sq)
        tensor([[1.0000, 0.1667],
                [0.1667, 1.0000]])
    """
    sim = za @ zb.t()
    if metric == 'euclidean':
        dist2 = (sq_norm_a.unsqueeze(1) + sq_norm_b.unsqueeze(0) - 2 * sim)
        sim = 1.0 / (1.0 + dist2.clamp_min_(0).sqrt_())
    return sim


def row_hash(bits: Tensor, seed: int) -> Tensor:
    r"""An exact integer hash of every row of :obj:`bits` (int32, e.g. the
    bits of float32 rows): identical rows get the same value whatever the
    order of summation, since integer addition (wrapping in int64) is
    associative, unlike float addition.

    Example:
        >>> bits = torch.tensor([[1., 2.], [3., 4.], [1., 2.]]).view(
        ...     torch.int32)
        >>> h = row_hash(bits, seed=0)
        >>> bool(h[0] == h[2]), bool(h[0] == h[1])
        (True, False)
    """
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


def duplicate_groups(z: Tensor) -> Optional[Tensor]:
    r"""Finds the bit-identical rows of the float32 or float64 matrix
    :obj:`z`: returns :obj:`first` with :obj:`first[i]` the lowest index of
    the rows equal to row :obj:`i`, or :obj:`None` when all rows differ.

    A matrix product need not give bit-identical results for two identical
    columns (tiles at the matrix edge use other kernels), so duplicates would
    break the "ties to the lowest index" rule; the k-NN builders give all
    copies of a row one shared value instead.

    Cost: a hash of about 64 evenly spaced columns for every row, a hash of
    the full row only for rows whose sampled hash is shared, and an exact
    comparison of the rows whose full hashes agree.

    Example:
        >>> duplicate_groups(torch.tensor([[1., 2.], [0., 1.], [1., 2.]]))
        tensor([0, 1, 0])
        >>> duplicate_groups(torch.eye(3)) is None
        True
    """
    with small_work(64 * z.size(0)):
        return _duplicate_groups(z)


def _duplicate_groups(z: Tensor) -> Optional[Tensor]:
    num_nodes = z.size(0)
    bits = z.contiguous().view(torch.int32)
    sampled = bits[:, ::max(1, bits.size(1) // 64)]
    candidates = _shared(row_hash(sampled, seed=0)).nonzero().view(-1)
    if candidates.numel() == 0:
        return None
    h = row_hash(bits[candidates], seed=1)
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


def topk_lowest_index(sim: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    r"""Row-wise top-k of :obj:`sim` where ties go to the lowest column index
    (what :obj:`heapq.nlargest` over :obj:`range(N)` does); returns the
    values and the column indices, in descending order of value.

    :meth:`torch.topk` does not specify which of several equal values it
    returns. Its set is right unless the k-th value ties with the (k+1)-th,
    which one extra element of the same top-k call reveals; only those rows
    are recomputed, keeping every value above the k-th one and then the
    lowest-index copies of it.

    Example:
        >>> topk_lowest_index(torch.tensor([[1., 3., 3., 3.]]), 2)
        (tensor([[3., 3.]]), tensor([[1, 2]]))
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
