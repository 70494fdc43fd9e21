import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import kendalltau

from pyg_dnnmod import names
from pyg_dnnmod.weights import DNNDynamicsDataset
from pyg_dnnmod.datasets.evaluator import EVALUATOR_METRICS
from pyg_dnnmod.experiments import (
    BASELINES,
    benchmark_features,
    leaderboard,
    leaderboard_markdown,
    predict_baseline,
    run_benchmark,
)
from pyg_dnnmod.plotting import plot_benchmark
from pyg_dnnmod.weights.zoo import tiny_zoo

#: The zoo of the benchmark tests (see test_dnn_dynamics_dataset.py),
#: shared by the session: a resumed zoo trains nothing.
ZOO = dict(num_networks=12, widths=(0.5, 1.0), seed=3)
#: A short GCN-GRU budget for the tests.
QUICK = dict(epochs=20)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tiny_zoo(tmp_path_factory.getbasetemp() / 'benchmark-zoo', **ZOO)
    return DNNDynamicsDataset(root, T=1, narrow_max=0.5)


@pytest.fixture(scope='module')
def features(dataset):
    return benchmark_features(dataset)


@pytest.fixture(scope='module')
def results(dataset):
    return run_benchmark(dataset, seeds=[0, 1], gcn_gru=QUICK)


def by_hand(y, p, edges):
    r"""The Evaluator's four metrics, written out."""
    y, p = np.asarray(y), np.asarray(p)
    spread = ((y - y.mean()) ** 2).sum()
    r2 = 1 - ((y - p) ** 2).sum() / spread if spread > 0 else math.nan
    tau = kendalltau(y, p).statistic
    bins = [np.searchsorted(edges, v, side='right') for v in (y, p)]
    top = math.ceil(0.1 * len(y))
    best = [set(np.argsort(-v, kind='stable')[:top]) for v in (y, p)]
    return dict(r2=r2, kendall_tau=tau,
                bin_accuracy=float((bins[0] == bins[1]).mean()),
                top_recall=len(best[0] & best[1]) / top)


def test_features(dataset, features):
    assert BASELINES == names.BENCHMARK_BASELINES
    assert list(features) == list(BASELINES)
    assert features['mean'] is None
    for name in ('hyperparameters', 'weight_statistics', 'graph_statistics'):
        assert len(features[name]) == 12
    assert len(features['gcn_gru']) == 12
    assert features['gcn_gru'][4].x.shape == dataset[4].x.shape


def test_rows_are_the_evaluators_scores(dataset, features, results):
    assert results[['baseline', 'split', 'seed']].values.tolist() == [
        [b, s, seed] for s in ('seed', 'width') for seed in (0, 1)
        for b in BASELINES]
    edges = np.asarray(dataset.bin_edges)
    y = np.array([float(d.y) for d in dataset])
    for baseline in BASELINES:
        for split in ('seed', 'width'):
            pred = predict_baseline(dataset, baseline, split, 1, features,
                                    QUICK)
            parts = dataset.get_idx_split(split, 1)
            assert pred['item'].tolist() == parts['valid'].tolist() + \
                parts['test'].tolist()
            assert pred['y_true'].tolist() == y[pred['item']].tolist()
            assert pred['bin_true'].tolist() == [
                int(dataset[i].y_bin) for i in pred['item']]
            row = results[(results['baseline'] == baseline)
                          & (results['split'] == split)
                          & (results['seed'] == 1)].iloc[0]
            assert (row['n_train'], row['n_valid'], row['n_test']) == tuple(
                len(parts[p]) for p in ('train', 'valid', 'test'))
            for part, prefix in (('test', ''), ('valid', 'valid_')):
                sel = pred[pred['part'] == part]
                expected = by_hand(sel['y_true'], sel['y_pred'], edges)
                for metric in EVALUATOR_METRICS:
                    assert row[prefix + metric] == pytest.approx(
                        expected[metric], nan_ok=True), (baseline, split,
                                                         part, metric)


def test_mean_baseline_predicts_the_train_mean(dataset):
    pred = predict_baseline(dataset, 'mean', 'width', 0)
    train = dataset.get_idx_split('width', 0)['train']
    mean = np.mean([float(dataset[i].y) for i in train])
    assert pred['y_pred'].to_numpy() == pytest.approx(mean, abs=1e-15)
    # Narrow networks train, wide ones are tested.
    assert pred.loc[pred['part'] == 'test', 'width'].min() == 1.0
    assert pred.loc[pred['part'] == 'valid', 'width'].max() == 0.5


