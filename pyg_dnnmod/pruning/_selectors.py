r"""Redundant-layer selectors on a modularity curve.

Lu et al. (ECCV 2022, section 5.2) read plateaus and drops of the modularity
curve :math:`Q_0, \dots, Q_{L-1}` (one value per layer, in depth order) as
layers that add little class separation and can be removed. Every selector
here takes such a curve (a :class:`~torch.Tensor` of per-layer values or any
object with a :meth:`modularity` method and a :obj:`layer_names` attribute,
such as :class:`~pyg_dnnmod.snapshots.LayerGraphs`) and returns the sorted
absolute indices of the layers it picks, as timm's
:obj:`prune_intermediate_layers` returns the indices it keeps. The first
layer has no gain and is never picked.
"""
import math
from collections.abc import Sequence
from typing import Any, Optional, Union

import torch
from torch import Tensor

#: What a selector reads: per-layer values :obj:`[L]` (or :obj:`[R, L]`
#: repeats for :func:`mean_gain_threshold`), or an object with
#: :meth:`modularity` and :obj:`layer_names`.
Curve = Any

#: Which layers a selector may pick: :obj:`None` (all), a boolean mask of
#: length :obj:`L`, absolute indices, or layer names (the curve must then
#: carry :obj:`layer_names`).
Removable = Optional[Union[Tensor, Sequence[bool], Sequence[int],
                           Sequence[str]]]


def _is_curve_object(obj: object) -> bool:
    return callable(getattr(obj, 'modularity', None)) and hasattr(
        obj, 'layer_names')


def _curve_values(curve: Curve) -> tuple[Tensor, Optional[list[str]]]:
    r"""Returns the curve as a float64 tensor and its layer names, if any."""
    names: Optional[list[str]] = None
    if _is_curve_object(curve):
        names = list(curve.layer_names)
        values = curve.modularity()
    else:
        values = curve
    if not isinstance(values, Tensor):
        if isinstance(values, (str, bytes)) or not isinstance(
                values, Sequence):
            raise TypeError(f"'curve' must be a Tensor of per-layer values or "
                            f"an object with 'modularity()' and "
                            f"'layer_names' (got {type(curve).__name__})")
        values = torch.as_tensor(values, dtype=torch.float64)
    if values.is_complex() or values.dtype == torch.bool:
        raise TypeError(f"'curve' must hold real values (got {values.dtype})")
    return values.detach().to('cpu', torch.float64), names


def _check_finite(values: Tensor, names: Optional[list[str]]) -> None:
    bad = (~torch.isfinite(values)).nonzero()
    if bad.numel() > 0:
        where = tuple(bad[0].tolist())
        layer = where[-1]
        name = f" ('{names[layer]}')" if names is not None else ''
        raise ValueError(f"'curve' must be finite; layer {layer}{name} is "
                         f"{values[where].item()}")


def _as_curve(curve: Curve) -> tuple[Tensor, Optional[list[str]]]:
    values, names = _curve_values(curve)
    if values.dim() != 1:
        raise ValueError(f"'curve' must be one-dimensional, one value per "
                         f"layer (got shape {list(values.shape)})")
    if values.numel() == 0:
        raise ValueError("'curve' must hold at least one layer (got 0)")
    if names is not None and len(names) != values.numel():
        raise ValueError(f"'curve' has {values.numel()} values but "
                         f"{len(names)} layer names")
    _check_finite(values, names)
    return values, names


