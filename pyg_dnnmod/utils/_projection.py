r"""Seeded Gaussian random projections of wide features (Johnson-Lindenstrauss)
for approximate k-NN graphs of very wide layers."""
import math

import torch
from torch import Tensor

# Rows of the projection matrix generated at once: bounds its memory to
# _CHUNK x out_channels floats whatever the input width.
_CHUNK = 4096


def random_projection(x: Tensor, out_channels: int, seed: int = 0) -> Tensor:
    r"""Projects the rows of :obj:`x` (:math:`[N, D]`, or any
    :math:`[N, \ldots]`, flattened) to :obj:`out_channels` dimensions by a
    seeded Gaussian matrix,

    .. math::
        \mathbf{X}' = \mathbf{X} \mathbf{R} / \sqrt{d},
        \qquad R_{ij} \sim \mathcal{N}(0, 1),

    which preserves norms, distances and angles up to a relative error of
    order :math:`1 / \sqrt{d}` (Johnson-Lindenstrauss). :math:`\mathbf{R}`
    is generated on the CPU in chunks of rows from :obj:`seed`, so the
    projection is the same on every device and never holds more than
    :math:`4096 \times d` of it at once. Inputs of :obj:`out_channels`
    columns or fewer are returned unchanged.

    Args:
        x (torch.Tensor): The features :math:`[N, \ldots]`.
        out_channels (int): The projected width :math:`d`.
        seed (int, optional): Seed of :math:`\mathbf{R}`. (default: :obj:`0`)

    Example:
        >>> x = torch.randn(5, 10_000)
        >>> x_proj = random_projection(x, 512)
        >>> x_proj.shape
        torch.Size([5, 512])
        >>> ratio = x_proj.norm(dim=1) / x.norm(dim=1)
        >>> bool(((ratio - 1).abs() < 0.2).all())
        True
    """
    if isinstance(out_channels, bool) or not isinstance(out_channels, int) \
            or out_channels < 1:
        raise ValueError(f"'out_channels' must be a positive int "
                         f"(got {out_channels!r})")
    x = x.reshape(x.size(0), -1)
    dim = x.size(1)
    if dim <= out_channels:
        return x
    gen = torch.Generator().manual_seed(seed)
    out = x.new_zeros(x.size(0), out_channels)
    for start in range(0, dim, _CHUNK):
        stop = min(start + _CHUNK, dim)
        r = torch.randn(stop - start, out_channels, generator=gen,
                        dtype=x.dtype)
        out.addmm_(x[:, start:stop], r.to(x.device))
    return out.div_(math.sqrt(out_channels))
