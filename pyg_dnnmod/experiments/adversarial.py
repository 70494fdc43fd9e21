r"""Modularity curves of adversarial inputs beside the clean curve: the
Python twin of ``pyg-dnnmod attack`` (Lu et al., ECCV 2022, section 4.2,
Fig. 6a)."""
import time
import warnings
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import pandas as pd
import torch
from torch import Tensor, nn

from pyg_dnnmod.experiments._draw import (
    check_calibration,
    check_model,
    snapshot_config,
)
from pyg_dnnmod.snapshots import CALIBRATION_COLUMNS, SnapshotConfig
from pyg_dnnmod.utils import check_labels

#: The columns of the curves of :func:`adversarial_curves`, in order.
ADVERSARIAL_COLUMNS = ('set', 'layer_index', 'layer', 'modularity',
                       'num_samples', 'k', 'metric')


def adversarial_curves(
    model: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    attacks: Sequence[str] = ('fgsm', 'pgd', 'jsma', 'cw', 'single_pixel',
                              'local_search'),
    config: Optional[SnapshotConfig] = None,
    *,
    device: Union[str, torch.device, None] = None,
    params: Optional[Mapping[str, Mapping[str, Any]]] = None,
    cache_dir: Union[str, Path, None] = None,
    attack_batch_size: int = 64,
    progress: bool = False,
    calibrate: bool = False,
    num_permutations: int = 1000,
    **kwargs: Any,
) -> Tuple[pd.DataFrame, pd.DataFrame]:
    r"""The modularity curve of clean inputs and of the adversarial inputs of
    every attack, as in Fig. 6a of `"Understanding the Dynamics of DNNs
    Using Graph Modularity" <https://arxiv.org/abs/2111.12485>`_.

    The clean curve is that of :func:`~pyg_dnnmod.layer_graphs` over
    :math:`N` samples drawn with :obj:`seed` (the draw of ``pyg-dnnmod
    curve``). For every attack,
    :func:`~pyg_dnnmod.adversarial.adversarial_examples` attacks the
    correctly classified inputs (in a seeded order) until :math:`N`
    successful adversarial examples are collected, with AdverTorch's defaults (CW with 200 iterations, JSMA
    aimed at :math:`(y + 1) \bmod C`) overridden by :obj:`params`; their
    snapshots use the true labels, so the modularity says how well the
    layer still groups the true classes. The paper's finding: adversarial
    curves peak lower than the clean one.

    Inputs must be in pixel space :math:`[0, 1]` with the normalisation
    inside the model (see :class:`~pyg_dnnmod.models.Normalize`). An attack
    that finds fewer than :math:`k + 1` examples gives no curve; its
    summary row says why.

    Args:
        model (torch.nn.Module): A classifier of pixel-space inputs.
        inputs (torch.Tensor): The pool of samples :math:`[M, C, H, W]` in
            :math:`[0, 1]`.
        labels (torch.Tensor): Their labels :math:`[M]`.
        attacks ([str], optional): Keys of
            :obj:`~pyg_dnnmod.adversarial.ATTACKS`. (default: all six)
        config (SnapshotConfig, optional): How the snapshots are taken;
            :obj:`num_samples` is :math:`N` per set, :obj:`seed` seeds the
            clean draw and the attacks. (default: :obj:`None`, the defaults
            with :obj:`num_samples=500`)
        device (str or torch.device, optional): Where to attack and build
            the graphs. (default: :obj:`None`, the model's device)
        params (dict, optional): Per attack, overrides of its AdverTorch
            parameters, e.g. :obj:`{'fgsm': {'eps': 0.1}}`.
            (default: :obj:`None`)
        cache_dir (str or Path, optional): Cache of the adversarial sets
            (keyed by model, data, attack, parameters and seed).
            (default: :obj:`None`)
        attack_batch_size (int, optional): The largest chunk attacked at
            once. (default: :obj:`64`)
        progress (bool, optional): Show progress bars on stderr.
            (default: :obj:`False`)
        calibrate (bool, optional): Also compare every snapshot's
            modularity with its label-permutation null
            (:func:`~pyg_dnnmod.utils.modularity_null`, seeded by
            :obj:`seed`): adds the columns :obj:`q_null_mean`,
            :obj:`q_null_std`, :obj:`z` and :obj:`p`. (default:
            :obj:`False`)
        num_permutations (int, optional): Permutations of the null.
            (default: :obj:`1000`)
        **kwargs (optional): Fields of :class:`SnapshotConfig` on top of
            :obj:`config` (:obj:`k`, :obj:`num_samples`, :obj:`seed`, ...).

    Returns:
        (pandas.DataFrame, pandas.DataFrame): The curves, one row per (set,
        layer) with :obj:`set` (:obj:`"clean"` or the attack),
        :obj:`layer_index`, :obj:`layer`, :obj:`modularity`,
        :obj:`num_samples` (of the set), :obj:`k` and :obj:`metric`
        (calibrated: and the
        :data:`~pyg_dnnmod.snapshots.CALIBRATION_COLUMNS`); and the
        summary, one row per set: :obj:`set`, :obj:`peak_modularity`,
        :obj:`peak_layer`, the columns of
        :func:`~pyg_dnnmod.adversarial.attack_summary` (success rate,
        perturbation sizes, seconds, target rule, note; NaN for the clean
        set) and :obj:`params` (the attack's parameters as text).

    Example:
        >>> from torch import nn
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(),
        ...                       nn.Flatten(), nn.Linear(144, 2))
        >>> x = torch.rand(80, 1, 8, 8)
        >>> y = model(x).argmax(dim=1)
        >>> curves, summary = adversarial_curves(
        ...     model, x, y, attacks=['fgsm'], num_samples=20,
        ...     layers=nn.Conv2d, params={'fgsm': {'eps': 0.5}},
        ...     balanced=False)
        >>> curves['set'].unique().tolist(), curves['layer'].unique().tolist()
        (['clean', 'fgsm'], ['0'])
        >>> summary[['set', 'num_collected']].values.tolist()
        [['clean', 20], ['fgsm', 20]]
    """
    import json

    from pyg_dnnmod.adversarial import (
        ATTACKS,
        adversarial_examples,
        attack_params,
    )
    from pyg_dnnmod.adversarial import SUMMARY_COLUMNS
    from pyg_dnnmod.features import select_layers
    from pyg_dnnmod.snapshots import layer_graphs

    check_model(model)
    if not isinstance(inputs, Tensor):
        raise TypeError(f"'inputs' must be a torch.Tensor [M, C, H, W] "
                        f"(got {type(inputs).__name__})")
    labels = check_labels(labels, inputs.size(0))
    if isinstance(attacks, str):
        attacks = [attacks]
    attacks = [str(a).strip().lower() for a in attacks]
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown or not attacks:
        raise ValueError(f"'attacks' must name attacks among "
                         f"{', '.join(ATTACKS)} (got {attacks!r})")
    if len(set(attacks)) != len(attacks):
        raise ValueError(f"'attacks' lists an attack more than once "
                         f"(got {attacks!r})")
    params = {str(key).lower(): dict(value)
              for key, value in (params or {}).items()}
    extra = [name for name in params if name not in attacks]
    if extra:
        raise ValueError(f"'params' names attacks that are not run "
                         f"{extra} (running {attacks})")
    config = snapshot_config(config, kwargs, num_samples=500)
    num_samples = config.validate(inputs.size(0))
    permutations = check_calibration(calibrate, num_permutations)
    k, metric, seed = config.k, config.metric, config.seed
    select_layers(model, config.layers, config.post_activation)
    # Every attack's parameters and pixel range are checked before the
    # first (possibly long) attack runs.
    for name in attacks:
        given = dict(params.get(name, {}))
        given.pop('num_classes', None)
        effective = attack_params(name, tuple(inputs.shape[1:]), **given)
        low = effective.get('clip_min', 0.0)
        high = effective.get('clip_max', 1.0)
        if float(inputs.min()) < low or float(inputs.max()) > high:
            raise ValueError(
                f"'inputs' must lie in [clip_min, clip_max] = [{low}, "
                f"{high}] for attack {name!r}: attacks work in pixel space "
                f"and the model normalises its input itself (got values in "
                f"[{float(inputs.min()):.4g}, {float(inputs.max()):.4g}])")

    curves = []
    summary_rows = []

    def add_curve(name: str, graphs) -> Dict[str, Any]:
        df = graphs.to_dataframe(config.resolution, permutations, seed)
        for _, row in df.iterrows():
            curves.append(dict(set=name, layer_index=int(row['layer_index']),
                               layer=row['layer'],
                               modularity=float(row['modularity']),
                               num_samples=int(row['num_nodes']), k=k,
                               metric=metric,
                               **{c: float(row[c]) for c in
                                  CALIBRATION_COLUMNS if c in row}))
        peak = df.loc[df['modularity'].idxmax()]
        return dict(peak_modularity=float(peak['modularity']),
                    peak_layer=peak['layer'])

    start = time.perf_counter()
    clean = layer_graphs(model, inputs, labels,
                         config.replace(num_samples=num_samples,
                                        progress=False), device=device)
    row = {c: float('nan') for c in SUMMARY_COLUMNS}
    row.update(attack='clean', num_collected=num_samples, num_attacked=0,
               seconds=time.perf_counter() - start, target_rule=None,
               note='')
    row.update(add_curve('clean', clean))
    row['params'] = ''
    summary_rows.append(row)

    for name in attacks:
        adv = adversarial_examples(
            model, inputs, labels, name, num_samples=num_samples,
            batch_size=attack_batch_size, seed=seed, cache_dir=cache_dir,
            device=device, progress=progress, **params.get(name, {}))
        row = adv.summary()
        row['params'] = json.dumps(
            {key: value if isinstance(value, (bool, int, float, str,
                                              type(None))) else repr(value)
             for key, value in adv.params.items()}, sort_keys=True)
        if len(adv) > k:
            graphs = layer_graphs(model, adv.x_adv, adv.y,
                                  config.replace(num_samples=None,
                                                 progress=False),
                                  device=device)
            row.update(add_curve(name, graphs))
        else:
            row.update(peak_modularity=float('nan'), peak_layer=None)
            why = (f'no curve: {len(adv)} adversarial examples, a k-NN '
                   f'graph with k={k} needs at least {k + 1}')
            row['note'] = f"{row['note']}; {why}" if row['note'] else why
            warnings.warn(f'{name}: {why}', stacklevel=2)
        summary_rows.append(row)

    columns = list(ADVERSARIAL_COLUMNS)
    if calibrate:
        columns += list(CALIBRATION_COLUMNS)
    curves_df = pd.DataFrame(curves, columns=columns)
    summary_columns = ['set', 'peak_modularity', 'peak_layer'] + [
        c for c in SUMMARY_COLUMNS if c != 'attack'] + ['params']
    summary = pd.DataFrame(summary_rows).rename(columns={'attack': 'set'})
    summary = summary[[c for c in summary_columns]]
    curves_df.attrs.update(k=k, num_samples=num_samples, metric=metric,
                           seed=seed)
    summary.attrs.update(curves_df.attrs)
    return curves_df, summary
