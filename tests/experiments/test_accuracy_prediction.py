import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from pyg_dnnmod.experiments.final_accuracy import (
    FEATURE_SETS,
    _early_stop,
    accuracy_features,
    accuracy_prediction,
    cross_validate,
    feature_table,
    hyperparameter_features,
    non_degenerate,
    parameter_statistics,
    prediction_metrics,
    quantile_bins,
    time_savings,
    weight_statistics_features,
    width_transfer,
)
from pyg_dnnmod.weights.dataset import WeightGraphDataset
from pyg_dnnmod.weights.zoo import ZooSpace, generate_zoo, zoo_model

# Six LeNets of two widths (seed 1 draws both among the first six).
TINY = dict(epochs=3, snapshot_epochs=2, max_train_samples=96, seed=1,
            space=ZooSpace(architectures=['lenet5'], widths=[0.5, 1.0],
                           lr=(0.01, 0.2)))


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('zoo')
    generate_zoo(root, 6, **TINY)
    return WeightGraphDataset(str(root))


def test_parameter_statistics_by_hand():
    torch.manual_seed(0)
    model = zoo_model('lenet5', 0.5)
    state = model.state_dict()
    stats = parameter_statistics(state)
    names = ['conv1', 'conv2', 'fc-3', 'fc-2', 'fc-1']
    modules = ['features.0', 'features.3', 'classifier.0', 'classifier.3',
               'classifier.6']
    assert len(stats) == len(names) * 2 * 7
    for name, module in zip(names, modules):
        for part, key in (('kernel', 'weight'), ('bias', 'bias')):
            v = state[f'{module}.{key}'].double().flatten().numpy()
            s = np.sort(v)
            # Linear-interpolation percentile, by hand.
            for q in (0, 25, 50, 75, 100):
                pos = q / 100 * (len(s) - 1)
                lo, hi = int(math.floor(pos)), int(math.ceil(pos))
                want = s[lo] + (s[hi] - s[lo]) * (pos - lo)
                assert stats[f'{name}/{part}/p{q}'] == pytest.approx(want)
            assert stats[f'{name}/{part}/mean'] == pytest.approx(v.mean())
            assert stats[f'{name}/{part}/std'] == pytest.approx(
                math.sqrt(((v - v.mean())**2).mean()))
    nobias = torch.nn.Linear(3, 2, bias=False).state_dict()
    stats = parameter_statistics(nobias)
    assert math.isnan(stats['fc-1/bias/mean'])
    with pytest.raises(TypeError, match="'state_dict' must be a mapping"):
        parameter_statistics([1, 2])


def test_quantile_bins_rule():
    # Edges of [0, 1, 2, 3] in 2 bins: the median, 1.5.
    bins, edges = quantile_bins([0, 1, 2, 3], 2)
    assert edges.tolist() == [1.5] and bins.tolist() == [0, 0, 1, 1]
    # A value equal to an edge goes down; values outside the reference
    # range go to the end bins.
    bins, edges = quantile_bins([-5, 1.5, 1.51, 9], 2, reference=[0, 1, 2, 3])
    assert bins.tolist() == [0, 0, 1, 1]
    # Ties: many equal values give equal edges and an empty middle bin;
    # the tied mass stays in the lowest bin.
    bins, edges = quantile_bins([0.1] * 5 + [0.5], 3)
    assert edges.tolist() == [0.1, 0.1] and bins.tolist() == [0] * 5 + [2]
    with pytest.raises(ValueError, match="'num_bins' must be an integer >= 2"):
        quantile_bins([0.1], 1)


def test_prediction_metrics_by_hand():
    y = np.array([0.2, 0.4, 0.6, 0.8])
    p = np.array([0.3, 0.3, 0.7, 0.6])
    pred = pd.DataFrame(dict(y_true=y, y_pred=p, bin_true=[0, 0, 1, 1],
                             bin_pred=[0, 1, 1, 1]))
    m = prediction_metrics(pred)
    ss_res = ((y - p)**2).sum()
    ss_tot = ((y - y.mean())**2).sum()
    assert m['n'] == 4 and m['bin_accuracy'] == 0.75
    assert m['r2'] == pytest.approx(1 - ss_res / ss_tot)
    assert m['mae'] == pytest.approx(np.abs(y - p).mean())
    # Kendall tau-b by counting pairs: 6 pairs, p ties on (0, 1).
    conc = disc = tie_p = 0
    for i, j in itertools.combinations(range(4), 2):
        s = np.sign(y[i] - y[j]) * np.sign(p[i] - p[j])
        conc += s > 0
        disc += s < 0
        tie_p += p[i] == p[j]
    tau = (conc - disc) / math.sqrt(6 * (6 - tie_p))
    assert m['kendall_tau'] == pytest.approx(tau)


