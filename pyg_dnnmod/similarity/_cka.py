r"""Centred kernel alignment (CKA) between layers, from Gram matrices.

Lu et al. (ECCV 2022, section 5.1) set the modularity difference of two
layers beside their linear CKA (Kornblith et al., ICML 2019). CKA is a
function of the two layers' Gram matrices over the same samples, so it is
computed here from :math:`\mathbf{K} = \mathbf{X}\mathbf{X}^{\top}`, the
matrix a k-NN snapshot needs anyway (see :mod:`pyg_dnnmod.similarity`).

Three estimators share those Gram matrices: the biased (plug-in) linear CKA
of Kornblith et al., the debiased one built on the unbiased HSIC estimator
of Song et al. (:obj:`debiased=True`), and the minibatch CKA of Nguyen et
al. (ICLR 2021), which sums unbiased HSIC over minibatches
(:func:`minibatch_cka`, :func:`minibatch_cka_matrix`).
"""
import math
import warnings
from typing import List, Mapping, Sequence, Tuple

import torch
from torch import Tensor

from pyg_dnnmod.similarity._gram import _check_gram, gram_matrix
from pyg_dnnmod.utils.knn_kernel import check_features

# The unbiased HSIC estimator divides by N (N - 3) and N - 2.
_MIN_SAMPLES = 4
# A U-centred Gram matrix below this many machine epsilons of the Gram
# matrix is rounding noise (about 3 eps for a layer constant over the
# samples, measured), so CKA is undefined there.
_ROUNDING = 64


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


def unbiased_centered_gram(gram: Tensor) -> Tensor:
    r"""Centres a Gram matrix for the unbiased HSIC estimator (the
    U-centring of Székely and Rizzo, `"Partial Distance Correlation with
    Methods for Dissimilarities" <https://arxiv.org/abs/1310.2926>`_, as
    Kornblith et al.'s reference code computes it): with
    :math:`\tilde{\mathbf{K}}` the matrix :math:`\mathbf{K}` with its diagonal
    set to zero,

    .. math::
        U(\mathbf{K})_{ij} = \tilde{K}_{ij}
        - \frac{1}{N-2} \sum_k \tilde{K}_{ik}
        - \frac{1}{N-2} \sum_k \tilde{K}_{kj}
        + \frac{1}{(N-1)(N-2)} \sum_{k,l} \tilde{K}_{kl}

    for :math:`i \neq j`, and :math:`U(\mathbf{K})_{ii} = 0`. Then
    :math:`\langle U(\mathbf{K}), U(\mathbf{L}) \rangle_F / (N(N-3))` is the
    unbiased HSIC estimator of Song et al. (`"Feature Selection via
    Dependence Maximization" <https://jmlr.org/papers/v13/song12a.html>`_).
    The row sums are accumulated in float64.

    Args:
        gram (torch.Tensor): :math:`\mathbf{K}` :math:`[N, N]`, symmetric,
            with :math:`N \geq 4`.

    Returns:
        torch.Tensor: :math:`U(\mathbf{K})` :math:`[N, N]` in the dtype of
        :obj:`gram`; its rows and columns sum to zero.

    Example:
        >>> x = torch.tensor([[0.], [1.], [2.], [4.]], dtype=torch.float64)
        >>> u = unbiased_centered_gram(gram_matrix(x))
        >>> u.diagonal().tolist(), bool(u.sum(dim=1).abs().max() < 1e-12)
        ([0.0, 0.0, 0.0, 0.0], True)
        >>> torch.allclose(unbiased_centered_gram(gram_matrix(x + 5)), u)
        True
    """
    _check_gram(gram)
    _check_num_samples(gram.size(0), 'gram')
    num_nodes = gram.size(0)
    out = gram.clone()
    out.fill_diagonal_(0)
    means = out.sum(dim=0, dtype=torch.float64) / (num_nodes - 2)
    means -= means.sum() / (2 * (num_nodes - 1))
    means = means.to(out.dtype)
    out -= means.unsqueeze(1)
    out -= means.unsqueeze(0)
    out.fill_diagonal_(0)
    return out


