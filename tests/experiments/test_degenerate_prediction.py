r"""A degenerate accuracy prediction warns (issue 20, point 6), a healthy
one does not, and the zoo's default recipe is one whose networks learn."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from pyg_dnnmod.experiments.final_accuracy import (
    MIN_PER_BIN,
    accuracy_prediction,
    cross_validate,
    degenerate_reasons,
    metric_vs_T,
)
from pyg_dnnmod.weights.dataset import WeightGraphDataset
from pyg_dnnmod.weights.zoo import ZooSpace, generate_zoo, zoo_spec

# The issue's zoo in miniature: ten half-width LeNets, two epochs on 64
# translated digits, so that none of them learns (a few seconds).
STUCK = dict(epochs=2, snapshot_epochs=1, max_train_samples=64,
             data='translated-digits',
             space=ZooSpace(architectures=['lenet5'], widths=[0.5]))

FEATURES = ['accuracy', 'hyperparameters', 'weight_statistics',
            'majority / mean']


@pytest.fixture(scope='module')
def stuck_zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp('stuck_zoo')
    generate_zoo(root, 10, **STUCK)
    return WeightGraphDataset(str(root))


def test_degenerate_reasons_by_hand():
    y = np.linspace(0.2, 0.9, 30)
    rng = np.random.default_rng(0)
    signal = pd.DataFrame({'x': y + rng.normal(0, 0.01, 30)})
    flat = pd.DataFrame({'x': np.ones(30)})
    pred = pd.concat([
        cross_validate(signal, y, 'linear', folds=2).assign(features='good'),
        cross_validate(flat, y, 'linear', folds=2).assign(features='flat'),
        cross_validate(None, y, folds=2).assign(features='majority / mean'),
    ])
    # 15 networks in a training fold: 5 per bin, just enough; only the
    # constant feature is flagged.
    assert degenerate_reasons(pred, num_bins=3, folds=2) == [
        "'flat' predicts one bin and one accuracy in every fold"]
    # In 5 bins, the 15 networks of a training fold are 3 per bin.
    assert degenerate_reasons(pred[pred['features'] == 'good'], num_bins=5,
                              folds=2) == [
        f'about 3 per bin in a training fold (30 networks, 2 '
        f'folds, 5 bins), fewer than {MIN_PER_BIN}']

    # Two thirds stuck at chance: the middle bin is empty, and every model
    # falls back to the majority bin.
    y = np.r_[np.full(20, 0.1), np.linspace(0.5, 0.9, 10)]
    both = pd.concat([
        cross_validate(flat, y, 'linear', folds=2).assign(features=name)
        for name in ('a', 'b')] + [
        cross_validate(None, y, folds=2).assign(features='majority / mean')])
    base = float((both['bin_true'] == both['bin_pred'])[
        both['features'] == 'majority / mean'].mean())
    assert base == pytest.approx(20 / 30)
    assert degenerate_reasons(both, num_bins=3, folds=2) == [
        '20 of the 30 networks share the final accuracy 0.100, which leaves '
        'bin 1 empty',
        "'a' and 'b' predict one bin and one accuracy in every fold",
        'every feature set scores the bin accuracy of the majority bin '
        '(0.667)']
    assert degenerate_reasons(both.iloc[:0]) == []


def test_the_issue_replayed_warns(stuck_zoo):
    acc = [float(d.y) for d in stuck_zoo]
    assert len(acc) == 10 and max(acc) < 0.15  # no network learned
    with pytest.warns(UserWarning, match='degenerate accuracy prediction') \
            as caught:
        metrics, _ = accuracy_prediction(stuck_zoo, 1, FEATURES, folds=5)
    assert len(caught) == 1
    # The symptom: every feature set scores exactly the majority baseline.
    scores = metrics.set_index('features')['bin_accuracy']
    assert metrics['subset'].tolist() == ['all'] * 4
    assert scores.nunique() == 1
    assert metrics['mae'].nunique() == 1
    reasons = metrics.attrs['degenerate']
    assert reasons == [
        "'all': about 2.7 per bin in a training fold (10 "
        "networks, 5 folds, 3 bins), fewer than 5",
        "'all': 'accuracy', 'hyperparameters' and 'weight_statistics' "
        "predict one bin and one accuracy in every fold",
        f"'all': every feature set scores the bin accuracy of the majority "
        f"bin ({scores['majority / mean']:.3f})",
        "only 0 of the 10 networks learned (final accuracy above 0.15, see "
        "'min_accuracy'), fewer than the 5 folds: the 'non-degenerate' "
        "subset is left out"]
    message = str(caught[0].message)
    assert message.startswith('degenerate accuracy prediction: ' +
                              '; '.join(reasons) + '. ')
    for advice in ('--num-networks', 'a recipe whose networks learn',
                   '--min-accuracy', '--bins', '--folds'):
        assert advice in message
    assert caught[0].filename == __file__  # stacklevel=2: the caller

    # metric_vs_T warns once, with the epochs each reason holds for.
    with pytest.warns(UserWarning, match=r"\(T=1\)") as caught:
        table = metric_vs_T(stuck_zoo, feature_sets=['accuracy'], folds=5)
    assert len(caught) == 1 and caught[0].filename == __file__
    assert table.attrs['degenerate'][0] == (
        "'all': about 2.7 per bin in a training fold (10 networks, "
        "5 folds, 3 bins), fewer than 5 (T=1)")


class _Population:
    r"""What :func:`accuracy_prediction` reads of a zoo, for a population
    made up without training: final accuracies, ten classes and the
    identity columns of the hyperparameters."""
    def __init__(self, y):
        self.items = [pd.Series({'y': v}) for v in y]
        self.num_classes = 10
        self.hparams = pd.DataFrame({'index': range(len(y)),
                                     'architecture': 'lenet5', 'width': 1.0})

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


def test_healthy_prediction_does_not_warn():
    rng = np.random.default_rng(0)
    y = rng.uniform(0.2, 0.95, 40)
    features = {'accuracy': pd.DataFrame({'test_acc': y + rng.normal(
        0, 0.02, 40)}), 'majority / mean': None}
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        metrics, _ = accuracy_prediction(
            _Population(y), 1, ['accuracy', 'majority / mean'], model='gbt',
            features=features)
    assert metrics.attrs['degenerate'] == []
    acc = metrics.iloc[0]
    assert acc['features'] == 'accuracy' and acc['n'] == 40
    assert acc['r2'] > 0.8
    assert acc['bin_accuracy'] > metrics.iloc[1]['bin_accuracy'] + 0.3


@pytest.mark.slow
def test_healthy_zoo_does_not_warn(tmp_path):
    # Twenty LeNets with momentum, three epochs on all the centred digits:
    # accuracies spread from chance to about 0.6.
    generate_zoo(tmp_path, 20, epochs=3, snapshot_epochs=2,
                 space=ZooSpace(architectures=['lenet5'], widths=[0.5],
                                optimizers=['momentum']))
    dataset = WeightGraphDataset(str(tmp_path))
    acc = np.array([float(d.y) for d in dataset])
    assert acc.min() < 0.15 and acc.max() > 0.5
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        metrics, _ = accuracy_prediction(
            dataset, 2, ['accuracy', 'majority / mean'], num_bins=2,
            folds=2, min_accuracy=0.0)
    assert metrics.attrs['degenerate'] == []
    # Weak, but information: the accuracy at epoch 2 ranks the networks.
    assert metrics.loc[0, 'bin_accuracy'] > metrics.loc[1, 'bin_accuracy']
    assert metrics.loc[0, 'kendall_tau'] > 0.3


@pytest.mark.slow
def test_predict_command_shows_the_warning(stuck_zoo, tmp_path, capsys):
    from pyg_dnnmod.cli import main
    out = tmp_path / 'out'
    argv = ['predict', '--zoo', stuck_zoo.root, '--T', '1', '--folds', '5',
            '--no-metric-vs-T', '--out', str(out), '--no-progress']
    with pytest.warns(UserWarning, match='degenerate accuracy prediction'):
        assert main(argv) == 0
    text = capsys.readouterr().out
    assert "warning: degenerate accuracy prediction: 'all': about 2.7 " \
        "per bin" in text
    # The warning follows the table it is about.
    assert text.index('majority / mean') < text.index('warning: ')
    with open(out / 'run.json') as f:
        record = json.load(f)
    assert record['degenerate'][-1].startswith('only 0 of the 10 networks '
                                               'learned')


def test_zoo_defaults_learn_and_refuse_old_zoos(tmp_path):
    from pyg_dnnmod.cli import build_parser
    spec = zoo_spec()
    assert spec['data'] == 'centred-digits'
    assert spec['space']['lr'] == [0.003, 0.1]
    # The command line's defaults are the library's.
    args = build_parser().parse_args(['zoo'])
    assert args.data == spec['data'] and args.lr == spec['space']['lr']

    # A zoo made with the old defaults is not extended with the new ones.
    old = dict(epochs=2, snapshot_epochs=1, max_train_samples=64)
    space = dict(architectures=['lenet5'], widths=[0.5])
    generate_zoo(tmp_path, 1, data='translated-digits',
                 space=ZooSpace(lr=(0.003, 0.3), **space), **old)
    with pytest.raises(ValueError, match=r"data='translated-digits' stored "
                                         r"vs 'centred-digits' now.*the "
                                         r"zoo's defaults changed.*--data "
                                         r"translated-digits --lr 0.003,0.3"):
        generate_zoo(tmp_path, 2, space=ZooSpace(**space), **old)
    summary = generate_zoo(tmp_path, 1, data='translated-digits',
                           space=ZooSpace(lr=(0.003, 0.3), **space), **old)
    assert summary['index'].tolist() == [0]
