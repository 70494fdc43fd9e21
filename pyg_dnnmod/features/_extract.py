r"""Feature extraction: the output of every chosen layer over :math:`N`
inputs, flattened to :math:`[N, D]`, the raw material of the k-NN snapshots.

Three ways of reading a layer give the same features where they overlap:
forward hooks on modules (the default, works for any
:class:`torch.nn.Module`), torchvision's :obj:`create_feature_extractor`
(FX; can also read functional operations such as :obj:`'layer1.0.add'`) and
timm's :obj:`forward_intermediates`.

Hygiene: everything runs under :func:`torch.no_grad` with the model in eval
mode; hooks are removed and every module's train/eval flag (and the model's
device, when :obj:`device` moved it) is restored after every pass, also when
the forward pass raises.
"""
import math
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Callable, Optional, Union

import torch
from torch import Tensor, nn
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

from pyg_dnnmod.features._select import (
    LayerSpec,
    _post_activation,
    _resolve_layers,
    select_layers,
)

#: Inputs: a tensor :obj:`[N, ...]` or a re-iterable of batches :obj:`x` or
#: :obj:`(x, y, ...)`.
Inputs = Union[Tensor, Iterable]

_METHODS = ('hooks', 'fx', 'timm')
_ITEMSIZE = 4  # features are stored as float32
_RANDOM_SAMPLERS = (RandomSampler, SubsetRandomSampler, WeightedRandomSampler)
# Samples of the first batch used to find every layer's output size.
_PROBE_SIZE = 2


class _StopForward(Exception):
    # Raised by a hook once every layer of a group has been read, so that
    # the rest of the network is not computed.
    pass


@contextmanager
def _model_state(model: nn.Module, device: Optional[torch.device] = None):
    r"""Puts :obj:`model` in eval mode (and on :obj:`device`, if given) for
    the duration of the block and restores every module's train/eval flag
    and the model's device afterwards, also on error. Yields the device the
    inputs must go to."""
    flags = [(m, m.training) for m in model.modules()]
    tensors = list(model.parameters()) + list(model.buffers())
    devices = {t.device for t in tensors}
    home = next(iter(devices)) if len(devices) == 1 else None
    moved = False
    try:
        model.eval()
        if device is not None and devices and devices != {device}:
            if home is None:
                raise ValueError(
                    f"the model's tensors are on several devices "
                    f"({sorted(map(str, devices))}), so it cannot be moved "
                    f"to 'device' {str(device)!r}; pass device=None")
            model.to(device)
            moved = True
        yield device if device is not None else _default_device(model)
    finally:
        if moved:
            model.to(home)
        for m, training in flags:
            m.training = training


def _check_inputs(inputs: Inputs) -> None:
    if isinstance(inputs, Tensor):
        if inputs.dim() == 0 or inputs.size(0) == 0:
            raise ValueError(f"'inputs' must hold at least one sample "
                             f"(got shape {tuple(inputs.shape)})")
        return
    if not isinstance(inputs, Iterable):
        raise TypeError(f"'inputs' must be a Tensor, a DataLoader or an "
                        f"iterable of batches (got {type(inputs).__name__})")
    # Not `iter(inputs) is inputs`: iterating a DataLoader starts workers.
    if isinstance(inputs, Iterator):
        raise TypeError(f"'inputs' must be re-iterable (a Tensor, a "
                        f"DataLoader or a list of batches), since every group "
                        f"of layers makes its own pass (got the one-shot "
                        f"iterator {type(inputs).__name__})")
    if isinstance(inputs, DataLoader):
        samplers = [inputs.sampler, getattr(inputs.batch_sampler, 'sampler',
                                            None)]
        if any(isinstance(s, _RANDOM_SAMPLERS) for s in samplers):
            raise ValueError("'inputs' is a DataLoader that shuffles; every "
                             "pass must see the samples in the same order, "
                             "so use shuffle=False (and a fixed subset for a "
                             "random sample)")


