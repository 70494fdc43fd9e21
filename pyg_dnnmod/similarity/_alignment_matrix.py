r"""The k-NN alignment of every pair of layers, within one model or across
two models (or two checkpoints of one), as a long DataFrame, a wide table
or a bipartite PyG graph.

Every layer is read once and its k-NN lists computed once
(:func:`~pyg_dnnmod.similarity.knn_indices`); every pair of layers is then
a lookup of :math:`B`'s :math:`Nk` edges among :math:`A`'s, one layer of
:math:`B` against a group of layers of :math:`A` at a time. Memory: the
features of one layer at a time; per layer its edge keys (about
:math:`24\,Nk` bytes, plus :math:`24\,Nk` for CKNNA's similarities); while
comparing, one lookup table of at most 128 MB (:math:`N^2` bytes per layer
of :math:`A`, :math:`4N^2` for CKNNA; a binary search instead when one
layer's table is larger) and the queries of one chunk of permutations
(about :math:`2^{21}` edges). No dense similarity or Gram matrix, also for
CKNNA.
"""
from typing import Any, Iterable, List, Mapping, Optional, Tuple, Union

import pandas as pd
import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from pyg_dnnmod.similarity import _alignment
from pyg_dnnmod.similarity._alignment import (
    LayerStack,
    NeighbourSets,
    check_alignment_metric,
    check_cknna,
    check_permutations,
    finish_scores,
    knn_indices,
    null_scores,
    raw_scores,
    self_hsic,
    summarize,
)
from pyg_dnnmod.similarity._knn_alignment import knn_chance_level
from pyg_dnnmod.snapshots import SnapshotConfig, draw_layer_features
from pyg_dnnmod.utils.knn_kernel import check_features, check_knn_args

Features = Union[Mapping[str, Tensor], Iterable[Tuple[str, Tensor]]]
_NULL_COLUMNS = ['null_mean', 'null_std', 'z', 'p']


def _progress(iterable: Iterable, enabled: bool, desc: str) -> Iterable:
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc, unit='layer', leave=False)


def _read_layers(features: Features, which: str, k: int, similarity: str,
                 with_sim: bool, knn_kwargs: Mapping[str, Any],
                 num_nodes: Optional[int], progress: bool
                 ) -> Tuple[List[str], List[NeighbourSets]]:
    r"""Every layer's k-NN lists, one layer's features held at a time."""
    if isinstance(features, Mapping):
        features = features.items()
    names: List[str] = []
    sets: List[NeighbourSets] = []
    for name, x in _progress(features, progress, f'k-NN of {which}'):
        x = check_features(x, f'{which} layer {name}')
        if num_nodes is None:
            num_nodes = x.size(0)
            check_knn_args(num_nodes, k, False, 'none', metric=similarity)
            if with_sim:
                check_cknna(num_nodes, k, similarity)
        elif x.size(0) != num_nodes:
            raise ValueError(f"every layer must hold the same samples "
                             f"(layer {name!r} of {which} has N="
                             f"{x.size(0)}, the first layer N={num_nodes})")
        out = knn_indices(x, k, similarity, return_similarity=with_sim,
                          **knn_kwargs)
        idx, sim = out if with_sim else (out, None)
        del x
        sets.append(NeighbourSets(idx, sim))
        names.append(str(name))
    if not sets:
        raise ValueError(f"'{which}' is empty: no layer to compare")
    return names, sets


