r"""Feature extraction: the output of every chosen layer over :math:`N`
inputs, flattened to :math:`[N, D]`, the raw material of the k-NN snapshots.

Planning is kept apart from generation: :func:`_plan` checks everything that
can fail on bad input, finds every layer's size by one small forward pass
and decides where every layer's features go: in memory while they fit the
memory budget, the others in a disk-backed float32 store
(:mod:`pyg_dnnmod.features._spill`), so that one forward pass reads every
layer; or, with :obj:`spill=False`, it groups the layers, in order, so that
the features of a group fit the budget. :func:`_generate` then makes one
forward pass per group (see :mod:`pyg_dnnmod.features._readers` for how a
pass reads its layers and keeps the model as it was).
"""
import inspect
import math
import os
import warnings
from collections.abc import Iterator
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from pyg_dnnmod.features._readers import (
    METHODS,
    PROBE_SIZE,
    Collector,
    Inputs,
    check_inputs,
    count_samples,
    run_pass,
    timm_modules,
)
from pyg_dnnmod.features._select import (
    LayerSpec,
    _post_activation,
    _resolve_layers,
    select_layers,
)
from pyg_dnnmod.features._spill import (
    SpillStore,
    check_spill_dir,
    check_spill_space,
    memory_budget,
)
from pyg_dnnmod.utils import model_device

_ITEMSIZE = 4  # features are stored as float32


def _select(model: nn.Module, layers: LayerSpec, post_activation: bool,
            method: str) -> list[str]:
    if method == 'timm':
        if post_activation:
            raise ValueError("'post_activation' is not supported with "
                             "method='timm' (got True)")
        modules = timm_modules(model)
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


def _plan(model: nn.Module, inputs: Inputs, layers: LayerSpec, *,
          post_activation: bool, batch_size: int,
          device: Union[str, torch.device, None], max_bytes: Optional[int],
          spill: bool, spill_dir: Union[str, os.PathLike, None],
          keep_on_device: bool, check_finite: bool, method: str,
          hold_all: bool) -> dict[str, Any]:
    # Everything that can fail on bad input happens here, before the first
    # layer is yielded.
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    if method not in METHODS:
        raise ValueError(f"'method' must be one of {list(METHODS)} (got "
                         f"{method!r})")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or \
            batch_size < 1:
        raise ValueError(f"'batch_size' must be an int >= 1 (got "
                         f"{batch_size!r})")
    if max_bytes is not None and (
            isinstance(max_bytes, bool) or not isinstance(max_bytes, int)
            or max_bytes < 1):
        raise ValueError(f"'max_bytes' must be None or an int >= 1 (got "
                         f"{max_bytes!r})")
    if not isinstance(spill, bool):
        raise TypeError(f"'spill' must be a bool (got "
                        f"{type(spill).__name__} {spill!r})")
    spill_dir = check_spill_dir(spill_dir)
    check_inputs(inputs)
    device = None if device is None else torch.device(device)
    names = _select(model, layers, post_activation, method)

    # One forward pass over two samples finds every layer's feature size
    # (and rejects modules that run more than once) before any memory is
    # allocated.
    probe = Collector(names, PROBE_SIZE, check_finite=check_finite)
    run_pass(model, inputs, names, probe, method, batch_size, device, None,
             probe=True)
    dims = {name: math.prod(probe.shapes[name]) for name in names}
    num_samples = count_samples(inputs, batch_size)

    out_device = torch.device('cpu')
    if keep_on_device:
        out_device = device if device is not None else model_device(model)
    budget = memory_budget(out_device) if max_bytes is None else max_bytes
    layer_bytes = {name: num_samples * dims[name] * _ITEMSIZE
                   for name in names}
    total = sum(layer_bytes.values())
    plan = dict(dims=dims, num_samples=num_samples, device=device,
                out_device=out_device, batch_size=batch_size,
                check_finite=check_finite, method=method, budget=budget,
                spill_dir=spill_dir, spilled=set())

    if spill:
        # One pass: in order, every layer that still fits the budget stays
        # in memory; the others go to the disk-backed store.
        room = budget
        for name in names:
            if layer_bytes[name] <= room:
                room -= layer_bytes[name]
            else:
                plan['spilled'].add(name)
        if plan['spilled']:
            check_spill_space(spill_dir, sum(layer_bytes[name] for name in
                                             plan['spilled']), stacklevel=3)
        plan['groups'] = [names]
        return plan

    if hold_all and total > budget:
        warnings.warn(
            f"the features of all {len(names)} layers take {total} bytes, "
            f"more than 'max_bytes' ({budget}); iter_layer_features "
            f"yields one layer at a time", stacklevel=3)
    groups: list[list[str]] = []
    group_bytes = 0
    for name in names:
        if layer_bytes[name] > budget:
            warnings.warn(
                f"the features of layer {name!r} alone take "
                f"{layer_bytes[name]} bytes, more than 'max_bytes' "
                f"({budget}); it is extracted on its own", stacklevel=3)
        if not groups or group_bytes + layer_bytes[name] > budget:
            groups.append([])
            group_bytes = 0
        groups[-1].append(name)
        group_bytes += layer_bytes[name]
    plan['groups'] = groups
    return plan


