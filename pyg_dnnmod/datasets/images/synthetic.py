r"""Gaussian class clusters: synthetic features with a known answer.

Used where a test or an example needs features whose class structure is known
in advance, e.g. a perfectly separated k-NN graph whose modularity has a
closed form.
"""
from typing import Tuple

import torch
from torch import Tensor


def make_gaussian_clusters(
    num_samples: int,
    num_classes: int,
    dim: int,
    separation: float = 10.0,
    seed: int = 0,
) -> Tuple[Tensor, Tensor]:
    r"""Draws features from one isotropic Gaussian per class.

    Sample :math:`i` has label :math:`y_i = i \bmod C` and features

    .. math::
        \mathbf{x}_i = s \cdot \mathbf{e}_{y_i} + \boldsymbol{\epsilon}_i,
        \qquad \boldsymbol{\epsilon}_i \sim \mathcal{N}(\mathbf{0},
        \mathbf{I}_D),

    where :math:`\mathbf{e}_c` is the :math:`c`-th standard basis vector of
    :math:`\mathbb{R}^D` and :math:`s` the :obj:`separation`. The class
    centres are pairwise orthogonal, so for :math:`s \gg \sqrt{D}` every
    sample's cosine (and Euclidean) nearest neighbours lie in its own class,
    and the class partition of a balanced k-NN graph has modularity
    :math:`1 - 1/C`. With :obj:`separation=0` the labels carry no
    information. These are features of shape :obj:`[N, D]`, not images.

    Args:
        num_samples (int): The number of samples :math:`N`.
        num_classes (int): The number of classes :math:`C`.
        dim (int): The feature dimension :math:`D`, at least :math:`C`.
        separation (float, optional): The distance :math:`s` of every class
            centre from the origin, in units of the noise standard deviation.
            (default: :obj:`10.0`)
        seed (int, optional): The random seed. (default: :obj:`0`)

    Returns:
        (torch.Tensor, torch.Tensor): Features :obj:`[N, D]`
        (:obj:`torch.float32`) and labels :obj:`[N]` (:obj:`torch.long`).

    Example:
        >>> x, y = make_gaussian_clusters(6, 3, dim=4, separation=100.0)
        >>> x.shape, y.tolist()
        (torch.Size([6, 4]), [0, 1, 2, 0, 1, 2])
        >>> x.argmax(dim=1).tolist()
        [0, 1, 2, 0, 1, 2]
    """
    for name, value, low in (('num_samples', num_samples, 1),
                             ('num_classes', num_classes, 1),
                             ('dim', dim, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"'{name}' must be an integer (got {value!r})")
        if value < low:
            raise ValueError(f"'{name}' must be >= {low} (got {value})")
    if dim < num_classes:
        raise ValueError(f"'dim' must be >= 'num_classes' so that the class "
                         f"centres are orthogonal (got dim={dim}, "
                         f"num_classes={num_classes})")
    separation = float(separation)
    if not separation >= 0.0 or separation == float('inf'):
        raise ValueError(f"'separation' must be a finite number >= 0 "
                         f"(got {separation})")

    gen = torch.Generator().manual_seed(int(seed))
    y = torch.arange(num_samples) % num_classes
    x = torch.randn(num_samples, dim, generator=gen)
    x[torch.arange(num_samples), y] += separation
    return x, y