def _as_repeats(curves: Curve) -> tuple[Tensor, Optional[list[str]]]:
    r"""Returns :obj:`[R, L]` values from a tensor or a sequence of
    curves."""
    if isinstance(curves, Tensor) or _is_curve_object(curves):
        values, names = _curve_values(curves)
        if values.dim() == 1:
            values = values.unsqueeze(0)
    elif isinstance(curves, Sequence) and not isinstance(curves, str) and \
            len(curves) > 0 and all(
                isinstance(c, Tensor) or _is_curve_object(c)
                or isinstance(c, Sequence) for c in curves):
        rows = [_as_curve(c) for c in curves]
        lengths = sorted({r[0].numel() for r in rows})
        if len(lengths) > 1:
            raise ValueError(f"all curves in 'curves' must have the same "
                             f"number of layers (got {lengths})")
        names = next((r[1] for r in rows if r[1] is not None), None)
        for r in rows:
            if r[1] is not None and r[1] != names:
                raise ValueError("all curves in 'curves' must have the same "
                                 "layer names")
        values = torch.stack([r[0] for r in rows])
    else:
        raise TypeError(f"'curves' must be a [R, L] Tensor or a sequence of "
                        f"curves (got {type(curves).__name__})")
    if values.dim() != 2:
        raise ValueError(f"'curves' must be two-dimensional, [repeats, "
                         f"layers] (got shape {list(values.shape)})")
    if values.numel() == 0:
        raise ValueError(f"'curves' must not be empty (got shape "
                         f"{list(values.shape)})")
    if names is not None and len(names) != values.size(1):
        raise ValueError(f"'curves' has {values.size(1)} layers but "
                         f"{len(names)} layer names")
    _check_finite(values, names)
    return values, names


def _check_number(value: float, name: str, low: Optional[float] = None,
                  high: Optional[float] = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"'{name}' must be a number (got {value!r})")
    if not math.isfinite(value):
        raise ValueError(f"'{name}' must be finite (got {value})")
    if low is not None and value < low:
        raise ValueError(f"'{name}' must be >= {low} (got {value})")
    if high is not None and value >= high:
        raise ValueError(f"'{name}' must be < {high} (got {value})")
    return float(value)


def _removable_mask(removable: Removable, num_layers: int,
                    names: Optional[list[str]]) -> Tensor:
    if removable is None:
        return torch.ones(num_layers, dtype=torch.bool)
    if isinstance(removable, Tensor):
        if removable.dtype == torch.bool:
            items: list = removable.flatten().tolist()
            if removable.dim() != 1:
                raise ValueError(f"'removable' must be a one-dimensional "
                                 f"mask (got shape {list(removable.shape)})")
        else:
            items = removable.flatten().tolist()
    elif isinstance(removable, (str, bytes)) or not isinstance(
            removable, Sequence):
        raise TypeError(f"'removable' must be None, a boolean mask, a list "
                        f"of layer indices or a list of layer names (got "
                        f"{removable!r})")
    else:
        items = list(removable)

    mask = torch.zeros(num_layers, dtype=torch.bool)
    if len(items) == 0:
        return mask
    if all(isinstance(i, bool) for i in items):
        if len(items) != num_layers:
            raise ValueError(f"'removable' as a mask must have one entry per "
                             f"layer ({num_layers}, got {len(items)})")
        return torch.tensor(items, dtype=torch.bool)
    if all(isinstance(i, int) and not isinstance(i, bool) for i in items):
        for i in items:
            if not 0 <= i < num_layers:
                raise ValueError(f"index {i} in 'removable' is out of range: "
                                 f"layer indices are absolute, 0 to "
                                 f"{num_layers - 1} for {num_layers} layers")
            mask[i] = True
        return mask
    if all(isinstance(i, str) for i in items):
        if names is None:
            raise ValueError("'removable' holds layer names, but the curve "
                             "is a plain Tensor without 'layer_names'; pass "
                             "indices or a mask instead")
        position = {name: i for i, name in enumerate(names)}
        unknown = [i for i in items if i not in position]
        if unknown:
            raise ValueError(f"unknown layer name(s) {unknown!r} in "
                             f"'removable'; the curve's layers are {names!r}")
        for i in items:
            mask[position[i]] = True
        return mask
    raise TypeError(f"'removable' must hold only booleans, only indices or "
                    f"only names (got {removable!r})")


def _indices(selected: Tensor) -> list[int]:
    return selected.nonzero().flatten().tolist()


