r"""The synthetic data has a difficulty: its curves are not pinned at the
10-class maximum 0.9, and no classifier separates it perfectly."""
import math

import pytest
import torch
from scipy.integrate import quad
from scipy.stats import norm

from pyg_dnnmod.datasets import load_dataset
from pyg_dnnmod.datasets.images import make_gaussian_images
from pyg_dnnmod.utils import knn_graph, modularity


def _pixels(data):
    r"""The images as a model sees them (normalised), one row each."""
    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    return ((data.inputs - mean) / std).flatten(1)


def _bayes_accuracy(s, classes=10):
    r"""P(nearest class mean is right) for orthogonal means s e_c and unit
    Gaussian noise: E_n[Phi(n + s)^(C - 1)]."""
    return quad(lambda n: norm.pdf(n) * norm.cdf(n + s)**(classes - 1),
                -12, 12)[0]


def test_default_is_in_zero_one_with_its_normalisation():
    data = load_dataset('synthetic')
    assert data.inputs.shape == (1000, 3, 32, 32)
    assert float(data.inputs.min()) >= 0.0 and float(data.inputs.max()) <= 1
    assert data.mean == (0.5, 0.5, 0.5) and data.std == (0.125,) * 3
    assert data.info == dict(separation=3.0, grid=4, seed=0, template_seed=0)
    assert torch.bincount(data.labels).tolist() == [100] * 10
    again = load_dataset('synthetic')
    assert torch.equal(again.inputs, data.inputs)


def test_raw_pixels_are_far_from_the_maximum():
    data = load_dataset('synthetic')
    x, y = _pixels(data)[:500], data.labels[:500]
    edge_index, edge_weight = knn_graph(x, k=3)
    q = modularity(edge_index, y, edge_weight, num_nodes=500)
    # 0.9 = 1 - 1/10 before: every neighbour in its own class.
    assert 0.2 < q < 0.7


@pytest.mark.parametrize('separation', [1.0, 3.0, 5.0])
def test_separation_sets_what_the_best_classifier_reaches(separation):
    train = load_dataset('synthetic', split='train',
                         separation=separation)
    test = load_dataset('synthetic', separation=separation)
    a, b = _pixels(train), _pixels(test)
    # The splits share their class patterns: nearest class mean of the
    # training split, a classifier close to the best one.
    means = torch.stack([a[train.labels == c].mean(0) for c in range(10)])
    acc = float((torch.cdist(b, means).argmin(1) == test.labels)
                .float().mean())
    bayes = _bayes_accuracy(separation)  # 0.34, 0.90, 0.998
    # Means estimated from 100 samples per class cost a few points.
    assert bayes - 0.1 < acc <= bayes + 3 * math.sqrt(bayes * (1 - bayes)
                                                      / 1000) + 0.005


def test_a_random_resnet_curve_varies_over_depth():
    from pyg_dnnmod.experiments import modularity_curves
    from pyg_dnnmod.pretrained import load_model

    data = load_dataset('synthetic')
    model, _ = load_model('resnet20', data, random_init=True, seed=0)
    df = modularity_curves({'random': model}, data.inputs, data.labels,
                           num_samples=100, k=3, repeats=1)
    q = df['modularity']
    assert len(q) == 10
    assert q.max() < 0.8  # was 0.900 at every layer
    assert q.max() - q.min() > 0.05


def test_the_splits_share_patterns_not_noise():
    a, ya = make_gaussian_images(200, 4, (1, 8, 8), separation=4.0, seed=0)
    b, yb = make_gaussian_images(200, 4, (1, 8, 8), separation=4.0, seed=1)
    assert torch.equal(ya, yb) and not torch.equal(a, b)
    ma = torch.stack([a[ya == c].mean(0).flatten() for c in range(4)])
    mb = torch.stack([b[yb == c].mean(0).flatten() for c in range(4)])
    ma, mb = ma - ma.mean(0), mb - mb.mean(0)
    corr = torch.corrcoef(torch.cat([ma, mb]))[:4, 4:]
    # Each class pattern matches its own class across the splits.
    assert corr.argmax(dim=1).tolist() == [0, 1, 2, 3]
    assert float(corr.diagonal().min()) > 0.8
    other = make_gaussian_images(200, 4, (1, 8, 8), separation=4.0, seed=0,
                                 template_seed=1)[0]
    assert not torch.equal(other, a)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(separation=-1.0), ValueError,
     r"'separation' must be a finite number >= 0 \(got -1.0\)"),
    (dict(separation=float('nan')), ValueError,
     r"'separation' must be a finite number >= 0 \(got nan\)"),
    (dict(separation=True), ValueError,
     r"'separation' must be a finite number >= 0 \(got True\)"),
    (dict(name='digits', separation=2.0), ValueError,
     r"'separation' is for name=synthetic only; name=digits"),
    (dict(shape=(1, 2, 2)), ValueError,
     r"'shape' \(1, 2, 2\) with grid=4 gives a latent space of 4 "
     r"dimensions, fewer than the 10 classes"),
])
def test_bad_difficulty(kwargs, error, match):
    kwargs = dict(dict(name='synthetic'), **kwargs)
    with pytest.raises(error, match=match):
        load_dataset(**kwargs)


@pytest.mark.slow
def test_one_epoch_of_training_is_far_from_perfect():
    from pyg_dnnmod.models import build_model
    from pyg_dnnmod.pretrained import train_config
    from pyg_dnnmod.training import train

    shape = (1, 16, 16)
    train_data = load_dataset('synthetic', split='train', shape=shape)
    test_data = load_dataset('synthetic', shape=shape)
    model = build_model('digits_cnn', data=train_data, seed=0)
    config = train_config('digits', epochs=1, eval_train_at_start=False)
    history = train(model, train_data.as_data(), test_data.as_data(), config,
                    device='cpu', progress=False)
    # Was 100 % after one epoch; the best classifier reaches about 90 %.
    assert history['test_acc'].iloc[-1] < 0.8
    assert history['train_acc'].iloc[-1] < 0.8
