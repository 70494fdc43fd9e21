import math

import pytest
import torch

from pyg_dnnmod.similarity import (
    centered_gram,
    cka_from_gram,
    cka_matrix,
    gram_matrix,
    linear_cka,
)

torch.set_num_threads(1)


def textbook_cka(x, y):
    r"""Kornblith et al. (2019), feature-space form on centred features:
    ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F), in float64."""
    x = x.reshape(x.size(0), -1).double()
    y = y.reshape(y.size(0), -1).double()
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    return float(torch.linalg.matrix_norm(y.t() @ x) ** 2 /
                 (torch.linalg.matrix_norm(x.t() @ x) *
                  torch.linalg.matrix_norm(y.t() @ y)))


def test_agrees_with_textbook_on_random_features():
    gen = torch.Generator().manual_seed(0)
    for d1, d2 in ((5, 7), (40, 3), (200, 150)):
        x = torch.randn(60, d1, generator=gen, dtype=torch.float64)
        y = torch.randn(60, d2, generator=gen, dtype=torch.float64)
        y[:, :2] += x[:, :2] * 3  # some shared signal
        assert linear_cka(x, y) == pytest.approx(textbook_cka(x, y),
                                                 abs=1e-12)
        # float32 features: Gram matrices in float32, still within 1e-5.
        assert linear_cka(x.float(), y.float()) == pytest.approx(
            textbook_cka(x, y), abs=1e-5)


@pytest.mark.slow
def test_agrees_with_textbook_on_trained_layers(trained_digits):
    from pyg_dnnmod.features import extract_features
    from pyg_dnnmod.pretrained import digits_data

    model, _ = trained_digits
    x, _ = digits_data('test')
    features = list(extract_features(model, x[:200]).values())
    matrix = cka_matrix([gram_matrix(f) for f in features])
    # The feature-space form costs N * D_i * D_j; the first layers have
    # 8192 features, so it is checked on every pair with the last two
    # layers (4096 features) and between the first two once.
    pairs = [(i, j) for i in range(4) for j in (2, 3)] + [(0, 1)]
    for i, j in pairs:
        expected = textbook_cka(features[i], features[j])
        assert matrix[i, j].item() == pytest.approx(expected, abs=1e-5)
        assert matrix[j, i].item() == pytest.approx(expected, abs=1e-5)
    assert 0.2 < matrix[0, 3].item() < 0.8  # not a trivial value


def test_one_dimensional_features_give_squared_pearson():
    # For one feature per sample CKA = (x_c . y_c)^2 / (|x_c|^2 |y_c|^2),
    # the squared Pearson correlation.
    x = torch.tensor([[1.], [2.], [3.], [4.]], dtype=torch.float64)
    y = torch.tensor([[1.], [3.], [2.], [5.]], dtype=torch.float64)
    # centred: x = (-1.5, -.5, .5, 1.5), y = (-1.75, .25, -.75, 2.25):
    # x.y = 5.5, |x|^2 = 5, |y|^2 = 8.75 -> r^2 = 30.25 / 43.75
    assert linear_cka(x, y) == pytest.approx(30.25 / 43.75, abs=1e-12)


def test_invariances():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(50, 8, generator=gen, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=gen,
                                       dtype=torch.float64))
    assert linear_cka(x, 3.0 * x @ q + 7.0) == pytest.approx(1.0, abs=1e-12)
    # Not invariant to an anisotropic scaling.
    scaled = x * torch.tensor([10.0] + [1.0] * 7, dtype=torch.float64)
    assert linear_cka(x, scaled) < 0.9
    # Symmetric in its arguments.
    y = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x), abs=1e-14)


def test_centered_gram_is_gram_of_centred_features():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(20, 6, generator=gen, dtype=torch.float64) + 5.0
    centred = x - x.mean(dim=0)
    assert torch.allclose(centered_gram(gram_matrix(x)),
                          centred @ centred.t(), atol=1e-10)
    assert centered_gram(gram_matrix(torch.tensor([[0.], [2.]]))).tolist() \
        == [[1.0, -1.0], [-1.0, 1.0]]


def test_cka_matrix():
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(30, 4, generator=gen, dtype=torch.float64)
    b = torch.randn(30, 9, generator=gen, dtype=torch.float64)
    constant = torch.ones(30, 5, dtype=torch.float64)
    matrix = cka_matrix([gram_matrix(a), gram_matrix(b),
                         gram_matrix(constant)])
    assert matrix.shape == (3, 3) and matrix.dtype == torch.float64
    assert matrix[0, 0].item() == pytest.approx(1.0)
    assert matrix[0, 1].item() == pytest.approx(textbook_cka(a, b))
    assert matrix[0, 1].item() == matrix[1, 0].item()
    # CKA is undefined for features that are constant over the samples.
    assert math.isnan(matrix[2, 2].item()) and math.isnan(matrix[0, 2].item())
    assert cka_from_gram(gram_matrix(a), gram_matrix(b)) == pytest.approx(
        matrix[0, 1].item(), abs=1e-14)


def test_bad_input():
    with pytest.raises(ValueError, match='at least one Gram matrix'):
        cka_matrix([])
    with pytest.raises(ValueError, match=r'same samples \(got shapes '
                       r'\[3, 3\] and \[4, 4\]\)'):
        cka_matrix([torch.eye(3), torch.eye(4)])
    with pytest.raises(ValueError, match=r"same samples \(got 3 and 4 "
                       r"rows\)"):
        linear_cka(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match='square matrix'):
        cka_from_gram(torch.randn(3, 2), torch.randn(3, 2))
    with pytest.raises(TypeError, match="'gram' must be a torch.Tensor"):
        centered_gram([[1.0]])