def test_cross_validate_baseline_and_perfect_signal():
    from sklearn.model_selection import KFold
    rng = np.random.default_rng(0)
    y = rng.uniform(0.1, 0.9, 30)
    mean_pred = cross_validate(None, y, folds=5, seed=3)
    # Independently: the training folds' mean and majority bin.
    for train, test in KFold(5, shuffle=True, random_state=3).split(y):
        np.testing.assert_allclose(mean_pred.loc[test, 'y_pred'],
                                   y[train].mean())
        edges = np.quantile(y[train], [1 / 3, 2 / 3])
        train_bins = np.searchsorted(edges, y[train], side='left')
        assert (mean_pred.loc[test, 'bin_pred'] ==
                np.bincount(train_bins).argmax()).all()
        assert mean_pred.loc[test, 'bin_true'].tolist() == \
            np.searchsorted(edges, y[test], side='left').tolist()
    x = pd.DataFrame({'signal': y, 'noise': rng.normal(size=30)})
    linear = prediction_metrics(cross_validate(x, y, 'linear', folds=5))
    assert linear['r2'] > 0.999 and linear['kendall_tau'] > 0.99
    gbt = prediction_metrics(cross_validate(x, y, 'gbt', folds=5))
    assert gbt['bin_accuracy'] >= 0.8 and gbt['r2'] > 0.8
    base = prediction_metrics(mean_pred)
    assert base['r2'] < 0 and gbt['mae'] < base['mae'] / 2
    forest = prediction_metrics(cross_validate(x, y, 'forest', folds=3))
    assert forest['r2'] > 0.8
    # NaN and inf features, and a column with no value in a fold, are fine.
    x['gap'] = np.where(np.arange(30) < 3, 1.0, np.nan)
    x.loc[5, 'signal'] = np.inf
    assert prediction_metrics(cross_validate(x, y, folds=5))['r2'] > 0.5


def test_cross_validate_rejects_bad_input():
    y = np.linspace(0, 1, 10)
    with pytest.raises(ValueError, match="'model' must be one of"):
        cross_validate(None, y, model='svm')
    with pytest.raises(ValueError, match=r"'folds' must be an integer in "
                                         r"\[2, 10\]"):
        cross_validate(None, y, folds=11)
    with pytest.raises(ValueError, match="'features' has 3 rows but"):
        cross_validate(pd.DataFrame({'a': [1, 2, 3]}), y)
    with pytest.raises(ValueError, match="finite accuracies"):
        cross_validate(None, [0.1, np.nan, 0.3], folds=2)


def test_early_stop_by_hand():
    # Epoch 0 is never "best": stopping counts from epoch 1.
    acc = np.array([0.1, 0.3, 0.5, 0.4, 0.45, 0.5, 0.9])
    assert _early_stop(acc, patience=3) == (5, 0.5)
    assert _early_stop(acc, patience=5) == (6, 0.9)
    assert _early_stop(np.array([0.1, 0.2, 0.3]), patience=1) == (2, 0.3)


def test_features_of_the_zoo(dataset):
    hp = dataset.hparams
    acc = accuracy_features(dataset, 2)
    assert acc['test_acc'].tolist() == [float(d.test_acc[0, 2])
                                        for d in dataset]
    h = hyperparameter_features(dataset)
    np.testing.assert_allclose(h['log10_lr'], np.log10(hp['lr']))
    assert h['architecture=lenet5'].tolist() == [1.0] * 6
    assert 'seed' not in h.columns
    w = weight_statistics_features(dataset, 1)
    for i in range(6):
        ref = parameter_statistics(dataset.record(i)['state_dicts'][1])
        assert w.loc[i, ref.index].tolist() == ref.tolist()
    table = feature_table(dataset, 2)
    assert list(table) == list(FEATURE_SETS)
    assert table['majority / mean'] is None
    assert table['combined'].shape[1] == sum(
        table[k].shape[1] for k in ('graph', 'accuracy', 'hyperparameters',
                                    'weight_statistics'))
    # 6 layers and 'all', 2 statistics, 5 summaries, epochs 1-2, values and
    # differences.
    assert table['graph'].shape[1] == 7 * 2 * 5 * 2 * 2
    with pytest.raises(ValueError, match="unknown feature set 'graphs'"):
        feature_table(dataset, 2, ['graphs'])
    with pytest.raises(ValueError, match=r"'T' must be an integer in "
                                         r"\[1, 2\]"):
        accuracy_features(dataset, 3)