def _buffers(group: list[str], plan: dict[str, Any],
             store: Optional[SpillStore]) -> dict[str, Tensor]:
    num_samples, dims = plan['num_samples'], plan['dims']
    return {
        name: store.empty(num_samples, dims[name])
        if store is not None and name in plan['spilled'] else
        torch.empty(num_samples, dims[name], dtype=torch.float32,
                    device=plan['out_device'])
        for name in group
    }


def _deliver(features: Tensor, device: torch.device) -> Tensor:
    # A spilled layer lies on the CPU; features kept on a device go there.
    return features if features.device == device else features.to(device)


def _generate(model: nn.Module, inputs: Inputs,
              plan: dict[str, Any]) -> Iterator[tuple[str, Tensor]]:
    store = SpillStore(plan['spill_dir']) if plan['spilled'] else None
    try:
        for group in plan['groups']:
            # The buffers go straight into the collector: no other
            # reference, so that a yielded layer lives only as long as the
            # caller keeps it.
            collect = Collector(group, plan['num_samples'], plan['dims'],
                                stop_early=plan['method'] == 'hooks',
                                check_finite=plan['check_finite'],
                                buffers=_buffers(group, plan, store))
            run_pass(model, inputs, group, collect, plan['method'],
                     plan['batch_size'], plan['device'], plan['num_samples'])
            for name in group:
                yield name, _deliver(collect.buffers.pop(name),
                                     plan['out_device'])
    finally:
        # Exhausted, closed, or garbage-collected: the store's folder goes
        # (its files were unlinked when mapped; their data lives as long as
        # the yielded tensors).
        if store is not None:
            store.close()


