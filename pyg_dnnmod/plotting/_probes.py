r"""Linear-probe accuracy beside the modularity curve, on one axis."""
from typing import Any, Optional

import numpy as np
import pandas as pd

from pyg_dnnmod.plotting._axes import (
    check_frame,
    depth_figsize,
    figure_axes,
    format_rho,
    frame_spearman,
    layer_ticks,
    run_title,
)


def plot_linear_probes(
    df: pd.DataFrame,
    model: Optional[str] = None,
    data: Optional[str] = None,
    title: Optional[str] = None,
) -> Any:
    r"""Draws every layer's modularity and linear-probe accuracy (test, and
    train dotted) over depth on one axis (both lie in :math:`[0, 1]`), the
    title quoting Spearman's :math:`\rho` between modularity and probe test
    accuracy.

    Args:
        df (pandas.DataFrame): The output of
            :func:`~pyg_dnnmod.experiments.probes.linear_probes`.
        model (str, optional): The model's name, for the title.
            (default: :obj:`None`)
        data (str, optional): The data's name, for the title.
            (default: :obj:`None`)
        title (str, optional): The title. (default: :obj:`None`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> df = pd.DataFrame({'layer_index': [0, 1], 'layer': ['a', 'b'],
        ...                    'modularity': [0.2, 0.8],
        ...                    'probe_train_acc': [1.0, 1.0],
        ...                    'probe_test_acc': [0.6, 0.9],
        ...                    'spearman': [1.0, 1.0]})
        >>> fig = plot_linear_probes(df)
        >>> fig.axes[0].get_legend_handles_labels()[1]
        ['modularity Q', 'probe test accuracy', 'probe train accuracy']
    """
    check_frame(df, 'df', ('layer_index', 'layer', 'modularity',
                           'probe_test_acc'), 'the output of linear_probes')
    df = df.sort_values('layer_index')
    names = df['layer'].astype(str).tolist()
    x = df['layer_index'].to_numpy()
    fig, ax = figure_axes(None, depth_figsize(names, 6.0, 0.32, 3.0, 4.0))
    ax.plot(x, df['modularity'].to_numpy(dtype=float), marker='o',
            markersize=4, color='C0', label='modularity Q')
    ax.plot(x, df['probe_test_acc'].to_numpy(dtype=float), marker='s',
            markersize=4, color='C3', label='probe test accuracy')
    if 'probe_train_acc' in df.columns:
        ax.plot(x, df['probe_train_acc'].to_numpy(dtype=float),
                marker='s', markersize=3, color='C3', linestyle=':',
                alpha=0.7, label='probe train accuracy')
    layer_ticks(ax, x, names)
    ax.set_ylabel('modularity Q / probe accuracy')
    ax.set_ylim(min(0.0, float(np.nanmin(df['modularity']))) - 0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc='lower right')
    if title is None:
        rho = format_rho(frame_spearman(df))
        title = run_title(f'linear probes vs modularity: Spearman $\\rho$ '
                          f'= {rho}', model, data,
                          df.attrs.get('num_samples'), df.attrs.get('k'))
    ax.set_title(title, fontsize=11)
    return fig
