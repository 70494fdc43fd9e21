r"""Predicting a network's final accuracy from its first training epochs.

Vahedian et al. (2021, `"Convolutional Neural Network Dynamics: A Graph
Perspective" <https://arxiv.org/abs/2111.05410>`_) summarise the weight
graphs of the first :math:`T` epochs (see
:func:`~pyg_dnnmod.weights.temporal_summary`) and predict which quantile bin
the final accuracy falls in. This experiment does that and the regression
(:math:`R^2`, MAE, Kendall's :math:`\tau`), cross-validated, beside
graph-free baselines computed on the same :math:`T` epochs: the test accuracy
and loss at epoch :math:`T`, the hyperparameters, and per-layer weight
statistics as in Unterthiner et al. (2020, `"Predicting Neural Network
Accuracy from Weights" <https://arxiv.org/abs/2002.11448>`_); the graph
features and all baselines combined; and the majority-class and mean
predictors. :func:`width_transfer` trains on narrow networks and tests on
wide ones, and :func:`time_savings` compares the cost of predicting at epoch
:math:`T` with training to completion and with patience-based early
stopping.

The features live in
:mod:`~pyg_dnnmod.experiments.final_accuracy_features`, the predictors
and metrics in :mod:`~pyg_dnnmod.experiments.final_accuracy_cv`; both
are importable from here. The figures are
:func:`~pyg_dnnmod.plotting.plot_predicted_vs_true`,
:func:`~pyg_dnnmod.plotting.plot_confusion` and
:func:`~pyg_dnnmod.plotting.plot_metric_vs_T`.
"""
import math
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from pyg_dnnmod.experiments.final_accuracy_cv import (
    _METRICS,
    MIN_PER_BIN,
    MODELS,
    _clean,
    _predict,
    cross_validate,
    degenerate_reasons,
    prediction_metrics,
    quantile_bins,
)
from pyg_dnnmod.experiments.final_accuracy_features import (
    FEATURE_SETS,
    _check_T,
    accuracy_features,
    feature_table,
    graph_features,
    hyperparameter_features,
    parameter_statistics,
    weight_statistics_features,
)
from pyg_dnnmod.weights.dataset import SUMMARY_STATISTICS, WeightGraphDataset

__all__ = [
    'FEATURE_SETS',
    'MODELS',
    'parameter_statistics',
    'graph_features',
    'accuracy_features',
    'hyperparameter_features',
    'weight_statistics_features',
    'feature_table',
    'quantile_bins',
    'cross_validate',
    'prediction_metrics',
    'MIN_PER_BIN',
    'degenerate_reasons',
    'degenerate_message',
    'non_degenerate',
    'accuracy_prediction',
    'width_transfer',
    'time_savings',
    'metric_vs_T',
]


def non_degenerate(dataset: WeightGraphDataset,
                   min_accuracy: Optional[float] = None) -> np.ndarray:
    r"""Which networks learned: a final test accuracy above
    :obj:`min_accuracy`, by default chance plus 5 points
    (:math:`1 / C + 0.05`, 0.15 for ten classes).

    Args:
        dataset (WeightGraphDataset): The zoo's weight graphs.
        min_accuracy (float, optional): The threshold.
            (default: :obj:`None`, chance plus 5 points)

    Returns:
        numpy.ndarray: A boolean mask over the items.

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = WeightGraphDataset(tiny_zoo(num_networks=2))
        >>> non_degenerate(dataset, min_accuracy=0.0)
        array([ True,  True])
    """
    if min_accuracy is None:
        min_accuracy = 1.0 / dataset.num_classes + 0.05
    y = np.array([float(d.y) for d in dataset])
    return y > min_accuracy


