r"""Cut selected layers, fine-tune, and report what it cost: one row of the
pruning table of Lu et al. (ECCV 2022, Table 1)."""
import copy
import math
from collections.abc import Sequence
from typing import Any, Optional, Union

import pandas as pd
import torch
from torch import nn

from pyg_dnnmod.features import select_layers
from pyg_dnnmod.pruning._complexity import _reduction, complexity
from pyg_dnnmod.pruning._selectors import (
    Curve,
    _as_curve,
    _is_curve_object,
    modularity_gain,
)
from pyg_dnnmod.pruning._surgery import remove_layers
from pyg_dnnmod.training import TrainConfig, evaluate, train


def input_shape_of(data: Any) -> tuple[int, ...]:
    r"""The shape of one input of :obj:`data`, a tensor pair
    :obj:`(x, y)` or a dataset of :obj:`(input, label)` pairs, as
    :func:`complexity` takes it.

    Example:
        >>> input_shape_of((torch.rand(4, 1, 16, 16), torch.arange(4)))
        (1, 16, 16)
    """
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(
            data[0], torch.Tensor):
        return tuple(data[0].shape[1:])
    try:
        first = data[0]
    except Exception as e:  # noqa: BLE001 - any dataset failure
        raise ValueError("could not read one input from 'test_data' to find "
                         "the input shape; pass 'input_shape'") from e
    if not isinstance(first, (tuple, list)) or not isinstance(
            first[0], torch.Tensor):
        raise ValueError("'test_data' must return (input, label) pairs; pass "
                         "'input_shape' otherwise")
    return tuple(first[0].shape)


def _removed_gain(model: nn.Module, names: list[str], curve: Curve) -> float:
    values, curve_names = _as_curve(curve)
    if curve_names is None:
        curve_names = select_layers(model)
        if len(curve_names) != values.numel():
            raise ValueError(f"'curve' has {values.numel()} values but the "
                             f"model's curve has {len(curve_names)} layers; "
                             f"pass a curve with 'layer_names'")
    position = {name: i for i, name in enumerate(curve_names)}
    missing = [n for n in names if n not in position]
    if missing:
        raise ValueError(f"layer(s) {missing!r} are not in 'curve' (its "
                         f"layers are {curve_names!r})")
    gain = modularity_gain(values)
    return float(sum(gain[position[n]].item() for n in names))


