r"""Predicting a network's final accuracy from its first training epochs.

Vahedian et al. (2021, `"Convolutional Neural Network Dynamics: A Graph
Perspective" <https://arxiv.org/abs/2111.05410>`_) summarise the weight
graphs of the first :math:`T` epochs (see
:func:`~pyg_dnnmod.weights.temporal_summary`) and predict which quantile bin
the final accuracy falls in. This module does that and the regression
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
"""
import math
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import torch

from pyg_dnnmod.weights.dataset import SUMMARY_STATISTICS, WeightGraphDataset

#: The feature sets :func:`accuracy_prediction` compares, in table order.
#: :obj:`'graph'`: the temporal summary of the weight graphs;
#: :obj:`'accuracy'`: test accuracy and loss at epoch :math:`T`;
#: :obj:`'hyperparameters'`; :obj:`'weight_statistics'` (Unterthiner et
#: al.); :obj:`'combined'`: all four; :obj:`'majority / mean'`: no
#: features (the majority bin and the mean accuracy of the training fold).
FEATURE_SETS = ('graph', 'accuracy', 'hyperparameters', 'weight_statistics',
                'combined', 'majority / mean')

_METRICS = ('bin_accuracy', 'r2', 'mae', 'kendall_tau')

#: The models :func:`cross_validate` knows.
MODELS = ('gbt', 'linear', 'forest')

_QUANTILES = (0, 25, 50, 75, 100)


