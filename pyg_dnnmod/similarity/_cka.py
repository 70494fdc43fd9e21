r"""Linear centred kernel alignment (CKA) between layers, from Gram matrices.

Lu et al. (ECCV 2022, section 5.1) set the modularity difference of two
layers beside their linear CKA (Kornblith et al., ICML 2019). CKA is a
function of the two layers' Gram matrices over the same samples, so it is
computed here from :math:`\mathbf{K} = \mathbf{X}\mathbf{X}^{\top}`, the
matrix a k-NN snapshot needs anyway (see :mod:`pyg_dnnmod.similarity`).
"""
import math
from typing import List, Sequence

import torch
from torch import Tensor

from pyg_dnnmod.similarity._gram import _check_gram, gram_matrix


def centered_gram(gram: Tensor) -> Tensor:
    r"""Centres a Gram matrix in feature space, :math:`\mathbf{H}
    \mathbf{K} \mathbf{H}` with :math:`\mathbf{H} = \mathbf{I} -
    \frac{1}{N}\mathbf{1}\mathbf{1}^{\top}`, which is the Gram matrix of the
    features after subtracting their mean over the samples:

    .. math::
        (\mathbf{H}\mathbf{K}\mathbf{H})_{ij} = K_{ij} - \bar{K}_{i\cdot}
        - \bar{K}_{\cdot j} + \bar{K}_{\cdot\cdot}.

    The means are accumulated in float64.

    Args:
        gram (torch.Tensor): :math:`\mathbf{K}` :math:`[N, N]`, symmetric.

    Returns:
        torch.Tensor: :math:`\mathbf{H}\mathbf{K}\mathbf{H}` :math:`[N, N]`
        in the dtype of :obj:`gram`.

    Example:
        >>> x = torch.tensor([[0.], [2.]])
        >>> centered_gram(gram_matrix(x))
        tensor([[ 1., -1.],
                [-1.,  1.]])
    """
    _check_gram(gram)
    num_nodes = gram.size(0)
    row_mean = gram.sum(dim=1, dtype=torch.float64) / max(num_nodes, 1)
    total_mean = row_mean.sum() / max(num_nodes, 1)
    row_mean = row_mean.to(gram.dtype)
    # K is symmetric, so column means equal row means.
    out = gram - row_mean.unsqueeze(1)
    out -= row_mean.unsqueeze(0)
    out += total_mean.to(gram.dtype)
    return out


def _unit_centered(gram: Tensor) -> Tensor:
    r""":math:`\mathbf{H}\mathbf{K}\mathbf{H} / \|\mathbf{H}\mathbf{K}
    \mathbf{H}\|_F`, or NaN everywhere when the features are constant over
    the samples (CKA is undefined then)."""
    centred = centered_gram(gram)
    norm = math.sqrt(_inner(centred, centred))
    if norm == 0.0:
        return torch.full_like(centred, math.nan)
    return centred.div_(norm)