def test_gcn_gru_is_repeatable_on_any_thread_count(dataset, features):
    first = predict_baseline(dataset, 'gcn_gru', 'seed', 0, features, QUICK)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        again = predict_baseline(dataset, 'gcn_gru', 'seed', 0, features,
                                 QUICK)
    finally:
        torch.set_num_threads(old)
    assert first['y_pred'].tolist() == again['y_pred'].tolist()
    other = predict_baseline(dataset, 'gcn_gru', 'seed', 1, features, QUICK)
    assert other['item'].tolist() != first['item'].tolist()


def test_leaderboard_by_hand(results):
    board = leaderboard(results)
    assert board[['split', 'baseline']].values.tolist() == [
        [s, b] for s in ('seed', 'width') for b in BASELINES]
    row = board[(board['baseline'] == 'gcn_gru')
                & (board['split'] == 'width')].iloc[0]
    values = results[(results['baseline'] == 'gcn_gru')
                     & (results['split'] == 'width')]['r2'].to_numpy()
    assert row['seeds'] == 2
    assert row['r2_mean'] == pytest.approx((values[0] + values[1]) / 2)
    assert row['r2_std'] == pytest.approx(abs(values[0] - values[1]) / 2)
    # A constant prediction has no Kendall tau.
    mean_row = board[board['baseline'] == 'mean'].iloc[0]
    assert math.isnan(mean_row['kendall_tau_mean'])

    text = leaderboard_markdown(board)
    lines = text.splitlines()
    assert len(lines) == 2 + 10
    assert lines[0] == ('| split | baseline | train / test | R² | Kendall τ '
                        '| bin accuracy | top-10 % recall |')
    cells = lines[2 + 4].split(' | ')  # seed split, GCN-GRU
    assert cells[1] == 'GCN-GRU on the dynamic graph'
    seed_row = board.iloc[4]
    assert cells[3] == (f"{seed_row['r2_mean']:.3f} ± "
                        f"{seed_row['r2_std']:.3f}")
    assert ' n/a ' in lines[2]  # the mean's Kendall tau


def test_plot_benchmark(results, tmp_path):
    from pyg_dnnmod.plotting import save_figure
    board = leaderboard(results)
    fig = plot_benchmark(results)
    assert [ax.get_title() for ax in fig.axes] == [
        '$R^2$', "Kendall's $\\tau$", 'bin accuracy', 'top-10 % recall']
    heights = [p.get_height() for p in fig.axes[2].patches]
    # Bars by split, then baseline: the mean bin accuracy over seeds.
    expected = board.sort_values('split', kind='stable')[
        'bin_accuracy_mean'].tolist()
    assert heights == pytest.approx(expected)
    assert '$\\pm 1$ std over seeds' in fig.get_suptitle()
    assert save_figure(fig, tmp_path / 'b.png').read_bytes()[1:4] == b'PNG'


def test_bad_input(dataset):
    with pytest.raises(ValueError, match=r"'splits' holds 'depth'; choose "
                                         r"from \('seed', 'width'\)"):
        run_benchmark(dataset, ['depth'])
    with pytest.raises(ValueError, match="'baselines' holds 'knn'"):
        run_benchmark(dataset, baselines=['knn'])
    with pytest.raises(ValueError, match="'seeds' must be a non-empty "
                                         "sequence of integers >= 0"):
        run_benchmark(dataset, seeds=[])
    with pytest.raises(ValueError, match="'seeds' must be"):
        run_benchmark(dataset, seeds=[-1])
    with pytest.raises(TypeError, match="'dataset' must be a "
                                        "DNNDynamicsDataset"):
        predict_baseline(dataset.weight_graphs, 'mean')
    with pytest.raises(ValueError, match=r"'gcn_gru' holds unknown "
                                         r"settings \['layers'\]"):
        predict_baseline(dataset, 'gcn_gru', gcn_gru=dict(layers=2))
    with pytest.raises(ValueError, match="'results' must be the non-empty "
                                         "rows of run_benchmark"):
        leaderboard(pd.DataFrame())
