r"""A grid of t-SNE maps, one per layer, coloured by class and titled with
the layer's modularity: the paper's Fig. 1 (left)."""
import math
from typing import Any, Optional, Sequence

import pandas as pd

from pyg_dnnmod.plotting._axes import check_frame, new_figure


def plot_tsne_grid(
    points: pd.DataFrame,
    ncols: Optional[int] = None,
    title: Optional[str] = None,
    class_names: Optional[Sequence[str]] = None,
    marker_size: float = 6.0,
) -> Any:
    r"""Draws the output of :func:`~pyg_dnnmod.experiments.tsne_panels` as
    a grid of scatter plots, one panel per layer in depth order, samples
    coloured by class, every panel titled with the layer name and its
    modularity :math:`Q`; as Fig. 1 (left) of `"Understanding the Dynamics
    of DNNs Using Graph Modularity" <https://arxiv.org/abs/2111.12485>`_.

    Args:
        points (pandas.DataFrame): Columns :obj:`layer_index`, :obj:`layer`,
            :obj:`label`, :obj:`x`, :obj:`y` and optionally
            :obj:`modularity`.
        ncols (int, optional): Panels per row. (default: :obj:`None`, up to
            4)
        title (str, optional): The figure title. (default: :obj:`None`)
        class_names ([str], optional): Legend names of the labels.
            (default: :obj:`None`, the labels)
        marker_size (float, optional): The scatter marker size.
            (default: :obj:`6.0`)

    Returns:
        matplotlib.figure.Figure: The figure (not registered with
        :mod:`matplotlib.pyplot`).

    Example:
        >>> df = pd.DataFrame({'layer_index': [0, 0, 1, 1],
        ...                    'layer': ['a', 'a', 'b', 'b'],
        ...                    'label': [0, 1, 0, 1], 'x': [0., 1., 0., 1.],
        ...                    'y': [0., 1., 1., 0.],
        ...                    'modularity': [0.1, 0.1, 0.5, 0.5]})
        >>> fig = plot_tsne_grid(df)
        >>> [ax.get_title() for ax in fig.axes]
        ['a\nQ = 0.100', 'b\nQ = 0.500']
    """
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    check_frame(points, 'points', ('layer_index', 'layer', 'label', 'x', 'y'),
                'the output of tsne_panels()')
    if ncols is not None and (isinstance(ncols, bool)
                              or not isinstance(ncols, int) or ncols < 1):
        raise ValueError(f"'ncols' must be an integer >= 1 (got {ncols!r})")

    panels = [group for _, group in points.groupby('layer_index', sort=True)]
    classes = sorted(points['label'].unique().tolist())
    if class_names is not None and len(class_names) < len(classes):
        raise ValueError(f"'class_names' must name all {len(classes)} "
                         f"classes (got {len(class_names)} names)")
    cmap = colormaps['tab10' if len(classes) <= 10 else
                     'tab20' if len(classes) <= 20 else 'turbo']
    colour_of = {c: cmap(i % cmap.N if len(classes) <= 20 else
                         i / max(len(classes) - 1, 1))
                 for i, c in enumerate(classes)}

    ncols = ncols or min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    legend = len(classes) <= 20
    fig = new_figure((3.0 * ncols + (1.2 if legend else 0.0),
                      3.1 * nrows + (0.5 if title else 0.0)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, group in zip(axes.flat, panels):
        colours = [colour_of[c] for c in group['label'].tolist()]
        ax.scatter(group['x'].to_numpy(), group['y'].to_numpy(), c=colours,
                   s=marker_size, linewidths=0)
        name = str(group['layer'].iloc[0])
        if 'modularity' in group.columns:
            q = float(np.asarray(group['modularity'])[0])
            name = f'{name}\nQ = {q:.3f}'
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    if legend:
        names = ([str(class_names[i]) for i in range(len(classes))]
                 if class_names is not None else [str(c) for c in classes])
        handles = [Line2D([], [], marker='o', linestyle='',
                          color=colour_of[c], markersize=6)
                   for c in classes]
        fig.legend(handles, names, loc='outside right center',
                   title='class', fontsize=8, title_fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
