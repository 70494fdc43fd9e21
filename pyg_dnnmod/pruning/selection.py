r"""Selectors by name, and the selection of the layers to remove on a
modularity curve measured over repeated draws of the samples.

* :class:`ModularityCurve`: per-layer values with their layer names, one
  curve :obj:`[L]` or :math:`R` repeats :obj:`[R, L]`, as the selectors of
  :mod:`pyg_dnnmod.pruning` read them;
* :data:`SELECTORS` and :func:`get_selector`: the selectors by the names
  of ``pyg-dnnmod prune --selector``;
* :func:`layers_to_remove`: a selector's picks among the removable layers,
  by name, with an error that shows the gains when it picks none;
* :func:`largest_gain_layers`: the control selection of Lu et al. (ECCV
  2022, section 5.2), the layers the curve says matter most.
"""
import dataclasses
import inspect
from collections.abc import Sequence
from typing import Any, Callable

from torch import Tensor

from pyg_dnnmod.names import SELECTOR_NAMES, check_registry
from pyg_dnnmod.pruning._selectors import (
    Curve,
    GainBudget,
    GainThreshold,
    LayerSelector,
    MeanGainThreshold,
    PlateauRun,
    Removable,
    _as_curve,
    gain_budget,
    modularity_gain,
)

#: The selectors by name (``pyg-dnnmod prune --selector``): the gain
#: threshold, the plateau run, the gain budget and the gain threshold over
#: the repeats' mean and spread.
SELECTORS: dict[str, type[LayerSelector]] = {
    'gain': GainThreshold,
    'plateau': PlateauRun,
    'budget': GainBudget,
    'mean-gain': MeanGainThreshold,
}
check_registry(SELECTORS, SELECTOR_NAMES, 'SELECTORS')


@dataclasses.dataclass(frozen=True)
class ModularityCurve:
    r"""A modularity curve with its layer names, in the form the selectors
    read (:meth:`modularity` and :obj:`layer_names`).

    Args:
        values (torch.Tensor): Per-layer modularity :obj:`[L]`, or
            :obj:`[R, L]` over :math:`R` repeats.
        layer_names ([str]): The :math:`L` layer names, in depth order.

    Example:
        >>> import torch
        >>> curve = ModularityCurve(torch.tensor([[0.25, 0.5], [0.75, 0.5]]),
        ...                         ['conv1', 'conv2'])
        >>> curve.mean().modularity().tolist(), curve.mean().layer_names
        ([0.5, 0.5], ['conv1', 'conv2'])
    """
    values: Tensor
    layer_names: list[str]

    def __post_init__(self) -> None:
        if not isinstance(self.values, Tensor) or self.values.dim() not in (
                1, 2):
            raise TypeError(f"'values' must be a [L] or [R, L] Tensor (got "
                            f"{getattr(self.values, 'shape', self.values)!r})")
        if len(self.layer_names) != self.values.size(-1):
            raise ValueError(f"'values' has {self.values.size(-1)} layers "
                             f"but {len(self.layer_names)} layer names")

    def modularity(self) -> Tensor:
        r"""The values, :obj:`[L]` or :obj:`[R, L]`."""
        return self.values

    def mean(self) -> 'ModularityCurve':
        r"""The mean curve over the repeats (itself for one curve)."""
        if self.values.dim() == 1:
            return self
        return ModularityCurve(self.values.mean(dim=0), self.layer_names)


def selector_options(name: str) -> dict[str, Any]:
    r"""The options of the selector :obj:`name` of :data:`SELECTORS` and
    their defaults, :obj:`None` for an option that must be given.

    Example:
        >>> selector_options('mean-gain'), selector_options('budget')
        ({'tau': 0.0, 'num_std': 0.0}, {'m': None})
    """
    if name not in SELECTORS:
        raise ValueError(f"unknown selector {name!r}; the selectors are "
                         f"{', '.join(map(repr, SELECTORS))}")
    parameters = inspect.signature(SELECTORS[name]).parameters.values()
    return {p.name: None if p.default is p.empty else p.default
            for p in parameters}


