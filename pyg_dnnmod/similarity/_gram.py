r"""Gram matrices and the k-NN graph built from one.

A layer's Gram matrix :math:`\mathbf{K} = \mathbf{X}\mathbf{X}^{\top}` over
:math:`N` samples is the floor of a snapshot's cost (:math:`N^2 D` flops),
and it is all that linear CKA needs too. These functions compute it once,
turn it into the cosine or Pearson similarities of
:func:`~pyg_dnnmod.utils.knn_graph`, and build the same k-NN graph from
them, so that a caller who needs both the snapshot and the CKA pays for one
product.
"""
import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from pyg_dnnmod.utils import symmetrize_edges
from pyg_dnnmod.utils.knn_kernel import (
    check_block_size,
    check_features,
    check_knn_args,
    default_block_size,
    duplicate_groups,
    topk_lowest_index,
)

#: The metrics a Gram matrix can be turned into.
GRAM_METRICS = ('cosine', 'pearson', 'euclidean', 'dot')


def gram_matrix(x: Tensor, block_size: Optional[int] = None) -> Tensor:
    r"""Returns the Gram matrix :math:`\mathbf{K} = \mathbf{X}
    \mathbf{X}^{\top}` of the rows of :obj:`x`,

    .. math::
        K_{ij} = \langle \mathbf{x}_i, \mathbf{x}_j \rangle,

    computed as blocks of the upper triangle only and mirrored, so that it
    costs about half a matrix product and is exactly symmetric
    (:math:`K_{ij}` and :math:`K_{ji}` are the same floating-point number,
    which a plain :obj:`x @ x.t()` does not promise).

    Args:
        x (torch.Tensor): Features :math:`[N, D]` (or :math:`[N, *]`,
            flattened); float64 stays float64, anything else becomes float32.
        block_size (int, optional): Rows per block; by default about
            :math:`N / 8`, between 256 and 4096, as in
            :func:`~pyg_dnnmod.utils.knn_graph`. (default: :obj:`None`)

    Returns:
        torch.Tensor: :math:`\mathbf{K}` :math:`[N, N]` on the device of
        :obj:`x`.

    Example:
        >>> gram_matrix(torch.tensor([[1., 2.], [3., 4.]]))
        tensor([[ 5., 11.],
                [11., 25.]])
    """
    x = check_features(x)
    num_nodes = x.size(0)
    check_block_size(block_size)
    if block_size is None:
        block_size = default_block_size(num_nodes)
    gram = x.new_empty(num_nodes, num_nodes)
    starts = list(range(0, num_nodes, block_size))
    for i, a0 in enumerate(starts):
        a = slice(a0, min(a0 + block_size, num_nodes))
        # One product for the whole row of blocks right of the diagonal.
        block = x[a] @ x[a0:].t()
        gram[a, a0:] = block
        gram[a0 + block.size(0):, a] = block[:, block.size(0):].t()
        # A block times itself need not come out symmetric bit for bit;
        # its upper triangle is mirrored.
        diag = gram[a, a]
        diag.copy_(diag.triu() + diag.triu(1).t())
    return gram


