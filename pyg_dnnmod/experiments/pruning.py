r"""Modularity-guided layer pruning end to end, the Python twin of
``pyg-dnnmod prune``: the curve of a trained model, the layers a selector
picks on it, the cut, the fine-tuning and the report (Lu et al., ECCV 2022,
section 5.2, Table 1, Fig. 9 and Fig. 10).

* :func:`pruning_experiment`: one selection (and optionally the control of
  as many layers with the largest gains), one row per model;
* :func:`layer_removal_sweep`: the redundant-versus-irredundant experiment,
  layers removed one at a time from the back (:func:`removal_order`),
  accuracy change against modularity gain with their correlation
  (:func:`gain_accuracy_correlation`);
* :func:`largest_gain_layers`: the control selection, the layers the curve
  says matter most;
* :func:`pretrained_digits_model`: a model of the registry trained on the
  embedded default data with the default recipe, cached like
  :func:`~pyg_dnnmod.pretrained.pretrained_digits_cnn`;
* :func:`fixed_threads` (from :mod:`pyg_dnnmod.training`): a run on a fixed
  number of CPU threads, as training results depend on it.

On the translated digits the default model is the residual
:func:`~pyg_dnnmod.models.digits_deep.digits_deep_resnet` and the default
fine-tuning the short repair :data:`DIGITS_FINETUNE`: there, the layers
of gain at most 0.01 (the flat second half of the last block) cost nothing
and as many layers with the largest gains cost several points. The plain
:class:`~pyg_dnnmod.models.DigitsDeepCNN` does not show it: the flat
curve of its first block (the classes are not yet separated, whatever the
layer does) marks a layer the network needs, and cutting a plain
convolution breaks the channels of the next one, whatever its gain.

Figures: :func:`~pyg_dnnmod.plotting.plot_pruning_report`.
"""
import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import pandas as pd
import torch
from torch import Tensor, nn

from pyg_dnnmod.training import TrainConfig, check_threads, fixed_threads

#: The fine-tuning recipe of the pruned digits models: the training
#: recipe continued at its final learning rate (0.01 / 10 after the
#: milestone of :data:`~pyg_dnnmod.pretrained.DIGITS_RECIPE`) for two
#: epochs of batch 32, no schedule. A short repair at the final rate
#: measures what a removal breaks; restarting at 0.01 throws even the
#: unpruned network off its minimum (about -20 points after two epochs for
#: ``digits_deep_cnn``, measured), and the full 12-epoch recipe
#: (:data:`DIGITS_FULL_FINETUNE`) retrains the network so far that on the
#: translated digits every single removal comes back within about two
#: points, whatever the layer (no significant correlation with the gain).
DIGITS_FINETUNE = dict(epochs=2, batch_size=32, lr=0.001, momentum=0.9,
                       weight_decay=5e-4, milestones=(), gamma=0.1, seed=0)

#: The training recipe of the default digits model used as fine-tuning:
#: 12 epochs of batch 32, lr 0.01 divided by 10 after epoch 8 (``--recipe
#: digits-full`` of ``pyg-dnnmod prune``).
DIGITS_FULL_FINETUNE = dict(epochs=12, batch_size=32, lr=0.01, momentum=0.9,
                            weight_decay=5e-4, milestones=(8, ), gamma=0.1,
                            seed=0)

#: Changes to :data:`~pyg_dnnmod.pretrained.DIGITS_RECIPE` by model for
#: :func:`pretrained_digits_model`: the fifteen-layer
#: :func:`~pyg_dnnmod.models.digits_deep.digits_deep_resnet` trains for 30
#: epochs (lr / 10 after epoch 20): after 12 it reaches 93.7 % test
#: accuracy, after 30 96.1 %, as the default digits models (seed 0).
DIGITS_MODEL_RECIPES: Dict[str, Dict[str, Any]] = {
    'digits_deep_resnet': dict(epochs=30, milestones=(20, )),
}

#: The columns of the pruning table, in order.
PRUNING_COLUMNS = (
    'model', 'selection', 'removed', 'num_removed', 'modularity_gain',
    'params', 'MACs', 'FLOPs', 'params_reduction_%', 'FLOPs_reduction_%',
    'conv_linear_MACs', 'flop_counter_FLOPs', 'acc_original_%',
    'acc_before_%', 'acc_after_%', 'acc_change_%', 'epochs',
    'acc_change_std_%', 'num_seeds')

#: The label of the unpruned model's row and curve.
ORIGINAL = 'original'
#: The label of the control row: the unpruned model fine-tuned the same way.
FINETUNED_ORIGINAL = 'original_finetuned'


def digits_finetune_config(**overrides: Any) -> TrainConfig:
    r"""The fine-tuning recipe :data:`DIGITS_FINETUNE` as a
    :class:`~pyg_dnnmod.training.TrainConfig`, with fields replaced by
    :obj:`overrides`.

    Example:
        >>> config = digits_finetune_config(epochs=1)
        >>> config.epochs, config.lr, config.batch_size, config.milestones
        (1, 0.001, 32, ())
    """
    return TrainConfig(**dict(DIGITS_FINETUNE, **overrides))


