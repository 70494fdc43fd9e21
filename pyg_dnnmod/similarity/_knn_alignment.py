r"""k-NN alignment of two representations of the same samples, and its
permutation null.

The scores of `"The Platonic Representation Hypothesis"
<https://arxiv.org/abs/2405.07987>`_ (Huh et al., ICML 2024; mutual k-NN,
cycle k-NN, CKNNA) and the Jaccard k-NN similarity of `"ReSi"
<https://arxiv.org/abs/2408.00531>`_ (Klabunde et al., 2024) compare the
neighbour sets :math:`\mathcal{N}_A(i)` and :math:`\mathcal{N}_B(i)` of every
sample :math:`i` in two representations :math:`A` and :math:`B`. Every score
here is computed from the sets alone (CKNNA also from the similarities of
the listed neighbours), stored as sorted edge keys :math:`iN + j`, so that
comparing two layers costs :math:`O(Nk \log(Nk))` and no :math:`N \times N`
matrix, and the permutation null needs no new k-NN: permuting :math:`B`'s
samples by :math:`\pi` turns its sets into :math:`\pi^{-1}(\mathcal{N}_B
(\pi(i)))`.
"""
import math
from typing import Optional, Tuple

import torch
from torch import Tensor

from pyg_dnnmod.similarity._alignment import (
    AlignmentScore,
    LayerStack,
    NeighbourSets,
    check_alignment_metric,
    check_cknna,
    check_indices,
    check_permutations,
    finish_scores,
    knn_indices,
    null_scores,
    raw_scores,
    self_hsic,
    summarize,
)
from pyg_dnnmod.utils.knn_kernel import check_features, check_knn_args


def _pair(idx_a: Tensor, idx_b: Tensor, metric: str,
          sim_a: Optional[Tensor] = None, sim_b: Optional[Tensor] = None
          ) -> Tuple[LayerStack, NeighbourSets, Optional[Tensor],
                     Optional[Tensor]]:
    check_alignment_metric(metric)
    idx_a, idx_b = check_indices(idx_a, 'idx_a'), check_indices(idx_b,
                                                                'idx_b')
    if idx_a.shape != idx_b.shape:
        raise ValueError(f"'idx_a' and 'idx_b' must have the same shape "
                         f"[N, k] (got {list(idx_a.shape)} and "
                         f"{list(idx_b.shape)})")
    idx_b = idx_b.to(idx_a.device)
    if metric != 'cknna':
        return LayerStack([NeighbourSets(idx_a)]), NeighbourSets(idx_b), \
            None, None
    check_cknna(*idx_a.shape)
    for name, sim in (('sim_a', sim_a), ('sim_b', sim_b)):
        if not isinstance(sim, Tensor) or sim.shape != idx_a.shape or \
                not sim.is_floating_point():
            raise ValueError(f"metric 'cknna' needs '{name}', the float "
                             f"similarities [N, k] = {list(idx_a.shape)} of "
                             f"the listed neighbours (got "
                             f"{getattr(sim, 'shape', sim)!r})")
    sets_a, sets_b = NeighbourSets(idx_a, sim_a), NeighbourSets(idx_b, sim_b)
    return LayerStack([sets_a]), sets_b, self_hsic(sets_a).view(-1), \
        self_hsic(sets_b).view(-1)


def _observed(stack: LayerStack, b: NeighbourSets, metric: str,
              hsic_a: Optional[Tensor], hsic_b: Optional[Tensor]) -> float:
    ident = torch.arange(b.num_nodes, device=b.key.device).unsqueeze(0)
    raw = raw_scores(stack, b, metric, ident)
    return float(finish_scores(metric, raw, hsic_a, hsic_b).view(-1)[0])


def _observed_pair(idx_a: Tensor, idx_b: Tensor, metric: str,
                   sim_a: Optional[Tensor] = None,
                   sim_b: Optional[Tensor] = None) -> float:
    stack, b, hsic_a, hsic_b = _pair(idx_a, idx_b, metric, sim_a, sim_b)
    return _observed(stack, b, metric, hsic_a, hsic_b)


