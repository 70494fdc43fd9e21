r"""The project's default model: a small CNN for the "translated digits"
(scikit-learn's 8x8 handwritten digits placed at random offsets on a
:math:`16 \times 16` canvas, see DESIGN section 5).

It trains in seconds on a CPU to well over 90 % test accuracy, and it has
enough capacity for the paper's phenomenon: the k-NN modularity of its conv
outputs starts near the raw-pixel value of about 0.2 and rises with depth to
about 0.9 at the last convolution once trained, while a randomly initialised
copy stays near 0.2. The global average pooling before the linear head makes
the last convolution's features translation-invariant enough for that.
"""
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from pyg_dnnmod.models._utils import (
    check_model_args,
    check_positive_int,
    scale_channels,
)
from pyg_dnnmod.models.normalize import Normalize, Stats


class DigitsCNN(nn.Module):
    r"""A four-layer CNN for :math:`1 \times 16 \times 16` digit images.

    :obj:`features` holds two blocks of two Conv2d(3x3, padding 1) -
    BatchNorm2d - ReLU layers, each block followed by a 2x2 max-pooling
    (:math:`16 \to 8 \to 4`); then :obj:`avgpool` (global average pooling)
    and a linear :obj:`fc` head. With the default 32-32-64-64 channels it
    has 66,026 parameters for 10 classes.

    Args:
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        width (float, optional): Multiplier of every channel count.
            (default: :obj:`1.0`)
        in_channels (int, optional): Input channels. (default: :obj:`1`)
        channels ([int], optional): Output channels of the four
            convolutions. (default: :obj:`(32, 32, 64, 64)`)
        mean (float or [float], optional): Input normalisation mean, see
            :class:`Normalize`. (default: :obj:`None`)
        std (float or [float], optional): Input normalisation std.
            (default: :obj:`None`)

    Example:
        >>> model = DigitsCNN()
        >>> sum(p.numel() for p in model.parameters())
        66026
        >>> model(torch.rand(8, 1, 16, 16)).shape
        torch.Size([8, 10])
    """
    def __init__(
        self,
        num_classes: int = 10,
        width: float = 1.0,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 32, 64, 64),
        mean: Stats = None,
        std: Stats = None,
    ) -> None:
        super().__init__()
        width = check_model_args(num_classes, in_channels, width)
        channels = tuple(channels)
        if len(channels) != 4:
            raise ValueError(f"'channels' must have 4 entries "
                             f"(got {channels!r})")
        for c in channels:
            check_positive_int(c, 'channels')
        widths = [scale_channels(c, width) for c in channels]

        self.normalize = Normalize(mean, std)
        layers: list[nn.Module] = []
        cin = in_channels
        for i, c in enumerate(widths):
            layers += [
                nn.Conv2d(cin, c, kernel_size=3, padding=1),
                nn.BatchNorm2d(c),
                nn.ReLU(),
            ]
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
            cin = c
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.normalize(x)
        x = self.avgpool(self.features(x))
        return self.fc(torch.flatten(x, 1))


def digits_cnn(num_classes: int = 10, **kwargs: Any) -> DigitsCNN:
    r"""The default :class:`DigitsCNN`; keyword arguments go to it.

    Example:
        >>> digits_cnn(width=0.5).fc
        Linear(in_features=32, out_features=10, bias=True)
    """
    return DigitsCNN(num_classes=num_classes, **kwargs)