def _check_num_samples(num_samples: int, name: str) -> None:
    if num_samples < _MIN_SAMPLES:
        raise ValueError(f"'{name}' must hold at least {_MIN_SAMPLES} "
                         f"samples for the unbiased HSIC estimator (got "
                         f"N={num_samples})")


def _check_debiased(debiased: bool) -> None:
    if not isinstance(debiased, bool):
        raise TypeError(f"'debiased' must be a bool (got {debiased!r})")


def _unit_centered(gram: Tensor, debiased: bool = False) -> Tensor:
    r""":math:`\mathbf{H}\mathbf{K}\mathbf{H} / \|\mathbf{H}\mathbf{K}
    \mathbf{H}\|_F` (or :math:`U(\mathbf{K}) / \|U(\mathbf{K})\|_F` when
    :obj:`debiased`), or NaN everywhere when the features are constant over
    the samples (CKA is undefined then)."""
    if debiased:
        centred = unbiased_centered_gram(gram)
        floor = _rounding_floor(gram)
    else:
        centred = centered_gram(gram)
        floor = 0.0
    norm = math.sqrt(_inner(centred, centred))
    if norm <= floor:
        return torch.full_like(centred, math.nan)
    return centred.div_(norm)


def _rounding_floor(gram: Tensor) -> float:
    r"""The Frobenius norm below which :math:`U(\mathbf{K})` is rounding
    noise: :obj:`_ROUNDING` machine epsilons of :math:`\|\tilde{
    \mathbf{K}}\|_F`, the norm of :math:`\mathbf{K}` without its diagonal.
    (Rounding leaves :math:`U(\mathbf{K})` of a layer that is constant over
    the samples at a few epsilons, not at zero.)"""
    diag = gram.diagonal().double()
    off_diagonal = max(_inner(gram, gram) - float(diag @ diag), 0.0)
    return _ROUNDING * torch.finfo(gram.dtype).eps * math.sqrt(off_diagonal)


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