def accuracy_prediction(dataset: WeightGraphDataset, T: int = 3,
                        feature_sets: Sequence[str] = FEATURE_SETS,
                        model: str = 'gbt', num_bins: int = 3,
                        folds: int = 5, seed: int = 0, repeats: int = 1,
                        min_accuracy: Optional[float] = None,
                        statistics: Sequence[str] = SUMMARY_STATISTICS,
                        features: Optional[Dict[str, Any]] = None,
                        progress: bool = False
                        ) -> Tuple[pd.DataFrame, pd.DataFrame]:
    r"""Cross-validated prediction of the final accuracy from the first
    :obj:`T` epochs with every feature set, on all networks and on the
    non-degenerate ones (see :func:`non_degenerate`; the folds and bins
    are drawn within each subset).

    A prediction that says nothing about the features warns
    (:class:`UserWarning`, one per call, listing the reasons): a subset
    left out because fewer networks than :obj:`folds` learned, or any
    reason of :func:`degenerate_reasons` (too few networks per bin, ties
    that empty a bin, a feature set that predicts a constant, every feature
    set at the majority bin's score). The reasons are also in
    :obj:`metrics.attrs['degenerate']`.

    Args:
        dataset (WeightGraphDataset): The population.
        T (int, optional): The number of epochs seen. (default: :obj:`3`)
        feature_sets (Sequence[str], optional): See :data:`FEATURE_SETS`.
            (default: all)
        model (str, optional): See :func:`cross_validate`.
            (default: :obj:`'gbt'`)
        num_bins (int, optional): The number of quantile bins.
            (default: :obj:`3`)
        folds (int, optional): The number of folds. (default: :obj:`5`)
        seed (int, optional): The seed. (default: :obj:`0`)
        repeats (int, optional): Repeat the cross-validation with seeds
            :obj:`seed + r` (new folds and models) and report the mean and
            the standard deviation over repeats. (default: :obj:`1`)
        min_accuracy (float, optional): The threshold of
            :func:`non_degenerate`. (default: :obj:`None`)
        statistics (Sequence[str], optional): The node statistics of the
            graph features. (default: weighted degree and eigenvector
            centrality)
        features (dict, optional): Precomputed :func:`feature_table`.
            (default: :obj:`None`)
        progress (bool, optional): Show progress. (default: :obj:`False`)

    Returns:
        (pandas.DataFrame, pandas.DataFrame): The metrics, one row per
        (subset, feature set) with :obj:`n`, :obj:`bin_accuracy`,
        :obj:`r2`, :obj:`mae` and :obj:`kendall_tau` (means over repeats)
        and their standard deviations over repeats (:obj:`*_std`, NaN for
        one repeat), with the list of reasons the prediction is degenerate
        in :obj:`attrs['degenerate']` (empty when it is not); and the
        out-of-fold predictions, one row per (subset, feature set, repeat,
        network).

    Example:
        >>> import warnings
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = WeightGraphDataset(tiny_zoo(num_networks=4))
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter('always')
        ...     metrics, predictions = accuracy_prediction(
        ...         dataset, T=1, feature_sets=['accuracy', 'majority / mean'],
        ...         folds=2, min_accuracy=0.0)
        >>> metrics[['subset', 'features', 'n']].values.tolist()
        ... # doctest: +NORMALIZE_WHITESPACE
        [['all', 'accuracy', 4], ['all', 'majority / mean', 4],
         ['non-degenerate', 'accuracy', 4],
         ['non-degenerate', 'majority / mean', 4]]
        >>> len(predictions)  # 2 subsets x 2 feature sets x 4 networks
        16
        >>> print(caught[0].message)  # four networks are far too few
        ... # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
        degenerate accuracy prediction: 'all': about 0.67 per bin
        in a training fold (4 networks, 2 folds, 3 bins), fewer than 5; ...
    """
    metrics, predictions, reasons = _accuracy_prediction(
        dataset, T, feature_sets, model, num_bins, folds, seed, repeats,
        min_accuracy, statistics, features, progress)
    if reasons:
        warnings.warn(degenerate_message(reasons), UserWarning,
                      stacklevel=2)
    return metrics, predictions


def degenerate_message(reasons: Sequence[str]) -> str:
    r"""The warning of a degenerate prediction with these reasons (see
    :func:`accuracy_prediction`): what is degenerate and what to do.

    Example:
        >>> print(degenerate_message(["'all': 'graph' predicts one bin in "
        ...                           "every fold"]))
        ... # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
        degenerate accuracy prediction: 'all': 'graph' predicts one bin in
        every fold. These scores say little or nothing about the features:
        train more networks (pyg-dnnmod zoo --num-networks), ...
    """
    return (f"degenerate accuracy prediction: {'; '.join(reasons)}. These "
            f"scores say little or nothing about the features: train more "
            f"networks "
            f"(pyg-dnnmod zoo --num-networks), at least {MIN_PER_BIN} per "
            f"bin in a training fold, with a recipe whose networks learn "
            f"(most final accuracies well above chance: see the zoo's "
            f"zoo.csv), or lower 'min_accuracy' (--min-accuracy), "
            f"'num_bins' (--bins) or 'folds' (--folds)")


