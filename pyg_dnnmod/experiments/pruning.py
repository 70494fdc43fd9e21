r"""Modularity-guided layer pruning end to end, the Python twin of
``pyg-dnnmod prune``: the curve of a trained model, the layers a selector
picks on it, the cut, the fine-tuning and the report (Lu et al., ECCV 2022,
section 5.2, Table 1, Fig. 9 and Fig. 10).

* :func:`pruning_experiment`: one selection (and optionally the control of
  as many layers with the largest gains,
  :func:`~pyg_dnnmod.pruning.largest_gain_layers`), one row per model;
* :func:`layer_removal_sweep`: the redundant-versus-irredundant experiment,
  layers removed one at a time from the back
  (:func:`~pyg_dnnmod.pruning.removal_order`), accuracy change against
  modularity gain with their correlation
  (:func:`~pyg_dnnmod.experiments.gain_accuracy_correlation`).

Both run one body: the original model's curves, then for every plan (a
label and the layers it removes) the cut, the fine-tuning once per seed and
a row of the table (:mod:`~pyg_dnnmod.experiments.pruning_report`).

On the translated digits the default model is the residual
:func:`~pyg_dnnmod.models.digits_deep.digits_deep_resnet` and the default
fine-tuning the short repair :data:`~pyg_dnnmod.pretrained.DIGITS_FINETUNE`:
there, the layers of gain at most 0.01 (the flat second half of the last
block) cost nothing and as many layers with the largest gains cost several
points. The plain :class:`~pyg_dnnmod.models.DigitsDeepCNN` does not show
it: the flat curve of its first block (the classes are not yet separated,
whatever the layer does) marks a layer the network needs, and cutting a
plain convolution breaks the channels of the next one, whatever its gain.

Trained models to prune:
:func:`~pyg_dnnmod.pretrained.pretrained_digits_model`; figures:
:func:`~pyg_dnnmod.plotting.plot_pruning_report`.
"""
import copy
import dataclasses
import functools
import importlib
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Dict, List, Optional, Tuple, Union

import pandas as pd
import torch
from torch import nn

from pyg_dnnmod.experiments._curves import modularity_curves
from pyg_dnnmod.experiments._pruning_args import (
    _check_bool,
    _check_names,
    _check_seeds,
    _renamed_remove,
)
from pyg_dnnmod.experiments.pruning_report import (
    FINETUNED_ORIGINAL,
    ORIGINAL,
    PRUNING_COLUMNS,  # noqa: F401 - importable from here, as before
    PruningResult,
    _original_row,
    _pruned_curves,
    _seeds_row,
    _table,
    gain_accuracy_correlation,
)
from pyg_dnnmod.features import select_layers
from pyg_dnnmod.pruning import (
    GainThreshold,
    ModularityCurve,
    complexity,
    input_shape_of,
    largest_gain_layers,
    layers_to_remove,
    prune_and_finetune,
    removable_layers,
    removal_order,
)
from pyg_dnnmod.experiments._draw import \
    snapshot_config as snapshot_config_of
from pyg_dnnmod.snapshots import SnapshotConfig
from pyg_dnnmod.training import TrainConfig, train

# A plan: the label of a pruned model, how its layers were chosen, and
# their names; a fine-tuned model: the model, its row and its history.
_Plan = Tuple[str, str, List[str]]
_Tuned = Tuple[nn.Module, Dict[str, Any], pd.DataFrame]