def gram_similarity(
    gram: Tensor,
    metric: str = 'cosine',
    row_sums: Optional[Tensor] = None,
    num_features: Optional[int] = None,
    eps: float = 1e-8,
) -> Tensor:
    r"""Turns a Gram matrix into the similarity matrix of
    :func:`~pyg_dnnmod.utils.knn_graph`, without the features.

    * :obj:`"cosine"`: :math:`S_{ij} = K_{ij} / (\max(\sqrt{K_{ii}},
      \epsilon) \max(\sqrt{K_{jj}}, \epsilon))`, so a zero row has
      similarity :math:`0` to every row, as in
      :func:`~pyg_dnnmod.utils.prepare_features`;
    * :obj:`"pearson"`: the cosine of the row-centred features, whose Gram
      matrix is

      .. math::
          \tilde{\mathbf{K}} = \mathbf{K} - \frac{1}{D}\,
          \mathbf{s}\mathbf{s}^{\top}, \qquad
          s_i = \textstyle\sum_d X_{id},

      so it needs the row sums :obj:`row_sums` and the number of features
      :obj:`num_features` :math:`D`;
    * :obj:`"euclidean"`: :math:`1 / (1 + d_{ij})` with :math:`d_{ij}^2 =
      K_{ii} + K_{jj} - 2 K_{ij}`, the similarity of
      :func:`~pyg_dnnmod.utils.knn_graph`'s :obj:`"euclidean"`;
    * :obj:`"dot"`: :math:`\mathbf{K}` itself.

    Args:
        gram (torch.Tensor): The Gram matrix :math:`[N, N]`, e.g. from
            :func:`gram_matrix`.
        metric (str, optional): :obj:`"cosine"`, :obj:`"pearson"`,
            :obj:`"euclidean"` or :obj:`"dot"`. (default: :obj:`"cosine"`)
        row_sums (torch.Tensor, optional): :math:`\mathbf{s}` :math:`[N]`,
            for :obj:`"pearson"`. (default: :obj:`None`)
        num_features (int, optional): :math:`D`, for :obj:`"pearson"`.
            (default: :obj:`None`)
        eps (float, optional): The norm clamp. (default: :obj:`1e-8`)

    Returns:
        torch.Tensor: The similarities :math:`[N, N]`, a new tensor.

    Example:
        >>> x = torch.tensor([[3., 4.], [0., 0.], [6., 8.]])
        >>> gram_similarity(gram_matrix(x))
        tensor([[1., 0., 1.],
                [0., 0., 0.],
                [1., 0., 1.]])
    """
    _check_gram(gram)
    if metric not in GRAM_METRICS:
        raise ValueError(f"'metric' must be one of {GRAM_METRICS} "
                         f"(got {metric!r})")
    if metric == 'dot':
        return gram.clone()
    if metric == 'euclidean':
        sq_norm = gram.diagonal()
        dist2 = sq_norm.unsqueeze(1) + sq_norm.unsqueeze(0) - 2 * gram
        return 1.0 / (1.0 + dist2.clamp_min_(0).sqrt_())
    if metric == 'pearson':
        if row_sums is None or num_features is None:
            raise ValueError("metric 'pearson' needs 'row_sums' and "
                             "'num_features' (got None)")
        if isinstance(num_features, bool) or not isinstance(
                num_features, int) or num_features < 1:
            raise ValueError(f"'num_features' must be a positive int "
                             f"(got {num_features!r})")
        if row_sums.dim() != 1 or row_sums.numel() != gram.size(0):
            raise ValueError(f"'row_sums' must have shape [{gram.size(0)}] "
                             f"(got {list(row_sums.shape)})")
        s = row_sums.to(gram.dtype)
        gram = gram - torch.outer(s, s) / num_features
    # Rounding can make a (centred) diagonal slightly negative.
    norm = gram.diagonal().clamp_min(0).sqrt().clamp_min(eps)
    return gram / norm.unsqueeze(1) / norm.unsqueeze(0)


def _check_gram(gram: Tensor) -> None:
    if not isinstance(gram, Tensor):
        raise TypeError(f"'gram' must be a torch.Tensor "
                        f"(got {type(gram).__name__})")
    if gram.dim() != 2 or gram.size(0) != gram.size(1):
        raise ValueError(f"'gram' must be a square matrix [N, N] "
                         f"(got shape {list(gram.shape)})")
    if not gram.is_floating_point():
        raise TypeError(f"'gram' must be floating point (got dtype "
                        f"{gram.dtype})")


