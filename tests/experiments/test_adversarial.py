import json
import warnings

import pytest
import torch
from torch import nn

from pyg_dnnmod import layer_graphs
from pyg_dnnmod.experiments.adversarial import (
    ADVERSARIAL_COLUMNS,
    adversarial_curves,
)
from pyg_dnnmod.plotting import plot_adversarial_curves

torch.set_num_threads(1)


def small_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(144, 3))


def small_data(model, n=90):
    x = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x).argmax(dim=1)
    return x, y


def test_fgsm_and_pgd_peak_lower_than_clean(trained_digits, tmp_path):
    r"""Issue 5 acceptance (the paper's Fig. 6a finding) on the embedded
    default, small settings."""
    from pyg_dnnmod.pretrained import digits_data
    model, _ = trained_digits
    x, y = digits_data('test')
    curves, summary = adversarial_curves(
        model, x, y, attacks=['fgsm', 'pgd'], num_samples=100,
        cache_dir=tmp_path)
    assert curves.columns.tolist() == list(ADVERSARIAL_COLUMNS)
    peak = curves.groupby('set')['modularity'].max()
    assert peak['fgsm'] < peak['clean'] - 0.1
    assert peak['pgd'] < peak['clean'] - 0.1
    assert summary['set'].tolist() == ['clean', 'fgsm', 'pgd']
    assert summary.set_index('set')['peak_modularity'].to_dict() == \
        pytest.approx(peak.to_dict())
    rows = summary.set_index('set')
    assert rows.loc['fgsm', 'success_rate'] > 0.5
    assert rows.loc['pgd', 'num_collected'] == 100
    assert json.loads(rows.loc['fgsm', 'params'])['eps'] == 0.3
    # The clean curve is that of layer_graphs on the same draw.
    clean = layer_graphs(model, x, y, num_samples=100, seed=0)
    assert curves[curves['set'] == 'clean']['modularity'].tolist() == \
        pytest.approx(clean.modularity().tolist())
    fig = plot_adversarial_curves(curves, summary, 'cnn', 'digits')
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert labels[0] == 'clean' and labels[1].startswith('fgsm (success')


def test_curves_of_adversarial_sets_and_cache(tmp_path):
    from pyg_dnnmod.adversarial import adversarial_examples
    model = small_model()
    x, y = small_data(model)
    kwargs = dict(attacks=['fgsm'], num_samples=30, layers=nn.Conv2d,
                  params={'fgsm': {'eps': 0.5}}, balanced=False,
                  cache_dir=tmp_path)
    curves, summary = adversarial_curves(model, x, y, **kwargs)
    assert curves['set'].tolist() == ['clean', 'fgsm']
    assert summary['num_collected'].tolist() == [30, 30]
    assert summary.loc[1, 'linf_max'] == pytest.approx(0.5)
    # The adversarial curve is that of the set's own snapshots, with the
    # true labels.
    adv = adversarial_examples(model, x, y, 'fgsm', num_samples=30,
                               eps=0.5, progress=False)
    expected = layer_graphs(model, adv.x_adv, adv.y, layers=nn.Conv2d)
    assert curves.loc[1, 'modularity'] == pytest.approx(
        float(expected.modularity()[0]))
    # A second run reads the cached set.
    assert len(list(tmp_path.iterdir())) == 1
    again, summary_again = adversarial_curves(model, x, y, **kwargs)
    assert again.equals(curves)
    assert summary_again.loc[1, 'seconds'] == summary.loc[1, 'seconds']


def test_failed_attack_gives_no_curve():
    # A model that always predicts class 0: every sample of class 0 is
    # classified correctly and no attack can change the prediction.
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(72, 2))
    with torch.no_grad():
        model[2].weight.zero_()
        model[2].bias.copy_(torch.tensor([1.0, 0.0]))
    x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.zeros(40, dtype=torch.long)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        curves, summary = adversarial_curves(model, x, y, attacks=['fgsm'],
                                             num_samples=20, balanced=False)
    assert curves['set'].unique().tolist() == ['clean']
    row = summary.set_index('set').loc['fgsm']
    assert row['num_collected'] == 0 and row['success_rate'] == 0.0
    assert 'failed on every one' in row['note'] and 'no curve' in row['note']
    assert any('no curve' in str(w.message) for w in caught)


def test_bad_input():
    model = small_model()
    x, y = small_data(model, n=30)
    with pytest.raises(ValueError, match="'attacks' must name attacks among"):
        adversarial_curves(model, x, y, attacks=['deepfool'],
                           num_samples=10)
    with pytest.raises(ValueError, match=r"'params' names attacks that are "
                       r"not run \['pgd'\]"):
        adversarial_curves(model, x, y, attacks=['fgsm'], num_samples=10,
                           params={'pgd': {'eps': 0.1}})
    with pytest.raises(ValueError, match='more than once'):
        adversarial_curves(model, x, y, attacks=['fgsm', 'FGSM'],
                           num_samples=10)
    with pytest.raises(ValueError, match='k=10 for N=10'):
        adversarial_curves(model, x, y, attacks=['fgsm'], num_samples=10,
                           k=10)
    with pytest.raises(ValueError, match=r"'num_samples' \(31\) exceeds"):
        adversarial_curves(model, x, y, attacks=['fgsm'], num_samples=31)
    with pytest.raises(ValueError, match=r"must lie in \[clip_min, "
                       r"clip_max\] = \[0.0, 1.0\] for attack 'fgsm'"):
        adversarial_curves(model, x * 2, y, attacks=['fgsm'],
                           num_samples=10, balanced=False)
    with pytest.raises(ValueError, match="Unknown parameter 'epsilon'"):
        adversarial_curves(model, x, y, attacks=['fgsm'], num_samples=10,
                           params={'fgsm': {'epsilon': 0.1}},
                           balanced=False)


def test_calibrated_curves_add_the_null_per_set(tmp_path):
    from pyg_dnnmod.adversarial import adversarial_examples
    from pyg_dnnmod.snapshots import CALIBRATION_COLUMNS
    from pyg_dnnmod.utils import modularity_null

    model = small_model()
    x, y = small_data(model)
    kwargs = dict(attacks=['fgsm'], num_samples=30, layers=nn.Conv2d,
                  params={'fgsm': {'eps': 0.5}}, balanced=False,
                  cache_dir=tmp_path)
    plain, _ = adversarial_curves(model, x, y, **kwargs)
    curves, _ = adversarial_curves(model, x, y, calibrate=True,
                                   num_permutations=300, **kwargs)
    assert curves.columns.tolist() == list(ADVERSARIAL_COLUMNS) + list(
        CALIBRATION_COLUMNS)
    assert curves['modularity'].tolist() == pytest.approx(
        plain['modularity'].tolist(), abs=1e-9)
    adv = adversarial_examples(model, x, y, 'fgsm', num_samples=30,
                               eps=0.5, progress=False)
    data = layer_graphs(model, adv.x_adv, adv.y, layers=nn.Conv2d)[0]
    null = modularity_null(data.edge_index, data.y, data.edge_weight,
                           num_permutations=300)
    row = curves[curves['set'] == 'fgsm'].iloc[0]
    assert row['q_null_mean'] == pytest.approx(null.expected, abs=1e-9)
    assert row['z'] == pytest.approx(null.z, rel=1e-6)
    assert row['p'] == null.p
    fig = plot_adversarial_curves(curves)
    assert any(label.startswith('chance') for label in
               fig.axes[0].get_legend_handles_labels()[1])
    with pytest.raises(TypeError, match="'calibrate' must be a bool"):
        adversarial_curves(model, x, y, calibrate='yes', **kwargs)