@dataclasses.dataclass
class PruningResult:
    r"""What :func:`pruning_experiment` and :func:`layer_removal_sweep`
    return.

    Attributes:
        table (pandas.DataFrame): One row per model, the original first,
            columns :data:`PRUNING_COLUMNS`.
        curves (pandas.DataFrame): The modularity curves of every model
            (the output of :func:`~pyg_dnnmod.experiments.modularity_curves`
            with the model's label in :obj:`init`) plus
            :obj:`original_layer_index`, the position of each layer in the
            original model's curve.
        models (dict): The fine-tuned pruned models by label.
        histories (dict): Their fine-tuning histories by label.
        correlation (dict): :func:`gain_accuracy_correlation` of
            :obj:`table`.
    """
    table: pd.DataFrame
    curves: pd.DataFrame
    models: Dict[str, nn.Module]
    histories: Dict[str, pd.DataFrame]
    correlation: Dict[str, float]

    def summary(self) -> pd.DataFrame:
        r"""Mean, standard deviation and count of :obj:`curves` per model
        and layer (:func:`~pyg_dnnmod.experiments.summarize`), with
        :obj:`original_layer_index`."""
        from pyg_dnnmod.experiments._curves import summarize
        out = summarize(self.curves)
        index = self.curves.drop_duplicates(['init', 'layer_index']).set_index(
            ['init', 'layer_index'])['original_layer_index']
        out['original_layer_index'] = [
            int(index.loc[(i, j)])
            for i, j in zip(out['init'], out['layer_index'])]
        return out


# -- curves and selections ---------------------------------------------------

class _Curve:
    r"""A mean curve with layer names, as the selectors read it."""
    def __init__(self, values: Tensor, layer_names: List[str]) -> None:
        self.values, self.layer_names = values, layer_names

    def modularity(self) -> Tensor:
        return self.values


def _curve_inputs(data: Any) -> Tuple[Any, Optional[Tensor]]:
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(
            data[0], Tensor):
        return data[0], data[1]
    return data, None


def _repeats_matrix(curves: pd.DataFrame, label: str) -> Tuple[Tensor,
                                                              List[str]]:
    r"""The :obj:`[R, L]` values of one model's curves and its layer
    names."""
    df = curves[curves['init'] == label]
    table = df.pivot(index='repeat', columns='layer_index',
                     values='modularity').sort_index(axis=1)
    names = (df.drop_duplicates('layer_index').sort_values('layer_index')
             ['layer'].tolist())
    return torch.tensor(table.to_numpy(), dtype=torch.float64), names


def largest_gain_layers(curve: Any, m: int,
                        removable: Any = None) -> List[int]:
    r"""Selects the :obj:`m` layers with the largest modularity gain
    :math:`Q_i - Q_{i-1}`, the first layer excluded: the control of the
    redundant-layer selectors (the layers the curve says matter most).

    Ties go to the deeper layer, as in
    :func:`~pyg_dnnmod.pruning.gain_budget`.

    Args:
        curve (torch.Tensor or LayerGraphs): Per-layer modularity
            :obj:`[L]`.
        m (int): How many layers to select.
        removable (mask or [int] or [str], optional): Only these layers may
            be selected. (default: :obj:`None`, all)

    Returns:
        list[int]: Sorted absolute layer indices.

    Example:
        >>> q = torch.tensor([0.2, 0.5, 0.5, 0.7, 0.68])
        >>> largest_gain_layers(q, 2), largest_gain_layers(q, 1, [2, 4])
        ([1, 3], [2])
    """
    from pyg_dnnmod.pruning import gain_budget
    from pyg_dnnmod.pruning._selectors import _as_curve

    values, names = _as_curve(curve)
    # The smallest gains of -Q are the largest gains of Q, with the same
    # tie-breaking towards the deeper layer.
    flipped = _Curve(-values, names) if names is not None else -values
    return gain_budget(flipped, m, removable)


def _select(selector: Any, curves: pd.DataFrame, removable: List[str],
            names: List[str]) -> List[str]:
    from pyg_dnnmod.pruning import MeanGainThreshold, modularity_gain

    repeats, _ = _repeats_matrix(curves, ORIGINAL)
    mean = _Curve(repeats.mean(dim=0), names)
    # MeanGainThreshold reads the repeats themselves to weigh the noise.
    curve = _Curve(repeats, names) if isinstance(
        selector, MeanGainThreshold) else mean
    picked = selector(curve, removable)
    if not isinstance(picked, list) or not all(
            isinstance(i, int) for i in picked):
        raise TypeError(f"'selector' must return a list of layer indices "
                        f"(got {picked!r})")
    if len(picked) == 0:
        gain = modularity_gain(mean.values)
        shown = ', '.join(f'{n}: {gain[names.index(n)].item():+.4f}'
                          for n in removable)
        raise ValueError(f"'selector' {selector!r} picks no removable layer "
                         f"on this curve; the mean gains of the removable "
                         f"layers are {{{shown}}}; loosen the selector (e.g. "
                         f"a larger 'tau') or name the layers")
    return [names[i] for i in picked]


def _check_names(layers: Any, removable: List[str],
                 names: List[str]) -> List[str]:
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, Sequence) or not all(
            isinstance(n, str) for n in layers) or len(layers) == 0:
        raise TypeError(f"'layers' must be a non-empty list of layer names "
                        f"(got {layers!r})")
    unknown = [n for n in layers if n not in names]
    if unknown:
        raise ValueError(f"unknown layer name(s) {unknown!r} in 'layers'; "
                         f"the removable layers are {removable!r}")
    # Keep curve order whatever order they were given in.
    return [n for n in names if n in set(layers)]


# -- seeds and threads -------------------------------------------------------

def _check_seeds(seeds: Any, config: TrainConfig) -> List[int]:
    if seeds is None:
        return [config.seed]
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, Sequence) or isinstance(seeds, str) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for v in seeds) or len(seeds) == 0:
        raise ValueError(f"'finetune_seeds' must be a non-empty list of "
                         f"integers >= 0 (got {seeds!r})")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"'finetune_seeds' repeats a seed (got {seeds!r})")
    return list(seeds)


