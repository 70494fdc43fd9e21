import math

import numpy as np
import pytest
import torch

from pyg_dnnmod.pruning import (
    GainBudget,
    GainThreshold,
    MeanGainThreshold,
    PlateauRun,
    gain_budget,
    gain_threshold,
    mean_gain_threshold,
    modularity_gain,
    plateau_run,
)


class FakeCurve:
    # Duck-typed stand-in for LayerGraphs: modularity() and layer_names.
    def __init__(self, values, names):
        self.values = torch.tensor(values)
        self.layer_names = list(names)

    def modularity(self):
        return self.values


# Binary fractions keep every difference exact. Gains: -, .25, 0, .25,
# -.125, .25
CURVE = [0.25, 0.5, 0.5, 0.75, 0.625, 0.875]
NAMES = ['conv1', 'b0', 'b1', 'b2', 'b3', 'b4']


def test_modularity_gain_values():
    gain = modularity_gain(torch.tensor(CURVE))
    assert math.isnan(gain[0])
    assert gain[1:].tolist() == [0.25, 0.0, 0.25, -0.125, 0.25]
    assert gain.dtype == torch.float64


def test_modularity_gain_repeats():
    gain = modularity_gain(torch.tensor([[0.0, 0.5], [0.25, 0.5]]))
    assert gain[:, 1].tolist() == [0.5, 0.25]
    assert torch.isnan(gain[:, 0]).all()


@pytest.mark.parametrize('tau,expected', [
    (0.0, [2, 4]),
    (-0.125, [4]),
    (-0.2, []),
    (0.25, [1, 2, 3, 4, 5]),
])
def test_gain_threshold(tau, expected):
    assert gain_threshold(torch.tensor(CURVE), tau) == expected
    assert gain_threshold(CURVE, tau) == expected  # a plain list works too
    assert GainThreshold(tau)(torch.tensor(CURVE)) == expected


def test_gain_threshold_never_picks_the_first_layer():
    # A falling curve: every gain is negative, layer 0 has none.
    assert gain_threshold(torch.tensor([1.0, 0.5, 0.25])) == [1, 2]
    assert gain_threshold(torch.tensor([0.5])) == []


def test_gain_threshold_same_for_float32_and_float64():
    q = [0.2, 0.5, 0.5, 0.7, 0.68]
    assert gain_threshold(torch.tensor(q, dtype=torch.float32)) == \
        gain_threshold(torch.tensor(q, dtype=torch.float64)) == [2, 4]


@pytest.mark.parametrize('removable', [
    [False, True, False, True, True, False],
    torch.tensor([False, True, False, True, True, False]),
    [1, 3, 4],
    torch.tensor([1, 3, 4]),
    ['b0', 'b2', 'b3'],
])
def test_removable_restricts_the_selection(removable):
    curve = FakeCurve(CURVE, NAMES)
    # Unrestricted: [2, 4], [4, 5] and [4, 5].
    assert gain_threshold(curve, 0.0, removable) == [4]
    assert plateau_run(curve, 0.2, removable) == [4]
    # Gains .25, .25, -.125 at 1, 3, 4: the tie between 1 and 3 goes to 3.
    assert gain_budget(curve, 2, removable) == [3, 4]


def test_curve_object_and_names():
    curve = FakeCurve(CURVE, NAMES)
    assert gain_threshold(curve) == [2, 4]
    assert GainThreshold().names(curve) == ['b1', 'b3']
    # b0 and b2 both gain .25; the tie goes to the deeper b2
    assert GainBudget(1).names(curve, removable=['b0', 'b2']) == ['b2']
    assert GainBudget(1).names(curve, removable=['b0', 'b1']) == ['b1']


