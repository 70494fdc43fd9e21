r"""Position maps: which graph nodes feed each position of a traced tensor,
and how data movement re-maps them (see :mod:`pyg_dnnmod.weights._trace`).

A *position* is a channel in the rolled representation (the first non-batch
dimension) and one scalar entry of a sample in the unrolled representation.
A :class:`Value` lists (position, node) pairs; an operation that only moves
data (a gather, a pooling window, a reduction over space) sends old
positions to new ones, and :func:`compose_value` carries the nodes along.
The functions here are pure: they take shapes and index tensors and return
index tensors.
"""
import math
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class Layer:
    r"""One layer of graph nodes: :obj:`size` nodes from id :obj:`start`,
    the positions of an output of shape :obj:`shape` (without the batch).
    :obj:`consumed` is set once another layer reads it; a layer merged into
    another (two branches ending in the same channels) names it in
    :obj:`merged_into`."""
    name: str
    start: int
    size: int
    shape: Tuple[int, ...]
    consumed: bool = False
    merged_into: Optional[int] = None


@dataclass
class Value:
    r"""The nodes feeding a traced tensor: position :obj:`pos[i]` depends on
    node :obj:`node[i]`. :obj:`layer` is set when the map is exactly
    position :math:`p \mapsto` node :obj:`start + p` of that layer;
    :obj:`fresh` when the tensor is the direct output of that layer."""
    pos: Tensor
    node: Tensor
    shape: Tuple[int, ...]
    num_pos: int
    layer: Optional[int] = None
    fresh: bool = False


@dataclass
class Unknown:
    r"""A traced tensor whose positions cannot be followed, and the
    operation that lost them."""
    reason: str


Info = Union[Value, Unknown]


def call_arg(args: Sequence[Any], kwargs: Dict[str, Any], i: int, name: str,
             default: Any = None) -> Any:
    r"""Argument :obj:`i` (or keyword :obj:`name`) of a call.

    Example:
        >>> call_arg((1, ), {'stride': 2}, 1, 'stride')
        2
    """
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def pair(v: Any, n: int = 2) -> Tuple[int, ...]:
    r"""An int or a sequence of ints as a :obj:`n`-tuple, as torch reads
    :obj:`kernel_size`, :obj:`stride` and the like.

    Example:
        >>> pair(3), pair([2]), pair((1, 2))
        ((3, 3), (2, 2), (1, 2))
    """
    if isinstance(v, (tuple, list)):
        return tuple(int(x) for x in v) if len(v) == n else (int(v[0]), ) * n
    return (int(v), ) * n


def join_nodes(value: Value, in_pos: Tensor) -> Tuple[Tensor, Tensor]:
    r"""For every entry of :obj:`in_pos`, the nodes feeding that
    position: returns ``(index into in_pos, node)``, one row per pair.

    Example:
        >>> value = Value(torch.tensor([0, 1, 1]), torch.tensor([5, 6, 7]),
        ...               (2, ), 2)
        >>> [t.tolist() for t in join_nodes(value, torch.tensor([1, 0]))]
        [[0, 0, 1], [6, 7, 5]]
    """
    counts = torch.bincount(value.pos, minlength=value.num_pos)
    if value.pos.numel() == 0:
        empty = torch.empty(0, dtype=torch.long)
        return empty, empty
    if int(counts.max()) <= 1:
        node_of = torch.full((value.num_pos, ), -1, dtype=torch.long)
        node_of[value.pos] = value.node
        nodes = node_of[in_pos]
        idx = (nodes >= 0).nonzero().view(-1)
        return idx, nodes[idx]
    order = torch.argsort(value.pos, stable=True)
    sorted_node = value.node[order]
    ptr = torch.cumsum(counts, 0) - counts
    rep = counts[in_pos]
    idx = torch.repeat_interleave(torch.arange(in_pos.numel()), rep)
    offset = torch.arange(idx.numel()) - torch.repeat_interleave(
        torch.cumsum(rep, 0) - rep, rep)
    return idx, sorted_node[ptr[in_pos[idx]] + offset]


def compose_value(value: Value, new_pos: Tensor, old_pos: Tensor,
                  shape: Tuple[int, ...], num_pos: int) -> Value:
    r"""The value of :obj:`num_pos` positions whose position
    :obj:`new_pos[i]` reads the old position :obj:`old_pos[i]` of
    :obj:`value`; it keeps the layer of :obj:`value` when it is the same
    map.

    Example:
        >>> value = Value(torch.arange(3), torch.tensor([4, 5, 6]), (3, ), 3)
        >>> flipped = compose_value(value, torch.arange(3),
        ...                         torch.tensor([2, 1, 0]), (3, ), 3)
        >>> flipped.pos.tolist(), flipped.node.tolist()
        ([0, 1, 2], [6, 5, 4])
    """
    idx, nodes = join_nodes(value, old_pos)
    out = Value(new_pos[idx], nodes, shape, num_pos)
    if value.layer is not None and num_pos == value.num_pos and \
            torch.equal(new_pos, old_pos) and \
            torch.equal(torch.sort(new_pos).values,
                        torch.arange(num_pos)):
        out.layer = value.layer
    return out


