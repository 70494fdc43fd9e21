import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pyg_dnnmod.experiments.final_accuracy import prediction_metrics
from pyg_dnnmod.plotting import (
    plot_confusion,
    plot_metric_vs_T,
    plot_predicted_vs_true,
)


def _predictions():
    r"""Out-of-fold predictions as accuracy_prediction returns them: two
    subsets, four feature sets, two repeats, two architectures."""
    rng = np.random.default_rng(0)
    rows = []
    for subset in ('all', 'non-degenerate'):
        for features in ('graph', 'accuracy', 'combined', 'majority / mean'):
            for repeat in (0, 1):
                for item in range(6):
                    y = 0.1 + 0.15 * item
                    rows.append(dict(
                        subset=subset, features=features, repeat=repeat,
                        item=item, y_true=y,
                        y_pred=y + rng.normal(0, 0.05) + repeat,
                        bin_true=item // 2,
                        bin_pred=(item // 2 + repeat + (item == 5)) % 3,
                        architecture='lenet5' if item % 2 else 'small_vgg'))
    return pd.DataFrame(rows)


def test_predicted_vs_true_panels():
    pred = _predictions()
    fig = plot_predicted_vs_true(pred, subset='non-degenerate')
    assert isinstance(fig, Figure)
    # One panel per feature set present, in FEATURE_SETS order (3 per row,
    # the unused sixth slot removed).
    assert len(fig.axes) == 4
    titles = [ax.get_title().split('\n') for ax in fig.axes]
    assert [t[0] for t in titles] == ['graph', 'accuracy', 'combined',
                                      'majority / mean']
    first = pred[(pred['subset'] == 'non-degenerate') & (pred['repeat'] == 0)]
    for ax, name in zip(fig.axes, ['graph', 'accuracy', 'combined',
                                   'majority / mean']):
        sel = first[first['features'] == name]
        m = prediction_metrics(sel)
        assert ax.get_title().split('\n')[1] == (
            f"$R^2$={m['r2']:.2f}, $\\tau$={m['kendall_tau']:.2f}, "
            f"MAE={m['mae']:.3f}")
        assert ax.get_xlabel() == 'true final accuracy'
        assert ax.get_ylabel() == 'predicted'
        # One scatter per architecture, holding exactly its networks of
        # the first repeat.
        assert len(ax.collections) == 2
        for points, arch in zip(ax.collections, ['lenet5', 'small_vgg']):
            part = sel[sel['architecture'] == arch]
            np.testing.assert_array_equal(
                points.get_offsets(), part[['y_true', 'y_pred']].to_numpy())
        # The diagonal spans the data of the subset.
        lo = min(first['y_true'].min(), first['y_pred'].min())
        hi = max(first['y_true'].max(), first['y_pred'].max())
        diagonal = ax.lines[0]
        assert np.asarray(diagonal.get_xdata()).tolist() == [lo, hi]
        assert np.asarray(diagonal.get_ydata()).tolist() == [lo, hi]
    assert fig.axes[0].get_legend_handles_labels()[1] == ['lenet5',
                                                          'small_vgg']
    assert fig.get_suptitle() == 'Out-of-fold predictions ' \
        '(non-degenerate networks)'
    # Chosen feature sets, in the order asked.
    fig = plot_predicted_vs_true(pred, feature_sets=['combined', 'graph'])
    assert [ax.get_title().split('\n')[0] for ax in fig.axes] == \
        ['combined', 'graph']


def test_confusion_matrices_count_the_first_repeat():
    pred = _predictions()
    fig = plot_confusion(pred, feature_sets=['graph', 'accuracy'])
    # Rows of panels: the subsets; columns: the feature sets.
    assert len(fig.axes) == 4
    assert [ax.get_title().split('\n')[0] for ax in fig.axes] == [
        'graph, all', 'accuracy, all', 'graph, non-degenerate',
        'accuracy, non-degenerate']
    # Repeat 0: bins 0, 0, 1, 1, 2, 2 predicted as 0, 0, 1, 1, 2, 0.
    want = [[2, 0, 0], [0, 2, 0], [1, 0, 1]]
    for ax in fig.axes:
        assert ax.images[0].get_array().tolist() == want
        texts = [t.get_text() for t in ax.texts]
        assert texts == [str(v) for row in want for v in row]
        assert ax.get_title().endswith('bin accuracy 0.83')
        assert ax.get_xlabel() == 'predicted bin'
        assert ax.get_ylabel() == 'true bin'
        assert ax.get_xticks().tolist() == [0, 1, 2]
    # More bins than the data shows.
    fig = plot_confusion(pred, feature_sets=['graph'], num_bins=4)
    assert fig.axes[0].images[0].get_array().shape == (4, 4)


def test_metric_vs_T_lines():
    rows = []
    for T in (3, 1, 2):
        for subset in ('all', 'non-degenerate'):
            for name in ('graph', 'majority / mean'):
                rows.append(dict(T=T, subset=subset, features=name,
                                 bin_accuracy=0.3 + 0.1 * T,
                                 r2=0.2 * T if name == 'graph' else 0.0,
                                 kendall_tau=0.1 * T))
    table = pd.DataFrame(rows)
    fig = plot_metric_vs_T(table)
    assert len(fig.axes) == 2 * 3
    assert [ax.get_ylabel() for ax in fig.axes] == \
        ['bin_accuracy', 'r2', 'kendall_tau'] * 2
    assert fig.axes[4].get_title() == 'r2, non-degenerate networks'
    r2 = fig.axes[1]
    assert [line.get_label() for line in r2.lines] == ['graph',
                                                       'majority / mean']
    graph, baseline = r2.lines
    # Sorted by T; the baseline dashed.
    assert np.asarray(graph.get_xdata()).tolist() == [1, 2, 3]
    assert np.asarray(graph.get_ydata()).tolist() == \
        pytest.approx([0.2, 0.4, 0.6])
    assert np.asarray(baseline.get_ydata()).tolist() == [0.0, 0.0, 0.0]
    assert baseline.get_linestyle() == '--'
    assert r2.get_xlabel() == 'T (epochs seen)'
    assert r2.get_xticks().tolist() == [1, 2, 3]


def test_bad_input():
    with pytest.raises(TypeError, match="'predictions' must be a pandas"):
        plot_confusion([1, 2])
    with pytest.raises(ValueError, match=r"lacks the column\(s\) "
                       r"\['bin_pred'\]"):
        plot_predicted_vs_true(_predictions().drop(columns='bin_pred'))
    with pytest.raises(ValueError, match="holds none of the feature sets"):
        plot_predicted_vs_true(_predictions(), subset='nope')
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['r2'\]"):
        plot_metric_vs_T(pd.DataFrame({'T': [1], 'subset': ['all'],
                                       'features': ['graph']}),
                         metrics=['r2'])
