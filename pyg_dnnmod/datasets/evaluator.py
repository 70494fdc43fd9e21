r"""How a prediction of networks' final accuracy is scored, one evaluator
for every method, in the manner of OGB's :obj:`Evaluator`: the regression
(:math:`R^2`), the ranking (Kendall's :math:`\tau`), the accuracy bins
(bin accuracy) and the search for the best networks (top-10 % recall).

A population benchmark of training dynamics asks for all four: a
predictor can rank well with a poor :math:`R^2` (a monotone miscalibration)
or fit well overall and still miss the few best networks, which is what a
search over hyper-parameters needs.
"""
import math
from typing import Dict, Optional, Sequence

import numpy as np

#: The metrics of :class:`Evaluator`, in the order it returns them.
EVALUATOR_METRICS = ('r2', 'kendall_tau', 'bin_accuracy', 'top_recall')


def _vector(values: Sequence[float], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size < 2:
        raise ValueError(f"'{name}' must be one-dimensional with at least "
                         f"2 values (got shape {array.shape})")
    if not np.isfinite(array).all():
        raise ValueError(f"'{name}' must be finite (got "
                         f"{array[~np.isfinite(array)][0]})")
    return array


class Evaluator:
    r"""Scores predicted final accuracies :math:`\hat{y}` against the true
    ones :math:`y` of :math:`n` networks:

    .. math::
        R^2 = 1 - \frac{\sum_i (y_i - \hat{y}_i)^2}
        {\sum_i (y_i - \bar{y})^2}, \qquad
        \tau_b = \text{Kendall's } \tau \text{ (ties corrected)},

    the bin accuracy (the fraction of networks whose predicted bin is their
    true bin; bins cut at :obj:`bin_edges`, by default the quantiles of
    :math:`y` into :obj:`num_bins` equal groups, and the prediction is
    binned at the same edges unless predicted bins are given), and the
    top recall: of the :math:`\lceil f n \rceil` best networks by
    :math:`y`, the fraction that are among the :math:`\lceil f n \rceil`
    best by :math:`\hat{y}` (ties broken by index).

    Args:
        num_bins (int, optional): Accuracy bins when :obj:`bin_edges` is
            not given. (default: :obj:`3`)
        top_fraction (float, optional): :math:`f`, in :math:`(0, 1]`.
            (default: :obj:`0.1`)
        bin_edges (list[float], optional): The inner edges of the bins,
            increasing (e.g. the training split's quantiles, so that test
            bins do not depend on the test set). (default: :obj:`None`)

    Example:
        >>> evaluator = Evaluator(num_bins=2, top_fraction=0.25)
        >>> scores = evaluator.eval([.1, .2, .3, .4], [.1, .3, .2, .4])
        >>> {k: round(v, 4) for k, v in scores.items()}
        {'r2': 0.6, 'kendall_tau': 0.6667, 'bin_accuracy': 0.5, 'top_recall': 1.0}
    """
    def __init__(self, num_bins: int = 3, top_fraction: float = 0.1,
                 bin_edges: Optional[Sequence[float]] = None) -> None:
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) \
                or num_bins < 2:
            raise ValueError(f"'num_bins' must be an int >= 2 (got "
                             f"{num_bins!r})")
        if not 0.0 < top_fraction <= 1.0:
            raise ValueError(f"'top_fraction' must be in (0, 1] (got "
                             f"{top_fraction!r})")
        if bin_edges is not None:
            edges = np.asarray(bin_edges, dtype=np.float64)
            if edges.ndim != 1 or edges.size == 0 or \
                    not (np.diff(edges) > 0).all():
                raise ValueError(f"'bin_edges' must be increasing inner "
                                 f"edges (got {list(bin_edges)})")
            num_bins = edges.size + 1
        self.num_bins = num_bins
        self.top_fraction = float(top_fraction)
        self.bin_edges = None if bin_edges is None else list(map(float,
                                                                 bin_edges))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_bins={self.num_bins}, '
                f'top_fraction={self.top_fraction})')

    def edges(self, y_true: Sequence[float]) -> np.ndarray:
        r"""The inner bin edges: :obj:`bin_edges`, else the quantiles of
        :obj:`y_true` at :math:`1 / B, \dots, (B - 1) / B`."""
        if self.bin_edges is not None:
            return np.asarray(self.bin_edges)
        y = _vector(y_true, 'y_true')
        return np.quantile(y, np.arange(1, self.num_bins) / self.num_bins)

    def eval(self, y_true: Sequence[float], y_pred: Sequence[float],
             bins_pred: Optional[Sequence[int]] = None) -> Dict[str, float]:
        r"""The four metrics (:data:`EVALUATOR_METRICS`) as a dict.

        Args:
            y_true (list[float]): The true final accuracies.
            y_pred (list[float]): The predicted ones.
            bins_pred (list[int], optional): Bins predicted by a classifier
                (:math:`0` lowest); by default :obj:`y_pred` binned.
                (default: :obj:`None`)
        """
        from scipy.stats import kendalltau
        y = _vector(y_true, 'y_true')
        p = _vector(y_pred, 'y_pred')
        if p.size != y.size:
            raise ValueError(f"'y_pred' must have one value per network "
                             f"({y.size}) (got {p.size})")
        spread = float(((y - y.mean()) ** 2).sum())
        r2 = 1.0 - float(((y - p) ** 2).sum()) / spread if spread > 0 \
            else math.nan
        tau = float(kendalltau(y, p).statistic)
        edges = self.edges(y)
        true_bins = np.searchsorted(edges, y, side='right')
        if bins_pred is None:
            pred_bins = np.searchsorted(edges, p, side='right')
        else:
            pred_bins = np.asarray(bins_pred)
            if pred_bins.shape != y.shape:
                raise ValueError(f"'bins_pred' must have one bin per "
                                 f"network ({y.size}) (got shape "
                                 f"{pred_bins.shape})")
        top = math.ceil(self.top_fraction * y.size)
        best_true = set(np.argsort(-y, kind='stable')[:top].tolist())
        best_pred = set(np.argsort(-p, kind='stable')[:top].tolist())
        return {'r2': r2, 'kendall_tau': tau,
                'bin_accuracy': float((true_bins == pred_bins).mean()),
                'top_recall': len(best_true & best_pred) / top}
