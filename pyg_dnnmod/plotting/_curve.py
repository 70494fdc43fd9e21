r"""Modularity curves over depth in the style of the paper's Fig. 4: the mean
over repeats as a line, a band of one standard deviation, layer names on the
x axis, one curve per setting (ablation value, and model label such as
trained or random init), each told apart by colour, line style and
marker."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from pyg_dnnmod.experiments import SETTING_COLUMNS
from pyg_dnnmod.plotting._axes import (
    band_handle,
    check_frame,
    depth_figsize,
    figure_axes,
    layer_ticks,
    model_on_data,
    new_figure,
    repeats_text,
)

_SYMBOLS = {'k': 'k', 'num_samples': 'N', 'metric': 'metric'}

#: The smallest span of the modularity axis of :func:`plot_modularity_curve`:
#: a narrower autoscaled range is widened about its centre, so that a flat
#: curve looks flat instead of noise in the fourth decimal filling the axes.
MIN_Q_SPAN = 0.1

# One line style and one marker per model label (the `init` column); the
# dotted line is kept for the chance level. Five styles and eight markers
# give 40 distinct pairs.
_LINESTYLES = ('-', '--', '-.', (0, (3, 1, 1, 1, 1, 1)), (0, (8, 2)))
_MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*')


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


def _shorten(names: Sequence[str], head: int = 3, tail: int = 2) -> str:
    r"""A layer list for an error message: the first and last names of a
    long list, and its length."""
    names = [str(n) for n in names]
    if len(names) <= head + tail + 1:
        return str(names)
    shown = ', '.join(repr(n) for n in names[:head]) + ', ..., ' + \
        ', '.join(repr(n) for n in names[-tail:])
    return f'[{shown}] ({len(names)} layers)'


def _check_layers(groups: List[Tuple[Dict[str, Any], pd.DataFrame]],
                  labels: Sequence[str]) -> None:
    r"""Raises unless every curve has one row per layer and all curves run
    over the same layers: :obj:`layer_index` is a position in each model's
    own layer list, so the x axis of one model's names would silently
    misname another model's layers."""
    first: Optional[Tuple[str, List[Tuple[int, str]]]] = None
    for (_, group), label in zip(groups, labels):
        index = group['layer_index']
        if index.duplicated().any():
            twice = index[index.duplicated()].iloc[0]
            raise ValueError(
                f"'summary' holds more than one row of the curve {label!r} "
                f"at layer_index {twice}; give every model its own label "
                f"(the keys of the dict passed to modularity_curves) or "
                f"plot the tables apart")
        layers = list(group.sort_values('layer_index')[
            ['layer_index', 'layer']].itertuples(index=False, name=None))
        layers = [(int(i), str(name)) for i, name in layers]
        if first is None:
            first = (label, layers)
        elif layers != first[1]:
            raise ValueError(
                f"'summary' holds curves over different layers, which one "
                f"x axis cannot show: {first[0]!r} has "
                f"{_shorten([n for _, n in first[1]])} and {label!r} has "
                f"{_shorten([n for _, n in layers])}; plot each model in "
                f"its own figure or axes (argument 'ax')")


def _legend_labels(settings: Sequence[Dict[str, Any]]) -> List[str]:
    r"""The legend label of every curve, :func:`curve_label`, unless two
    coincide (e.g. the labels :obj:`"random"` and :obj:`"random init"`):
    then every column is spelled out."""
    labels = [curve_label(s) for s in settings]
    if len(set(labels)) < len(labels):
        labels = [', '.join(f'{c} = {v}' for c, v in s.items())
                  for s in settings]
    return labels


def _colours(count: int) -> List[Any]:
    r"""Distinct colours: the default cycle up to ten, then evenly spaced
    over the turbo colour map."""
    if count <= 10:
        return [f'C{i}' for i in range(count)]
    from matplotlib import colormaps
    return [colormaps['turbo'](v) for v in np.linspace(0.05, 0.95, count)]