def iter_layer_features(
    model: nn.Module,
    inputs: Inputs,
    layers: LayerSpec = None,
    *,
    post_activation: bool = False,
    batch_size: int = 256,
    device: Union[str, torch.device, None] = None,
    max_bytes: Optional[int] = None,
    spill: bool = True,
    spill_dir: Union[str, os.PathLike, None] = None,
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
    a ResNet) and yielded in the order selected. One forward pass over two
    samples first finds every :math:`D_\ell`; then **one forward pass** over
    the inputs reads every layer, and stops as soon as the last one has been
    read. In layer order, every layer whose features still fit the budget
    :obj:`max_bytes` (by default :func:`memory_budget`, half the memory
    available now) is kept in memory,

    .. math::
        N \cdot \sum_{\ell \text{ in memory}} D_\ell \cdot 4 \leq
        \texttt{max\_bytes},

    and every other layer is written, batch by batch, to a disk-backed
    float32 store: a :class:`numpy.memmap` in a temporary folder under
    :obj:`spill_dir`, yielded as a CPU tensor over that map
    (:func:`torch.from_numpy`). The store is float32 like the features in
    memory, so a spilled layer holds exactly the same values (and gives
    bit-identical k-NN graphs); there is deliberately no float16 store,
    which could not. Its files are unlinked as soon as they are mapped
    (POSIX), so their disk space lives as long as the tensors yielded, and
    the folder is removed when the iterator is exhausted, closed or
    garbage-collected. With :obj:`spill=False` nothing goes to disk:
    instead the layers are grouped, in order, so that the features of a
    group fit :obj:`max_bytes`, and every group makes its own forward pass.

    **Peak memory**: the features held by this function never exceed
    :obj:`max_bytes` (with :obj:`spill=False`,
    :math:`\max(\texttt{max\_bytes}, N \cdot \max_\ell D_\ell \cdot 4)`:
    a single layer larger than the budget is extracted on its own, with a
    warning), plus the activations of one batch. Layers already yielded are
    held only as long as the caller keeps them. The operating system's page
    cache, which holds the store's pages while they are written and read,
    is not counted: it shows in the process's resident set while mapped,
    but the kernel writes it back and reclaims it under memory pressure. A
    :obj:`spill_dir` on a file system in memory (tmpfs, as :obj:`/tmp` is
    on some systems) saves no memory: a warning says so. The free space of
    :obj:`spill_dir` is checked before the pass.

    With :obj:`keep_on_device`, the budget is that of the device
    (:func:`memory_budget` of it); spilled layers are written to the CPU
    store and moved to the device when yielded, so while the caller holds
    a spilled layer the device holds it too, beside the layers in memory
    not yet yielded.

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
        max_bytes (int, optional): Budget in bytes for the features held in
            memory; :obj:`None` takes :func:`memory_budget` of the device
            the features are held on, when the extraction starts.
            (default: :obj:`None`)
        spill (bool, optional): Whether the layers that do not fit
            :obj:`max_bytes` go to a disk-backed store (one forward pass),
            or, if :obj:`False`, to further forward passes (nothing on
            disk). (default: :obj:`True`)
        spill_dir (str or os.PathLike, optional): The existing folder in
            which the store's temporary folder is made. (default:
            :obj:`None`, the system's temporary folder,
            :func:`tempfile.gettempdir`)
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
        >>> # A budget of 3000 bytes keeps layer '0' (2880 bytes) in memory
        >>> # and writes layer '2' (2560 bytes) to disk, in the same pass.
        >>> spilled = dict(iter_layer_features(model, x, max_bytes=3000))
        >>> torch.equal(spilled['2'], model(x).flatten(1))
        True
    """
    plan = _plan(model, inputs, layers, post_activation=post_activation,
                 batch_size=batch_size, device=device, max_bytes=max_bytes,
                 spill=spill, spill_dir=spill_dir,
                 keep_on_device=keep_on_device, check_finite=check_finite,
                 method=method, hold_all=False)
    return _generate(model, inputs, plan)


def _options(options: dict[str, Any]) -> dict[str, Any]:
    # The keyword options of iter_layer_features with their defaults, read
    # from its signature: the one place where they are declared.
    params = inspect.signature(iter_layer_features).parameters
    defaults = {name: p.default for name, p in params.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY}
    unknown = [name for name in options if name not in defaults]
    if unknown:
        raise TypeError(f"extract_features() got unexpected keyword "
                        f"argument(s) {unknown}; its options are those of "
                        f"iter_layer_features: {list(defaults)}")
    return {**defaults, **options}


def extract_features(
    model: nn.Module,
    inputs: Inputs,
    layers: LayerSpec = None,
    **options: Any,
) -> dict[str, Tensor]:
    r"""Returns the features :math:`[N, D]` of every selected layer of
    :obj:`model` over :obj:`inputs` as a dictionary in layer order; see
    :func:`iter_layer_features` for the arguments, the layer choice and the
    memory bound of the extraction.

    The result holds all layers at once (:math:`N \cdot \sum_\ell D_\ell
    \cdot 4` bytes): those that do not fit :obj:`max_bytes` as tensors over
    the disk-backed store (see :func:`iter_layer_features`; its disk space
    is freed when they are), or, with :obj:`spill=False`, all in memory,
    and then a warning suggests :func:`iter_layer_features`, which yields
    one layer at a time, when they exceed :obj:`max_bytes`.

    Args:
        model (torch.nn.Module): The model.
        inputs (Tensor or Iterable): A tensor :obj:`[N, ...]` or a
            re-iterable of batches :obj:`x` or :obj:`(x, y, ...)`.
        layers (None or int or str or [str] or [int] or type, optional): The
            layers, see :func:`select_layers`. (default: :obj:`None`)
        **options (optional): The keyword arguments of
            :func:`iter_layer_features`, with its defaults:
            :obj:`post_activation`, :obj:`batch_size`, :obj:`device`,
            :obj:`max_bytes` (also the budget of the warning above),
            :obj:`spill`, :obj:`spill_dir`, :obj:`keep_on_device`,
            :obj:`check_finite` and :obj:`method`.

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
    plan = _plan(model, inputs, layers, **_options(options), hold_all=True)
    return dict(_generate(model, inputs, plan))
