r"""Figures of the accuracy-prediction experiment
(:mod:`pyg_dnnmod.experiments.final_accuracy`, after Vahedian et al.,
2021): predicted against true final accuracy, the confusion matrices of the
quantile bins, and the metrics against the number of epochs seen."""
import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from pyg_dnnmod.experiments.final_accuracy import (
    FEATURE_SETS,
    prediction_metrics,
)
from pyg_dnnmod.plotting._axes import check_frame, new_figure

_PREDICTION_COLUMNS = ('subset', 'features', 'y_true', 'y_pred', 'bin_true',
                       'bin_pred')


def _panel_grid(nrows: int, ncols: int, width: float,
                height: float) -> Tuple[Any, np.ndarray]:
    fig = new_figure((width * ncols, height * nrows))
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _first_repeat(predictions: pd.DataFrame) -> pd.DataFrame:
    if 'repeat' not in predictions.columns:
        return predictions
    return predictions[predictions['repeat'] == predictions['repeat'].min()]


def plot_predicted_vs_true(predictions: pd.DataFrame,
                           subset: str = 'all',
                           feature_sets: Optional[Sequence[str]] = None
                           ) -> Any:
    r"""Scatter plots of the out-of-fold predicted against the true final
    accuracy, one panel per feature set (up to three per row), coloured by
    architecture, each titled with its :math:`R^2`, Kendall's :math:`\tau`
    and MAE (the first repeat of the cross-validation).

    Args:
        predictions (pandas.DataFrame): The out-of-fold predictions of
            :func:`~pyg_dnnmod.experiments.accuracy_prediction`
            (:obj:`subset`, :obj:`features`, :obj:`y_true`,
            :obj:`y_pred`, :obj:`bin_true`, :obj:`bin_pred`, optionally
            :obj:`architecture` and :obj:`repeat`).
        subset (str, optional): The subset of networks to show.
            (default: :obj:`'all'`)
        feature_sets (Sequence[str], optional): The feature sets to show,
            in this order, when present. (default: :obj:`None`, all in the
            order of :data:`~pyg_dnnmod.experiments.FEATURE_SETS`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> pred = pd.DataFrame({'subset': 'all',
        ...                      'features': ['graph'] * 3 + ['accuracy'] * 3,
        ...                      'architecture': 'lenet5',
        ...                      'y_true': [0.2, 0.5, 0.8] * 2,
        ...                      'y_pred': [0.3, 0.5, 0.7, 0.4, 0.5, 0.6],
        ...                      'bin_true': [0, 1, 2] * 2,
        ...                      'bin_pred': [0, 1, 2, 1, 1, 1]})
        >>> fig = plot_predicted_vs_true(pred)
        >>> [ax.get_title().split('\n')[0] for ax in fig.axes]
        ['graph', 'accuracy']
    """
    check_frame(predictions, 'predictions', _PREDICTION_COLUMNS,
                'the predictions of accuracy_prediction')
    predictions = _first_repeat(predictions)
    pred = predictions[predictions['subset'] == subset]
    names = [n for n in (feature_sets or FEATURE_SETS)
             if n in set(pred['features'])]
    if not names:
        raise ValueError(f"'predictions' holds none of the feature sets "
                         f"{list(feature_sets or FEATURE_SETS)} in subset "
                         f"{subset!r}")
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = _panel_grid(rows, cols, 4.0, 3.8)
    axes = axes.ravel()
    lo = min(pred['y_true'].min(), pred['y_pred'].min())
    hi = max(pred['y_true'].max(), pred['y_pred'].max())
    arches = sorted(set(pred['architecture'])) \
        if 'architecture' in pred.columns else [None]
    for ax, name in zip(axes, names):
        sel = pred[pred['features'] == name]
        for arch in arches:
            part = sel if arch is None else sel[sel['architecture'] == arch]
            ax.scatter(part['y_true'], part['y_pred'], s=14, alpha=0.7,
                       label=arch)
        ax.plot([lo, hi], [lo, hi], color='k', lw=0.8, ls='--')
        m = prediction_metrics(sel)
        ax.set_title(f"{name}\n$R^2$={m['r2']:.2f}, "
                     f"$\\tau$={m['kendall_tau']:.2f}, MAE={m['mae']:.3f}",
                     fontsize=9)
        ax.set_xlabel('true final accuracy')
        ax.set_ylabel('predicted')
        ax.set_xlim(lo - 0.02, hi + 0.02)
        ax.set_ylim(lo - 0.02, hi + 0.02)
    for ax in axes[len(names):]:
        ax.remove()
    if arches != [None]:
        axes[0].legend(fontsize=8, loc='upper left')
    fig.suptitle(f'Out-of-fold predictions ({subset} networks)')
    return fig


