r"""Training curves: loss and accuracy per epoch, from the history of
:func:`~pyg_dnnmod.training.train`."""
from typing import Any, Optional

import pandas as pd

from pyg_dnnmod.plotting._axes import check_frame, new_figure


def plot_training_history(history: pd.DataFrame,
                          title: Optional[str] = None) -> Any:
    r"""Draws the loss (left) and the accuracy (right) of a training
    history per epoch, train and test.

    Args:
        history (pandas.DataFrame): Columns :obj:`epoch`,
            :obj:`train_loss`, :obj:`train_acc`, :obj:`test_loss`,
            :obj:`test_acc` (as returned by
            :func:`~pyg_dnnmod.training.train`); NaN test columns are
            skipped.
        title (str, optional): The figure title. (default: :obj:`None`)

    Returns:
        matplotlib.figure.Figure: The figure.

    Example:
        >>> history = pd.DataFrame({'epoch': [0, 1], 'train_loss': [2., 1.],
        ...                         'train_acc': [.1, .6],
        ...                         'test_loss': [2., 1.2],
        ...                         'test_acc': [.1, .5]})
        >>> fig = plot_training_history(history)
        >>> [ax.get_ylabel() for ax in fig.axes]
        ['loss', 'accuracy']
    """
    from matplotlib.ticker import MaxNLocator

    check_frame(history, 'history', ('epoch', 'train_loss', 'train_acc'),
                allow_empty=True)
    fig = new_figure((9.0, 3.6 + (0.3 if title else 0.0)))
    axes = fig.subplots(1, 2)
    for ax, what in zip(axes, ('loss', 'acc')):
        for split, style in (('train', '-'), ('test', '--')):
            column = f'{split}_{what}'
            if column in history.columns and \
                    history[column].notna().any():
                ax.plot(history['epoch'], history[column], style,
                        marker='o', markersize=3, label=split)
        ax.set_xlabel('epoch')
        ax.set_ylabel('loss' if what == 'loss' else 'accuracy')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
