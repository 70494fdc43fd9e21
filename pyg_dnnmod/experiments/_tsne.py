r"""t-SNE maps of a model's layers beside their modularity: the Python twin
of ``pyg-dnnmod tsne`` (the paper's Fig. 1, left)."""
import sys
from typing import Any, Dict, List, Optional, Union

import pandas as pd
import torch
from torch import nn

from pyg_dnnmod.experiments._draw import (
    Inputs,
    check_model,
    labels_of,
    snapshot_config,
    take_samples,
)
from pyg_dnnmod.snapshots import SnapshotConfig

#: The columns of :func:`tsne_panels`, in order.
TSNE_COLUMNS = ('layer_index', 'layer', 'sample', 'sample_index', 'label',
                'x', 'y', 'modularity')


def tsne_embedding(
    features: torch.Tensor,
    metric: str = 'cosine',
    perplexity: float = 30.0,
    pca_dim: Optional[int] = 50,
    seed: int = 0,
) -> torch.Tensor:
    r"""A 2-D t-SNE map of the rows of :obj:`features` (scikit-learn's
    :class:`~sklearn.manifold.TSNE`, fixed :obj:`random_state`).

    The rows are first prepared as the k-NN graph compares them
    (:func:`~pyg_dnnmod.utils.prepare_features`: unit length for
    :obj:`"cosine"`, centred and unit length for :obj:`"pearson"`), so that
    the Euclidean distances t-SNE sees order neighbours as the graph does
    (:math:`\|\hat{\mathbf{x}}_i - \hat{\mathbf{x}}_j\|^2 = 2 - 2
    \cos(\mathbf{x}_i, \mathbf{x}_j)`); then reduced to :obj:`pca_dim`
    principal components, the usual speed-up, which keeps the
    neighbourhoods of high-dimensional features. Runs single-threaded.

    Args:
        features (torch.Tensor): Features :math:`[N, D]`.
        metric (str, optional): :obj:`"cosine"`, :obj:`"pearson"`,
            :obj:`"dot"` or :obj:`"euclidean"`. (default: :obj:`"cosine"`)
        perplexity (float, optional): t-SNE's perplexity, below :math:`N`.
            (default: :obj:`30.0`)
        pca_dim (int, optional): Principal components kept first;
            :obj:`None` keeps all. (default: :obj:`50`)
        seed (int, optional): The :obj:`random_state`. (default: :obj:`0`)

    Returns:
        torch.Tensor: The map :math:`[N, 2]` (float64).

    Example:
        >>> x = torch.cat([torch.randn(20, 8) + 5, torch.randn(20, 8) - 5])
        >>> tsne_embedding(x, perplexity=5).shape
        torch.Size([40, 2])
    """
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    from pyg_dnnmod.utils import prepare_features

    x = features.detach().reshape(features.size(0), -1).cpu().double()
    num = x.size(0)
    if not 0 < perplexity < num:
        raise ValueError(f"'perplexity' must lie in (0, N) for N={num} "
                         f"samples (got {perplexity})")
    x = prepare_features(x, metric).numpy()
    # One thread: at a few hundred samples the OpenMP / BLAS threads of
    # PCA and t-SNE cost more than they save (ten times more CPU time on a
    # busy machine).
    with threadpool_limits(1):
        if pca_dim is not None and min(x.shape) > pca_dim:
            x = PCA(n_components=pca_dim,
                    random_state=seed).fit_transform(x)
        tsne = TSNE(n_components=2, perplexity=perplexity, init='pca',
                    learning_rate='auto', random_state=seed)
        points = tsne.fit_transform(x)
    return torch.from_numpy(np.ascontiguousarray(points))


