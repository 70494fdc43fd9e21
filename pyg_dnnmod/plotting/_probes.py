r"""Linear-probe accuracy beside the modularity curve, on one axis."""
from typing import Any, Optional

import numpy as np
import pandas as pd


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
    from matplotlib.figure import Figure

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"'df' must be a pandas.DataFrame "
                        f"(got {type(df).__name__})")
    missing = [c for c in ('layer_index', 'layer', 'modularity',
                           'probe_test_acc') if c not in df.columns]
    if missing:
        raise ValueError(f"'df' lacks the column(s) {missing} (got "
                         f"{df.columns.tolist()}); pass the output of "
                         f"linear_probes")
    if len(df) == 0:
        raise ValueError("'df' is empty (got 0 rows)")
    df = df.sort_values('layer_index')
    names = df['layer'].astype(str).tolist()
    x = df['layer_index'].to_numpy()
    longest = max(len(n) for n in names)
    fig = Figure(figsize=(min(max(6.0, 0.32 * len(names) + 3.0), 24.0),
                      4.0 + min(longest, 30) * 0.06), layout='constrained')
    ax = fig.add_subplot()
    ax.plot(x, df['modularity'].to_numpy(dtype=float), marker='o',
            markersize=4, color='C0', label='modularity Q')
    ax.plot(x, df['probe_test_acc'].to_numpy(dtype=float), marker='s',
            markersize=4, color='C3', label='probe test accuracy')
    if 'probe_train_acc' in df.columns:
        ax.plot(x, df['probe_train_acc'].to_numpy(dtype=float),
                marker='s', markersize=3, color='C3', linestyle=':',
                alpha=0.7, label='probe train accuracy')
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=45, ha='right',
                       rotation_mode='anchor',
                       fontsize=9 if len(names) <= 20 else 7)
    ax.set_xlabel('layer')
    ax.set_ylabel('modularity Q / probe accuracy')
    ax.set_ylim(min(0.0, float(np.nanmin(df['modularity']))) - 0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc='lower right')
    if title is None:
        rho = df.attrs.get('spearman')
        if rho is None and 'spearman' in df.columns:
            rho = float(df['spearman'].iloc[0])
        shown = 'n/a' if rho is None or not np.isfinite(rho) else \
            f'{rho:.3f}'
        head = ' on '.join(str(p) for p in (model, data) if p)
        fixed = [head] if head else []
        for key, symbol in (('num_samples', 'N'), ('k', 'k')):
            if df.attrs.get(key) is not None:
                fixed.append(f'{symbol} = {df.attrs[key]}')
        title = ', '.join(fixed) + ('\n' if fixed else '') + \
            f'linear probes vs modularity: Spearman $\\rho$ = {shown}'
    ax.set_title(title, fontsize=11)
    return fig
