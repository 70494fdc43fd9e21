r"""Figures of modularity-guided layer pruning (Lu et al., ECCV 2022): the
curves of the original and the pruned models on the original's layer axis
(Fig. 9) and the accuracy change against the modularity gain of the removed
layers (Fig. 10b)."""
import math
from typing import Any, Dict, Optional

import numpy as np
import pandas as pd

from pyg_dnnmod.experiments.pruning_report import FINETUNED_ORIGINAL, ORIGINAL
from pyg_dnnmod.plotting._axes import (
    check_frame,
    depth_figsize,
    figure_axes,
    layer_ticks,
    model_on_data,
    new_figure,
)


def _change_text(row: pd.Series) -> str:
    return f"{row['acc_change_%']:+.2f} pts"


def plot_pruned_curves(
    summary: pd.DataFrame,
    table: Optional[pd.DataFrame] = None,
    title: Optional[str] = None,
    ax: Any = None,
) -> Any:
    r"""Draws the modularity curves of an original model and its pruned,
    fine-tuned copies in the style of Fig. 9 of `"Understanding the
    Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_: every curve over the original's
    layer axis, so a pruned curve skips the positions of its removed layers,
    which are marked with crosses on the original curve.

    Args:
        summary (pandas.DataFrame): :meth:`PruningResult.summary` (columns
            :obj:`init`, :obj:`original_layer_index`, :obj:`layer`,
            :obj:`mean`, optionally :obj:`std`); the curve labelled
            :obj:`"original"` gives the layer names of the x axis.
        table (pandas.DataFrame, optional): The pruning table, to put the
            removed layers and the accuracy change in the legend.
            (default: :obj:`None`)
        title (str, optional): The title. (default: :obj:`None`)
        ax (matplotlib.axes.Axes, optional): Draw into these axes instead of
            a new figure. (default: :obj:`None`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> summary = pd.DataFrame({
        ...     'init': ['original'] * 3 + ['pruned'] * 2,
        ...     'original_layer_index': [0, 1, 2, 0, 2],
        ...     'layer': ['a', 'b', 'c', 'a', 'b'],
        ...     'mean': [0.2, 0.5, 0.55, 0.2, 0.54]})
        >>> fig = plot_pruned_curves(summary)
        >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
        ['a', 'b', 'c']
        >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
        ['original', 'pruned (-1 layer)']
    """
    check_frame(summary, 'summary', ('init', 'original_layer_index',
                                     'layer', 'mean'),
                'PruningResult.summary()')
    labels = list(dict.fromkeys(summary['init']))
    if ORIGINAL not in labels:
        raise ValueError(f"'summary' has no curve labelled '{ORIGINAL}' "
                         f"(got {labels})")
    original = summary[summary['init'] == ORIGINAL].sort_values(
        'original_layer_index')
    names = original['layer'].astype(str).tolist()
    fig, ax = figure_axes(ax, depth_figsize(names, 6.0, 0.35, 3.0, 4.2))
    rows: Dict[str, pd.Series] = {}
    if table is not None:
        check_frame(table, 'table', ('model', 'acc_change_%'),
                    'the pruning table')
        rows = {str(r['model']): r for _, r in table.iterrows()}

    x0 = original['original_layer_index'].to_numpy()
    y0 = original['mean'].to_numpy(dtype=float)
    for position, label in enumerate(labels):
        group = summary[summary['init'] == label].sort_values(
            'original_layer_index')
        x = group['original_layer_index'].to_numpy()
        y = group['mean'].to_numpy(dtype=float)
        is_original = label == ORIGINAL
        colour = 'black' if is_original else f'C{(position - 1) % 10}'
        removed = np.setdiff1d(x0, x)
        name = label
        if not is_original:
            count = len(removed)
            name += f" (-{count} layer{'s' if count != 1 else ''}"
            if label in rows:
                name += f', {_change_text(rows[label])}'
            name += ')'
        ax.plot(x, y, marker='o', markersize=4, color=colour,
                linewidth=2.0 if is_original else 1.4, label=name,
                zorder=3 if is_original else 2)
        if 'std' in group.columns:
            std = group['std'].fillna(0.0).to_numpy(dtype=float)
            if (std > 0).any():
                ax.fill_between(x, y - std, y + std, color=colour,
                                alpha=0.15, linewidth=0)
        if len(removed) > 0:
            ax.scatter(removed, y0[np.searchsorted(x0, removed)], marker='x',
                       s=90, linewidths=2.2, color=colour, zorder=4)
    layer_ticks(ax, x0, names, "layer of the original model (x: removed)")
    ax.set_ylabel('modularity Q')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc='upper left')
    if title is not None:
        ax.set_title(title, fontsize=11)
    return fig


def _correlation_text(correlation: Optional[Dict[str, float]]) -> str:
    if not correlation or correlation.get('n', 0) < 3 or math.isnan(
            correlation.get('pearson', math.nan)):
        return ''
    return (f"Pearson r = {correlation['pearson']:+.2f}, Spearman "
            f"\u03c1 = {correlation['spearman']:+.2f} "
            f"(n = {correlation['n']})")


