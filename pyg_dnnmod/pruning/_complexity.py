r"""Model complexity for pruning reports: parameters, multiply-accumulates
and FLOPs.

The figures come from thop (``pytorch-OpCounter``), as in the paper's
tables: thop counts multiply-accumulates (MACs) and the paper called them
FLOPs, so both :obj:`MACs` and :obj:`FLOPs = 2 x MACs` are reported, as two
labelled columns. The convolution and linear part is cross-checked against
:class:`torch.utils.flop_counter.FlopCounterMode`, which counts one
multiply-accumulate of those operators as two FLOPs and sees functional
calls that thop's module hooks miss.
"""
import copy
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

# Modules whose thop count is the convolution and linear part.
_CONV_LINEAR = (nn.modules.conv._ConvNd, nn.Linear)
# FlopCounterMode operators of that part (`aten.convolution` covers every
# ConvNd, `addmm`/`mm` a Linear with and without bias).
_FLOP_COUNTER_OPS = {'aten.convolution', 'aten._convolution', 'aten.addmm',
                     'aten.mm'}


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    if isinstance(input_shape, torch.Size):
        input_shape = tuple(input_shape)
    if isinstance(input_shape, (str, bytes)) or not isinstance(
            input_shape, Sequence) or len(input_shape) == 0 or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 1
                for s in input_shape):
        raise ValueError(f"'input_shape' must be the shape of one input "
                         f"without the batch dimension, positive integers "
                         f"such as (3, 32, 32) (got {input_shape!r})")
    return tuple(input_shape)


def _conv_linear_macs(module: nn.Module, info: dict) -> float:
    # thop's per-module tree: {child: (ops, params, grandchildren)}.
    total = 0.0
    for name, child in module.named_children():
        if name not in info:
            continue
        ops, _, sub = info[name]
        if isinstance(child, _CONV_LINEAR):
            total += ops
        else:
            total += _conv_linear_macs(child, sub)
    return total


