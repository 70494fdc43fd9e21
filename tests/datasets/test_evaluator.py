import math

import numpy as np
import pytest
from scipy.stats import kendalltau
from sklearn.metrics import r2_score

from pyg_dnnmod.datasets.evaluator import EVALUATOR_METRICS, Evaluator


def test_hand_computed_ten_networks():
    y = [.10, .20, .30, .40, .50, .60, .70, .80, .90, .95]
    p = [.12, .18, .35, .30, .55, .50, .72, .95, .85, .80]
    scores = Evaluator(num_bins=2, top_fraction=0.2).eval(y, p)
    assert list(scores) == list(EVALUATOR_METRICS)
    # R^2 = 1 - SSE / SST with SSE = 0.0737 and SST = 0.78225.
    assert scores['r2'] == pytest.approx(1 - 0.0737 / 0.78225)
    # y increases, so the discordant pairs are p's inversions (0-based):
    # (2, 3), (4, 5), (7, 8), (7, 9), (8, 9): 5 of 45.
    assert scores['kendall_tau'] == pytest.approx((40 - 5) / 45)
    # Median edge 0.55: true bins 0 0 0 0 0 1 1 1 1 1, predicted
    # 0 0 0 0 1 0 1 1 1 1: two networks in the other bin.
    assert scores['bin_accuracy'] == pytest.approx(0.8)
    # The best two by y are 9 and 8 (.95, .90); by p, 7 and 8 (.95, .85).
    assert scores['top_recall'] == pytest.approx(0.5)
    assert scores['r2'] == pytest.approx(r2_score(y, p))
    assert scores['kendall_tau'] == pytest.approx(kendalltau(y, p)[0])


def test_given_bins_and_edges():
    y = [.1, .2, .3, .4, .5, .6]
    p = [.6, .5, .4, .3, .2, .1]
    evaluator = Evaluator(bin_edges=[.25, .45])
    assert evaluator.num_bins == 3
    assert evaluator.edges(y).tolist() == [.25, .45]
    # true bins 0 0 1 1 2 2; a classifier's bins given directly:
    scores = evaluator.eval(y, p, bins_pred=[0, 0, 1, 2, 2, 2])
    assert scores['bin_accuracy'] == pytest.approx(5 / 6)
    assert scores['kendall_tau'] == pytest.approx(-1.0)
    assert scores['top_recall'] == 0.0  # ceil(0.6) = 1: network 5 vs 0
    # Quantile edges of y by default (terciles of six values).
    assert Evaluator().edges(y).tolist() == pytest.approx(
        np.quantile(y, [1 / 3, 2 / 3]).tolist())


def test_constant_truth_has_no_r2():
    scores = Evaluator().eval([.5, .5, .5], [.4, .5, .6])
    assert math.isnan(scores['r2'])


def test_bad_input():
    with pytest.raises(ValueError, match=r"'num_bins' must be an int >= 2 "
                                         r"\(got 1\)"):
        Evaluator(num_bins=1)
    with pytest.raises(ValueError, match=r"'top_fraction' must be in "
                                         r"\(0, 1\] \(got 0\)"):
        Evaluator(top_fraction=0)
    with pytest.raises(ValueError, match=r"'bin_edges' must be increasing"):
        Evaluator(bin_edges=[.5, .2])
    with pytest.raises(ValueError, match=r"'y_pred' must have one value per "
                                         r"network \(3\) \(got 2\)"):
        Evaluator().eval([.1, .2, .3], [.1, .2])
    with pytest.raises(ValueError, match=r"'y_true' must be finite"):
        Evaluator().eval([.1, float('nan')], [.1, .2])
    with pytest.raises(ValueError, match=r"'bins_pred' must have one bin"):
        Evaluator().eval([.1, .2, .3], [.1, .2, .3], bins_pred=[0, 1])