def test_accuracy_prediction_tables(dataset):
    metrics, predictions = accuracy_prediction(
        dataset, 2, ['accuracy', 'majority / mean'], folds=2,
        min_accuracy=0.0)
    assert metrics['subset'].tolist() == ['all'] * 2 + ['non-degenerate'] * 2
    assert metrics['n'].tolist() == [6] * 4
    assert len(predictions) == 4 * 6
    sel = predictions[(predictions['subset'] == 'all')
                      & (predictions['features'] == 'majority / mean')]
    assert prediction_metrics(sel) == pytest.approx(
        metrics.iloc[1][['n', 'bin_accuracy', 'r2', 'mae',
                         'kendall_tau']].to_dict(), nan_ok=True)
    assert (sel['repeat'] == 0).all()
    assert sel['y_true'].tolist() == [float(d.y) for d in dataset]
    assert metrics['r2_std'].isna().all()
    # Repeats: new folds per repeat, mean and std over them.
    again, pred = accuracy_prediction(dataset, 2, ['accuracy'], folds=2,
                                      repeats=3, min_accuracy=0.0)
    assert sorted(set(pred['repeat'])) == [0, 1, 2]
    per = [prediction_metrics(pred[(pred['subset'] == 'all')
                                   & (pred['repeat'] == r)])['mae']
           for r in range(3)]
    assert again.loc[0, 'mae'] == pytest.approx(np.mean(per))
    assert again.loc[0, 'mae_std'] == pytest.approx(np.std(per))
    with pytest.raises(ValueError, match="'repeats' must be an integer"):
        accuracy_prediction(dataset, 2, ['accuracy'], repeats=0)
    mask = non_degenerate(dataset, 0.5)
    assert mask.tolist() == [float(d.y) > 0.5 for d in dataset]
    default = non_degenerate(dataset)
    assert default.tolist() == [float(d.y) > 0.15 for d in dataset]


def test_width_transfer_and_time(dataset):
    widths = dataset.hparams['width']
    assert set(widths) == {0.5, 1.0}
    table = width_transfer(dataset, 2, narrow_max=0.5,
                           feature_sets=['accuracy', 'majority / mean'])
    assert table['n_train'].tolist() == [int((widths <= 0.5).sum())] * 2
    assert table['n'].tolist() == [int((widths > 0.5).sum())] * 2
    with pytest.raises(ValueError, match="leaves 6 narrow and 0 wide"):
        width_transfer(dataset, 2, narrow_max=1.0)

    saved = time_savings(dataset, 2, patience=1)
    full = np.mean([d.seconds.sum().item() for d in dataset])
    assert saved.loc[0, 'seconds'] == pytest.approx(full)
    stops = [_early_stop(d.test_acc[0].numpy(), 1) for d in dataset]
    assert saved.loc[1, 'epochs'] == pytest.approx(
        np.mean([s for s, _ in stops]))
    assert saved.loc[1, 'mae'] == pytest.approx(np.mean(
        [abs(b - float(d.y)) for (_, b), d in zip(stops, dataset)]))
    agg = dataset.epoch_aggregates()
    predict = np.mean([d.seconds[0, :3].sum().item() +
                       agg.loc[i].loc[0:2, 'seconds'].sum()
                       for i, d in enumerate(dataset)])
    assert saved.loc[2, 'seconds'] == pytest.approx(predict)
    assert saved.loc[2, 'saved_vs_full'] == pytest.approx(1 - predict / full)
    with pytest.raises(ValueError, match="'patience' must be an integer"):
        time_savings(dataset, 2, patience=0)


@pytest.mark.slow
def test_predict_command(dataset, tmp_path, capsys):
    from PIL import Image

    from pyg_dnnmod.cli import main
    out = tmp_path / 'out'
    argv = ['predict', '--zoo', dataset.root, '--T', '2', '--folds', '2',
            '--narrow-max', '0.5', '--out', str(out), '--no-progress']
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert '6 networks' in text and 'majority / mean' in text
    names = sorted(p.name for p in out.iterdir())
    assert names == ['confusion.png', 'metric_vs_T.csv', 'metric_vs_T.png',
                     'metrics.csv', 'predicted_vs_true.png',
                     'predictions.csv', 'run.json', 'time_saved.csv',
                     'transfer.csv']
    metrics = pd.read_csv(out / 'metrics.csv')
    assert set(metrics['features']) == set(FEATURE_SETS)
    by_T = pd.read_csv(out / 'metric_vs_T.csv')
    assert sorted(set(by_T['T'])) == [1, 2]
    for name in ('confusion.png', 'metric_vs_T.png', 'predicted_vs_true.png'):
        with Image.open(out / name) as image:
            assert image.size[0] > 300 and image.size[1] > 200
    with open(out / 'run.json') as f:
        record = json.load(f)
    assert record['command'] == 'predict' and record['networks'] == 6
    assert 'quantiles' in record['bin_rule']

    assert main(argv) == 2  # the folder exists
    assert 'already exists' in capsys.readouterr().err
    assert main(argv[:3] + ['--T', '3']) == 2
    assert '--T 3 is more than the 2 epochs' in capsys.readouterr().err
    assert main(['predict', '--zoo', str(tmp_path / 'none')]) == 2
    assert 'holds no zoo' in capsys.readouterr().err