def _batch_tensor(item: Any) -> Tensor:
    if isinstance(item, Tensor):
        return item
    if isinstance(item, (tuple, list)) and item and isinstance(
            item[0], Tensor):
        return item[0]
    raise TypeError(f"every batch of 'inputs' must be a Tensor x or a "
                    f"tuple (x, y, ...) (got {type(item).__name__})")


def _batches(inputs: Inputs, batch_size: int) -> Iterator[Tensor]:
    if isinstance(inputs, Tensor):
        for start in range(0, inputs.size(0), batch_size):
            yield inputs[start:start + batch_size]
    else:
        for item in inputs:
            yield _batch_tensor(item)


def _num_samples(inputs: Inputs, batch_size: int) -> int:
    if isinstance(inputs, Tensor):
        return inputs.size(0)
    if isinstance(inputs, DataLoader) and isinstance(
            inputs.batch_sampler, BatchSampler):
        try:
            n = len(inputs.batch_sampler.sampler)
        except TypeError:  # a sampler without __len__
            pass
        else:
            if inputs.batch_sampler.drop_last:
                n -= n % inputs.batch_sampler.batch_size
            return n
    return sum(x.size(0) if x.dim() > 0 else 1
               for x in _batches(inputs, batch_size))


class _Collector:
    # Receives every layer's batch output, checks it and copies it, flattened,
    # into the layer's slice of a preallocated buffer. The copy is made at
    # once, so that a later in-place operation cannot change it.
    def __init__(self, names: list[str], num_samples: int,
                 dims: Optional[dict[str, int]] = None,
                 out_device: Optional[torch.device] = None,
                 stop_early: bool = False, check_finite: bool = True) -> None:
        self.names = names
        self.check_finite = check_finite
        self.dims = dims
        self.stop_early = stop_early
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.buffers: dict[str, Tensor] = {}
        if dims is not None:
            self.buffers = {
                name: torch.empty(num_samples, dims[name],
                                  dtype=torch.float32, device=out_device)
                for name in names
            }
        self.start = self.size = 0
        self.seen: dict[str, int] = {}

    def begin(self, start: int, size: int) -> None:
        self.start, self.size = start, size
        self.seen = {}

    def __call__(self, name: str, output: Any) -> None:
        if not isinstance(output, Tensor):
            raise TypeError(f"layer {name!r} returned a "
                            f"{type(output).__name__}, not a Tensor; select "
                            f"a module that returns a Tensor")
        self.seen[name] = self.seen.get(name, 0) + 1
        if self.seen[name] > 1:
            raise ValueError(
                f"layer {name!r} runs {self.seen[name]} or more times per "
                f"forward pass (a shared module), so its output is ambiguous; "
                f"select a module that runs once, or use method='fx' with "
                f"the name of one call (see torchvision's "
                f"get_graph_node_names)")
        if output.dim() == 0 or output.size(0) != self.size:
            raise ValueError(
                f"layer {name!r} returned shape {tuple(output.shape)} for a "
                f"batch of {self.size} samples; features are flattened per "
                f"sample along the first dimension, so the batch must come "
                f"first (e.g. batch_first=True)")
        flat = output.detach().reshape(self.size, -1)
        if self.check_finite:
            # Checked per batch on the device: fails early, and never
            # allocates a mask as large as a layer's features.
            bad = ~torch.isfinite(flat).all(dim=1)
            if bool(bad.any()):
                first = self.start + int(bad.nonzero()[0])
                raise ValueError(
                    f"features of layer {name!r} contain NaN or Inf values "
                    f"(first in sample {first}); check the model and the "
                    f"inputs, or pass check_finite=False")
        if self.dims is None:
            self.shapes[name] = tuple(output.shape[1:])
        else:
            if flat.size(1) != self.dims[name]:
                raise ValueError(
                    f"layer {name!r} has {flat.size(1)} features per sample "
                    f"in this batch but {self.dims[name]} in the first one; "
                    f"all inputs must have the same shape")
            self.buffers[name][self.start:self.start + self.size].copy_(flat)
        if self.stop_early and len(self.seen) == len(self.names):
            raise _StopForward

    def end(self) -> None:
        missing = [name for name in self.names if name not in self.seen]
        if missing:
            raise ValueError(f"layer(s) {missing!r} did not run in the "
                             f"forward pass")


