r"""What the figures of :mod:`pyg_dnnmod.plotting` share: the figure class that
shows itself in Jupyter and the one place that makes new figures, the check
of an input frame, a new figure or the caller's axes, the size of a figure
over depth, layer names on the x axis, the legend entry of a shaded
band, and the default titles' first line."""
import io
from typing import Any, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


class DisplayFigure(Figure):
    r"""A :class:`~matplotlib.figure.Figure` that Jupyter displays as a PNG
    whatever the matplotlib backend (:obj:`"Agg"` included) and without
    :mod:`matplotlib.pyplot`.

    A figure made without pyplot has no canvas manager, so no backend ever
    shows it, and IPython's inline formatter for figures is registered only
    once pyplot's inline backend has been loaded: the notebook would print
    :obj:`<Figure size 600x466 with 1 Axes>`. IPython asks an object for
    :meth:`_repr_png_` when no formatter is registered for its type, so
    this figure renders itself through the Agg canvas (as
    :func:`~pyg_dnnmod.plotting.save_figure` does); where the inline
    formatter is registered, it renders the figure as any other.

    Example:
        >>> fig = new_figure((2.0, 1.0))
        >>> _ = fig.add_subplot().plot([0, 1], [1, 0])
        >>> fig._repr_png_()[1:4]
        b'PNG'
    """
    def _repr_png_(self) -> Optional[bytes]:
        if not self.axes:
            return None  # as IPython's inline formatter: no blank image
        buffer = io.BytesIO()
        # savefig switches a bare canvas to Agg for the PNG and back.
        self.savefig(buffer, format='png', dpi=self.dpi, bbox_inches='tight',
                     facecolor=self.get_facecolor(),
                     edgecolor=self.get_edgecolor())
        return buffer.getvalue()


def new_figure(figsize: Tuple[float, float]) -> DisplayFigure:
    r"""A new :class:`DisplayFigure` of :obj:`figsize` inches with the
    constrained layout: every figure of :mod:`pyg_dnnmod.plotting` is made
    here.

    Example:
        >>> fig = new_figure((3.0, 2.0))
        >>> type(fig).__name__, fig.get_size_inches().tolist()
        ('DisplayFigure', [3.0, 2.0])
    """
    return DisplayFigure(figsize=figsize, layout='constrained')