def mutual_knn_from_indices(idx_a: Tensor, idx_b: Tensor) -> float:
    r"""The mutual k-NN alignment of `Huh et al. (2024)
    <https://arxiv.org/abs/2405.07987>`_ from neighbour lists,

    .. math::
        m(A, B) = \frac{1}{N} \sum_{i=1}^{N}
        \frac{|\mathcal{N}_A(i) \cap \mathcal{N}_B(i)|}{k},

    computed as :math:`|E_A \cap E_B| / (Nk)` over the directed edge sets.
    Its chance level under the permutation null is exactly
    :math:`k / (N - 1)` (see :func:`knn_chance_level`).

    Args:
        idx_a (torch.Tensor): Neighbours in :math:`A`, :math:`[N, k]`, e.g.
            from :func:`knn_indices`.
        idx_b (torch.Tensor): Neighbours in :math:`B`, :math:`[N, k]`.

    Example:
        >>> idx_a = torch.tensor([[1, 2], [0, 2], [0, 1], [1, 2]])
        >>> idx_b = torch.tensor([[2, 1], [2, 3], [0, 3], [0, 2]])
        >>> mutual_knn_from_indices(idx_a, idx_b)
        0.625
        >>> mutual_knn_from_indices(idx_a, idx_b[:, :1])
        Traceback (most recent call last):
        ...
        ValueError: 'idx_a' and 'idx_b' must have the same shape [N, k] ...
    """
    return _observed_pair(idx_a, idx_b, 'mutual_knn')


def cycle_knn_from_indices(idx_a: Tensor, idx_b: Tensor) -> float:
    r"""The cycle k-NN alignment of `Huh et al. (2024)
    <https://arxiv.org/abs/2405.07987>`_ from neighbour lists: the share
    of samples that a step to a neighbour in :math:`B` and a step back to a
    neighbour in :math:`A` can return to,

    .. math::
        c(A, B) = \frac{1}{N} \sum_{i=1}^{N} \mathbb{1}\big[\exists\, j \in
        \mathcal{N}_B(i) : i \in \mathcal{N}_A(j)\big]

    (their :obj:`compute_knn_accuracy(knn_A[knn_B])`). Not symmetric, and
    below 1 even for :math:`B = A` when a sample is in none of its
    neighbours' lists.

    Args:
        idx_a (torch.Tensor): Neighbours in :math:`A`, :math:`[N, k]`.
        idx_b (torch.Tensor): Neighbours in :math:`B`, :math:`[N, k]`.

    Example:
        >>> idx_a = torch.tensor([[1, 2], [0, 2], [0, 1], [1, 2]])
        >>> idx_b = torch.tensor([[2, 1], [2, 3], [0, 3], [0, 2]])
        >>> cycle_knn_from_indices(idx_a, idx_b)
        0.75
    """
    return _observed_pair(idx_a, idx_b, 'cycle_knn')


def knn_jaccard_from_indices(idx_a: Tensor, idx_b: Tensor) -> float:
    r"""The Jaccard k-NN similarity of `Klabunde et al. (ReSi, 2024)
    <https://arxiv.org/abs/2408.00531>`_ from neighbour lists,

    .. math::
        J(A, B) = \frac{1}{N} \sum_{i=1}^{N}
        \frac{|\mathcal{N}_A(i) \cap \mathcal{N}_B(i)|}
        {|\mathcal{N}_A(i) \cup \mathcal{N}_B(i)|}
        = \frac{1}{N} \sum_{i=1}^{N} \frac{c_i}{2k - c_i}.

    Args:
        idx_a (torch.Tensor): Neighbours in :math:`A`, :math:`[N, k]`.
        idx_b (torch.Tensor): Neighbours in :math:`B`, :math:`[N, k]`.

    Example:
        >>> idx_a = torch.tensor([[1, 2], [0, 2], [0, 1], [1, 2]])
        >>> idx_b = torch.tensor([[2, 1], [2, 3], [0, 3], [0, 2]])
        >>> round(knn_jaccard_from_indices(idx_a, idx_b), 6)  # (1 + 3 / 3) / 4
        0.5
    """
    return _observed_pair(idx_a, idx_b, 'knn_jaccard')


