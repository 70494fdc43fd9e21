r"""The layer-difference matrix :math:`|Q_i - Q_j|` beside linear CKA: the
Python twin of ``pyg-dnnmod cka`` (Lu et al., ECCV 2022, section 5.1,
Fig. 8)."""
import time
from typing import Any, Optional, Union

import pandas as pd
import torch
from torch import Tensor, nn

from pyg_dnnmod.experiments._draw import (
    check_model,
    drawn_features,
    labels_of,
    snapshot_config,
)
from pyg_dnnmod.snapshots import SnapshotConfig

#: The columns of :func:`cka_comparison`, in order.
CKA_COLUMNS = ('layer_index_i', 'layer_i', 'layer_index_j', 'layer_j',
               'modularity_i', 'modularity_j', 'modularity_difference',
               'cka', 'spearman')


def cka_comparison(
    model: nn.Module,
    inputs: Union[Tensor, torch.utils.data.Dataset],
    labels: Optional[Tensor] = None,
    config: Optional[SnapshotConfig] = None,
    *,
    device: Union[str, torch.device, None] = None,
    debiased: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    r"""The modularity difference of every pair of layers beside their
    linear CKA over the same :math:`N` samples, as in Fig. 8 of
    `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_:

    .. math::
        \Delta_{ij} = |Q_i - Q_j|, \qquad
        \mathrm{CKA}_{ij} = \frac{\langle \mathbf{H}\mathbf{K}_i\mathbf{H},
        \mathbf{H}\mathbf{K}_j\mathbf{H}\rangle_F}
        {\|\mathbf{H}\mathbf{K}_i\mathbf{H}\|_F
        \|\mathbf{H}\mathbf{K}_j\mathbf{H}\|_F},

    with :math:`\mathbf{K}_\ell = \mathbf{X}_\ell\mathbf{X}_\ell^{\top}`.
    Both come from one Gram matrix per layer
    (:func:`~pyg_dnnmod.similarity.layer_graphs_with_cka`). Similar layers
    have a small :math:`\Delta` and a CKA near 1, so the paper's reading is
    a positive rank correlation between :math:`\Delta` and :math:`1 -
    \mathrm{CKA}`: the :obj:`spearman` column holds Spearman's
    :math:`\rho` between the strict upper triangles of :math:`\Delta` and
    :math:`1 - \mathrm{CKA}` (:math:`L (L - 1) / 2` pairs).

    Args:
        model (torch.nn.Module): The model.
        inputs (torch.Tensor or torch.utils.data.Dataset): Samples
            :math:`[M, ...]`, or a dataset of :obj:`(x, label)` pairs.
        labels (torch.Tensor, optional): Integer labels :math:`[M]`;
            required for a tensor. (default: :obj:`None`)
        config (SnapshotConfig, optional): How the snapshots are taken;
            the k-NN :obj:`metric` is :obj:`"cosine"`, :obj:`"pearson"`,
            :obj:`"euclidean"` or :obj:`"dot"` (CKA is always linear CKA of
            the raw features). (default: :obj:`None`, the defaults with
            :obj:`num_samples=500`)
        device (str or torch.device, optional): Where to compute.
            (default: :obj:`None`, the model's device)
        debiased (bool, optional): Debiased linear CKA (Song et al.'s
            unbiased HSIC; less inflated by width and small :math:`N`)
            instead of the biased estimator the paper uses.
            (default: :obj:`False`)
        **kwargs (optional): Fields of :class:`SnapshotConfig` on top of
            :obj:`config` (:obj:`k`, :obj:`num_samples`, :obj:`seed`, ...).

    Returns:
        pandas.DataFrame: One row per ordered pair of layers
        :math:`(i, j)` (:math:`L^2` rows, diagonal included) with
        :obj:`layer_index_i`, :obj:`layer_i`, :obj:`layer_index_j`,
        :obj:`layer_j`, :obj:`modularity_i`, :obj:`modularity_j`,
        :obj:`modularity_difference`, :obj:`cka` and :obj:`spearman` (the
        same in every row). :obj:`df.attrs` holds :obj:`spearman`,
        :obj:`k`, :obj:`num_samples`, :obj:`metric`, :obj:`seed`,
        :obj:`cka` (the estimator, :obj:`"biased"` or :obj:`"debiased"`)
        and :obj:`seconds`.

    Example:
        >>> from torch import nn
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(),
        ...                       nn.Conv2d(4, 4, 3), nn.ReLU(),
        ...                       nn.Conv2d(4, 4, 3))
        >>> x, y = torch.randn(60, 1, 8, 8), torch.arange(60) % 3
        >>> df = cka_comparison(model, x, y, num_samples=30)
        >>> len(df), df['layer_i'].unique().tolist()
        (9, ['0', '2', '4'])
        >>> diagonal = df[df['layer_index_i'] == df['layer_index_j']]
        >>> diagonal['modularity_difference'].tolist()
        [0.0, 0.0, 0.0]
        >>> bool(((diagonal['cka'] - 1).abs() < 1e-6).all())
        True
    """
    from pyg_dnnmod.similarity import (
        GRAM_METRICS,
        graphs_with_cka_from_features,
        modularity_difference,
        upper_triangle_spearman,
    )

    check_model(model)
    labels = labels_of(inputs, labels)
    config = snapshot_config(config, kwargs, num_samples=500)
    if config.metric not in GRAM_METRICS:
        raise ValueError(f"'metric' must be one of {GRAM_METRICS} "
                         f"(got {config.metric!r})")
    start = time.perf_counter()
    features, y, index = drawn_features(model, inputs, labels, config,
                                        device)
    n = index.numel()
    if not isinstance(debiased, bool):
        raise TypeError(f"'debiased' must be a bool (got {debiased!r})")
    graphs, cka = graphs_with_cka_from_features(
        features, y, k=config.k, metric=config.metric,
        symmetrize=config.symmetrize, debiased=debiased)
    q = graphs.modularity(config.resolution)
    diff = modularity_difference(q)
    rho = upper_triangle_spearman(diff, 1.0 - cka)
    seconds = time.perf_counter() - start

    names = graphs.layer_names
    num_layers = len(names)
    rows = [
        dict(layer_index_i=i, layer_i=names[i], layer_index_j=j,
             layer_j=names[j], modularity_i=float(q[i]),
             modularity_j=float(q[j]),
             modularity_difference=float(diff[i, j]), cka=float(cka[i, j]),
             spearman=rho)
        for i in range(num_layers) for j in range(num_layers)
    ]
    df = pd.DataFrame(rows, columns=list(CKA_COLUMNS))
    df.attrs.update(spearman=rho, k=config.k, num_samples=n,
                    metric=config.metric, seed=config.seed,
                    cka='debiased' if debiased else 'biased',
                    seconds=seconds)
    return df


def cka_matrices(df: pd.DataFrame):
    r"""The :math:`|Q_i - Q_j|` and CKA matrices of :func:`cka_comparison`'s
    output as two :math:`[L, L]` DataFrames indexed by layer name.

    Example:
        >>> df = pd.DataFrame({
        ...     'layer_index_i': [0, 0, 1, 1], 'layer_i': ['a', 'a', 'b', 'b'],
        ...     'layer_index_j': [0, 1, 0, 1], 'layer_j': ['a', 'b', 'a', 'b'],
        ...     'modularity_difference': [0., .5, .5, 0.],
        ...     'cka': [1., .3, .3, 1.]})
        >>> diff, cka = cka_matrices(df)
        >>> float(cka.loc['a', 'b']), diff.index.tolist()
        (0.3, ['a', 'b'])
    """
    missing = [c for c in ('layer_index_i', 'layer_i', 'layer_index_j',
                           'layer_j', 'modularity_difference', 'cka')
               if c not in df.columns]
    if missing:
        raise ValueError(f"'df' lacks the column(s) {missing} (got "
                         f"{df.columns.tolist()}); pass the output of "
                         f"cka_comparison")
    order = (df[['layer_index_i', 'layer_i']].drop_duplicates()
             .sort_values('layer_index_i')['layer_i'].tolist())
    out = []
    for value in ('modularity_difference', 'cka'):
        m = df.pivot(index='layer_i', columns='layer_j', values=value)
        out.append(m.loc[order, order].rename_axis(index=None, columns=None))
    return out[0], out[1]
