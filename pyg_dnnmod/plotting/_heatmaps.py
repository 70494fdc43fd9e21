r"""Layer-by-layer heatmaps: :math:`|Q_i - Q_j|` beside linear CKA (the
paper's Fig. 8), drawn on a display-free :class:`matplotlib.figure.Figure`."""
from typing import Any, Optional, Sequence

import numpy as np
import pandas as pd

from pyg_dnnmod.plotting._axes import (
    check_frame,
    format_rho,
    frame_spearman,
    new_figure,
    run_title,
)


def heatmap(fig: Any, ax: Any, matrix: np.ndarray, names: Sequence[str],
            title: str, cmap: str, vmin: Optional[float] = None,
            vmax: Optional[float] = None, fmt: str = '.2f',
            col_names: Optional[Sequence[str]] = None,
            xlabel: str = 'layer j', ylabel: str = 'layer i') -> None:
    r"""A layer-by-layer heatmap on :obj:`ax`: rows :obj:`names`, columns
    :obj:`col_names` (by default the same), values written in the cells
    when there are at most 12 rows and columns, and a colour bar."""
    col_names = names if col_names is None else col_names
    image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax,
                      interpolation='nearest')
    fontsize = 9 if max(len(names), len(col_names)) <= 16 else 7
    ax.set_xticks(np.arange(len(col_names)))
    ax.set_yticks(np.arange(len(names)))
    ax.set_xticklabels(col_names, rotation=45, ha='right',
                       rotation_mode='anchor', fontsize=fontsize)
    ax.set_yticklabels(names, fontsize=fontsize)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    if max(len(names), len(col_names)) <= 12:
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                value = matrix[i, j]
                if not np.isfinite(value):
                    continue
                # Dark text on light cells and light text on dark ones.
                r, g, b, _ = image.cmap(image.norm(value))
                light = 0.299 * r + 0.587 * g + 0.114 * b > 0.5
                ax.text(j, i, format(value, fmt), ha='center', va='center',
                        fontsize=8 if max(len(names), len(col_names)) <= 8
                        else 6,
                        color='black' if light else 'white')
    fig.colorbar(image, ax=ax, shrink=0.8)


def cka_title(spearman: Optional[float], model: Optional[str] = None,
              data: Optional[str] = None, num_samples: Optional[int] = None,
              k: Optional[int] = None) -> str:
    r"""The default title of :func:`plot_cka_comparison`.

    Example:
        >>> print(cka_title(0.8123, 'cnn', 'digits', 500, 3))
        cnn on digits, N = 500, k = 3
        Spearman $\rho$($|Q_i - Q_j|$, 1 - CKA) = 0.812 (upper triangles)
    """
    return run_title(f'Spearman $\\rho$($|Q_i - Q_j|$, 1 - CKA) = '
                     f'{format_rho(spearman)} (upper triangles)', model, data,
                     num_samples, k)


def plot_cka_comparison(
    df: pd.DataFrame,
    model: Optional[str] = None,
    data: Optional[str] = None,
    title: Optional[str] = None,
) -> Any:
    r"""Draws the layer-difference matrix :math:`|Q_i - Q_j|` and the
    linear CKA matrix side by side, layer names on both axes, as in Fig. 8
    of `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_; the title quotes Spearman's
    :math:`\rho` between :math:`|Q_i - Q_j|` and :math:`1 - \mathrm{CKA}`
    over the upper triangles. Values are written in the cells for up to 12
    layers.

    Args:
        df (pandas.DataFrame): The output of
            :func:`~pyg_dnnmod.experiments.cka.cka_comparison`.
        model (str, optional): The model's name, for the title.
            (default: :obj:`None`)
        data (str, optional): The data's name, for the title.
            (default: :obj:`None`)
        title (str, optional): The title; by default :func:`cka_title`.
            (default: :obj:`None`)

    Returns:
        matplotlib.figure.Figure: The figure (two heatmaps, two colour
        bars).

    Example:
        >>> df = pd.DataFrame({
        ...     'layer_index_i': [0, 0, 1, 1], 'layer_i': ['a', 'a', 'b', 'b'],
        ...     'layer_index_j': [0, 1, 0, 1], 'layer_j': ['a', 'b', 'a', 'b'],
        ...     'modularity_difference': [0., .5, .5, 0.],
        ...     'cka': [1., .3, .3, 1.], 'spearman': [float('nan')] * 4})
        >>> fig = plot_cka_comparison(df)
        >>> [ax.get_title() for ax in fig.axes[:2]]
        ['$|Q_i - Q_j|$', 'linear CKA']
    """
    from pyg_dnnmod.experiments.cka import cka_matrices

    check_frame(df, 'df')
    diff, cka = cka_matrices(df)
    names = [str(n) for n in diff.index]
    side = min(max(4.0, 0.45 * len(names) + 2.5), 12.0)
    longest = max(len(n) for n in names)
    fig = new_figure((2 * side + 1.5, side + min(longest, 30) * 0.06))
    axes = fig.subplots(1, 2)
    # Reversed, so that similar layers are bright in both panels.
    heatmap(fig, axes[0], diff.to_numpy(dtype=float), names,
            '$|Q_i - Q_j|$', 'viridis_r', vmin=0.0)
    heatmap(fig, axes[1], cka.to_numpy(dtype=float), names,
            'linear CKA (debiased)' if df.attrs.get('cka') == 'debiased'
            else 'linear CKA',
            'viridis', vmin=0.0, vmax=1.0)
    if title is None:
        title = cka_title(frame_spearman(df), model, data,
                          df.attrs.get('num_samples'), df.attrs.get('k'))
    fig.suptitle(title, fontsize=12)
    return fig