def plot_accuracy_vs_gain(
    table: pd.DataFrame,
    correlation: Optional[Dict[str, float]] = None,
    title: Optional[str] = None,
    ax: Any = None,
) -> Any:
    r"""Draws the accuracy change after fine-tuning against the modularity
    gain of the removed layers, one point per pruned model, in the style of
    Fig. 10b of Lu et al. (ECCV 2022), with a least-squares line and the
    correlation in the title when there are at least three points. The
    row :obj:`"original_finetuned"` (the unpruned model fine-tuned the same
    way), if present, is a dotted horizontal reference line.

    Args:
        table (pandas.DataFrame): The pruning table (columns :obj:`model`,
            :obj:`modularity_gain`, :obj:`acc_change_%`); rows that remove
            nothing are not points.
        correlation (dict, optional): Of
            :func:`~pyg_dnnmod.experiments.gain_accuracy_correlation`, for
            the title. (default: :obj:`None`)
        title (str, optional): The title; by default the correlation.
            (default: :obj:`None`)
        ax (matplotlib.axes.Axes, optional): Draw into these axes instead of
            a new figure. (default: :obj:`None`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> table = pd.DataFrame({'model': ['original', 'a', 'b'],
        ...                       'modularity_gain': [0.0, 0.01, 0.2],
        ...                       'acc_change_%': [0.0, -0.1, -2.5]})
        >>> fig = plot_accuracy_vs_gain(table)
        >>> fig.axes[0].get_xlabel()
        'modularity gain of the removed layers'
    """
    check_frame(table, 'table', ('model', 'modularity_gain',
                                 'acc_change_%'), 'the pruning table')
    rows = table[~table['model'].isin([ORIGINAL, FINETUNED_ORIGINAL])]
    if 'num_removed' in rows.columns:
        rows = rows[rows['num_removed'] > 0]
    rows = rows.dropna(subset=['modularity_gain', 'acc_change_%'])
    fig, ax = figure_axes(ax, (6.0, 4.6))
    control = table[table['model'] == FINETUNED_ORIGINAL]
    if len(control) > 0:
        ax.axhline(float(control['acc_change_%'].iloc[0]), color='C7',
                   linestyle=':', linewidth=1.5,
                   label='unpruned, same fine-tuning')
    x = rows['modularity_gain'].to_numpy(dtype=float)
    y = rows['acc_change_%'].to_numpy(dtype=float)
    colours = [f'C{i % 10}' for i in range(len(rows))] if len(rows) <= 3 \
        else 'C0'
    ax.scatter(x, y, s=40, color=colours, zorder=3)
    for xi, yi, label in zip(x, y, rows['model'].astype(str)):
        ax.annotate(label, (xi, yi), textcoords='offset points',
                    xytext=(4, 4), fontsize=7)
    if len(rows) >= 3 and x.std() > 0:
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.linspace(x.min(), x.max(), 2)
        ax.plot(grid, slope * grid + intercept, color='grey',
                linestyle='--', linewidth=1, label='least squares')
    if ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=8, loc='best')
    ax.axhline(0.0, color='black', linewidth=0.8)
    if len(rows) > 0:
        # Room for the point labels on the right.
        span = max(x.max() - x.min(), 1e-3)
        ax.set_xlim(x.min() - 0.08 * span, x.max() + 0.3 * span)
    ax.set_xlabel('modularity gain of the removed layers')
    ax.set_ylabel('accuracy change after fine-tuning (points)')
    ax.grid(True, alpha=0.3)
    text = _correlation_text(correlation)
    if title is not None or text:
        ax.set_title(title if title is not None else text, fontsize=10)
    return fig


def plot_pruning_report(
    summary: pd.DataFrame,
    table: pd.DataFrame,
    correlation: Optional[Dict[str, float]] = None,
    model: Optional[str] = None,
    data: Optional[str] = None,
) -> Any:
    r"""The pruning figure of ``pyg-dnnmod prune``: the curves of the
    original and the pruned models (:func:`plot_pruned_curves`, Fig. 9)
    beside the accuracy change against the modularity gain
    (:func:`plot_accuracy_vs_gain`, Fig. 10b).

    Args:
        summary (pandas.DataFrame): :meth:`PruningResult.summary`; may hold
            the original's curve only.
        table (pandas.DataFrame): The pruning table.
        correlation (dict, optional): The gain-accuracy correlation.
            (default: :obj:`None`)
        model (str, optional): The model's name, for the title.
            (default: :obj:`None`)
        data (str, optional): The data's name, for the title.
            (default: :obj:`None`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> summary = pd.DataFrame({
        ...     'init': ['original', 'original', 'pruned'],
        ...     'original_layer_index': [0, 1, 0], 'layer': ['a', 'b', 'a'],
        ...     'mean': [0.2, 0.5, 0.2]})
        >>> table = pd.DataFrame({'model': ['original', 'pruned'],
        ...                       'modularity_gain': [0.0, 0.3],
        ...                       'acc_change_%': [0.0, -0.4]})
        >>> len(plot_pruning_report(summary, table, model='cnn').axes)
        2
    """
    check_frame(summary, 'summary', ('original_layer_index', ),
                'PruningResult.summary()')
    num_layers = int(summary['original_layer_index'].nunique())
    width = min(max(6.0, 0.35 * num_layers + 3.0), 18.0) + 5.5
    fig = new_figure((width, 5.0))
    left, right = fig.subplots(1, 2, width_ratios=[width - 5.5, 5.5])
    plot_pruned_curves(summary, table, title='modularity curves', ax=left)
    text = _correlation_text(correlation)
    plot_accuracy_vs_gain(table, correlation,
                          title='accuracy change vs modularity gain'
                          + (f'\n{text}' if text else ''), ax=right)
    head = model_on_data(model, data)
    if head:
        fig.suptitle(head, fontsize=12)
    return fig