@pytest.mark.parametrize('values,eps,expected', [
    # max 0.875 first reached at layer 3
    ([0.25, 0.5, 0.75, 0.875, 0.8125, 0.875], 0.0, [4, 5]),
    # threshold 0.8 * 0.875 = 0.7, first reached at layer 2
    ([0.25, 0.5, 0.75, 0.875, 0.8125, 0.875], 0.2, [3, 4, 5]),
    # the maximum at the end: no tail
    ([0.125, 0.25, 0.5], 0.0, []),
    # a flat curve is all plateau
    ([0.5, 0.5, 0.5, 0.5], 0.0, [1, 2, 3]),
    # negative maximum -0.25: threshold -0.25 - 0.5 * 0.25 = -0.375
    ([-1.0, -0.5, -0.25, -0.25], 0.0, [3]),
    ([-1.0, -0.375, -0.25, -0.25], 0.5, [2, 3]),
])
def test_plateau_run(values, eps, expected):
    assert plateau_run(torch.tensor(values), eps) == expected
    assert PlateauRun(eps)(torch.tensor(values)) == expected


def test_plateau_run_is_a_tail_even_through_a_dip():
    # The dip at layer 3 and the recovery after it both belong to the tail.
    q = torch.tensor([0.25, 0.875, 0.5, 0.875, 0.75])
    assert plateau_run(q, 0.0) == [2, 3, 4]


@pytest.mark.parametrize('m,expected', [
    (1, [4]),
    (2, [2, 4]),
    # gains .25 at layers 1, 3 and 5 tie: the deepest goes first
    (3, [2, 4, 5]),
    (4, [2, 3, 4, 5]),
    (5, [1, 2, 3, 4, 5]),
])
def test_gain_budget_with_ties_to_the_deeper_layer(m, expected):
    assert gain_budget(torch.tensor(CURVE), m) == expected
    assert GainBudget(m)(torch.tensor(CURVE)) == expected


def test_gain_budget_too_many():
    with pytest.raises(ValueError, match=r"'m' must be at most .* \(3, "):
        gain_budget(torch.tensor(CURVE), 4, removable=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"'m' must be >= 1 \(got 0\)"):
        gain_budget(torch.tensor(CURVE), 0)
    with pytest.raises(TypeError, match="'m' must be an int"):
        GainBudget(1.5)


def reference_mean_gain(values, tau, num_std):
    # Independent numpy version of the repeat-aware rule.
    values = np.asarray(values, dtype=np.float64)
    gain = np.diff(values, axis=1)
    score = gain.mean(axis=0)
    if num_std > 0:
        score = score + num_std * gain.std(axis=0, ddof=1)
    return [i + 1 for i in np.flatnonzero(score <= tau)]


def test_mean_gain_threshold_hand_computed():
    # Gains: repeat 0: .25, 0, 0; repeat 1: .25, -.125, .125.
    # Means .25, -.0625, .0625; stds 0, .0884, .0884.
    q = torch.tensor([[0.25, 0.5, 0.5, 0.5], [0.25, 0.5, 0.375, 0.5]])
    assert mean_gain_threshold(q, tau=0.0625) == [2, 3]
    assert mean_gain_threshold(q, tau=0.0625, num_std=1.0) == [2]
    assert mean_gain_threshold(q, tau=0.0) == [2]
    assert MeanGainThreshold(0.0625, 1.0)(q) == [2]


def test_mean_gain_threshold_matches_numpy():
    gen = torch.Generator().manual_seed(0)
    q = torch.cumsum(torch.rand(5, 12, generator=gen) - 0.3, dim=1)
    for tau in (-0.1, 0.0, 0.1):
        for num_std in (0.0, 0.5, 1.0):
            assert mean_gain_threshold(q, tau, num_std) == \
                reference_mean_gain(q.numpy(), tau, num_std)


def test_mean_gain_threshold_one_repeat_is_gain_threshold():
    q = torch.tensor(CURVE)
    assert mean_gain_threshold(q) == mean_gain_threshold(q[None]) == \
        gain_threshold(q) == [2, 4]
    with pytest.raises(ValueError, match="at least 2 repeats"):
        mean_gain_threshold(q, num_std=1.0)


def test_mean_gain_threshold_accepts_a_list_of_curves():
    curves = [FakeCurve([0.25, 0.5, 0.5, 0.5], ['a', 'b', 'c', 'd']),
              FakeCurve([0.25, 0.5, 0.375, 0.5], ['a', 'b', 'c', 'd'])]
    assert mean_gain_threshold(curves, 0.0625, 1.0) == [2]
    assert mean_gain_threshold(curves, 0.0625, removable=['d']) == [3]
    assert MeanGainThreshold(0.0625).names(curves[0]) == ['c', 'd']
    with pytest.raises(ValueError, match='same number of layers'):
        mean_gain_threshold([torch.zeros(3), torch.zeros(4)])
    with pytest.raises(ValueError, match='same layer names'):
        mean_gain_threshold([curves[0], FakeCurve([0.0] * 4, 'wxyz')])


