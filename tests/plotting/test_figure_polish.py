r"""Figures say what their shading is, the pruning figure keeps its
promises (crosses on removed layers, error bars over seeds, point names
that do not overlap), and the probe figure says where train accuracy means
little."""
import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from pyg_dnnmod.plotting import (
    plot_accuracy_vs_gain,
    plot_linear_probes,
    plot_modularity_curve,
    plot_pruned_curves,
    plot_pruning_report,
)

BAND = 'shaded: \u00b11 std over'


def _legend_texts(ax):
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text()
                                      for t in legend.get_texts()]


def _legend_title(ax):
    legend = ax.get_legend()
    return None if legend is None else legend.get_title().get_text()


def _curve(std, **columns):
    return pd.DataFrame(dict(layer_index=[0, 1, 2], layer=['a', 'b', 'c'],
                             mean=[0.2, 0.5, 0.6], std=std, **columns))


def test_a_single_curve_says_its_band_is_one_std():
    fig = plot_modularity_curve(_curve([0.01, 0.02, 0.01], count=5))
    assert _legend_texts(fig.axes[0]) == ['modularity']
    assert _legend_title(fig.axes[0]) == 'shaded: \u00b11 std over 5 repeats'


def test_no_band_no_band_entry():
    # One repeat: std NaN, nothing shaded, nothing to explain.
    fig = plot_modularity_curve(_curve([np.nan] * 3, count=1))
    assert fig.axes[0].get_legend() is None
    assert len(fig.axes[0].collections) == 0


def test_several_curves_and_the_z_panel_name_their_bands():
    a = _curve([0.01] * 3, count=4, init='trained', null_mean=0.0,
               null_std=0.01, z_mean=[20.0, 50.0, 60.0],
               z_low=[18.0, 45.0, 50.0], z_high=[22.0, 55.0, 70.0])
    b = a.assign(init='random', mean=[0.1, 0.1, 0.1])
    fig = plot_modularity_curve(pd.concat([a, b]))
    q_ax, z_ax = fig.axes
    assert _legend_texts(q_ax) == [
        'trained', 'chance: label permutations (mean \u00b1 2 sd)',
        'random init']
    assert _legend_title(q_ax) == 'shaded: \u00b11 std over 4 repeats'
    assert _legend_texts(z_ax) == [
        'shaded: 2.5-97.5 percentile of z over 4 repeats']


def _original(std=None):
    summary = pd.DataFrame(dict(
        init='original', layer_index=range(5),
        original_layer_index=range(5), layer=list('abcde'),
        mean=[0.1, 0.3, 0.31, 0.6, 0.61], count=3))
    if std is not None:
        summary['std'] = std
    return summary


def _sweep_table(gains, changes, stds, seeds=3):
    rows = [dict(model='original', removed='', num_removed=0,
                 modularity_gain=0.0, num_seeds=0,
                 **{'acc_change_%': 0.0, 'acc_change_std_%': 0.0})]
    for i, (g, c, s) in enumerate(zip(gains, changes, stds)):
        rows.append(dict(model=f'-layer.{i}', removed=f'layer.{i}',
                         num_removed=1, modularity_gain=g, num_seeds=seeds,
                         **{'acc_change_%': c, 'acc_change_std_%': s}))
    return pd.DataFrame(rows)


def test_pruned_curves_name_their_band():
    fig = plot_pruned_curves(_original(std=[0.01] * 5))
    assert _legend_texts(fig.axes[0])[-1] == BAND + ' 3 repeats'


def test_a_sweep_marks_its_removed_layers():
    # One row per removed layer, and no pruned curve (the sweep's default).
    table = pd.DataFrame(dict(model=['original', '-b', '-d'],
                              removed=['', 'b', 'd'],
                              **{'acc_change_%': [0.0, -0.1, -2.0]}))
    fig = plot_pruned_curves(_original(), table)
    ax = fig.axes[0]
    crosses = [c for c in ax.collections if len(c.get_offsets())]
    assert len(crosses) == 1
    assert crosses[0].get_offsets().tolist() == [[1.0, 0.3], [3.0, 0.6]]
    assert _legend_texts(ax)[-1] == 'x: removed layer (2 steps, one each)'


