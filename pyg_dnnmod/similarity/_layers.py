r"""A model's snapshots and its layer-by-layer CKA from one Gram matrix per
layer, and the comparison of the two (Lu et al., ECCV 2022, section 5.1).

:func:`layer_graphs_with_cka` reads every layer once, computes its Gram
matrix :math:`\mathbf{K}_\ell = \mathbf{X}_\ell\mathbf{X}_\ell^{\top}` once,
and derives from it both the k-NN snapshot (through
:func:`gram_similarity` and :func:`knn_graph_from_similarity`) and the
layer's share of the CKA matrix. :func:`modularity_difference` and
:func:`upper_triangle_spearman` compare :math:`|Q_i - Q_j|` with CKA.
"""
import math
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from pyg_dnnmod.similarity._cka import _unit_centered, cka_matrix_from_unit
from pyg_dnnmod.similarity._gram import (
    GRAM_METRICS,
    duplicate_rows,
    gram_matrix,
    gram_similarity,
    knn_graph_from_similarity,
)
from pyg_dnnmod.snapshots import (
    LayerGraphs,
    SnapshotConfig,
    draw_layer_features,
)
from pyg_dnnmod.utils import check_labels
from pyg_dnnmod.utils.knn_kernel import check_features


def gram_snapshot(
    x: Tensor,
    labels: Tensor,
    k: int = 3,
    metric: str = 'cosine',
    symmetrize: str = 'half',
    t: int = 0,
    layer: str = '',
) -> Tuple[Data, Tensor]:
    r"""One k-NN snapshot built from the Gram matrix of :obj:`x`, and that
    Gram matrix.

    The snapshot is :func:`~pyg_dnnmod.snapshots.snapshot`'s (same
    attributes, same graph up to floating-point rounding of the
    similarities), computed as :func:`gram_matrix`, then
    :func:`gram_similarity` and :func:`knn_graph_from_similarity`; the Gram
    matrix is returned for whatever else needs it, e.g. linear CKA.

    Args:
        x (torch.Tensor): Features :math:`[N, D]` (or :math:`[N, *]`).
        labels (torch.Tensor): Integer labels :math:`[N]`.
        k (int, optional): Neighbours per sample. (default: :obj:`3`)
        metric (str, optional): :obj:`"cosine"`, :obj:`"pearson"`,
            :obj:`"euclidean"` or :obj:`"dot"`. (default: :obj:`"cosine"`)
        symmetrize (str, optional): See :func:`~pyg_dnnmod.utils.knn_graph`.
            (default: :obj:`"half"`)
        t (int, optional): The snapshot's time index. (default: :obj:`0`)
        layer (str, optional): The layer name. (default: :obj:`""`)

    Returns:
        (torch_geometric.data.Data, torch.Tensor): The snapshot (on the CPU)
        and :math:`\mathbf{K}` :math:`[N, N]` (on the device of :obj:`x`).

    Example:
        >>> x = torch.tensor([[1., 0.], [1., .1], [0., 1.]])
        >>> data, gram = gram_snapshot(x, torch.tensor([0, 0, 1]), k=1)
        >>> data.edge_index.tolist(), gram.shape
        ([[0, 1, 1, 2], [1, 0, 2, 1]], torch.Size([3, 3]))
    """
    x = check_features(x)
    labels = check_labels(labels, x.size(0))
    if metric not in GRAM_METRICS:
        raise ValueError(f"'metric' must be one of {GRAM_METRICS} "
                         f"(got {metric!r})")
    gram = gram_matrix(x)
    sim = gram_similarity(gram, metric, row_sums=x.sum(dim=1),
                          num_features=max(x.size(1), 1))
    edge_index, edge_weight = knn_graph_from_similarity(
        sim, k, symmetrize=symmetrize, duplicates=duplicate_rows(x))
    del sim
    data = Data(edge_index=edge_index.cpu(), y=labels.cpu(),
                num_nodes=x.size(0))
    data.edge_weight = edge_weight.float().cpu()
    data.t = t
    data.layer = layer
    return data, gram


