r"""AlexNet adapted to :math:`32 \times 32` inputs (CIFAR).

The usual CIFAR adaptation of Krizhevsky et al. (2012): five convolutions
with the original channel counts 64-192-384-256-256, three 2x2 max-poolings
and three fully connected layers. The shapes for a :math:`32 \times 32`
input:

=======================================  =====================
layer                                    output
=======================================  =====================
conv 3x3, 64, stride 2, pad 1 + ReLU      64 x 16 x 16
max-pool 2x2                              64 x 8 x 8
conv 3x3, 192, pad 1 + ReLU              192 x 8 x 8
max-pool 2x2                             192 x 4 x 4
conv 3x3, 384, pad 1 + ReLU              384 x 4 x 4
conv 3x3, 256, pad 1 + ReLU              256 x 4 x 4
conv 3x3, 256, pad 1 + ReLU              256 x 4 x 4
max-pool 2x2                             256 x 2 x 2
dropout, FC 1024 -> 4096 + ReLU          4096
dropout, FC 4096 -> 4096 + ReLU          4096
FC 4096 -> classes                       classes
=======================================  =====================
"""
from typing import Any

import torch  # noqa: F401 - the doctests use it
from torch import Tensor, nn

from pyg_dnnmod.models._utils import (
    check_dropout,
    check_model_args,
    check_positive_int,
    dropout_mlp,
    flatten_features,
    scale_channels,
)
from pyg_dnnmod.models.normalize import Normalize, Stats


class AlexNet(nn.Module):
    r"""AlexNet (Krizhevsky et al., 2012) for :math:`32 \times 32` inputs;
    see the module docstring for every layer's shape. About 23.3 M
    parameters for 10 classes.

    Args:
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        width (float, optional): Multiplier of every channel count and of
            the hidden FC size. (default: :obj:`1.0`)
        in_channels (int, optional): Input channels. (default: :obj:`3`)
        dropout (float, optional): Dropout probability before both hidden FC
            layers. (default: :obj:`0.5`)
        hidden_channels (int, optional): Size of both hidden FC layers.
            (default: :obj:`4096`)
        mean (float or [float], optional): Input normalisation mean, see
            :class:`Normalize`. (default: :obj:`None`)
        std (float or [float], optional): Input normalisation std.
            (default: :obj:`None`)

    Example:
        >>> model = AlexNet(width=0.25)
        >>> model(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
        >>> sum(isinstance(m, nn.Conv2d) for m in model.modules())
        5
    """
    def __init__(
        self,
        num_classes: int = 10,
        width: float = 1.0,
        in_channels: int = 3,
        dropout: float = 0.5,
        hidden_channels: int = 4096,
        mean: Stats = None,
        std: Stats = None,
    ) -> None:
        super().__init__()
        width = check_model_args(num_classes, in_channels, width)
        check_positive_int(hidden_channels, 'hidden_channels')
        dropout = check_dropout(dropout)
        c1, c2, c3, c4, c5 = (scale_channels(c, width)
                              for c in (64, 192, 384, 256, 256))
        hidden = scale_channels(hidden_channels, width)

        self.normalize = Normalize(mean, std)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = dropout_mlp(c5 * 2 * 2, hidden, num_classes,
                                      dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(self.normalize(x))
        x = flatten_features(x, self.classifier[1], 'AlexNet', 32)
        return self.classifier(x)


def alexnet(num_classes: int = 10, **kwargs: Any) -> AlexNet:
    r"""AlexNet for :math:`32 \times 32` inputs; keyword arguments go to
    :class:`AlexNet`.

    Example:
        >>> sum(p.numel() for p in alexnet().parameters())
        23272266
    """
    return AlexNet(num_classes=num_classes, **kwargs)
