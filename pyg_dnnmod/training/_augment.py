r"""Batch-level data augmentation for tensor data.

The paper trains its CIFAR models with a random 32x32 crop of the image padded
by 4 pixels and a random horizontal flip. When the training data is an
:obj:`(x, y)` tensor pair there is no per-sample transform, so the same
augmentation is applied to whole batches on the device.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def random_crop_flip(x: Tensor, padding: int = 4, flip: bool = True) -> Tensor:
    r"""Randomly crops every image of a batch from its zero-padded version
    and flips it horizontally with probability 1/2.

    Equivalent to applying :class:`torchvision.transforms.RandomCrop` (with
    :obj:`padding`) and :class:`~torchvision.transforms.RandomHorizontalFlip`
    to every sample. Random numbers come from the global generator of
    :obj:`x`'s device, which :func:`~pyg_dnnmod.training.train` seeds at every
    epoch.

    Args:
        x (torch.Tensor): Images :obj:`[B, C, H, W]`.
        padding (int, optional): The zero padding on every side, i.e. the
            largest shift. (default: :obj:`4`)
        flip (bool, optional): Also flip horizontally at random.
            (default: :obj:`True`)

    Returns:
        torch.Tensor: The augmented images, same shape as :obj:`x`.

    Example:
        >>> x = torch.arange(16.).view(1, 1, 4, 4)
        >>> bool((random_crop_flip(x, padding=0, flip=False) == x).all())
        True
        >>> random_crop_flip(x, padding=2).shape
        torch.Size([1, 1, 4, 4])
    """
    if x.dim() != 4:
        raise ValueError(f"'x' must be a batch of images [B, C, H, W] "
                         f"(got {x.dim()} dimensions)")
    if padding < 0:
        raise ValueError(f"'padding' must be >= 0 (got {padding})")
    batch_size, _, height, width = x.shape
    if padding > 0:
        padded = F.pad(x, (padding, padding, padding, padding))
        shift = torch.randint(0, 2 * padding + 1, (2, batch_size),
                              device=x.device)
        rows = shift[0].view(-1, 1) + torch.arange(height, device=x.device)
        cols = shift[1].view(-1, 1) + torch.arange(width, device=x.device)
        batch = torch.arange(batch_size, device=x.device).view(-1, 1, 1)
        # Advanced indexing moves the indexed dims first: [B, H, W, C].
        x = padded.permute(0, 2, 3, 1)[batch, rows.unsqueeze(2),
                                       cols.unsqueeze(1)]
        x = x.permute(0, 3, 1, 2).contiguous()
    if flip:
        mask = torch.rand(batch_size, device=x.device) < 0.5
        x = torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)
    return x