def _probe(model: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    tensor = next(iter(model.parameters()), None)
    if tensor is None:
        tensor = next(iter(model.buffers()), None)
    device = tensor.device if tensor is not None else torch.device('cpu')
    dtype = tensor.dtype if tensor is not None and \
        tensor.is_floating_point() else torch.float
    return torch.zeros((1, ) + input_shape, device=device, dtype=dtype)


def _require_batched_conv(probe: nn.Module,
                          input_shape: tuple[int, ...]) -> None:
    r"""Makes every convolution of :obj:`probe` (a copy) reject an input
    without a batch dimension: a Conv2d also runs on :obj:`[C, H, W]`, so an
    :obj:`input_shape` that lacks the channel of a one-channel model would
    otherwise be profiled as a batch of one single-channel image."""
    def check(module: nn.Module, args: tuple) -> None:
        if args and isinstance(args[0], torch.Tensor) and \
                args[0].dim() == len(module.kernel_size) + 1:
            raise ValueError(
                f"'input_shape' {input_shape!r} reaches "
                f"{type(module).__name__} {names[module]!r} without a batch "
                f"dimension (input shape {list(args[0].shape)}); give the "
                f"shape of one input with its channels, e.g. (1, 32, 32)")

    names = {m: name for name, m in probe.named_modules()
             if isinstance(m, nn.modules.conv._ConvNd)}
    for module in names:
        module.register_forward_pre_hook(check)


def complexity(model: nn.Module, input_shape: Sequence[int],
               cross_check: bool = True) -> dict[str, Any]:
    r"""Counts the parameters, multiply-accumulates and FLOPs of one forward
    pass of :obj:`model` on one input, with thop.

    .. math::
        \mathrm{FLOPs} = 2 \cdot \mathrm{MACs}

    thop counts a convolution as :math:`C_{out} H_{out} W_{out} \cdot
    (C_{in} / g) k_h k_w` MACs and a linear layer as
    :math:`d_{in} d_{out}`, and also counts BatchNorm, pooling and similar
    modules (ReLU and max-pooling count zero). The profiling runs on a deep
    copy in evaluation mode, since thop adds buffers to the modules it
    profiles.

    With :obj:`cross_check=True` the same copy runs once more under
    :class:`~torch.utils.flop_counter.FlopCounterMode`, whose convolution
    and matrix-multiply FLOPs must equal :math:`2 \times` thop's MACs of the
    convolution and linear modules; a :class:`UserWarning` says by how much
    they differ otherwise (e.g. a functional
    :func:`~torch.nn.functional.conv2d` that thop cannot see).

    :obj:`params` counts every parameter; for a model built from modules
    that thop has rules for, this is thop's count (thop skips the
    parameters of modules it does not know and those of the root module).

    Args:
        model (torch.nn.Module): The model.
        input_shape ([int]): The shape of one input without the batch
            dimension, e.g. :obj:`(3, 32, 32)`.
        cross_check (bool, optional): Whether to run the
            :class:`~torch.utils.flop_counter.FlopCounterMode` check.
            (default: :obj:`True`)

    Returns:
        dict: :obj:`params`, :obj:`MACs` and :obj:`FLOPs` (ints),
        :obj:`conv_linear_MACs` (thop, the convolution and linear modules
        only) and :obj:`flop_counter_FLOPs` (FlopCounterMode, convolutions
        and matrix multiplies; :obj:`None` without :obj:`cross_check`).

    Example:
        >>> model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(),
        ...                       nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
        >>> c = complexity(model, (1, 4, 4))
        >>> c['params'], c['MACs'], c['FLOPs']  # 2*16*9 + 32*3 MACs
        (119, 384, 768)
        >>> c['flop_counter_FLOPs'] == 2 * c['conv_linear_MACs']
        True
    """
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        import thop

    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    input_shape = _check_shape(input_shape)
    probe = copy.deepcopy(model).eval()
    x = _probe(probe, input_shape)
    _require_batched_conv(probe, input_shape)
    try:
        with warnings.catch_warnings():
            # thop compares versions with the deprecated distutils
            # LooseVersion.
            warnings.simplefilter('ignore', DeprecationWarning)
            macs, _, info = thop.profile(probe, inputs=(x, ), verbose=False,
                                         ret_layer_info=True)
    except torch.cuda.OutOfMemoryError:
        raise
    except RuntimeError as error:
        raise ValueError(f"'input_shape' {input_shape!r} does not fit the "
                         f"model, whose forward pass on a batch of one "
                         f"raised: {error}") from error
    # thop's tree holds the children only; a bare layer is its own part.
    conv_linear = macs if isinstance(probe, _CONV_LINEAR) else \
        _conv_linear_macs(probe, info)

    flop_counter: Optional[int] = None
    if cross_check:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            probe(x)
        counts = counter.get_flop_counts().get('Global', {})
        flop_counter = int(sum(v for k, v in counts.items()
                               if str(k) in _FLOP_COUNTER_OPS))
        if flop_counter != 2 * int(conv_linear):
            warnings.warn(
                f"FlopCounterMode counts {flop_counter:,} convolution and "
                f"matrix-multiply FLOPs but thop's convolution and linear "
                f"modules give 2 x {int(conv_linear):,} MACs = "
                f"{2 * int(conv_linear):,}; thop misses operations that are "
                f"not modules it knows (functional calls?)", stacklevel=2)

    return {
        'params': sum(p.numel() for p in model.parameters()),
        'MACs': int(macs),
        'FLOPs': 2 * int(macs),
        'conv_linear_MACs': int(conv_linear),
        'flop_counter_FLOPs': flop_counter,
    }


def _reduction(value: float, original: float) -> float:
    if original == 0:
        return math.nan
    return 100.0 * (1.0 - value / original)


def complexity_table(models: Mapping[str, Union[nn.Module, Mapping]],
                     input_shape: Optional[Sequence[int]] = None,
                     cross_check: bool = False) -> pd.DataFrame:
    r"""Tabulates :func:`complexity` for several models, with reductions
    against the first one (the original).

    .. math::
        \mathrm{reduction} = 100 \cdot \left(1 - \frac{x}{x_{\mathrm{first}}}
        \right) \%

    The MACs reduction equals :obj:`FLOPs_reduction_%`.

    Args:
        models ({str: torch.nn.Module or dict}): Models by name, the original
            first; a value may also be a dict returned by :func:`complexity`.
        input_shape ([int], optional): The shape of one input without the
            batch dimension; needed when a value is a model.
            (default: :obj:`None`)
        cross_check (bool, optional): Passed to :func:`complexity`.
            (default: :obj:`False`)

    Returns:
        pandas.DataFrame: One row per model (index :obj:`model`) with
        columns :obj:`params`, :obj:`MACs`, :obj:`FLOPs`,
        :obj:`params_reduction_%` and :obj:`FLOPs_reduction_%`.

    Example:
        >>> table = complexity_table({'wide': nn.Linear(8, 4),
        ...                           'narrow': nn.Linear(8, 1)}, (8, ))
        >>> table.loc['narrow'].tolist()
        [9.0, 8.0, 16.0, 75.0, 75.0]
    """
    if not isinstance(models, Mapping) or len(models) == 0:
        raise ValueError(f"'models' must be a non-empty dict of models by "
                         f"name (got {models!r})")
    rows = []
    for name, value in models.items():
        if isinstance(value, nn.Module):
            if input_shape is None:
                raise ValueError(f"'input_shape' is needed to profile model "
                                 f"'{name}' (got None)")
            value = complexity(value, input_shape, cross_check)
        elif not isinstance(value, Mapping) or not {
                'params', 'MACs', 'FLOPs'} <= set(value):
            raise TypeError(f"'models['{name}']' must be a torch.nn.Module or "
                            f"a dict from complexity() (got "
                            f"{type(value).__name__})")
        rows.append({'model': name, 'params': value['params'],
                     'MACs': value['MACs'], 'FLOPs': value['FLOPs']})
    table = pd.DataFrame(rows).set_index('model')
    first = table.iloc[0]
    table['params_reduction_%'] = [
        _reduction(v, first['params']) for v in table['params']]
    table['FLOPs_reduction_%'] = [
        _reduction(v, first['FLOPs']) for v in table['FLOPs']]
    return table
