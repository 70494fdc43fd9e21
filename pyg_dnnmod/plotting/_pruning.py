r"""Figures of modularity-guided layer pruning (Lu et al., ECCV 2022): the
curves of the original and the pruned models on the original's layer axis
(Fig. 9) and the accuracy change against the modularity gain of the removed
layers (Fig. 10b)."""
import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from pyg_dnnmod.experiments.pruning_report import FINETUNED_ORIGINAL, ORIGINAL
from pyg_dnnmod.plotting._axes import (
    band_handle,
    check_frame,
    depth_figsize,
    figure_axes,
    layer_ticks,
    model_on_data,
    new_figure,
    repeats_text,
)


def _change_text(row: pd.Series) -> str:
    return f"{row['acc_change_%']:+.2f} pts"


def _removed_names(row: pd.Series) -> List[str]:
    r"""The layers a row of the pruning table removed."""
    text = row.get('removed', '')
    if not isinstance(text, str):
        return []
    return [n for n in text.split(', ') if n]


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
    which are marked with crosses on the original curve in the pruned
    curve's colour. The layers removed by rows of :obj:`table` that have no
    curve in :obj:`summary` (e.g. every step of
    :func:`~pyg_dnnmod.experiments.layer_removal_sweep`, which computes no
    pruned curve by default) are marked with red crosses. A shaded band is
    :math:`\pm 1` standard deviation over the repeats, as the legend says.

    Args:
        summary (pandas.DataFrame): :meth:`PruningResult.summary` (columns
            :obj:`init`, :obj:`original_layer_index`, :obj:`layer`,
            :obj:`mean`, optionally :obj:`std` and :obj:`count`); the curve
            labelled :obj:`"original"` gives the layer names of the x axis.
        table (pandas.DataFrame, optional): The pruning table, to put the
            accuracy change in the legend and to mark the layers its rows
            removed (column :obj:`removed`). (default: :obj:`None`)
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
        >>> fig.axes[0].get_legend().get_texts()[-1].get_text()
        'x: removed layer'
    """
    from matplotlib.lines import Line2D

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
    banded = crossed = False
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
                banded = True
        if len(removed) > 0:
            ax.scatter(removed, y0[np.searchsorted(x0, removed)], marker='x',
                       s=90, linewidths=2.2, color=colour, zorder=4)
            crossed = True
    # Rows without a curve of their own (a sweep): their layers on the
    # original curve.
    position_of = dict(zip(names, x0))
    swept = sorted({position_of[n] for label, row in rows.items()
                    if label not in labels
                    for n in _removed_names(row) if n in position_of})
    if swept:
        ax.scatter(swept, y0[np.searchsorted(x0, swept)], marker='x', s=90,
                   linewidths=2.2, color='C3', zorder=4)
        crossed = True
    layer_ticks(ax, x0, names, "layer of the original model (x: removed)")
    ax.set_ylabel('modularity Q')
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if crossed:
        handles.append(Line2D([], [], linestyle='none', marker='x',
                              markersize=8, markeredgewidth=2.0,
                              color='C3' if swept else 'black',
                              label='x: removed layer'
                              + (f' ({len(swept)} steps, one each)'
                                 if swept else '')))
    if banded:
        handles.append(band_handle(repeats_text(summary)))
    ax.legend(handles=handles, fontsize=8, loc='upper left')
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


def spread_positions(targets: Sequence[float], gap: float,
                     low: float = 0.0, high: float = 1.0) -> np.ndarray:
    r"""Positions as close as possible to :obj:`targets` (in their order)
    that lie at least :obj:`gap` apart within :obj:`[low, high]`: each is
    pushed above its lower neighbour, the top ones back below
    :obj:`high`, and, when :obj:`gap` does not fit, they are spaced evenly.
    What labels in a column beside a scatter need, so that no two overlap.

    Example:
        >>> spread_positions([0.5, 0.5, 0.52, 0.9], 0.1).round(2).tolist()
        [0.5, 0.6, 0.7, 0.9]
        >>> spread_positions([0.99, 1.0], 0.1).round(2).tolist()
        [0.9, 1.0]
        >>> spread_positions([0.3, 0.2, 0.1], 0.6).round(2).tolist()
        [1.0, 0.5, 0.0]
    """
    t = np.clip(np.asarray(targets, dtype=float), low, high)
    order = np.argsort(t, kind='stable')
    p = t[order].copy()
    n = len(p)
    if n == 0:
        return p
    if (n - 1) * gap > high - low:
        p = np.linspace(low, high, n) if n > 1 else np.array([low])
    else:
        for i in range(1, n):
            p[i] = max(p[i], p[i - 1] + gap)
        p[-1] = min(p[-1], high)
        for i in range(n - 2, -1, -1):
            p[i] = min(p[i], p[i + 1] - gap)
    out = np.empty(n)
    out[order] = p
    return out


def _label_points(ax: Any, x: np.ndarray, y: np.ndarray,
                  labels: Sequence[str], fontsize: float = 7.0) -> None:
    r"""Names the points in a column right of the axes, in the order of
    their heights and never overlapping, each joined to its point by a
    leader line."""
    if len(x) == 0:
        return
    ax.autoscale_view()
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top)  # the fractions below must stay true
    fig = ax.figure
    height = fig.get_size_inches()[1] * ax.get_position().height
    # One line of text and a little air, in axes fractions.
    gap = 1.5 * fontsize / 72.0 / max(height, 1e-3)
    targets = (y - bottom) / (top - bottom) if top > bottom else \
        np.full(len(y), 0.5)
    positions = spread_positions(targets, gap)
    if (len(y) - 1) * gap > 1.0:  # too many for the font: a smaller one
        fontsize = max(4.0, fontsize / ((len(y) - 1) * gap))
    for xi, yi, label, p in zip(x, y, labels, positions):
        ax.annotate(label, (xi, yi), xycoords='data',
                    xytext=(1.03, p), textcoords='axes fraction',
                    ha='left', va='center', fontsize=fontsize,
                    annotation_clip=False,
                    arrowprops=dict(arrowstyle='-', color='0.6',
                                    linewidth=0.6, shrinkA=0, shrinkB=3))


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

    When the models were fine-tuned with several seeds (:obj:`num_seeds`
    above 1), every point has an error bar of :math:`\pm 1` standard
    deviation over the seeds (:obj:`acc_change_std_%`), and the reference
    line a shaded band of the same, as the legend says. The points are
    named in a column right of the axes, ordered by height and joined to
    their points by leader lines, so that no two names overlap.

    Args:
        table (pandas.DataFrame): The pruning table (columns :obj:`model`,
            :obj:`modularity_gain`, :obj:`acc_change_%`, optionally
            :obj:`acc_change_std_%` and :obj:`num_seeds`); rows that remove
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
        ...                       'acc_change_%': [0.0, -0.1, -2.5],
        ...                       'acc_change_std_%': [0.0, 0.3, 0.4],
        ...                       'num_seeds': [0, 3, 3]})
        >>> fig = plot_accuracy_vs_gain(table)
        >>> fig.axes[0].get_xlabel()
        'modularity gain of the removed layers'
        >>> fig.axes[0].get_legend_handles_labels()[1]
        ['±1 std over 3 seeds']
    """
    check_frame(table, 'table', ('model', 'modularity_gain',
                                 'acc_change_%'), 'the pruning table')
    rows = table[~table['model'].isin([ORIGINAL, FINETUNED_ORIGINAL])]
    if 'num_removed' in rows.columns:
        rows = rows[rows['num_removed'] > 0]
    rows = rows.dropna(subset=['modularity_gain', 'acc_change_%'])
    fig, ax = figure_axes(ax, (6.0, 4.6))
    seeds = _seed_count(table)
    control = table[table['model'] == FINETUNED_ORIGINAL]
    if len(control) > 0:
        level = float(control['acc_change_%'].iloc[0])
        ax.axhline(level, color='C7', linestyle=':', linewidth=1.5,
                   label='unpruned, same fine-tuning')
        spread = _std_column(control, seeds)[0]
        if spread > 0:
            ax.axhspan(level - spread, level + spread, color='C7',
                       alpha=0.15, linewidth=0)
    x = rows['modularity_gain'].to_numpy(dtype=float)
    y = rows['acc_change_%'].to_numpy(dtype=float)
    colours = [f'C{i % 10}' for i in range(len(rows))] if len(rows) <= 3 \
        else 'C0'
    ax.scatter(x, y, s=40, color=colours, zorder=3)
    std = _std_column(rows, seeds)
    if len(rows) > 0 and (std > 0).any():
        ax.errorbar(x, y, yerr=std, fmt='none', ecolor='0.35',
                    elinewidth=1.0, capsize=3, zorder=2,
                    label=f'\u00b11 std over {seeds} seeds')
    if len(rows) >= 3 and x.std() > 0:
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.linspace(x.min(), x.max(), 2)
        ax.plot(grid, slope * grid + intercept, color='grey',
                linestyle='--', linewidth=1, label='least squares')
    handles, _ = ax.get_legend_handles_labels()
    if len(control) > 0 and _std_column(control, seeds)[0] > 0:
        handles.append(band_handle(f'{seeds} seeds', 'C7', 0.15))
    if handles:
        ax.legend(handles=handles, fontsize=8, loc='best')
    ax.axhline(0.0, color='black', linewidth=0.8)
    ax.set_xlabel('modularity gain of the removed layers')
    ax.set_ylabel('accuracy change after fine-tuning (points)')
    # Small gains print long tick labels: few ticks keep them apart.
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.grid(True, alpha=0.3)
    _label_points(ax, x, y, rows['model'].astype(str).tolist())
    text = _correlation_text(correlation)
    if title is not None or text:
        ax.set_title(title if title is not None else text, fontsize=10)
    return fig


def _seed_count(table: pd.DataFrame) -> int:
    r"""The most seeds any model of :obj:`table` was fine-tuned with."""
    if 'num_seeds' not in table.columns or len(table) == 0:
        return 1
    return int(max(1, pd.to_numeric(table['num_seeds'],
                                    errors='coerce').fillna(1).max()))


def _std_column(rows: pd.DataFrame, seeds: int) -> np.ndarray:
    r"""The standard deviation of every row's accuracy change over the
    seeds, 0 where there is none (one seed, or no such column)."""
    if seeds < 2 or 'acc_change_std_%' not in rows.columns:
        return np.zeros(len(rows))
    std = pd.to_numeric(rows['acc_change_std_%'], errors='coerce')
    return std.fillna(0.0).clip(lower=0.0).to_numpy(dtype=float)


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