def tsne_panels(
    model: nn.Module,
    inputs: Inputs,
    labels: Optional[torch.Tensor] = None,
    config: Optional[SnapshotConfig] = None,
    *,
    device: Union[str, torch.device, None] = None,
    perplexity: float = 30.0,
    pca_dim: Optional[int] = 50,
    include_input: bool = False,
    **kwargs: Any,
) -> pd.DataFrame:
    r"""A t-SNE map of every layer's features over :math:`N` samples with
    the modularity of the layer's k-NN graph, as in Fig. 1 (left) of
    `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_: the classes separate in the map
    as the modularity rises.

    One draw of :math:`N` samples (seed :obj:`seed`, as in
    :func:`~pyg_dnnmod.layer_graphs`) feeds every layer; each layer's map
    comes from :func:`tsne_embedding` with :obj:`random_state=seed`, and its
    modularity from :func:`~pyg_dnnmod.utils.knn_graph` and
    :func:`~pyg_dnnmod.utils.modularity` (the value of
    :func:`~pyg_dnnmod.experiments.modularity_curves` for that draw).

    Args:
        model (torch.nn.Module): The model.
        inputs (torch.Tensor or torch.utils.data.Dataset): The samples, see
            :func:`~pyg_dnnmod.experiments.modularity_curves`.
        labels (torch.Tensor, optional): Their integer labels.
            (default: :obj:`None`)
        config (SnapshotConfig, optional): How the snapshots are taken;
            its :obj:`metric` is also the map's, its :obj:`seed` also
            seeds t-SNE. (default: :obj:`None`, the defaults with
            :obj:`num_samples=500`)
        device (str or torch.device, optional): Where the forward pass and
            the graphs run. (default: :obj:`None`)
        perplexity (float, optional): t-SNE's perplexity.
            (default: :obj:`30.0`)
        pca_dim (int, optional): See :func:`tsne_embedding`.
            (default: :obj:`50`)
        include_input (bool, optional): Add a first panel of the raw inputs
            (layer :obj:`"input"`, index :obj:`-1`). (default: :obj:`False`)
        **kwargs (optional): Fields of :class:`SnapshotConfig` on top of
            :obj:`config` (:obj:`k`, :obj:`num_samples`, :obj:`seed`,
            :obj:`progress`, ...).

    Returns:
        pandas.DataFrame: One row per (layer, sample): :obj:`layer_index`,
        :obj:`layer`, :obj:`sample` (position in the draw),
        :obj:`sample_index` (index into :obj:`inputs`), :obj:`label`,
        :obj:`x`, :obj:`y` (the map) and :obj:`modularity` (of the layer).

    Example:
        >>> from pyg_dnnmod.testing import toy_problem
        >>> model, x, y = toy_problem(40, num_classes=2)
        >>> df = tsne_panels(model, x, y, num_samples=20, perplexity=5)
        >>> df.groupby('layer').size().to_dict()
        {'0': 20, '2': 20}
    """
    from tqdm.auto import tqdm

    from pyg_dnnmod.features import select_layers
    from pyg_dnnmod.utils import knn_graph, modularity

    check_model(model)
    labels = labels_of(inputs, labels)
    config = snapshot_config(config, kwargs, num_samples=500)
    index = config.draw(labels)
    n = index.numel()
    if not 0 < perplexity < n:
        raise ValueError(f"'perplexity' must lie in (0, N) for N={n} "
                         f"samples (got {perplexity})")
    names = select_layers(model, config.layers, config.post_activation)
    x, y = take_samples(inputs, index), labels[index]

    def panels():
        if include_input:
            yield -1, 'input', x.reshape(n, -1)
        features = config.layer_features(model, x, device)
        for t, (name, f) in enumerate(features):
            yield t, name, f

    frames: List[pd.DataFrame] = []
    bar = tqdm(total=len(names) + int(include_input), desc='t-SNE',
               unit='layer', file=sys.stderr, disable=not config.progress)
    try:
        for t, name, f in panels():
            edge_index, edge_weight = knn_graph(f, **config.knn_arguments())
            q = float(modularity(edge_index, y.to(f.device),
                                 edge_weight.float(), num_nodes=n,
                                 resolution=config.resolution))
            points = tsne_embedding(f, config.metric, perplexity, pca_dim,
                                    config.seed)
            row: Dict[str, Any] = dict(
                layer_index=t, layer=name, sample=range(n),
                sample_index=index.tolist(), label=y.tolist(),
                x=points[:, 0].tolist(), y=points[:, 1].tolist(),
                modularity=q)
            frames.append(pd.DataFrame(row, columns=list(TSNE_COLUMNS)))
            bar.update(1)
    finally:
        bar.close()
    return pd.concat(frames, ignore_index=True)