def windows(shape: Tuple[int, ...], kernel: Tuple[int, int],
            stride: Tuple[int, int], padding: Tuple[int, int],
            dilation: Tuple[int, int], out_hw: Tuple[int, int]) -> Tensor:
    r"""Input position (or -1 for padding) under every tap of every
    window: shape :obj:`[C, kh * kw, Ho * Wo]`.

    Example:
        >>> windows((1, 2, 2), (2, 2), (1, 1), (0, 0), (1, 1),
        ...         (1, 1)).view(-1).tolist()
        [0, 1, 2, 3]
        >>> windows((1, 1, 2), (1, 2), (1, 1), (0, 1), (1, 1),
        ...         (1, 3)).tolist()  # one column of padding on each side
        [[[-1, 0, 1], [0, 1, -1]]]
    """
    C, H, W = shape
    img = (torch.arange(C * H * W, dtype=torch.float64) + 1).view(
        1, C, H, W)
    extra = []
    for size, k, s, p, d, o in zip((H, W), kernel, stride, padding,
                                   dilation, out_hw):
        need = (o - 1) * s + d * (k - 1) + 1
        extra.append(max(0, need - size - p))
    img = F.pad(img, (padding[1], extra[1], padding[0], extra[0]))
    cols = F.unfold(img, kernel, dilation=dilation, stride=stride)
    assert cols.size(-1) == out_hw[0] * out_hw[1]
    return cols.view(C, kernel[0] * kernel[1], -1).long() - 1


def window_positions(cols: Tensor) -> Tuple[Tensor, Tensor]:
    r"""The (new, old) position pairs of a pooling over the
    :func:`windows` :obj:`cols`: output position :math:`c L + l` reads
    every input position under window :math:`l` of channel :math:`c`.

    Example:
        >>> cols = torch.tensor([[[-1, 0], [0, 1]]])  # 1 channel, 2 taps
        >>> [t.tolist() for t in window_positions(cols)]
        [[1, 0, 1], [0, 0, 1]]
    """
    C, taps, L = cols.shape
    new_pos = (torch.arange(C)[:, None, None] * L +
               torch.arange(L)[None, None, :]).expand(C, taps, L)
    keep = cols >= 0
    return new_pos[keep], cols[keep]


def adaptive_pool_positions(shape: Tuple[int, int, int],
                            out_hw: Tuple[int, int]
                            ) -> Tuple[Tensor, Tensor]:
    r"""The (new, old) position pairs of an adaptive pooling of a
    :obj:`[C, H, W]` sample to :obj:`out_hw`, with torch's windows
    (:math:`\lfloor i H / H_o \rfloor` to :math:`\lceil (i + 1) H / H_o
    \rceil`).

    Example:
        >>> [t.tolist() for t in adaptive_pool_positions((1, 1, 3), (1, 2))]
        [[0, 0, 1, 1], [0, 1, 1, 2]]
    """
    C, H, W = shape
    Ho, Wo = out_hw
    rows = [(i * H // Ho, -(-(i + 1) * H // Ho)) for i in range(Ho)]
    cols = [(j * W // Wo, -(-(j + 1) * W // Wo)) for j in range(Wo)]
    new_local, old_local = [], []
    for i, (h0, h1) in enumerate(rows):
        for j, (w0, w1) in enumerate(cols):
            hh, ww = torch.meshgrid(torch.arange(h0, h1),
                                    torch.arange(w0, w1), indexing='ij')
            old_local.append((hh * W + ww).reshape(-1))
            new_local.append(torch.full((old_local[-1].numel(), ),
                                        i * Wo + j))
    old_local_t, new_local_t = torch.cat(old_local), torch.cat(new_local)
    channel = torch.arange(C)[:, None]
    old_pos = (channel * H * W + old_local_t).reshape(-1)
    new_pos = (channel * Ho * Wo + new_local_t).reshape(-1)
    return new_pos, old_pos


def reduction_positions(shape: Tuple[int, ...], sample_dims: Sequence[int]
                        ) -> Tuple[Tensor, Tensor]:
    r"""The (new, old) position pairs of a reduction of a sample of
    :obj:`shape` over its dimensions :obj:`sample_dims` (counted without
    the batch, sorted): every kept index reads all reduced entries.

    Example:
        >>> [t.tolist() for t in reduction_positions((2, 2), [1])]
        [[0, 0, 1, 1], [0, 1, 2, 3]]
    """
    kept = [d for d in range(len(shape)) if d not in sample_dims]
    idx = torch.arange(math.prod(shape)).view(shape)
    grid = idx.permute(kept + list(sample_dims)).reshape(
        math.prod(shape[d] for d in kept), -1)
    new_pos = torch.arange(grid.size(0))[:, None].expand_as(grid)
    return new_pos.reshape(-1), grid.reshape(-1)


def position_index(t: Tensor, value: Value, unrolled: bool) -> Tensor:
    r"""A tensor shaped like :obj:`t` that holds, in every entry, its
    position plus one (entries of a channel share it when not
    :obj:`unrolled`): replaying a data-movement op on it tells where every
    output entry comes from (0 for an entry that comes from nowhere).

    Example:
        >>> value = Value(torch.arange(2), torch.arange(2), (2, 3), 2)
        >>> position_index(torch.zeros(1, 2, 3), value, unrolled=False)
        tensor([[[1., 1., 1.],
                 [2., 2., 2.]]], dtype=torch.float64)
    """
    shape = (1, ) + tuple(t.shape[1:])
    if unrolled:
        idx = torch.arange(1, value.num_pos + 1, dtype=torch.float64)
        idx = idx.view(shape)
    else:
        idx = torch.arange(1, value.num_pos + 1, dtype=torch.float64)
        idx = idx.view((1, -1) + (1, ) * (t.dim() - 2)).expand(shape)
    return idx.expand(t.shape).contiguous().to(t.device)
