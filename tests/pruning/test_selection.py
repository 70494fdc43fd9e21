import pytest
import torch

from pyg_dnnmod.pruning import (
    SELECTORS,
    GainBudget,
    GainThreshold,
    MeanGainThreshold,
    ModularityCurve,
    PlateauRun,
    get_selector,
    largest_gain_layers,
    layers_to_remove,
    selector_options,
)

NAMES = ['a', 'b', 'c', 'd', 'e']


def test_largest_gain_layers():
    q = torch.tensor([0.2, 0.5, 0.5, 0.7, 0.68])  # gains -, .3, 0, .2, -.02
    assert largest_gain_layers(q, 1) == [1]
    assert largest_gain_layers(q, 3) == [1, 2, 3]
    assert largest_gain_layers(q, 2, removable=[2, 3, 4]) == [2, 3]
    # Equal gains: the deeper layer wins, as in gain_budget.
    assert largest_gain_layers(torch.tensor([0., .1, .2, .3]), 1) == [3]
    with pytest.raises(ValueError, match=r"'m' must be at most"):
        largest_gain_layers(q, 5)
    # Names come along with a named curve.
    curve = ModularityCurve(q, NAMES)
    assert largest_gain_layers(curve, 1, removable=['c', 'd']) == [3]


def test_registry():
    assert list(SELECTORS) == ['gain', 'plateau', 'budget', 'mean-gain']
    assert [SELECTORS[n] for n in SELECTORS] == [
        GainThreshold, PlateauRun, GainBudget, MeanGainThreshold]
    assert selector_options('gain') == {'tau': 0.0}
    assert selector_options('plateau') == {'eps': 0.01}
    assert selector_options('budget') == {'m': None}
    assert repr(get_selector('budget', m=2)) == 'GainBudget(m=2)'
    assert repr(get_selector('plateau')) == 'PlateauRun(eps=0.01)'
    with pytest.raises(ValueError, match=r"unknown selector 'tau'; the "
                       r"selectors are 'gain', 'plateau', 'budget', "
                       r"'mean-gain'"):
        get_selector('tau')
    with pytest.raises(TypeError, match=r"selector 'gain' takes the "
                       r"option\(s\) \['tau'\] \(got \['eps'\]\)"):
        get_selector('gain', eps=0.1)
    with pytest.raises(ValueError, match=r"'tau' must be finite"):
        get_selector('gain', tau=float('nan'))


def test_modularity_curve():
    repeats = torch.tensor([[0.2, 0.5, 0.5, 0.7, 0.68],
                            [0.2, 0.5, 0.6, 0.7, 0.70]], dtype=torch.float64)
    curve = ModularityCurve(repeats, NAMES)
    assert curve.modularity() is repeats
    mean = curve.mean()
    assert mean.layer_names == NAMES and mean.mean() is mean
    assert mean.modularity().tolist() == pytest.approx(
        [0.2, 0.5, 0.55, 0.7, 0.69])
    with pytest.raises(ValueError, match="has 5 layers but 4 layer names"):
        ModularityCurve(repeats, NAMES[:4])
    with pytest.raises(TypeError, match=r"must be a \[L\] or \[R, L\]"):
        ModularityCurve([0.1, 0.2], ['a', 'b'])


def test_layers_to_remove():
    # Gains on the mean: -, .3, .05, .15, -.01; the second repeat gains
    # .1 at 'c' where the first gains 0.
    curve = ModularityCurve(torch.tensor([[0.2, 0.5, 0.5, 0.7, 0.68],
                                          [0.2, 0.5, 0.6, 0.7, 0.70]]),
                            NAMES)
    assert layers_to_remove(GainThreshold(0.06), curve, NAMES[1:]) == [
        'c', 'e']
    assert layers_to_remove(GainThreshold(0.06), curve, ['b', 'e']) == ['e']
    # MeanGainThreshold reads the repeats: 'c' is too noisy at one std.
    assert layers_to_remove(MeanGainThreshold(0.06, num_std=1.0), curve,
                            NAMES[1:]) == ['e']
    # Any callable of (curve, removable) works; it sees the mean curve.
    seen = []

    def last(c, removable):
        seen.append((c.modularity().dim(), removable))
        return [len(c.layer_names) - 1]

    assert layers_to_remove(last, curve, ['e']) == ['e']
    assert seen == [(1, ['e'])]
    with pytest.raises(TypeError, match="must return a list of layer "
                       "indices"):
        layers_to_remove(lambda c, r: 'e', curve, ['e'])
    with pytest.raises(ValueError, match=r"picks no removable layer on this "
                       r"curve; the mean gains of the removable layers are "
                       r"\{b: \+0.3000, d: \+0.1500\}"):
        layers_to_remove(GainThreshold(0.0), curve, ['b', 'd'])