def _in_fixed_threads(fn: Callable[..., Any]) -> Callable[..., Any]:
    r"""Runs :obj:`fn` under :func:`fixed_threads` of its keyword argument
    :obj:`num_threads`."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with fixed_threads(kwargs.get('num_threads')):
            return fn(*args, **kwargs)
    return wrapper


def _seed_statistics(values: List[float]) -> Tuple[float, float]:
    r"""Mean and sample standard deviation (NaN for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    var = sum((v - mean)**2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


# -- one model at a time ---------------------------------------------------

def _original_row(model: nn.Module, shape: Tuple[int, ...],
                  acc: float) -> Dict[str, Any]:
    from pyg_dnnmod.pruning import complexity
    c = complexity(model, shape, cross_check=True)
    return dict(model=ORIGINAL, selection='', removed='', num_removed=0,
                modularity_gain=0.0, params=c['params'], MACs=c['MACs'],
                FLOPs=c['FLOPs'], **{'params_reduction_%': 0.0,
                                     'FLOPs_reduction_%': 0.0},
                conv_linear_MACs=c['conv_linear_MACs'],
                flop_counter_FLOPs=c['flop_counter_FLOPs'],
                **{'acc_original_%': acc, 'acc_before_%': acc,
                   'acc_after_%': acc, 'acc_change_%': 0.0,
                   'acc_change_std_%': 0.0}, epochs=0, num_seeds=0)


def _finetuned_original_row(model: nn.Module, base: Dict[str, Any],
                            train_data: Any, test_data: Any,
                            config: TrainConfig, device: Any,
                            progress: bool, seeds: List[int]) -> Tuple[
                                nn.Module, Dict[str, Any], pd.DataFrame]:
    import copy

    from pyg_dnnmod.training import train

    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    accs, first = [], None
    for seed in seeds:
        tuned = copy.deepcopy(model)
        history = train(tuned, train_data, test_data,
                        dataclasses.replace(config, seed=seed),
                        device=device, progress=progress)
        accs.append(100.0 * float(history['test_acc'].iloc[-1]))
        if first is None:
            first = (tuned.eval(), history)
    mean, std = _seed_statistics([a - base['acc_original_%'] for a in accs])
    row = dict(base, model=FINETUNED_ORIGINAL,
               selection='same fine-tuning, nothing removed',
               **{'acc_after_%': sum(accs) / len(accs),
                  'acc_change_%': mean, 'acc_change_std_%': std},
               epochs=config.epochs, num_seeds=len(seeds))
    return first[0], row, first[1]


def _prune_row(model: nn.Module, label: str, selection: str,
               names: List[str], train_data: Any, test_data: Any,
               config: TrainConfig, adapt: bool, curve: _Curve,
               shape: Tuple[int, ...], device: Any,
               progress: bool, seeds: List[int]) -> Tuple[nn.Module,
                                                          Dict[str, Any],
                                                          pd.DataFrame]:
    r"""Cuts :obj:`names`, fine-tunes once per seed and returns the model
    and history of the first seed and the row with the mean over seeds."""
    from pyg_dnnmod.pruning import complexity, prune_and_finetune

    rows, first = [], None
    for seed in seeds:
        pruned, table = prune_and_finetune(
            model, names, train_data, test_data,
            dataclasses.replace(config, seed=seed), adapt=adapt, curve=curve,
            input_shape=shape, device=device, progress=progress)
        history = table.attrs.pop('history')
        rows.append(table.iloc[0].to_dict())
        if first is None:
            first = (pruned.eval(), history)
    row = dict(rows[0])
    mean, std = _seed_statistics([r['acc_change_%'] for r in rows])
    row['acc_after_%'] = sum(r['acc_after_%'] for r in rows) / len(rows)
    row.update({'acc_change_%': mean, 'acc_change_std_%': std},
               num_seeds=len(seeds))
    c = complexity(first[0], shape, cross_check=True)
    row.update(model=label, selection=selection,
               conv_linear_MACs=c['conv_linear_MACs'],
               flop_counter_FLOPs=c['flop_counter_FLOPs'])
    return first[0], row, first[1]


def _pruned_curves(models: Dict[str, nn.Module], removed: Dict[str,
                                                              List[str]],
                   names: List[str], original: pd.DataFrame,
                   curve_kwargs: Dict[str, Any]) -> pd.DataFrame:
    from pyg_dnnmod.experiments._curves import modularity_curves

    frames = [original.assign(original_layer_index=original['layer_index'])]
    if models:
        df = modularity_curves(models, **curve_kwargs)
        position = {}
        for label, gone in removed.items():
            kept = [i for i, n in enumerate(names) if n not in set(gone)]
            position[label] = kept
        sizes = df.groupby('init')['layer_index'].max() + 1
        for label, size in sizes.items():
            assert size == len(position[label]), \
                'a pruned model keeps the order of its remaining layers'
        df['original_layer_index'] = [
            position[label][i]
            for label, i in zip(df['init'], df['layer_index'])]
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out.attrs = {}
    return out


def gain_accuracy_correlation(table: pd.DataFrame) -> Dict[str, float]:
    r"""The correlation between the modularity gain of the removed layers
    and the accuracy change after fine-tuning, over the pruned models of a
    pruning table (the paper's Fig. 10b).

    Pearson's :math:`r` and Spearman's :math:`\rho` with their two-sided
    :math:`p`-values (:mod:`scipy.stats`); NaN with fewer than three pruned
    models or when either column is constant. The paper's claim is a
    negative correlation: the larger the gain of a removed layer, the more
    accuracy its removal costs.

    Args:
        table (pandas.DataFrame): A table of :func:`pruning_experiment` or
            :func:`layer_removal_sweep` (columns :obj:`modularity_gain` and
            :obj:`acc_change_%`); the row of the original is left out.

    Returns:
        dict: :obj:`pearson`, :obj:`pearson_p`, :obj:`spearman`,
        :obj:`spearman_p` and :obj:`n` (the number of pruned models).

    Example:
        >>> table = pd.DataFrame({'model': ['original', 'a', 'b', 'c'],
        ...                       'modularity_gain': [0.0, 0.01, 0.05, 0.1],
        ...                       'acc_change_%': [0.0, 0.1, -0.5, -2.0]})
        >>> c = gain_accuracy_correlation(table)
        >>> c['n'], round(c['spearman'], 3)
        (3, -1.0)
    """
    import numpy as np
    from scipy import stats

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"'table' must be a pandas.DataFrame "
                        f"(got {type(table).__name__})")
    missing = [c for c in ('modularity_gain', 'acc_change_%')
               if c not in table.columns]
    if missing:
        raise ValueError(f"'table' lacks the column(s) {missing} (got "
                         f"{table.columns.tolist()}); pass the table of "
                         f"pruning_experiment or layer_removal_sweep")
    rows = table
    if 'model' in rows.columns:
        rows = rows[~rows['model'].isin([ORIGINAL, FINETUNED_ORIGINAL])]
    if 'num_removed' in rows.columns:
        rows = rows[rows['num_removed'] > 0]
    rows = rows.dropna(subset=['modularity_gain', 'acc_change_%'])
    gain = rows['modularity_gain'].to_numpy(dtype=float)
    change = rows['acc_change_%'].to_numpy(dtype=float)
    out = dict(pearson=math.nan, pearson_p=math.nan, spearman=math.nan,
               spearman_p=math.nan, n=int(len(rows)))
    # max - min, since the std of equal floats can be a rounding error > 0.
    if len(rows) >= 3 and np.ptp(gain) > 0 and np.ptp(change) > 0:
        pearson = stats.pearsonr(gain, change)
        spearman = stats.spearmanr(gain, change)
        out.update(pearson=float(pearson[0]), pearson_p=float(pearson[1]),
                   spearman=float(spearman[0]),
                   spearman_p=float(spearman[1]))
    return out


_POOLING = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d,
            nn.AdaptiveAvgPool2d)