@contextmanager
def _hook_runner(model: nn.Module, names: list[str],
                 collect: _Collector):
    def make_hook(name: str) -> Callable:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            collect(name, output)
        return hook

    handles = []
    try:
        for name in names:
            module = model.get_submodule(name)
            handles.append(module.register_forward_hook(make_hook(name)))

        def run(x: Tensor) -> None:
            try:
                model(x)
            except _StopForward:
                pass

        yield run
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _fx_runner(model: nn.Module, names: list[str], collect: _Collector):
    from torchvision.models.feature_extraction import (
        create_feature_extractor,
    )

    extractor = create_feature_extractor(model, return_nodes=names).eval()

    def run(x: Tensor) -> None:
        out = extractor(x)
        for name in names:
            collect(name, out[name])

    yield run


def _timm_modules(model: nn.Module) -> list[str]:
    info = getattr(model, 'feature_info', None)
    if not hasattr(model, 'forward_intermediates') or not info:
        raise ValueError(f"method='timm' needs a timm model with "
                         f"'forward_intermediates' and 'feature_info' (got "
                         f"{type(model).__name__})")
    return [f['module'] for f in info]


@contextmanager
def _timm_runner(model: nn.Module, names: list[str], collect: _Collector):
    modules = _timm_modules(model)
    # timm returns the intermediates in forward order.
    indices = sorted(modules.index(name) for name in names)

    def run(x: Tensor) -> None:
        out = model.forward_intermediates(x, indices=indices,
                                          intermediates_only=True,
                                          stop_early=True)
        for i, feat in zip(indices, out):
            collect(modules[i], feat)

    yield run


_RUNNERS = {'hooks': _hook_runner, 'fx': _fx_runner, 'timm': _timm_runner}


def _run_pass(model: nn.Module, inputs: Inputs, names: list[str],
              collect: _Collector, method: str, batch_size: int,
              device: Optional[torch.device], num_samples: Optional[int],
              probe: bool = False) -> None:
    with _model_state(model, device) as device, torch.no_grad(), \
            _RUNNERS[method](model, names, collect) as run:
        start = 0
        for x in _batches(inputs, batch_size):
            if probe:
                x = x[:_PROBE_SIZE]
            size = x.size(0) if x.dim() > 0 else 0
            if size == 0:
                raise ValueError(f"'inputs' yielded an empty batch (shape "
                                 f"{tuple(x.shape)})")
            if num_samples is not None and start + size > num_samples:
                raise ValueError(f"'inputs' yielded more than the "
                                 f"{num_samples} samples counted before; it "
                                 f"must yield the same samples on every pass")
            collect.begin(start, size)
            run(x.to(device))
            collect.end()
            start += size
            if probe:
                return
        if num_samples is not None and start != num_samples:
            raise ValueError(f"'inputs' yielded {start} samples instead of "
                             f"the {num_samples} counted before; it must "
                             f"yield the same samples on every pass")