def get_selector(name: str, **options: Any) -> LayerSelector:
    r"""The selector :obj:`name` of :data:`SELECTORS` with its options
    (:func:`selector_options`).

    Example:
        >>> get_selector('gain', tau=0.01)
        GainThreshold(tau=0.01)
        >>> get_selector('mean-gain', tau=0.01, num_std=1.0)
        MeanGainThreshold(tau=0.01, num_std=1.0)
    """
    known = selector_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"selector {name!r} takes the option(s) "
                        f"{list(known)} (got {unknown})")
    return SELECTORS[name](**options)


def layers_to_remove(selector: Callable[..., list[int]],
                     curve: ModularityCurve,
                     removable: Sequence[str]) -> list[str]:
    r"""The names of the layers :obj:`selector` picks on :obj:`curve`
    among :obj:`removable`, in curve order.

    A :class:`~pyg_dnnmod.pruning.MeanGainThreshold` reads the repeats
    themselves, to weigh the noise; every other selector reads their mean.

    Args:
        selector (callable): A selector of :mod:`pyg_dnnmod.pruning`, or any
            callable :obj:`(curve, removable) -> [int]`.
        curve (ModularityCurve): The curve, :obj:`[L]` or :obj:`[R, L]`.
        removable ([str]): The layers that may be removed (e.g.
            :func:`~pyg_dnnmod.pruning.removable_layers`).

    Returns:
        list[str]: The picked layer names.

    Example:
        >>> import torch
        >>> curve = ModularityCurve(torch.tensor([0.2, 0.5, 0.505, 0.6]),
        ...                         ['a', 'b', 'c', 'd'])
        >>> layers_to_remove(GainThreshold(0.01), curve, ['b', 'c', 'd'])
        ['c']
    """
    mean = curve.mean()
    picked = selector(curve if isinstance(selector, MeanGainThreshold)
                      else mean, list(removable))
    if not isinstance(picked, list) or not all(
            isinstance(i, int) for i in picked):
        raise TypeError(f"'selector' must return a list of layer indices "
                        f"(got {picked!r})")
    names = list(curve.layer_names)
    if len(picked) == 0:
        gain = modularity_gain(mean.values)
        shown = ', '.join(f'{n}: {gain[names.index(n)].item():+.4f}'
                          for n in removable)
        raise ValueError(f"'selector' {selector!r} picks no removable layer "
                         f"on this curve; the mean gains of the removable "
                         f"layers are {{{shown}}}; loosen the selector (e.g. "
                         f"a larger 'tau') or name the layers")
    return [names[i] for i in picked]


def largest_gain_layers(curve: Curve, m: int,
                        removable: Removable = None) -> list[int]:
    r"""Selects the :obj:`m` layers with the largest modularity gain
    :math:`Q_i - Q_{i-1}`, the first layer excluded: the control of the
    redundant-layer selectors (the layers the curve says matter most).

    Ties go to the deeper layer, as in
    :func:`~pyg_dnnmod.pruning.gain_budget`.

    Args:
        curve (torch.Tensor or LayerGraphs): Per-layer modularity
            :obj:`[L]`.
        m (int): How many layers to select.
        removable (mask or [int] or [str], optional): Only these layers may
            be selected. (default: :obj:`None`, all)

    Returns:
        list[int]: Sorted absolute layer indices.

    Example:
        >>> import torch
        >>> q = torch.tensor([0.2, 0.5, 0.5, 0.7, 0.68])
        >>> largest_gain_layers(q, 2), largest_gain_layers(q, 1, [2, 4])
        ([1, 3], [2])
    """
    values, names = _as_curve(curve)
    # The smallest gains of -Q are the largest gains of Q, with the same
    # tie-breaking towards the deeper layer.
    flipped = -values if names is None else ModularityCurve(-values, names)
    return gain_budget(flipped, m, removable)
