r"""What every experiment does first: its :class:`SnapshotConfig`, the
labels of its inputs, the one draw of :math:`N` samples and their
per-layer features."""
from collections.abc import Mapping
from typing import Any, Dict, Iterator, Optional, Tuple, Union

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from pyg_dnnmod.snapshots import SnapshotConfig
from pyg_dnnmod.utils import check_labels

#: One model, or several by label.
Models = Union[nn.Module, Mapping[str, nn.Module]]
#: Samples as a tensor, or a dataset of ``(x, label)`` pairs.
Inputs = Union[Tensor, Dataset]


def snapshot_config(config: Optional[SnapshotConfig],
                    changes: Dict[str, Any],
                    **defaults: Any) -> SnapshotConfig:
    r"""The experiment's :class:`SnapshotConfig`: :obj:`config`, or one
    with the experiment's :obj:`defaults` when none is given, with the
    keyword arguments :obj:`changes` on top.

    Example:
        >>> snapshot_config(None, {'k': 5}, num_samples=500).num_samples
        500
        >>> snapshot_config(SnapshotConfig(), {}, num_samples=500).num_samples
    """
    base = {} if config is not None else dict(defaults)
    base.update(changes)
    return SnapshotConfig.resolve(config, **base)


def check_calibration(calibrate: Any, num_permutations: Any) -> Optional[int]:
    r"""The number of permutations of the null when :obj:`calibrate`, else
    :obj:`None`; checks both arguments.

    Example:
        >>> check_calibration(True, 100), check_calibration(False, 100)
        (100, None)
    """
    if not isinstance(calibrate, bool):
        raise TypeError(f"'calibrate' must be a bool (got {calibrate!r})")
    if isinstance(num_permutations, bool) or not isinstance(
            num_permutations, int) or num_permutations < 2:
        raise ValueError(f"'num_permutations' must be an integer >= 2 "
                         f"(got {num_permutations!r})")
    return num_permutations if calibrate else None


def check_model(model: Any) -> nn.Module:
    r"""Returns :obj:`model` if it is a module, else a :class:`TypeError`."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module "
                        f"(got {type(model).__name__})")
    return model


def as_models(model: Models) -> Dict[str, nn.Module]:
    r"""One module as :obj:`{'trained': model}`, or a mapping of labelled
    modules."""
    if isinstance(model, nn.Module):
        return {'trained': model}
    if isinstance(model, Mapping) and len(model) > 0 and all(
            isinstance(k, str) and isinstance(v, nn.Module)
            for k, v in model.items()):
        return dict(model)
    raise TypeError(f"'model' must be a torch.nn.Module or a non-empty "
                    f"mapping from labels (str) to modules "
                    f"(got {type(model).__name__})")


def labels_of(inputs: Inputs, labels: Optional[Any]) -> Tensor:
    r"""The labels of a tensor of inputs (given), or of a dataset of
    :obj:`(x, label)` pairs (its :obj:`targets`, else read one by one)."""
    if isinstance(inputs, Tensor):
        if labels is None:
            raise ValueError("'labels' must be given when 'inputs' is a "
                             "tensor (got None)")
        return check_labels(labels, inputs.size(0)).cpu()
    if isinstance(inputs, Dataset):
        if labels is None:
            labels = getattr(inputs, 'targets', None)
        if labels is None:
            labels = [int(inputs[i][1]) for i in range(len(inputs))]
        return check_labels(labels, len(inputs)).cpu()
    raise TypeError(f"'inputs' must be a torch.Tensor [M, ...] or a "
                    f"torch.utils.data.Dataset of (x, label) pairs "
                    f"(got {type(inputs).__name__})")


def take_samples(inputs: Inputs, index: Tensor) -> Tensor:
    r"""The samples :obj:`index` of a tensor or of a dataset of
    :obj:`(x, label)` pairs (read one by one), as one tensor.

    Example:
        >>> take_samples(torch.arange(6.).view(3, 2), torch.tensor([2, 0]))
        tensor([[4., 5.],
                [0., 1.]])
    """
    if isinstance(inputs, Tensor):
        return inputs[index]
    return torch.stack([torch.as_tensor(inputs[i][0])
                        for i in index.tolist()])


def drawn_features(
    model: nn.Module,
    inputs: Inputs,
    labels: Tensor,
    config: SnapshotConfig,
    device: Union[str, torch.device, None] = None,
    repeat: int = 0,
) -> Tuple[Iterator[Tuple[str, Tensor]], Tensor, Tensor]:
    r"""The one draw of an experiment: the indices of the :math:`N`
    samples of repeat :obj:`repeat` (:meth:`SnapshotConfig.draw`), their
    labels and the generator of their per-layer features, one layer at a
    time. The layer selection is checked before the forward pass.

    Returns:
        (iterator, torch.Tensor, torch.Tensor): :obj:`(name, features)`
        pairs, the labels of the drawn samples, their indices.
    """
    from pyg_dnnmod.features import select_layers

    index = config.draw(labels, repeat)
    select_layers(model, config.layers, config.post_activation)
    x, y = take_samples(inputs, index), labels[index]
    return config.layer_features(model, x, device), y, index
