r"""The predictors of the accuracy-prediction experiment (see
:mod:`pyg_dnnmod.experiments.final_accuracy`), cross-validated, and
their metrics.

The final accuracy is predicted as a quantile bin (classification,
:func:`quantile_bins`) and as a number (regression) by scikit-learn models
fitted on the training folds (:func:`cross_validate`), and scored by the bin
accuracy, :math:`R^2`, the mean absolute error and Kendall's :math:`\tau`
(:func:`prediction_metrics`); :func:`degenerate_reasons` says when those
scores carry no information about the features.
"""
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

#: The models :func:`cross_validate` knows.
MODELS = ('gbt', 'linear', 'forest')

_METRICS = ('bin_accuracy', 'r2', 'mae', 'kendall_tau')

#: The fewest networks per quantile bin of a training fold that a
#: prediction needs (the smallest leaf of the gradient-boosted trees of
#: :func:`cross_validate`); see :func:`degenerate_reasons`.
MIN_PER_BIN = 5

#: The name of the feature set without features (see
#: :data:`~pyg_dnnmod.experiments.final_accuracy.FEATURE_SETS`).
_BASELINE = 'majority / mean'


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


def _predict(x: Optional[np.ndarray], y: np.ndarray, train: np.ndarray,
             test: np.ndarray, train_bins: np.ndarray, model: str,
             num_bins: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    r"""The predicted bins and accuracies of the :obj:`test` networks by a
    model fitted on the :obj:`train` ones (index arrays or masks); with
    :obj:`x=None`, the training networks' majority bin (the lowest among
    ties) and mean accuracy."""
    if x is None:
        num_test = len(y[test])
        counts = np.bincount(train_bins, minlength=num_bins)
        return (np.full(num_test, int(np.argmax(counts))),
                np.full(num_test, y[train].mean()))
    return (_fit_predict(model, 'bins', seed, x[train], train_bins, x[test]),
            _fit_predict(model, 'regression', seed, x[train], y[train],
                         x[test]))


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
        bin_pred, y_pred = _predict(x, y, train, test, train_bins, model,
                                    num_bins, seed)
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

    Args:
        predictions (pandas.DataFrame): Columns :obj:`y_true`,
            :obj:`y_pred`, :obj:`bin_true` and :obj:`bin_pred` (as
            :func:`cross_validate` returns them).

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


def degenerate_reasons(predictions: pd.DataFrame, num_bins: int = 3,
                       folds: int = 5) -> List[str]:
    r"""Why the out-of-fold :obj:`predictions` of one set of networks say
    nothing about the features they were made from; an empty list when
    nothing is wrong.

    The reasons, in this order: fewer than :data:`MIN_PER_BIN` networks per
    quantile bin in a training fold (the smallest training fold of
    :obj:`folds` shuffled folds, split in :obj:`num_bins` bins); ties that
    leave a bin empty (networks stuck at one accuracy, typically chance);
    a feature set predicting one bin, or one accuracy, within every fold of
    every repeat (its model learned nothing from the features); and, with
    the :obj:`'majority / mean'` baseline and at least two other feature
    sets, every feature set scoring exactly the bin accuracy of the
    baseline.

    Args:
        predictions (pandas.DataFrame): Out-of-fold predictions of one set
            of networks (the rows of one subset of
            :func:`~pyg_dnnmod.experiments.accuracy_prediction`): columns
            :obj:`fold`, :obj:`y_true`, :obj:`y_pred`, :obj:`bin_true` and
            :obj:`bin_pred`, optionally :obj:`features` and :obj:`repeat`.
        num_bins (int, optional): The number of quantile bins.
            (default: :obj:`3`)
        folds (int, optional): The number of folds. (default: :obj:`5`)

    Returns:
        list[str]: One sentence per reason.

    Example:
        >>> y = np.array([0.1] * 7 + [0.5, 0.7, 0.9])  # 7 stuck at chance
        >>> pred = cross_validate(None, y, folds=2).assign(features='mean')
        >>> for reason in degenerate_reasons(pred, folds=2):
        ...     print(reason)  # doctest: +NORMALIZE_WHITESPACE
        about 1.7 per bin in a training fold (10 networks, 2 folds,
        3 bins), fewer than 5
        7 of the 10 networks share the final accuracy 0.100, which leaves
        bin 1 empty
        'mean' predicts one bin and one accuracy in every fold
    """
    if len(predictions) == 0:
        return []
    if 'features' not in predictions.columns:
        predictions = predictions.assign(features='')
    if 'repeat' not in predictions.columns:
        predictions = predictions.assign(repeat=0)
    first = predictions[
        (predictions['features'] == predictions['features'].iloc[0])
        & (predictions['repeat'] == predictions['repeat'].iloc[0])]
    y = first['y_true'].to_numpy(dtype=np.float64)
    n = len(y)
    reasons = []
    per_bin = (n - math.ceil(n / folds)) / num_bins
    if per_bin < MIN_PER_BIN:
        reasons.append(f'about {per_bin:.2g} per bin in a training '
                       f'fold ({n} networks, {folds} folds, {num_bins} '
                       f'bins), fewer than {MIN_PER_BIN}')
    bins, _ = quantile_bins(y, num_bins)
    empty = np.flatnonzero(np.bincount(bins, minlength=num_bins) == 0)
    if len(empty):
        values, counts = np.unique(y, return_counts=True)
        which = ', '.join(str(int(b)) for b in empty)
        reasons.append(f'{int(counts.max())} of the {n} networks share the '
                       f'final accuracy {values[counts.argmax()]:.3f}, which '
                       f'leaves bin{"s" if len(empty) > 1 else ""} {which} '
                       f'empty')
    names = [f for f in dict.fromkeys(predictions['features'])
             if f != _BASELINE]
    constant: Dict[str, List[str]] = {}
    for name in names:
        groups = predictions[predictions['features'] == name].groupby(
            ['repeat', 'fold'])
        one_bin = bool((groups['bin_pred'].nunique() == 1).all())
        spread = groups['y_pred'].max() - groups['y_pred'].min()
        one_acc = bool((spread.abs() <= 1e-12).all())
        what = ' and '.join(w for w, c in (('one bin', one_bin),
                                           ('one accuracy', one_acc)) if c)
        if what:
            constant.setdefault(what, []).append(repr(name) if name
                                                 else 'the model')
    for what, which in constant.items():
        verb = 'predicts' if len(which) == 1 else 'predict'
        which = which[0] if len(which) == 1 else \
            f"{', '.join(which[:-1])} and {which[-1]}"
        reasons.append(f'{which} {verb} {what} in every fold')
    if _BASELINE in set(predictions['features']) and len(names) >= 2:
        hit = (predictions['bin_true'] == predictions['bin_pred'])
        score = hit.groupby(predictions['features']).mean()
        base = score[_BASELINE]
        if np.allclose(score[names], base, rtol=0.0, atol=1e-12):
            reasons.append(f'every feature set scores the bin accuracy of '
                           f'the majority bin ({base:.3f})')
    return reasons
