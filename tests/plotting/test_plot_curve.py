import io

import pandas as pd
import pytest

from pyg_dnnmod.plotting import (
    curve_label,
    curve_settings,
    curve_title,
    plot_modularity_curve,
)


def _summary() -> pd.DataFrame:
    rows = []
    for init in ('trained', 'random'):
        for k in (3, 5):
            for t, layer in enumerate(['conv1', 'layer1.0', 'layer1.1']):
                mean = 0.2 + (0.3 * t if init == 'trained' else 0.0) - k / 100
                rows.append(dict(init=init, k=k, num_samples=500,
                                 metric='cosine', layer_index=t, layer=layer,
                                 mean=mean, std=0.01 * (t + 1), count=5))
    return pd.DataFrame(rows)


def test_one_line_per_curve_with_band_legend_and_names():
    summary = _summary()
    fig = plot_modularity_curve(summary, model='resnet', data='CIFAR-10')
    ax = fig.axes[0]
    assert len(ax.lines) == 4
    assert len(ax.collections) == 4  # one std band each
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ['k = 3, trained', 'k = 5, trained',
                      'k = 3, random init', 'k = 5, random init']
    # Same colour per k, dashed for random init.
    colours = [line.get_color() for line in ax.lines]
    assert colours[0] == colours[2] and colours[1] == colours[3]
    assert colours[0] != colours[1]
    assert [line.get_linestyle() for line in ax.lines] == ['-', '-', '--',
                                                         '--']
    # Means on the line, the band spans mean +- std.
    first = summary[(summary['init'] == 'trained') & (summary['k'] == 3)]
    assert ax.lines[0].get_ydata().tolist() == pytest.approx(
        first['mean'].tolist())
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx((first['mean'] - first['std']).min())
    assert band.max() == pytest.approx((first['mean'] + first['std']).max())
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        'conv1', 'layer1.0', 'layer1.1']
    assert ax.get_title() == 'resnet on CIFAR-10\nN = 500, cosine, 5 repeats'
    assert ax.get_ylabel() == 'modularity Q'
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png')
    assert buffer.getvalue()[:8] == b'\x89PNG\r\n\x1a\n'


def test_single_curve_has_no_legend_and_nan_std_no_band():
    summary = _summary()
    one = summary[(summary['init'] == 'trained') & (summary['k'] == 3)]
    one = one.assign(std=float('nan'), count=1)
    fig = plot_modularity_curve(one, title='custom')
    ax = fig.axes[0]
    assert len(ax.lines) == 1 and len(ax.collections) == 0
    assert ax.get_legend() is None
    assert ax.get_title() == 'custom'


def test_draws_into_given_axes():
    from matplotlib.figure import Figure
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_modularity_curve(_summary(), ax=ax) is fig
    assert len(ax.lines) == 4


def test_helpers():
    summary = _summary()
    assert curve_settings(summary) == ['init', 'k']
    assert curve_label({'metric': 'pearson'}) == 'pearson'
    assert curve_label({'k': 3, 'init': 'trained'}) == 'k = 3, trained'
    assert curve_title(summary[summary['k'] == 3], 'm') == \
        'm\nN = 500, k = 3, cosine, 5 repeats'


def test_bad_input():
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['mean'\]"):
        plot_modularity_curve(_summary().drop(columns='mean'))
    with pytest.raises(ValueError, match=r"'summary' is empty"):
        plot_modularity_curve(_summary().iloc[:0])
    with pytest.raises(TypeError, match=r"'summary' must be a pandas"):
        plot_modularity_curve({'mean': [1]})