def _select(model: nn.Module, layers: LayerSpec, post_activation: bool,
            method: str) -> list[str]:
    if method == 'timm':
        if post_activation:
            raise ValueError("'post_activation' is not supported with "
                             "method='timm' (got True)")
        modules = _timm_modules(model)
        if isinstance(layers, type) or (isinstance(layers, tuple) and any(
                isinstance(t, type) for t in layers)):
            raise TypeError(f"method='timm' selects layers by index or "
                            f"feature_info module name (got {layers!r})")
        return _resolve_layers(modules, modules, layers, what='feature')

    explicit = isinstance(layers, str) or (
        isinstance(layers, (list, tuple)) and len(layers) > 0
        and all(isinstance(n, str) for n in layers))
    if method == 'hooks' or not explicit:
        return select_layers(model, layers, post_activation)

    # Explicit names with FX: module names or FX node names.
    from torchvision.models.feature_extraction import get_graph_node_names

    modules = [name for name, _ in model.named_modules() if name]
    nodes = get_graph_node_names(model)[1]
    valid = modules + [n for n in nodes if n not in set(modules)]
    names = _resolve_layers([], valid, layers)
    if post_activation:
        module_set = set(modules)
        others = [name for name in names if name not in module_set]
        if others:
            raise ValueError(f"'post_activation' applies to module names "
                             f"only, not to the FX nodes {others!r}")
        names = [_post_activation(model, name) for name in names]
    return names


def _default_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device('cpu')


def _plan(model: nn.Module, inputs: Inputs, layers: LayerSpec,
          post_activation: bool, batch_size: int,
          device: Union[str, torch.device, None], max_bytes: int,
          check_finite: bool, method: str,
          hold_all: bool) -> dict[str, Any]:
    # Everything that can fail on bad input happens here, before the first
    # layer is yielded.
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    if method not in _METHODS:
        raise ValueError(f"'method' must be one of {list(_METHODS)} (got "
                         f"{method!r})")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or \
            batch_size < 1:
        raise ValueError(f"'batch_size' must be an int >= 1 (got "
                         f"{batch_size!r})")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or \
            max_bytes < 1:
        raise ValueError(f"'max_bytes' must be an int >= 1 (got "
                         f"{max_bytes!r})")
    _check_inputs(inputs)
    device = None if device is None else torch.device(device)
    names = _select(model, layers, post_activation, method)

    # One forward pass over two samples finds every layer's feature size
    # (and rejects modules that run more than once) before any memory is
    # allocated.
    probe = _Collector(names, _PROBE_SIZE, check_finite=check_finite)
    _run_pass(model, inputs, names, probe, method, batch_size, device, None,
              probe=True)
    dims = {name: math.prod(probe.shapes[name]) for name in names}
    num_samples = _num_samples(inputs, batch_size)

    layer_bytes = {name: num_samples * dims[name] * _ITEMSIZE
                   for name in names}
    total = sum(layer_bytes.values())
    if hold_all and total > max_bytes:
        warnings.warn(
            f"the features of all {len(names)} layers take {total} bytes, "
            f"more than 'max_bytes' ({max_bytes}); iter_layer_features "
            f"yields one layer at a time", stacklevel=3)

    groups: list[list[str]] = []
    group_bytes = 0
    for name in names:
        if layer_bytes[name] > max_bytes:
            warnings.warn(
                f"the features of layer {name!r} alone take "
                f"{layer_bytes[name]} bytes, more than 'max_bytes' "
                f"({max_bytes}); it is extracted on its own", stacklevel=3)
        if not groups or group_bytes + layer_bytes[name] > max_bytes:
            groups.append([])
            group_bytes = 0
        groups[-1].append(name)
        group_bytes += layer_bytes[name]
    return dict(groups=groups, dims=dims, num_samples=num_samples,
                device=device)


def _generate(model: nn.Module, inputs: Inputs, plan: dict[str, Any],
              batch_size: int, keep_on_device: bool, check_finite: bool,
              method: str) -> Iterator[tuple[str, Tensor]]:
    device = plan['device']
    out_device = torch.device('cpu')
    if keep_on_device:
        out_device = device if device is not None else _default_device(model)
    for group in plan['groups']:
        collect = _Collector(group, plan['num_samples'], plan['dims'],
                             out_device, stop_early=method == 'hooks',
                             check_finite=check_finite)
        _run_pass(model, inputs, group, collect, method, batch_size, device,
                  plan['num_samples'])
        for name in group:
            # Drop our reference before yielding, so that a caller who lets
            # go of a layer frees its memory.
            yield name, collect.buffers.pop(name)