def cknna_from_indices(idx_a: Tensor, idx_b: Tensor, sim_a: Tensor,
                       sim_b: Tensor) -> float:
    r"""CKNNA of `Huh et al. (2024) <https://arxiv.org/abs/2405.07987>`_
    from neighbour lists and the similarities of the listed neighbours:
    CKA restricted to the pairs that are neighbours in both,

    .. math::
        \mathrm{CKNNA}(A, B) = \frac{\mathrm{HSIC}_1(\mathbf{M} \circ
        \mathbf{K}, \mathbf{M} \circ \mathbf{L})}{\sqrt{\mathrm{HSIC}_1(
        \mathbf{M}_A \circ \mathbf{K}, \mathbf{M}_A \circ \mathbf{K})\,
        \mathrm{HSIC}_1(\mathbf{M}_B \circ \mathbf{L}, \mathbf{M}_B \circ
        \mathbf{L})} + 10^{-6}},

    with :math:`(M_A)_{ij} = \mathbb{1}[j \in \mathcal{N}_A(i)]`,
    :math:`\mathbf{M} = \mathbf{M}_A \circ \mathbf{M}_B`, the kernels
    :math:`K_{ij}`, :math:`L_{ij}` the similarities of :obj:`sim_a`,
    :obj:`sim_b`, and the unbiased HSIC of `Song et al. (2012)
    <https://jmlr.csail.mit.edu/papers/volume13/song12a/song12a.pdf>`_ (the
    masks have a zero diagonal)

    .. math::
        \mathrm{HSIC}_1(\tilde{\mathbf{K}}, \tilde{\mathbf{L}}) =
        \frac{\mathrm{tr}(\tilde{\mathbf{K}}\tilde{\mathbf{L}}) +
        \frac{\mathbf{1}^{\top}\tilde{\mathbf{K}}\mathbf{1}\,
        \mathbf{1}^{\top}\tilde{\mathbf{L}}\mathbf{1}}{(N-1)(N-2)} -
        \frac{2}{N-2} \mathbf{1}^{\top}\tilde{\mathbf{K}}
        \tilde{\mathbf{L}}\mathbf{1}}{N(N-3)}.

    Every term is a sum over the at most :math:`Nk` masked pairs, so only
    the :math:`[N, k]` similarities are needed, never an :math:`N \times
    N` matrix: :math:`\mathrm{tr}(\tilde{\mathbf{K}}\tilde{\mathbf{L}})`
    over the pairs masked in both directions, :math:`\mathbf{1}^{\top}
    \tilde{\mathbf{K}}\tilde{\mathbf{L}}\mathbf{1} = \sum_{ij}
    \tilde{K}_{ij} \sum_l \tilde{L}_{jl}`. The masks are not symmetric, so
    neither is CKNNA: :math:`\mathbf{1}^{\top}\tilde{\mathbf{K}}
    \tilde{\mathbf{L}}\mathbf{1} \ne \mathbf{1}^{\top}\tilde{\mathbf{L}}
    \tilde{\mathbf{K}}\mathbf{1}` in general (platonic-rep's differs in
    the same way, typically in the third decimal); a negative self-HSIC
    gives NaN, as in platonic-rep.

    Args:
        idx_a (torch.Tensor): Neighbours in :math:`A`, :math:`[N, k]`,
            :math:`k \ge 2`, :math:`N \ge 4`.
        idx_b (torch.Tensor): Neighbours in :math:`B`, :math:`[N, k]`.
        sim_a (torch.Tensor): :math:`K_{i, \text{idx\_a}[i, t]}`,
            :math:`[N, k]`, e.g. from :obj:`knn_indices(...,
            return_similarity=True)`.
        sim_b (torch.Tensor): :math:`L_{i, \text{idx\_b}[i, t]}`,
            :math:`[N, k]`.

    Example:
        >>> x = torch.randn(30, 4, generator=torch.Generator().manual_seed(0))
        >>> idx, sim = knn_indices(x, 5, return_similarity=True)
        >>> round(cknna_from_indices(idx, idx, sim, sim), 4)
        1.0
    """
    return _observed_pair(idx_a, idx_b, 'cknna', sim_a, sim_b)


def _feature_sets(x_a: Tensor, x_b: Tensor, k: int, similarity: str,
                  metric: str) -> Tuple[Tensor, Tensor, Optional[Tensor],
                                        Optional[Tensor]]:
    check_alignment_metric(metric)
    x_a, x_b = check_features(x_a, 'x_a'), check_features(x_b, 'x_b')
    if x_a.size(0) != x_b.size(0):
        raise ValueError(f"'x_a' and 'x_b' must hold the same samples "
                         f"(got N={x_a.size(0)} and N={x_b.size(0)} rows)")
    check_knn_args(x_a.size(0), k, False, 'none', metric=similarity)
    if metric != 'cknna':
        return knn_indices(x_a, k, similarity), \
            knn_indices(x_b, k, similarity), None, None
    check_cknna(x_a.size(0), k, similarity)
    idx_a, sim_a = knn_indices(x_a, k, similarity, return_similarity=True)
    idx_b, sim_b = knn_indices(x_b, k, similarity, return_similarity=True)
    return idx_a, idx_b, sim_a, sim_b


def mutual_knn(x_a: Tensor, x_b: Tensor, k: int = 10,
               similarity: str = 'cosine') -> float:
    r"""The mutual k-NN alignment of `Huh et al. (2024)
    <https://arxiv.org/abs/2405.07987>`_ between two representations of
    the same :math:`N` samples: :func:`knn_indices` of both, then
    :func:`mutual_knn_from_indices`.

    Huh et al. L2-normalise the rows before every score (and clip outliers
    at the 95th percentile of :math:`|x|` first, which is not done here);
    :obj:`similarity="cosine"` is that normalisation, :obj:`"dot"` their
    :obj:`normalize=False`.

    Args:
        x_a (torch.Tensor): Features :math:`[N, D_A]`.
        x_b (torch.Tensor): Features :math:`[N, D_B]` of the same samples.
        k (int, optional): Neighbours per sample. (default: :obj:`10`)
        similarity (str, optional): The k-NN's similarity, see
            :func:`~pyg_dnnmod.utils.knn_graph`. (default: :obj:`"cosine"`)

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> x = torch.randn(50, 8, generator=gen)
        >>> mutual_knn(x, 3 * x, k=5)
        1.0
        >>> mutual_knn(x, x[:40], k=5)
        Traceback (most recent call last):
        ...
        ValueError: 'x_a' and 'x_b' must hold the same samples (got N=50 ...
    """
    idx_a, idx_b, _, _ = _feature_sets(x_a, x_b, k, similarity, 'mutual_knn')
    return mutual_knn_from_indices(idx_a, idx_b)


def cycle_knn(x_a: Tensor, x_b: Tensor, k: int = 10,
              similarity: str = 'cosine') -> float:
    r"""The cycle k-NN alignment of `Huh et al. (2024)
    <https://arxiv.org/abs/2405.07987>`_ between two representations of
    the same samples (see :func:`cycle_knn_from_indices` and, for the
    normalisation, :func:`mutual_knn`).

    Args:
        x_a (torch.Tensor): Features :math:`[N, D_A]`.
        x_b (torch.Tensor): Features :math:`[N, D_B]` of the same samples.
        k (int, optional): Neighbours per sample. (default: :obj:`10`)
        similarity (str, optional): The k-NN's similarity.
            (default: :obj:`"cosine"`)

    Example:
        >>> x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
        >>> cycle_knn(x, x, k=5)
        1.0
    """
    idx_a, idx_b, _, _ = _feature_sets(x_a, x_b, k, similarity, 'cycle_knn')
    return cycle_knn_from_indices(idx_a, idx_b)


