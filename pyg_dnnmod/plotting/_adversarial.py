r"""Modularity curves of clean and adversarial inputs on one figure (the
paper's Fig. 6a)."""
from typing import Any, Optional

import numpy as np
import pandas as pd

from pyg_dnnmod.plotting._axes import (
    check_frame,
    depth_figsize,
    figure_axes,
    layer_ticks,
    run_title,
)


def plot_adversarial_curves(
    curves: pd.DataFrame,
    summary: Optional[pd.DataFrame] = None,
    model: Optional[str] = None,
    data: Optional[str] = None,
    title: Optional[str] = None,
) -> Any:
    r"""Draws the modularity curve over depth of the clean inputs (black)
    and of every attack's adversarial inputs on one axis, as in Fig. 6a of
    `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_; the legend gives every attack's
    success rate and number of examples when :obj:`summary` is given.
    Calibrated curves (:obj:`calibrate=True`) add the chance level of the
    clean set: its label-permutation null's mean :math:`\pm 2` sd as a
    grey band.

    Args:
        curves (pandas.DataFrame): The curves of
            :func:`~pyg_dnnmod.experiments.adversarial.adversarial_curves`
            (:obj:`set`, :obj:`layer_index`, :obj:`layer`,
            :obj:`modularity`).
        summary (pandas.DataFrame, optional): Its summary (:obj:`set`,
            :obj:`success_rate`, :obj:`num_collected`).
            (default: :obj:`None`)
        model (str, optional): The model's name, for the title.
            (default: :obj:`None`)
        data (str, optional): The data's name, for the title.
            (default: :obj:`None`)
        title (str, optional): The title. (default: :obj:`None`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> curves = pd.DataFrame({
        ...     'set': ['clean', 'clean', 'fgsm', 'fgsm'],
        ...     'layer_index': [0, 1, 0, 1], 'layer': ['a', 'b', 'a', 'b'],
        ...     'modularity': [0.2, 0.8, 0.2, 0.4]})
        >>> fig = plot_adversarial_curves(curves)
        >>> fig.axes[0].get_legend_handles_labels()[1]
        ['clean', 'fgsm']
    """
    check_frame(curves, 'curves', ('set', 'layer_index', 'layer',
                                   'modularity'),
                'the curves of adversarial_curves')
    layers = (curves[['layer_index', 'layer']].drop_duplicates('layer_index')
              .sort_values('layer_index'))
    names = layers['layer'].astype(str).tolist()
    fig, ax = figure_axes(None, depth_figsize(names, 6.5, 0.32, 3.5, 4.2))
    info = {}
    if summary is not None and 'set' in summary.columns:
        info = {row['set']: row for _, row in summary.iterrows()}
    colour = 0
    for name, group in curves.groupby('set', sort=False):
        group = group.sort_values('layer_index')
        label = str(name)
        row = info.get(name)
        if row is not None and name != 'clean' and \
                np.isfinite(row.get('success_rate', np.nan)):
            label += (f" (success {100 * row['success_rate']:.0f} %, "
                      f"N = {int(row['num_collected'])})")
        if name == 'clean':
            style = dict(color='black', linewidth=2.2, marker='o',
                         markersize=5, zorder=3)
        else:
            style = dict(color=f'C{colour % 10}', linewidth=1.5,
                         marker='o', markersize=3.5)
            colour += 1
        ax.plot(group['layer_index'].to_numpy(),
                group['modularity'].to_numpy(dtype=float), label=label,
                **style)
    clean = curves[curves['set'] == 'clean'].sort_values('layer_index')
    if len(clean) and {'q_null_mean', 'q_null_std'} <= set(curves.columns):
        null = clean['q_null_mean'].to_numpy(dtype=float)
        spread = 2 * clean['q_null_std'].to_numpy(dtype=float)
        ax.fill_between(clean['layer_index'].to_numpy(), null - spread,
                        null + spread, color='0.55', alpha=0.3, linewidth=0,
                        label='chance: label permutations of the clean set '
                              '(mean ± 2 sd)')
    layer_ticks(ax, layers['layer_index'].to_numpy(), names)
    ax.set_ylabel('modularity Q (true labels)')
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc='best')
    if title is None:
        title = run_title('clean vs adversarial inputs', model, data,
                          curves.attrs.get('num_samples'),
                          curves.attrs.get('k'))
    ax.set_title(title, fontsize=11)
    return fig