def iter_layer_features(
    model: nn.Module,
    inputs: Inputs,
    layers: LayerSpec = None,
    *,
    post_activation: bool = False,
    batch_size: int = 256,
    device: Union[str, torch.device, None] = None,
    max_bytes: int = 2 * 1024**3,
    keep_on_device: bool = False,
    check_finite: bool = True,
    method: str = 'hooks',
) -> Iterator[tuple[str, Tensor]]:
    r"""Yields :obj:`(name, features)` for every selected layer of
    :obj:`model`, one layer at a time, where :obj:`features` is the layer's
    output over all :math:`N` inputs flattened to a float32 matrix
    :math:`[N, D]` (row :math:`i` is sample :math:`i`), as read by Lu et
    al. (ECCV 2022, `"Understanding the Dynamics of DNNs Using Graph
    Modularity" <https://arxiv.org/abs/2111.12485>`_).

    Layers are chosen by :func:`select_layers` (by default the paper's
    points: every convolution of a VGG, the stem and every residual block of
    a ResNet) and yielded in the order selected. They are grouped in that
    order so that the features of a group fit :obj:`max_bytes`,

    .. math::
        N \cdot \sum_{\ell \in \text{group}} D_\ell \cdot 4 \leq
        \texttt{max\_bytes},

    and every group makes one forward pass over the inputs, which stops as
    soon as the group's last layer has been read. Before that, one forward
    pass over two samples finds every :math:`D_\ell`.

    **Peak memory**: the features held by this function never exceed
    :math:`\max(\texttt{max\_bytes}, N \cdot \max_\ell D_\ell \cdot 4)`
    bytes (a single layer larger than :obj:`max_bytes` is extracted on its
    own, with a warning), plus the activations of one batch. Layers already
    yielded are held only as long as the caller keeps them.

    Every pass runs under :func:`torch.no_grad` with the model in eval mode;
    hooks are removed and the train/eval flag of every module (and the
    model's device) restored after every pass, also when the forward pass
    raises, so between two yielded layers the model is as the caller left
    it.

    Args:
        model (torch.nn.Module): The model.
        inputs (Tensor or Iterable): A tensor :obj:`[N, ...]`, streamed in
            batches of :obj:`batch_size`, or a re-iterable (a
            :class:`~torch.utils.data.DataLoader`, a list) of batches
            :obj:`x` or :obj:`(x, y, ...)` that yields the same samples in
            the same order on every pass (a shuffling DataLoader is
            rejected). :math:`N` is read from a DataLoader's sampler, and
            otherwise counted by one pass over the batches.
        layers (None or int or str or [str] or [int] or type, optional): The
            layers, see :func:`select_layers`. With :obj:`method='fx'`,
            names may also be FX node names (see torchvision's
            :obj:`get_graph_node_names`); with :obj:`method='timm'`, names
            and indices refer to the model's :obj:`feature_info`.
            (default: :obj:`None`)
        post_activation (bool, optional): Whether to read the activation
            that follows every selected layer, see :func:`select_layers`.
            (default: :obj:`False`)
        batch_size (int, optional): Samples per forward pass when
            :obj:`inputs` is a tensor. (default: :obj:`256`)
        device (str or torch.device, optional): Where the forward passes
            run; the model is moved there for every pass and moved back
            afterwards. :obj:`None` uses the device of the model's first
            parameter (the CPU if it has none). (default: :obj:`None`)
        max_bytes (int, optional): Budget for the features of one group of
            layers. (default: :obj:`2 * 1024**3`)
        keep_on_device (bool, optional): Whether to keep the features on
            the device of the forward passes instead of the CPU.
            (default: :obj:`False`)
        check_finite (bool, optional): Whether to raise a
            :class:`ValueError` naming the layer when its features contain
            NaN or Inf. (default: :obj:`True`)
        method (str, optional): :obj:`'hooks'` (forward hooks on modules),
            :obj:`'fx'` (torchvision's :obj:`create_feature_extractor`) or
            :obj:`'timm'` (the model's :obj:`forward_intermediates`; for a
            vision transformer this returns the patch tokens without the
            class token, reshaped to :obj:`NCHW`, unlike the hooks, which
            read the whole block output). (default: :obj:`'hooks'`)

    Returns:
        Iterator[(str, Tensor)]: Layer names and features :obj:`[N, D]`.

    Example:
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(),
        ...                       nn.Conv2d(2, 4, 3))
        >>> x = torch.randn(10, 1, 8, 8)
        >>> [(name, tuple(f.shape)) for name, f in
        ...  iter_layer_features(model, x, batch_size=4)]
        [('0', (10, 72)), ('2', (10, 64))]
    """
    plan = _plan(model, inputs, layers, post_activation, batch_size, device,
                 max_bytes, check_finite, method, hold_all=False)
    return _generate(model, inputs, plan, batch_size, keep_on_device,
                     check_finite, method)