def prune_and_finetune(
    model: nn.Module,
    layer_names: Union[str, Sequence[str]],
    train_data: Any,
    test_data: Any,
    config: Optional[TrainConfig] = None,
    adapt: bool = False,
    curve: Optional[Curve] = None,
    input_shape: Optional[Sequence[int]] = None,
    device: Optional[Union[str, torch.device]] = None,
    progress: bool = False,
) -> tuple[nn.Module, pd.DataFrame]:
    r"""Removes layers from a trained model, fine-tunes the result and
    reports the change in size and accuracy, as in the layer pruning of
    Lu et al. (ECCV 2022, section 5.2 and Table 1).

    The model is cut by :func:`remove_layers` (the caller's model is not
    changed), evaluated, fine-tuned by
    :func:`~pyg_dnnmod.training.train` with :obj:`config`, and profiled
    with :func:`complexity` against the original:

    .. math::
        \Delta \mathrm{acc} = \mathrm{acc}_{\mathrm{after}} -
        \mathrm{acc}_{\mathrm{original}}

    Args:
        model (torch.nn.Module): The trained model.
        layer_names (str or [str]): The layers to remove, e.g. the names of
            a selector's picks.
        train_data ((torch.Tensor, torch.Tensor) or torch.utils.data.Dataset):
            Fine-tuning data.
        test_data ((torch.Tensor, torch.Tensor) or torch.utils.data.Dataset):
            Evaluation data.
        config (TrainConfig, optional): The fine-tuning recipe; :obj:`None`
            is the paper's, :obj:`TrainConfig()`. (default: :obj:`None`)
        adapt (bool, optional): Passed to :func:`remove_layers`.
            (default: :obj:`False`)
        curve (torch.Tensor or LayerGraphs, optional): The original model's
            modularity curve; a plain Tensor must follow
            :func:`~pyg_dnnmod.features.select_layers` (:obj:`model`). Fills
            :obj:`modularity_gain`. (default: :obj:`None`)
        input_shape ([int], optional): The shape of one input for
            :func:`complexity`; by default that of :obj:`test_data`.
            (default: :obj:`None`)
        device (str or torch.device, optional): Where to fine-tune; by
            default CUDA when available. (default: :obj:`None`)
        progress (bool, optional): Show the training progress bar.
            (default: :obj:`False`)

    Returns:
        (torch.nn.Module, pandas.DataFrame): The fine-tuned pruned model
        and a one-row table with columns :obj:`removed` (the names, joined
        by :obj:`", "`), :obj:`num_removed`, :obj:`modularity_gain` (the sum
        of :math:`Q_i - Q_{i-1}` over the removed layers, NaN without
        :obj:`curve`), :obj:`params`, :obj:`MACs`, :obj:`FLOPs`,
        :obj:`params_reduction_%`, :obj:`FLOPs_reduction_%`,
        :obj:`acc_original_%`, :obj:`acc_before_%` (pruned, before
        fine-tuning), :obj:`acc_after_%`, :obj:`acc_change_%` (percentage
        points) and :obj:`epochs`. The fine-tuning history is in
        :obj:`table.attrs['history']`.

    Example:
        >>> from pyg_dnnmod.models import DigitsCNN
        >>> _ = torch.manual_seed(0)
        >>> model = DigitsCNN(width=0.25)
        >>> x, y = torch.rand(32, 1, 16, 16), torch.randint(0, 10, (32, ))
        >>> config = TrainConfig(epochs=1, batch_size=16)
        >>> pruned, table = prune_and_finetune(model, 'features.10', (x, y),
        ...                                    (x, y), config, device='cpu')
        >>> table[['removed', 'params', 'epochs']].values.tolist()
        [['features.10', 2066, 1]]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"'config' must be a TrainConfig (got "
                        f"{type(config).__name__})")
    if curve is not None and not (_is_curve_object(curve)
                                  or isinstance(curve, torch.Tensor)):
        raise TypeError(f"'curve' must be a Tensor or an object with "
                        f"'modularity()' and 'layer_names' (got "
                        f"{type(curve).__name__})")
    pruned = remove_layers(model, layer_names, adapt=adapt)
    names = [layer_names] if isinstance(layer_names, str) else list(
        layer_names)
    gain = math.nan if curve is None else _removed_gain(model, names, curve)
    shape = input_shape_of(test_data) if input_shape is None else tuple(
        input_shape)

    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    device = torch.device(device)
    # The caller's model is evaluated on a copy where it would have to move.
    original = model if next(model.parameters()).device == device else \
        copy.deepcopy(model).to(device)
    _, acc_original = evaluate(original, test_data, config.eval_batch_size)
    del original
    pruned.to(device)
    _, acc_before = evaluate(pruned, test_data, config.eval_batch_size)
    history = train(pruned, train_data, test_data, config, device=device,
                    progress=progress)
    acc_after = float(history['test_acc'].iloc[-1])

    before = complexity(model, shape, cross_check=False)
    after = complexity(pruned, shape, cross_check=False)
    table = pd.DataFrame([{
        'removed': ', '.join(names),
        'num_removed': len(names),
        'modularity_gain': gain,
        'params': after['params'],
        'MACs': after['MACs'],
        'FLOPs': after['FLOPs'],
        'params_reduction_%': _reduction(after['params'], before['params']),
        'FLOPs_reduction_%': _reduction(after['FLOPs'], before['FLOPs']),
        'acc_original_%': 100.0 * acc_original,
        'acc_before_%': 100.0 * acc_before,
        'acc_after_%': 100.0 * acc_after,
        'acc_change_%': 100.0 * (acc_after - acc_original),
        'epochs': config.epochs,
    }])
    table.attrs['history'] = history
    return pruned, table