def test_reprs():
    assert repr(GainThreshold(0.01)) == 'GainThreshold(tau=0.01)'
    assert repr(PlateauRun()) == 'PlateauRun(eps=0.01)'
    assert repr(GainBudget(3)) == 'GainBudget(m=3)'
    assert repr(MeanGainThreshold()) == 'MeanGainThreshold(tau=0.0, ' \
        'num_std=0.0)'


def test_bad_curves():
    with pytest.raises(ValueError, match=r"layer 2 \('b1'\) is nan"):
        gain_threshold(FakeCurve([0.1, 0.2, math.nan, 0.3, 0.3, 0.3], NAMES))
    with pytest.raises(ValueError, match="layer 1 is inf"):
        plateau_run(torch.tensor([0.1, math.inf]))
    with pytest.raises(ValueError, match=r"one-dimensional.*\[2, 3\]"):
        gain_threshold(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="at least one layer"):
        gain_budget(torch.zeros(0), 1)
    with pytest.raises(TypeError, match="'curve' must be a Tensor"):
        gain_threshold('0.1 0.2')
    with pytest.raises(ValueError, match="3 values but 2 layer names"):
        gain_threshold(FakeCurve([0.1, 0.2, 0.3], ['a', 'b']))


def test_bad_options():
    q = torch.tensor(CURVE)
    with pytest.raises(ValueError, match=r"'tau' must be finite \(got nan\)"):
        gain_threshold(q, math.nan)
    with pytest.raises(ValueError, match=r"'eps' must be < 1.0 \(got 1.0\)"):
        PlateauRun(1.0)
    with pytest.raises(ValueError, match=r"'eps' must be >= 0.0 \(got -0.1\)"):
        plateau_run(q, -0.1)
    with pytest.raises(ValueError, match=r"'num_std' must be >= 0.0"):
        MeanGainThreshold(num_std=-1)
    with pytest.raises(TypeError, match="'tau' must be a number"):
        GainThreshold('0.1')


def test_bad_removable():
    q = torch.tensor(CURVE)
    with pytest.raises(ValueError, match="one entry per layer"):
        gain_threshold(q, removable=[True, False])
    with pytest.raises(ValueError, match="index 6 in 'removable'"):
        gain_threshold(q, removable=[1, 6])
    with pytest.raises(ValueError, match="plain Tensor without"):
        gain_threshold(q, removable=['b0'])
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) \['x'\]"):
        gain_threshold(FakeCurve(CURVE, NAMES), removable=['x'])
    with pytest.raises(TypeError, match="only booleans, only indices"):
        gain_threshold(q, removable=[1, 'b0'])
    with pytest.raises(TypeError, match="'removable' must be None"):
        gain_threshold(q, removable='b0')
    with pytest.raises(TypeError, match="'layer_names' to select names"):
        GainThreshold().names(q)


@pytest.mark.parametrize('index', [-1, -6, 6, 7])
@pytest.mark.parametrize('select', [
    lambda q, r: gain_threshold(q, 0.0, r),
    lambda q, r: plateau_run(q, 0.2, r),
    lambda q, r: gain_budget(q, 1, r),
    lambda q, r: GainBudget(1)(q, removable=r),
])
def test_removable_indices_are_absolute(select, index):
    # Negative indices were taken from the end while 7 was rejected; now
    # both are out of range, and the message gives the valid range.
    q = torch.tensor(CURVE)
    with pytest.raises(ValueError, match=rf"index {index} in 'removable' is "
                       rf"out of range: layer indices are absolute, 0 to 5 "
                       rf"for 6 layers"):
        select(q, [1, index])
    with pytest.raises(ValueError, match=rf"index {index} in 'removable'"):
        select(q, torch.tensor([index]))
    assert select(q, [0, 5]) == select(q, [False] * 5 + [True])
