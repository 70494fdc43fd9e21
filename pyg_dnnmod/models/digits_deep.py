r"""A deeper, VGG-like variant of the default digits CNN with redundant depth,
for the layer-pruning experiments of Lu et al. (ECCV 2022, section 5.2).

:class:`~pyg_dnnmod.models.DigitsCNN` has four convolutions and no layer to
spare. :class:`DigitsDeepCNN` stacks several same-width
Conv-BatchNorm-ReLU layers per block, more than the
:math:`16 \times 16` translated digits need, so the modularity curve of the
trained network rises in the first layers of a block and then flattens:
the plateau that the paper reads as redundant layers. Every convolution
after the first of a block maps :math:`C \to C` channels at stride 1, so
:func:`~pyg_dnnmod.pruning.remove_layers` can cut it without touching the
rest of the network.

With :obj:`residual=True` every convolution but the stem is a
:class:`ResidualConv` unit, :math:`\mathrm{ReLU}(x + \mathrm{BN}(
\mathrm{conv}(x)))`, so a unit that the trained network hardly uses is close
to the identity and removing it changes little: the setting of the paper's
pruned ResNets (its Table 1). :func:`digits_deep_resnet` is the pruning
experiments' default: few layers, none removable, where the features are
extracted at full and half resolution, and a deep last block that the task
does not need in full.
"""
from collections.abc import Sequence
from typing import Any, Optional

import torch
from torch import Tensor, nn

from pyg_dnnmod.models._utils import (
    check_convs_per_block,
    check_model_args,
    check_positive_int,
    scale_channels,
)
from pyg_dnnmod.models.normalize import Normalize, Stats


class ResidualConv(nn.Module):
    r"""A residual unit of one 3x3 convolution,

    .. math::
        y = \mathrm{ReLU}\left(s(x) + \mathrm{BN}(\mathrm{conv}(x))\right),

    where the shortcut :math:`s` is the identity when the channels stay the
    same and a 1x1 convolution with BatchNorm otherwise (a projection, as in
    the "option B" ResNets of :mod:`pyg_dnnmod.models`).

    The class sets :obj:`is_residual_block = True`, so feature extraction
    reads the unit's output as one layer and
    :func:`~pyg_dnnmod.pruning.removable_layers` lets the identity units be
    removed; :obj:`has_projection` says which are not.

    Args:
        in_channels (int): Input channels.
        channels (int): Output channels.

    Example:
        >>> unit = ResidualConv(8, 8)
        >>> unit.has_projection, unit(torch.rand(2, 8, 4, 4)).shape
        (False, torch.Size([2, 8, 4, 4]))
        >>> ResidualConv(8, 16).has_projection
        True
    """
    is_residual_block: bool = True

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        check_positive_int(in_channels, 'in_channels')
        check_positive_int(channels, 'channels')
        self.conv = nn.Conv2d(in_channels, channels, kernel_size=3,
                              padding=1)
        self.bn = nn.BatchNorm2d(channels)
        self.shortcut: Optional[nn.Sequential] = None
        if in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, kernel_size=1, bias=False),
                nn.BatchNorm2d(channels))

    @property
    def has_projection(self) -> bool:
        r"""Whether the shortcut is a projection (the unit changes the
        channels and cannot be removed)."""
        return self.shortcut is not None

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(identity + self.bn(self.conv(x)))