def modularity_gain(curve: Curve) -> Tensor:
    r"""Returns the modularity gain of every layer over the layer before it.

    .. math::
        \Delta Q_i = Q_i - Q_{i-1}, \qquad i = 1, \dots, L - 1

    The first layer has no predecessor; its entry is NaN so that the result
    stays aligned with the layers. A :obj:`[R, L]` input (repeats) gives
    :obj:`[R, L]` gains.

    Args:
        curve (torch.Tensor or LayerGraphs): Per-layer modularity
            :obj:`[L]` or :obj:`[R, L]`, or an object with
            :meth:`modularity`.

    Returns:
        torch.Tensor: The gains in float64, NaN in column 0.

    Example:
        >>> modularity_gain(torch.tensor([0.25, 0.5, 0.5, 0.375])).tolist()
        [nan, 0.25, 0.0, -0.125]
    """
    values, _ = _curve_values(curve)
    if values.dim() not in (1, 2) or values.size(-1) == 0:
        raise ValueError(f"'curve' must have shape [L] or [R, L] with L >= 1 "
                         f"(got shape {list(values.shape)})")
    gain = torch.full_like(values, math.nan)
    gain[..., 1:] = values[..., 1:] - values[..., :-1]
    return gain


def gain_threshold(curve: Curve, tau: float = 0.0,
                   removable: Removable = None) -> list[int]:
    r"""Selects the layers whose modularity gain is at most :obj:`tau`: the
    plateaus and drops of the curve (Lu et al., ECCV 2022, section 5.2).

    .. math::
        \mathcal{S} = \{\, i \geq 1 : Q_i - Q_{i-1} \leq \tau \,\}

    The first layer is never selected.

    Args:
        curve (torch.Tensor or LayerGraphs): Per-layer modularity :obj:`[L]`.
        tau (float, optional): The largest gain that counts as redundant.
            (default: :obj:`0.0`)
        removable (mask or [int] or [str], optional): Only these layers may
            be selected (e.g. :func:`removable_layers` of the model).
            (default: :obj:`None`, all)

    Returns:
        list[int]: Sorted absolute layer indices.

    Example:
        >>> q = torch.tensor([0.2, 0.5, 0.5, 0.7, 0.68])
        >>> gain_threshold(q), gain_threshold(q, tau=0.2)
        ([2, 4], [2, 3, 4])
    """
    values, names = _as_curve(curve)
    tau = _check_number(tau, 'tau')
    mask = _removable_mask(removable, values.numel(), names)
    gain = modularity_gain(values)
    selected = (gain <= tau) & mask
    selected[0] = False
    return _indices(selected)


def plateau_run(curve: Curve, eps: float = 0.01,
                removable: Removable = None) -> list[int]:
    r"""Selects the tail of the curve after it first comes within
    :obj:`eps` of its maximum.

    .. math::
        p = \min \{\, i : Q_i \geq Q_{\max} - \epsilon |Q_{\max}| \,\},
        \qquad \mathcal{S} = \{\, p + 1, \dots, L - 1 \,\}

    For :math:`Q_{\max} \geq 0` the threshold is :math:`(1 - \epsilon)
    Q_{\max}`; the absolute value keeps it reachable for a negative maximum.
    Layers after :math:`p` add at most :math:`\epsilon |Q_{\max}|` over the
    best value the curve ever reaches, whatever they do in between.

    Args:
        curve (torch.Tensor or LayerGraphs): Per-layer modularity :obj:`[L]`.
        eps (float, optional): Relative tolerance, in :math:`[0, 1)`.
            (default: :obj:`0.01`)
        removable (mask or [int] or [str], optional): Only these layers may
            be selected. (default: :obj:`None`, all)

    Returns:
        list[int]: Sorted absolute layer indices.

    Example:
        >>> q = torch.tensor([0.2, 0.5, 0.79, 0.8, 0.8, 0.78])
        >>> plateau_run(q, eps=0.0), plateau_run(q, eps=0.02)
        ([4, 5], [3, 4, 5])
    """
    values, names = _as_curve(curve)
    eps = _check_number(eps, 'eps', low=0.0, high=1.0)
    mask = _removable_mask(removable, values.numel(), names)
    top = values.max().item()
    reached = values >= top - eps * abs(top)
    start = int(reached.nonzero()[0]) + 1
    selected = torch.zeros_like(mask)
    selected[start:] = True
    return _indices(selected & mask)


