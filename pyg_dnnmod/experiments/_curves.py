r"""Modularity curves over depth with repeats and ablations: the Python twin
of ``pyg-dnnmod curve`` (the paper's Fig. 4, Fig. 7 and appendix A)."""
from typing import Any, Dict, List, Optional, Union

import pandas as pd
import torch
from torch import Tensor

from pyg_dnnmod.experiments._draw import (
    Inputs,
    Models,
    as_models,
    labels_of,
    snapshot_config,
    take_samples,
)
from pyg_dnnmod.snapshots import SnapshotConfig

#: The columns that say which curve a row belongs to, besides the layer.
SETTING_COLUMNS = ('init', 'k', 'num_samples', 'metric')
#: The columns of :func:`modularity_curves`, in order.
CURVE_COLUMNS = ('layer_index', 'layer', 'repeat', 'modularity', 'k',
                 'num_samples', 'metric', 'init', 'seed', 'num_edges')



def _as_values(value: Any, name: str, kind: type) -> List[Any]:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) == 0:
        raise ValueError(f"'{name}' must hold at least one value (got "
                         f"{value!r})")
    for v in values:
        if kind is int and (isinstance(v, bool) or not isinstance(v, int)):
            raise TypeError(f"'{name}' must be an integer or a list of "
                            f"integers (got {value!r})")
        if kind is str and not isinstance(v, str):
            raise TypeError(f"'{name}' must be a str or a list of str "
                            f"(got {value!r})")
    if len(set(values)) != len(values):
        raise ValueError(f"'{name}' lists a value more than once "
                         f"(got {value!r})")
    return values