def _block_key(model: nn.Module, name: str) -> Optional[Tuple[str, int]]:
    r"""The :obj:`(parent, block)` of a convolution that is a child of an
    :class:`~torch.nn.Sequential`, blocks being separated by pooling;
    :obj:`None` for anything else (e.g. a residual block)."""
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name)
    if not isinstance(parent, nn.Sequential) or not isinstance(
            parent._modules[child], nn.Conv2d):
        return None
    block = 0
    for key, module in parent._modules.items():
        if key == child:
            return parent_name, block
        if isinstance(module, _POOLING):
            block += 1
    raise AssertionError('a child is found among its parent\'s children')


def removal_order(model: nn.Module, cumulative: bool = False,
                  adapt: bool = False) -> List[str]:
    r"""The removable layers of :obj:`model` from the back, as the paper
    prunes them: every block (the convolutions of an
    :class:`~torch.nn.Sequential` between two poolings) keeps at least one
    convolution (Lu et al., ECCV 2022, appendix B).

    With :obj:`cumulative=True` the layers are meant to be removed together
    in this order, so a block gives up convolutions only while another one
    is left (VGG11 gives the last convolution of blocks 5, 4 and 3: the
    paper's VGG11_1, VGG11_2 and VGG11_3); otherwise every layer is
    removed alone and only a block's single convolution is left out.
    Residual blocks are kept in the order of
    :func:`~pyg_dnnmod.pruning.removable_layers`.

    Args:
        model (torch.nn.Module): The model.
        cumulative (bool, optional): Whether the removals add up.
            (default: :obj:`False`)
        adapt (bool, optional): Passed to
            :func:`~pyg_dnnmod.pruning.removable_layers`.
            (default: :obj:`False`)

    Returns:
        list[str]: Layer names, deepest first.

    Example:
        >>> from pyg_dnnmod.models import get_model
        >>> removal_order(get_model('vgg11'), cumulative=True)
        ['features.25', 'features.18', 'features.11']
    """
    from pyg_dnnmod.pruning import removable_layers

    counts: Dict[Tuple[str, int], int] = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and name:
            key = _block_key(model, name)
            if key is not None:
                counts[key] = counts.get(key, 0) + 1
    order = []
    for name in removable_layers(model, adapt=adapt)[::-1]:
        key = _block_key(model, name)
        if key is not None:
            if counts[key] <= 1:
                continue
            if cumulative:
                counts[key] -= 1
        order.append(name)
    return order


def _finish(rows: List[Dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(PRUNING_COLUMNS))
    for column in ('num_removed', 'params', 'MACs', 'FLOPs',
                   'conv_linear_MACs', 'epochs', 'num_seeds'):
        table[column] = table[column].astype('int64')
    return table


def _check_config(config: Optional[TrainConfig]) -> TrainConfig:
    config = digits_finetune_config() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"'config' must be a TrainConfig (got "
                        f"{type(config).__name__})")
    return config