def _inner(a: Tensor, b: Tensor) -> float:
    r""":math:`\langle \mathbf{A}, \mathbf{B} \rangle_F` accumulated in
    float64 over chunks of rows, so that no float64 copy of a whole
    :math:`N \times N` matrix is made."""
    step = max(1, 2**20 // max(1, a.size(1)))
    total = 0.0
    for start in range(0, a.size(0), step):
        total += float((a[start:start + step].double() *
                        b[start:start + step].double()).sum())
    return total


def cka_from_gram(gram_x: Tensor, gram_y: Tensor) -> float:
    r"""Linear CKA of two representations of the same :math:`N` samples
    from their Gram matrices (Kornblith et al., `"Similarity of Neural
    Network Representations Revisited" <https://arxiv.org/abs/1905.00414>`_),

    .. math::
        \mathrm{CKA}(\mathbf{K}, \mathbf{L}) =
        \frac{\langle \mathbf{H}\mathbf{K}\mathbf{H},
        \mathbf{H}\mathbf{L}\mathbf{H} \rangle_F}
        {\|\mathbf{H}\mathbf{K}\mathbf{H}\|_F\,
        \|\mathbf{H}\mathbf{L}\mathbf{H}\|_F},

    which for linear kernels :math:`\mathbf{K} = \mathbf{X}\mathbf{X}^{\top}`,
    :math:`\mathbf{L} = \mathbf{Y}\mathbf{Y}^{\top}` equals the
    feature-space form :math:`\|\mathbf{Y}^{\top}\mathbf{X}\|_F^2 /
    (\|\mathbf{X}^{\top}\mathbf{X}\|_F \|\mathbf{Y}^{\top}\mathbf{Y}\|_F)`
    on centred features. NaN when either representation is constant over
    the samples.

    Args:
        gram_x (torch.Tensor): :math:`\mathbf{K}` :math:`[N, N]`.
        gram_y (torch.Tensor): :math:`\mathbf{L}` :math:`[N, N]`.

    Returns:
        float: The CKA, in :math:`[0, 1]`.

    Example:
        >>> x = torch.randn(20, 5)
        >>> round(cka_from_gram(gram_matrix(x), gram_matrix(3 * x + 1)), 6)
        1.0
    """
    _check_gram(gram_y)
    if gram_x.shape != gram_y.shape:
        raise ValueError(f"'gram_x' and 'gram_y' must be over the same "
                         f"samples (got shapes {list(gram_x.shape)} and "
                         f"{list(gram_y.shape)})")
    return _inner(_unit_centered(gram_x), _unit_centered(gram_y))


def linear_cka(x: Tensor, y: Tensor) -> float:
    r"""Linear CKA between two representations :math:`\mathbf{X}`
    :math:`[N, D_1]` and :math:`\mathbf{Y}` :math:`[N, D_2]` of the same
    :math:`N` samples, computed from their Gram matrices; see
    :func:`cka_from_gram`.

    Args:
        x (torch.Tensor): :math:`[N, D_1]` (or :math:`[N, *]`, flattened).
        y (torch.Tensor): :math:`[N, D_2]`.

    Example:
        >>> x = torch.randn(50, 8)
        >>> q, _ = torch.linalg.qr(torch.randn(8, 8))
        >>> round(linear_cka(x, x @ q), 6)  # invariant to rotations
        1.0
    """
    gram_x, gram_y = gram_matrix(x), gram_matrix(y)
    if gram_x.shape != gram_y.shape:
        raise ValueError(f"'x' and 'y' must hold the same samples (got "
                         f"{gram_x.size(0)} and {gram_y.size(0)} rows)")
    return cka_from_gram(gram_x, gram_y)


def cka_matrix(grams: Sequence[Tensor]) -> Tensor:
    r"""The linear CKA of every pair of layers, from their Gram matrices
    over the same samples (:math:`L` matrices :math:`[N, N]`).

    Every matrix is centred and scaled to unit Frobenius norm once; entry
    :math:`(i, j)` is then the inner product of two of them.

    Args:
        grams ([torch.Tensor]): The Gram matrices, one per layer.

    Returns:
        torch.Tensor: The symmetric CKA matrix :math:`[L, L]` (float64),
        with ones on the diagonal (NaN for a layer that is constant over the
        samples).

    Example:
        >>> x = torch.randn(30, 4)
        >>> cka_matrix([gram_matrix(x), gram_matrix(2 * x)]).round(decimals=6)
        tensor([[1., 1.],
                [1., 1.]], dtype=torch.float64)
    """
    grams = list(grams)
    if not grams:
        raise ValueError("'grams' must hold at least one Gram matrix "
                         "(got an empty sequence)")
    for gram in grams:
        _check_gram(gram)
        if gram.shape != grams[0].shape:
            raise ValueError(f"all Gram matrices must be over the same "
                             f"samples (got shapes {list(grams[0].shape)} "
                             f"and {list(gram.shape)})")
    return cka_matrix_from_unit([_unit_centered(g) for g in grams])


def cka_matrix_from_unit(units: List[Tensor]) -> Tensor:
    r"""The CKA matrix from centred Gram matrices of unit norm (see
    :func:`cka_matrix`)."""
    num = len(units)
    out = torch.empty(num, num, dtype=torch.float64)
    for i in range(num):
        for j in range(i, num):
            out[i, j] = out[j, i] = _inner(units[i], units[j])
    return out
