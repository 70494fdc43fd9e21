r"""Gaussian class clusters: synthetic data with a known answer.

* :func:`make_gaussian_clusters`: features whose class structure is known in
  advance, e.g. a perfectly separated k-NN graph whose modularity has a
  closed form;
* :func:`make_gaussian_images`: the same clusters as smooth images of a
  chosen difficulty (:obj:`separation`), the data of
  ``load_dataset('synthetic')``: hard enough that a modularity curve and a
  training run have something to show.
"""
import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

#: The default :obj:`separation` of :func:`make_gaussian_images`: the
#: nearest class mean is right for 90 % of the samples of 10 classes.
IMAGE_SEPARATION = 3.0
#: The default side of the coarse grid of :func:`make_gaussian_images`.
IMAGE_GRID = 4
#: The mean and standard deviation of every channel of
#: :func:`make_gaussian_images` (pixels :math:`0.5 + 0.125 v`, :math:`v` of
#: unit variance on average).
IMAGE_MEAN, IMAGE_STD = 0.5, 0.125


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


def make_gaussian_images(
    num_samples: int,
    num_classes: int,
    shape: Sequence[int],
    separation: float = IMAGE_SEPARATION,
    grid: int = IMAGE_GRID,
    seed: int = 0,
    template_seed: int = 0,
) -> Tuple[Tensor, Tensor]:
    r"""Draws smooth images of Gaussian class clusters whose difficulty is
    set by :obj:`separation`.

    The clusters of :func:`make_gaussian_clusters` are drawn in a latent
    space of :math:`L = C_{\mathrm{ch}} \cdot g_h \cdot g_w` dimensions (a
    coarse grid of :math:`g_h \times g_w = \min(g, H) \times \min(g, W)`
    cells per channel), turned by a fixed random rotation
    :math:`\mathbf{R}` (seeded by :obj:`template_seed`, the same for every
    :obj:`seed`, so that the splits share their classes) and upsampled
    bilinearly to :math:`H \times W`:

    .. math::
        \mathbf{z}_i = s \cdot \mathbf{e}_{y_i} + \boldsymbol{\epsilon}_i,
        \qquad \mathbf{v}_i = \mathrm{up}(\mathbf{R} \mathbf{z}_i) / \sigma,
        \qquad \mathbf{x}_i = \mathrm{clip}_{[0, 1]}(0.5 + 0.125 \,
        \mathbf{v}_i),

    with :math:`\boldsymbol{\epsilon}_i \sim \mathcal{N}(\mathbf{0},
    \mathbf{I}_L)`, :math:`y_i = i \bmod C` and :math:`\sigma` the root mean
    square of the upsampled noise, so that a pixel's noise has unit variance
    on average (the clip, at 4 standard deviations, touches about 0.1 % of
    the pixels).
    Normalised with :data:`IMAGE_MEAN` and :data:`IMAGE_STD`, the images are
    :math:`\mathbf{v}_i`.

    The class means are smooth random patterns at distance
    :math:`s \sqrt{2}` from each other, and the noise is a smooth random
    pattern of the same kind, so the difficulty does not depend on the
    image size: the best classifier (the nearest class mean in the latent
    space) is right with probability :math:`\mathbb{E}_n[\Phi(n + s)^{C -
    1}]`, for :math:`C = 10`: 67 % at :math:`s = 2`, 90 % at :math:`s = 3`
    (the default), 98 % at :math:`s = 4`, 99.8 % at :math:`s = 5`. Two
    samples of one class are then only a little closer than two of
    different classes (squared distances :math:`2L` against :math:`2L +
    2s^2`, spread :math:`\sqrt{8L}`), so the k-NN graph of the pixels is
    far from the class partition and a network has to learn to separate
    the classes.

    Args:
        num_samples (int): The number of images :math:`N`.
        num_classes (int): The number of classes :math:`C`.
        shape (tuple): The image shape :obj:`(channels, height, width)`.
        separation (float, optional): The distance :math:`s` of every class
            mean from the origin of the latent space, in units of the noise
            standard deviation. (default: :obj:`3.0`)
        grid (int, optional): The side :math:`g` of the coarse grid; the
            latent dimension :math:`L` must be at least :math:`C`.
            (default: :obj:`4`)
        seed (int, optional): The seed of the noise. (default: :obj:`0`)
        template_seed (int, optional): The seed of the rotation, i.e. of
            the class patterns. (default: :obj:`0`)

    Returns:
        (torch.Tensor, torch.Tensor): Images :obj:`[N, *shape]` in
        :math:`[0, 1]` (:obj:`torch.float32`) and labels :obj:`[N]`
        (:obj:`torch.long`).

    Example:
        >>> x, y = make_gaussian_images(20, 4, (1, 8, 8), seed=1)
        >>> x.shape, y[:6].tolist()
        (torch.Size([20, 1, 8, 8]), [0, 1, 2, 3, 0, 1])
        >>> bool(x.min() >= 0 and x.max() <= 1)
        True
        >>> noise, _ = make_gaussian_images(500, 4, (1, 8, 8), separation=0.0)
        >>> v = (noise - IMAGE_MEAN) / IMAGE_STD  # what a model sees
        >>> round(float(v.pow(2).mean()), 1)
        1.0
        >>> make_gaussian_images(5, 10, (1, 2, 2))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 'shape' (1, 2, 2) with grid=4 gives a latent space of 4 ...
    """
    shape = tuple(shape)
    if len(shape) != 3 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0
            for s in shape):
        raise ValueError(f"'shape' must be three positive integers "
                         f"(channels, height, width) (got {shape!r})")
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
        raise ValueError(f"'grid' must be an integer >= 1 (got {grid!r})")
    channels, height, width = shape
    cells = (min(grid, height), min(grid, width))
    dim = channels * cells[0] * cells[1]
    if isinstance(num_classes, int) and dim < num_classes:
        raise ValueError(f"'shape' {shape} with grid={grid} gives a latent "
                         f"space of {dim} dimensions, fewer than the "
                         f"{num_classes} classes; use larger images or "
                         f"more channels")
    z, y = make_gaussian_clusters(num_samples, num_classes, dim, separation,
                                  seed)
    gen = torch.Generator().manual_seed(int(template_seed))
    rotation, _ = torch.linalg.qr(torch.randn(dim, dim, generator=gen,
                                              dtype=torch.float64))

    def upsample(latent: Tensor) -> Tensor:
        latent = latent.reshape(-1, channels, *cells)
        if cells == (height, width):
            return latent
        return F.interpolate(latent, size=(height, width), mode='bilinear',
                             align_corners=False)

    # The noise's mean pixel variance: that of the upsampled basis vectors.
    basis = upsample(torch.eye(dim, dtype=torch.float64))
    sigma = math.sqrt(float(basis.pow(2).sum()) / (channels * height * width))
    v = upsample(z.double() @ rotation.t()) / sigma
    x = (IMAGE_MEAN + IMAGE_STD * v).clamp(0.0, 1.0).float()
    return x, y
