import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import nn

from pyg_dnnmod import layer_graphs
from pyg_dnnmod.experiments.probes import (
    PROBE_COLUMNS,
    linear_probes,
    probe_accuracy,
)
from pyg_dnnmod.plotting import plot_linear_probes

torch.set_num_threads(1)


def sklearn_probe(x, y, train, test, C=1.0):
    r"""The textbook probe: StandardScaler + LogisticRegression on all D
    features."""
    x, y = x.double().numpy(), y.numpy()
    scaler = StandardScaler().fit(x[train])
    model = LogisticRegression(C=C, max_iter=5000).fit(
        scaler.transform(x[train]), y[train])
    return (model.score(scaler.transform(x[train]), y[train]),
            model.score(scaler.transform(x[test]), y[test]))


@pytest.mark.parametrize('dim', [5, 300])
def test_probe_matches_sklearn_on_all_features(dim):
    # D = 300 > n = 60 training samples: the probe is fitted in the span of
    # the training samples, which is the same optimisation problem.
    gen = torch.Generator().manual_seed(dim)
    y = torch.arange(120) % 3
    centers = torch.randn(3, dim, generator=gen) * 0.6
    x = centers[y] + torch.randn(120, dim, generator=gen)
    train, test = np.arange(0, 120, 2), np.arange(1, 120, 2)
    for C in (0.01, 1.0):
        got = probe_accuracy(x, y, train, test, C=C)
        assert got['converged']
        assert (got['train_acc'], got['test_acc']) == pytest.approx(
            sklearn_probe(x, y, train, test, C), abs=1 / 60 + 1e-9)


def test_probe_hand_computed():
    x = torch.tensor([[0.], [1.], [2.], [10.], [11.], [12.]])
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    out = probe_accuracy(x, y, np.array([0, 2, 3, 5]), np.array([1, 4]))
    assert out == {'train_acc': 1.0, 'test_acc': 1.0, 'converged': True}
    # Labels the probe cannot separate linearly: [0, 1, 0] on a line.
    x = torch.tensor([[0.], [1.], [2.], [0.1], [1.1], [2.1]])
    y = torch.tensor([0, 1, 0, 0, 1, 0])
    out = probe_accuracy(x, y, np.array([0, 1, 2]), np.array([3, 4, 5]))
    assert out['train_acc'] == pytest.approx(2 / 3)


def test_probes_on_the_default(trained_digits):
    from pyg_dnnmod.pretrained import digits_data
    model, _ = trained_digits
    x, y = digits_data('test')
    df = linear_probes(model, x, y, num_samples=300, seed=1)
    assert df.columns.tolist() == list(PROBE_COLUMNS)
    assert df['layer'].tolist() == ['features.0', 'features.3',
                                    'features.7', 'features.10']
    assert df['num_features'].tolist() == [8192, 8192, 4096, 4096]
    reference = layer_graphs(model, x, y, k=3, num_samples=300, seed=1)
    assert df['modularity'].tolist() == pytest.approx(
        reference.modularity().tolist(), abs=1e-6)
    assert df.attrs['num_train'] == 150 and df.attrs['num_test'] == 150
    # Class information becomes linearly readable with depth, as the
    # modularity says.
    test_acc = df['probe_test_acc'].tolist()
    assert test_acc[-1] > 0.9 and test_acc[0] < 0.6
    rho = spearmanr(df['modularity'], df['probe_test_acc'])[0]
    assert df['spearman'].unique().tolist() == pytest.approx([rho])
    assert rho > 0.5
    fig = plot_linear_probes(df, 'cnn', 'digits')
    assert f'{rho:.3f}' in fig.axes[0].get_title()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == \
        df['layer'].tolist()


def test_small_model_split_is_stratified():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16))
    x, y = torch.randn(90, 6), torch.arange(90) % 3
    df = linear_probes(model, x, y, num_samples=60, test_fraction=0.25)
    assert df.attrs['num_test'] == 15 and df.attrs['num_train'] == 45
    assert df['layer'].tolist() == ['0', '2']


def test_bad_input():
    model = nn.Sequential(nn.Linear(6, 4))
    x, y = torch.randn(40, 6), torch.arange(40) % 4
    with pytest.raises(ValueError, match=r"'test_fraction' must lie strictly "
                       r"between 0 and 1 \(got 1.0\)"):
        linear_probes(model, x, y, num_samples=20, test_fraction=1.0)
    with pytest.raises(ValueError, match=r"'C' must be a positive number "
                       r"\(got 0\)"):
        linear_probes(model, x, y, num_samples=20, C=0)
    with pytest.raises(ValueError, match=r"'max_iter' must be an integer "
                       r">= 1 \(got 0\)"):
        linear_probes(model, x, y, num_samples=20, max_iter=0)
    with pytest.raises(ValueError, match='stratified split needs at least 2 '
                       'samples per class'):
        linear_probes(model, x, y, num_samples=4, k=2)
    with pytest.raises(ValueError, match='k=8 for N=8'):
        linear_probes(model, x, y, num_samples=8, k=8)