def cka_from_gram(gram_x: Tensor, gram_y: Tensor,
                  debiased: bool = False) -> float:
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

    With :obj:`debiased=True` the plug-in HSIC is replaced by the unbiased
    estimator of Song et al., as in Kornblith et al.'s reference code,

    .. math::
        \mathrm{CKA}_{\mathrm{debiased}}(\mathbf{K}, \mathbf{L}) =
        \frac{\langle U(\mathbf{K}), U(\mathbf{L}) \rangle_F}
        {\|U(\mathbf{K})\|_F\, \|U(\mathbf{L})\|_F},

    with :math:`U` of :func:`unbiased_centered_gram`. Its bias does not grow
    with the number of features :math:`D` as the plug-in one does when
    :math:`D \gg N`; it can be slightly negative for unrelated
    representations. It is NaN when :math:`\|U(\mathbf{K})\|_F` is at
    most :math:`64\,\epsilon\, \|\tilde{\mathbf{K}}\|_F` (machine
    epsilon of the Gram matrix, :math:`\tilde{\mathbf{K}}` without its
    diagonal), where rounding leaves a representation that is constant
    over the samples.

    Args:
        gram_x (torch.Tensor): :math:`\mathbf{K}` :math:`[N, N]`.
        gram_y (torch.Tensor): :math:`\mathbf{L}` :math:`[N, N]`.
        debiased (bool, optional): If :obj:`True`, use the unbiased HSIC
            estimator (needs :math:`N \geq 4`). (default: :obj:`False`)

    Returns:
        float: The CKA, in :math:`[0, 1]` (the debiased one can fall
        slightly below :math:`0`).

    Example:
        >>> x = torch.randn(20, 5)
        >>> round(cka_from_gram(gram_matrix(x), gram_matrix(3 * x + 1)), 6)
        1.0
        >>> round(cka_from_gram(gram_matrix(x), gram_matrix(3 * x + 1),
        ...                     debiased=True), 6)
        1.0
    """
    _check_gram(gram_x)
    _check_gram(gram_y)
    _check_debiased(debiased)
    if gram_x.shape != gram_y.shape:
        raise ValueError(f"'gram_x' and 'gram_y' must be over the same "
                         f"samples (got shapes {list(gram_x.shape)} and "
                         f"{list(gram_y.shape)})")
    if debiased:
        _check_num_samples(gram_x.size(0), 'gram_x')
    return _inner(_unit_centered(gram_x, debiased),
                  _unit_centered(gram_y, debiased))


def linear_cka(x: Tensor, y: Tensor, debiased: bool = False) -> float:
    r"""Linear CKA between two representations :math:`\mathbf{X}`
    :math:`[N, D_1]` and :math:`\mathbf{Y}` :math:`[N, D_2]` of the same
    :math:`N` samples, computed from their Gram matrices; see
    :func:`cka_from_gram`.

    Args:
        x (torch.Tensor): :math:`[N, D_1]` (or :math:`[N, *]`, flattened).
        y (torch.Tensor): :math:`[N, D_2]`.
        debiased (bool, optional): If :obj:`True`, the debiased CKA (needs
            :math:`N \geq 4`). (default: :obj:`False`)

    Example:
        >>> x = torch.randn(50, 8)
        >>> q, _ = torch.linalg.qr(torch.randn(8, 8))
        >>> round(linear_cka(x, x @ q), 6)  # invariant to rotations
        1.0
        >>> round(linear_cka(x, x @ q, debiased=True), 6)
        1.0
    """
    _check_debiased(debiased)
    gram_x, gram_y = gram_matrix(x), gram_matrix(y)
    if gram_x.shape != gram_y.shape:
        raise ValueError(f"'x' and 'y' must hold the same samples (got "
                         f"{gram_x.size(0)} and {gram_y.size(0)} rows)")
    if debiased:
        _check_num_samples(gram_x.size(0), 'x')
    return cka_from_gram(gram_x, gram_y, debiased=debiased)


def cka_matrix(grams: Sequence[Tensor], debiased: bool = False) -> Tensor:
    r"""The linear CKA of every pair of layers, from their Gram matrices
    over the same samples (:math:`L` matrices :math:`[N, N]`).

    Every matrix is centred and scaled to unit Frobenius norm once; entry
    :math:`(i, j)` is then the inner product of two of them.

    Args:
        grams ([torch.Tensor]): The Gram matrices, one per layer.
        debiased (bool, optional): If :obj:`True`, the debiased CKA of
            :func:`cka_from_gram` (needs :math:`N \geq 4`).
            (default: :obj:`False`)

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
    _check_debiased(debiased)
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
    if debiased:
        _check_num_samples(grams[0].size(0), 'grams')
    return cka_matrix_from_unit([_unit_centered(g, debiased) for g in grams])


def cka_matrix_from_unit(units: List[Tensor]) -> Tensor:
    r"""The CKA matrix from centred Gram matrices of unit norm (see
    :func:`cka_matrix`)."""
    num = len(units)
    out = torch.empty(num, num, dtype=torch.float64)
    for i in range(num):
        for j in range(i, num):
            out[i, j] = out[j, i] = _inner(units[i], units[j])
    return out