class DigitsDeepCNN(nn.Module):
    r"""A VGG-like CNN for :math:`1 \times 16 \times 16` digit images with
    several same-width convolutions per block.

    :obj:`features` is one :class:`~torch.nn.Sequential` of blocks; block
    :math:`b` holds :obj:`convs_per_block[b]` Conv2d(3x3, padding 1) -
    BatchNorm2d - ReLU layers of :obj:`channels[b]` output channels, and a
    2x2 max-pooling separates consecutive blocks
    (:math:`16 \to 8 \to 4` for three blocks). A global average pooling
    (:obj:`avgpool`) and a linear :obj:`fc` head follow, as in
    :class:`~pyg_dnnmod.models.DigitsCNN`. With the defaults (channels
    16-32-64, four convolutions per block) it has 170,330 parameters and
    about 6.05 M multiply-accumulates per image (thop); every convolution
    after the first costs the same 0.59 M, since the channels double as the
    resolution halves, so each one removed saves about 10 % of the FLOPs.

    With :obj:`residual=True` every layer but the stem (the first
    convolution of the first block) is a :class:`ResidualConv` unit; those
    that change the channels have a projection shortcut and the others can be
    removed. The layers of the modularity curve are then the stem and the
    units (:func:`~pyg_dnnmod.features.default_layers`, rule
    :obj:`'resnet'`).

    Args:
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        width (float, optional): Multiplier of every channel count.
            (default: :obj:`1.0`)
        in_channels (int, optional): Input channels. (default: :obj:`1`)
        channels ([int], optional): Output channels of every block.
            (default: :obj:`(16, 32, 64)`)
        convs_per_block (int or [int], optional): Convolutions in every
            block, one entry per block or one number for all.
            (default: :obj:`4`)
        mean (float or [float], optional): Input normalisation mean, see
            :class:`Normalize`. (default: :obj:`None`)
        std (float or [float], optional): Input normalisation std.
            (default: :obj:`None`)
        residual (bool, optional): Make every layer but the stem a
            :class:`ResidualConv` unit. (default: :obj:`False`)

    Example:
        >>> model = DigitsDeepCNN()
        >>> model.convs_per_block, sum(p.numel() for p in model.parameters())
        ((4, 4, 4), 170330)
        >>> model(torch.rand(2, 1, 16, 16)).shape
        torch.Size([2, 10])
        >>> model = DigitsDeepCNN(channels=(8, 16), convs_per_block=(1, 2),
        ...                       residual=True)
        >>> [type(m).__name__ for m in model.features[2:]]
        ['ReLU', 'MaxPool2d', 'ResidualConv', 'ResidualConv']
        >>> [m.has_projection for m in model.features[4:]]
        [True, False]
    """
    def __init__(
        self,
        num_classes: int = 10,
        width: float = 1.0,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32, 64),
        convs_per_block: Any = 4,
        mean: Stats = None,
        std: Stats = None,
        residual: bool = False,
    ) -> None:
        super().__init__()
        width = check_model_args(num_classes, in_channels, width)
        if not isinstance(residual, bool):
            raise TypeError(f"'residual' must be a bool (got {residual!r})")
        channels = tuple(channels)
        if len(channels) == 0:
            raise ValueError(f"'channels' must have at least one entry "
                             f"(got {channels!r})")
        for c in channels:
            check_positive_int(c, 'channels')
        if isinstance(convs_per_block, int) and not isinstance(
                convs_per_block, bool):
            convs_per_block = (convs_per_block, ) * len(channels)
        convs_per_block = check_convs_per_block(convs_per_block, channels)

        self.normalize = Normalize(mean, std)
        layers: list[nn.Module] = []
        cin = in_channels
        for b, (n, c) in enumerate(zip(convs_per_block, channels)):
            if b > 0:
                layers.append(nn.MaxPool2d(2))
            c = scale_channels(c, width)
            for i in range(n):
                if residual and (b, i) != (0, 0):
                    layers.append(ResidualConv(cin, c))
                else:
                    layers += [
                        nn.Conv2d(cin, c, kernel_size=3, padding=1),
                        nn.BatchNorm2d(c),
                        nn.ReLU(),
                    ]
                cin = c
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    @property
    def convs_per_block(self) -> tuple[int, ...]:
        r"""The number of convolutions (or :class:`ResidualConv` units) in
        every block, read from :obj:`features` (so it reflects layer
        surgery)."""
        counts = [0]
        for m in self.features:
            if isinstance(m, nn.MaxPool2d):
                counts.append(0)
            elif isinstance(m, (nn.Conv2d, ResidualConv)):
                counts[-1] += 1
        return tuple(counts)

    def forward(self, x: Tensor) -> Tensor:
        x = self.normalize(x)
        x = self.avgpool(self.features(x))
        return self.fc(torch.flatten(x, 1))


def digits_deep_cnn(num_classes: int = 10, **kwargs: Any) -> DigitsDeepCNN:
    r"""The default :class:`DigitsDeepCNN`; keyword arguments go to it.

    Example:
        >>> digits_deep_cnn(convs_per_block=(1, 2, 3)).convs_per_block
        (1, 2, 3)
    """
    return DigitsDeepCNN(num_classes=num_classes, **kwargs)


#: The blocks of :func:`digits_deep_resnet`: the stem alone, two units, and
#: twelve units in the last block.
DIGITS_DEEP_RESNET_BLOCKS = (1, 2, 12)


def digits_deep_resnet(num_classes: int = 10,
                       **kwargs: Any) -> DigitsDeepCNN:
    r"""The residual :class:`DigitsDeepCNN` of the pruning experiments:
    channels 16-32-64, :obj:`convs_per_block=(1, 2, 12)` and
    :obj:`residual=True`; keyword arguments go to :class:`DigitsDeepCNN`.

    The early layers, where the translated digits' classes are not yet
    separated and the modularity stays near that of the pixels although the
    layers are needed, are the stem and channel-changing units, none of them
    removable; the last block has more units than the task needs, so the
    curve of the trained network flattens in its second half. Each of its
    eleven identity units costs the same 0.59 M multiply-accumulates, 7.6 %
    of the 7.77 M of all convolutions and the linear layer.

    Example:
        >>> model = digits_deep_resnet()
        >>> model.convs_per_block, sum(p.numel() for p in model.parameters())
        ((1, 2, 12), 443850)
    """
    kwargs.setdefault('convs_per_block', DIGITS_DEEP_RESNET_BLOCKS)
    kwargs.setdefault('residual', True)
    return DigitsDeepCNN(num_classes=num_classes, **kwargs)
