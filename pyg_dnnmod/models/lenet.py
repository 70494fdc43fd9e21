r"""LeNet-5 for :math:`32 \times 32` RGB images, the network whose weights
Vahedian et al. (2021) read as a graph over training.

With the default width its rolled weight graph has
:math:`3 + 6 + 16 + 120 + 84 + 10 = 239` nodes: one per input channel, conv
channel and neuron.
"""
from typing import Any

import torch  # noqa: F401 - the doctests use it
from torch import Tensor, nn

from pyg_dnnmod.models._utils import (
    check_dropout,
    check_model_args,
    check_positive_int,
    flatten_features,
    scale_channels,
)
from pyg_dnnmod.models.normalize import Normalize, Stats


class LeNet5(nn.Module):
    r"""LeNet-5 (LeCun et al., 1998) with ReLU and max-pooling, as used by
    Vahedian et al. (2021, `"Convolutional Neural Network Dynamics: A Graph
    Perspective" <https://arxiv.org/abs/2111.05410>`_).

    :obj:`features`: Conv2d(3, 6, 5) - ReLU - MaxPool2d(2) - Conv2d(6, 16, 5)
    - ReLU - MaxPool2d(2), leaving :math:`16 \times 5 \times 5 = 400` values
    for a :math:`32 \times 32` input; :obj:`classifier`: Linear(400, 120) -
    ReLU - Dropout - Linear(120, 84) - ReLU - Dropout - Linear(84, classes).
    For 10 classes that is

    .. math::
        456 + 2{,}416 + 48{,}120 + 10{,}164 + 850 = 62{,}006

    parameters.

    Args:
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        width (float, optional): Multiplier of the 6, 16, 120 and 84
            channels. (default: :obj:`1.0`)
        in_channels (int, optional): Input channels. (default: :obj:`3`)
        input_size (int, optional): Height and width of the input, at least
            12. (default: :obj:`32`)
        dropout (float, optional): Dropout probability after both hidden FC
            layers (a no-op at :obj:`0`). (default: :obj:`0.0`)
        mean (float or [float], optional): Input normalisation mean, see
            :class:`Normalize`. (default: :obj:`None`)
        std (float or [float], optional): Input normalisation std.
            (default: :obj:`None`)

    Example:
        >>> model = LeNet5()
        >>> sum(p.numel() for p in model.parameters())
        62006
        >>> model(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """
    def __init__(
        self,
        num_classes: int = 10,
        width: float = 1.0,
        in_channels: int = 3,
        input_size: int = 32,
        dropout: float = 0.0,
        mean: Stats = None,
        std: Stats = None,
    ) -> None:
        super().__init__()
        width = check_model_args(num_classes, in_channels, width)
        check_positive_int(input_size, 'input_size')
        dropout = check_dropout(dropout)
        if input_size < 12:
            raise ValueError(f"'input_size' must be >= 12 (got {input_size})")
        spatial = ((input_size - 4) // 2 - 4) // 2
        c1, c2 = scale_channels(6, width), scale_channels(16, width)
        h1, h2 = scale_channels(120, width), scale_channels(84, width)
        self.input_size = input_size

        self.normalize = Normalize(mean, std)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(c2 * spatial * spatial, h1),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(h1, h2),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(h2, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(self.normalize(x))
        x = flatten_features(x, self.classifier[0], 'LeNet5', self.input_size)
        return self.classifier(x)


def lenet5(num_classes: int = 10, **kwargs: Any) -> LeNet5:
    r"""LeNet-5 for :math:`32 \times 32` RGB inputs; keyword arguments go to
    :class:`LeNet5`.

    Example:
        >>> model = lenet5(in_channels=1, input_size=28)  # MNIST-sized
        >>> model(torch.rand(1, 1, 28, 28)).shape
        torch.Size([1, 10])
    """
    return LeNet5(num_classes=num_classes, **kwargs)
