r"""The sample draw and the label check shared by every snapshot.

The paper draws N labelled samples, usually the same number from every class,
and repeats the draw with different seeds to report mean and standard
deviation. :func:`sample_indices` makes that draw reproducible;
:func:`check_labels` is the one check of integer class labels.
"""
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ['check_labels', 'sample_indices']


def check_labels(labels: Any, num_samples: Optional[int] = None,
                 name: str = 'labels') -> Tensor:
    r"""Returns :obj:`labels` as a one-dimensional :obj:`torch.long`
    tensor (on its device), or raises an error naming :obj:`name`: a
    :class:`TypeError` for anything but integer class labels, a
    :class:`ValueError` for a shape other than :obj:`[num_samples]`.

    Example:
        >>> check_labels([0, 1, 1])
        tensor([0, 1, 1])
        >>> check_labels(torch.tensor([0., 1.]))
        Traceback (most recent call last):
        ...
        TypeError: 'labels' must be integer class labels (got dtype torch.float32)
        >>> check_labels(torch.tensor([0, 1]), num_samples=3)
        Traceback (most recent call last):
        ...
        ValueError: 'labels' must hold one label per sample (got 2 labels of shape [2] for 3 samples)
    """
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(labels)
    elif not isinstance(labels, Tensor):
        try:
            labels = torch.as_tensor(labels)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"'{name}' must be integer class labels (got "
                            f"{type(labels).__name__} {labels!r:.60})") from e
    if labels.dtype.is_floating_point or labels.dtype.is_complex or \
            labels.dtype == torch.bool:
        raise TypeError(f"'{name}' must be integer class labels "
                        f"(got dtype {labels.dtype})")
    if num_samples is not None and (labels.dim() != 1
                                    or labels.numel() != num_samples):
        raise ValueError(f"'{name}' must hold one label per sample (got "
                         f"{labels.numel()} labels of shape "
                         f"{list(labels.shape)} for {num_samples} samples)")
    if labels.dim() != 1:
        raise ValueError(f"'{name}' must be one-dimensional "
                         f"(got {labels.dim()} dimensions)")
    return labels.long()


def sample_indices(
    labels: Union[Tensor, np.ndarray, Sequence[int]],
    num_samples: int,
    balanced: bool = True,
    seed: int = 0,
) -> Tensor:
    r"""Draws :obj:`num_samples` distinct sample indices, reproducibly.

    With :obj:`balanced=True` every class present in :obj:`labels` gets
    exactly :obj:`num_samples / num_classes` samples, drawn uniformly without
    replacement within the class; otherwise :obj:`num_samples` indices are
    drawn uniformly without replacement from all samples. The same
    :obj:`labels`, :obj:`num_samples` and :obj:`seed` always give the same
    indices, on any machine.

    Args:
        labels (torch.Tensor or numpy.ndarray or list): Integer class labels
            of shape :obj:`[num_total]`.
        num_samples (int): The number of indices to draw.
        balanced (bool, optional): If set to :obj:`True`, draws the same
            number of samples from every class. (default: :obj:`True`)
        seed (int, optional): The random seed. (default: :obj:`0`)

    Returns:
        torch.Tensor: The drawn indices (:obj:`torch.long`), sorted in
        ascending order so that the samples keep their order in the source.

    Example:
        >>> labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
        >>> idx = sample_indices(labels, 6, balanced=True, seed=0)
        >>> labels[idx].bincount().tolist()
        [2, 2, 2]
        >>> bool((idx == sample_indices(labels, 6, seed=0)).all())
        True
    """
    labels = check_labels(labels).cpu()
    if isinstance(num_samples, bool) or not isinstance(
            num_samples, (int, np.integer)):
        raise TypeError(f"'num_samples' must be an integer "
                        f"(got {num_samples!r})")
    num_samples = int(num_samples)
    if num_samples < 1:
        raise ValueError(f"'num_samples' must be >= 1 (got {num_samples})")
    num_total = labels.numel()
    if num_samples > num_total:
        raise ValueError(f"'num_samples' ({num_samples}) exceeds the number "
                         f"of available samples ({num_total})")

    gen = torch.Generator().manual_seed(int(seed))
    if not balanced:
        perm = torch.randperm(num_total, generator=gen)
        return perm[:num_samples].sort().values

    classes, counts = labels.unique(return_counts=True)
    num_classes = classes.numel()
    if num_samples % num_classes != 0:
        raise ValueError(f"'num_samples' ({num_samples}) is not a multiple of "
                         f"the number of classes ({num_classes}), so a "
                         f"balanced draw is impossible; pass "
                         f"'balanced=False' or a multiple of {num_classes}")
    per_class = num_samples // num_classes
    too_small = [(int(c), int(n)) for c, n in zip(classes, counts)
                 if n < per_class]
    if len(too_small) > 0:
        shown = ', '.join(f'class {c}: {n}' for c, n in too_small[:10])
        raise ValueError(f"A balanced draw of 'num_samples' ({num_samples}) "
                         f"needs {per_class} samples per class, but some "
                         f"classes have fewer ({shown})")

    # Sorting by label (stable) groups each class's indices in ascending order,
    # so the draw does not depend on how the classes are interleaved.
    order = torch.sort(labels, stable=True).indices
    chosen = []
    start = 0
    for count in counts.tolist():
        perm = torch.randperm(count, generator=gen)[:per_class]
        chosen.append(order[start + perm])
        start += count
    return torch.cat(chosen).sort().values