def parameter_statistics(state_dict: Mapping[str, torch.Tensor]) -> pd.Series:
    r"""The weight statistics of Unterthiner et al. (2020): for the kernel
    and the bias of every layer, the 0, 25, 50, 75 and 100th percentiles,
    the mean and the standard deviation.

    A layer is a :obj:`'<name>.weight'` entry of two dimensions (linear) or
    more (convolution) and its :obj:`'<name>.bias'`; other entries (batch
    normalisation, buffers) are skipped. Layers are named as in
    :func:`~pyg_dnnmod.weights.dataset.layer_keys` so that they line up
    across architectures: convolutions counted from the input
    (:obj:`'conv1'`, ...), linear layers from the output (:obj:`'fc-1'` is
    the last), in the order of the state dict. The standard deviation is
    the population one.

    Args:
        state_dict (Mapping[str, torch.Tensor]): A model's
            :obj:`state_dict`.

    Returns:
        pandas.Series: Named :obj:`'{layer}/{kernel|bias}/{statistic}'`,
        statistics :obj:`p0`, :obj:`p25`, :obj:`p50`, :obj:`p75`,
        :obj:`p100`, :obj:`mean`, :obj:`std`; NaN for a layer without
        bias.

    Example:
        >>> lin = torch.nn.Linear(2, 2)
        >>> with torch.no_grad():
        ...     _ = lin.weight.copy_(torch.tensor([[1., 2.], [3., 4.]]))
        ...     _ = lin.bias.zero_()
        >>> stats = parameter_statistics(lin.state_dict())
        >>> float(stats['fc-1/kernel/p25']), float(stats['fc-1/kernel/mean'])
        (1.75, 2.5)
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"'state_dict' must be a mapping of tensors "
                        f"(got {type(state_dict).__name__})")
    layers = [(key[:-len('.weight')], value) for key, value in
              state_dict.items() if key.endswith('.weight')
              and isinstance(value, torch.Tensor) and value.dim() >= 2]
    if not layers and 'weight' in state_dict:
        layers = [('', state_dict['weight'])]
    num_linear = sum(w.dim() == 2 for _, w in layers)
    out: Dict[str, float] = {}
    conv = linear = 0
    for prefix, weight in layers:
        if weight.dim() == 2:
            name = f'fc-{num_linear - linear}'
            linear += 1
        else:
            conv += 1
            name = f'conv{conv}'
        bias = state_dict.get(f'{prefix}.bias' if prefix else 'bias')
        for part, tensor in (('kernel', weight), ('bias', bias)):
            if tensor is None:
                values = np.full(1, np.nan)
            else:
                values = tensor.detach().cpu().double().reshape(-1).numpy()
            if values.size == 0 or not np.isfinite(values).all():
                values = np.full(1, np.nan)
            for q, v in zip(_QUANTILES, np.percentile(values, _QUANTILES)):
                out[f'{name}/{part}/p{q}'] = float(v)
            out[f'{name}/{part}/mean'] = float(values.mean())
            out[f'{name}/{part}/std'] = float(values.std())
    return pd.Series(out, dtype=np.float64)


def _check_T(dataset: WeightGraphDataset, T: int) -> None:
    kept = dataset.params['epochs']
    if isinstance(T, bool) or not isinstance(T, int) or not 1 <= T <= kept:
        raise ValueError(f"'T' must be an integer in [1, {kept}] (the epochs "
                         f"the dataset kept; got {T!r})")


def graph_features(dataset: WeightGraphDataset, T: int,
                   statistics: Sequence[str] = SUMMARY_STATISTICS,
                   progress: bool = False) -> pd.DataFrame:
    r"""The temporal summaries of the weight graphs of the first :obj:`T`
    epochs, one row per network (see
    :meth:`WeightGraphDataset.summaries`)."""
    _check_T(dataset, T)
    return dataset.summaries(T, statistics, progress)


def accuracy_features(dataset: WeightGraphDataset, T: int) -> pd.DataFrame:
    r"""The test accuracy and loss at epoch :obj:`T`, one row per
    network."""
    _check_T(dataset, T)
    rows = [dict(test_acc=float(d.test_acc[0, T]),
                 test_loss=float(d.test_loss[0, T])) for d in dataset]
    frame = pd.DataFrame(rows)
    # A diverged network's loss is inf or NaN; trees handle NaN only.
    return frame.replace([np.inf, -np.inf], np.nan)


def hyperparameter_features(dataset: WeightGraphDataset) -> pd.DataFrame:
    r"""The hyperparameters, one row per network: the width, the dropout,
    the batch size, :math:`\log_{10}` of the learning rate and of the weight
    decay, and one-hot architecture and optimizer (the seed is left
    out)."""
    hp = dataset.hparams
    frame = pd.DataFrame({
        'width': hp['width'].astype(float),
        'log10_lr': np.log10(hp['lr'].astype(float)),
        'dropout': hp['dropout'].astype(float),
        'log10_weight_decay': np.log10(hp['weight_decay'].astype(float)),
        'batch_size': hp['batch_size'].astype(float),
    })
    space = dataset.spec['space']
    for name, choices in (('architecture', space['architectures']),
                          ('optimizer', space['optimizers'])):
        for choice in choices:
            frame[f'{name}={choice}'] = (hp[name] == choice).astype(float)
    return frame


def weight_statistics_features(dataset: WeightGraphDataset,
                               T: int) -> pd.DataFrame:
    r"""The :func:`parameter_statistics` of every network's weights at
    epoch :obj:`T`, one row per network (NaN where an architecture lacks a
    layer)."""
    _check_T(dataset, T)
    rows = [parameter_statistics(dataset.record(i)['state_dicts'][T])
            for i in range(len(dataset))]
    return pd.DataFrame(rows).reset_index(drop=True)


def quantile_bins(values: Sequence[float], num_bins: int = 3,
                  reference: Optional[Sequence[float]] = None
                  ) -> Tuple[np.ndarray, np.ndarray]:
    r"""Assigns accuracies to quantile bins.

    The rule: the :math:`K - 1` interior edges are the
    :math:`k / K` quantiles (:math:`k = 1, \ldots, K - 1`, numpy's linear
    interpolation) of :obj:`reference` (in cross-validation, the training
    fold), and a value goes to the number of edges strictly below it, so
    bin :math:`b` is :math:`(q_b, q_{b+1}]`, the first bin open below and
    the last open above, and a value equal to an edge goes down (the many
    networks stuck at exactly chance accuracy stay in the lowest bin).

    Args:
        values (Sequence[float]): The accuracies to assign.
        num_bins (int, optional): :math:`K`. (default: :obj:`3`)
        reference (Sequence[float], optional): The accuracies that define
            the edges. (default: :obj:`None`, :obj:`values` themselves)

    Returns:
        (numpy.ndarray, numpy.ndarray): The bin of every value in
        :math:`\{0, \ldots, K - 1\}` and the interior edges.

    Example:
        >>> bins, edges = quantile_bins([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        >>> bins.tolist(), edges.round(4).tolist()
        ([0, 0, 1, 1, 2, 2], [0.2667, 0.4333])
    """
    if isinstance(num_bins, bool) or not isinstance(num_bins, int) or \
            num_bins < 2:
        raise ValueError(f"'num_bins' must be an integer >= 2 "
                         f"(got {num_bins!r})")
    values = np.asarray(values, dtype=np.float64)
    reference = values if reference is None else np.asarray(
        reference, dtype=np.float64)
    if reference.size == 0:
        raise ValueError("'reference' is empty")
    edges = np.quantile(reference, np.arange(1, num_bins) / num_bins)
    return np.searchsorted(edges, values, side='left'), edges


def _make_model(model: str, task: str, seed: int) -> Any:
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    classify = task == 'bins'
    if model == 'gbt':
        # Small populations: shallow, slow learners; 32 bins are plenty for
        # a few hundred networks and four times faster than 255.
        kwargs = dict(max_iter=200, learning_rate=0.05, max_leaf_nodes=8,
                      min_samples_leaf=5, max_bins=32, random_state=seed)
        return HistGradientBoostingClassifier(**kwargs) if classify \
            else HistGradientBoostingRegressor(**kwargs)
    imputer = SimpleImputer(strategy='median', keep_empty_features=True)
    if model == 'forest':
        kwargs = dict(n_estimators=300, min_samples_leaf=2, random_state=seed,
                      n_jobs=1)
        return make_pipeline(
            imputer, RandomForestClassifier(**kwargs) if classify else
            RandomForestRegressor(**kwargs))
    return make_pipeline(
        imputer, StandardScaler(),
        LogisticRegression(max_iter=5000) if classify else
        RidgeCV(alphas=np.logspace(-3, 3, 13)))


def _clean(features: pd.DataFrame) -> np.ndarray:
    x = features.to_numpy(dtype=np.float64, copy=True)
    x[~np.isfinite(x)] = np.nan
    return x


def _fit_predict(model: str, task: str, seed: int, x_train: np.ndarray,
                 y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    # A column with no value in the training networks (a layer only the
    # test networks have) carries nothing to learn from, and sklearn's
    # histogram binning fails on it.
    keep = ~np.isnan(x_train).all(axis=0)
    if task == 'bins' and len(np.unique(y_train)) == 1:
        return np.full(len(x_test), y_train[0])  # one bin only (ties)
    if not keep.any():
        raise ValueError("every feature is NaN in the training networks")
    from threadpoolctl import threadpool_limits
    estimator = _make_model(model, task, seed)
    # One thread: OpenMP over a few dozen networks costs more than it
    # saves, and on a busy machine its spinning threads slow the fit by an
    # order of magnitude.
    with threadpool_limits(limits=1):
        estimator.fit(x_train[:, keep], y_train)
        return estimator.predict(x_test[:, keep])


def cross_validate(features: Optional[pd.DataFrame], target: Sequence[float],
                   model: str = 'gbt', num_bins: int = 3, folds: int = 5,
                   seed: int = 0) -> pd.DataFrame:
    r"""Out-of-fold predictions of the final accuracy, as a quantile bin
    and as a number.

    The networks are split into :obj:`folds` shuffled folds
    (:class:`sklearn.model_selection.KFold`); for each, a classifier of the
    bins (:func:`quantile_bins` with edges from the training fold's
    accuracies) and a regressor of the accuracy are fitted on the other
    folds. Features may hold NaN (a layer an architecture lacks; a diverged
    network): :obj:`'gbt'` handles it natively, the others impute the
    median of the training fold. With :obj:`features=None` the predictions
    are the training fold's majority bin (the lowest among ties) and mean
    accuracy.

    Args:
        features (pandas.DataFrame, optional): One row per network.
        target (Sequence[float]): The final accuracies.
        model (str, optional): :obj:`'gbt'` (scikit-learn's histogram
            gradient-boosted trees, as Unterthiner et al.),
            :obj:`'linear'` (standardised logistic / ridge regression) or
            :obj:`'forest'` (random forests). (default: :obj:`'gbt'`)
        num_bins (int, optional): The number of bins. (default: :obj:`3`)
        folds (int, optional): The number of folds. (default: :obj:`5`)
        seed (int, optional): The seed of the split and of the models.
            (default: :obj:`0`)

    Returns:
        pandas.DataFrame: One row per network in input order: :obj:`fold`,
        :obj:`y_true`, :obj:`y_pred`, :obj:`bin_true`, :obj:`bin_pred`.

    Example:
        >>> y = np.linspace(0.1, 0.9, 20)
        >>> x = pd.DataFrame({'signal': y})
        >>> pred = cross_validate(x, y, model='linear', folds=4)
        >>> round(float(np.abs(pred.y_pred - pred.y_true).max()), 3)
        0.0
        >>> metrics = prediction_metrics(cross_validate(None, y, folds=4))
        >>> round(metrics['mae'], 3)  # the mean predictor
        0.211
    """
    from sklearn.model_selection import KFold
    if model not in MODELS:
        raise ValueError(f"'model' must be one of {MODELS} (got {model!r})")
    y = np.asarray(target, dtype=np.float64)
    if y.ndim != 1 or not np.isfinite(y).all():
        raise ValueError("'target' must be a one-dimensional sequence of "
                         "finite accuracies")
    if isinstance(folds, bool) or not isinstance(folds, int) or \
            not 2 <= folds <= len(y):
        raise ValueError(f"'folds' must be an integer in [2, {len(y)}] (the "
                         f"number of networks; got {folds!r})")
    x = None
    if features is not None:
        if len(features) != len(y):
            raise ValueError(f"'features' has {len(features)} rows but "
                             f"'target' has {len(y)} values")
        x = _clean(features)
    out = pd.DataFrame(dict(fold=0, y_true=y, y_pred=np.nan, bin_true=0,
                            bin_pred=0))
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splitter.split(y)):
        train_bins, edges = quantile_bins(y[train], num_bins)
        test_bins, _ = quantile_bins(y[test], num_bins, reference=y[train])
        if x is None:
            counts = np.bincount(train_bins, minlength=num_bins)
            bin_pred = np.full(len(test), int(np.argmax(counts)))
            y_pred = np.full(len(test), y[train].mean())
        else:
            bin_pred = _fit_predict(model, 'bins', seed, x[train],
                                    train_bins, x[test])
            y_pred = _fit_predict(model, 'regression', seed, x[train],
                                  y[train], x[test])
        out.loc[test, 'fold'] = fold
        out.loc[test, 'y_pred'] = y_pred
        out.loc[test, 'bin_true'] = test_bins
        out.loc[test, 'bin_pred'] = bin_pred
    return out


def prediction_metrics(predictions: pd.DataFrame) -> Dict[str, float]:
    r"""The metrics of (out-of-fold) predictions, pooled over all
    networks: the bin accuracy, :math:`R^2 = 1 - \sum_i (y_i -
    \hat{y}_i)^2 / \sum_i (y_i - \bar{y})^2`, the mean absolute error and
    Kendall's :math:`\tau_b` between predicted and true accuracy.

    Example:
        >>> pred = pd.DataFrame(dict(y_true=[0.1, 0.5, 0.9],
        ...                          y_pred=[0.2, 0.5, 0.7],
        ...                          bin_true=[0, 1, 2], bin_pred=[0, 1, 1]))
        >>> for key, value in prediction_metrics(pred).items():
        ...     print(key, round(value, 4))
        n 3
        bin_accuracy 0.6667
        r2 0.8438
        mae 0.1
        kendall_tau 1.0
    """
    from scipy.stats import kendalltau
    from sklearn.metrics import mean_absolute_error, r2_score
    y, p = predictions['y_true'].to_numpy(), predictions['y_pred'].to_numpy()
    tau = kendalltau(y, p).statistic if len(y) > 1 else math.nan
    return dict(
        n=int(len(y)),
        bin_accuracy=float(
            (predictions['bin_true'] == predictions['bin_pred']).mean()),
        r2=float(r2_score(y, p)) if len(y) > 1 else math.nan,
        mae=float(mean_absolute_error(y, p)),
        kendall_tau=float(tau),
    )


def feature_table(dataset: WeightGraphDataset, T: int,
                  feature_sets: Sequence[str] = FEATURE_SETS,
                  statistics: Sequence[str] = SUMMARY_STATISTICS,
                  progress: bool = False
                  ) -> Dict[str, Optional[pd.DataFrame]]:
    r"""The features of every set in :obj:`feature_sets` (see
    :data:`FEATURE_SETS`) at epoch :obj:`T`, one row per network;
    :obj:`None` for :obj:`'majority / mean'`. Column names of
    :obj:`'combined'` are prefixed by their set."""
    for name in feature_sets:
        if name not in FEATURE_SETS:
            raise ValueError(f"unknown feature set {name!r} in "
                             f"'feature_sets' (choose from "
                             f"{list(FEATURE_SETS)})")
    parts: Dict[str, Optional[pd.DataFrame]] = {}
    need = set(feature_sets)
    if 'combined' in need:
        need |= {'graph', 'accuracy', 'hyperparameters', 'weight_statistics'}
    if 'graph' in need:
        parts['graph'] = graph_features(dataset, T, statistics, progress)
    if 'accuracy' in need:
        parts['accuracy'] = accuracy_features(dataset, T)
    if 'hyperparameters' in need:
        parts['hyperparameters'] = hyperparameter_features(dataset)
    if 'weight_statistics' in need:
        parts['weight_statistics'] = weight_statistics_features(dataset, T)
    if 'combined' in need:
        parts['combined'] = pd.concat(
            [parts[k].add_prefix(f'{k}:') for k in
             ('graph', 'accuracy', 'hyperparameters', 'weight_statistics')],
            axis=1)
    parts['majority / mean'] = None
    return {name: parts[name] for name in feature_sets}


def non_degenerate(dataset: WeightGraphDataset,
                   min_accuracy: Optional[float] = None) -> np.ndarray:
    r"""Which networks learned: a final test accuracy above
    :obj:`min_accuracy`, by default chance plus 5 points
    (:math:`1 / C + 0.05`, 0.15 for ten classes).

    Returns:
        numpy.ndarray: A boolean mask over the items.
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
        one repeat); and the out-of-fold predictions, one row per (subset,
        feature set, repeat, network).
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or \
            repeats < 1:
        raise ValueError(f"'repeats' must be an integer >= 1 "
                         f"(got {repeats!r})")
    if features is None:
        features = feature_table(dataset, T, feature_sets, statistics,
                                 progress)
    y = np.array([float(d.y) for d in dataset])
    mask = non_degenerate(dataset, min_accuracy)
    hp = dataset.hparams
    rows, predictions = [], []
    for subset, keep in (('all', np.ones_like(mask)),
                         ('non-degenerate', mask)):
        idx = np.flatnonzero(keep)
        if len(idx) < folds:
            continue
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
    return pd.DataFrame(rows), pd.concat(predictions, ignore_index=True)


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

    Returns:
        pandas.DataFrame: One row per feature set, with :obj:`n_train`
        and the metrics of :func:`prediction_metrics` on the wide
        networks.
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
        if x is None:
            counts = np.bincount(train_bins, minlength=num_bins)
            bin_pred = np.full(test.sum(), int(np.argmax(counts)))
            y_pred = np.full(test.sum(), y[train].mean())
        else:
            x = _clean(x)
            bin_pred = _fit_predict(model, 'bins', seed, x[train],
                                    train_bins, x[test])
            y_pred = _fit_predict(model, 'regression', seed, x[train],
                                  y[train], x[test])
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

    Returns:
        pandas.DataFrame: One row per method with :obj:`epochs`,
        :obj:`seconds`, :obj:`fraction_of_full` (of the seconds),
        :obj:`saved_vs_full`, :obj:`saved_vs_early_stopping` and
        :obj:`mae`.
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
    :obj:`Ts` (default: every epoch the dataset kept), stacked with a
    column :obj:`T`; :obj:`kwargs` go to :func:`accuracy_prediction`."""
    if Ts is None:
        Ts = range(1, dataset.params['epochs'] + 1)
    tables = []
    for T in Ts:
        metrics, _ = accuracy_prediction(dataset, T, feature_sets,
                                         progress=progress, **kwargs)
        metrics.insert(0, 'T', T)
        tables.append(metrics)
    return pd.concat(tables, ignore_index=True)


def _first_repeat(predictions: pd.DataFrame) -> pd.DataFrame:
    if 'repeat' not in predictions.columns:
        return predictions
    return predictions[predictions['repeat'] == predictions['repeat'].min()]


def plot_predicted_vs_true(predictions: pd.DataFrame,
                           subset: str = 'all',
                           feature_sets: Optional[Sequence[str]] = None
                           ) -> Any:
    r"""Scatter plots of the out-of-fold predicted against the true final
    accuracy, one panel per feature set, coloured by architecture (the
    first repeat of the cross-validation).

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    predictions = _first_repeat(predictions)
    pred = predictions[predictions['subset'] == subset]
    names = [n for n in (feature_sets or FEATURE_SETS)
             if n in set(pred['features'])]
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.8 * rows),
                             squeeze=False)
    lo = min(pred['y_true'].min(), pred['y_pred'].min())
    hi = max(pred['y_true'].max(), pred['y_pred'].max())
    arches = sorted(set(pred['architecture']))
    for ax, name in zip(axes.flat, names):
        sel = pred[pred['features'] == name]
        for arch in arches:
            part = sel[sel['architecture'] == arch]
            ax.scatter(part['y_true'], part['y_pred'], s=14, alpha=0.7,
                       label=arch)
        ax.plot([lo, hi], [lo, hi], color='k', lw=0.8, ls='--')
        m = prediction_metrics(sel)
        ax.set_title(f"{name}\n$R^2$={m['r2']:.2f}, "
                     f"$\\tau$={m['kendall_tau']:.2f}, MAE={m['mae']:.3f}",
                     fontsize=9)
        ax.set_xlabel('true final accuracy')
        ax.set_ylabel('predicted')
        ax.set_xlim(lo - 0.02, hi + 0.02)
        ax.set_ylim(lo - 0.02, hi + 0.02)
    for ax in list(axes.flat)[len(names):]:
        ax.axis('off')
    axes.flat[0].legend(fontsize=8, loc='upper left')
    fig.suptitle(f'Out-of-fold predictions ({subset} networks)')
    fig.tight_layout()
    return fig


