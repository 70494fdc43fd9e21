r"""How a layer is read: one forward pass over the inputs that copies the
outputs of a group of layers into preallocated buffers.

Three readers give the same features where they overlap: forward hooks on
modules (the default, works for any :class:`torch.nn.Module`), torchvision's
:obj:`create_feature_extractor` (FX; can also read functional operations
such as :obj:`'layer1.0.add'`) and timm's :obj:`forward_intermediates`.

Hygiene: every pass runs under :func:`torch.no_grad` with the model in eval
mode; hooks are removed and every module's train/eval flag (and the model's
device, when :obj:`device` moved it) is restored after every pass, also when
the forward pass raises.
"""
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

from pyg_dnnmod.utils import model_device

#: Inputs: a tensor :obj:`[N, ...]` or a re-iterable of batches :obj:`x` or
#: :obj:`(x, y, ...)`.
Inputs = Union[Tensor, Iterable]

#: The readers, by the name :obj:`method` takes.
METHODS = ('hooks', 'fx', 'timm')
#: Samples of the first batch used to find every layer's output size.
PROBE_SIZE = 2
_RANDOM_SAMPLERS = (RandomSampler, SubsetRandomSampler, WeightedRandomSampler)


class _StopForward(Exception):
    # Raised by a hook once every layer of a group has been read, so that
    # the rest of the network is not computed.
    pass


@contextmanager
def model_state(model: nn.Module, device: Optional[torch.device] = None):
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
        yield device if device is not None else model_device(model)
    finally:
        if moved:
            model.to(home)
        for m, training in flags:
            m.training = training


def check_inputs(inputs: Inputs) -> None:
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
                        f"DataLoader or a list of batches), since a probe "
                        f"pass over the first batch comes before the pass "
                        f"that reads the layers (got the one-shot "
                        f"iterator {type(inputs).__name__})")
    if isinstance(inputs, DataLoader):
        samplers = [inputs.sampler, getattr(inputs.batch_sampler, 'sampler',
                                            None)]
        if any(isinstance(s, _RANDOM_SAMPLERS) for s in samplers):
            raise ValueError("'inputs' is a DataLoader that shuffles; every "
                             "pass must see the samples in the same order, "
                             "so use shuffle=False (and a fixed subset for a "
                             "random sample)")


def leading_tensor(item: Any) -> Optional[Tensor]:
    r"""The tensor :obj:`item` is, or the first entry of a tuple or list
    :obj:`item` when that is a tensor (a batch :obj:`(x, y)`, a block's
    :obj:`(hidden, ...)`), else :obj:`None`."""
    if isinstance(item, Tensor):
        return item
    if isinstance(item, (tuple, list)) and item and isinstance(
            item[0], Tensor):
        return item[0]
    return None


def _batch_tensor(item: Any) -> Tensor:
    tensor = leading_tensor(item)
    if tensor is not None:
        return tensor
    raise TypeError(f"every batch of 'inputs' must be a Tensor x or a "
                    f"tuple (x, y, ...) (got {type(item).__name__})")


def _batches(inputs: Inputs, batch_size: int) -> Iterator[Tensor]:
    if isinstance(inputs, Tensor):
        for start in range(0, inputs.size(0), batch_size):
            yield inputs[start:start + batch_size]
    else:
        for item in inputs:
            yield _batch_tensor(item)


def count_samples(inputs: Inputs, batch_size: int) -> int:
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


class Collector:
    # Receives every layer's batch output, checks it and copies it, flattened,
    # into the layer's slice of a preallocated buffer. The copy is made at
    # once, so that a later in-place operation cannot change it. The buffers
    # are allocated here, or given (`buffers`, e.g. a disk-backed matrix of
    # a spilled layer, on any device: copy_ moves the batch there).
    def __init__(self, names: list[str], num_samples: int,
                 dims: Optional[dict[str, int]] = None,
                 out_device: Optional[torch.device] = None,
                 stop_early: bool = False, check_finite: bool = True,
                 buffers: Optional[dict[str, Tensor]] = None) -> None:
        self.names = names
        self.check_finite = check_finite
        self.dims = dims
        self.stop_early = stop_early
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.buffers: dict[str, Tensor] = {}
        if buffers is not None:
            assert dims is not None and set(buffers) == set(names)
            self.buffers = buffers
        elif dims is not None:
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
            # Checked per batch on the device: fails early. The sums of the
            # rows are finite unless a row holds NaN or Inf (or overflows),
            # and cost one read; the mask of every value (as large as the
            # batch's features, and 15 % of a ResNet-18 curve's time when
            # always made) only when they are not.
            bad = ~torch.isfinite(flat.sum(dim=1))
            if bool(bad.any()):
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
                 collect: Collector):
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
def _fx_runner(model: nn.Module, names: list[str], collect: Collector):
    from torchvision.models.feature_extraction import (
        create_feature_extractor,
    )

    extractor = create_feature_extractor(model, return_nodes=names).eval()

    def run(x: Tensor) -> None:
        out = extractor(x)
        for name in names:
            collect(name, out[name])

    yield run


def timm_modules(model: nn.Module) -> list[str]:
    info = getattr(model, 'feature_info', None)
    if not hasattr(model, 'forward_intermediates') or not info:
        raise ValueError(f"method='timm' needs a timm model with "
                         f"'forward_intermediates' and 'feature_info' (got "
                         f"{type(model).__name__})")
    return [f['module'] for f in info]


@contextmanager
def _timm_runner(model: nn.Module, names: list[str], collect: Collector):
    modules = timm_modules(model)
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


def run_pass(model: nn.Module, inputs: Inputs, names: list[str],
             collect: Collector, method: str, batch_size: int,
             device: Optional[torch.device], num_samples: Optional[int],
             probe: bool = False) -> None:
    with model_state(model, device) as device, torch.no_grad(), \
            _RUNNERS[method](model, names, collect) as run:
        start = 0
        for x in _batches(inputs, batch_size):
            if probe:
                x = x[:PROBE_SIZE]
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