def knn_jaccard(x_a: Tensor, x_b: Tensor, k: int = 10,
                similarity: str = 'cosine') -> float:
    r"""The Jaccard k-NN similarity of `Klabunde et al. (ReSi, 2024)
    <https://arxiv.org/abs/2408.00531>`_ between two representations of
    the same samples (see :func:`knn_jaccard_from_indices`); ReSi's default
    neighbours are cosine ones, self excluded.

    Args:
        x_a (torch.Tensor): Features :math:`[N, D_A]`.
        x_b (torch.Tensor): Features :math:`[N, D_B]` of the same samples.
        k (int, optional): Neighbours per sample. (default: :obj:`10`)
        similarity (str, optional): The k-NN's similarity.
            (default: :obj:`"cosine"`)

    Example:
        >>> x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
        >>> knn_jaccard(x, 2 * x, k=5)
        1.0
    """
    idx_a, idx_b, _, _ = _feature_sets(x_a, x_b, k, similarity,
                                       'knn_jaccard')
    return knn_jaccard_from_indices(idx_a, idx_b)


def cknna(x_a: Tensor, x_b: Tensor, k: int = 10,
          similarity: str = 'cosine') -> float:
    r"""CKNNA of `Huh et al. (2024) <https://arxiv.org/abs/2405.07987>`_
    between two representations of the same samples: the kernels are the
    :obj:`similarity` Gram matrices (for :obj:`"cosine"`, :math:`\mathbf{K}
    = \hat{\mathbf{X}}\hat{\mathbf{X}}^{\top}` of the L2-normalised rows, as
    theirs); see :func:`cknna_from_indices`. Memory: :math:`O(Nk)` beyond
    the k-NN search, no :math:`N \times N` matrix.

    Args:
        x_a (torch.Tensor): Features :math:`[N, D_A]`, :math:`N \ge 4`.
        x_b (torch.Tensor): Features :math:`[N, D_B]` of the same samples.
        k (int, optional): Neighbours per sample, :math:`k \ge 2`.
            (default: :obj:`10`)
        similarity (str, optional): :obj:`"cosine"`, :obj:`"pearson"` or
            :obj:`"dot"`. (default: :obj:`"cosine"`)

    Example:
        >>> x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
        >>> round(cknna(x, 2 * x, k=5), 4)
        1.0
        >>> cknna(x, x, k=5, similarity='euclidean')
        Traceback (most recent call last):
        ...
        ValueError: 'similarity' must be one of ('cosine', 'pearson', ...)
    """
    return cknna_from_indices(*_feature_sets(x_a, x_b, k, similarity,
                                             'cknna'))