def plot_confusion(predictions: pd.DataFrame,
                   feature_sets: Sequence[str] = ('graph', 'combined'),
                   num_bins: Optional[int] = None) -> Any:
    r"""The confusion matrices of the bin predictions, one panel per
    subset and feature set (rows: true bin, columns: predicted bin; the
    first repeat of the cross-validation).

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    predictions = _first_repeat(predictions)
    subsets = list(dict.fromkeys(predictions['subset']))
    if num_bins is None:
        num_bins = int(max(predictions['bin_true'].max(),
                           predictions['bin_pred'].max())) + 1
    fig, axes = plt.subplots(len(subsets), len(feature_sets),
                             figsize=(3.6 * len(feature_sets),
                                      3.4 * len(subsets)), squeeze=False)
    for r, subset in enumerate(subsets):
        for c, name in enumerate(feature_sets):
            ax = axes[r, c]
            sel = predictions[(predictions['subset'] == subset)
                              & (predictions['features'] == name)]
            matrix = np.zeros((num_bins, num_bins), dtype=int)
            np.add.at(matrix, (sel['bin_true'].to_numpy(int),
                               sel['bin_pred'].to_numpy(int)), 1)
            ax.imshow(matrix, cmap='Blues')
            for i in range(num_bins):
                for j in range(num_bins):
                    ax.text(j, i, str(matrix[i, j]), ha='center',
                            va='center', color='white' if matrix[i, j] >
                            matrix.max() / 2 else 'black')
            acc = np.trace(matrix) / max(matrix.sum(), 1)
            ax.set_title(f'{name}, {subset}\nbin accuracy {acc:.2f}',
                         fontsize=9)
            ax.set_xlabel('predicted bin')
            ax.set_ylabel('true bin')
            ax.set_xticks(range(num_bins))
            ax.set_yticks(range(num_bins))
    fig.tight_layout()
    return fig


def plot_metric_vs_T(table: pd.DataFrame,
                     metrics: Sequence[str] = ('bin_accuracy', 'r2',
                                               'kendall_tau')) -> Any:
    r"""The metrics of :func:`metric_vs_T` against :math:`T`, one line per
    feature set, one row of panels per subset.

    Returns:
        matplotlib.figure.Figure: The figure.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    subsets = list(dict.fromkeys(table['subset']))
    fig, axes = plt.subplots(len(subsets), len(metrics),
                             figsize=(4.2 * len(metrics), 3.4 * len(subsets)),
                             squeeze=False)
    for r, subset in enumerate(subsets):
        for c, metric in enumerate(metrics):
            ax = axes[r, c]
            sel = table[table['subset'] == subset]
            for name in dict.fromkeys(sel['features']):
                line = sel[sel['features'] == name].sort_values('T')
                style = dict(ls='--', color='gray') \
                    if name == 'majority / mean' else dict(marker='o')
                ax.plot(line['T'], line[metric], label=name, **style)
            ax.set_xlabel('T (epochs seen)')
            ax.set_ylabel(metric)
            ax.set_title(f'{metric}, {subset} networks', fontsize=9)
            ax.set_xticks(sorted(set(sel['T'])))
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig

