r"""Linear-probe accuracy beside the modularity curve, on one axis."""
from typing import Any, List, Optional

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

    Where a layer has at least as many features :math:`D` as the probe has
    training samples :math:`n` less one (e.g. :math:`D = 8192`,
    :math:`n = 250`), any labelling of the training samples is linearly
    separable, so a train accuracy of 1 measures nothing there: a note
    under the axes says so (:func:`separable_note`), and only the test
    accuracy compares the layers.

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
        >>> df.attrs['num_train'] = 250
        >>> len(plot_linear_probes(df).axes[0].texts)  # D unknown: no note
        0
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
    note = separable_note(df)
    if note:
        # Under the x axis label, where it hides no curve.
        ax.annotate(note, xy=(0.5, 0.0), xycoords=ax.xaxis.label,
                    xytext=(0, -6), textcoords='offset points', ha='center',
                    va='top', fontsize=8, color='0.25')
    if title is None:
        rho = format_rho(frame_spearman(df))
        title = run_title(f'linear probes vs modularity: Spearman $\\rho$ '
                          f'= {rho}', model, data,
                          df.attrs.get('num_samples'), df.attrs.get('k'))
    ax.set_title(title, fontsize=11)
    return fig


def separable_layers(df: pd.DataFrame) -> List[str]:
    r"""The layers of a :func:`~pyg_dnnmod.experiments.probes.linear_probes`
    table whose :obj:`num_features` :math:`D` is at least
    :obj:`df.attrs["num_train"]` :math:`- 1`: there, :math:`n` training
    samples in general position are linearly separable whatever their
    labels, so the probe's train accuracy is 1 by construction.

    Example:
        >>> df = pd.DataFrame({'layer': ['a', 'b'], 'num_features': [40, 9]})
        >>> df.attrs['num_train'] = 10
        >>> separable_layers(df)
        ['a', 'b']
        >>> df.attrs['num_train'] = 20
        >>> separable_layers(df)
        ['a']
    """
    n = df.attrs.get('num_train')
    if n is None or 'num_features' not in df.columns:
        return []
    mask = df['num_features'].to_numpy() >= int(n) - 1
    return df.loc[mask, 'layer'].astype(str).tolist()


def separable_note(df: pd.DataFrame) -> str:
    r"""The note of :func:`plot_linear_probes` on the layers of
    :func:`separable_layers`, or :obj:`""` when there are none.

    Example:
        >>> df = pd.DataFrame({'layer': ['a', 'b'],
        ...                    'num_features': [8192, 4096]})
        >>> df.attrs['num_train'] = 250
        >>> print(separable_note(df))
        Train accuracy means little at all 2 layers: D = 4,096-8,192 features
        ≥ n - 1 = 249 training samples, so any labels are linearly separable;
        compare the test accuracy.
    """
    layers = separable_layers(df)
    if not layers:
        return ''
    n = int(df.attrs['num_train'])
    dims = df.loc[df['layer'].astype(str).isin(layers), 'num_features']
    low, high = int(dims.min()), int(dims.max())
    span = f'{low:,}' if low == high else f'{low:,}-{high:,}'
    where = f'all {len(df)} layers' if len(layers) == len(df) else \
        f'{len(layers)} of {len(df)} layers'
    return (f'Train accuracy means little at {where}: D = {span} features\n'
            f'\u2265 n - 1 = {n - 1} training samples, so any labels are '
            f'linearly separable;\ncompare the test accuracy.')
