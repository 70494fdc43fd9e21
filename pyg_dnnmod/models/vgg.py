"""CIFAR-style VGG networks with batch normalisation and the layer-pruned
variants of Lu et al. (ECCV 2022, appendix B).

The layout follows the paper's code (``model/VGG_cifar.py`` and
``model/diy_cvgg.py`` of ``yaolu-zjut/Dynamic-Graphs-Construction``): a flat
:obj:`features` :class:`~torch.nn.Sequential` of Conv2d(3x3, padding 1) -
BatchNorm2d - ReLU triples with a 2x2 max-pooling after every block, then a
:obj:`classifier` of Dropout, FC-512, ReLU, Dropout, FC-512, ReLU,
FC-classes. With the paper's Dropout at :obj:`classifier[0]` and
:obj:`classifier[3]` the :obj:`state_dict` keys are the paper's.

Every convolution but the first of a block maps :math:`C \to C` channels, so
deleting such a Conv-BN-ReLU triple from :obj:`features` gives exactly the
structure of the factory-built variant with one convolution fewer in that
block; :attr:`VGG.cfg` is read from :obj:`features` and stays right after
such surgery.
"""
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch  # noqa: F401 - the doctests use it
from torch import Tensor, nn

from pyg_dnnmod.models._utils import (
    check_convs_per_block,
    check_dropout,
    check_positive_int,
    check_width,
    dropout_mlp,
    flatten_features,
    named_constructor,
    scale_channels,
)
from pyg_dnnmod.models.normalize import Normalize, Stats

#: Output channels of the five VGG blocks (before the width multiplier).
VGG_CHANNELS: tuple[int, ...] = (64, 128, 256, 512, 512)

#: Convolutions per block of the VGGs and of the paper's pruned variants
#: (appendix B): layers are removed from the back, every block keeps one.
VGG_CONVS_PER_BLOCK: dict[str, tuple[int, ...]] = {
    'vgg11': (1, 1, 2, 2, 2),
    'vgg13': (2, 2, 2, 2, 2),
    'vgg16': (2, 2, 3, 3, 3),
    'vgg19': (2, 2, 4, 4, 4),
    'vgg19_1': (2, 2, 4, 4, 3),
    'vgg19_2': (2, 2, 4, 4, 2),
    'vgg19_3': (2, 2, 4, 4, 1),
    'vgg19_4': (2, 2, 4, 3, 1),
    'vgg19_5': (2, 2, 4, 2, 1),
    'vgg19_6': (2, 2, 4, 1, 1),
    'vgg11_1': (1, 1, 2, 2, 1),
    'vgg11_2': (1, 1, 2, 1, 1),
    'vgg11_3': (1, 1, 1, 1, 1),
}


def make_vgg_features(
    cfg: Sequence[Sequence[int]],
    in_channels: int = 3,
    batch_norm: bool = True,
    ceil_mode: bool = False,
) -> nn.Sequential:
    r"""Builds the flat :obj:`features` stack of a VGG from its per-block
    output channels.

    Every entry of a block becomes Conv2d(3x3, padding 1) - BatchNorm2d -
    ReLU (Conv2d - ReLU without :obj:`batch_norm`); every block ends with a
    2x2 max-pooling. No operation is in-place, so a forward hook that keeps
    a module's output is never overwritten by a later ReLU.

    Args:
        cfg ([[int]]): Output channels of every convolution, one list per
            block.
        in_channels (int, optional): Input channels. (default: :obj:`3`)
        batch_norm (bool, optional): Whether to put a BatchNorm2d after every
            convolution. (default: :obj:`True`)
        ceil_mode (bool, optional): Whether the max-poolings round odd sizes
            up (e.g. :math:`7 \to 4`), for inputs not divisible by
            :math:`2^{\text{blocks}}`. (default: :obj:`False`)

    Returns:
        torch.nn.Sequential: The feature stack.

    Example:
        >>> f = make_vgg_features([[8], [16, 16]])
        >>> [type(m).__name__ for m in f][:4]
        ['Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d']
        >>> f(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 16, 8, 8])
    """
    check_positive_int(in_channels, 'in_channels')
    if len(cfg) == 0:
        raise ValueError(f"'cfg' must have at least one block (got {cfg!r})")
    layers: list[nn.Module] = []
    for i, block in enumerate(cfg):
        if len(block) == 0:
            raise ValueError(f"'cfg' block {i} must have at least one "
                             f"convolution (got {cfg!r})")
        for c in block:
            check_positive_int(c, f'cfg[{i}]')
            layers.append(nn.Conv2d(in_channels, c, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.ReLU())
            in_channels = c
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2,
                                   ceil_mode=ceil_mode))
    return nn.Sequential(*layers)