def _min_span(ax: Any, span: float = MIN_Q_SPAN) -> None:
    r"""Widens the y axis about its centre to at least :obj:`span`."""
    low, high = ax.get_ylim()
    if high - low < span:
        centre = (low + high) / 2
        ax.set_ylim(centre - span / 2, centre + span / 2)


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
    deviation, layer names rotated on the x axis. The legend's title says
    what the shading is (:obj:`"shaded: ±1 std over 5 repeats"`).

    Every curve is told apart and named in the legend (when there is more
    than one), whatever its labels: each model label (the :obj:`init`
    column, the keys of the dict given to
    :func:`~pyg_dnnmod.experiments.modularity_curves`, e.g.
    :obj:`"trained"` and :obj:`"random init"`) has its own line style and
    marker, in order of appearance (the first solid with circles, the
    second dashed with squares, ...); colours follow the ablation value
    (:obj:`k`, :obj:`num_samples` or :obj:`metric`) when one varies, else
    the model label. A legend entry names both the value and the label
    (e.g. :obj:`"k = 5, random init"`).

    All curves share one x axis of layer names, so they must run over the
    same layers: :obj:`layer_index` is a position in each model's own layer
    list, and two architectures cannot share it (a ValueError names both
    layer lists; draw them side by side with :obj:`ax`). The modularity
    axis spans at least :obj:`MIN_Q_SPAN` :math:`= 0.1`, so that a flat
    curve looks flat.

    A calibrated summary (:obj:`calibrate=True` in
    :func:`~pyg_dnnmod.experiments.modularity_curves`) adds the chance level:
    the label-permutation null's mean :math:`\pm 2` sd as a grey band with
    a dotted line per curve, and (in a new figure) a second panel with the
    z-score per layer (mean and 2.5-97.5 percentile interval over repeats).

    No display is needed: the figure is a
    :class:`matplotlib.figure.Figure` (Agg canvas), not registered with
    :mod:`matplotlib.pyplot`, that Jupyter shows as a PNG whatever the
    backend.

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
    columns = curve_settings(summary)
    groups = _groups(summary, columns)
    labels = _legend_labels([setting for setting, _ in groups])
    _check_layers(groups, labels)
    layers = (summary[['layer_index', 'layer']].drop_duplicates('layer_index')
              .sort_values('layer_index'))
    names = layers['layer'].astype(str).tolist()
    width, height = depth_figsize(names, 6.0, 0.32, 3.0, 4.0)
    if len(groups) > 4:
        width += 2.0  # the legend beside the axes
    calibrated = all(c in summary.columns for c in ('null_mean', 'null_std'))
    z_ax = None
    if calibrated and ax is None and 'z_mean' in summary.columns:
        fig = new_figure((width, height + 2.4))
        ax, z_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    else:
        fig, ax = figure_axes(ax, (width, height))

    # Colour by the ablated value when one varies, else by model label;
    # line style and marker by model label.
    colour_columns = [c for c in columns if c != 'init'] or \
        [c for c in columns if c == 'init']
    colour_keys = list(dict.fromkeys(
        tuple(setting.get(c) for c in colour_columns)
        for setting, _ in groups))
    colour_of = dict(zip(colour_keys, _colours(len(colour_keys))))
    inits = list(dict.fromkeys(setting.get('init') for setting, _ in groups))
    drawn = banded = False
    for (setting, group), label in zip(groups, labels):
        group = group.sort_values('layer_index')
        colour = colour_of[tuple(setting.get(c) for c in colour_columns)]
        which = inits.index(setting.get('init'))
        style = dict(linestyle=_LINESTYLES[which % len(_LINESTYLES)],
                     marker=_MARKERS[which % len(_MARKERS)])
        x = group['layer_index'].to_numpy()
        mean = group['mean'].to_numpy(dtype=float)
        ax.plot(x, mean, markersize=4, color=colour, label=label, **style)
        if band and 'std' in group.columns:
            std = group['std'].fillna(0.0).to_numpy(dtype=float)
            if (std > 0).any():
                ax.fill_between(x, mean - std, mean + std, color=colour,
                                alpha=0.2, linewidth=0)
                banded = True
        if calibrated:
            _null_band(ax, z_ax, group, x, colour, style, first=not drawn)
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
    _min_span(ax)
    if len(columns) > 0 or calibrated or banded:
        # The legend's title says what the shading is.
        shading = dict(title=band_handle(repeats_text(summary)).get_label(),
                       title_fontsize=8) if banded else {}
        if len(groups) > 4:
            # Many curves: beside the axes, where it hides none of them.
            ax.legend(fontsize=9, loc='upper left', bbox_to_anchor=(1.01, 1.0),
                      borderaxespad=0.0, **shading)
        else:
            ax.legend(fontsize=9, loc='best', **shading)
    if z_ax is not None and 'z_low' in summary.columns:
        z_ax.legend(handles=[band_handle(colour='0.5', alpha=0.15)],
                    labels=['shaded: 2.5-97.5 percentile of z over '
                            + repeats_text(summary)], fontsize=8,
                    loc='best')
    ax.set_title(title if title is not None else
                 curve_title(summary, model, data), fontsize=11)
    return fig


def _null_band(ax: Any, z_ax: Any, group: pd.DataFrame, x: Any, colour: Any,
               style: Dict[str, Any], first: bool) -> None:
    r"""The chance level of one curve: the label-permutation null's mean
    :math:`\pm 2` sd as a grey band with a dotted line, and (on
    :obj:`z_ax`) the z-score's mean and percentile interval, in the
    curve's line :obj:`style` (line style and marker)."""
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
    z_ax.plot(x, z, markersize=3, color=colour, **style)
    if 'z_low' in group.columns and 'z_high' in group.columns:
        z_ax.fill_between(x, group['z_low'].to_numpy(dtype=float),
                          group['z_high'].to_numpy(dtype=float),
                          color=colour, alpha=0.15, linewidth=0)