def _setup(model: nn.Module, test_data: Any, curve_data: Any,
           input_shape: Optional[Sequence[int]], adapt: bool,
           curve_kwargs: Dict[str, Any]) -> Tuple[Dict[str, Any],
                                                  Tuple[int, ...],
                                                  List[str], List[str]]:
    from pyg_dnnmod.features import select_layers
    from pyg_dnnmod.pruning import removable_layers
    from pyg_dnnmod.pruning._finetune import _input_shape

    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    inputs, labels = _curve_inputs(test_data if curve_data is None
                                   else curve_data)
    kwargs = dict(curve_kwargs, inputs=inputs, labels=labels)
    shape = _input_shape(test_data) if input_shape is None else tuple(
        input_shape)
    names = select_layers(model)
    removable = removable_layers(model, adapt=adapt)
    if not removable:
        raise ValueError(f"{type(model).__name__} has no removable layer "
                         f"(see pyg_dnnmod.pruning.removable_layers; "
                         f"adapt={adapt})")
    return kwargs, shape, names, removable


@_in_fixed_threads
def pruning_experiment(
    model: nn.Module,
    train_data: Any,
    test_data: Any,
    selector: Optional[Callable[..., List[int]]] = None,
    layers: Optional[Sequence[str]] = None,
    control: bool = False,
    config: Optional[TrainConfig] = None,
    *,
    curve_data: Any = None,
    k: int = 3,
    num_samples: Optional[int] = 500,
    repeats: int = 5,
    seed: int = 0,
    metric: str = 'cosine',
    adapt: bool = False,
    finetune_original: bool = False,
    pruned_curves: bool = True,
    finetune_seeds: Optional[Sequence[int]] = None,
    num_threads: Optional[int] = None,
    input_shape: Optional[Sequence[int]] = None,
    device: Union[str, torch.device, None] = None,
    batch_size: int = 256,
    progress: bool = False,
) -> PruningResult:
    r"""Modularity-guided layer pruning of a trained model, as in section
    5.2 of `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_ (Lu et al., ECCV 2022): the curve,
    the selection, the cut, the fine-tuning and the report.

    1. The modularity curve of :obj:`model` over :obj:`repeats` draws of
       :obj:`num_samples` samples of :obj:`curve_data`
       (:func:`~pyg_dnnmod.experiments.modularity_curves`).
    2. :obj:`selector` picks layers on the mean curve (a
       :class:`~pyg_dnnmod.pruning.MeanGainThreshold` reads the repeats),
       among :func:`~pyg_dnnmod.pruning.removable_layers` only; or
       :obj:`layers` names them.
    3. :func:`~pyg_dnnmod.pruning.prune_and_finetune` cuts them, fine-tunes
       the copy with :obj:`config` and counts parameters, MACs and
       :math:`\mathrm{FLOPs} = 2 \times \mathrm{MACs}` (thop; the
       convolution and linear part is cross-checked against
       :class:`~torch.utils.flop_counter.FlopCounterMode`, whose count is
       in :obj:`flop_counter_FLOPs`).
    4. With :obj:`control=True`, the same number of removable layers with
       the largest gains (:func:`largest_gain_layers`) is cut and
       fine-tuned the same way: what the curve says should cost more.
    5. With :obj:`finetune_original=True`, the unpruned model fine-tuned
       with the same recipe: the accuracy that the extra training alone
       brings, to tell it from the cost of the removal (a control the paper
       does not report).
    6. With :obj:`pruned_curves=True`, the curves of the fine-tuned pruned
       models on the same draws (the paper's Fig. 9).

    With :obj:`finetune_seeds`, every model is fine-tuned once per seed
    (the seed of :obj:`config` replaced); :obj:`acc_after_%` and
    :obj:`acc_change_%` are then the means over the seeds,
    :obj:`acc_change_std_%` their sample standard deviation and
    :obj:`num_seeds` their number, and :obj:`models` and :obj:`histories`
    hold the first seed's.

    The gain of a removal is the sum of :math:`Q_i - Q_{i-1}` over its
    layers on the mean curve, and

    .. math::
        \Delta \mathrm{acc} = \mathrm{acc}_{\mathrm{pruned, fine-tuned}} -
        \mathrm{acc}_{\mathrm{original}}

    in percentage points, on :obj:`test_data`.

    Args:
        model (torch.nn.Module): The trained model (not changed).
        train_data ((torch.Tensor, torch.Tensor) or Dataset): Fine-tuning
            data.
        test_data ((torch.Tensor, torch.Tensor) or Dataset): Evaluation
            data, and the curve's samples unless :obj:`curve_data` is
            given.
        selector (callable, optional): A selector of
            :mod:`pyg_dnnmod.pruning` (e.g. :obj:`GainThreshold(0.01)`), or
            any callable :obj:`(curve, removable) -> [int]`.
            (default: :obj:`None`, :obj:`GainThreshold(0.0)` unless
            :obj:`layers` is given)
        layers ([str], optional): The layers to remove, instead of a
            selector. (default: :obj:`None`)
        control (bool, optional): Also prune the layers with the largest
            gains. (default: :obj:`False`)
        config (TrainConfig, optional): The fine-tuning recipe.
            (default: :obj:`None`, :data:`DIGITS_FINETUNE`)
        curve_data (optional): The curve's samples, a tensor pair or a
            dataset. (default: :obj:`None`, :obj:`test_data`)
        k (int, optional): Neighbours per sample. (default: :obj:`3`)
        num_samples (int, optional): Samples per draw, :obj:`None` for all.
            (default: :obj:`500`)
        repeats (int, optional): Draws of the samples (seeds
            :obj:`seed + r`). (default: :obj:`5`)
        seed (int, optional): The seed of the first draw.
            (default: :obj:`0`)
        metric (str, optional): The similarity. (default: :obj:`"cosine"`)
        adapt (bool, optional): Let convolutions that change the channel
            count be removed too (see
            :func:`~pyg_dnnmod.pruning.remove_layers`).
            (default: :obj:`False`)
        finetune_original (bool, optional): Add the row
            :obj:`"original_finetuned"`, the unpruned model fine-tuned with
            :obj:`config`. (default: :obj:`False`)
        pruned_curves (bool, optional): Compute the pruned models' curves.
            (default: :obj:`True`)
        finetune_seeds ([int], optional): Fine-tune every model once per
            seed and report the mean and standard deviation.
            (default: :obj:`None`, once with :obj:`config.seed`)
        num_threads (int, optional): Run with this many CPU threads
            (:func:`fixed_threads`), the previous count restored afterwards.
            (default: :obj:`None`, unchanged)
        input_shape ([int], optional): One input's shape for the counts.
            (default: :obj:`None`, from :obj:`test_data`)
        device (str or torch.device, optional): Where to fine-tune and
            compute the curves. (default: :obj:`None`, CUDA if available)
        batch_size (int, optional): Samples per forward pass of the curves.
            (default: :obj:`256`)
        progress (bool, optional): Show progress bars.
            (default: :obj:`False`)

    Returns:
        PruningResult: The table (rows :obj:`"original"`, optionally
        :obj:`"original_finetuned"`, :obj:`"pruned"` and, with
        :obj:`control`, :obj:`"largest_gain"`), the curves, the fine-tuned
        models and their histories.

    Example:
        >>> from pyg_dnnmod.models import DigitsDeepCNN
        >>> from pyg_dnnmod.pruning import GainThreshold
        >>> _ = torch.manual_seed(0)
        >>> model = DigitsDeepCNN(channels=(4, 4, 4), convs_per_block=2)
        >>> x, y = torch.rand(40, 1, 16, 16), torch.arange(40) % 4
        >>> result = pruning_experiment(
        ...     model, (x, y), (x, y), layers=['features.3'],
        ...     config=digits_finetune_config(epochs=1), num_samples=20,
        ...     repeats=1, device='cpu')
        >>> result.table[['model', 'removed', 'num_removed']].values.tolist()
        [['original', '', 0], ['pruned', 'features.3', 1]]
    """
    from pyg_dnnmod.experiments._curves import modularity_curves
    from pyg_dnnmod.pruning import GainThreshold

    config = _check_config(config)
    seeds = _check_seeds(finetune_seeds, config)
    for name, flag in (('control', control),
                       ('finetune_original', finetune_original)):
        if not isinstance(flag, bool):
            raise TypeError(f"'{name}' must be a bool (got {flag!r})")
    if selector is not None and layers is not None:
        raise ValueError("pass either 'selector' or 'layers', not both")
    if selector is None and layers is None:
        selector = GainThreshold(0.0)
    if selector is not None and not callable(selector):
        raise TypeError(f"'selector' must be a layer selector or a callable "
                        f"(got {selector!r})")
    curve_kwargs = dict(k=k, num_samples=num_samples, repeats=repeats,
                        seed=seed, metric=metric, device=device,
                        batch_size=batch_size, progress=progress)
    kwargs, shape, names, removable = _setup(model, test_data, curve_data,
                                             input_shape, adapt, curve_kwargs)

    if layers is not None:
        chosen = _check_names(layers, removable, names)
        selection = 'given layers'

    was_training = model.training
    model.eval()
    try:
        original = modularity_curves({ORIGINAL: model}, **kwargs)
    finally:
        model.train(was_training)
    repeats_matrix, _ = _repeats_matrix(original, ORIGINAL)
    mean = _Curve(repeats_matrix.mean(dim=0), names)

    if layers is None:
        chosen = _select(selector, original, removable, names)
        selection = repr(selector)
    plans = [('pruned', selection, chosen)]
    if control:
        picked = largest_gain_layers(mean, len(chosen), removable)
        plans.append(('largest_gain', f'largest gain (m={len(chosen)})',
                      [names[i] for i in picked]))

    models: Dict[str, nn.Module] = {}
    histories: Dict[str, pd.DataFrame] = {}
    rows: List[Dict[str, Any]] = []
    for label, how, chosen_names in plans:
        pruned, row, history = _prune_row(model, label, how, chosen_names,
                                          train_data, test_data, config,
                                          adapt, mean, shape, device,
                                          progress, seeds)
        models[label], histories[label] = pruned, history
        rows.append(row)
    base = _original_row(model, shape, rows[0]['acc_original_%'])
    if finetune_original:
        tuned, row, history = _finetuned_original_row(
            model, base, train_data, test_data, config, device, progress,
            seeds)
        histories[FINETUNED_ORIGINAL] = history
        rows.insert(0, row)
    rows.insert(0, base)
    table = _finish(rows)

    removed = {label: chosen_names for label, _, chosen_names in plans}
    curves = _pruned_curves(models if pruned_curves else {}, removed, names,
                            original, kwargs)
    return PruningResult(table, curves, models, histories,
                         gain_accuracy_correlation(table))