class VGG(nn.Module):
    r"""A CIFAR-style VGG with batch normalisation, built from the number of
    convolutions per block, as used by Lu et al. (ECCV 2022,
    `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_).

    For a :math:`32 \times 32` input the five max-poolings leave a
    :math:`1 \times 1 \times 512` map, so the classifier reads 512 features.
    Convolutions are initialised as in the paper's code,
    :math:`w \sim \mathcal{N}(0, 2 / (k^2 C_{out}))` with zero bias.

    Args:
        convs_per_block ([int], optional): Convolutions in every block; see
            :obj:`VGG_CONVS_PER_BLOCK` for the paper's models.
            (default: :obj:`(2, 2, 4, 4, 4)`, VGG19)
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        channels ([int], optional): Output channels of every block, one per
            entry of :obj:`convs_per_block`. (default: :obj:`VGG_CHANNELS`)
        width (float, optional): Multiplier of every channel count and of
            the hidden FC size. (default: :obj:`1.0`)
        in_channels (int, optional): Input channels. (default: :obj:`3`)
        input_size (int, optional): Height and width of the input; when it is
            not divisible by :math:`2^{\text{blocks}}` the max-poolings
            round up (e.g. :math:`28 \to 14 \to 7 \to 4 \to 2 \to 1`
            for Fashion-MNIST). (default: :obj:`32`)
        batch_norm (bool, optional): Whether to use BatchNorm2d after every
            convolution. (default: :obj:`True`)
        dropout (float, optional): Dropout probability before both hidden FC
            layers (the paper's :obj:`nn.Dropout()`). (default: :obj:`0.5`)
        hidden_channels (int, optional): Size of both hidden FC layers.
            (default: :obj:`512`)
        mean (float or [float], optional): Input normalisation mean, see
            :class:`Normalize`. (default: :obj:`None`)
        std (float or [float], optional): Input normalisation std.
            (default: :obj:`None`)

    Example:
        >>> model = VGG((1, 1, 2, 2, 1))  # VGG11_1
        >>> model.cfg
        ((64,), (128,), (256, 256), (512, 512), (512,))
        >>> model(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """
    def __init__(
        self,
        convs_per_block: Sequence[int] = (2, 2, 4, 4, 4),
        num_classes: int = 10,
        channels: Sequence[int] = VGG_CHANNELS,
        width: float = 1.0,
        in_channels: int = 3,
        input_size: int = 32,
        batch_norm: bool = True,
        dropout: float = 0.5,
        hidden_channels: int = 512,
        mean: Stats = None,
        std: Stats = None,
    ) -> None:
        super().__init__()
        check_positive_int(num_classes, 'num_classes')
        check_positive_int(input_size, 'input_size')
        check_positive_int(hidden_channels, 'hidden_channels')
        width = check_width(width)
        dropout = check_dropout(dropout)
        convs_per_block = check_convs_per_block(convs_per_block, channels)
        ceil_mode = input_size % 2**len(convs_per_block) != 0
        spatial = input_size
        for _ in convs_per_block:
            spatial = -(-spatial // 2) if ceil_mode else spatial // 2

        cfg = [[scale_channels(c, width)] * n
               for n, c in zip(convs_per_block, channels)]
        hidden = scale_channels(hidden_channels, width)
        self.input_size = input_size

        self.normalize = Normalize(mean, std)
        self.features = make_vgg_features(cfg, in_channels, batch_norm,
                                          ceil_mode)
        self.classifier = dropout_mlp(cfg[-1][-1] * spatial * spatial,
                                      hidden, num_classes, dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Re-initialises all weights (the paper's scheme for convolutions,
        PyTorch defaults otherwise)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.Linear)):
                m.reset_parameters()

    @property
    def cfg(self) -> tuple[tuple[int, ...], ...]:
        r"""Output channels of every convolution, one tuple per block, read
        from :obj:`features` (so it reflects layer surgery)."""
        blocks: list[tuple[int, ...]] = []
        current: list[int] = []
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                current.append(m.out_channels)
            elif isinstance(m, nn.MaxPool2d):
                blocks.append(tuple(current))
                current = []
        if current:
            blocks.append(tuple(current))
        return tuple(blocks)

    @property
    def convs_per_block(self) -> tuple[int, ...]:
        r"""The number of convolutions in every block."""
        return tuple(len(block) for block in self.cfg)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(self.normalize(x))
        x = flatten_features(x, self.classifier[1], 'VGG', self.input_size)
        return self.classifier(x)


def _vgg(name: str, **kwargs: Any) -> VGG:
    return VGG(VGG_CONVS_PER_BLOCK[name], **kwargs)


def _named_vgg(name: str, example: str, result: str) -> Callable[..., VGG]:
    return named_constructor(
        __name__, name, partial(_vgg, name), VGG,
        f'CIFAR {name.upper()} with batch normalisation (convolutions per '
        f'block :obj:`{VGG_CONVS_PER_BLOCK[name]}`); keyword arguments go to '
        f':class:`VGG`.', example, result)


vgg11 = _named_vgg('vgg11', 'sum(p.numel() for p in vgg11().parameters())',
                   '9756426')
vgg13 = _named_vgg('vgg13', 'vgg13().convs_per_block', '(2, 2, 2, 2, 2)')
vgg16 = _named_vgg('vgg16', 'vgg16().convs_per_block', '(2, 2, 3, 3, 3)')
vgg19 = _named_vgg('vgg19', 'vgg19(num_classes=100).classifier[-1]',
                   'Linear(in_features=512, out_features=100, bias=True)')


def vgg_variant(name: str, num_classes: int = 10, **kwargs: Any) -> VGG:
    r"""Builds one of the VGGs of :obj:`VGG_CONVS_PER_BLOCK` by name,
    including the paper's pruned variants :obj:`'vgg19_1'` ..
    :obj:`'vgg19_6'` and :obj:`'vgg11_1'` .. :obj:`'vgg11_3'`.

    Args:
        name (str): The model name (case-insensitive).
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        **kwargs (optional): Further arguments of :class:`VGG`.

    Example:
        >>> vgg_variant('VGG19_4').convs_per_block
        (2, 2, 4, 3, 1)
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in VGG_CONVS_PER_BLOCK:
        valid = ', '.join(f"'{n}'" for n in VGG_CONVS_PER_BLOCK)
        raise ValueError(f"Unknown VGG '{name}' (valid names: {valid})")
    return _vgg(key, num_classes=num_classes, **kwargs)
