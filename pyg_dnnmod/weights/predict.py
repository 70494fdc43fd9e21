r"""Deprecated: the accuracy-prediction experiment moved to
:mod:`pyg_dnnmod.experiments.final_accuracy` and its figures to
:mod:`pyg_dnnmod.plotting`.

Every public name of this module still resolves, for one release, to the
object at its new place, with a :class:`DeprecationWarning` naming it.
"""
import importlib
import warnings
from typing import Any, Dict

_EXPERIMENT = 'pyg_dnnmod.experiments.final_accuracy'
_PLOTTING = 'pyg_dnnmod.plotting'

#: The new module of every public name of this module.
MOVED: Dict[str, str] = {
    **{name: _EXPERIMENT for name in (
        'FEATURE_SETS', 'MODELS', 'parameter_statistics', 'graph_features',
        'accuracy_features', 'hyperparameter_features',
        'weight_statistics_features', 'quantile_bins', 'cross_validate',
        'prediction_metrics', 'feature_table', 'non_degenerate',
        'accuracy_prediction', 'width_transfer', 'time_savings',
        'metric_vs_T')},
    **{name: _PLOTTING for name in (
        'plot_predicted_vs_true', 'plot_confusion', 'plot_metric_vs_T')},
}


def moved(old: str, name: str, stacklevel: int = 2) -> Any:
    r"""The object :obj:`name` at its new place, with a
    :class:`DeprecationWarning` saying that :obj:`old` (its old path) is
    deprecated; :obj:`stacklevel` counts as in :func:`warnings.warn`,
    from the caller of this function.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter('always')
        ...     bins = moved('pyg_dnnmod.weights.predict.quantile_bins',
        ...                  'quantile_bins')
        >>> bins.__module__
        'pyg_dnnmod.experiments.final_accuracy_cv'
        >>> print(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
        pyg_dnnmod.weights.predict.quantile_bins is deprecated and will be
        removed in the next release; use
        pyg_dnnmod.experiments.final_accuracy.quantile_bins
    """
    # importlib: the experiments package must not load with weights.
    new = f'{MOVED[name]}.{name}'
    warnings.warn(f"{old} is deprecated and will be removed in the next "
                  f"release; use {new}", DeprecationWarning,
                  stacklevel=stacklevel + 1)
    return getattr(importlib.import_module(MOVED[name]), name)


def __getattr__(name: str) -> Any:
    if name not in MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute "
                             f"{name!r}")
    return moved(f'{__name__}.{name}', name, stacklevel=2)
