r"""The neighbour-set engine of the k-NN alignment scores.

:func:`knn_indices` lists every sample's nearest other samples with the
package's exact k-NN; :class:`NeighbourSets` stores a layer's lists as sorted
edge keys :math:`iN + j`, and :class:`LayerStack` several layers of :math:`A`
in one lookup structure (a table of :math:`N^2` entries per layer where it
fits :obj:`DENSE_BYTES`, else a binary search over the keys), so that one
lookup compares a layer of :math:`B` with all of them. :func:`raw_scores`
evaluates every score on :math:`B`'s samples permuted by :math:`\pi` (the
identity gives the observed score), reading
:math:`\pi^{-1}(\mathcal{N}_B(\pi(i)))` off :math:`B`'s own edges: no new
k-NN, :math:`O(Nk)` lookups per permutation and pair of layers.
:func:`null_scores` runs the permutations in chunks of bounded memory.

An internal module of :mod:`pyg_dnnmod.similarity`; users call the scores
of :mod:`~pyg_dnnmod.similarity._knn_alignment` and
:func:`~pyg_dnnmod.similarity.alignment_matrix`.
"""
import math
from typing import Iterator, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

from pyg_dnnmod.utils import knn_graph
from pyg_dnnmod.utils.knn_kernel import check_features

#: The alignment scores.
ALIGNMENT_METRICS = ('mutual_knn', 'cycle_knn', 'knn_jaccard', 'cknna')
#: The similarities whose values form a Gram matrix, as CKNNA needs.
CKNNA_SIMILARITIES = ('cosine', 'pearson', 'dot')
# Edge queries handled at once (permutations x layers x N k): bounds the
# temporary memory of the null to a few hundred MB.
QUERY_CHUNK = 2**21
# The largest lookup table of a LayerStack (N^2 entries per layer: int32
# with similarities, bool without).
DENSE_BYTES = 2**27


class AlignmentScore(NamedTuple):
    r"""A score and its permutation null: :obj:`null_mean` and
    :obj:`null_std` (with Bessel's correction) over the permutations,
    :math:`z = (\text{score} - \text{null\_mean}) / \text{null\_std}` (NaN
    when :obj:`null_std` is 0) and :math:`p = (1 + \#\{\text{null} \ge
    \text{score}\}) / (1 + P)`."""
    score: float
    null_mean: float
    null_std: float
    z: float
    p: float


def knn_indices(x: Tensor, k: int, metric: str = 'cosine', *,
                return_similarity: bool = False, **knn_kwargs):
    r"""The :math:`k` nearest other samples of every sample, nearest first,
    from the exact k-NN of :func:`~pyg_dnnmod.utils.knn_graph` (self
    excluded, ties to the lowest index, both in which neighbours are chosen
    and in their order). The similarities are
    :func:`~pyg_dnnmod.utils.knn_graph`'s edge weights (for
    :obj:`"euclidean"` :math:`1 / (1 + d_{ij})`).

    Args:
        x (torch.Tensor): Features :math:`[N, D]` (or :math:`[N, *]`,
            flattened).
        k (int): Neighbours per sample, :math:`1 \le k < N`.
        metric (str, optional): :obj:`"cosine"` (the rows L2-normalised, as
            Huh et al. normalise before every score), :obj:`"pearson"`,
            :obj:`"euclidean"` or :obj:`"dot"`. (default: :obj:`"cosine"`)
        return_similarity (bool, optional): Also return the similarity of
            every listed neighbour. (default: :obj:`False`)
        **knn_kwargs (optional): Further arguments of
            :func:`~pyg_dnnmod.utils.knn_graph` (:obj:`block_size`,
            :obj:`eps`, :obj:`precision`, ...).

    Returns:
        torch.LongTensor: :math:`[N, k]`, and with
        :obj:`return_similarity=True` also the similarities :math:`[N, k]`.

    Example:
        >>> x = torch.tensor([[1., 0.], [1., .2], [0., 1.], [.3, 1.]])
        >>> knn_indices(x, 2)
        tensor([[1, 3],
                [0, 3],
                [3, 1],
                [2, 1]])
    """
    for name in ('symmetrize', 'loop'):
        if name in knn_kwargs:
            raise TypeError(f"knn_indices() fixes {name!r} (directed "
                            f"neighbours, self excluded); got {name}="
                            f"{knn_kwargs[name]!r}")
    x = check_features(x)
    num_nodes = x.size(0)
    edge_index, weight = knn_graph(x, k, metric=metric, symmetrize='none',
                                   **knn_kwargs)
    nbr, node = edge_index[0], edge_index[1]  # source_to_target layout
    # Edges arrive sorted by neighbour: two stable sorts give, per node,
    # descending similarity and then the lowest index first.
    order = weight.argsort(descending=True, stable=True)
    order = order[node[order].argsort(stable=True)]
    idx = nbr[order].view(num_nodes, k)
    if return_similarity:
        return idx, weight[order].view(num_nodes, k)
    return idx


