r"""Follows a forward pass op by op to find which weights connect which
channels (or neurons, or spatial positions).

:func:`pyg_dnnmod.weights.weight_graph` needs the real data flow of a model,
not only the order of its layers: a residual block adds its input to the
output of its last convolution, a 1x1-conv shortcut joins two branches, a
flatten hands the channels of a convolution to the neurons of a linear layer.
Module hooks see the layers but not the additions between them, and
:mod:`torch.fx` fails on data-dependent control flow. A
:class:`~torch.overrides.TorchFunctionMode` sees every tensor operation of an
ordinary eager forward pass, so this module runs one on an example input and
tracks, for every intermediate tensor, which graph nodes feed each of its
positions.

A *position* is a channel in the rolled representation (the first non-batch
dimension) and one scalar entry of a sample in the unrolled representation.
Every traced tensor carries a map from its positions to provisional node
ids; weighted operations (convolutions, linear layers) create a new layer of
nodes and the edges from the nodes of their input.
"""
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

_CONV_OPS = {'conv1d': 1, 'conv2d': 2, 'conv3d': 3}
_ADD_OPS = {'add', 'add_', '__add__', '__iadd__', '__radd__'}
# Pure data movement: replaying them on a tensor of position indices tells
# where every output entry comes from.
_GATHER_OPS = {
    'view', 'reshape', 'flatten', 'unflatten', 'squeeze', 'unsqueeze',
    'contiguous', 'clone', 'view_as', 'reshape_as', '__getitem__', 'pad',
    'narrow', 'flip', 'roll', 'transpose', 'permute', 'movedim', 'swapaxes',
    't', 'channel_shuffle', 'native_channel_shuffle', 'pixel_shuffle',
    'pixel_unshuffle', 'repeat', 'expand', 'expand_as'
}
# May return their input itself, which then keeps what it was. Any other op
# returning its input (`relu(x, inplace=True)`) changed it.
_NOOP_OPS = {
    'contiguous', 'to', 'type', 'float', 'double', 'half', 'cpu', 'cuda',
    'detach', 'requires_grad_', 'view_as', 'reshape_as', 'reshape', 'view'
}
_POOL_OPS = {'max_pool2d', 'avg_pool2d', 'max_pool2d_with_indices'}
_ADAPTIVE_POOL_OPS = {
    'adaptive_avg_pool2d', 'adaptive_max_pool2d',
    'adaptive_max_pool2d_with_indices'
}
_REDUCE_OPS = {'mean', 'sum', 'amax', 'amin', 'nanmean', 'nansum'}


@dataclass
class _Layer:
    name: str
    start: int
    size: int
    shape: Tuple[int, ...]
    consumed: bool = False
    merged_into: Optional[int] = None


@dataclass
class _Value:
    r"""The nodes feeding a traced tensor: position :obj:`pos[i]` depends on
    node :obj:`node[i]`. :obj:`layer` is set when the map is exactly
    position :math:`p \mapsto` node :obj:`start + p` of that layer."""
    pos: Tensor
    node: Tensor
    shape: Tuple[int, ...]
    num_pos: int
    layer: Optional[int] = None
    fresh: bool = False


@dataclass
class _Unknown:
    reason: str


_Info = Union[_Value, _Unknown]


def _arg(args: Sequence[Any], kwargs: Dict[str, Any], i: int, name: str,
         default: Any = None) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def _pair(v: Any, n: int = 2) -> Tuple[int, ...]:
    if isinstance(v, (tuple, list)):
        return tuple(int(x) for x in v) if len(v) == n else (int(v[0]), ) * n
    return (int(v), ) * n