def plot_confusion(predictions: pd.DataFrame,
                   feature_sets: Sequence[str] = ('graph', 'combined'),
                   num_bins: Optional[int] = None) -> Any:
    r"""The confusion matrices of the bin predictions, one panel per
    subset (rows of panels) and feature set (columns of panels); in each,
    rows are the true bin, columns the predicted bin, and the cells hold
    the counts of networks (the first repeat of the cross-validation).

    Args:
        predictions (pandas.DataFrame): The out-of-fold predictions of
            :func:`~pyg_dnnmod.experiments.accuracy_prediction`.
        feature_sets (Sequence[str], optional): The feature sets to show.
            (default: :obj:`('graph', 'combined')`)
        num_bins (int, optional): The number of bins. (default:
            :obj:`None`, one more than the largest bin in
            :obj:`predictions`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> pred = pd.DataFrame({'subset': 'all', 'features': 'graph',
        ...                      'bin_true': [0, 1, 1],
        ...                      'bin_pred': [0, 1, 0]})
        >>> fig = plot_confusion(pred, feature_sets=['graph'])
        >>> fig.axes[0].images[0].get_array().tolist()
        [[1, 0], [1, 1]]
    """
    check_frame(predictions, 'predictions',
                ('subset', 'features', 'bin_true', 'bin_pred'),
                'the predictions of accuracy_prediction')
    predictions = _first_repeat(predictions)
    subsets = list(dict.fromkeys(predictions['subset']))
    if num_bins is None:
        num_bins = int(max(predictions['bin_true'].max(),
                           predictions['bin_pred'].max())) + 1
    fig, axes = _panel_grid(len(subsets), len(feature_sets), 3.6, 3.4)
    for r, subset in enumerate(subsets):
        for c, name in enumerate(feature_sets):
            ax = axes[r, c]
            sel = predictions[(predictions['subset'] == subset)
                              & (predictions['features'] == name)]
            matrix = np.zeros((num_bins, num_bins), dtype=int)
            np.add.at(matrix, (sel['bin_true'].to_numpy(int),
                               sel['bin_pred'].to_numpy(int)), 1)
            ax.imshow(matrix, cmap='Blues')
            for i in range(num_bins):
                for j in range(num_bins):
                    ax.text(j, i, str(matrix[i, j]), ha='center',
                            va='center', color='white' if matrix[i, j] >
                            matrix.max() / 2 else 'black')
            acc = np.trace(matrix) / max(matrix.sum(), 1)
            ax.set_title(f'{name}, {subset}\nbin accuracy {acc:.2f}',
                         fontsize=9)
            ax.set_xlabel('predicted bin')
            ax.set_ylabel('true bin')
            ax.set_xticks(range(num_bins))
            ax.set_yticks(range(num_bins))
    return fig


def plot_metric_vs_T(table: pd.DataFrame,
                     metrics: Sequence[str] = ('bin_accuracy', 'r2',
                                               'kendall_tau')) -> Any:
    r"""The metrics of :func:`~pyg_dnnmod.experiments.metric_vs_T`
    against :math:`T`, one line per feature set (the majority / mean
    predictor dashed grey), one panel per metric, one row of panels per
    subset.

    Args:
        table (pandas.DataFrame): The output of
            :func:`~pyg_dnnmod.experiments.metric_vs_T` (:obj:`T`,
            :obj:`subset`, :obj:`features` and the metrics).
        metrics (Sequence[str], optional): The metrics to draw.
            (default: :obj:`('bin_accuracy', 'r2', 'kendall_tau')`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> table = pd.DataFrame({'T': [1, 2, 1, 2], 'subset': 'all',
        ...                       'features': ['graph'] * 2 +
        ...                                   ['majority / mean'] * 2,
        ...                       'r2': [0.5, 0.7, 0.0, 0.0]})
        >>> fig = plot_metric_vs_T(table, metrics=['r2'])
        >>> fig.axes[0].get_legend_handles_labels()[1]
        ['graph', 'majority / mean']
    """
    check_frame(table, 'table', ('T', 'subset', 'features', *metrics),
                'the output of metric_vs_T')
    subsets = list(dict.fromkeys(table['subset']))
    fig, axes = _panel_grid(len(subsets), len(metrics), 4.2, 3.4)
    for r, subset in enumerate(subsets):
        for c, metric in enumerate(metrics):
            ax = axes[r, c]
            sel = table[table['subset'] == subset]
            for name in dict.fromkeys(sel['features']):
                line = sel[sel['features'] == name].sort_values('T')
                style = dict(ls='--', color='gray') \
                    if name == 'majority / mean' else dict(marker='o')
                ax.plot(line['T'], line[metric], label=name, **style)
            ax.set_xlabel('T (epochs seen)')
            ax.set_ylabel(metric)
            ax.set_title(f'{metric}, {subset} networks', fontsize=9)
            ax.set_xticks(sorted(set(sel['T'])))
    axes[0, 0].legend(fontsize=7)
    return fig