def gain_budget(curve: Curve, m: int,
                removable: Removable = None) -> list[int]:
    r"""Selects the :obj:`m` layers with the smallest modularity gain
    :math:`Q_i - Q_{i-1}`, the first layer excluded.

    Ties go to the deeper layer (the larger index), since the paper prunes
    from the back of the network.

    Args:
        curve (torch.Tensor or LayerGraphs): Per-layer modularity :obj:`[L]`.
        m (int): How many layers to select, at least :obj:`1`.
        removable (mask or [int] or [str], optional): Only these layers may
            be selected. (default: :obj:`None`, all)

    Returns:
        list[int]: Sorted absolute layer indices.

    Example:
        >>> q = torch.tensor([0.25, 0.5, 0.625, 0.625, 0.75])
        >>> gain_budget(q, 2)  # layers 2 and 4 tie, the deeper one wins
        [3, 4]
        >>> gain_budget(q, 2, removable=[1, 2, 4])
        [2, 4]
    """
    values, names = _as_curve(curve)
    if isinstance(m, bool) or not isinstance(m, int):
        raise TypeError(f"'m' must be an int (got {m!r})")
    if m < 1:
        raise ValueError(f"'m' must be >= 1 (got {m})")
    mask = _removable_mask(removable, values.numel(), names)
    mask[0] = False
    gain = modularity_gain(values)
    candidates = _indices(mask)
    if m > len(candidates):
        raise ValueError(f"'m' must be at most the number of selectable "
                         f"layers ({len(candidates)}, the first layer and "
                         f"non-removable layers excluded) (got {m})")
    ranked = sorted(candidates, key=lambda i: (gain[i].item(), -i))
    return sorted(ranked[:m])


def mean_gain_threshold(curves: Curve, tau: float = 0.0,
                        num_std: float = 0.0,
                        removable: Removable = None) -> list[int]:
    r"""Selects layers by their modularity gain averaged over repeated
    curves (e.g. curves over different random samples), optionally only
    where the gain is below :obj:`tau` by more than its noise.

    With :math:`\Delta Q_i^{(r)} = Q_i^{(r)} - Q_{i-1}^{(r)}` over
    :math:`R` repeats, its mean :math:`\mu_i` and its standard deviation
    :math:`\sigma_i` (unbiased, :math:`R - 1` in the denominator):

    .. math::
        \mathcal{S} = \{\, i \geq 1 : \mu_i + \kappa \, \sigma_i \leq \tau
        \,\}

    With :math:`\kappa = 0` (:obj:`num_std`) this is :func:`gain_threshold`
    on the mean gain; :math:`\kappa = 1` keeps only layers whose gain is
    below :obj:`tau` by at least one standard deviation.

    Args:
        curves (torch.Tensor or [torch.Tensor] or [LayerGraphs]):
            :obj:`[R, L]` values, or :math:`R` curves of :math:`L` layers.
        tau (float, optional): The largest mean gain that counts as
            redundant. (default: :obj:`0.0`)
        num_std (float, optional): :math:`\kappa \geq 0`; needs
            :math:`R \geq 2` when positive. (default: :obj:`0.0`)
        removable (mask or [int] or [str], optional): Only these layers may
            be selected. (default: :obj:`None`, all)

    Returns:
        list[int]: Sorted absolute layer indices.

    Example:
        >>> q = torch.tensor([[0.25, 0.5, 0.5, 0.5],
        ...                   [0.25, 0.5, 0.375, 0.5]])
        >>> mean_gain_threshold(q, tau=0.0625)
        [2, 3]
        >>> mean_gain_threshold(q, tau=0.0625, num_std=1.0)
        [2]
    """
    values, names = _as_repeats(curves)
    tau = _check_number(tau, 'tau')
    num_std = _check_number(num_std, 'num_std', low=0.0)
    num_repeats, num_layers = values.shape
    if num_std > 0 and num_repeats < 2:
        raise ValueError(f"'num_std' > 0 needs at least 2 repeats to "
                         f"estimate a standard deviation (got "
                         f"{num_repeats})")
    mask = _removable_mask(removable, num_layers, names)
    gain = modularity_gain(values)
    score = gain.mean(dim=0)
    if num_std > 0:
        score = score + num_std * gain.std(dim=0)
    selected = (score <= tau) & mask
    selected[0] = False
    return _indices(selected)