class WeightTracer(TorchFunctionMode):
    r"""Records the layers, edges and BatchNorm scales of one forward pass.

    Args:
        model (torch.nn.Module): The model (only read).
        unrolled (bool): Whether positions are all entries of a sample
            instead of its channels.
        bn (str): :obj:`'ignore'` or :obj:`'fold'`.
    """
    def __init__(self, model: nn.Module, unrolled: bool, bn: str) -> None:
        super().__init__()
        self.unrolled = unrolled
        self.bn = bn
        self.layers: List[_Layer] = []
        self.num_nodes = 0
        self.values: Dict[int, Tuple[Tensor, _Info]] = {}
        # (out node, in node, sum of squares, sum, scaled by BatchNorm)
        self.chunks: List[Tuple[Tensor, Tensor, Tensor, Tensor, bool]] = []
        self.scales: List[Tuple[Tensor, Tensor]] = []
        self.warnings: List[str] = []
        self.module_stack: List[str] = []
        self.param_names = {
            id(p): name.rsplit('.', 1)[0] if '.' in name else name
            for name, p in model.named_parameters()
        }
        self.matrix_params = {
            id(p): name
            for name, p in model.named_parameters() if p.dim() >= 2
        }
        self.calls: Dict[str, int] = {}
        self.batch_size = 0

    # Bookkeeping #############################################################

    def add_layer(self, name: str, shape: Tuple[int, ...]) -> int:
        size = math.prod(shape) if self.unrolled else shape[0]
        self.layers.append(_Layer(name, self.num_nodes, size, shape))
        self.num_nodes += size
        return len(self.layers) - 1

    def layer_value(self, lid: int, fresh: bool = False) -> _Value:
        layer = self.layers[lid]
        pos = torch.arange(layer.size)
        return _Value(pos, pos + layer.start, layer.shape, layer.size, lid,
                      fresh)

    def find(self, lid: int) -> int:
        while self.layers[lid].merged_into is not None:
            lid = self.layers[lid].merged_into
        return lid

    def start(self, x: Tensor) -> None:
        r"""Registers the model input :obj:`x` as layer 0."""
        self.batch_size = x.size(0)
        lid = self.add_layer('input', tuple(x.shape[1:]))
        self.values[id(x)] = (x, self.layer_value(lid))

    def lookup(self, t: Any) -> Optional[_Info]:
        if isinstance(t, Tensor):
            entry = self.values.get(id(t))
            if entry is not None and entry[0] is t:
                return entry[1]
        return None

    def mark_consumed(self, nodes: Tensor) -> None:
        if nodes.numel() == 0:
            return
        starts = torch.tensor([layer.start for layer in self.layers])
        lids = torch.searchsorted(starts, nodes.unique(), right=True) - 1
        for lid in lids.unique().tolist():
            self.layers[self.find(lid)].consumed = True

    def layer_name(self, weight: Optional[Tensor], op: str) -> str:
        name = self.param_names.get(id(weight)) if weight is not None \
            else None
        if name is None:
            name = self.module_stack[-1] if self.module_stack and \
                self.module_stack[-1] else op
        count = self.calls.get(name, 0)
        self.calls[name] = count + 1
        # A module called twice (shared weights) makes two layers.
        return name if count == 0 else f'{name}#{count}'

    # Position maps ###########################################################

    @staticmethod
    def join(value: _Value, in_pos: Tensor) -> Tuple[Tensor, Tensor]:
        r"""For every entry of :obj:`in_pos`, the nodes feeding that
        position: returns ``(index into in_pos, node)``, one row per pair."""
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

    def compose(self, value: _Value, new_pos: Tensor, old_pos: Tensor,
                shape: Tuple[int, ...]) -> _Value:
        r"""The value whose position :obj:`new_pos[i]` reads the old
        position :obj:`old_pos[i]` of :obj:`value`."""
        num_pos = math.prod(shape) if self.unrolled else shape[0]
        idx, nodes = self.join(value, old_pos)
        out = _Value(new_pos[idx], nodes, shape, num_pos)
        if value.layer is not None and num_pos == value.num_pos and \
                torch.equal(new_pos, old_pos) and \
                torch.equal(torch.sort(new_pos).values,
                            torch.arange(num_pos)):
            out.layer = value.layer
        return out

    def connect(self, lid: int, out_local: Tensor, in_pos: Tensor,
                sq: Tensor, s: Tensor, value: _Value) -> None:
        idx, nodes = self.join(value, in_pos)
        self.mark_consumed(nodes)
        out = out_local[idx] + self.layers[lid].start
        self.chunks.append((out, nodes, sq[idx], s[idx], True))

    # The mode ################################################################

    def __torch_function__(self, func: Callable, types: Any,
                           args: Sequence[Any] = (),
                           kwargs: Optional[Dict[str, Any]] = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = getattr(func, '__name__', '')
        flat, _ = tree_flatten((list(args), kwargs))
        inputs = [(t, self.lookup(t)) for t in flat]
        inputs = [(t, info) for t, info in inputs if info is not None]
        if not inputs:
            return out
        result = out
        if isinstance(out, (tuple, list)):
            if name.endswith('_with_indices') or (
                    name in _POOL_OPS | _ADAPTIVE_POOL_OPS
                    and len(out) == 2):
                result = out[0]
            else:
                for t in out:
                    if isinstance(t, Tensor):
                        self.values[id(t)] = (t, _Unknown(name))
                return out
        if not isinstance(result, Tensor):
            return out
        if name in _NOOP_OPS and any(result is t for t, _ in inputs):
            return out  # e.g. `x.contiguous()` returning `x` itself
        info = self.record(name, func, args, kwargs, inputs, result)
        self.values[id(result)] = (result, info)
        return out

    def record(self, name: str, func: Callable, args: Sequence[Any],
               kwargs: Dict[str, Any], inputs: List[Tuple[Tensor, _Info]],
               out: Tensor) -> _Info:
        if name in _CONV_OPS or name == 'linear':
            return self.weighted(name, args, kwargs, out)
        unknown = [info for _, info in inputs if isinstance(info, _Unknown)]
        if unknown:
            return unknown[0]
        self.check_parameters(name, args, kwargs)
        if name == 'batch_norm':
            return self.batch_norm(args, kwargs, inputs[0][1])
        if name in _ADD_OPS and len(inputs) == 2 \
                and inputs[0][0].shape == inputs[1][0].shape == out.shape:
            return self.add(inputs[0][1], inputs[1][1])
        if name == 'cat':
            return self.cat(args, kwargs, out)
        if len(inputs) == 1 and name in _GATHER_OPS and args \
                and args[0] is inputs[0][0]:
            return self.gather(func, args, kwargs, inputs[0][0],
                               inputs[0][1], out)
        if self.unrolled and len(inputs) == 1:
            t, value = inputs[0]
            if name in _POOL_OPS:
                return self.pool(name, args, kwargs, value, out)
            if name in _ADAPTIVE_POOL_OPS:
                return self.adaptive_pool(value, out)
            if name in _REDUCE_OPS:
                return self.reduce(args, kwargs, t, value, out)
        return self.passthrough(name, inputs, out)

    def check_parameters(self, name: str, args: Sequence[Any],
                         kwargs: Dict[str, Any]) -> None:
        flat, _ = tree_flatten((list(args), kwargs))
        for t in flat:
            if isinstance(t, Tensor) and id(t) in self.matrix_params:
                raise ValueError(
                    f"weight_graph cannot read the parameter "
                    f"'{self.matrix_params[id(t)]}' used by '{name}'; it "
                    f"supports Conv1d/2d/3d and Linear layers (and "
                    f"BatchNorm)")

    def passthrough(self, name: str, inputs: List[Tuple[Tensor, _Info]],
                    out: Tensor) -> _Info:
        B = self.batch_size
        for t, value in inputs:
            assert isinstance(value, _Value)
            if t.shape == out.shape:
                return _Value(value.pos, value.node, value.shape,
                              value.num_pos, value.layer)
        if not self.unrolled and len(inputs) == 1:
            value = inputs[0][1]
            assert isinstance(value, _Value)
            # Channel-preserving (pooling, reductions over space, ...).
            if out.dim() >= 2 and out.size(0) == B and \
                    out.size(1) == value.num_pos:
                return _Value(value.pos, value.node, tuple(out.shape[1:]),
                              value.num_pos, value.layer)
        return _Unknown(name)

    # Weighted layers #########################################################

    def weighted(self, name: str, args: Sequence[Any],
                 kwargs: Dict[str, Any], out: Tensor) -> _Value:
        x = _arg(args, kwargs, 0, 'input')
        weight = _arg(args, kwargs, 1, 'weight')
        if self.lookup(weight) is not None:
            raise ValueError(f"weight_graph cannot follow '{name}' with a "
                             f"weight computed from the input")
        layer_name = self.layer_name(weight, name)
        value = self.lookup(x)
        if value is None:
            raise ValueError(f"weight_graph could not trace the input of "
                             f"layer '{layer_name}': it does not come from "
                             f"the model input")
        if isinstance(value, _Unknown):
            raise ValueError(f"weight_graph could not trace the input of "
                             f"layer '{layer_name}': it passes through "
                             f"'{value.reason}', which weight_graph cannot "
                             f"follow")
        if out.size(0) != self.batch_size:
            raise ValueError(f"layer '{layer_name}' changed the batch size")
        W = weight.detach().to('cpu', torch.float64)
        if name != 'linear' and len(value.shape) != W.dim() - 1:
            raise ValueError(f"layer '{layer_name}' ({name}) reads a sample "
                             f"of shape {list(value.shape)}")
        lid = self.add_layer(layer_name, tuple(out.shape[1:]))
        if name == 'linear':
            self.linear(lid, layer_name, W, value)
        elif self.unrolled:
            if name != 'conv2d':
                raise ValueError(f"conv='unrolled' supports Conv2d only "
                                 f"(layer '{layer_name}' is a {name})")
            self.conv2d_unrolled(lid, args, kwargs, W, value, out)
        else:
            groups = int(_arg(args, kwargs, 6, 'groups', 1))
            self.conv_rolled(lid, W, groups, value)
        return self.layer_value(lid, fresh=True)

    def linear(self, lid: int, layer_name: str, W: Tensor,
               value: _Value) -> None:
        if len(value.shape) != 1 or value.shape[0] != W.size(1):
            raise ValueError(
                f"weight_graph supports linear layers on [batch, features] "
                f"inputs only (layer '{layer_name}' reads shape "
                f"{list(value.shape)})")
        out_features = W.size(0)
        counts = torch.bincount(value.pos, minlength=value.num_pos)
        if value.pos.numel() == 0 or int(counts.max()) <= 1:
            # Every input feature feeds from at most one node: reduce the
            # features of each node (the rolled first linear layer sums the
            # squares over the spatial positions of a channel) densely.
            node_of = torch.full((value.num_pos, ), -1, dtype=torch.long)
            node_of[value.pos] = value.node
            valid = node_of >= 0
            nodes, inv = torch.unique(node_of[valid], return_inverse=True)
            Wv = W[:, valid]
            sq = W.new_zeros(out_features, nodes.numel()).index_add_(
                1, inv, Wv * Wv)
            s = W.new_zeros(out_features, nodes.numel()).index_add_(
                1, inv, Wv)
            self.mark_consumed(nodes)
            out = torch.arange(out_features).repeat_interleave(nodes.numel())
            out = out + self.layers[lid].start
            self.chunks.append((out, nodes.repeat(out_features),
                                sq.reshape(-1), s.reshape(-1), True))
            return
        out_local = torch.arange(out_features).repeat_interleave(W.size(1))
        in_pos = torch.arange(W.size(1)).repeat(out_features)
        flat = W.reshape(-1)
        self.connect(lid, out_local, in_pos, flat * flat, flat, value)

    def conv_rolled(self, lid: int, W: Tensor, groups: int,
                    value: _Value) -> None:
        out_channels, in_per_group = W.size(0), W.size(1)
        taps = W.reshape(out_channels, in_per_group, -1)
        sq = (taps * taps).sum(-1)
        s = taps.sum(-1)
        group = torch.arange(out_channels) // (out_channels // groups)
        in_pos = group[:, None] * in_per_group + torch.arange(in_per_group)
        out_local = torch.arange(out_channels)[:, None].expand_as(in_pos)
        self.connect(lid, out_local.reshape(-1), in_pos.reshape(-1),
                     sq.reshape(-1), s.reshape(-1), value)

    def windows(self, shape: Tuple[int, ...], kernel: Tuple[int, int],
                stride: Tuple[int, int], padding: Tuple[int, int],
                dilation: Tuple[int, int],
                out_hw: Tuple[int, int]) -> Tensor:
        r"""Input position (or -1 for padding) under every tap of every
        window: shape :obj:`[C, kh * kw, Ho * Wo]`."""
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

    def conv2d_unrolled(self, lid: int, args: Sequence[Any],
                        kwargs: Dict[str, Any], W: Tensor, value: _Value,
                        out: Tensor) -> None:
        if len(value.shape) != 3:
            raise ValueError(f"conv2d on a sample of shape "
                             f"{list(value.shape)} (expected [C, H, W])")
        kernel = (W.size(2), W.size(3))
        stride = _pair(_arg(args, kwargs, 3, 'stride', 1))
        padding = _arg(args, kwargs, 4, 'padding', 0)
        dilation = _pair(_arg(args, kwargs, 5, 'dilation', 1))
        groups = int(_arg(args, kwargs, 6, 'groups', 1))
        if padding == 'valid':
            padding = (0, 0)
        elif padding == 'same':
            # torch pads (total // 2) before and the rest after.
            padding = tuple(d * (k - 1) // 2
                            for d, k in zip(dilation, kernel))
        padding = _pair(padding)
        out_hw = (out.size(2), out.size(3))
        cols = self.windows(value.shape, kernel, stride, padding, dilation,
                            out_hw)
        out_channels, in_per_group = W.size(0), W.size(1)
        num_out = out_hw[0] * out_hw[1]
        cols = cols.view(groups, in_per_group * kernel[0] * kernel[1],
                         num_out)
        group = torch.arange(out_channels) // (out_channels // groups)
        in_pos = cols[group]  # [O, R, L]
        taps = W.reshape(out_channels, -1, 1).expand_as(in_pos)
        out_local = (torch.arange(out_channels)[:, None, None] * num_out +
                     torch.arange(num_out)[None, None, :]).expand_as(in_pos)
        keep = in_pos >= 0
        w = taps[keep]
        self.connect(lid, out_local[keep], in_pos[keep], w * w, w, value)

    # Other operations ########################################################

    def batch_norm(self, args: Sequence[Any], kwargs: Dict[str, Any],
                   value: _Info) -> _Info:
        assert isinstance(value, _Value)
        out = _Value(value.pos, value.node, value.shape, value.num_pos,
                     value.layer)
        if self.bn != 'fold':
            return out
        running_var = _arg(args, kwargs, 2, 'running_var')
        weight = _arg(args, kwargs, 3, 'weight')
        training = _arg(args, kwargs, 5, 'training', False)
        eps = float(_arg(args, kwargs, 7, 'eps', 1e-5))
        name = self.param_names.get(id(weight)) if weight is not None \
            else None
        name = name or (self.module_stack[-1] if self.module_stack else
                        'batch_norm')
        if running_var is None or training:
            self.warnings.append(f"BatchNorm '{name}' has no running "
                                 f"variance; it is left unfolded")
            return out
        if not value.fresh or value.layer is None:
            self.warnings.append(
                f"BatchNorm '{name}' does not directly follow a convolution "
                f"or linear layer; it is left unfolded")
            return out
        var = running_var.detach().to('cpu', torch.float64)
        gamma = torch.ones_like(var) if weight is None else \
            weight.detach().to('cpu', torch.float64)
        factor = gamma.abs() / torch.sqrt(var + eps)
        if self.unrolled:
            factor = factor.repeat_interleave(math.prod(value.shape[1:]))
        layer = self.layers[value.layer]
        self.scales.append((torch.arange(layer.size) + layer.start, factor))
        return out

    def add(self, a: _Info, b: _Info) -> _Info:
        assert isinstance(a, _Value) and isinstance(b, _Value)
        la = self.find(a.layer) if a.layer is not None else None
        lb = self.find(b.layer) if b.layer is not None else None
        if la is not None and la == lb:
            return self.layer_value(la)
        free = [
            lid for lid in (la, lb) if lid is not None and lid != 0
            and not self.layers[lid].consumed
        ]
        if len(free) == 2:
            # Two fresh branches (main path and 1x1-conv shortcut) end in
            # the same channels: one set of nodes, reached by both. It takes
            # the later slot, after the inputs of both branches.
            drop, keep = min(free), max(free)
            self.layers[drop].merged_into = keep
            self.layers[keep].name = \
                f'{self.layers[drop].name}+{self.layers[keep].name}'
            return self.layer_value(keep)
        plain = [lid for lid in (la, lb) if lid is not None]
        if not plain:
            # Neither side is a layer: each position depends on both.
            return _Value(torch.cat([a.pos, b.pos]),
                          torch.cat([a.node, b.node]), a.shape, a.num_pos)
        target = free[0] if free else max(plain)
        source = b if target == la else a
        # Identity shortcut: position p of the source feeds position p of
        # the target with weight 1.
        out = source.pos + self.layers[target].start
        one = torch.ones(out.numel(), dtype=torch.float64)
        self.mark_consumed(source.node)
        self.chunks.append((out, source.node, one, one, False))
        return self.layer_value(target)

    def cat(self, args: Sequence[Any], kwargs: Dict[str, Any],
            out: Tensor) -> _Info:
        tensors = _arg(args, kwargs, 0, 'tensors')
        dim = int(_arg(args, kwargs, 1, 'dim', 0))
        if dim < 0:
            dim += out.dim()
        if dim != 1:
            return _Unknown('cat')
        pos, node, offset = [], [], 0
        for t in tensors:
            info = self.lookup(t)
            if isinstance(info, _Value):
                pos.append(info.pos + offset)
                node.append(info.node)
            step = t.size(1) if not self.unrolled else t[0].numel()
            offset += step
        shape = tuple(out.shape[1:])
        return _Value(torch.cat(pos), torch.cat(node), shape, offset)

    def position_index(self, t: Tensor, value: _Value) -> Tensor:
        shape = (1, ) + tuple(t.shape[1:])
        if self.unrolled:
            idx = torch.arange(1, value.num_pos + 1, dtype=torch.float64)
            idx = idx.view(shape)
        else:
            idx = torch.arange(1, value.num_pos + 1, dtype=torch.float64)
            idx = idx.view((1, -1) + (1, ) * (t.dim() - 2)).expand(shape)
        return idx.expand(t.shape).contiguous().to(t.device)

    def gather(self, func: Callable, args: Sequence[Any],
               kwargs: Dict[str, Any], t: Tensor, value: _Value,
               out: Tensor) -> _Info:
        name = getattr(func, '__name__', '')
        if t.dim() < 2 or out.dim() < 2 or out.size(0) != self.batch_size:
            return _Unknown(name)
        try:
            replay = func(self.position_index(t, value), *args[1:], **kwargs)
        except Exception:  # noqa: BLE001 - an op we cannot replay
            return _Unknown(name)
        if not isinstance(replay, Tensor) or replay.shape != out.shape:
            return _Unknown(name)
        r = replay[0].detach().cpu()
        shape = tuple(out.shape[1:])
        if self.unrolled:
            src = r.reshape(-1)
        else:
            rows = r.reshape(shape[0], -1)
            if rows.numel() and not bool((rows == rows[:, :1]).all()):
                return _Unknown(name)  # mixes channels
            src = rows[:, 0] if rows.numel() else rows.new_zeros(shape[0])
        valid = (src >= 1) & (src <= value.num_pos) & (src == src.round())
        new_pos = valid.nonzero().view(-1)
        return self.compose(value, new_pos, src[valid].long() - 1, shape)

    def pool(self, name: str, args: Sequence[Any], kwargs: Dict[str, Any],
             value: _Value, out: Tensor) -> _Info:
        if len(value.shape) != 3 or out.dim() != 4:
            return _Unknown('pool')
        kernel = _pair(_arg(args, kwargs, 1, 'kernel_size'))
        stride = _arg(args, kwargs, 2, 'stride')
        stride = kernel if stride is None or stride == [] else _pair(stride)
        padding = _pair(_arg(args, kwargs, 3, 'padding', 0))
        # avg_pool2d has no dilation (its 5th argument is ceil_mode).
        dilation = _pair(_arg(args, kwargs, 4, 'dilation', 1)) \
            if name.startswith('max') else (1, 1)
        cols = self.windows(value.shape, kernel, stride, padding, dilation,
                            (out.size(2), out.size(3)))
        return self.pool_from_windows(value, cols, tuple(out.shape[1:]))

    def pool_from_windows(self, value: _Value, cols: Tensor,
                          shape: Tuple[int, ...]) -> _Value:
        C, taps, L = cols.shape
        new_pos = (torch.arange(C)[:, None, None] * L +
                   torch.arange(L)[None, None, :]).expand(C, taps, L)
        keep = cols >= 0
        return self.compose(value, new_pos[keep], cols[keep], shape)

    def adaptive_pool(self, value: _Value, out: Tensor) -> _Info:
        if len(value.shape) != 3 or out.dim() != 4:
            return _Unknown('adaptive_pool')
        C, H, W = value.shape
        Ho, Wo = out.size(2), out.size(3)
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
        return self.compose(value, new_pos, old_pos, tuple(out.shape[1:]))

    def reduce(self, args: Sequence[Any], kwargs: Dict[str, Any], t: Tensor,
               value: _Value, out: Tensor) -> _Info:
        dim = _arg(args, kwargs, 1, 'dim')
        if dim is None or out.dim() < 1 or out.size(0) != self.batch_size:
            return _Unknown('reduction')
        dims = [dim] if isinstance(dim, int) else list(dim)
        dims = sorted({d + t.dim() if d < 0 else d for d in dims})
        if 0 in dims:
            return _Unknown('reduction over the batch')
        sample_dims = [d - 1 for d in dims]
        kept = [d for d in range(len(value.shape)) if d not in sample_dims]
        idx = torch.arange(value.num_pos).view(value.shape)
        grid = idx.permute(kept + sample_dims).reshape(
            math.prod(value.shape[d] for d in kept), -1)
        new_pos = torch.arange(grid.size(0))[:, None].expand_as(grid)
        return self.compose(value, new_pos.reshape(-1), grid.reshape(-1),
                            tuple(out.shape[1:]))


def run_trace(model: nn.Module, example: Tensor, unrolled: bool,
              bn: str) -> WeightTracer:
    r"""Runs :obj:`model` on :obj:`example` under a :class:`WeightTracer`
    in eval mode and without gradients; the model's mode is restored."""
    tracer = WeightTracer(model, unrolled, bn)
    handles = []

    def push(name: str) -> Callable:
        def hook(module: nn.Module, inputs: Any) -> None:
            tracer.module_stack.append(name)

        return hook

    def pop(module: nn.Module, inputs: Any, output: Any) -> None:
        if tracer.module_stack:
            tracer.module_stack.pop()

    was_training = model.training
    try:
        for name, module in model.named_modules():
            handles.append(module.register_forward_pre_hook(push(name)))
            handles.append(module.register_forward_hook(pop))
        model.eval()
        tracer.start(example)
        with torch.no_grad(), tracer:
            try:
                model(example)
            except (RuntimeError, TypeError, IndexError) as e:
                raise ValueError(
                    f"the model failed on an example input of shape "
                    f"{list(example.shape)} (check 'input_shape'): {e}") \
                    from e
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
        tracer.values.clear()
    for message in tracer.warnings:
        warnings.warn(message, stacklevel=3)
    return tracer
