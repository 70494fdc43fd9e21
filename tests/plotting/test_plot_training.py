import pandas as pd
import pytest

from pyg_dnnmod.plotting import plot_training_history


def test_loss_and_accuracy_panels():
    history = pd.DataFrame({'epoch': [0, 1, 2], 'train_loss': [2., 1., .5],
                            'train_acc': [.1, .6, .8],
                            'test_loss': [float('nan')] * 3,
                            'test_acc': [float('nan')] * 3})
    fig = plot_training_history(history, title='run')
    loss, acc = fig.axes
    # NaN test columns are skipped.
    assert [line.get_label() for line in loss.lines] == ['train']
    assert acc.lines[0].get_ydata().tolist() == [.1, .6, .8]
    assert fig.get_suptitle() == 'run'


def test_bad_input():
    with pytest.raises(ValueError, match=r"lacks the column\(s\) "
                       r"\['train_acc'\]"):
        plot_training_history(pd.DataFrame({'epoch': [0],
                                            'train_loss': [1.0]}))
