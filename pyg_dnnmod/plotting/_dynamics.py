r"""Training-time dynamics (the paper's Fig. 6b): an epoch x layer heatmap of
the modularity, and chosen layers' modularity over the epochs with the
accuracy on a second axis."""
from typing import Any, List, Optional, Sequence

import numpy as np
import pandas as pd

from pyg_dnnmod.plotting._axes import (
    check_frame,
    depth_figsize,
    layer_ticks,
    new_figure,
    run_title,
)


def default_dynamics_layers(names: Sequence[str], max_layers: int = 5
                            ) -> List[str]:
    r"""The layers drawn as lines by default: all of them when there are at
    most :obj:`max_layers`, else the first, the last and evenly spaced ones
    between.

    Example:
        >>> default_dynamics_layers(['a', 'b', 'c'])
        ['a', 'b', 'c']
        >>> default_dynamics_layers([str(i) for i in range(10)], 4)
        ['0', '3', '6', '9']
    """
    names = list(names)
    if len(names) <= max_layers:
        return names
    picks = np.linspace(0, len(names) - 1, max_layers).round().astype(int)
    return [names[i] for i in sorted(set(picks.tolist()))]


def plot_training_dynamics(
    df: pd.DataFrame,
    layers: Optional[Sequence[str]] = None,
    model: Optional[str] = None,
    data: Optional[str] = None,
    title: Optional[str] = None,
    accuracy: str = 'test_acc',
) -> Any:
    r"""Draws the modularity of every layer at every epoch as in Fig. 6b of
    `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_: on the left a heatmap (layers
    across, epochs up), on the right the chosen layers' modularity over the
    epochs with the accuracy (dashed black) on a second y axis.

    Args:
        df (pandas.DataFrame): The output of
            :func:`~pyg_dnnmod.experiments.dynamics.training_dynamics` (at
            least :obj:`epoch`, :obj:`layer_index`, :obj:`layer`,
            :obj:`modularity`).
        layers ([str], optional): The layers drawn as lines.
            (default: :func:`default_dynamics_layers`)
        model (str, optional): The model's name, for the title.
            (default: :obj:`None`)
        data (str, optional): The data's name, for the title.
            (default: :obj:`None`)
        title (str, optional): The title. (default: :obj:`None`, model,
            data, :math:`N` and :math:`k`)
        accuracy (str, optional): The accuracy column on the second axis;
            skipped when absent or all NaN. (default: :obj:`"test_acc"`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> df = pd.DataFrame({
        ...     'epoch': [0, 0, 1, 1], 'layer_index': [0, 1, 0, 1],
        ...     'layer': ['conv1', 'conv2'] * 2,
        ...     'modularity': [0.2, 0.2, 0.2, 0.6],
        ...     'test_acc': [0.1, 0.1, 0.9, 0.9]})
        >>> fig = plot_training_dynamics(df, model='cnn')
        >>> fig.axes[1].get_legend_handles_labels()[1]
        ['conv1', 'conv2']
    """
    check_frame(df, 'df', ('epoch', 'layer_index', 'layer', 'modularity'),
                'the output of training_dynamics')
    grid = df.pivot_table(index='epoch', columns='layer_index',
                          values='modularity', aggfunc='mean')
    names_by_index = (df[['layer_index', 'layer']]
                      .drop_duplicates('layer_index')
                      .set_index('layer_index')['layer'].astype(str))
    names = [names_by_index[i] for i in grid.columns]
    if layers is None:
        layers = default_dynamics_layers(names)
    unknown = [name for name in layers if name not in names]
    if unknown:
        raise ValueError(f"'layers' names unknown layer(s) {unknown}; valid "
                         f"names: {names}")
    epochs = grid.index.to_numpy()

    fig = new_figure(depth_figsize(names, 11.0, 0.35, 8.0, 4.6))
    heat, lines = fig.subplots(1, 2, width_ratios=[1.0, 1.25])

    matrix = grid.to_numpy(dtype=float)
    image = heat.imshow(matrix, aspect='auto', origin='lower',
                        cmap='viridis', interpolation='nearest',
                        extent=(-0.5, len(names) - 0.5, -0.5,
                                len(epochs) - 0.5))
    layer_ticks(heat, np.arange(len(names)), names)
    step = max(1, int(np.ceil(len(epochs) / 12)))
    heat.set_yticks(np.arange(0, len(epochs), step))
    heat.set_yticklabels([str(e) for e in epochs[::step]])
    heat.set_ylabel('epoch')
    heat.set_title('modularity Q per epoch and layer', fontsize=11)
    fig.colorbar(image, ax=heat, label='modularity Q', shrink=0.9)

    for i, name in enumerate(names):
        if name not in layers:
            continue
        lines.plot(epochs, matrix[:, i], marker='o', markersize=3,
                   color=f'C{layers.index(name) % 10}', label=name)
    from matplotlib.ticker import MaxNLocator
    lines.xaxis.set_major_locator(MaxNLocator(integer=True))
    lines.set_xlabel('epoch')
    lines.set_ylabel('modularity Q')
    lines.grid(True, alpha=0.3)
    handles, labels = lines.get_legend_handles_labels()
    if accuracy in df.columns and df[accuracy].notna().any():
        acc = df.groupby('epoch')[accuracy].first().reindex(epochs)
        twin = lines.twinx()
        line, = twin.plot(epochs, acc.to_numpy(dtype=float), color='black',
                          linestyle='--', linewidth=1.5,
                          label=accuracy.replace('_', ' '))
        twin.set_ylabel(accuracy.replace('_acc', ' accuracy')
                        .replace('_', ' '))
        twin.set_ylim(0.0, 1.02)
        handles, labels = handles + [line], labels + [line.get_label()]
    # Below the axes: inside, it would hide the curves it explains.
    lines.legend(handles, labels, fontsize=9, loc='upper center',
                 bbox_to_anchor=(0.5, -0.14), ncol=min(len(labels), 4),
                 frameon=False)
    lines.set_title('chosen layers and accuracy', fontsize=11)

    if title is None:
        title = run_title('modularity over training', model, data,
                          df.attrs.get('num_samples'), df.attrs.get('k'))
    fig.suptitle(title, fontsize=12)
    return fig