def check_frame(df: Any, name: str, columns: Sequence[str] = (),
                hint: Optional[str] = None, allow_empty: bool = False) -> None:
    r"""Raises unless :obj:`df` is a :class:`pandas.DataFrame` with the
    :obj:`columns` and, unless :obj:`allow_empty`, at least one row; the
    messages quote the argument's :obj:`name` and, for missing columns,
    what to pass instead (:obj:`hint`).

    Example:
        >>> check_frame(pd.DataFrame({'a': [1]}), 'df', ['a', 'b'], 'f()')
        Traceback (most recent call last):
        ...
        ValueError: 'df' lacks the column(s) ['b'] (got ['a']); pass f()
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"'{name}' must be a pandas.DataFrame "
                        f"(got {type(df).__name__})")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"'{name}' lacks the column(s) {missing} (got "
                         f"{df.columns.tolist()})"
                         + (f'; pass {hint}' if hint else ''))
    if not allow_empty and len(df) == 0:
        raise ValueError(f"'{name}' is empty (got 0 rows)")


def figure_axes(ax: Any, figsize: Tuple[float, float]) -> Tuple[Any, Any]:
    r"""The figure and axes to draw into: :obj:`ax` and its figure, or one
    axes on a new :class:`~matplotlib.figure.Figure` of :obj:`figsize`.

    Example:
        >>> fig, ax = figure_axes(None, (3.0, 2.0))
        >>> figure_axes(ax, (9.0, 9.0)) == (fig, ax), fig.get_size_inches()
        (True, array([3., 2.]))
    """
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize)
    return fig, fig.add_subplot()


def depth_figsize(names: Sequence[str], min_width: float, per_layer: float,
                  pad: float, height: float) -> Tuple[float, float]:
    r"""The size of a figure over depth: :obj:`per_layer` inches per layer
    and :obj:`pad` (between :obj:`min_width` and 24 inches) across, and
    :obj:`height` plus room for the longest rotated layer name.

    Example:
        >>> depth_figsize(['conv1', 'fc'], 6.0, 0.32, 3.0, 4.0)
        (6.0, 4.3)
    """
    longest = max(len(n) for n in names)
    return (min(max(min_width, per_layer * len(names) + pad), 24.0),
            height + min(longest, 30) * 0.06)


def layer_ticks(ax: Any, positions: Any, names: Sequence[str],
                xlabel: str = 'layer') -> None:
    r"""Puts the layer names, rotated, at :obj:`positions` of the x axis
    (smaller beyond 20 layers) and labels the axis.

    Example:
        >>> _, ax = figure_axes(None, (3.0, 2.0))
        >>> layer_ticks(ax, [0, 1], ['conv1', 'fc'])
        >>> [t.get_text() for t in ax.get_xticklabels()], ax.get_xlabel()
        (['conv1', 'fc'], 'layer')
    """
    ax.set_xticks(positions)
    ax.set_xticklabels(names, rotation=45, ha='right',
                       rotation_mode='anchor',
                       fontsize=9 if len(names) <= 20 else 7)
    ax.set_xlabel(xlabel)


def band_handle(over: str = 'the repeats', colour: Any = '0.5',
                alpha: float = 0.2) -> Any:
    r"""A legend handle that says what a shaded band is: a patch of the
    band's :obj:`colour` and :obj:`alpha` labelled
    :obj:`"shaded: ±1 std over <over>"`.

    Example:
        >>> band_handle('3 seeds').get_label()
        'shaded: ±1 std over 3 seeds'
    """
    from matplotlib.patches import Patch
    return Patch(facecolor=colour, alpha=alpha, linewidth=0,
                 label=f'shaded: \u00b11 std over {over}')


def repeats_text(summary: pd.DataFrame) -> str:
    r"""What the standard deviation of :obj:`summary` is over:
    :obj:`"5 repeats"` when its :obj:`count` column holds one value, else
    :obj:`"the repeats"`.

    Example:
        >>> repeats_text(pd.DataFrame({'count': [5, 5]}))
        '5 repeats'
        >>> repeats_text(pd.DataFrame({'mean': [0.5]}))
        'the repeats'
    """
    if 'count' in summary.columns and summary['count'].nunique() == 1:
        return f"{int(summary['count'].iloc[0])} repeats"
    return 'the repeats'


def model_on_data(model: Optional[str] = None,
                  data: Optional[str] = None) -> str:
    r"""The head of a title, e.g. :obj:`"cnn on digits"`.

    Example:
        >>> model_on_data('cnn', 'digits'), model_on_data(data='digits')
        ('cnn on digits', 'digits')
    """
    return ' on '.join(str(p) for p in (model, data) if p)


def run_title(what: str, model: Optional[str] = None,
              data: Optional[str] = None, num_samples: Optional[int] = None,
              k: Optional[int] = None) -> str:
    r"""A default title: model, data, :math:`N` and :math:`k` (those
    given) on the first line, :obj:`what` below.

    Example:
        >>> print(run_title('modularity over training', 'cnn', k=3))
        cnn, k = 3
        modularity over training
        >>> run_title('curves')
        'curves'
    """
    head = model_on_data(model, data)
    fixed = [head] if head else []
    for symbol, value in (('N', num_samples), ('k', k)):
        if value is not None:
            fixed.append(f'{symbol} = {value}')
    return ', '.join(fixed) + ('\n' if fixed else '') + what


def frame_spearman(df: pd.DataFrame) -> Optional[float]:
    r"""Spearman's :math:`\rho` of an experiment's output: its
    :obj:`attrs`, else its :obj:`spearman` column, else :obj:`None`.

    Example:
        >>> frame_spearman(pd.DataFrame({'spearman': [0.5, 0.5]}))
        0.5
    """
    rho = df.attrs.get('spearman')
    if rho is None and 'spearman' in df.columns:
        rho = float(df['spearman'].iloc[0])
    return rho


def format_rho(rho: Optional[float]) -> str:
    r"""A correlation with three decimals, :obj:`"n/a"` when missing.

    Example:
        >>> format_rho(0.81234), format_rho(float('nan')), format_rho(None)
        ('0.812', 'n/a', 'n/a')
    """
    return 'n/a' if rho is None or not np.isfinite(rho) else f'{rho:.3f}'
