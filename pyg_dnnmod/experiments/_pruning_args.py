r"""The argument checks of the pruning experiments
(:mod:`pyg_dnnmod.experiments.pruning`)."""
import warnings
from collections.abc import Sequence
from typing import Any, Dict, List

from pyg_dnnmod.training import TrainConfig


def _check_bool(value: Any, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"'{name}' must be a bool (got {value!r})")


def _check_seeds(seeds: Any, config: TrainConfig) -> List[int]:
    if seeds is None:
        return [config.seed]
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, Sequence) or isinstance(seeds, str) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for v in seeds) or len(seeds) == 0:
        raise ValueError(f"'finetune_seeds' must be a non-empty list of "
                         f"integers >= 0 (got {seeds!r})")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"'finetune_seeds' repeats a seed (got {seeds!r})")
    return list(seeds)


def _check_names(layers: Any, removable: List[str],
                 names: List[str]) -> List[str]:
    r"""The given layer names, in curve order."""
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, Sequence) or not all(
            isinstance(n, str) for n in layers) or len(layers) == 0:
        raise TypeError(f"'remove' must be a non-empty list of layer names "
                        f"(got {layers!r})")
    unknown = [n for n in layers if n not in names]
    if unknown:
        raise ValueError(f"unknown layer name(s) {unknown!r} in 'remove'; "
                         f"the removable layers are {removable!r}")
    return [n for n in names if n in set(layers)]


def _renamed_remove(remove: Any, snapshot_kwargs: Dict[str, Any]) -> Any:
    r"""The layers to remove, also from the deprecated keyword
    :obj:`layers` (which now names the layers a snapshot reads)."""
    if 'layers' in snapshot_kwargs:
        warnings.warn("the keyword 'layers' of the pruning experiments is "
                      "deprecated: it names the layers to remove, now "
                      "'remove'", DeprecationWarning, stacklevel=4)
        old = snapshot_kwargs.pop('layers')
        if remove is not None:
            raise TypeError("pass the layers to remove once, as 'remove' "
                            "(got 'remove' and the deprecated 'layers')")
        remove = old
    return remove