def _accuracy_prediction(dataset: WeightGraphDataset, T: int,
                         feature_sets: Sequence[str], model: str,
                         num_bins: int, folds: int, seed: int, repeats: int,
                         min_accuracy: Optional[float],
                         statistics: Sequence[str],
                         features: Optional[Dict[str, Any]],
                         progress: bool
                         ) -> Tuple[pd.DataFrame, pd.DataFrame, List[str]]:
    r""":func:`accuracy_prediction` without the warning: the metrics, the
    predictions and the reasons the prediction is degenerate."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or \
            repeats < 1:
        raise ValueError(f"'repeats' must be an integer >= 1 "
                         f"(got {repeats!r})")
    if isinstance(folds, bool) or not isinstance(folds, int) or \
            not 2 <= folds <= len(dataset):
        raise ValueError(f"'folds' must be an integer in [2, "
                         f"{len(dataset)}] (the number of networks; got "
                         f"{folds!r})")
    if features is None:
        features = feature_table(dataset, T, feature_sets, statistics,
                                 progress)
    y = np.array([float(d.y) for d in dataset])
    mask = non_degenerate(dataset, min_accuracy)
    hp = dataset.hparams
    rows, predictions, reasons = [], [], []
    for subset, keep in (('all', np.ones_like(mask)),
                         ('non-degenerate', mask)):
        idx = np.flatnonzero(keep)
        if len(idx) < folds:
            threshold = 1.0 / dataset.num_classes + 0.05 \
                if min_accuracy is None else min_accuracy
            reasons.append(f"only {len(idx)} of the {len(y)} networks "
                           f"learned (final accuracy above {threshold:.3g}, "
                           f"see 'min_accuracy'), fewer than the {folds} "
                           f"folds: the {subset!r} subset is left out")
            continue
        first = len(predictions)
        for name in feature_sets:
            x = features[name]
            x = None if x is None else x.iloc[idx].reset_index(drop=True)
            scores = []
            for repeat in range(repeats):
                pred = cross_validate(x, y[idx], model, num_bins, folds,
                                      seed + repeat)
                scores.append(prediction_metrics(pred))
                pred.insert(0, 'item', idx)
                pred.insert(0, 'repeat', repeat)
                pred.insert(0, 'features', name)
                pred.insert(0, 'subset', subset)
                pred['net_index'] = hp['index'].to_numpy()[idx]
                pred['architecture'] = hp['architecture'].to_numpy()[idx]
                pred['width'] = hp['width'].to_numpy()[idx]
                predictions.append(pred)
            table = pd.DataFrame(scores)
            row = dict(subset=subset, features=name, n=len(idx))
            for metric in _METRICS:
                row[metric] = float(table[metric].mean())
            for metric in _METRICS:
                row[f'{metric}_std'] = float(table[metric].std(ddof=0)) \
                    if repeats > 1 else math.nan
            rows.append(row)
        if len(predictions) > first:
            reasons += [f'{subset!r}: {reason}' for reason in
                        degenerate_reasons(pd.concat(predictions[first:]),
                                           num_bins, folds)]
    metrics = pd.DataFrame(rows)
    metrics.attrs['degenerate'] = reasons
    return metrics, pd.concat(predictions, ignore_index=True), reasons


def width_transfer(dataset: WeightGraphDataset, T: int = 3,
                   narrow_max: float = 1.0,
                   feature_sets: Sequence[str] = FEATURE_SETS,
                   model: str = 'gbt', num_bins: int = 3, seed: int = 0,
                   features: Optional[Dict[str, Any]] = None,
                   statistics: Sequence[str] = SUMMARY_STATISTICS
                   ) -> pd.DataFrame:
    r"""Trains the predictors on the narrow networks (width at most
    :obj:`narrow_max`) and tests them on the wide ones.

    The bin edges are the quantiles of the narrow networks' accuracies
    (the rule of :func:`quantile_bins`), so a shift of the accuracy
    distribution with width shows up as lost bin accuracy; the
    majority / mean predictor is the narrow networks' majority bin and
    mean.

    Args:
        dataset (WeightGraphDataset): The population.
        narrow_max (float, optional): The widest width trained on.
            (default: :obj:`1.0`)
        seed (int, optional): The seed of the models. (default: :obj:`0`)
        T, feature_sets, model, num_bins, features, statistics: As in
            :func:`accuracy_prediction`.

    Returns:
        pandas.DataFrame: One row per feature set, with :obj:`n_train`
        and the metrics of :func:`prediction_metrics` on the wide
        networks.

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> root = tiny_zoo(num_networks=6, widths=[0.5, 1.0], seed=1)
        >>> dataset = WeightGraphDataset(root)
        >>> table = width_transfer(dataset, T=1, narrow_max=0.5,
        ...                        feature_sets=['majority / mean'])
        >>> int(table.loc[0, 'n_train'] + table.loc[0, 'n'])
        6
    """
    if features is None:
        features = feature_table(dataset, T, feature_sets, statistics)
    y = np.array([float(d.y) for d in dataset])
    width = dataset.hparams['width'].to_numpy(dtype=float)
    train, test = width <= narrow_max, width > narrow_max
    if train.sum() < 2 or test.sum() < 1:
        raise ValueError(f"'narrow_max'={narrow_max} leaves "
                         f"{int(train.sum())} narrow and {int(test.sum())} "
                         f"wide networks (widths: "
                         f"{sorted(set(width.tolist()))})")
    train_bins, _ = quantile_bins(y[train], num_bins)
    test_bins, _ = quantile_bins(y[test], num_bins, reference=y[train])
    rows = []
    for name in feature_sets:
        x = features[name]
        bin_pred, y_pred = _predict(None if x is None else _clean(x), y,
                                    train, test, train_bins, model,
                                    num_bins, seed)
        pred = pd.DataFrame(dict(y_true=y[test], y_pred=y_pred,
                                 bin_true=test_bins, bin_pred=bin_pred))
        rows.append(dict(features=name, n_train=int(train.sum()),
                         **prediction_metrics(pred)))
    return pd.DataFrame(rows)


def _early_stop(test_acc: np.ndarray, patience: int) -> Tuple[int, float]:
    r"""The epoch patience-based early stopping ends at and the best test
    accuracy seen by then (epochs from 1)."""
    best, best_epoch = -math.inf, 0
    last = len(test_acc) - 1
    for epoch in range(1, last + 1):
        if test_acc[epoch] > best:
            best, best_epoch = test_acc[epoch], epoch
        elif epoch - best_epoch >= patience:
            return epoch, best
    return last, best


def time_savings(dataset: WeightGraphDataset, T: int = 3,
                 patience: int = 3,
                 predictions: Optional[pd.DataFrame] = None,
                 statistics: Sequence[str] = SUMMARY_STATISTICS
                 ) -> pd.DataFrame:
    r"""What predicting at epoch :obj:`T` saves against training to
    completion and against patience-based early stopping.

    Costs are the zoo's measured seconds per epoch (training and the test
    evaluation, epoch 0's evaluation included everywhere), averaged over
    the networks. Predicting costs :obj:`T` epochs plus the graph features
    of epochs :math:`0, \ldots, T` (their measured time). Early stopping
    watches the test accuracy and stops once it has not improved for
    :obj:`patience` epochs (or at the budget); its estimate of the final
    accuracy is the best test accuracy seen. The error column is the mean
    absolute difference between a method's estimate and the final
    accuracy: 0 for training to completion, the out-of-fold regression MAE
    (from :obj:`predictions` of :func:`accuracy_prediction`, subset
    :obj:`'all'`) for prediction.

    Args:
        dataset (WeightGraphDataset): The population.
        T (int, optional): The number of epochs seen. (default: :obj:`3`)
        patience (int, optional): The patience of early stopping.
            (default: :obj:`3`)
        predictions (pandas.DataFrame, optional): The out-of-fold
            predictions of :func:`accuracy_prediction`.
            (default: :obj:`None`, no error of the prediction)
        statistics (Sequence[str], optional): The node statistics of the
            graph features. (default: weighted degree and eigenvector
            centrality)

    Returns:
        pandas.DataFrame: One row per method with :obj:`epochs`,
        :obj:`seconds`, :obj:`fraction_of_full` (of the seconds),
        :obj:`saved_vs_full`, :obj:`saved_vs_early_stopping` and
        :obj:`mae`.

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = WeightGraphDataset(tiny_zoo(num_networks=2))
        >>> saved = time_savings(dataset, T=1, patience=1,
        ...                      statistics=['weighted_degree'])
        >>> saved['method'].tolist()  # doctest: +NORMALIZE_WHITESPACE
        ['full training', 'early stopping (patience 1)',
         'prediction at T=1 (graph)']
    """
    _check_T(dataset, T)
    if isinstance(patience, bool) or not isinstance(patience, int) or \
            patience < 1:
        raise ValueError(f"'patience' must be an integer >= 1 "
                         f"(got {patience!r})")
    agg = dataset.epoch_aggregates(statistics)
    full, early, early_epochs, early_err, predict = [], [], [], [], []
    for idx, data in enumerate(dataset):
        seconds = data.seconds[0].numpy()
        acc = data.test_acc[0].numpy()
        final = float(data.y)
        full.append(seconds.sum())
        stop, best = _early_stop(acc, patience)
        early.append(seconds[:stop + 1].sum())
        early_epochs.append(stop)
        early_err.append(abs(best - final))
        graph_seconds = agg.loc[idx].loc[0:T, 'seconds'].sum()
        predict.append(seconds[:T + 1].sum() + graph_seconds)
    full_s, early_s, pred_s = (float(np.mean(v))
                               for v in (full, early, predict))
    rows = [
        dict(method='full training', epochs=float(dataset.num_epochs),
             seconds=full_s, mae=0.0),
        dict(method=f'early stopping (patience {patience})',
             epochs=float(np.mean(early_epochs)), seconds=early_s,
             mae=float(np.mean(early_err))),
    ]
    names = ['graph']
    if predictions is not None and 'combined' in set(predictions['features']):
        names.append('combined')
    for name in names:
        mae = math.nan
        if predictions is not None:
            sel = predictions[(predictions['subset'] == 'all')
                              & (predictions['features'] == name)]
            if len(sel):
                mae = float((sel['y_pred'] - sel['y_true']).abs().mean())
        rows.append(dict(method=f'prediction at T={T} ({name})',
                         epochs=float(T), seconds=pred_s, mae=mae))
    out = pd.DataFrame(rows)
    out['fraction_of_full'] = out['seconds'] / full_s
    out['saved_vs_full'] = 1 - out['seconds'] / full_s
    out['saved_vs_early_stopping'] = 1 - out['seconds'] / early_s
    return out[['method', 'epochs', 'seconds', 'fraction_of_full',
                'saved_vs_full', 'saved_vs_early_stopping', 'mae']]


def metric_vs_T(dataset: WeightGraphDataset,
                Ts: Optional[Sequence[int]] = None,
                feature_sets: Sequence[str] = FEATURE_SETS,
                progress: bool = False, **kwargs: Any) -> pd.DataFrame:
    r"""The metrics of :func:`accuracy_prediction` for every :math:`T` in
    :obj:`Ts`, stacked with a column :obj:`T`; a degenerate prediction
    warns once, each reason followed by the :math:`T` it holds for (also in
    :obj:`attrs['degenerate']` of the table).

    Args:
        dataset (WeightGraphDataset): The population.
        Ts (Sequence[int], optional): The numbers of epochs seen.
            (default: :obj:`None`, every epoch the dataset kept)
        feature_sets (Sequence[str], optional): See :data:`FEATURE_SETS`.
            (default: all)
        progress (bool, optional): Show progress. (default: :obj:`False`)
        **kwargs (optional): The other arguments of
            :func:`accuracy_prediction`.

    Example:
        >>> import warnings
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = WeightGraphDataset(tiny_zoo(num_networks=4, epochs=3))
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter('always')
        ...     table = metric_vs_T(dataset, feature_sets=['accuracy'],
        ...                         folds=2, min_accuracy=0.0)
        >>> table[['T', 'subset']].values.tolist()
        [[1, 'all'], [1, 'non-degenerate'], [2, 'all'], [2, 'non-degenerate']]
        >>> len(caught), table.attrs['degenerate'][0]  # four networks
        ... # doctest: +NORMALIZE_WHITESPACE
        (1, "'all': about 0.67 per bin in a training fold
        (4 networks, 2 folds, 3 bins), fewer than 5 (T=1, 2)")
    """
    if Ts is None:
        Ts = range(1, dataset.params['epochs'] + 1)
    defaults = dict(feature_sets=feature_sets, model='gbt', num_bins=3,
                    folds=5, seed=0, repeats=1, min_accuracy=None,
                    statistics=SUMMARY_STATISTICS, features=None,
                    progress=progress)
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise TypeError(f"metric_vs_T() got unexpected keyword arguments "
                        f"{unknown}")
    tables, where = [], {}
    for T in Ts:
        metrics, _, reasons = _accuracy_prediction(
            dataset, T, **dict(defaults, **kwargs))
        for reason in reasons:
            where.setdefault(reason, []).append(str(T))
        metrics.insert(0, 'T', T)
        tables.append(metrics)
    table = pd.concat(tables, ignore_index=True)
    reasons = [f"{reason} (T={', '.join(at)})" for reason, at in
               where.items()]
    table.attrs['degenerate'] = reasons
    if reasons:
        warnings.warn(degenerate_message(reasons), UserWarning,
                      stacklevel=2)
    return table