def alignment_null_from_indices(
    idx_a: Tensor,
    idx_b: Tensor,
    metric: str = 'mutual_knn',
    num_permutations: int = 1000,
    seed: int = 0,
    *,
    sim_a: Optional[Tensor] = None,
    sim_b: Optional[Tensor] = None,
    return_null: bool = False,
):
    r"""A k-NN alignment score and its permutation null, from neighbour
    lists alone.

    The null breaks the correspondence of the samples: :math:`B`'s samples
    are permuted by a uniform :math:`\pi` (:math:`\mathbf{x}'_{B,i} =
    \mathbf{x}_{B,\pi(i)}`), each side's k-NN graph kept. No new k-NN is
    needed, since

    .. math::
        \mathcal{N}_{B'}(i) = \pi^{-1}\big(\mathcal{N}_B(\pi(i))\big)

    (equal to recomputing the k-NN on the permuted features, up to how ties
    break: they keep :math:`B`'s order). Each permutation costs
    :math:`O(Nk \log(Nk))`, CKNNA's too (its kernels are carried along with
    the sets; its normalisers do not change under :math:`\pi`). The
    permutations are :obj:`torch.randperm(N, generator=g)` of a CPU
    generator seeded with :obj:`seed`, in order, evaluated in chunks of
    bounded memory, so the result does not depend on the device. The
    :math:`p`-value :math:`(1 + \#\{\text{null} \ge \text{score}\}) / (1 +
    P)` (`Phipson and Smyth, 2010 <https://arxiv.org/abs/1603.05766>`_) is
    exact (never below the nominal level) for scores as discrete as these.

    Args:
        idx_a (torch.Tensor): Neighbours in :math:`A`, :math:`[N, k]`.
        idx_b (torch.Tensor): Neighbours in :math:`B`, :math:`[N, k]`.
        metric (str, optional): :obj:`"mutual_knn"`, :obj:`"cycle_knn"`,
            :obj:`"knn_jaccard"` or :obj:`"cknna"`.
            (default: :obj:`"mutual_knn"`)
        num_permutations (int, optional): :math:`P \ge 2`.
            (default: :obj:`1000`)
        seed (int, optional): The seed of the permutations.
            (default: :obj:`0`)
        sim_a (torch.Tensor, optional): For :obj:`"cknna"`, see
            :func:`cknna_from_indices`. (default: :obj:`None`)
        sim_b (torch.Tensor, optional): For :obj:`"cknna"`.
            (default: :obj:`None`)
        return_null (bool, optional): Also return the :math:`P` null
            scores (float64). (default: :obj:`False`)

    Returns:
        AlignmentScore: :obj:`(score, null_mean, null_std, z, p)`; with
        :obj:`return_null=True` also the null scores :math:`[P]`.

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> idx = knn_indices(torch.randn(100, 8, generator=gen), k=5)
        >>> result = alignment_null_from_indices(idx, idx, num_permutations=99)
        >>> result.score, result.p
        (1.0, 0.01)
        >>> round(result.null_mean, 2)  # k / (N - 1) = 0.0505
        0.05
    """
    check_permutations(num_permutations, seed)
    stack, b, hsic_a, hsic_b = _pair(idx_a, idx_b, metric, sim_a, sim_b)
    score = _observed(stack, b, metric, hsic_a, hsic_b)
    null = null_scores(stack, b, metric, num_permutations, seed, hsic_a,
                       hsic_b).view(-1)
    result = summarize(score, null)
    return (result, null.cpu()) if return_null else result


def knn_alignment(x_a: Tensor, x_b: Tensor, k: int = 10,
                  metric: str = 'mutual_knn', num_permutations: int = 1000,
                  seed: int = 0, similarity: str = 'cosine'
                  ) -> AlignmentScore:
    r"""A k-NN alignment score of two representations of the same samples,
    calibrated against its permutation null: :func:`knn_indices` of both
    (with the similarities for :obj:`"cknna"`), then
    :func:`alignment_null_from_indices`.

    Args:
        x_a (torch.Tensor): Features :math:`[N, D_A]`.
        x_b (torch.Tensor): Features :math:`[N, D_B]` of the same samples.
        k (int, optional): Neighbours per sample. (default: :obj:`10`)
        metric (str, optional): :obj:`"mutual_knn"`, :obj:`"cycle_knn"`,
            :obj:`"knn_jaccard"` or :obj:`"cknna"`.
            (default: :obj:`"mutual_knn"`)
        num_permutations (int, optional): :math:`P`. (default: :obj:`1000`)
        seed (int, optional): The seed of the permutations.
            (default: :obj:`0`)
        similarity (str, optional): The k-NN's similarity.
            (default: :obj:`"cosine"`)

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> x = torch.randn(100, 16, generator=gen)
        >>> rotation = torch.linalg.qr(torch.randn(16, 16, generator=gen))[0]
        >>> result = knn_alignment(x, x @ rotation, k=5)
        >>> result.score, result.z > 50, result.p
        (1.0, True, 0.000999000999000999)
        >>> knn_alignment(x, x, metric='cka')
        Traceback (most recent call last):
        ...
        ValueError: 'metric' must be one of ('mutual_knn', 'cycle_knn', ...
    """
    check_alignment_metric(metric)
    check_permutations(num_permutations, seed)
    idx_a, idx_b, sim_a, sim_b = _feature_sets(x_a, x_b, k, similarity,
                                               metric)
    return alignment_null_from_indices(idx_a, idx_b, metric,
                                       num_permutations, seed, sim_a=sim_a,
                                       sim_b=sim_b)