def _groups(sets: List[NeighbourSets]) -> List[Tuple[int, int]]:
    r"""The layers of :math:`A` in groups (start, size) of at most
    :obj:`QUERY_CHUNK` edges and, where one layer's lookup table fits
    :obj:`DENSE_BYTES`, as many as fit together (at least one layer)."""
    n = sets[0].num_nodes
    per_group = max(1, _alignment.QUERY_CHUNK // sets[0].key.numel())
    table = (1 if sets[0].sim is None else 4) * n * n
    if table <= _alignment.DENSE_BYTES:
        per_group = min(per_group, _alignment.DENSE_BYTES // table)
    return [(start, min(per_group, len(sets) - start))
            for start in range(0, len(sets), per_group)]


def alignment_matrix_from_features(
    features_a: Features,
    features_b: Optional[Features] = None,
    *,
    metric: str = 'mutual_knn',
    k: int = 10,
    similarity: str = 'cosine',
    calibrate: bool = False,
    num_permutations: int = 1000,
    seed: int = 0,
    knn_kwargs: Optional[Mapping[str, Any]] = None,
    progress: bool = False,
) -> pd.DataFrame:
    r"""The k-NN alignment of every layer of :math:`A` with every layer of
    :math:`B` (or of :math:`A`, when :obj:`features_b` is :obj:`None`),
    from :obj:`(name, features)` pairs over the same :math:`N` samples (a
    generator is fine: one layer's features are held at a time).

    See :func:`alignment_matrix` for the scores and the columns. With
    :obj:`calibrate=True` every pair gets its permutation null
    (:func:`~pyg_dnnmod.similarity.alignment_null_from_indices`; the same
    :obj:`seed`, hence the same permutations of :math:`B`'s samples, for
    every pair): :math:`L_A L_B P` comparisons of :math:`Nk` keys.

    Args:
        features_a: :obj:`(name, features)` pairs, or a dict.
        features_b (optional): The same for :math:`B`.
            (default: :obj:`None`, :math:`B = A`)
        metric (str, optional): :obj:`"mutual_knn"`, :obj:`"cycle_knn"`,
            :obj:`"knn_jaccard"` or :obj:`"cknna"`.
            (default: :obj:`"mutual_knn"`)
        k (int, optional): Neighbours per sample. (default: :obj:`10`)
        similarity (str, optional): The k-NN's similarity, see
            :func:`~pyg_dnnmod.utils.knn_graph`. (default: :obj:`"cosine"`)
        calibrate (bool, optional): Add the permutation null.
            (default: :obj:`False`)
        num_permutations (int, optional): :math:`P`. (default: :obj:`1000`)
        seed (int, optional): The seed of the permutations.
            (default: :obj:`0`)
        knn_kwargs (dict, optional): Further arguments of
            :func:`~pyg_dnnmod.utils.knn_graph`. (default: :obj:`None`)
        progress (bool, optional): Show progress bars on stderr.
            (default: :obj:`False`)

    Example:
        >>> x = torch.randn(30, 6, generator=torch.Generator().manual_seed(0))
        >>> df = alignment_matrix_from_features([('a', x), ('b', x.exp())],
        ...                                     k=3)
        >>> alignment_table(df).round(2)  # doctest: +NORMALIZE_WHITESPACE
        layer_b    a    b
        layer_a
        a        1.0  0.4
        b        0.4  1.0
    """
    check_alignment_metric(metric)
    if calibrate:
        check_permutations(num_permutations, seed)
    if metric == 'cknna':
        check_cknna(None, k, similarity)
    knn_kwargs = dict(knn_kwargs or {})
    with_sim = metric == 'cknna'
    names_a, sets_a = _read_layers(features_a, 'features_a', k, similarity,
                                   with_sim, knn_kwargs, None, progress)
    num_nodes = sets_a[0].num_nodes
    within = features_b is None
    if within:
        names_b, sets_b = names_a, sets_a
    else:
        names_b, sets_b = _read_layers(features_b, 'features_b', k,
                                       similarity, with_sim, knn_kwargs,
                                       num_nodes, progress)
    hsic_a = hsic_b = None
    if with_sim:
        hsic_a = torch.cat([self_hsic(s).view(-1) for s in sets_a])
        hsic_b = hsic_a if within else torch.cat(
            [self_hsic(s).view(-1) for s in sets_b])
    device = sets_a[0].key.device
    ident = torch.arange(num_nodes, device=device).unsqueeze(0)
    rows = []
    # One group of A's layers (and its lookup table) alive at a time.
    for start, size in _progress(_groups(sets_a), progress, 'alignment'):
        stack = LayerStack(sets_a[start:start + size])
        a_hsic = None if hsic_a is None else hsic_a[start:start + size]
        for jb, b in enumerate(sets_b):
            b_hsic = None if hsic_b is None else hsic_b[jb]
            score = finish_scores(metric, raw_scores(stack, b, metric, ident),
                                  a_hsic, b_hsic).view(-1).cpu()
            null = None
            if calibrate:
                null = null_scores(stack, b, metric, num_permutations, seed,
                                   a_hsic, b_hsic).cpu()
            for t in range(size):
                row = dict(layer_a=names_a[start + t], layer_b=names_b[jb],
                           layer_index_a=start + t, layer_index_b=jb,
                           score=float(score[t]))
                if null is not None:
                    row.update(zip(_NULL_COLUMNS,
                                   summarize(row['score'], null[:, t])[1:]))
                rows.append(row)
        del stack
    df = pd.DataFrame(rows).sort_values(['layer_index_a', 'layer_index_b'])
    df = df.reset_index(drop=True)
    df.attrs.update(metric=metric, k=k, similarity=similarity,
                    num_samples=num_nodes, calibrate=calibrate,
                    num_permutations=num_permutations if calibrate else 0,
                    seed=seed)
    if metric in ('mutual_knn', 'knn_jaccard'):
        df.attrs['chance_level'] = knn_chance_level(metric, num_nodes, k)
    return df


def alignment_matrix(
    model_a: nn.Module,
    inputs: Tensor,
    labels: Optional[Tensor] = None,
    model_b: Optional[nn.Module] = None,
    *,
    metric: str = 'mutual_knn',
    k: Optional[int] = None,
    layers_b: Any = None,
    similarity: Optional[str] = None,
    config: Optional[SnapshotConfig] = None,
    calibrate: bool = False,
    num_permutations: int = 1000,
    seed: int = 0,
    device: Union[str, torch.device, None] = None,
    max_bytes: Optional[int] = None,
    **kwargs: Any,
) -> pd.DataFrame:
    r"""The k-NN alignment of every pair of layers of a model, or of two
    models (or two checkpoints) over the same inputs: the scores of `"The
    Platonic Representation Hypothesis" <https://arxiv.org/abs/2405.07987>`_
    (Huh et al., 2024) and ReSi's Jaccard k-NN (Klabunde et al., 2024) for
    every layer :math:`a` of :obj:`model_a` and :math:`b` of
    :obj:`model_b`,

    .. math::
        S_{ab} = s\big(\mathcal{N}_a, \mathcal{N}_b\big), \qquad
        s \in \{\text{mutual k-NN}, \text{cycle k-NN}, \text{Jaccard},
        \text{CKNNA}\},

    optionally each calibrated against its permutation null (see
    :func:`~pyg_dnnmod.similarity.alignment_null_from_indices`). The
    :math:`N` samples are drawn once (:meth:`SnapshotConfig.draw`: balanced
    by :obj:`labels`, or uniformly when :obj:`labels` is :obj:`None`) and
    both models read them; every layer is read once, its k-NN computed once
    (cosine on L2-normalised rows by default, self excluded, ties to the
    lowest index), and the :math:`L_A L_B` pairs are comparisons of the
    neighbour lists. Memory: see :mod:`this module
    <pyg_dnnmod.similarity._alignment_matrix>`, :math:`O(L N k)`.

    Within one model the mutual k-NN and Jaccard matrices are symmetric
    with a diagonal of 1; cycle k-NN and CKNNA are not symmetric (CKNNA's
    masked kernels are not; the difference is small, as in platonic-rep).
    The nulls of :math:`(a, b)` and :math:`(b, a)` permute different
    sides, so they agree in distribution, not number for number.

    Args:
        model_a (torch.nn.Module): The model :math:`A`.
        inputs (torch.Tensor): Samples :math:`[M, ...]`.
        labels (torch.Tensor, optional): Their integer labels :math:`[M]`,
            only used to draw the :math:`N` samples (balanced per
            :obj:`config.balanced`); :obj:`None` draws uniformly.
            (default: :obj:`None`)
        model_b (torch.nn.Module, optional): The model :math:`B`.
            (default: :obj:`None`, :math:`B = A`)
        metric (str, optional): :obj:`"mutual_knn"`, :obj:`"cycle_knn"`,
            :obj:`"knn_jaccard"` or :obj:`"cknna"`.
            (default: :obj:`"mutual_knn"`)
        k (int, optional): Neighbours per sample. (default: :obj:`None`,
            :obj:`config.k` when a config is given, else :obj:`10`, Huh et
            al.'s)
        layers_b (optional): The layers of :obj:`model_b` to read, as
            :obj:`config.layers` (see
            :func:`~pyg_dnnmod.features.select_layers`), for a model whose
            layers differ from :obj:`model_a`'s. (default: :obj:`None`,
            :obj:`config.layers`)
        similarity (str, optional): The k-NN's similarity,
            :obj:`config.metric` (default: :obj:`None`, the config's,
            :obj:`"cosine"`)
        config (SnapshotConfig, optional): How the samples are drawn and the
            layers read (:obj:`num_samples`, :obj:`seed` of the draw,
            :obj:`layers`, :obj:`post_activation`, :obj:`knn_kwargs`,
            :obj:`progress`, ...). (default: :obj:`None`, the defaults)
        calibrate (bool, optional): Add the permutation null of every pair.
            (default: :obj:`False`)
        num_permutations (int, optional): :math:`P`. (default: :obj:`1000`)
        seed (int, optional): The seed of the permutations (the draw's is
            :obj:`config.seed`). (default: :obj:`0`)
        device (str or torch.device, optional): Where the forward passes
            and the k-NN run. (default: :obj:`None`, the model's)
        max_bytes (int, optional): Budget in bytes for the features held
            in memory; the rest spill to disk, see
            :func:`~pyg_dnnmod.features.iter_layer_features`.
            (default: :obj:`None`, half the memory available, see
            :func:`~pyg_dnnmod.features.memory_budget`)
        **kwargs (optional): Fields of :class:`~pyg_dnnmod.SnapshotConfig`
            on top of :obj:`config`.

    Returns:
        pandas.DataFrame: One row per pair, columns :obj:`layer_a`,
        :obj:`layer_b`, :obj:`layer_index_a`, :obj:`layer_index_b`,
        :obj:`score`, and with :obj:`calibrate=True` :obj:`null_mean`,
        :obj:`null_std`, :obj:`z`, :obj:`p`; :obj:`df.attrs` holds the
        parameters (and :obj:`chance_level` for mutual k-NN and Jaccard).

    Example:
        >>> from pyg_dnnmod.testing import toy_problem
        >>> model, x, y = toy_problem(40, num_classes=2)
        >>> df = alignment_matrix(model, x, y, k=5, calibrate=True,
        ...                       num_permutations=99)
        >>> df[['layer_a', 'layer_b', 'score', 'p']].round(3)
          layer_a layer_b  score     p
        0       0       0  1.000  0.01
        1       0       2  0.505  0.01
        2       2       0  0.505  0.01
        3       2       2  1.000  0.01
    """
    check_alignment_metric(metric)
    if not isinstance(model_a, nn.Module):
        raise TypeError(f"'model_a' must be a torch.nn.Module "
                        f"(got {type(model_a).__name__})")
    if model_b is not None and not isinstance(model_b, nn.Module):
        raise TypeError(f"'model_b' must be a torch.nn.Module or None "
                        f"(got {type(model_b).__name__})")
    changes = dict(kwargs)
    if k is not None or config is None:
        changes['k'] = 10 if k is None else k
    if similarity is not None:
        changes['metric'] = similarity
    config = SnapshotConfig.resolve(config, **changes)
    if calibrate:
        check_permutations(num_permutations, seed)
    if metric == 'cknna':
        check_cknna(None, config.k, config.metric)
    draw_config = config
    if labels is None:
        num = inputs.size(0) if isinstance(inputs, Tensor) and \
            inputs.dim() > 0 else 0
        labels = torch.zeros(num, dtype=torch.long)
        draw_config = config.replace(balanced=False)

    if layers_b is not None and model_b is None:
        raise ValueError("'layers_b' selects layers of 'model_b' (got "
                         "model_b=None); use config.layers for model_a")
    config_b = draw_config if layers_b is None else \
        draw_config.replace(layers=layers_b)

    def read(model: nn.Module, config: SnapshotConfig
             ) -> Iterable[Tuple[str, Tensor]]:
        features, _, _ = draw_layer_features(model, inputs, labels, config,
                                             device, max_bytes=max_bytes)
        return features

    # B's generator starts after A's layers are read, so one model's
    # hooks and buffers are live at a time.
    features_b = None if model_b is None else _Lazy(read, model_b, config_b)
    return alignment_matrix_from_features(
        read(model_a, draw_config), features_b, metric=metric, k=config.k,
        similarity=config.metric, calibrate=calibrate,
        num_permutations=num_permutations, seed=seed,
        knn_kwargs=config.knn_kwargs, progress=config.progress)


class _Lazy:
    r"""An iterable that calls :obj:`fn(*args)` when first iterated."""
    def __init__(self, fn, *args) -> None:
        self.fn, self.args = fn, args

    def __iter__(self):
        return iter(self.fn(*self.args))


def _layer_names(df: pd.DataFrame, side: str) -> List[str]:
    first = df.drop_duplicates(f'layer_index_{side}')
    first = first.sort_values(f'layer_index_{side}')
    index = first[f'layer_index_{side}'].tolist()
    if index != list(range(len(index))):
        raise ValueError(f"'df' must number the layers of {side.upper()} "
                         f"0, 1, ... in 'layer_index_{side}' (got {index})")
    return first[f'layer_{side}'].astype(str).tolist()


def _check_frame(df: pd.DataFrame, values: str = 'score'
                 ) -> Tuple[List[str], List[str]]:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"'df' must be a pandas.DataFrame from "
                        f"alignment_matrix (got {type(df).__name__})")
    needed = ['layer_a', 'layer_b', 'layer_index_a', 'layer_index_b',
              values]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"'df' lacks the column(s) {missing} (has "
                         f"{list(df.columns)})")
    names_a, names_b = _layer_names(df, 'a'), _layer_names(df, 'b')
    pairs = df[['layer_index_a', 'layer_index_b']].drop_duplicates()
    if len(df) != len(names_a) * len(names_b) or len(pairs) != len(df):
        raise ValueError(f"'df' must hold every pair of layers once "
                         f"({len(names_a)} x {len(names_b)} = "
                         f"{len(names_a) * len(names_b)} rows, got "
                         f"{len(df)})")
    return names_a, names_b