def check_indices(idx: Tensor, name: str = 'idx') -> Tensor:
    r"""Checks neighbour lists :math:`[N, k]`: integers in :math:`[0, N)`,
    :math:`k` distinct neighbours per row, none the row itself; returns them
    as :obj:`torch.long`.

    Example:
        >>> check_indices(torch.tensor([[1], [1]]))
        Traceback (most recent call last):
        ...
        ValueError: 'idx' must not list a sample as its own neighbour (row ...
    """
    if not isinstance(idx, Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor [N, k] "
                        f"(got {type(idx).__name__})")
    if idx.is_floating_point() or idx.is_complex() or \
            idx.dtype == torch.bool:
        raise TypeError(f"'{name}' must hold integer indices "
                        f"(got dtype {idx.dtype})")
    if idx.dim() != 2 or idx.size(1) < 1 or idx.size(0) < 2:
        raise ValueError(f"'{name}' must have shape [N, k] with N >= 2 and "
                         f"k >= 1 (got shape {list(idx.shape)})")
    idx = idx.long()
    num_nodes = idx.size(0)
    bad = ((idx < 0) | (idx >= num_nodes)).any(dim=1).nonzero().view(-1)
    if bad.numel() > 0:
        row = int(bad[0])
        raise ValueError(f"'{name}' must hold indices in [0, {num_nodes}) "
                         f"(row {row} is {idx[row].tolist()})")
    rows = torch.arange(num_nodes, device=idx.device).unsqueeze(1)
    bad = (idx == rows).any(dim=1).nonzero().view(-1)
    if bad.numel() > 0:
        row = int(bad[0])
        raise ValueError(f"'{name}' must not list a sample as its own "
                         f"neighbour (row {row} lists {row})")
    srt = idx.sort(dim=1).values
    bad = (srt[:, 1:] == srt[:, :-1]).any(dim=1).nonzero().view(-1)
    if bad.numel() > 0:
        row = int(bad[0])
        raise ValueError(f"'{name}' must list k distinct neighbours per row "
                         f"(row {row} is {idx[row].tolist()})")
    return idx


def check_alignment_metric(metric: str) -> None:
    r"""Checks that :obj:`metric` is one of :obj:`ALIGNMENT_METRICS`."""
    if metric not in ALIGNMENT_METRICS:
        raise ValueError(f"'metric' must be one of {ALIGNMENT_METRICS} "
                         f"(got {metric!r})")


def check_cknna(num_nodes: Optional[int], k: int,
                similarity: Optional[str] = None) -> None:
    r"""Checks the arguments of CKNNA: :math:`k \ge 2`, :math:`N \ge 4`
    (unless :obj:`None`), a similarity whose values form a Gram matrix."""
    if similarity is not None and similarity not in CKNNA_SIMILARITIES:
        raise ValueError(f"'similarity' must be one of {CKNNA_SIMILARITIES} "
                         f"for metric 'cknna', whose kernel is the Gram "
                         f"matrix of the prepared rows (got {similarity!r})")
    if isinstance(k, int) and k < 2:  # other checks are the k-NN's
        raise ValueError(f"'cknna' needs k >= 2 (got k={k})")
    # The unbiased HSIC divides by N (N - 3).
    if num_nodes is not None and num_nodes < 4:
        raise ValueError(f"'cknna' needs N >= 4 samples (got N={num_nodes})")


