import contextlib
import math
import warnings

import numpy as np
import pytest
import torch

import pyg_dnnmod.similarity._cka as cka_module
from pyg_dnnmod.similarity import gram_matrix
from pyg_dnnmod.similarity._cka import (
    cka_from_gram,
    cka_matrix,
    linear_cka,
    minibatch_cka,
    minibatch_cka_matrix,
    unbiased_centered_gram,
)

torch.set_num_threads(1)


# Kornblith et al.'s reference (the "Reliance on Similarity" Colab of
# google-research/representation_similarity), re-typed in numpy.
def ref_gram_linear(x):
    return x.dot(x.T)


def ref_center_gram(gram, unbiased=False):
    if not np.allclose(gram, gram.T):
        raise ValueError('Input must be a symmetric matrix.')
    gram = gram.copy()
    if unbiased:
        n = gram.shape[0]
        np.fill_diagonal(gram, 0)
        means = np.sum(gram, 0, dtype=np.float64) / (n - 2)
        means -= np.sum(means) / (2 * (n - 1))
        gram -= means[:, None]
        gram -= means[None, :]
        np.fill_diagonal(gram, 0)
    else:
        means = np.mean(gram, 0, dtype=np.float64)
        means -= np.mean(means) / 2
        gram -= means[:, None]
        gram -= means[None, :]
    return gram


def ref_cka(gram_x, gram_y, debiased=False):
    gram_x = ref_center_gram(gram_x, unbiased=debiased)
    gram_y = ref_center_gram(gram_y, unbiased=debiased)
    scaled_hsic = gram_x.ravel().dot(gram_y.ravel())
    return scaled_hsic / (np.linalg.norm(gram_x) * np.linalg.norm(gram_y))


def reference(x, y, debiased):
    x = x.reshape(x.size(0), -1).double().numpy()
    y = y.reshape(y.size(0), -1).double().numpy()
    return float(ref_cka(ref_gram_linear(x), ref_gram_linear(y), debiased))


# torch-cka (AntixK/PyTorch-Model-Compare, torch_cka/cka.py): CKA._HSIC and
# the accumulation of CKA.compare, re-typed in float64.
def torch_cka_hsic(K, L):
    N = K.shape[0]
    ones = torch.ones(N, 1, dtype=K.dtype)
    result = torch.trace(K @ L)
    result += ((ones.t() @ K @ ones @ ones.t() @ L @ ones) /
               ((N - 1) * (N - 2))).item()
    result -= ((ones.t() @ K @ L @ ones) * 2 / (N - 2)).item()
    return (1 / (N * (N - 3)) * result).item()


def torch_cka_compare(layers, batch_size):
    num_samples = layers[0].size(0)
    num_batches = math.ceil(num_samples / batch_size)
    hsic_matrix = torch.zeros(len(layers), len(layers), 3,
                              dtype=torch.float64)
    for start in range(0, num_samples, batch_size):
        for i, feat1 in enumerate(layers):
            X = feat1[start:start + batch_size].flatten(1).double()
            K = X @ X.t()
            K.fill_diagonal_(0.0)
            hsic_matrix[i, :, 0] += torch_cka_hsic(K, K) / num_batches
            for j, feat2 in enumerate(layers):
                Y = feat2[start:start + batch_size].flatten(1).double()
                L = Y @ Y.t()
                L.fill_diagonal_(0)
                hsic_matrix[i, j, 1] += torch_cka_hsic(K, L) / num_batches
                hsic_matrix[i, j, 2] += torch_cka_hsic(L, L) / num_batches
    return hsic_matrix[:, :, 1] / (hsic_matrix[:, :, 0].sqrt() *
                                   hsic_matrix[:, :, 2].sqrt())


