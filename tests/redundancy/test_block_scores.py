import math

import pytest
import torch

from pyg_dnnmod.redundancy import (
    angular_distance,
    block_influence,
    token_cosine,
)


def dense_block_influence(a, b, mask):
    # The textbook form as public code writes it: the full (T x T) cosine
    # matrix of all tokens, its diagonal read at the real tokens.
    a = a.reshape(-1, a.size(-1)).double()
    b = b.reshape(-1, b.size(-1)).double()
    sim = (a / a.norm(dim=1, keepdim=True)) @ (
        b / b.norm(dim=1, keepdim=True)).t()
    keep = mask.reshape(-1).bool()
    return 1.0 - float(sim.diagonal()[keep].mean())


def test_block_influence_equals_dense_formula():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(3, 7, 16, generator=gen)
    b = a + 0.5 * torch.randn(3, 7, 16, generator=gen)
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[0, 5:] = 0
    mask[2, 3:] = 0
    ours = block_influence(a, b, mask)
    assert ours == pytest.approx(dense_block_influence(a, b, mask),
                                 abs=1e-7)
    assert ours > 0.05


def test_padding_is_ignored():
    # Three sequences of lengths 5, 7 and 2: scored one by one, and in one
    # right-padded batch whose padding holds arbitrary states.
    gen = torch.Generator().manual_seed(1)
    lengths = [5, 7, 2]
    seqs_a = [torch.randn(n, 8, generator=gen) for n in lengths]
    seqs_b = [s + torch.randn(s.shape, generator=gen) for s in seqs_a]
    a = 100 * torch.randn(3, 7, 8, generator=gen)
    b = -100 * torch.randn(3, 7, 8, generator=gen)
    mask = torch.zeros(3, 7, dtype=torch.bool)
    for i, n in enumerate(lengths):
        a[i, :n], b[i, :n], mask[i, :n] = seqs_a[i], seqs_b[i], True
    flat_a, flat_b = torch.cat(seqs_a), torch.cat(seqs_b)
    assert block_influence(a, b, mask) == pytest.approx(
        block_influence(flat_a, flat_b), abs=1e-7)
    assert angular_distance(a, b, mask) == pytest.approx(
        angular_distance(flat_a, flat_b), abs=1e-7)
    assert token_cosine(a, b, mask).tolist() == pytest.approx(
        token_cosine(flat_a, flat_b).tolist(), abs=1e-7)


def test_hand_computed_values():
    a = torch.tensor([[1., 0.], [0., 1.], [1., 1.], [0., 0.]])
    b = torch.tensor([[1., 0.], [1., 0.], [-1., -1.], [1., 0.]])
    # cosines 1, 0, -1 and 0 for the zero state (norm clamped to 1e-8)
    assert token_cosine(a, b).tolist() == pytest.approx([1., 0., -1., 0.],
                                                        abs=1e-6)
    assert block_influence(a, b) == pytest.approx(1.0, abs=1e-7)
    assert angular_distance(a, b) == pytest.approx(
        (0 + 0.5 + 1 + 0.5) / 4, abs=1e-6)
    assert angular_distance(a, a[[0, 0, 0, 0]]) == pytest.approx(
        (0 + 0.5 + 0.25 + 0.5) / 4, abs=1e-6)
    assert math.isclose(block_influence(a[:3], a[:3]), 0.0, abs_tol=1e-7)


def test_bad_input():
    a = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"'hidden_a' and 'hidden_b' must "
                                         r"have the same shape"):
        block_influence(a, a[:, :2])
    with pytest.raises(ValueError, match=r"'attention_mask' must have shape "
                                         r"\(2, 3\) \(got \(2, 4\)\)"):
        block_influence(a, a, torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"'attention_mask' needs \[B, S, "
                                         r"D\] token states"):
        block_influence(a[0], a[0], torch.ones(3, 4))
    with pytest.raises(ValueError, match=r"'hidden_a' must be \[B, S, D\]"):
        block_influence(torch.randn(4), torch.randn(4))
    with pytest.raises(TypeError, match=r"'hidden_b' must be a Tensor"):
        angular_distance(a, [1.0])
    bad = a.clone()
    bad[0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match=r"'hidden_b' contains NaN"):
        block_influence(a, bad)
