r"""The sample draw shared by the experiments that read one set of N
samples (CKA, probes)."""
from typing import Optional

import torch
from torch import Tensor


def draw_index(labels: Tensor, num_samples: Optional[int], k: int,
               balanced: bool = True, seed: int = 0) -> Tensor:
    r"""Checks :obj:`k` and draws the indices of :obj:`num_samples` samples
    with :func:`~pyg_dnnmod.datasets.sample_indices` (all samples if
    :obj:`None`), so that errors name the argument before any forward pass.

    Example:
        >>> draw_index(torch.tensor([0, 0, 1, 1]), 2, k=1)
        tensor([0, 3])
    """
    from pyg_dnnmod.datasets import sample_indices

    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"'k' must be an integer (got {k!r})")
    if k < 1:
        raise ValueError(f"'k' must be >= 1 (got {k})")
    if num_samples is None:
        index = torch.arange(labels.numel())
    else:
        index = sample_indices(labels, num_samples, balanced=balanced,
                               seed=seed)
    if k >= index.numel():
        raise ValueError(f"'k' must be smaller than the number of samples "
                         f"(got k={k} for N={index.numel()})")
    return index