def alignment_table(df: pd.DataFrame, values: str = 'score'
                    ) -> pd.DataFrame:
    r"""The long result of :func:`alignment_matrix` as a wide
    :math:`[L_A, L_B]` table: rows the layers of :math:`A`, columns those
    of :math:`B`, both in layer order.

    Args:
        df (pandas.DataFrame): From :func:`alignment_matrix`.
        values (str, optional): The column to show, e.g. :obj:`"z"`.
            (default: :obj:`"score"`)

    Example:
        >>> df = pd.DataFrame(dict(
        ...     layer_a=['x', 'x', 'y', 'y'], layer_b=['u', 'v', 'u', 'v'],
        ...     layer_index_a=[0, 0, 1, 1], layer_index_b=[0, 1, 0, 1],
        ...     score=[0.9, 0.2, 0.3, 0.8]))
        >>> alignment_table(df)  # doctest: +NORMALIZE_WHITESPACE
        layer_b    u    v
        layer_a
        x        0.9  0.2
        y        0.3  0.8
    """
    names_a, names_b = _check_frame(df, values)
    wide = df.pivot(index='layer_index_a', columns='layer_index_b',
                    values=values)
    wide.index = pd.Index(names_a, name='layer_a')
    wide.columns = pd.Index(names_b, name='layer_b')
    return wide