def knn_graph_from_similarity(
    sim: Tensor,
    k: int = 3,
    loop: bool = False,
    symmetrize: str = 'half',
    duplicates: Optional[Tensor] = None,
    block_size: int = 4096,
) -> Tuple[Tensor, Tensor]:
    r"""Builds the k-NN graph of :func:`~pyg_dnnmod.utils.knn_graph` from a
    dense similarity matrix :math:`\mathbf{S}`, e.g. from
    :func:`gram_similarity`.

    Every node :math:`i` keeps its :math:`k` most similar other nodes, ties
    to the lowest index, giving :math:`A_{ij} = S_{ij}` for the chosen
    :math:`j`, then symmetrised as in :func:`~pyg_dnnmod.utils.knn_graph`
    (:obj:`"half"`: :math:`(\mathbf{A} + \mathbf{A}^{\top}) / 2`). With the
    same similarities the result is that of
    :func:`~pyg_dnnmod.utils.knn_graph` edge for edge; similarities
    computed another way (here from :math:`\mathbf{K}` instead of from
    normalised features) differ by rounding only, which can reorder two
    neighbours whose similarities differ in the last bits, so compare in
    float64 where that matters.

    Args:
        sim (torch.Tensor): Similarities :math:`[N, N]`, not changed.
        k (int, optional): Neighbours per node. (default: :obj:`3`)
        loop (bool, optional): If :obj:`True`, a node may be its own
            neighbour. (default: :obj:`False`)
        symmetrize (str, optional): :obj:`"half"`, :obj:`"max"`,
            :obj:`"sum"` or :obj:`"none"`, see
            :func:`~pyg_dnnmod.utils.knn_graph`. (default: :obj:`"half"`)
        duplicates (torch.Tensor, optional): :obj:`first[i]`, the lowest
            index of the rows identical to row :obj:`i` (see
            :func:`duplicate_rows`); every copy then gets the similarities
            of the first one, so that copies tie exactly as in
            :func:`~pyg_dnnmod.utils.knn_graph`. (default: :obj:`None`)
        block_size (int, optional): Rows ranked at once (bounds the
            temporary memory). (default: :obj:`4096`)

    Returns:
        (torch.LongTensor, torch.Tensor): :obj:`edge_index` :math:`[2, E]`
        and :obj:`edge_weight` :math:`[E]` in the dtype of :obj:`sim`.

    Example:
        >>> x = torch.tensor([[1., 0.], [1., 0.1], [0., 1.], [0.1, 1.]])
        >>> sim = gram_similarity(gram_matrix(x))
        >>> edge_index, edge_weight = knn_graph_from_similarity(sim, k=1)
        >>> edge_index
        tensor([[0, 1, 2, 3],
                [1, 0, 3, 2]])
        >>> edge_weight
        tensor([0.9950, 0.9950, 0.9950, 0.9950])
    """
    _check_gram(sim)
    num_nodes = sim.size(0)
    check_knn_args(num_nodes, k, loop, symmetrize, block_size=block_size)
    if bool(torch.isnan(sim).any()):
        raise ValueError("'sim' contains NaN values")

    columns = None
    if duplicates is not None:
        if duplicates.dim() != 1 or duplicates.numel() != num_nodes:
            raise ValueError(f"'duplicates' must have shape [{num_nodes}] "
                             f"(got {list(duplicates.shape)})")
        # Every column of a group of copies becomes the first copy's column
        # (as knn_graph does), so the copies tie and the lowest index wins.
        columns = duplicates.to(sim.device)

    val = sim.new_empty(num_nodes, k)
    idx = torch.empty(num_nodes, k, dtype=torch.long, device=sim.device)
    for start in range(0, num_nodes, block_size):
        rows = slice(start, min(start + block_size, num_nodes))
        block = sim[rows] if columns is None else sim[rows][:, columns]
        block = block.clone() if columns is None else block
        if not loop:
            block.diagonal(offset=start).fill_(-math.inf)
        val[rows], idx[rows] = topk_lowest_index(block, k)

    row = torch.arange(num_nodes, device=sim.device).repeat_interleave(k)
    return symmetrize_edges(row, idx.view(-1), val.view(-1), num_nodes,
                            symmetrize)


def duplicate_rows(x: Tensor) -> Optional[Tensor]:
    r"""Finds the bit-identical rows of :obj:`x`: returns :obj:`first` with
    :obj:`first[i]` the lowest index of the rows equal to row :obj:`i`, or
    :obj:`None` when all rows differ (the usual case). Identical feature
    rows have identical similarities, which
    :func:`knn_graph_from_similarity` needs to know to break their ties as
    :func:`~pyg_dnnmod.utils.knn_graph` does.

    Example:
        >>> duplicate_rows(torch.tensor([[1., 2.], [0., 1.], [1., 2.]]))
        tensor([0, 1, 0])
        >>> duplicate_rows(torch.eye(3)) is None
        True
    """
    return duplicate_groups(check_features(x))