def modularity_curves(
    model: Models,
    inputs: Inputs,
    labels: Optional[Tensor] = None,
    config: Optional[SnapshotConfig] = None,
    *,
    repeats: int = 5,
    device: Union[str, torch.device, None] = None,
    **kwargs: Any,
) -> pd.DataFrame:
    r"""The modularity curve of a model over depth, repeated over random
    draws of the samples, optionally for several values of one parameter,
    as in `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_ (Lu et al., ECCV 2022; Fig. 4,
    the ablations of Fig. 7 and appendix A).

    For every model, every value of the ablated parameter and every repeat
    :math:`r`, :math:`N` samples are drawn with seed :obj:`seed + r` (see
    :func:`~pyg_dnnmod.datasets.sample_indices`, the draw of
    :func:`~pyg_dnnmod.layer_graphs`), and for every selected layer
    :math:`\ell` the modularity of the class partition of the k-NN graph of
    its features,

    .. math::
        Q_\ell = \sum_c \left[ \frac{L_c}{m} - \gamma
        \left(\frac{K_c}{2m}\right)^2 \right],

    is computed (:func:`~pyg_dnnmod.utils.knn_graph`,
    :func:`~pyg_dnnmod.utils.modularity`). The values equal those of
    :func:`~pyg_dnnmod.layer_graphs` with the same arguments; the forward
    pass of one draw is shared by all values of :obj:`k` and
    :obj:`metric`, and only one layer's features are held at a time.

    Args:
        model (torch.nn.Module or dict): The model, or several models by
            label (e.g. :obj:`{'trained': m, 'random': m0}`), one curve each
            (the :obj:`init` column holds the label; a single module is
            labelled :obj:`"trained"`).
        inputs (torch.Tensor or torch.utils.data.Dataset): Samples
            :math:`[M, ...]` in the space the model expects, or a dataset
            of :obj:`(x, label)` pairs, of which only the drawn samples are
            read.
        labels (torch.Tensor, optional): Integer labels :math:`[M]`;
            required for a tensor, read from a dataset's :obj:`targets`
            otherwise. (default: :obj:`None`)
        config (SnapshotConfig, optional): How the snapshots are taken
            (:obj:`num_samples` :obj:`None` takes all :math:`M`, every
            repeat then the same). (default: :obj:`None`, the defaults with
            :obj:`num_samples=500`)
        repeats (int, optional): Random draws per setting; repeat
            :math:`r` draws with seed :obj:`seed + r`. (default: :obj:`5`)
        device (str or torch.device, optional): Where the forward passes
            and the graphs run. (default: :obj:`None`, the model's device)
        **kwargs (optional): Fields of :class:`SnapshotConfig` on top of
            :obj:`config`; for an ablation, :obj:`k`, :obj:`num_samples`
            or :obj:`metric` may be a list of values.

    At most one of :obj:`k`, :obj:`num_samples` and :obj:`metric` may list
    several values.

    Returns:
        pandas.DataFrame: Long format, one row per (model, value, repeat,
        layer): :obj:`layer_index`, :obj:`layer`, :obj:`repeat`,
        :obj:`modularity`, :obj:`k`, :obj:`num_samples`, :obj:`metric`,
        :obj:`init`, :obj:`seed` (of the draw) and :obj:`num_edges` (stored
        entries, both directions). :obj:`df.attrs['ablation']` names the
        parameter that varies, or is :obj:`None`.

    Example:
        >>> from pyg_dnnmod.testing import toy_problem
        >>> model, x, y = toy_problem(60, num_classes=3)
        >>> df = modularity_curves(model, x, y, k=[3, 5], num_samples=30,
        ...                        repeats=2)
        >>> len(df), df.attrs['ablation'], sorted(df['layer'].unique())
        (8, 'k', ['0', '2'])
        >>> df.columns.tolist()[:4]
        ['layer_index', 'layer', 'repeat', 'modularity']
    """
    import sys

    from tqdm.auto import tqdm

    from pyg_dnnmod.features import select_layers
    from pyg_dnnmod.utils import knn_graph, modularity

    models = as_models(model)
    labels = labels_of(inputs, labels)
    num_total = labels.numel()
    # The ablated parameter may list several values; the rest is the config.
    axes = {name: kwargs.pop(name) for name in ('k', 'num_samples', 'metric')
            if isinstance(kwargs.get(name), (list, tuple))}
    config = snapshot_config(config, kwargs, num_samples=500)
    ks = _as_values(axes.get('k', config.k), 'k', int)
    ns = _as_values(axes['num_samples'], 'num_samples', int) \
        if 'num_samples' in axes else [config.num_samples]
    metrics = _as_values(axes.get('metric', config.metric), 'metric', str)
    values = {'k': ks, 'num_samples': ns, 'metric': metrics}
    varied = [name for name, v in values.items() if len(v) > 1]
    if len(varied) > 1:
        shown = ', '.join(f'{name}={axes[name]!r}' for name in varied)
        raise ValueError(f"only one of 'k', 'num_samples' and 'metric' may "
                         f"list several values (got {shown})")
    if isinstance(repeats, bool) or not isinstance(repeats, int):
        raise TypeError(f"'repeats' must be an integer (got {repeats!r})")
    if repeats < 1:
        raise ValueError(f"'repeats' must be >= 1 (got {repeats})")
    # One config per setting, each checked against the data before any
    # forward pass (the k < N rule lives in SnapshotConfig.validate).
    draws = {n: config.replace(k=max(ks), num_samples=n) for n in ns}
    for n, c in draws.items():
        c.validate(num_total)
    for kk in ks:
        config.replace(k=kk)
    for met in metrics:
        config.replace(metric=met)
    ns = [n if n is not None else num_total for n in ns]
    # Fail on a bad layer selection before any forward pass.
    names = {label: select_layers(m, config.layers, config.post_activation)
             for label, m in models.items()}

    total = sum(len(v) for v in names.values()) * len(ns) * repeats
    bar = tqdm(total=total, desc='snapshots', unit='layer', file=sys.stderr,
               disable=not config.progress)
    rows: List[Dict[str, Any]] = []
    try:
        for label, m in models.items():
            for n, draw in zip(ns, draws.values()):
                for r in range(repeats):
                    index = draw.draw(labels, r)
                    x, y = take_samples(inputs, index), labels[index]
                    features = config.layer_features(m, x, device)
                    for t, (name, f) in enumerate(features):
                        y_dev = y.to(f.device)
                        for kk in ks:
                            for met in metrics:
                                edge_index, edge_weight = knn_graph(
                                    f, **config.replace(
                                        k=kk, metric=met).knn_arguments())
                                q = modularity(edge_index, y_dev,
                                               edge_weight.float(),
                                               num_nodes=n,
                                               resolution=config.resolution)
                                rows.append(dict(
                                    layer_index=t, layer=name, repeat=r,
                                    modularity=float(q), k=kk,
                                    num_samples=n, metric=met, init=label,
                                    seed=config.seed + r,
                                    num_edges=int(edge_index.size(1))))
                        del f
                        bar.update(1)
    finally:
        bar.close()

    df = pd.DataFrame(rows, columns=list(CURVE_COLUMNS))
    # The loops interleave k and metric within a layer; order the rows by
    # curve, then repeat, then depth, keeping the given order of the values.
    order = {
        'init': {v: i for i, v in enumerate(models)},
        'k': {v: i for i, v in enumerate(ks)},
        'num_samples': {v: i for i, v in enumerate(ns)},
        'metric': {v: i for i, v in enumerate(metrics)},
    }
    keys = [df[c].map(order[c]) for c in SETTING_COLUMNS]
    sort = pd.DataFrame({f'_{i}': key for i, key in enumerate(keys)})
    sort['_repeat'], sort['_layer'] = df['repeat'], df['layer_index']
    df = df.loc[sort.sort_values(list(sort.columns),
                                 kind='stable').index].reset_index(drop=True)
    df.attrs['ablation'] = varied[0] if varied else None
    return df


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    r"""Per curve and layer, the mean, standard deviation (sample, ddof=1;
    NaN for a single repeat) and number of repeats of the modularity in
    :func:`modularity_curves`' output.

    Curves are told apart by the setting columns present
    (:obj:`init`, :obj:`k`, :obj:`num_samples`, :obj:`metric`); their
    first-appearance order is kept.

    Returns:
        pandas.DataFrame: The setting columns, :obj:`layer_index`,
        :obj:`layer`, :obj:`mean`, :obj:`std` and :obj:`count`.

    Example:
        >>> df = pd.DataFrame({'layer_index': [0, 1, 0, 1],
        ...                    'layer': ['a', 'b', 'a', 'b'],
        ...                    'repeat': [0, 0, 1, 1],
        ...                    'modularity': [0.2, 0.6, 0.4, 0.8]})
        >>> summarize(df)
           layer_index layer  mean       std  count
        0            0     a   0.3  0.141421      2
        1            1     b   0.7  0.141421      2
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"'df' must be a pandas.DataFrame "
                        f"(got {type(df).__name__})")
    missing = [c for c in ('layer_index', 'layer', 'modularity')
               if c not in df.columns]
    if missing:
        raise ValueError(f"'df' lacks the column(s) {missing} (got "
                         f"{df.columns.tolist()}); pass the output of "
                         f"modularity_curves")
    keys = [c for c in SETTING_COLUMNS if c in df.columns]
    keys += ['layer_index', 'layer']
    out = (df.groupby(keys, sort=False)['modularity']
           .agg(['mean', 'std', 'count']).reset_index())
    out.attrs = dict(df.attrs)
    return out
