r"""The figure of the population benchmark
(:func:`~pyg_dnnmod.experiments.run_benchmark`): every metric of every
baseline on every split, mean over seeds with :math:`\pm 1` standard
deviation."""
from typing import Any

import numpy as np
import pandas as pd

from pyg_dnnmod.datasets.evaluator import EVALUATOR_METRICS
from pyg_dnnmod.experiments.benchmark import leaderboard
from pyg_dnnmod.plotting._axes import check_frame, new_figure

#: The lowest R^2 shown.
_R2_FLOOR = -1.0

_TITLES = dict(r2='$R^2$', kendall_tau=r"Kendall's $\tau$",
               bin_accuracy='bin accuracy', top_recall='top-10 % recall')


def plot_benchmark(results: pd.DataFrame) -> Any:
    r"""One panel per metric of
    :data:`~pyg_dnnmod.datasets.EVALUATOR_METRICS` on the test parts: a
    group of bars per baseline, one bar per split, its height the mean
    over seeds and its error bar :math:`\pm 1` standard deviation over
    seeds (:func:`~pyg_dnnmod.experiments.leaderboard`); a metric
    undefined for a baseline (Kendall's :math:`\tau` of the constant mean)
    has no bar and reads :obj:`n/a`. The :math:`R^2` axis stops at
    :math:`-1` (a worse prediction than the mean by far); a bar below
    reads its value.

    Args:
        results (pandas.DataFrame): The rows of
            :func:`~pyg_dnnmod.experiments.run_benchmark`.

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> results = pd.DataFrame(dict(
        ...     baseline=['mean', 'mean', 'gcn_gru', 'gcn_gru'],
        ...     split='seed', seed=[0, 1, 0, 1], n_train=6, n_test=2,
        ...     r2=[0.0, -0.1, 0.3, 0.5], kendall_tau=[np.nan, np.nan, .2, .4],
        ...     bin_accuracy=[.5, .5, 1., .5], top_recall=[0., 1., 1., 1.]))
        >>> fig = plot_benchmark(results)
        >>> [ax.get_title() for ax in fig.axes][:2]
        ['$R^2$', "Kendall's $\\tau$"]
    """
    check_frame(results, 'results',
                ['baseline', 'split', 'seed', 'n_train', 'n_test',
                 *EVALUATOR_METRICS], 'the rows of run_benchmark')
    board = leaderboard(results)
    baselines = list(dict.fromkeys(board['baseline']))
    splits = list(dict.fromkeys(board['split']))
    seeds = int(board['seeds'].max())
    fig = new_figure((10.0, 6.4))
    axes = fig.subplots(2, 2, squeeze=False).ravel()
    width = 0.8 / len(splits)
    positions = np.arange(len(baselines))
    for ax, metric in zip(axes, EVALUATOR_METRICS):
        for j, split in enumerate(splits):
            part = board[board['split'] == split].set_index('baseline')
            part = part.reindex(baselines)
            mean = part[f'{metric}_mean'].to_numpy(dtype=np.float64)
            std = part[f'{metric}_std'].to_numpy(dtype=np.float64)
            x = positions - 0.4 + width * (j + 0.5)
            ax.bar(x, np.nan_to_num(mean), width, yerr=np.nan_to_num(std),
                   capsize=3, label=f'{split} split',
                   color=f'C{j}', alpha=0.85)
            for xi, m in zip(x, mean):
                if not np.isfinite(m):
                    ax.text(xi, 0.0, 'n/a', ha='center', va='bottom',
                            fontsize=7)
                elif metric == 'r2' and m < _R2_FLOOR:
                    ax.text(xi, _R2_FLOOR + 0.02, f'{m:.1f}',
                            ha='center', va='bottom', fontsize=7,
                            bbox=dict(facecolor='white', alpha=0.8, lw=0))
        if metric == 'r2':
            low, high = ax.get_ylim()
            ax.set_ylim(max(low, _R2_FLOOR - 0.05), high)
        ax.axhline(0.0, color='k', lw=0.6)
        ax.set_title(_TITLES[metric], fontsize=10)
        ax.set_xticks(positions)
        ax.set_xticklabels(baselines, rotation=25, ha='right',
                           rotation_mode='anchor', fontsize=8)
    axes[0].legend(fontsize=8)
    fig.suptitle(f'Population benchmark, test parts: bars are the mean over '
                 f'{seeds} seed(s), error bars $\\pm 1$ std over seeds',
                 fontsize=10)
    return fig