@_in_fixed_threads
def layer_removal_sweep(
    model: nn.Module,
    train_data: Any,
    test_data: Any,
    layers: Optional[Sequence[str]] = None,
    cumulative: bool = False,
    config: Optional[TrainConfig] = None,
    *,
    max_steps: Optional[int] = None,
    curve_data: Any = None,
    k: int = 3,
    num_samples: Optional[int] = 500,
    repeats: int = 5,
    seed: int = 0,
    metric: str = 'cosine',
    adapt: bool = False,
    finetune_original: bool = False,
    pruned_curves: bool = False,
    finetune_seeds: Optional[Sequence[int]] = None,
    num_threads: Optional[int] = None,
    input_shape: Optional[Sequence[int]] = None,
    device: Union[str, torch.device, None] = None,
    batch_size: int = 256,
    progress: bool = False,
) -> PruningResult:
    r"""The redundant-versus-irredundant experiment of Lu et al. (ECCV
    2022, section 5.2, Fig. 10b): layers are removed one at a time from the
    back, every pruned model is fine-tuned, and the accuracy change is set
    against the modularity gain of what was removed, with their correlation
    (:func:`gain_accuracy_correlation`).

    The layers are the removable layers of the curve from the deepest to the
    first, every block keeping a convolution (:func:`removal_order`), or
    :obj:`layers` in the order given. Step :math:`j` removes

    * the :math:`j`-th of them alone (:obj:`cumulative=False`): one point
      per layer, its own gain :math:`Q_i - Q_{i-1}`;
    * the first :math:`j` of them together (:obj:`cumulative=True`), as the
      paper's VGG11_1, VGG11_2, VGG11_3 remove one more convolution each:
      the gain is the sum over the removed layers.

    Every step starts from the original trained model and is fine-tuned
    with :obj:`config` (same seed for every step).

    Args:
        model (torch.nn.Module): The trained model (not changed).
        train_data ((torch.Tensor, torch.Tensor) or Dataset): Fine-tuning
            data.
        test_data ((torch.Tensor, torch.Tensor) or Dataset): Evaluation
            data, and the curve's samples unless :obj:`curve_data` is
            given.
        layers ([str], optional): The layers, in the order of removal.
            (default: :obj:`None`, :func:`removal_order`)
        cumulative (bool, optional): Whether step :math:`j` removes the
            first :math:`j` layers together. (default: :obj:`False`)
        config (TrainConfig, optional): The fine-tuning recipe.
            (default: :obj:`None`, :data:`DIGITS_FINETUNE`)
        max_steps (int, optional): Stop after this many steps.
            (default: :obj:`None`, all)
        pruned_curves (bool, optional): Compute the pruned models' curves.
            (default: :obj:`False`)
        **kwargs (optional): :obj:`curve_data`, :obj:`k`,
            :obj:`num_samples`, :obj:`repeats`, :obj:`seed`, :obj:`metric`,
            :obj:`adapt`, :obj:`finetune_original`, :obj:`finetune_seeds`,
            :obj:`num_threads`, :obj:`input_shape`, :obj:`device`,
            :obj:`batch_size` and :obj:`progress` as in
            :func:`pruning_experiment`.

    Returns:
        PruningResult: One row per step after the original (labels
        :obj:`"-<layer>"`, or :obj:`"-<j>"` when cumulative) and the
        correlation between :obj:`modularity_gain` and :obj:`acc_change_%`.

    Example:
        >>> from pyg_dnnmod.models import DigitsDeepCNN
        >>> _ = torch.manual_seed(0)
        >>> model = DigitsDeepCNN(channels=(4, 8), convs_per_block=2)
        >>> x, y = torch.rand(40, 1, 16, 16), torch.arange(40) % 4
        >>> result = layer_removal_sweep(
        ...     model, (x, y), (x, y), config=digits_finetune_config(
        ...         epochs=1), num_samples=20, repeats=1, device='cpu')
        >>> result.table['model'].tolist()
        ['original', '-features.10', '-features.3']
        >>> sorted(result.correlation)
        ['n', 'pearson', 'pearson_p', 'spearman', 'spearman_p']
    """
    from pyg_dnnmod.experiments._curves import modularity_curves

    config = _check_config(config)
    seeds = _check_seeds(finetune_seeds, config)
    for name, flag in (('cumulative', cumulative),
                       ('finetune_original', finetune_original)):
        if not isinstance(flag, bool):
            raise TypeError(f"'{name}' must be a bool (got {flag!r})")
    if max_steps is not None and (isinstance(max_steps, bool)
                                  or not isinstance(max_steps, int)
                                  or max_steps < 1):
        raise ValueError(f"'max_steps' must be an integer >= 1 "
                         f"(got {max_steps!r})")
    curve_kwargs = dict(k=k, num_samples=num_samples, repeats=repeats,
                        seed=seed, metric=metric, device=device,
                        batch_size=batch_size, progress=progress)
    kwargs, shape, names, removable = _setup(model, test_data, curve_data,
                                             input_shape, adapt, curve_kwargs)
    if layers is None:
        order = removal_order(model, cumulative, adapt)
    else:
        if isinstance(layers, str):
            layers = [layers]
        order = list(layers)
        _check_names(order, removable, names)
        duplicates = sorted({n for n in order if order.count(n) > 1})
        if duplicates:
            raise ValueError(f"'layers' names {duplicates!r} more than once")
    if max_steps is not None:
        order = order[:max_steps]

    was_training = model.training
    model.eval()
    try:
        original = modularity_curves({ORIGINAL: model}, **kwargs)
    finally:
        model.train(was_training)
    repeats_matrix, _ = _repeats_matrix(original, ORIGINAL)
    mean = _Curve(repeats_matrix.mean(dim=0), names)

    plans = []
    for j, name in enumerate(order):
        if cumulative:
            gone = set(order[:j + 1])
            plans.append((f'-{j + 1}', f'first {j + 1} of the order',
                          [n for n in names if n in gone]))
        else:
            plans.append((f'-{name}', 'one layer', [name]))

    models: Dict[str, nn.Module] = {}
    histories: Dict[str, pd.DataFrame] = {}
    rows: List[Dict[str, Any]] = []
    for label, how, chosen in plans:
        pruned, row, history = _prune_row(model, label, how, chosen,
                                          train_data, test_data, config,
                                          adapt, mean, shape, device,
                                          progress, seeds)
        histories[label] = history
        # Keeping every pruned model would hold L copies of the network.
        if pruned_curves:
            models[label] = pruned
        rows.append(row)
    base = _original_row(model, shape, rows[0]['acc_original_%'])
    if finetune_original:
        tuned, row, history = _finetuned_original_row(
            model, base, train_data, test_data, config, device, progress,
            seeds)
        histories[FINETUNED_ORIGINAL] = history
        rows.insert(0, row)
    rows.insert(0, base)
    table = _finish(rows)
    removed = {label: chosen for label, _, chosen in plans}
    curves = _pruned_curves(models, removed, names, original, kwargs)
    return PruningResult(table, curves, models, histories,
                         gain_accuracy_correlation(table))


