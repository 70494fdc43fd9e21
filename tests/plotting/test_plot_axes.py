import pandas as pd
import pytest
from matplotlib.figure import Figure

from pyg_dnnmod.plotting import _axes


def test_check_frame_messages():
    df = pd.DataFrame({'a': [1]})
    _axes.check_frame(df, 'df', ['a'], 'f()')
    with pytest.raises(TypeError, match=r"^'df' must be a pandas.DataFrame "
                       r"\(got list\)$"):
        _axes.check_frame([1], 'df')
    with pytest.raises(ValueError, match=r"^'df' lacks the column\(s\) "
                       r"\['b'\] \(got \['a'\]\); pass f\(\)$"):
        _axes.check_frame(df, 'df', ['a', 'b'], 'f()')
    # Without a hint the message ends at the columns.
    with pytest.raises(ValueError, match=r"\(got \['a'\]\)$"):
        _axes.check_frame(df, 'df', ['b'])
    with pytest.raises(ValueError, match=r"^'df' is empty \(got 0 rows\)$"):
        _axes.check_frame(df.iloc[:0], 'df', ['a'])
    _axes.check_frame(df.iloc[:0], 'df', ['a'], allow_empty=True)


def test_figure_axes_and_layer_ticks():
    fig, ax = _axes.figure_axes(None, (4.0, 3.0))
    assert isinstance(fig, Figure) and fig.axes == [ax]
    assert fig.get_size_inches().tolist() == [4.0, 3.0]
    assert _axes.figure_axes(ax, (1.0, 1.0)) == (fig, ax)
    names = [f'layer{i}' for i in range(21)]
    _axes.layer_ticks(ax, range(21), names, 'depth')
    labels = ax.get_xticklabels()
    assert [t.get_text() for t in labels] == names
    assert labels[0].get_rotation() == 45 and labels[0].get_fontsize() == 7
    assert ax.get_xlabel() == 'depth'
    _axes.layer_ticks(ax, range(20), names[:20])
    assert ax.get_xticklabels()[0].get_fontsize() == 9


def test_depth_figsize():
    # Width grows with the layers between the bounds, height with the
    # longest name up to 30 characters.
    assert _axes.depth_figsize(['a'] * 10, 6.0, 0.32, 3.0, 4.0) == (
        0.32 * 10 + 3.0, 4.0 + 0.06)
    assert _axes.depth_figsize(['a'], 6.5, 0.32, 3.5, 4.2)[0] == 6.5
    assert _axes.depth_figsize(['a' * 40] * 100, 6.0, 0.32, 3.0, 4.0) == (
        24.0, 4.0 + 30 * 0.06)


def test_titles():
    assert _axes.model_on_data() == ''
    assert _axes.model_on_data('cnn') == 'cnn'
    assert _axes.run_title('what', 'cnn', 'digits', 500, 3) == \
        'cnn on digits, N = 500, k = 3\nwhat'
    assert _axes.run_title('what', num_samples=10) == 'N = 10\nwhat'
    assert _axes.run_title('what') == 'what'


def test_spearman_from_attrs_or_column():
    df = pd.DataFrame({'spearman': [0.25]})
    assert _axes.frame_spearman(df) == 0.25
    df.attrs['spearman'] = 0.5
    assert _axes.frame_spearman(df) == 0.5
    assert _axes.frame_spearman(pd.DataFrame({'a': [1]})) is None
    assert _axes.format_rho(0.5) == '0.500'
    assert _axes.format_rho(None) == _axes.format_rho(float('nan')) == 'n/a'