def knn_chance_level(metric: str, num_nodes: int, k: int,
                     idx_a: Optional[Tensor] = None) -> float:
    r"""The exact mean of a score under the permutation null.

    For every sample :math:`i`, :math:`\mathcal{N}_{B'}(i) =
    \pi^{-1}(\mathcal{N}_B(\pi(i)))` is a uniformly random
    :math:`k`-subset of the other :math:`N - 1` samples (given
    :math:`\pi(i)`, :math:`\pi` maps the others uniformly onto the others),
    whatever the features. So :math:`c_i = |\mathcal{N}_A(i) \cap
    \mathcal{N}_{B'}(i)|` is hypergeometric (population :math:`N - 1`,
    :math:`k` successes, :math:`k` draws), and

    * :obj:`"mutual_knn"`: :math:`\mathbb{E}[c_i / k] = k / (N - 1)`;
    * :obj:`"knn_jaccard"`: :math:`\mathbb{E}[c_i / (2k - c_i)] = \sum_c
      \binom{k}{c}\binom{N-1-k}{k-c} \binom{N-1}{k}^{-1} \frac{c}{2k-c}`;
    * :obj:`"cycle_knn"`: with :math:`d_i` the in-degree of :math:`i` in
      :math:`A`'s k-NN graph (needs :obj:`idx_a`), sample :math:`i` misses
      with probability :math:`\binom{N-1-d_i}{k} / \binom{N-1}{k}`, so the
      mean is :math:`1 - \frac{1}{N}\sum_i \binom{N-1-d_i}{k} /
      \binom{N-1}{k}`.

    CKNNA has no closed form; use :func:`alignment_null_from_indices`.

    Args:
        metric (str): :obj:`"mutual_knn"`, :obj:`"knn_jaccard"` or
            :obj:`"cycle_knn"`.
        num_nodes (int): :math:`N`.
        k (int): Neighbours per sample.
        idx_a (torch.Tensor, optional): :math:`A`'s neighbours
            :math:`[N, k]`, for :obj:`"cycle_knn"`. (default: :obj:`None`)

    Example:
        >>> knn_chance_level('mutual_knn', 100, 10)
        0.10101010101010101
        >>> round(knn_chance_level('knn_jaccard', 100, 10), 6)
        0.055702
    """
    check_alignment_metric(metric)
    if metric == 'cknna':
        raise ValueError("metric 'cknna' has no closed-form chance level; "
                         "use alignment_null_from_indices")
    for name, value in (('num_nodes', num_nodes), ('k', k)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"'{name}' must be an int (got {value!r})")
    check_knn_args(num_nodes, k, False, 'none')
    others = num_nodes - 1
    if metric == 'mutual_knn':
        return k / others
    if metric == 'knn_jaccard':
        total = math.comb(others, k)
        return sum(math.comb(k, c) * math.comb(others - k, k - c) / total *
                   c / (2 * k - c) for c in range(k + 1))
    if idx_a is None:
        raise ValueError("metric 'cycle_knn' needs 'idx_a' (its chance "
                         "level depends on A's in-degrees)")
    idx_a = check_indices(idx_a, 'idx_a')
    if list(idx_a.shape) != [num_nodes, k]:
        raise ValueError(f"'idx_a' must have shape [{num_nodes}, {k}] "
                         f"(got {list(idx_a.shape)})")
    indeg = torch.bincount(idx_a.reshape(-1).cpu(), minlength=num_nodes)
    t = torch.arange(k, dtype=torch.float64)
    free = (others - indeg.double().unsqueeze(1) - t).clamp_min(0)
    miss = (free / (others - t)).prod(dim=1)
    return float(1 - miss.mean())