def features_with_shared_signal(num_samples, dim_x, dim_y, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(num_samples, dim_x, generator=gen, dtype=torch.float64)
    y = torch.randn(num_samples, dim_y, generator=gen, dtype=torch.float64)
    shared = min(2, dim_x, dim_y)
    y[:, :shared] += 3 * x[:, :shared]
    return x + 2.0, y - 1.0  # an offset, so that centring matters


@contextlib.contextmanager
def warns_if_dropped(dropped, num_samples):
    if dropped:
        with pytest.warns(UserWarning, match=f'leaves out the last '
                          f'{dropped} of {num_samples} samples'):
            yield
    else:
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            yield


SHAPES = [(4, 3, 2), (5, 1, 1), (7, 10, 4), (40, 5, 7), (60, 200, 150),
          (123, 30, 8)]


@pytest.mark.parametrize('num_samples,dim_x,dim_y', SHAPES)
def test_debiased_matches_kornblith_reference(num_samples, dim_x, dim_y):
    x, y = features_with_shared_signal(num_samples, dim_x, dim_y, seed=0)
    expected = reference(x, y, debiased=True)
    assert linear_cka(x, y, debiased=True) == pytest.approx(expected,
                                                            abs=1e-6)
    gx, gy = gram_matrix(x), gram_matrix(y)
    assert cka_from_gram(gx, gy, debiased=True) == pytest.approx(expected,
                                                                 abs=1e-6)
    matrix = cka_matrix([gx, gy], debiased=True)
    assert matrix[0, 1].item() == pytest.approx(expected, abs=1e-6)
    assert matrix[1, 0].item() == matrix[0, 1].item()
    assert matrix[0, 0].item() == pytest.approx(1.0, abs=1e-12)
    # The centred Gram matrix itself.
    expected_gram = ref_center_gram(gx.numpy(), unbiased=True)
    assert np.allclose(unbiased_centered_gram(gx).numpy(), expected_gram,
                       rtol=0, atol=1e-9 * np.abs(expected_gram).max())


def test_debiased_value_is_not_trivial():
    x, y = features_with_shared_signal(60, 200, 150, seed=0)
    debiased = linear_cka(x, y, debiased=True)
    biased = linear_cka(x, y)
    # D >> N inflates the plug-in estimate; the debiased one stays lower.
    assert 0.05 < debiased < biased < 0.9
    # Unrelated representations: about 0 debiased, clearly above biased.
    gen = torch.Generator().manual_seed(5)
    a = torch.randn(50, 500, generator=gen, dtype=torch.float64)
    b = torch.randn(50, 500, generator=gen, dtype=torch.float64)
    assert abs(linear_cka(a, b, debiased=True)) < 0.05
    assert linear_cka(a, b) > 0.5


@pytest.mark.parametrize('num_samples,dim_x,dim_y', SHAPES)
def test_biased_path_unchanged(num_samples, dim_x, dim_y):
    x, y = features_with_shared_signal(num_samples, dim_x, dim_y, seed=1)
    expected = reference(x, y, debiased=False)
    value = linear_cka(x, y)
    assert value == pytest.approx(expected, abs=1e-12)
    assert linear_cka(x, y, debiased=False) == value  # bit for bit
    gx, gy = gram_matrix(x), gram_matrix(y)
    assert cka_from_gram(gx, gy, debiased=False) == cka_from_gram(gx, gy)
    assert torch.equal(cka_matrix([gx, gy], debiased=False),
                       cka_matrix([gx, gy]))


def test_float32_features():
    x, y = features_with_shared_signal(80, 20, 12, seed=2)
    assert linear_cka(x.float(), y.float(), debiased=True) == pytest.approx(
        reference(x, y, debiased=True), abs=1e-5)
    assert minibatch_cka(x.float(), y.float(), batch_size=32) == \
        pytest.approx(torch_cka_compare([x, y], 32)[0, 1].item(), abs=1e-5)


def test_debiased_invariances():
    x, y = features_with_shared_signal(50, 8, 6, seed=3)
    gen = torch.Generator().manual_seed(4)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=gen,
                                       dtype=torch.float64))
    value = linear_cka(x, y, debiased=True)
    # Isotropic scaling, orthogonal rotation, translation of either side.
    assert linear_cka(3.0 * x, y, debiased=True) == pytest.approx(value,
                                                                  abs=1e-12)
    assert linear_cka(x @ q, y, debiased=True) == pytest.approx(value,
                                                                abs=1e-12)
    assert linear_cka(x, 0.5 * y - 4.0, debiased=True) == pytest.approx(
        value, abs=1e-12)
    assert linear_cka(x, 3.0 * x @ q + 7.0, debiased=True) == pytest.approx(
        1.0, abs=1e-12)
    assert linear_cka(y, x, debiased=True) == pytest.approx(value, abs=1e-14)
    # Not invariant to an anisotropic scaling.
    scaled = x * torch.tensor([10.0] + [1.0] * 7, dtype=torch.float64)
    assert linear_cka(x, scaled, debiased=True) < 0.9
    # The same invariances hold for minibatch CKA, batch by batch.
    value = minibatch_cka(x, y, batch_size=10)
    assert minibatch_cka(2.0 * x @ q + 1.0, y, batch_size=10) == \
        pytest.approx(value, abs=1e-12)


