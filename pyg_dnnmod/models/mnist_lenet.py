r"""The MNIST LeNet-5 of AdverTorch, whose two trained state dicts (clean and
adversarially trained) ship with the package ``advertorch``.

The class has the state-dict keys of :class:`advertorch.test_utils.LeNet5`
(:obj:`conv1`, :obj:`conv2`, :obj:`linear1`, :obj:`linear2`), so those
files load into it, but none of its operations is in-place (a forward hook
that keeps a module's output is never overwritten) and it takes the same
pixel-space inputs in :math:`[0, 1]` as every model here (AdverTorch trains
on unnormalised MNIST, so its normalisation is the identity by default).
"""
from typing import Any

import torch
from torch import Tensor, nn

from pyg_dnnmod.models._utils import check_model_args, scale_channels
from pyg_dnnmod.models.normalize import Normalize, Stats


class MnistLeNet5(nn.Module):
    r"""AdverTorch's MNIST LeNet-5: two 3x3 convolutions (32 and 64
    channels, padding 1) each followed by ReLU and a 2x2 max-pooling, then
    Linear(3136, 200) - ReLU - Linear(200, classes),

    .. math::
        320 + 18{,}496 + 627{,}400 + 2{,}010 = 648{,}226

    parameters for 10 classes and :math:`28 \times 28` inputs.

    Args:
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        width (float, optional): Multiplier of the channel and hidden sizes.
            (default: :obj:`1.0`)
        in_channels (int, optional): Input channels. (default: :obj:`1`)
        input_size (int, optional): Height and width of the input, divisible
            by 4. (default: :obj:`28`)
        mean (float or [float], optional): Input normalisation mean, see
            :class:`~pyg_dnnmod.models.Normalize`. (default: :obj:`None`)
        std (float or [float], optional): Input normalisation std.
            (default: :obj:`None`)

    Example:
        >>> model = MnistLeNet5()
        >>> sum(p.numel() for p in model.parameters())
        648226
        >>> model(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """
    def __init__(self, num_classes: int = 10, width: float = 1.0,
                 in_channels: int = 1, input_size: int = 28,
                 mean: Stats = None, std: Stats = None) -> None:
        super().__init__()
        width = check_model_args(num_classes, in_channels, width)
        if isinstance(input_size, bool) or not isinstance(input_size, int) \
                or input_size < 4 or input_size % 4 != 0:
            raise ValueError(f"'input_size' must be a positive multiple of 4 "
                             f"(got {input_size!r})")
        c1, c2 = scale_channels(32, width), scale_channels(64, width)
        hidden = scale_channels(200, width)
        self.input_size = input_size
        self.normalize = Normalize(mean, std)
        self.conv1 = nn.Conv2d(in_channels, c1, kernel_size=3, padding=1)
        self.relu1 = nn.ReLU()
        self.maxpool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.maxpool2 = nn.MaxPool2d(2)
        self.linear1 = nn.Linear(c2 * (input_size // 4) ** 2, hidden)
        self.relu3 = nn.ReLU()
        self.linear2 = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.normalize(x)
        x = self.maxpool1(self.relu1(self.conv1(x)))
        x = self.maxpool2(self.relu2(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.linear2(self.relu3(self.linear1(x)))


def mnist_lenet5(num_classes: int = 10, **kwargs: Any) -> MnistLeNet5:
    r"""AdverTorch's MNIST LeNet-5 (:class:`MnistLeNet5`), by the name
    :obj:`"mnist_lenet5"` of :func:`~pyg_dnnmod.models.get_model`.

    Example:
        >>> mnist_lenet5(num_classes=3).linear2.out_features
        3
    """
    return MnistLeNet5(num_classes=num_classes, **kwargs)