def extract_features(
    model: nn.Module,
    inputs: Inputs,
    layers: LayerSpec = None,
    *,
    post_activation: bool = False,
    batch_size: int = 256,
    device: Union[str, torch.device, None] = None,
    max_bytes: int = 2 * 1024**3,
    keep_on_device: bool = False,
    check_finite: bool = True,
    method: str = 'hooks',
) -> dict[str, Tensor]:
    r"""Returns the features :math:`[N, D]` of every selected layer of
    :obj:`model` over :obj:`inputs` as a dictionary in layer order; see
    :func:`iter_layer_features` for the arguments, the layer choice and the
    memory bound of the extraction.

    The result holds all layers at once (:math:`N \cdot \sum_\ell D_\ell
    \cdot 4` bytes); when that exceeds :obj:`max_bytes`, a warning suggests
    :func:`iter_layer_features`, which yields one layer at a time.

    Args:
        model (torch.nn.Module): The model.
        inputs (Tensor or Iterable): A tensor :obj:`[N, ...]` or a
            re-iterable of batches :obj:`x` or :obj:`(x, y, ...)`.
        layers (None or int or str or [str] or [int] or type, optional): The
            layers, see :func:`select_layers`. (default: :obj:`None`)
        post_activation (bool, optional): Whether to read the activation
            that follows every selected layer. (default: :obj:`False`)
        batch_size (int, optional): Samples per forward pass when
            :obj:`inputs` is a tensor. (default: :obj:`256`)
        device (str or torch.device, optional): Where the forward passes
            run. (default: :obj:`None`)
        max_bytes (int, optional): Budget for the features of one group of
            layers. (default: :obj:`2 * 1024**3`)
        keep_on_device (bool, optional): Whether to keep the features on
            the device. (default: :obj:`False`)
        check_finite (bool, optional): Whether to reject NaN or Inf
            features. (default: :obj:`True`)
        method (str, optional): :obj:`'hooks'`, :obj:`'fx'` or
            :obj:`'timm'`. (default: :obj:`'hooks'`)

    Returns:
        dict[str, Tensor]: Layer name to float32 features :obj:`[N, D]`.

    Example:
        >>> import torch.nn.functional as F
        >>> from torch import nn
        >>> conv = nn.Conv2d(1, 2, 3)
        >>> model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(),
        ...                       nn.Linear(72, 3))
        >>> x = torch.randn(5, 1, 8, 8)
        >>> features = extract_features(model, x)
        >>> list(features), features['0'].shape
        (['0'], torch.Size([5, 72]))
        >>> expected = F.conv2d(x, conv.weight, conv.bias).flatten(1)
        >>> torch.allclose(features['0'], expected)
        True
    """
    plan = _plan(model, inputs, layers, post_activation, batch_size, device,
                 max_bytes, check_finite, method, hold_all=True)
    return dict(_generate(model, inputs, plan, batch_size, keep_on_device,
                          check_finite, method))