def test_pruned_curves_mark_what_they_skip():
    pruned = _original().query("layer != 'c'").assign(init='pruned')
    fig = plot_pruned_curves(pd.concat([_original(), pruned]))
    ax = fig.axes[0]
    crosses = [c for c in ax.collections if len(c.get_offsets())]
    assert [c.get_offsets().tolist() for c in crosses] == [[[2.0, 0.31]]]
    assert _legend_texts(ax)[-1] == 'x: removed layer'


def _error_bars(ax):
    r"""The (x, low, high) of every error bar of the axes."""
    bars = []
    for container in ax.containers:
        for segments in container.lines[2]:
            for (x0, y0), (_, y1) in segments.get_segments():
                bars.append((round(x0, 6), round(min(y0, y1), 6),
                             round(max(y0, y1), 6)))
    return sorted(bars)


def test_accuracy_panel_has_error_bars_over_seeds():
    table = _sweep_table([0.01, 0.2], [-0.1, -2.5], [0.3, 0.5])
    ax = plot_accuracy_vs_gain(table).axes[0]
    assert _error_bars(ax) == [(0.01, -0.4, 0.2), (0.2, -3.0, -2.0)]
    assert '\u00b11 std over 3 seeds' in _legend_texts(ax)
    # One seed: no spread to show.
    one = _sweep_table([0.01, 0.2], [-0.1, -2.5], [np.nan, np.nan], seeds=1)
    assert _error_bars(plot_accuracy_vs_gain(one).axes[0]) == []


def test_the_report_keeps_the_error_bars():
    table = _sweep_table([0.01, 0.2, 0.3], [-0.1, -2.5, -3.0],
                         [0.3, 0.5, 0.1])
    fig = plot_pruning_report(_original(), table)
    assert len(_error_bars(fig.axes[1])) == 3


def test_point_names_never_overlap():
    # Twelve one-layer steps, most of them of nearly the same gain and
    # accuracy change: the names used to be drawn on top of each other.
    rng = np.random.default_rng(0)
    gains = np.r_[rng.uniform(0.0, 0.004, 9), 0.05, 0.06, 0.07]
    changes = np.r_[rng.uniform(-0.1, 0.1, 9), -0.5, -0.45, -0.6]
    table = _sweep_table(gains, changes, [0.1] * 12)
    for fig, ax in ((f, f.axes[1]) for f in [plot_pruning_report(
            _original(), table)]):
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        names = [t for t in ax.texts if t.get_text().startswith('-layer')]
        assert sorted(t.get_text() for t in names) == sorted(
            f'-layer.{i}' for i in range(12))
        # The names' own boxes (an annotation's box includes its leader).
        boxes = [Text.get_window_extent(t, renderer) for t in names]
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b)
        width, height = fig.bbox.width, fig.bbox.height
        for box in boxes:
            assert 0 <= box.x0 and box.x1 <= width
            assert 0 <= box.y0 and box.y1 <= height
        # Each name points at its own point.
        points = {f'-layer.{i}': (g, c)
                  for i, (g, c) in enumerate(zip(gains, changes))}
        for t in names:
            assert t.xy == pytest.approx(points[t.get_text()])


def _probes(num_features, num_train):
    df = pd.DataFrame(dict(layer_index=[0, 1], layer=['conv', 'fc'],
                           num_features=num_features,
                           modularity=[0.2, 0.8],
                           probe_train_acc=[1.0, 1.0],
                           probe_test_acc=[0.3, 0.9], spearman=1.0))
    df.attrs['num_train'] = num_train
    return df


def test_probe_figure_says_train_accuracy_means_little():
    ax = plot_linear_probes(_probes([8192, 10], 250)).axes[0]
    notes = [t.get_text() for t in ax.texts]
    assert notes == ['Train accuracy means little at 1 of 2 layers: D = '
                     '8,192 features\n\u2265 n - 1 = 249 training samples, '
                     'so any labels are linearly separable;\ncompare the '
                     'test accuracy.']
    # Fewer features than training samples: nothing to say.
    assert len(plot_linear_probes(_probes([200, 10], 250)).axes[0].texts) \
        == 0