def test_unbiased_centered_gram_properties():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(9, 4, generator=gen, dtype=torch.float64)
    u = unbiased_centered_gram(gram_matrix(x))
    assert u.diagonal().tolist() == [0.0] * 9
    assert torch.allclose(u.sum(dim=0), torch.zeros(9, dtype=torch.float64),
                          atol=1e-12)
    assert torch.allclose(u, u.t(), atol=1e-12)
    # Adding a vector to every sample changes nothing.
    assert torch.allclose(unbiased_centered_gram(gram_matrix(x - 3.0)), u,
                          atol=1e-12)
    # The input is not changed, the dtype is kept.
    gram = gram_matrix(x.float())
    before = gram.clone()
    assert unbiased_centered_gram(gram).dtype == torch.float32
    assert torch.equal(gram, before)


@pytest.mark.parametrize('num_samples,batch_size', [
    (64, 16),   # equal minibatches
    (45, 16),   # a last smaller minibatch of 13 rows
    (23, 4),    # minibatches of 4 rows, the last 3 rows left out
    (30, 30),   # one minibatch
    (30, 100),  # one minibatch, batch_size > N
])
def test_minibatch_matches_torch_cka(num_samples, batch_size):
    gen = torch.Generator().manual_seed(7)
    layers = [torch.randn(num_samples, 3, 4, generator=gen,
                          dtype=torch.float64)]
    layers.append(layers[0].flatten(1)[:, :5] * 2 +
                  torch.randn(num_samples, 5, generator=gen,
                              dtype=torch.float64))
    layers.append(torch.relu(layers[1] @ torch.randn(
        5, 9, generator=gen, dtype=torch.float64)))
    layers.append(torch.randn(num_samples, 6, generator=gen,
                              dtype=torch.float64))
    dropped = num_samples % batch_size if num_samples % batch_size < 4 \
        else 0
    used = num_samples - dropped
    with warns_if_dropped(dropped, num_samples):
        matrix = minibatch_cka_matrix(layers, batch_size)
    expected = torch_cka_compare([f[:used] for f in layers], batch_size)
    assert matrix.shape == (4, 4) and matrix.dtype == torch.float64
    assert torch.allclose(matrix, expected, rtol=0, atol=1e-6)
    assert torch.equal(matrix, matrix.t())
    assert matrix.diagonal().tolist() == [1.0] * 4
    assert 0.1 < matrix[0, 1].item() < 0.9  # not a trivial value
    for i, j in ((0, 1), (1, 2), (0, 3)):
        with warns_if_dropped(dropped, num_samples):
            value = minibatch_cka(layers[i], layers[j], batch_size)
        assert value == pytest.approx(expected[i, j].item(), abs=1e-6)


@pytest.mark.parametrize('num_samples', [4, 5, 40])
def test_one_minibatch_is_debiased_cka(num_samples):
    x, y = features_with_shared_signal(num_samples, 6, 3, seed=8)
    expected = reference(x, y, debiased=True)
    # Song et al.'s unbiased HSIC (torch-cka's formula) over the full set.
    gx, gy = gram_matrix(x), gram_matrix(y)
    gx.fill_diagonal_(0)
    gy.fill_diagonal_(0)
    song = torch_cka_hsic(gx, gy) / math.sqrt(torch_cka_hsic(gx, gx) *
                                              torch_cka_hsic(gy, gy))
    assert song == pytest.approx(expected, abs=1e-9)
    assert minibatch_cka(x, y, batch_size=num_samples) == pytest.approx(
        expected, abs=1e-9)
    assert minibatch_cka(x, y, batch_size=num_samples) == pytest.approx(
        linear_cka(x, y, debiased=True), abs=1e-12)


@pytest.mark.filterwarnings('ignore:minibatch CKA leaves out')
def test_minibatch_gram_count(monkeypatch):
    calls = []

    def counting_gram(x, *args, **kwargs):
        calls.append(x.size(0))
        return gram_matrix(x, *args, **kwargs)

    monkeypatch.setattr(cka_module, 'gram_matrix', counting_gram)
    layers = [torch.randn(50, 3) for _ in range(5)]
    minibatch_cka_matrix(layers, batch_size=16)
    # 50 = 3 * 16 + 2, the last 2 left out: 5 layers x 3 minibatches.
    assert calls == [16] * 15


def test_constant_layer_gives_nan():
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(30, 4, generator=gen, dtype=torch.float64)
    for constant in (torch.zeros(30, 3), torch.full((30, 3), 7.7),
                     torch.full((30, 3), 0.3, dtype=torch.float64)):
        assert math.isnan(linear_cka(x, constant, debiased=True))
        assert math.isnan(minibatch_cka(x, constant, batch_size=10))
        matrix = minibatch_cka_matrix([x, constant], batch_size=10)
        assert matrix[0, 0].item() == 1.0
        assert all(math.isnan(v) for v in matrix.view(-1).tolist()[1:])
        assert math.isnan(cka_matrix([gram_matrix(constant)],
                                     debiased=True).item())