def alignment_graph(df: pd.DataFrame) -> Data:
    r"""The result of :func:`alignment_matrix` as a bipartite PyG graph:
    nodes :math:`0, \dots, L_A - 1` are the layers of :math:`A`,
    :math:`L_A, \dots, L_A + L_B - 1` those of :math:`B`, one edge from
    every layer of :math:`A` to every layer of :math:`B` (row-major,
    :obj:`edge_index` :math:`[2, L_A L_B]`) weighted by the score
    (:obj:`edge_weight`), and :obj:`edge_z` when the frame is calibrated.
    Within one model, the layers appear once on each side.

    Example:
        >>> df = pd.DataFrame(dict(
        ...     layer_a=['x', 'x', 'y', 'y'], layer_b=['u', 'v', 'u', 'v'],
        ...     layer_index_a=[0, 0, 1, 1], layer_index_b=[0, 1, 0, 1],
        ...     score=[0.9, 0.2, 0.3, 0.8]))
        >>> data = alignment_graph(df)
        >>> data.num_nodes, data.layer_names_a, data.layer_names_b
        (4, ['x', 'y'], ['u', 'v'])
        >>> data.edge_index.tolist()
        [[0, 0, 1, 1], [2, 3, 2, 3]]
    """
    names_a, names_b = _check_frame(df)
    df = df.sort_values(['layer_index_a', 'layer_index_b'])
    row = torch.tensor(df['layer_index_a'].tolist(), dtype=torch.long)
    col = torch.tensor(df['layer_index_b'].tolist(), dtype=torch.long)
    data = Data(edge_index=torch.stack([row, col + len(names_a)]),
                edge_weight=torch.tensor(df['score'].tolist(),
                                         dtype=torch.float),
                num_nodes=len(names_a) + len(names_b))
    data.layer_names_a = names_a
    data.layer_names_b = names_b
    if 'z' in df.columns:
        data.edge_z = torch.tensor(df['z'].tolist(), dtype=torch.float)
    return data