def check_permutations(num_permutations: int, seed: int) -> None:
    r"""Checks :math:`P \ge 2` permutations and a seed :math:`\ge 0`."""
    if isinstance(num_permutations, bool) or not isinstance(
            num_permutations, int) or num_permutations < 2:
        raise ValueError(f"'num_permutations' must be an int >= 2 "
                         f"(got {num_permutations!r})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"'seed' must be an int >= 0 (got {seed!r})")


def _lookup(keys: Tensor, queries: Tensor) -> Tuple[Tensor, Tensor]:
    r"""Whether each query is in the sorted :obj:`keys`, and where."""
    pos = torch.searchsorted(keys, queries).clamp_max_(keys.numel() - 1)
    return keys[pos] == queries, pos


class NeighbourSets:
    r"""One representation's neighbour sets as sorted edge keys
    :math:`iN + j` (row :math:`i` chose :math:`j`), with the similarity of
    every edge for CKNNA. Internal to :mod:`pyg_dnnmod.similarity`."""
    def __init__(self, idx: Tensor, sim: Optional[Tensor] = None) -> None:
        num_nodes, k = idx.shape
        dst, pos = idx.sort(dim=1)
        self.num_nodes, self.k = num_nodes, k
        self.src = torch.arange(num_nodes, device=idx.device)
        self.src = self.src.repeat_interleave(k)
        self.dst = dst.reshape(-1)
        self.key = self.src * num_nodes + self.dst  # ascending
        self.sim = None
        if sim is not None:
            self.sim = sim.to(idx.device, torch.float64).gather(1, pos)
            self.sim = self.sim.reshape(-1)
        self._reverse: Optional[Tuple[Tensor, Tensor]] = None

    def reverse(self) -> Tuple[Tensor, Tensor]:
        r"""For every edge :math:`i \to j`: whether :math:`j \to i` is an
        edge too, and its similarity (0 where not)."""
        if self._reverse is None:
            found, pos = _lookup(self.key,
                                 self.dst * self.num_nodes + self.src)
            self._reverse = (found, torch.where(found, self.sim[pos], 0.0))
        return self._reverse


class LayerStack:
    r"""The neighbour sets of several layers of :math:`A` in one lookup
    structure, so that one lookup compares an edge :math:`i \to j` of
    :math:`B` with all of them: the key :math:`(iN + j)L + l` of layer
    :math:`l`. When the :math:`N^2 L` table (int32 edge positions, or bool
    without similarities) fits :obj:`DENSE_BYTES`, a lookup is one gather
    of :math:`L` adjacent entries; otherwise a binary search over the
    sorted keys."""
    def __init__(self, sets: Sequence[NeighbourSets]) -> None:
        n = sets[0].num_nodes
        size = self.size = len(sets)
        device = sets[0].key.device
        key = torch.cat([s.key * size + layer
                         for layer, s in enumerate(sets)])
        self.sim = None  # led by a 0, the value of "no edge"
        with_sim = all(s.sim is not None for s in sets)
        if with_sim:
            self.sim = torch.cat([sets[0].sim.new_zeros(1)] +
                                 [s.sim for s in sets])
        self.layers = torch.arange(size, device=device)
        self.table = self.key = None
        if (4 if with_sim else 1) * n * n * size <= DENSE_BYTES:
            if with_sim:  # position + 1 of every edge, 0 where there is none
                self.table = torch.zeros(n * n * size, dtype=torch.int32,
                                         device=device)
                self.table[key] = torch.arange(1, key.numel() + 1,
                                               dtype=torch.int32,
                                               device=device)
            else:
                self.table = torch.zeros(n * n * size, dtype=torch.bool,
                                         device=device)
                self.table[key] = True
            self.table = self.table.view(n * n, size)
        else:
            self.key, order = key.sort()
            if with_sim:
                self.sim = torch.cat([self.sim[:1], self.sim[1:][order]])

    def lookup(self, pairs: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        r"""For the pair keys :math:`iN + j` :math:`[C, E]`: whether each
        is an edge of each layer, :math:`[C, E, L]`, and where its
        similarity is in :obj:`sim` (0, a zero, where not; :obj:`None`
        without similarities)."""
        if self.table is None:
            found, pos = _lookup(self.key, pairs.unsqueeze(-1) * self.size +
                                 self.layers)
            return found, (pos + 1) * found
        out = self.table.index_select(0, pairs.reshape(-1))
        out = out.view(*pairs.shape, self.size)
        if out.dtype == torch.bool:
            return out, None
        return out > 0, out


def raw_scores(stack: LayerStack, b: NeighbourSets, metric: str,
               inv: Tensor) -> Tensor:
    r"""The scores :math:`[C, L]` of every layer of :obj:`stack` against
    :obj:`b` with its samples permuted, :obj:`inv` :math:`[C, N]` holding
    :math:`\pi^{-1}` per permutation (the identity gives the observed
    score); for :obj:`"cknna"` the unbiased HSIC of the masked kernels,
    before the normalisation."""
    n, k = b.num_nodes, b.k
    num_perm, num_layers = inv.size(0), stack.size
    # B's edge m -> n becomes pi^-1(m) -> pi^-1(n) in the permuted B.
    i = inv.gather(1, b.src.expand(num_perm, -1))
    j = inv.gather(1, b.dst.expand(num_perm, -1))
    if metric == 'cycle_knn':
        back, _ = stack.lookup(j * n + i)
        return back.view(num_perm, n, k, num_layers).any(dim=2).double() \
            .mean(dim=1)
    found, pos = stack.lookup(i * n + j)
    if metric == 'mutual_knn':
        return found.sum(dim=1).double() / (n * k)
    if metric == 'knn_jaccard':
        both = found.view(num_perm, n, k, num_layers).sum(dim=2).double()
        # A contiguous row per (permutation, layer): the same sum whatever
        # the number of permutations and layers.
        return (both / (2 * k - both)).transpose(1, 2).contiguous() \
            .mean(dim=-1)
    # CKNNA: K~ = M o K_A and L~ = M o K_B on the pairs M of both sets.
    kv = stack.sim.index_select(0, pos.reshape(-1)).view(pos.shape)
    lv = torch.where(found, b.sim.view(1, -1, 1), 0.0)
    back, _ = stack.lookup(j * n + i)
    rev_found, rev_sim = b.reverse()
    rev = torch.where(back & rev_found.view(1, -1, 1), rev_sim.view(1, -1, 1),
                      0.0)
    trace = (kv * rev).sum(dim=1)
    # 1' K~ L~ 1 = sum_(i, j) K~_ij r_j with r the row sums of L~; row j of
    # the permuted B is B's row n, so r is gathered by B's own indices.
    row_sums = lv.view(num_perm, n, k, num_layers).sum(dim=2)
    cross = (kv * row_sums[:, b.dst]).sum(dim=1)
    total = kv.sum(dim=1) * lv.sum(dim=1)
    return (trace + total / ((n - 1) * (n - 2)) - 2 * cross / (n - 2)) / \
        (n * (n - 3))


def self_hsic(sets: NeighbourSets) -> Tensor:
    r"""The unbiased HSIC of a layer's masked kernel with itself, the
    normaliser of CKNNA."""
    ident = torch.arange(sets.num_nodes, device=sets.key.device)
    return raw_scores(LayerStack([sets]), sets, 'cknna', ident.unsqueeze(0))


def finish_scores(metric: str, raw: Tensor, hsic_a: Optional[Tensor],
                  hsic_b: Optional[Tensor]) -> Tensor:
    r"""CKNNA from the raw HSIC :math:`[C, L]` and the normalisers of the
    :math:`L` layers of :math:`A` and of :math:`B` (as platonic-rep:
    :math:`+10^{-6}` after the square root); other scores unchanged."""
    if metric != 'cknna':
        return raw
    return raw / (torch.sqrt(hsic_a.view(1, -1) * hsic_b) + 1e-6)


def inverse_permutations(num_nodes: int, num_permutations: int, seed: int,
                         chunk: int, device: torch.device
                         ) -> Iterator[Tensor]:
    r"""The inverses of :obj:`num_permutations` uniform permutations, in
    chunks of at most :obj:`chunk`: permutation :math:`p` is the
    :math:`p`-th :obj:`torch.randperm(N, generator=g)` of a CPU generator
    :obj:`g` seeded with :obj:`seed`, so the values do not depend on the
    chunk size or the device."""
    gen = torch.Generator().manual_seed(seed)
    arange = torch.arange(num_nodes)
    done = 0
    while done < num_permutations:
        size = min(chunk, num_permutations - done)
        perms = torch.stack([torch.randperm(num_nodes, generator=gen)
                             for _ in range(size)])
        inv = torch.empty_like(perms)
        inv.scatter_(1, perms, arange.expand(size, num_nodes))
        yield inv.to(device)
        done += size


def null_scores(stack: LayerStack, b: NeighbourSets, metric: str,
                num_permutations: int, seed: int,
                hsic_a: Optional[Tensor] = None,
                hsic_b: Optional[Tensor] = None) -> Tensor:
    r"""The permutation null :math:`[P, L]` of every layer of
    :obj:`stack` against :obj:`b`."""
    chunk = max(1, QUERY_CHUNK // (stack.size * b.key.numel()))
    out = [finish_scores(metric, raw_scores(stack, b, metric, inv), hsic_a,
                         hsic_b)
           for inv in inverse_permutations(b.num_nodes, num_permutations,
                                           seed, chunk, b.key.device)]
    return torch.cat(out, dim=0)


def summarize(score: float, null: Tensor) -> AlignmentScore:
    r"""The :class:`AlignmentScore` of :obj:`score` against the null values
    :obj:`null` :math:`[P]`."""
    null = null.double().cpu()
    mean, std = float(null.mean()), float(null.std())
    z = (score - mean) / std if std > 0 else math.nan
    if math.isnan(score):
        p = math.nan
    else:
        p = (1 + int((null >= score).sum())) / (1 + null.numel())
    return AlignmentScore(score, mean, std, z, p)