def graphs_with_cka_from_features(
    features: Iterable[Tuple[str, Tensor]],
    labels: Tensor,
    k: int = 3,
    metric: str = 'cosine',
    symmetrize: str = 'half',
    meta: Optional[dict] = None,
    debiased: bool = False,
) -> Tuple[LayerGraphs, Tensor]:
    r"""The snapshots and the CKA matrix of :obj:`(name, features)` pairs
    (a generator is fine: one layer's features are held at a time, plus one
    centred :math:`N \times N` Gram matrix per layer for the CKA); see
    :func:`layer_graphs_with_cka`. With :obj:`debiased`, the CKA is the
    debiased estimator (Song et al.'s unbiased HSIC, see
    :func:`cka_from_gram`) from the same Gram matrices.

    Example:
        >>> x = torch.randn(12, 5)
        >>> y = torch.arange(12) % 2
        >>> graphs, cka = graphs_with_cka_from_features(
        ...     [('a', x), ('b', 2 * x)], y)
        >>> graphs.layer_names, cka.round(decimals=6).tolist()
        (['a', 'b'], [[1.0, 1.0], [1.0, 1.0]])
    """
    snapshots: List[Data] = []
    units: List[Tensor] = []
    for t, (name, x) in enumerate(features):
        data, gram = gram_snapshot(x, labels, k=k, metric=metric,
                                   symmetrize=symmetrize, t=t, layer=name)
        snapshots.append(data)
        units.append(_unit_centered(gram, debiased))
        del gram
    if not snapshots:
        raise ValueError("'features' is empty: no layer to compare")
    meta = dict(meta or {})
    meta.update(k=k, metric=metric, symmetrize=symmetrize,
                cka='debiased' if debiased else 'biased')
    return LayerGraphs(snapshots, meta), cka_matrix_from_unit(units)


def layer_graphs_with_cka(
    model: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    config: Optional[SnapshotConfig] = None,
    *,
    device: Union[str, torch.device, None] = None,
    max_bytes: Optional[int] = None,
    debiased: bool = False,
    **kwargs: Any,
) -> Tuple[LayerGraphs, Tensor]:
    r"""A model's k-NN snapshots (as :func:`~pyg_dnnmod.layer_graphs`) and
    the linear CKA between every pair of its layers over the same samples,
    from one Gram matrix per layer.

    Every layer's features :math:`\mathbf{X}_\ell` over the :math:`N`
    samples give :math:`\mathbf{K}_\ell = \mathbf{X}_\ell
    \mathbf{X}_\ell^{\top}` once (:func:`gram_matrix`); its cosine (or
    Pearson) similarities give the k-NN snapshot and its centred form
    :math:`\mathbf{H}\mathbf{K}_\ell\mathbf{H}` the CKA (Kornblith et al.,
    2019), as used by Lu et al. (ECCV 2022, Fig. 8). Memory: one layer's
    features at a time plus :math:`L` centred Gram matrices :math:`N \times
    N` (in the features' dtype) and one similarity matrix.

    Args:
        model (torch.nn.Module): The model.
        inputs (torch.Tensor): Samples :math:`[M, ...]`.
        labels (torch.Tensor): Their integer labels :math:`[M]`.
        config (SnapshotConfig, optional): How the snapshots are taken;
            :obj:`metric` is :obj:`"cosine"`, :obj:`"pearson"`,
            :obj:`"euclidean"` or :obj:`"dot"`. (default: :obj:`None`, the
            defaults)
        device (str or torch.device, optional): Where the forward passes and
            the Gram matrices run. (default: :obj:`None`, the model's)
        max_bytes (int, optional): Budget in bytes for the features held
            in memory; the rest spill to disk, see
            :func:`~pyg_dnnmod.features.iter_layer_features`.
            (default: :obj:`None`, half the memory available, see
            :func:`~pyg_dnnmod.features.memory_budget`)
        debiased (bool, optional): The debiased CKA (Song et al.'s unbiased
            HSIC, as Kornblith's :obj:`cka(..., debiased=True)`) instead of
            the biased one. (default: :obj:`False`)
        **kwargs (optional): Fields of :class:`~pyg_dnnmod.SnapshotConfig`
            on top of :obj:`config` (:obj:`k`, :obj:`layers`,
            :obj:`num_samples`, :obj:`seed`, ...).

    Returns:
        (LayerGraphs, torch.Tensor): The snapshots and the CKA matrix
        :math:`[L, L]` (float64).

    Example:
        >>> from pyg_dnnmod.testing import toy_problem
        >>> model, x, y = toy_problem(40, num_classes=2)
        >>> graphs, cka = layer_graphs_with_cka(model, x, y, k=3)
        >>> graphs.layer_names, cka.shape
        (['0', '2'], torch.Size([2, 2]))
    """
    config = SnapshotConfig.resolve(config, **kwargs)
    if config.metric not in GRAM_METRICS:
        raise ValueError(f"'metric' must be one of {GRAM_METRICS} "
                         f"(got {config.metric!r})")
    features, labels, meta = draw_layer_features(
        model, inputs, labels, config, device, max_bytes=max_bytes)
    return graphs_with_cka_from_features(features, labels, k=config.k,
                                         metric=config.metric,
                                         symmetrize=config.symmetrize,
                                         meta=meta, debiased=debiased)


