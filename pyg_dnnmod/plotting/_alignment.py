r"""The layer-by-layer k-NN alignment matrix of one model, two models or two
checkpoints as a heatmap, with its calibration (z against the permutation
null) beside it when computed."""
from typing import Any, Optional

import numpy as np
import pandas as pd

from pyg_dnnmod.plotting._axes import check_frame, new_figure
from pyg_dnnmod.plotting._heatmaps import heatmap

_NAMES = {'mutual_knn': 'mutual k-NN', 'cycle_knn': 'cycle k-NN',
          'knn_jaccard': 'Jaccard k-NN', 'cknna': 'CKNNA'}


def alignment_title(df: pd.DataFrame, model_a: Optional[str] = None,
                    model_b: Optional[str] = None,
                    data: Optional[str] = None) -> str:
    r"""The default title of :func:`plot_alignment_matrix`: the score,
    :math:`k`, :math:`N` and the chance level when known, then what is
    compared.

    Example:
        >>> df = pd.DataFrame({'score': [1.0]})
        >>> df.attrs.update(metric='mutual_knn', k=10, num_samples=500,
        ...                 chance_level=10 / 499)
        >>> print(alignment_title(df, 'resnet20 seed 0', 'seed 1', 'MNIST'))
        mutual k-NN, k = 10, N = 500 (chance 0.020)
        resnet20 seed 0 vs seed 1 on MNIST
    """
    attrs = df.attrs
    head = _NAMES.get(attrs.get('metric'), str(attrs.get('metric', 'score')))
    parts = [head]
    if attrs.get('k') is not None:
        parts.append(f"k = {attrs['k']}")
    if attrs.get('num_samples') is not None:
        parts.append(f"N = {attrs['num_samples']}")
    line = ', '.join(parts)
    if attrs.get('chance_level') is not None:
        line += f" (chance {attrs['chance_level']:.3f})"
    what = ' vs '.join(m for m in (model_a, model_b) if m)
    if data:
        what = f'{what} on {data}' if what else data
    return '\n'.join(p for p in (line, what) if p)


def plot_alignment_matrix(
    df: pd.DataFrame,
    model_a: Optional[str] = None,
    model_b: Optional[str] = None,
    data: Optional[str] = None,
    title: Optional[str] = None,
) -> Any:
    r"""Draws the result of
    :func:`~pyg_dnnmod.similarity.alignment_matrix` as a heatmap: rows the
    layers of :math:`A`, columns those of :math:`B`, colour the score on a
    fixed scale :math:`[0, 1]` (so that two figures compare); a calibrated
    frame (:obj:`calibrate=True`) gets a second heatmap of the z-scores
    against the permutation null, centred at :math:`0`.

    Args:
        df (pandas.DataFrame): The long frame of
            :func:`~pyg_dnnmod.similarity.alignment_matrix`.
        model_a (str, optional): The name of :math:`A`, for the title and
            the y axis. (default: :obj:`None`)
        model_b (str, optional): The name of :math:`B`. (default:
            :obj:`None`)
        data (str, optional): The data's name. (default: :obj:`None`)
        title (str, optional): The title; by default
            :func:`alignment_title`. (default: :obj:`None`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> df = pd.DataFrame(dict(
        ...     layer_a=['x', 'x', 'y', 'y'], layer_b=['u', 'v', 'u', 'v'],
        ...     layer_index_a=[0, 0, 1, 1], layer_index_b=[0, 1, 0, 1],
        ...     score=[0.9, 0.2, 0.3, 0.8], z=[40., 3., 5., 30.]))
        >>> fig = plot_alignment_matrix(df, 'A', 'B')
        >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
        ['score', 'z against the permutation null']
    """
    from pyg_dnnmod.similarity import alignment_table

    check_frame(df, 'df', ('layer_a', 'layer_b', 'layer_index_a',
                           'layer_index_b', 'score'),
                'the output of alignment_matrix()')
    table = alignment_table(df)
    names_a = [str(n) for n in table.index]
    names_b = [str(n) for n in table.columns]
    calibrated = 'z' in df.columns
    panels = 2 if calibrated else 1
    side = max(3.5, 0.32 * max(len(names_a), len(names_b)) + 2.0)
    fig = new_figure((side * panels + 0.8 * panels, side + 1.2))
    axes = fig.subplots(1, panels, squeeze=False)[0]
    xlabel = f'layer of {model_b}' if model_b else 'layer of B'
    ylabel = f'layer of {model_a}' if model_a else 'layer of A'
    heatmap(fig, axes[0], table.to_numpy(dtype=float), names_a, 'score',
            'viridis', vmin=0.0, vmax=1.0, col_names=names_b, xlabel=xlabel,
            ylabel=ylabel)
    if calibrated:
        z = alignment_table(df, 'z').to_numpy(dtype=float)
        finite = np.abs(z[np.isfinite(z)])
        top = float(finite.max()) if finite.size else 1.0
        heatmap(fig, axes[1], z, names_a, 'z against the permutation null',
                'RdBu_r', vmin=-top, vmax=top, fmt='.0f',
                col_names=names_b, xlabel=xlabel, ylabel=ylabel)
    fig.suptitle(title if title is not None else
                 alignment_title(df, model_a, model_b, data), fontsize=11)
    return fig
