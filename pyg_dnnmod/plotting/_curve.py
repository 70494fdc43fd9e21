r"""Modularity curves over depth in the style of the paper's Fig. 4: the mean
over repeats as a line, a band of one standard deviation, layer names on the
x axis, one curve per setting (ablation value, trained or random init)."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pandas as pd

from pyg_dnnmod.experiments import SETTING_COLUMNS
from pyg_dnnmod.plotting._axes import (
    check_frame,
    depth_figsize,
    figure_axes,
    layer_ticks,
    model_on_data,
)

_SYMBOLS = {'k': 'k', 'num_samples': 'N', 'metric': 'metric'}


def curve_settings(summary: pd.DataFrame) -> List[str]:
    r"""The setting columns (:obj:`init`, :obj:`k`, :obj:`num_samples`,
    :obj:`metric`) that take more than one value, i.e. what tells the
    curves of :obj:`summary` apart.

    Example:
        >>> df = pd.DataFrame({'init': ['trained'] * 2, 'k': [3, 5]})
        >>> curve_settings(df)
        ['k']
    """
    return [c for c in SETTING_COLUMNS
            if c in summary.columns and summary[c].nunique() > 1]


def curve_label(setting: Dict[str, Any]) -> str:
    r"""A short legend label for one curve, e.g. :obj:`"k = 5"`,
    :obj:`"N = 100, random init"` or :obj:`"pearson"`.

    Example:
        >>> curve_label({'num_samples': 100, 'init': 'random'})
        'N = 100, random init'
        >>> curve_label({})
        'modularity'
    """
    parts = []
    for column in ('k', 'num_samples', 'metric'):
        if column in setting:
            value = setting[column]
            parts.append(str(value) if column == 'metric' else
                         f'{_SYMBOLS[column]} = {value}')
    if 'init' in setting:
        value = str(setting['init'])
        parts.append(f'{value} init' if value == 'random' else value)
    return ', '.join(parts) if parts else 'modularity'


def curve_title(summary: pd.DataFrame, model: Optional[str] = None,
                data: Optional[str] = None) -> str:
    r"""The default title: model and data on the first line, then the
    settings shared by every curve (:math:`N`, :math:`k`, metric, repeats).

    Example:
        >>> df = pd.DataFrame({'k': [3], 'num_samples': [500],
        ...                    'metric': ['cosine'], 'count': [5]})
        >>> curve_title(df, 'VGG16', 'CIFAR-10')
        'VGG16 on CIFAR-10\nN = 500, k = 3, cosine, 5 repeats'
    """
    head = model_on_data(model, data)
    fixed = []
    for column in ('num_samples', 'k', 'metric'):
        if column in summary.columns and summary[column].nunique() == 1:
            value = summary[column].iloc[0]
            fixed.append(str(value) if column == 'metric' else
                         f'{_SYMBOLS[column]} = {value}')
    if 'count' in summary.columns and summary['count'].nunique() == 1:
        count = int(summary['count'].iloc[0])
        fixed.append(f"{count} repeat{'s' if count != 1 else ''}")
    return '\n'.join(p for p in (head, ', '.join(fixed)) if p)


def _groups(summary: pd.DataFrame,
            columns: Sequence[str]) -> List[Tuple[Dict[str, Any],
                                                  pd.DataFrame]]:
    if not columns:
        return [({}, summary)]
    return [(dict(zip(columns, key if isinstance(key, tuple) else (key, ))),
             group)
            for key, group in summary.groupby(list(columns), sort=False)]


def plot_modularity_curve(
    summary: pd.DataFrame,
    model: Optional[str] = None,
    data: Optional[str] = None,
    title: Optional[str] = None,
    ax: Any = None,
    band: bool = True,
) -> Any:
    r"""Draws modularity curves over depth in the style of Fig. 4 of
    `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_: for every curve the mean over
    repeats as a line with markers and a band of :math:`\pm 1` standard
    deviation, layer names rotated on the x axis. Curves differ in colour
    by ablation value and in line style by initialisation (random init
    dashed); a legend names them when there is more than one.

    A calibrated summary (:obj:`calibrate=True` in
    :func:`~pyg_dnnmod.experiments.modularity_curves`) adds the chance level:
    the label-permutation null's mean :math:`\pm 2` sd as a grey band with
    a dotted line per curve, and (in a new figure) a second panel with the
    z-score per layer (mean and 2.5-97.5 percentile interval over repeats).

    No display is needed: the figure is a plain
    :class:`matplotlib.figure.Figure` (Agg canvas), not registered with
    :mod:`matplotlib.pyplot`.

    Args:
        summary (pandas.DataFrame): The output of
            :func:`~pyg_dnnmod.experiments.summarize` (columns
            :obj:`layer_index`, :obj:`layer`, :obj:`mean`, :obj:`std`, and
            setting columns).
        model (str, optional): The model's name, for the title.
            (default: :obj:`None`)
        data (str, optional): The data's name, for the title.
            (default: :obj:`None`)
        title (str, optional): The title; by default :func:`curve_title`.
            (default: :obj:`None`)
        ax (matplotlib.axes.Axes, optional): Draw into these axes instead of
            a new figure. (default: :obj:`None`)
        band (bool, optional): Draw the standard deviation band.
            (default: :obj:`True`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> df = pd.DataFrame({'layer_index': [0, 1], 'layer': ['a', 'b'],
        ...                    'mean': [0.2, 0.8], 'std': [0.01, 0.02]})
        >>> fig = plot_modularity_curve(df, 'cnn', 'digits')
        >>> fig.axes[0].get_title()
        'cnn on digits'
        >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
        ['a', 'b']
    """
    check_frame(summary, 'summary', ('layer_index', 'layer', 'mean'),
                'the output of summarize()')
    layers = (summary[['layer_index', 'layer']].drop_duplicates('layer_index')
              .sort_values('layer_index'))
    names = layers['layer'].astype(str).tolist()
    columns = curve_settings(summary)
    groups = _groups(summary, columns)
    width, height = depth_figsize(names, 6.0, 0.32, 3.0, 4.0)
    if len(groups) > 4:
        width += 2.0  # the legend beside the axes
    calibrated = all(c in summary.columns for c in ('null_mean', 'null_std'))
    z_ax = None
    if calibrated and ax is None and 'z_mean' in summary.columns:
        from matplotlib.figure import Figure
        fig = Figure(figsize=(width, height + 2.4), layout='constrained')
        ax, z_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    else:
        fig, ax = figure_axes(ax, (width, height))

    colour_columns = [c for c in columns if c != 'init']
    colours: Dict[Any, Any] = {}
    cycle = [f'C{i}' for i in range(10)]
    drawn = False
    for setting, group in groups:
        group = group.sort_values('layer_index')
        key = tuple(setting.get(c) for c in colour_columns)
        colour = colours.setdefault(key, cycle[len(colours) % len(cycle)])
        random = str(setting.get('init', '')) == 'random'
        x = group['layer_index'].to_numpy()
        mean = group['mean'].to_numpy(dtype=float)
        ax.plot(x, mean, marker='o', markersize=4, color=colour,
                linestyle='--' if random else '-', label=curve_label(setting))
        if band and 'std' in group.columns:
            std = group['std'].fillna(0.0).to_numpy(dtype=float)
            if (std > 0).any():
                ax.fill_between(x, mean - std, mean + std, color=colour,
                                alpha=0.2, linewidth=0)
        if calibrated:
            _null_band(ax, z_ax, group, x, colour, random, first=not drawn)
            drawn = True

    layer_ticks(z_ax if z_ax is not None else ax,
                layers['layer_index'].to_numpy(), names)
    if z_ax is not None:
        ax.set_xlabel('')
        ax.tick_params(labelbottom=False)
        z_ax.axhline(0.0, color='0.4', linewidth=0.8)
        z_ax.set_ylabel('z vs. chance')
        z_ax.grid(True, alpha=0.3)
    ax.set_ylabel('modularity Q')
    ax.grid(True, alpha=0.3)
    if len(columns) > 0 or calibrated:
        if len(groups) > 4:
            # Many curves: beside the axes, where it hides none of them.
            ax.legend(fontsize=9, loc='upper left',
                      bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        else:
            ax.legend(fontsize=9, loc='best')
    ax.set_title(title if title is not None else
                 curve_title(summary, model, data), fontsize=11)
    return fig


def _null_band(ax: Any, z_ax: Any, group: pd.DataFrame, x: Any, colour: Any,
               random: bool, first: bool) -> None:
    r"""The chance level of one curve: the label-permutation null's mean
    :math:`\pm 2` sd as a grey band with a dotted line, and (on
    :obj:`z_ax`) the z-score's mean and percentile interval."""
    null = group['null_mean'].to_numpy(dtype=float)
    spread = 2 * group['null_std'].fillna(0.0).to_numpy(dtype=float)
    ax.fill_between(x, null - spread, null + spread, color='0.55', alpha=0.3,
                    linewidth=0,
                    label='chance: label permutations (mean ± 2 sd)'
                    if first else None)
    ax.plot(x, null, color=colour, linestyle=':', linewidth=1.0)
    if z_ax is None:
        return
    z = group['z_mean'].to_numpy(dtype=float)
    z_ax.plot(x, z, marker='o', markersize=3, color=colour,
              linestyle='--' if random else '-')
    if 'z_low' in group.columns and 'z_high' in group.columns:
        z_ax.fill_between(x, group['z_low'].to_numpy(dtype=float),
                          group['z_high'].to_numpy(dtype=float),
                          color=colour, alpha=0.15, linewidth=0)
