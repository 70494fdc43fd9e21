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

Every traced tensor carries a map from its positions (channels, or entries
when unrolled) to provisional node ids (see
:mod:`pyg_dnnmod.weights._positions`); weighted operations (convolutions,
linear layers) create a new layer of nodes and the edges from the nodes of
their input.
"""
import math
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from pyg_dnnmod.weights._positions import (
    Info,
    Layer,
    Unknown,
    Value,
    adaptive_pool_positions,
    call_arg,
    compose_value,
    join_nodes,
    pair,
    position_index,
    reduction_positions,
    window_positions,
    windows,
)

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
        self.layers: List[Layer] = []
        self.num_nodes = 0
        self.values: Dict[int, Tuple[Tensor, Info]] = {}
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
        self.layers.append(Layer(name, self.num_nodes, size, shape))
        self.num_nodes += size
        return len(self.layers) - 1

    def layer_value(self, lid: int, fresh: bool = False) -> Value:
        layer = self.layers[lid]
        pos = torch.arange(layer.size)
        return Value(pos, pos + layer.start, layer.shape, layer.size, lid,
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

    def lookup(self, t: Any) -> Optional[Info]:
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

    def compose(self, value: Value, new_pos: Tensor, old_pos: Tensor,
                shape: Tuple[int, ...]) -> Value:
        r"""The value whose position :obj:`new_pos[i]` reads the old
        position :obj:`old_pos[i]` of :obj:`value`."""
        num_pos = math.prod(shape) if self.unrolled else shape[0]
        return compose_value(value, new_pos, old_pos, shape, num_pos)

    def connect(self, lid: int, out_local: Tensor, in_pos: Tensor,
                sq: Tensor, s: Tensor, value: Value) -> None:
        idx, nodes = join_nodes(value, in_pos)
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
                        self.values[id(t)] = (t, Unknown(name))
                return out
        if not isinstance(result, Tensor):
            return out
        if name in _NOOP_OPS and any(result is t for t, _ in inputs):
            return out  # e.g. `x.contiguous()` returning `x` itself
        info = self.record(name, func, args, kwargs, inputs, result)
        self.values[id(result)] = (result, info)
        return out

    def record(self, name: str, func: Callable, args: Sequence[Any],
               kwargs: Dict[str, Any], inputs: List[Tuple[Tensor, Info]],
               out: Tensor) -> Info:
        if name in _CONV_OPS or name == 'linear':
            return self.weighted(name, args, kwargs, out)
        unknown = [info for _, info in inputs if isinstance(info, Unknown)]
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

    def passthrough(self, name: str, inputs: List[Tuple[Tensor, Info]],
                    out: Tensor) -> Info:
        B = self.batch_size
        for t, value in inputs:
            assert isinstance(value, Value)
            if t.shape == out.shape:
                return Value(value.pos, value.node, value.shape,
                             value.num_pos, value.layer)
        if not self.unrolled and len(inputs) == 1:
            value = inputs[0][1]
            assert isinstance(value, Value)
            # Channel-preserving (pooling, reductions over space, ...).
            if out.dim() >= 2 and out.size(0) == B and \
                    out.size(1) == value.num_pos:
                return Value(value.pos, value.node, tuple(out.shape[1:]),
                             value.num_pos, value.layer)
        return Unknown(name)

    # Weighted layers #########################################################

    def weighted(self, name: str, args: Sequence[Any],
                 kwargs: Dict[str, Any], out: Tensor) -> Value:
        x = call_arg(args, kwargs, 0, 'input')
        weight = call_arg(args, kwargs, 1, 'weight')
        if self.lookup(weight) is not None:
            raise ValueError(f"weight_graph cannot follow '{name}' with a "
                             f"weight computed from the input")
        layer_name = self.layer_name(weight, name)
        value = self.lookup(x)
        if value is None:
            raise ValueError(f"weight_graph could not trace the input of "
                             f"layer '{layer_name}': it does not come from "
                             f"the model input")
        if isinstance(value, Unknown):
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
            groups = int(call_arg(args, kwargs, 6, 'groups', 1))
            self.conv_rolled(lid, W, groups, value)
        return self.layer_value(lid, fresh=True)

    def linear(self, lid: int, layer_name: str, W: Tensor,
               value: Value) -> None:
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
                    value: Value) -> None:
        out_channels, in_per_group = W.size(0), W.size(1)
        taps = W.reshape(out_channels, in_per_group, -1)
        sq = (taps * taps).sum(-1)
        s = taps.sum(-1)
        group = torch.arange(out_channels) // (out_channels // groups)
        in_pos = group[:, None] * in_per_group + torch.arange(in_per_group)
        out_local = torch.arange(out_channels)[:, None].expand_as(in_pos)
        self.connect(lid, out_local.reshape(-1), in_pos.reshape(-1),
                     sq.reshape(-1), s.reshape(-1), value)

    def conv2d_unrolled(self, lid: int, args: Sequence[Any],
                        kwargs: Dict[str, Any], W: Tensor, value: Value,
                        out: Tensor) -> None:
        if len(value.shape) != 3:
            raise ValueError(f"conv2d on a sample of shape "
                             f"{list(value.shape)} (expected [C, H, W])")
        kernel = (W.size(2), W.size(3))
        stride = pair(call_arg(args, kwargs, 3, 'stride', 1))
        padding = call_arg(args, kwargs, 4, 'padding', 0)
        dilation = pair(call_arg(args, kwargs, 5, 'dilation', 1))
        groups = int(call_arg(args, kwargs, 6, 'groups', 1))
        if padding == 'valid':
            padding = (0, 0)
        elif padding == 'same':
            # torch pads (total // 2) before and the rest after.
            padding = tuple(d * (k - 1) // 2
                            for d, k in zip(dilation, kernel))
        padding = pair(padding)
        out_hw = (out.size(2), out.size(3))
        cols = windows(value.shape, kernel, stride, padding, dilation,
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
                   value: Info) -> Info:
        assert isinstance(value, Value)
        out = Value(value.pos, value.node, value.shape, value.num_pos,
                    value.layer)
        if self.bn != 'fold':
            return out
        running_var = call_arg(args, kwargs, 2, 'running_var')
        weight = call_arg(args, kwargs, 3, 'weight')
        training = call_arg(args, kwargs, 5, 'training', False)
        eps = float(call_arg(args, kwargs, 7, 'eps', 1e-5))
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

    def add(self, a: Info, b: Info) -> Info:
        assert isinstance(a, Value) and isinstance(b, Value)
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
            return Value(torch.cat([a.pos, b.pos]),
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
            out: Tensor) -> Info:
        tensors = call_arg(args, kwargs, 0, 'tensors')
        dim = int(call_arg(args, kwargs, 1, 'dim', 0))
        if dim < 0:
            dim += out.dim()
        if dim != 1:
            return Unknown('cat')
        pos, node, offset = [], [], 0
        for t in tensors:
            info = self.lookup(t)
            if isinstance(info, Value):
                pos.append(info.pos + offset)
                node.append(info.node)
            step = t.size(1) if not self.unrolled else t[0].numel()
            offset += step
        shape = tuple(out.shape[1:])
        return Value(torch.cat(pos), torch.cat(node), shape, offset)

    def gather(self, func: Callable, args: Sequence[Any],
               kwargs: Dict[str, Any], t: Tensor, value: Value,
               out: Tensor) -> Info:
        name = getattr(func, '__name__', '')
        if t.dim() < 2 or out.dim() < 2 or out.size(0) != self.batch_size:
            return Unknown(name)
        try:
            replay = func(position_index(t, value, self.unrolled), *args[1:],
                          **kwargs)
        except Exception:  # noqa: BLE001 - an op we cannot replay
            return Unknown(name)
        if not isinstance(replay, Tensor) or replay.shape != out.shape:
            return Unknown(name)
        r = replay[0].detach().cpu()
        shape = tuple(out.shape[1:])
        if self.unrolled:
            src = r.reshape(-1)
        else:
            rows = r.reshape(shape[0], -1)
            if rows.numel() and not bool((rows == rows[:, :1]).all()):
                return Unknown(name)  # mixes channels
            src = rows[:, 0] if rows.numel() else rows.new_zeros(shape[0])
        valid = (src >= 1) & (src <= value.num_pos) & (src == src.round())
        new_pos = valid.nonzero().view(-1)
        return self.compose(value, new_pos, src[valid].long() - 1, shape)

    def pool(self, name: str, args: Sequence[Any], kwargs: Dict[str, Any],
             value: Value, out: Tensor) -> Info:
        if len(value.shape) != 3 or out.dim() != 4:
            return Unknown('pool')
        kernel = pair(call_arg(args, kwargs, 1, 'kernel_size'))
        stride = call_arg(args, kwargs, 2, 'stride')
        stride = kernel if stride is None or stride == [] else pair(stride)
        padding = pair(call_arg(args, kwargs, 3, 'padding', 0))
        # avg_pool2d has no dilation (its 5th argument is ceil_mode).
        dilation = pair(call_arg(args, kwargs, 4, 'dilation', 1)) \
            if name.startswith('max') else (1, 1)
        cols = windows(value.shape, kernel, stride, padding, dilation,
                       (out.size(2), out.size(3)))
        new_pos, old_pos = window_positions(cols)
        return self.compose(value, new_pos, old_pos, tuple(out.shape[1:]))

    def adaptive_pool(self, value: Value, out: Tensor) -> Info:
        if len(value.shape) != 3 or out.dim() != 4:
            return Unknown('adaptive_pool')
        new_pos, old_pos = adaptive_pool_positions(
            value.shape, (out.size(2), out.size(3)))
        return self.compose(value, new_pos, old_pos, tuple(out.shape[1:]))

    def reduce(self, args: Sequence[Any], kwargs: Dict[str, Any], t: Tensor,
               value: Value, out: Tensor) -> Info:
        dim = call_arg(args, kwargs, 1, 'dim')
        if dim is None or out.dim() < 1 or out.size(0) != self.batch_size:
            return Unknown('reduction')
        dims = [dim] if isinstance(dim, int) else list(dim)
        dims = sorted({d + t.dim() if d < 0 else d for d in dims})
        if 0 in dims:
            return Unknown('reduction over the batch')
        new_pos, old_pos = reduction_positions(value.shape,
                                               [d - 1 for d in dims])
        return self.compose(value, new_pos, old_pos, tuple(out.shape[1:]))


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