def modularity_difference(q: Union[Tensor, Sequence[float]]) -> Tensor:
    r"""The layer-difference matrix of Lu et al. (ECCV 2022, section 5.1),

    .. math::
        \Delta_{ij} = |Q_i - Q_j|,

    from the modularity :math:`Q_\ell` of every layer.

    Args:
        q (torch.Tensor or [float]): Modularity per layer :math:`[L]`.

    Returns:
        torch.Tensor: :math:`[L, L]` (float64).

    Example:
        >>> modularity_difference([0.2, 0.5, 0.9])
        tensor([[0.0000, 0.3000, 0.7000],
                [0.3000, 0.0000, 0.4000],
                [0.7000, 0.4000, 0.0000]], dtype=torch.float64)
    """
    q = torch.as_tensor(q, dtype=torch.float64)
    if q.dim() != 1:
        raise ValueError(f"'q' must be one-dimensional [num_layers] "
                         f"(got shape {list(q.shape)})")
    return (q.unsqueeze(1) - q.unsqueeze(0)).abs()


def upper_triangle_spearman(a: Tensor, b: Tensor) -> float:
    r"""Spearman's rank correlation between the strict upper triangles of
    two square matrices (pairs where either is NaN left out), the number
    Lu et al. read between :math:`|Q_i - Q_j|` and :math:`1 -
    \mathrm{CKA}`.

    Returns NaN when fewer than two pairs remain or either triangle is
    constant.

    Args:
        a (torch.Tensor): :math:`[L, L]`.
        b (torch.Tensor): :math:`[L, L]`.

    Example:
        >>> a = torch.tensor([[0., 1., 2.], [1., 0., 3.], [2., 3., 0.]])
        >>> upper_triangle_spearman(a, a ** 2)
        1.0
        >>> upper_triangle_spearman(a, -a)
        -1.0
    """
    from scipy.stats import spearmanr

    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    if a.dim() != 2 or a.size(0) != a.size(1) or a.shape != b.shape:
        raise ValueError(f"'a' and 'b' must be square matrices of the same "
                         f"shape (got {list(a.shape)} and {list(b.shape)})")
    row, col = torch.triu_indices(a.size(0), a.size(0), offset=1)
    u, v = a[row, col], b[row, col]
    keep = ~(torch.isnan(u) | torch.isnan(v))
    u, v = u[keep], v[keep]
    if u.numel() < 2 or bool((u == u[0]).all()) or bool((v == v[0]).all()):
        return math.nan
    return float(spearmanr(u.numpy(), v.numpy())[0])
