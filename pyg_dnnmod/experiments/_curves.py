r"""Modularity curves over depth with repeats and ablations: the Python twin
of ``pyg-dnnmod curve`` (the paper's Fig. 4, Fig. 7 and appendix A)."""
from typing import Any, Dict, List, Optional, Union

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from pyg_dnnmod.experiments._draw import (
    Inputs,
    Models,
    as_models,
    check_calibration,
    labels_of,
    snapshot_config,
    take_samples,
)
from pyg_dnnmod.snapshots import CALIBRATION_COLUMNS, SnapshotConfig

#: The columns that say which curve a row belongs to, besides the layer.
SETTING_COLUMNS = ('init', 'k', 'num_samples', 'metric')
#: The columns of :func:`modularity_curves`, in order.
CURVE_COLUMNS = ('layer_index', 'layer', 'repeat', 'modularity', 'k',
                 'num_samples', 'metric', 'init', 'seed', 'num_edges')
#: The percentiles of the interval over repeats in :func:`summarize`.
INTERVAL = (2.5, 97.5)


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
    calibrate: bool = False,
    num_permutations: int = 1000,
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
        calibrate (bool, optional): Also compare every snapshot's
            modularity with its label-permutation null
            (:func:`~pyg_dnnmod.utils.modularity_null`, permutations seeded
            by the draw's seed): adds the columns :obj:`q_null_mean`,
            :obj:`q_null_std`, :obj:`z` and :obj:`p`. (default:
            :obj:`False`)
        num_permutations (int, optional): Permutations of the null.
            (default: :obj:`1000`)
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
        entries, both directions); calibrated, also :obj:`q_null_mean`,
        :obj:`q_null_std`, :obj:`z` and :obj:`p`.
        :obj:`df.attrs['ablation']` names the parameter that varies, or is
        :obj:`None`.

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
    from pyg_dnnmod.utils import knn_graph

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
    permutations = check_calibration(calibrate, num_permutations)
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
                                row = dict(
                                    layer_index=t, layer=name, repeat=r,
                                    k=kk, num_samples=n, metric=met,
                                    init=label, seed=config.seed + r,
                                    num_edges=int(edge_index.size(1)))
                                row.update(snapshot_scores(
                                    edge_index, y_dev, edge_weight,
                                    config.resolution,
                                    permutations,
                                    seed=config.seed + r))
                                rows.append(row)
                        del f
                        bar.update(1)
    finally:
        bar.close()

    columns = list(CURVE_COLUMNS)
    if calibrate:
        columns += list(CALIBRATION_COLUMNS)
    df = pd.DataFrame(rows, columns=columns)
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
    if calibrate:
        df.attrs['num_permutations'] = num_permutations
    return df


def snapshot_scores(edge_index: Tensor, labels: Tensor, edge_weight: Tensor,
                    resolution: float = 1.0,
                    num_permutations: Optional[int] = None,
                    seed: int = 0) -> Dict[str, float]:
    r"""The scores of one snapshot as table columns: :obj:`modularity`,
    and with :obj:`num_permutations` its calibration against the
    label-permutation null (:data:`~pyg_dnnmod.snapshots.CALIBRATION_COLUMNS`,
    see :func:`~pyg_dnnmod.utils.modularity_null`).

    Example:
        >>> edge_index = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
        >>> labels, weight = torch.tensor([0, 0, 1, 1]), torch.ones(4)
        >>> snapshot_scores(edge_index, labels, weight)
        {'modularity': 0.5}
        >>> scores = snapshot_scores(edge_index, labels, weight,
        ...                          num_permutations=100)
        >>> round(scores['q_null_mean'], 6), round(scores['z'], 2)  # -1/6
        (-0.166667, 1.38)
    """
    from pyg_dnnmod.utils import modularity, modularity_null

    if num_permutations is None:
        return {'modularity': modularity(
            edge_index, labels, edge_weight.float(), num_nodes=labels.numel(),
            resolution=resolution)}
    null = modularity_null(edge_index, labels, edge_weight.float(),
                           num_nodes=labels.numel(),
                           num_permutations=num_permutations, seed=seed,
                           resolution=resolution)
    return {'modularity': null.q,
            **dict(zip(CALIBRATION_COLUMNS, null[1:]))}


def _percentile(q: float):
    def interval(values: pd.Series) -> float:
        return float(np.percentile(values.to_numpy(dtype=float), q))
    interval.__name__ = f'p{q}'
    return interval


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    r"""Per curve and layer, the mean, standard deviation (sample, ddof=1;
    NaN for a single repeat), number of repeats and the 2.5 to 97.5
    percentile interval over repeats (:obj:`low`, :obj:`high`; linear
    interpolation, as :func:`numpy.percentile`) of the modularity in
    :func:`modularity_curves`' output.

    A calibrated table (:obj:`calibrate=True`) adds :obj:`null_mean` and
    :obj:`null_std` (the null's mean and spread, averaged over repeats),
    :obj:`z_mean`, :obj:`z_low`, :obj:`z_high` (the z-score's mean and
    percentile interval over repeats) and :obj:`p_max` (the largest
    p-value over repeats).

    Curves are told apart by the setting columns present
    (:obj:`init`, :obj:`k`, :obj:`num_samples`, :obj:`metric`); their
    first-appearance order is kept.

    Returns:
        pandas.DataFrame: The setting columns, :obj:`layer_index`,
        :obj:`layer`, :obj:`mean`, :obj:`std`, :obj:`count`, :obj:`low`,
        :obj:`high` (and the calibration columns above).

    Example:
        >>> df = pd.DataFrame({'layer_index': [0, 1, 0, 1],
        ...                    'layer': ['a', 'b', 'a', 'b'],
        ...                    'repeat': [0, 0, 1, 1],
        ...                    'modularity': [0.2, 0.6, 0.4, 0.8]})
        >>> summarize(df)
           layer_index layer  mean       std  count    low   high
        0            0     a   0.3  0.141421      2  0.205  0.395
        1            1     b   0.7  0.141421      2  0.605  0.795
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
    low, high = _percentile(INTERVAL[0]), _percentile(INTERVAL[1])
    named = dict(mean=('modularity', 'mean'), std=('modularity', 'std'),
                 count=('modularity', 'count'), low=('modularity', low),
                 high=('modularity', high))
    if all(c in df.columns for c in CALIBRATION_COLUMNS):
        named.update(null_mean=('q_null_mean', 'mean'),
                     null_std=('q_null_std', 'mean'),
                     z_mean=('z', 'mean'), z_low=('z', low),
                     z_high=('z', high), p_max=('p', 'max'))
    out = df.groupby(keys, sort=False).agg(**named).reset_index()
    out.attrs = dict(df.attrs)
    return out