# Names that moved, and where they live now (see __getattr__).
_MOVED = {
    'DIGITS_FINETUNE': 'pyg_dnnmod.pretrained',
    'DIGITS_FULL_FINETUNE': 'pyg_dnnmod.pretrained',
    'DIGITS_MODEL_RECIPES': 'pyg_dnnmod.pretrained',
    'digits_finetune_config': 'pyg_dnnmod.pretrained',
    'pretrained_digits_model': 'pyg_dnnmod.pretrained',
    'fixed_threads': 'pyg_dnnmod.training',
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(f"'pyg_dnnmod.experiments.pruning.{name}' moved to "
                      f"'{_MOVED[name]}.{name}'; import it from there (the "
                      f"old name goes in the next release)",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _in_fixed_threads(fn: Callable[..., Any]) -> Callable[..., Any]:
    r"""Runs :obj:`fn` under :func:`~pyg_dnnmod.training.fixed_threads` of
    its keyword argument :obj:`num_threads`."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pyg_dnnmod.training import fixed_threads
        with fixed_threads(kwargs.get('num_threads')):
            return fn(*args, **kwargs)
    return wrapper


@dataclasses.dataclass
class _Run:
    r"""What the two experiments share: the checked arguments, the original
    model's curves, and the cut, fine-tuning and row of every plan."""
    model: nn.Module
    train_data: Any
    test_data: Any
    config: TrainConfig
    seeds: List[int]
    adapt: bool
    finetune_original: bool
    device: Any
    progress: bool
    snapshot: Dict[str, Any]  # keyword arguments of modularity_curves
    shape: Tuple[int, ...]
    names: List[str]
    removable: List[str]

    @functools.cached_property
    def original(self) -> pd.DataFrame:
        r"""The original model's curves, labelled :data:`ORIGINAL`."""
        was_training = self.model.training
        self.model.eval()
        try:
            return modularity_curves({ORIGINAL: self.model}, **self.snapshot)
        finally:
            self.model.train(was_training)

    @functools.cached_property
    def curve(self) -> ModularityCurve:
        r"""The original's curves as :obj:`[R, L]` repeats."""
        df = self.original
        table = df.pivot(index='repeat', columns='layer_index',
                         values='modularity').sort_index(axis=1)
        return ModularityCurve(torch.tensor(table.to_numpy(),
                                            dtype=torch.float64), self.names)

    def _over_seeds(self,
                    fine_tune: Callable[[TrainConfig], _Tuned]) -> _Tuned:
        r"""Runs :obj:`fine_tune` once per seed; returns the first seed's
        model and history and the row with the mean over the seeds."""
        rows, first = [], None
        for seed in self.seeds:
            model, row, history = fine_tune(
                dataclasses.replace(self.config, seed=seed))
            rows.append(row)
            if first is None:
                first = (model.eval(), history)
        return first[0], _seeds_row(rows), first[1]

    def _pruned_row(self, label: str, selection: str,
                    names: List[str]) -> _Tuned:
        r"""Cuts :obj:`names` and fine-tunes, once per seed."""
        def fine_tune(config: TrainConfig) -> _Tuned:
            pruned, table = prune_and_finetune(
                self.model, names, self.train_data, self.test_data, config,
                adapt=self.adapt, curve=self.curve.mean(),
                input_shape=self.shape, device=self.device,
                progress=self.progress)
            history = table.attrs.pop('history')
            return pruned, table.iloc[0].to_dict(), history

        model, row, history = self._over_seeds(fine_tune)
        c = complexity(model, self.shape, cross_check=True)
        row.update(model=label, selection=selection,
                   conv_linear_MACs=c['conv_linear_MACs'],
                   flop_counter_FLOPs=c['flop_counter_FLOPs'])
        return model, row, history

    def _finetuned_original_row(self, base: Dict[str, Any]) -> Tuple[
            Dict[str, Any], pd.DataFrame]:
        r"""Fine-tunes the unpruned model the same way, once per seed."""
        device = self.device
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'

        def fine_tune(config: TrainConfig) -> _Tuned:
            tuned = copy.deepcopy(self.model)
            history = train(tuned, self.train_data, self.test_data, config,
                            device=device, progress=self.progress)
            acc = 100.0 * float(history['test_acc'].iloc[-1])
            return tuned, dict(
                base, model=FINETUNED_ORIGINAL,
                selection='same fine-tuning, nothing removed',
                epochs=config.epochs, **{
                    'acc_after_%': acc,
                    'acc_change_%': acc - base['acc_original_%']}), history

        _, row, history = self._over_seeds(fine_tune)
        return row, history

    def report(self, plans: List[_Plan], keep_models: bool,
               pruned_curves: bool) -> PruningResult:
        r"""Prunes and fine-tunes every plan and reports them after the
        original (and the fine-tuned original)."""
        models: Dict[str, nn.Module] = {}
        histories: Dict[str, pd.DataFrame] = {}
        rows: List[Dict[str, Any]] = []
        for label, selection, names in plans:
            pruned, row, history = self._pruned_row(label, selection, names)
            histories[label] = history
            # A sweep keeps them only for their curves: L copies of a net.
            if keep_models:
                models[label] = pruned
            rows.append(row)
        base = _original_row(self.model, self.shape, rows[0]['acc_original_%'])
        if self.finetune_original:
            row, histories[FINETUNED_ORIGINAL] = \
                self._finetuned_original_row(base)
            rows.insert(0, row)
        rows.insert(0, base)
        table = _table(rows)
        removed = {label: names for label, _, names in plans}
        curves = _pruned_curves(models if pruned_curves else {}, removed,
                                self.names, self.original, self.snapshot)
        return PruningResult(table, curves, models, histories,
                             gain_accuracy_correlation(table))


def _start(model: Any, train_data: Any, test_data: Any, config: Any, *,
           curve_data: Any, snapshot_config: Any, repeats: Any, adapt: Any,
           finetune_original: Any, finetune_seeds: Any, input_shape: Any,
           device: Any, progress: Any, **snapshot_kwargs: Any) -> _Run:
    r"""Checks the arguments both experiments take; see
    :func:`pruning_experiment`."""
    from pyg_dnnmod.pretrained import digits_finetune_config

    config = digits_finetune_config() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"'config' must be a TrainConfig (got "
                        f"{type(config).__name__})")
    seeds = _check_seeds(finetune_seeds, config)
    _check_bool(finetune_original, 'finetune_original')
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    data = test_data if curve_data is None else curve_data
    inputs, labels = data if isinstance(data, (tuple, list)) and len(
        data) == 2 and isinstance(data[0], torch.Tensor) else (data, None)
    # How the snapshots are taken (the curves' keyword arguments), in one
    # place; the curve reads the model's default layers.
    snapshots = snapshot_config_of(snapshot_config, snapshot_kwargs,
                                   num_samples=500)
    if snapshots.layers is not None:
        raise ValueError(f"the pruning curve reads the model's default "
                         f"layers: the snapshot 'layers' must be None (got "
                         f"{snapshots.layers!r}); name the layers to remove "
                         f"with 'remove'")
    snapshot = dict(inputs=inputs, labels=labels, repeats=repeats,
                    config=snapshots.replace(progress=progress),
                    device=device)
    shape = input_shape_of(test_data) if input_shape is None else tuple(
        input_shape)
    removable = removable_layers(model, adapt=adapt)
    if not removable:
        raise ValueError(f"{type(model).__name__} has no removable layer "
                         f"(see pyg_dnnmod.pruning.removable_layers; "
                         f"adapt={adapt})")
    return _Run(model, train_data, test_data, config, seeds, adapt,
                finetune_original, device, progress, snapshot, shape,
                select_layers(model), removable)


@_in_fixed_threads
def pruning_experiment(
    model: nn.Module,
    train_data: Any,
    test_data: Any,
    selector: Optional[Callable[..., List[int]]] = None,
    remove: Optional[Sequence[str]] = None,
    control: bool = False,
    config: Optional[TrainConfig] = None,
    *,
    curve_data: Any = None,
    snapshot_config: Optional[SnapshotConfig] = None,
    repeats: int = 5,
    adapt: bool = False,
    finetune_original: bool = False,
    pruned_curves: bool = True,
    finetune_seeds: Optional[Sequence[int]] = None,
    num_threads: Optional[int] = None,
    input_shape: Optional[Sequence[int]] = None,
    device: Union[str, torch.device, None] = None,
    progress: bool = False,
    **snapshot_kwargs: Any,
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
       :obj:`remove` names them.
    3. :func:`~pyg_dnnmod.pruning.prune_and_finetune` cuts them, fine-tunes
       the copy with :obj:`config` and counts parameters, MACs and
       :math:`\mathrm{FLOPs} = 2 \times \mathrm{MACs}` (thop; the
       convolution and linear part is cross-checked against
       :class:`~torch.utils.flop_counter.FlopCounterMode`, whose count is
       in :obj:`flop_counter_FLOPs`).
    4. With :obj:`control=True`, the same number of removable layers with
       the largest gains (:func:`~pyg_dnnmod.pruning.largest_gain_layers`)
       is cut and
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
        remove ([str], optional): The layers to remove, instead of a
            selector (the keyword :obj:`layers` of earlier releases is
            deprecated). (default: :obj:`None`)
        control (bool, optional): Also prune the layers with the largest
            gains. (default: :obj:`False`)
        config (TrainConfig, optional): The fine-tuning recipe.
            (default: :obj:`None`,
            :data:`~pyg_dnnmod.pretrained.DIGITS_FINETUNE`)
        curve_data (optional): The curve's samples, a tensor pair or a
            dataset. (default: :obj:`None`, :obj:`test_data`)
        snapshot_config (SnapshotConfig, optional): How the curve's
            snapshots are taken (its :obj:`layers` must be :obj:`None`: the
            curve reads the model's default layers). (default: :obj:`None`,
            the defaults with :obj:`num_samples=500`)
        repeats (int, optional): Draws of the samples (seeds
            :obj:`seed + r`). (default: :obj:`5`)
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
            (:func:`~pyg_dnnmod.training.fixed_threads`), the previous
            count restored afterwards.
            (default: :obj:`None`, unchanged)
        input_shape ([int], optional): One input's shape for the counts.
            (default: :obj:`None`, from :obj:`test_data`)
        device (str or torch.device, optional): Where to fine-tune and
            compute the curves. (default: :obj:`None`, CUDA if available)
        progress (bool, optional): Show progress bars.
            (default: :obj:`False`)
        **snapshot_kwargs (optional): Fields of
            :class:`~pyg_dnnmod.SnapshotConfig` on top of
            :obj:`snapshot_config` (:obj:`k`, :obj:`num_samples`,
            :obj:`seed`, :obj:`metric`, :obj:`batch_size`, ...).

    Returns:
        PruningResult: The table (rows :obj:`"original"`, optionally
        :obj:`"original_finetuned"`, :obj:`"pruned"` and, with
        :obj:`control`, :obj:`"largest_gain"`), the curves, the fine-tuned
        models and their histories.

    Example:
        >>> from pyg_dnnmod.models import DigitsDeepCNN
        >>> from pyg_dnnmod.pretrained import digits_finetune_config
        >>> _ = torch.manual_seed(0)
        >>> model = DigitsDeepCNN(channels=(4, 4, 4), convs_per_block=2)
        >>> x, y = torch.rand(40, 1, 16, 16), torch.arange(40) % 4
        >>> result = pruning_experiment(
        ...     model, (x, y), (x, y), remove=['features.3'],
        ...     config=digits_finetune_config(epochs=1), num_samples=20,
        ...     repeats=1, device='cpu')
        >>> result.table[['model', 'removed', 'num_removed']].values.tolist()
        [['original', '', 0], ['pruned', 'features.3', 1]]
    """
    _check_bool(control, 'control')
    remove = _renamed_remove(remove, snapshot_kwargs)
    if selector is not None and remove is not None:
        raise ValueError("pass either 'selector' or 'remove', not both")
    if selector is None and remove is None:
        selector = GainThreshold(0.0)
    if selector is not None and not callable(selector):
        raise TypeError(f"'selector' must be a layer selector or a callable "
                        f"(got {selector!r})")
    run = _start(model, train_data, test_data, config, curve_data=curve_data,
                 snapshot_config=snapshot_config, repeats=repeats,
                 adapt=adapt, finetune_original=finetune_original,
                 finetune_seeds=finetune_seeds, input_shape=input_shape,
                 device=device, progress=progress, **snapshot_kwargs)
    if remove is not None:
        chosen = _check_names(remove, run.removable, run.names)
        selection = 'given layers'
    else:
        chosen = layers_to_remove(selector, run.curve, run.removable)
        selection = repr(selector)
    plans = [('pruned', selection, chosen)]
    if control:
        picked = largest_gain_layers(run.curve.mean(), len(chosen),
                                     run.removable)
        plans.append(('largest_gain', f'largest gain (m={len(chosen)})',
                      [run.names[i] for i in picked]))
    return run.report(plans, keep_models=True, pruned_curves=pruned_curves)


def _shared_options(caller: str, options: Dict[str, Any]) -> Dict[str, Any]:
    r"""The keyword arguments of :func:`pruning_experiment` that
    :obj:`caller` takes as :obj:`**options`, with its defaults: one
    signature for both experiments (fields of
    :class:`~pyg_dnnmod.SnapshotConfig` too). :obj:`num_threads` is left
    out, as :func:`_in_fixed_threads` applies it."""
    parameters = inspect.signature(pruning_experiment).parameters.values()
    defaults = {p.name: p.default for p in parameters
                if p.kind is p.KEYWORD_ONLY and p.name != 'pruned_curves'}
    fields = {f.name for f in dataclasses.fields(SnapshotConfig)}
    for name in options:
        if name not in defaults and name not in fields:
            raise TypeError(f"{caller}() got an unexpected keyword argument "
                            f"{name!r}")
    out = dict(defaults, **options)
    del out['num_threads']
    return out


@_in_fixed_threads
def layer_removal_sweep(
    model: nn.Module,
    train_data: Any,
    test_data: Any,
    remove: Optional[Sequence[str]] = None,
    cumulative: bool = False,
    config: Optional[TrainConfig] = None,
    *,
    max_steps: Optional[int] = None,
    pruned_curves: bool = False,
    **options: Any,
) -> PruningResult:
    r"""The redundant-versus-irredundant experiment of Lu et al. (ECCV
    2022, section 5.2, Fig. 10b): layers are removed one at a time from the
    back, every pruned model is fine-tuned, and the accuracy change is set
    against the modularity gain of what was removed, with their correlation
    (:func:`gain_accuracy_correlation`).

    The layers are the removable layers of the curve from the deepest to the
    first, every block keeping a convolution
    (:func:`~pyg_dnnmod.pruning.removal_order`), or
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
        train_data ((torch.Tensor, torch.Tensor) or Dataset): As in
            :func:`pruning_experiment`, the fine-tuning data.
        test_data ((torch.Tensor, torch.Tensor) or Dataset): As in
            :func:`pruning_experiment`, the evaluation data (and the
            curve's samples).
        layers ([str], optional): The layers, in the order of removal.
            (default: :obj:`None`,
            :func:`~pyg_dnnmod.pruning.removal_order`)
        cumulative (bool, optional): Whether step :math:`j` removes the
            first :math:`j` layers together. (default: :obj:`False`)
        config (TrainConfig, optional): The fine-tuning recipe.
            (default: :obj:`None`,
            :data:`~pyg_dnnmod.pretrained.DIGITS_FINETUNE`)
        max_steps (int, optional): Stop after this many steps.
            (default: :obj:`None`, all)
        pruned_curves (bool, optional): Compute the pruned models' curves.
            (default: :obj:`False`)
        **options (optional): The other keyword arguments of
            :func:`pruning_experiment`, with its defaults:
            :obj:`curve_data`, :obj:`k`, :obj:`num_samples`,
            :obj:`repeats`, :obj:`seed`, :obj:`metric`, :obj:`adapt`,
            :obj:`finetune_original`, :obj:`finetune_seeds`,
            :obj:`num_threads`, :obj:`input_shape`, :obj:`device`,
            :obj:`batch_size` and :obj:`progress`.

    Returns:
        PruningResult: One row per step after the original (labels
        :obj:`"-<layer>"`, or :obj:`"-<j>"` when cumulative) and the
        correlation between :obj:`modularity_gain` and :obj:`acc_change_%`.

    Example:
        >>> from pyg_dnnmod.models import DigitsDeepCNN
        >>> from pyg_dnnmod.pretrained import digits_finetune_config
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
    _check_bool(cumulative, 'cumulative')
    if max_steps is not None and (isinstance(max_steps, bool)
                                  or not isinstance(max_steps, int)
                                  or max_steps < 1):
        raise ValueError(f"'max_steps' must be an integer >= 1 "
                         f"(got {max_steps!r})")
    remove = _renamed_remove(remove, options)
    run = _start(model, train_data, test_data, config,
                 **_shared_options('layer_removal_sweep', options))
    if remove is None:
        order = removal_order(model, cumulative, run.adapt)
    else:
        order = [remove] if isinstance(remove, str) else list(remove)
        _check_names(order, run.removable, run.names)
        duplicates = sorted({n for n in order if order.count(n) > 1})
        if duplicates:
            raise ValueError(f"'remove' names {duplicates!r} more than once")
    if max_steps is not None:
        order = order[:max_steps]
    plans: List[_Plan] = []
    for j, name in enumerate(order):
        if cumulative:
            gone = set(order[:j + 1])
            plans.append((f'-{j + 1}', f'first {j + 1} of the order',
                          [n for n in run.names if n in gone]))
        else:
            plans.append((f'-{name}', 'one layer', [name]))
    return run.report(plans, keep_models=pruned_curves,
                      pruned_curves=pruned_curves)