def _minibatch_slices(num_samples: int, batch_size: int,
                      name: str) -> Tuple[List[slice], int]:
    r"""Consecutive minibatches of :obj:`batch_size` rows; a last one of
    fewer than :obj:`_MIN_SAMPLES` rows is left out and its size
    returned."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"'batch_size' must be an int (got {batch_size!r})")
    if batch_size < _MIN_SAMPLES:
        raise ValueError(f"'batch_size' must be at least {_MIN_SAMPLES}, "
                         f"the fewest samples the unbiased HSIC estimator "
                         f"is defined for (got {batch_size})")
    _check_num_samples(num_samples, name)
    slices = [slice(start, min(start + batch_size, num_samples))
              for start in range(0, num_samples, batch_size)]
    dropped = 0
    if slices[-1].stop - slices[-1].start < _MIN_SAMPLES:
        # The first minibatch has min(batch_size, N) >= 4 rows, so one is
        # always left.
        last = slices.pop()
        dropped = last.stop - last.start
    return slices, dropped


def _warn_dropped(dropped: int, num_samples: int, batch_size: int) -> None:
    if dropped:
        # stacklevel 3: the caller of the public function.
        warnings.warn(f"minibatch CKA leaves out the last {dropped} of "
                      f"{num_samples} samples: a minibatch needs at least "
                      f"{_MIN_SAMPLES} (batch_size={batch_size}); choose a "
                      f"batch_size that leaves a larger remainder to use "
                      f"them", stacklevel=3)


def _minibatch_cka(features: List[Tensor], batches: List[slice]) -> Tensor:
    r"""The minibatch CKA matrix, from one Gram matrix per layer and
    minibatch."""
    num = len(features)
    hsic = torch.zeros(num, num, dtype=torch.float64)
    floor = torch.zeros(num, dtype=torch.float64)
    for batch in batches:
        size = batch.stop - batch.start
        units = []
        for i, x in enumerate(features):
            gram = gram_matrix(x[batch])
            floor[i] += _rounding_floor(gram)**2 / (size * (size - 3))
            units.append(unbiased_centered_gram(gram))
        for i in range(num):
            for j in range(i, num):
                value = _inner(units[i], units[j]) / (size * (size - 3))
                hsic[i, j] += value
                if i != j:
                    hsic[j, i] += value
    diag = hsic.diagonal().clone()
    # A layer constant over the samples has sum_b HSIC_1(K_b, K_b) = 0 up
    # to rounding; its CKA is undefined.
    diag[diag <= floor] = math.nan
    # sqrt(h_ii h_jj), not sqrt(h_ii) sqrt(h_jj): the diagonal is exactly 1.
    return hsic / torch.outer(diag, diag).sqrt()


def minibatch_cka(x: Tensor, y: Tensor, batch_size: int) -> float:
    r"""Minibatch linear CKA of two representations of the same :math:`N`
    samples (Nguyen et al., `"Do Wide and Deep Networks Learn the Same
    Things?" <https://arxiv.org/abs/2010.15327>`_, eq. 3), as the
    `torch-cka <https://github.com/AntixK/PyTorch-Model-Compare>`_ package
    computes it.

    The samples are split into consecutive minibatches of
    :obj:`batch_size` rows. For minibatch :math:`b` of :math:`n` rows, with
    :math:`\mathbf{K}` and :math:`\mathbf{L}` the Gram matrices of its
    flattened features with the diagonal set to zero,

    .. math::
        \mathrm{HSIC}_1(\mathbf{K}, \mathbf{L}) = \frac{1}{n(n-3)} \left(
        \mathrm{tr}(\mathbf{K}\mathbf{L}) +
        \frac{\mathbf{1}^{\top}\mathbf{K}\mathbf{1}\,
        \mathbf{1}^{\top}\mathbf{L}\mathbf{1}}{(n-1)(n-2)} -
        \frac{2}{n-2}\, \mathbf{1}^{\top}\mathbf{K}\mathbf{L}\mathbf{1}
        \right),

    the unbiased HSIC estimator of Song et al., and

    .. math::
        \mathrm{CKA}_{\mathrm{mb}} = \frac{\sum_b \mathrm{HSIC}_1(
        \mathbf{K}_b, \mathbf{L}_b)}{\sqrt{\sum_b \mathrm{HSIC}_1(
        \mathbf{K}_b, \mathbf{K}_b)} \sqrt{\sum_b \mathrm{HSIC}_1(
        \mathbf{L}_b, \mathbf{L}_b)}}.

    Each term is computed as :math:`\mathrm{HSIC}_1(\mathbf{K},
    \mathbf{L}) = \langle U(\mathbf{K}), U(\mathbf{L}) \rangle_F /
    (n(n-3))` with :math:`U` of :func:`unbiased_centered_gram`, the same
    number with less cancellation, accumulated in float64. (torch-cka
    divides every sum by the number of minibatches, which cancels.) With
    one minibatch of all :math:`N` samples this is the debiased CKA of
    :func:`linear_cka`; with several it depends on the order of the samples.

    A last minibatch of fewer than 4 rows, for which the estimator is not
    defined, is left out with a warning.

    Args:
        x (torch.Tensor): :math:`[N, D_1]` (or :math:`[N, *]`, flattened).
        y (torch.Tensor): :math:`[N, D_2]`.
        batch_size (int): Rows per minibatch, at least 4.

    Returns:
        float: The minibatch CKA (NaN when either representation is
        constant over the samples).

    Example:
        >>> x = torch.randn(40, 6)
        >>> q, _ = torch.linalg.qr(torch.randn(6, 6))
        >>> round(minibatch_cka(x, 2 * x @ q, batch_size=16), 6)
        1.0
    """
    x, y = check_features(x, 'x'), check_features(y, 'y')
    if x.size(0) != y.size(0):
        raise ValueError(f"'x' and 'y' must hold the same samples (got "
                         f"{x.size(0)} and {y.size(0)} rows)")
    batches, dropped = _minibatch_slices(x.size(0), batch_size, 'x')
    _warn_dropped(dropped, x.size(0), batch_size)
    return float(_minibatch_cka([x, y], batches)[0, 1])


def minibatch_cka_matrix(features: Sequence[Tensor],
                         batch_size: int) -> Tensor:
    r"""The minibatch CKA of :func:`minibatch_cka` for every pair of
    layers, from one Gram matrix per layer and minibatch.

    Args:
        features ([torch.Tensor]): The features of the same :math:`N`
            samples at :math:`L` layers, each :math:`[N, *]`.
        batch_size (int): Rows per minibatch, at least 4; a last minibatch
            of fewer than 4 rows is left out with a warning.

    Returns:
        torch.Tensor: The symmetric CKA matrix :math:`[L, L]` (float64),
        with ones on the diagonal (NaN for a layer that is constant over the
        samples).

    Example:
        >>> x = torch.randn(40, 6)
        >>> minibatch_cka_matrix([x, 3 * x + 1], batch_size=16).round(
        ...     decimals=6)
        tensor([[1., 1.],
                [1., 1.]], dtype=torch.float64)
    """
    if isinstance(features, Mapping):
        raise TypeError(f"'features' must be a sequence of tensors, one per "
                        f"layer (got {type(features).__name__}; pass "
                        f"list(features.values()))")
    try:
        features = list(features)
    except TypeError:
        raise TypeError(f"'features' must be a sequence of tensors, one per "
                        f"layer (got {type(features).__name__})") from None
    if not features:
        raise ValueError("'features' must hold at least one layer (got an "
                         "empty sequence)")
    features = [check_features(f, f'features[{i}]')
                for i, f in enumerate(features)]
    num_samples = features[0].size(0)
    for i, f in enumerate(features):
        if f.size(0) != num_samples:
            raise ValueError(f"all layers in 'features' must hold the same "
                             f"samples (got {num_samples} rows in "
                             f"features[0] and {f.size(0)} in "
                             f"features[{i}])")
    batches, dropped = _minibatch_slices(num_samples, batch_size,
                                         'features[0]')
    _warn_dropped(dropped, num_samples, batch_size)
    return _minibatch_cka(features, batches)