class LayerSelector:
    r"""Base class of the redundant-layer selectors: holds the options,
    and :meth:`__call__` runs the functional twin on a curve."""
    def __call__(self, curve: Curve,
                 removable: Removable = None) -> list[int]:
        raise NotImplementedError

    def names(self, curve: Curve, removable: Removable = None) -> list[str]:
        r"""Returns the names of the selected layers; :obj:`curve` must
        carry :obj:`layer_names`."""
        if not _is_curve_object(curve):
            raise TypeError(f"'curve' must have 'layer_names' to select "
                            f"names (got {type(curve).__name__}); call the "
                            f"selector for indices instead")
        layer_names = list(curve.layer_names)
        return [layer_names[i] for i in self(curve, removable)]

    def _options(self) -> str:
        return ', '.join(f'{k}={v!r}' for k, v in vars(self).items())

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self._options()})'


class GainThreshold(LayerSelector):
    r"""Selects the layers whose modularity gain is at most :obj:`tau`; see
    :func:`gain_threshold`.

    Args:
        tau (float, optional): The largest gain that counts as redundant.
            (default: :obj:`0.0`)

    Example:
        >>> GainThreshold(0.01)(torch.tensor([0.2, 0.5, 0.505, 0.6]))
        [2]
    """
    def __init__(self, tau: float = 0.0) -> None:
        self.tau = _check_number(tau, 'tau')

    def __call__(self, curve: Curve,
                 removable: Removable = None) -> list[int]:
        return gain_threshold(curve, self.tau, removable)


class PlateauRun(LayerSelector):
    r"""Selects the tail after the curve first comes within :obj:`eps` of
    its maximum; see :func:`plateau_run`.

    Args:
        eps (float, optional): Relative tolerance, in :math:`[0, 1)`.
            (default: :obj:`0.01`)

    Example:
        >>> PlateauRun(0.05)(torch.tensor([0.2, 0.5, 0.78, 0.8, 0.79]))
        [3, 4]
    """
    def __init__(self, eps: float = 0.01) -> None:
        self.eps = _check_number(eps, 'eps', low=0.0, high=1.0)

    def __call__(self, curve: Curve,
                 removable: Removable = None) -> list[int]:
        return plateau_run(curve, self.eps, removable)


class GainBudget(LayerSelector):
    r"""Selects the :obj:`m` layers with the smallest modularity gain; see
    :func:`gain_budget`.

    Args:
        m (int): How many layers to select.

    Example:
        >>> GainBudget(1)(torch.tensor([0.25, 0.5, 0.625, 0.625, 0.75]))
        [3]
    """
    def __init__(self, m: int) -> None:
        if isinstance(m, bool) or not isinstance(m, int):
            raise TypeError(f"'m' must be an int (got {m!r})")
        if m < 1:
            raise ValueError(f"'m' must be >= 1 (got {m})")
        self.m = m

    def __call__(self, curve: Curve,
                 removable: Removable = None) -> list[int]:
        return gain_budget(curve, self.m, removable)


class MeanGainThreshold(LayerSelector):
    r"""Selects layers by their mean gain over repeated curves, optionally
    :obj:`num_std` standard deviations below :obj:`tau`; see
    :func:`mean_gain_threshold`.

    Args:
        tau (float, optional): The largest mean gain that counts as
            redundant. (default: :obj:`0.0`)
        num_std (float, optional): Standard deviations the mean gain must
            stay below :obj:`tau`. (default: :obj:`0.0`)

    Example:
        >>> q = torch.tensor([[0.25, 0.5, 0.5, 0.5],
        ...                   [0.25, 0.5, 0.375, 0.5]])
        >>> selector = MeanGainThreshold(0.0625, num_std=1.0)
        >>> selector
        MeanGainThreshold(tau=0.0625, num_std=1.0)
        >>> selector(q)
        [2]
    """
    def __init__(self, tau: float = 0.0, num_std: float = 0.0) -> None:
        self.tau = _check_number(tau, 'tau')
        self.num_std = _check_number(num_std, 'num_std', low=0.0)

    def __call__(self, curves: Curve,
                 removable: Removable = None) -> list[int]:
        return mean_gain_threshold(curves, self.tau, self.num_std, removable)