def test_bad_input():
    x = torch.randn(10, 3)
    with pytest.raises(ValueError, match=r"'gram' must hold at least 4 "
                       r"samples for the unbiased HSIC estimator \(got "
                       r"N=3\)"):
        unbiased_centered_gram(torch.eye(3))
    with pytest.raises(ValueError, match=r"'x' must hold at least 4 "
                       r"samples .*\(got N=3\)"):
        linear_cka(torch.randn(3, 2), torch.randn(3, 5), debiased=True)
    with pytest.raises(ValueError, match=r"'gram_x' must hold at least 4 "
                       r"samples .*\(got N=2\)"):
        cka_from_gram(torch.eye(2), torch.eye(2), debiased=True)
    with pytest.raises(ValueError, match=r"'grams' must hold at least 4 "
                       r"samples .*\(got N=1\)"):
        cka_matrix([torch.eye(1)], debiased=True)
    # The biased estimator keeps working for small N.
    assert linear_cka(torch.tensor([[0.], [1.]]),
                      torch.tensor([[0.], [2.]])) == pytest.approx(1.0)
    with pytest.raises(TypeError, match=r"'debiased' must be a bool "
                       r"\(got 'yes'\)"):
        linear_cka(x, x, debiased='yes')
    with pytest.raises(TypeError, match=r"'debiased' must be a bool "
                       r"\(got 1\)"):
        cka_matrix([gram_matrix(x)], debiased=1)
    with pytest.raises(TypeError, match="'gram' must be a torch.Tensor"):
        unbiased_centered_gram([[1.0]])

    with pytest.raises(ValueError, match=r"'x' and 'y' must hold the same "
                       r"samples \(got 10 and 9 rows\)"):
        minibatch_cka(x, torch.randn(9, 3), batch_size=4)
    with pytest.raises(ValueError, match=r"'batch_size' must be at least 4"
                       r".*\(got 3\)"):
        minibatch_cka(x, x, batch_size=3)
    with pytest.raises(TypeError, match=r"'batch_size' must be an int "
                       r"\(got 8.0\)"):
        minibatch_cka(x, x, batch_size=8.0)
    with pytest.raises(TypeError, match=r"'batch_size' must be an int "
                       r"\(got True\)"):
        minibatch_cka(x, x, batch_size=True)
    with pytest.raises(ValueError, match=r"'x' must hold at least 4 samples "
                       r".*\(got N=3\)"):
        minibatch_cka(x[:3], x[:3], batch_size=4)
    with pytest.raises(TypeError, match=r"'y' must be a torch.Tensor "
                       r"\(got list\)"):
        minibatch_cka(x, [[1.0]], batch_size=4)
    with pytest.raises(ValueError, match="'x' contains NaN or Inf"):
        minibatch_cka(torch.full((5, 2), math.nan), x[:5], batch_size=4)

    with pytest.raises(ValueError, match=r"'features' must hold at least "
                       r"one layer \(got an empty sequence\)"):
        minibatch_cka_matrix([], batch_size=4)
    with pytest.raises(TypeError, match=r"'features' must be a sequence of "
                       r"tensors, one per layer \(got int\)"):
        minibatch_cka_matrix(3, batch_size=4)
    with pytest.raises(TypeError, match=r"\(got dict; pass "
                       r"list\(features.values\(\)\)\)"):
        minibatch_cka_matrix({'conv1': x}, batch_size=4)
    with pytest.raises(TypeError, match=r"'features\[1\]' must be a "
                       r"torch.Tensor \(got str\)"):
        minibatch_cka_matrix([x, 'conv1'], batch_size=4)
    with pytest.raises(ValueError, match=r"same samples \(got 10 rows in "
                       r"features\[0\] and 12 in features\[2\]\)"):
        minibatch_cka_matrix([x, x, torch.randn(12, 3)], batch_size=4)
    with pytest.raises(ValueError, match=r"'batch_size' must be at least 4"):
        minibatch_cka_matrix([x], batch_size=0)


def test_device(device):
    x, y = features_with_shared_signal(40, 6, 5, seed=10)
    expected = minibatch_cka_matrix([x, y], batch_size=12)
    on_device = minibatch_cka_matrix([x.to(device), y.to(device)],
                                     batch_size=12)
    assert torch.allclose(on_device, expected, rtol=0, atol=1e-12)
    assert linear_cka(x.to(device), y.to(device), debiased=True) == \
        pytest.approx(reference(x, y, debiased=True), abs=1e-12)
