r"""Figures of :mod:`pyg_dnnmod.redundancy`: a layer-redundancy report
(every score per block, the blocks each would remove, their rank
agreement) and the block-removal comparison (accuracy after removing the
blocks each score chose, before and after healing)."""
from typing import Any, Optional

import numpy as np
import pandas as pd

from pyg_dnnmod.plotting._axes import check_frame, new_figure
from pyg_dnnmod.plotting._heatmaps import heatmap

# The label-free scores drawn as "how much the block changes the stream":
# each in [0, 1], low = redundant.
_CHANGE = (('block_influence', 'Block Influence', '-', 'o'),
           ('angular_distance', 'angular distance', '--', 's'),
           ('mutual_knn', '1 - mutual k-NN', '-.', '^'),
           ('cka', '1 - linear CKA', ':', 'D'))
_FLIPPED = ('mutual_knn', 'cka')
_SCORE_NAMES = {'block_influence': 'Block Influence',
                'angular_distance': 'angular distance (run)',
                'mutual_knn': 'mutual k-NN', 'cka': 'linear CKA',
                'modularity_gain': 'modularity gain',
                'knn_overlap_gain': 'k-NN overlap gain',
                'reverse': 'last blocks', 'random': 'random'}


def plot_redundancy_report(report: pd.DataFrame,
                           title: Optional[str] = None) -> Any:
    r"""Draws a :func:`~pyg_dnnmod.redundancy.layer_redundancy_report`:
    (a) the label-free scores per block, each as how much the block
    changes the residual stream (low = redundant); (b) with labels, the
    modularity and the k-NN label overlap of the pooled states over depth
    (the state after each block, the embeddings first); (c) the blocks
    each score would remove for the report's budget; (d) the Spearman
    agreement between the scores.

    Args:
        report (pandas.DataFrame): The report.
        title (str, optional): The title. (default: the budget, :math:`k`,
            the pooling and the sample count)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> report = pd.DataFrame({
        ...     'block': [0, 1, 2], 'name': ['b.0', 'b.1', 'b.2'],
        ...     'block_influence': [.3, .1, .2],
        ...     'angular_distance': [.2, .1, .15],
        ...     'mutual_knn': [.2, .6, .4], 'cka': [.5, .9, .8],
        ...     'remove_block_influence': [False, True, False],
        ...     'remove_reverse': [False, False, True]})
        >>> fig = plot_redundancy_report(report)
        >>> [ax.get_title() for ax in fig.axes if ax.get_title()][:2]
        ['(a) how much each block changes the stream', '(c) blocks removed']
    """
    check_frame(report, 'report', ('block', 'name', 'block_influence'),
                'the output of layer_redundancy_report()')
    labelled = 'modularity_in' in report.columns
    names = [str(n) for n in report['name']]
    x = np.arange(len(report))
    width = max(9.0, 0.45 * len(report) + 6.0)
    fig = new_figure((width, 7.5))
    axes = fig.subplots(2, 2).ravel()

    ax = axes[0]
    for column, label, style, marker in _CHANGE:
        if column not in report:
            continue
        values = report[column].to_numpy(dtype=float)
        if column in _FLIPPED:
            values = 1.0 - values
        ax.plot(x, values, linestyle=style, marker=marker, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, ha='right', fontsize=8)
    ax.set_ylim(bottom=0.0)
    ax.set_ylabel('change (low = redundant)')
    ax.set_title('(a) how much each block changes the stream', fontsize=10)
    ax.legend(fontsize=8)

    ax = axes[1]
    if labelled:
        states = ['embeddings'] + names
        xs = np.arange(len(states))
        for stem, label, style in (('modularity', 'modularity Q', '-'),
                                   ('knn_overlap', 'k-NN label overlap',
                                    '--')):
            values = list(report[f'{stem}_in'].iloc[:1]) + \
                list(report[f'{stem}_out'])
            ax.plot(xs, values, linestyle=style, marker='o', label=label)
        ax.set_xticks(xs)
        ax.set_xticklabels(states, rotation=45, ha='right', fontsize=8)
        ax.set_ylabel('score of the pooled state')
        ax.legend(fontsize=8)
        ax.set_title('(b) label-aware scores over depth', fontsize=10)
    else:
        ax.text(0.5, 0.5, 'no labels: label-aware scores not computed',
                ha='center', va='center', transform=ax.transAxes)
        ax.set_axis_off()

    ax = axes[2]
    removal = [c for c in report.columns if c.startswith('remove_')]
    rows = [_SCORE_NAMES.get(c[len('remove_'):], c) for c in removal]
    matrix = report[removal].to_numpy(dtype=float).T if removal else \
        np.zeros((0, len(report)))
    ax.imshow(matrix, cmap='Greys', vmin=0.0, vmax=1.0, aspect='auto',
              interpolation='nearest')
    ax.set_yticks(np.arange(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, ha='right', fontsize=8)
    budget = report.attrs.get('budget')
    ax.set_title('(c) blocks removed' if budget is None else
                 f'(c) blocks removed (black), budget {budget}',
                 fontsize=10)

    from pyg_dnnmod.redundancy import score_agreement
    agreement = score_agreement(report)
    labels = [_SCORE_NAMES.get(c, c).replace(' (run)', '')
              for c in agreement.columns]
    heatmap(fig, axes[3], agreement.to_numpy(dtype=float), labels,
            '(d) Spearman agreement (high = redundant)', 'RdBu_r',
            vmin=-1.0, vmax=1.0, xlabel='', ylabel='')
    if title is None:
        attrs = report.attrs
        parts = [f"budget {attrs['budget']}" if 'budget' in attrs else '',
                 f"k = {attrs['k']}" if 'k' in attrs else '',
                 f"{attrs['pooling']} pooling" if 'pooling' in attrs else '',
                 f"N = {attrs['num_samples']}" if 'num_samples' in attrs
                 else '']
        title = 'Layer redundancy: ' + ', '.join(p for p in parts if p)
    fig.suptitle(title, fontsize=11)
    return fig


def plot_block_removal(table: pd.DataFrame,
                       title: Optional[str] = None) -> Any:
    r"""Draws a :func:`~pyg_dnnmod.experiments.block_removal_comparison`:
    the test accuracy after removing the blocks each choice picked, before
    and after healing, mean :math:`\pm 1` std over seeds as error bars,
    and the unpruned model's accuracy as a line.

    Args:
        table (pandas.DataFrame): The comparison's per-seed table.
        title (str, optional): The title. (default: what was removed)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> table = pd.DataFrame({
        ...     'choice': ['reverse', 'random', 'random'],
        ...     'seed': [0, 0, 1], 'blocks': ['6,7', '1,4', '0,2'],
        ...     'acc_removed': [.5, .3, .4], 'acc_healed': [.8, .7, .75],
        ...     'acc_full': [.85, .85, .85]})
        >>> fig = plot_block_removal(table)
        >>> fig.axes[0].get_ylabel()
        'test accuracy (mean ± 1 std over seeds)'
    """
    check_frame(table, 'table', ('choice', 'acc_removed', 'acc_healed',
                                 'acc_full'),
                'the output of block_removal_comparison()')
    order = list(dict.fromkeys(table['choice']))
    grouped = table.groupby('choice', sort=False)
    mean = grouped[['acc_removed', 'acc_healed']].mean().loc[order]
    std = grouped[['acc_removed', 'acc_healed']].std(ddof=0).loc[order]
    fig = new_figure((max(6.0, 1.1 * len(order) + 2.5), 4.2))
    ax = fig.add_subplot()
    x = np.arange(len(order))
    for offset, column, label, hatch in ((-0.2, 'acc_removed', 'removed',
                                          ''),
                                         (0.2, 'acc_healed', 'healed',
                                          '//')):
        bars = ax.bar(x + offset, mean[column], 0.38, yerr=std[column],
                      capsize=3, label=label, hatch=hatch, alpha=0.85)
        ax.bar_label(bars, fmt='%.3f', fontsize=7, padding=2)
    full = float(table['acc_full'].iloc[0])
    ax.axhline(full, color='black', linestyle='--', linewidth=1,
               label=f'unpruned ({full:.3f})')
    ax.set_xticks(x)
    ax.set_xticklabels([_SCORE_NAMES.get(c, c) for c in order],
                       rotation=20, ha='right')
    ax.set_ylabel('test accuracy (mean ± 1 std over seeds)')
    # Room above 1 for the legend, so that it never hides a bar.
    ax.set_ylim(0.0, 1.15)
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.legend(fontsize=8, loc='upper center', ncol=3)
    if title is None:
        budget = table.attrs.get('budget')
        title = 'Blocks removed by each choice' + (
            f' ({budget} of {table.attrs.get("num_blocks")})'
            if budget is not None else '')
    ax.set_title(title, fontsize=11)
    return fig