# -- a trained model of the registry on the embedded default ---------------

def _digits_key(name: str, recipe: Mapping[str, Any]) -> str:
    from pyg_dnnmod._version import __version__
    from pyg_dnnmod.pretrained import DIGITS_DATA
    text = json.dumps({'model': name, 'data': DIGITS_DATA,
                       'recipe': dict(recipe),
                       'version': __version__}, sort_keys=True,
                      default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def pretrained_digits_model(
    name: str = 'digits_deep_cnn',
    cache: Union[str, Path, None] = None,
    retrain: bool = False,
    progress: bool = False,
    device: Union[str, torch.device, None] = None,
    num_threads: Optional[int] = 1,
) -> Tuple[nn.Module, Dict[str, Any]]:
    r"""A model of the registry trained on the embedded default data (the
    translated digits, :func:`~pyg_dnnmod.pretrained.digits_data`) with the
    default recipe :data:`~pyg_dnnmod.pretrained.DIGITS_RECIPE` (the model
    and width aside, with the changes of :data:`DIGITS_MODEL_RECIPES`),
    cached like :func:`~pyg_dnnmod.pretrained.pretrained_digits_cnn` in a
    file keyed by the model name, the data, the recipe, the thread count
    and the library version.

    Training runs on one CPU thread by default (:func:`fixed_threads`), so
    that the cached network does not depend on the machine's thread count:
    the models are small enough for one thread to train them in seconds.

    Args:
        name (str, optional): A model of
            :func:`~pyg_dnnmod.models.list_models` that takes
            :math:`1 \times 16 \times 16` inputs.
            (default: :obj:`"digits_deep_cnn"`)
        cache (str or Path, optional): The cache folder.
            (default: :func:`~pyg_dnnmod.pretrained.cache_dir`)
        retrain (bool, optional): Train even if cached.
            (default: :obj:`False`)
        progress (bool, optional): Show the training progress bar.
            (default: :obj:`False`)
        device (str or torch.device, optional): Where to train.
            (default: :obj:`None`, the CPU, as the cached default)
        num_threads (int, optional): CPU threads while training, the
            previous count restored afterwards; :obj:`None` leaves it.
            (default: :obj:`1`)

    Returns:
        (torch.nn.Module, dict): The model in eval mode on the CPU and a
        summary (:obj:`path`, :obj:`cached`, :obj:`test_acc`,
        :obj:`seconds`, :obj:`key`).
    """
    from pyg_dnnmod.datasets import (
        TRANSLATED_DIGITS_MEAN,
        TRANSLATED_DIGITS_STD,
    )
    from pyg_dnnmod.models import get_input_shape, get_model
    from pyg_dnnmod.pretrained import (
        DIGITS_RECIPE,
        cache_dir,
        recipe_config,
        train_cached,
        training_environment,
    )

    if not isinstance(name, str):
        raise TypeError(f"'name' must be a str (got {type(name).__name__})")
    key_name = name.strip().lower()
    shape = tuple(get_input_shape(key_name))
    if shape != (1, 16, 16):
        raise ValueError(f"'name' must be a model for 1x16x16 inputs such as "
                         f"the digits (got '{name}', which takes "
                         f"{'x'.join(map(str, shape))})")
    num_threads = check_threads(num_threads)
    recipe = {k: v for k, v in DIGITS_RECIPE.items()
              if k not in ('model', 'width')}
    recipe.update(DIGITS_MODEL_RECIPES.get(key_name, {}))
    environment = training_environment(num_threads, device)
    # The thread count in force when None: the key says what trained it.
    recipe_env = dict(recipe, num_threads=environment.get('threads'))
    if environment['device'] != 'cpu':
        recipe_env['device'] = environment['device']
    key = _digits_key(key_name, recipe_env)
    folder = Path(cache) if cache is not None else cache_dir()

    def make_model() -> nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(DIGITS_RECIPE['seed'])
            return get_model(key_name, mean=TRANSLATED_DIGITS_MEAN,
                             std=TRANSLATED_DIGITS_STD)

    return train_cached(folder / f'{key_name}_digits_{key}.pt',
                        make_model, recipe_config(recipe),
                        dict(key=key, model=key_name), retrain=retrain,
                        progress=progress, device=device,
                        num_threads=num_threads)
