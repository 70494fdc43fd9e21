r"""A toy problem for examples and quick checks: a two-convolution network
over random :math:`1 \times 8 \times 8` images with cyclic labels."""
from typing import Tuple

import torch
from torch import Tensor, nn


def toy_problem(num_samples: int = 40, num_classes: int = 2,
                seed: int = 0) -> Tuple[nn.Module, Tensor, Tensor]:
    r"""Seeds torch's global generator with :obj:`seed`, then builds
    :obj:`nn.Sequential(Conv2d(1, 4, 3), ReLU(), Conv2d(4, 4, 3))` and
    draws :obj:`num_samples` standard normal images :math:`[N, 1, 8, 8]`
    with labels :math:`i \bmod` :obj:`num_classes`, in that order.

    Returns:
        (torch.nn.Module, torch.Tensor, torch.Tensor): The model, the
        images and their labels.

    Example:
        >>> model, x, y = toy_problem(6, num_classes=3)
        >>> x.shape, y.tolist()
        (torch.Size([6, 1, 8, 8]), [0, 1, 2, 0, 1, 2])
    """
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    x = torch.randn(num_samples, 1, 8, 8)
    return model, x, torch.arange(num_samples) % num_classes
