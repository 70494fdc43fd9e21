"""Residual networks of Lu et al. (ECCV 2022): CIFAR ResNet18..152, the
three-stage CIFAR ResNet20..110 of He et al. (2016), and the layer-pruned
ResNet152 variants of the paper's appendix B in CIFAR and ImageNet form.

One :class:`ResNet` class covers them all. Its stem convolution is always
named :obj:`conv1`, its stages :obj:`layer1`, :obj:`layer2`, ..., and every
residual block class carries :obj:`is_residual_block = True` (feature
extraction uses it to find the blocks) and a :obj:`has_projection` property
(a block with a 1x1-conv shortcut changes the shape and cannot be pruned).
The stride of a :class:`Bottleneck` sits on its 3x3 convolution, as in the
paper's code and torchvision ("ResNet v1.5"). No operation is in-place, so a
forward hook that keeps a module's output is never overwritten.
"""
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pyg_dnnmod.models._utils import (
    check_model_args,
    check_positive_int,
    named_constructor,
    scale_channels,
)
from pyg_dnnmod.models.normalize import Normalize, Stats

#: Bottleneck blocks per stage of ResNet152.
RESNET152_BLOCKS: tuple[int, int, int, int] = (3, 8, 36, 3)

#: Blocks removed from the third stage of ResNet152 by the paper's
#: modularity-guided pruning (appendix B): ResNet152_r keeps
#: :obj:`[3, 8, 36 - r, 3]` blocks.
RESNET152_REMOVED: tuple[int, ...] = (5, 11, 16, 21, 26, 30)


#: The shortcut options of He et al. (2016) where a block changes the shape:
#: :obj:`"A"` zero-pads the subsampled input (no parameters, the original
#: CIFAR ResNets), :obj:`"B"` projects it with a 1x1 convolution and
#: BatchNorm.
SHORTCUTS = ('A', 'B')


class ZeroPadShortcut(nn.Module):
    r"""The parameter-free "option A" shortcut of the CIFAR ResNets of He et
    al. (2016): the input subsampled by :obj:`stride` and zero-padded with
    new channels on both sides,

    .. math::
        \mathrm{shortcut}(\mathbf{x})_{c} = \begin{cases}
        \mathbf{x}_{c - p, ::s, ::s} & p \leq c < p + C_{in} \\
        \mathbf{0} & \text{otherwise,} \end{cases}
        \qquad p = \lfloor (C_{out} - C_{in}) / 2 \rfloor.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels, :math:`\geq` :obj:`in_channels`.
        stride (int, optional): The subsampling step. (default: :obj:`2`)

    Example:
        >>> shortcut = ZeroPadShortcut(1, 3)
        >>> shortcut(torch.ones(1, 1, 4, 4))[0, :, :, 0].tolist()
        [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
    """
    def __init__(self, in_channels: int, out_channels: int,
                 stride: int = 2) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"'out_channels' must be >= 'in_channels' for a "
                             f"zero-padding shortcut (got {out_channels} < "
                             f"{in_channels})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        extra = self.out_channels - self.in_channels
        x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'stride={self.stride}')


def _projection(in_channels: int, out_channels: int,
                stride: int, shortcut: str = 'B') -> nn.Module:
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    if shortcut == 'A':
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride,
                  bias=False),
        nn.BatchNorm2d(out_channels),
    )


class _ResidualBlock(nn.Module):
    r"""What the residual blocks of :class:`ResNet` share: the flag that
    feature extraction reads, the channels and the stride, and whether the
    :obj:`shortcut` (set last by the subclass) is a projection."""
    expansion: int = 1
    is_residual_block: bool = True

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = channels * self.expansion
        self.stride = stride

    @property
    def has_projection(self) -> bool:
        r"""Whether the shortcut is not the identity, a 1x1 convolution or
        a zero-padding (the block changes the shape of its input and cannot
        be removed)."""
        return not isinstance(self.shortcut, nn.Identity)


class BasicBlock(_ResidualBlock):
    r"""The two-convolution residual block of ResNet18/34 and of the CIFAR
    ResNet20..110.

    .. math::
        \mathbf{y} = \mathrm{ReLU}\big(\mathrm{BN}(\mathrm{conv}_{3 \times 3}
        (\mathrm{ReLU}(\mathrm{BN}(\mathrm{conv}_{3 \times 3}(\mathbf{x})))))
        + \mathrm{shortcut}(\mathbf{x})\big)

    The :obj:`shortcut` is a 1x1 convolution with BatchNorm when the stride
    or the channel count changes ("option B" of He et al.), or with
    :obj:`shortcut="A"` the parameter-free :class:`ZeroPadShortcut`; the
    identity otherwise. The property :obj:`has_projection` says which (a
    block with a projection changes the shape of its input and cannot be
    removed).

    Args:
        in_channels (int): Input channels.
        channels (int): Channels of both convolutions.
        stride (int, optional): Stride of the first convolution.
            (default: :obj:`1`)
        shortcut (str, optional): :obj:`"A"` or :obj:`"B"`, see
            :data:`SHORTCUTS`. (default: :obj:`"B"`)

    Example:
        >>> block = BasicBlock(16, 32, stride=2)
        >>> block.has_projection, block(torch.rand(1, 16, 8, 8)).shape
        (True, torch.Size([1, 32, 4, 4]))
    """
    expansion: int = 1

    def __init__(self, in_channels: int, channels: int,
                 stride: int = 1, shortcut: str = 'B') -> None:
        super().__init__(in_channels, channels, stride)
        if shortcut not in SHORTCUTS:
            raise ValueError(f"'shortcut' must be 'A' or 'B' (got "
                             f"{shortcut!r})")
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3,
                               stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = _projection(in_channels, self.out_channels, stride,
                                    shortcut)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Bottleneck(_ResidualBlock):
    r"""The 1x1 - 3x3 - 1x1 residual block of ResNet50/101/152, with
    :obj:`expansion = 4` output channels per bottleneck channel and the
    stride on the 3x3 convolution; its :obj:`shortcut` and
    :obj:`has_projection` are those of :class:`BasicBlock`.

    Args:
        in_channels (int): Input channels.
        channels (int): Bottleneck channels; the block outputs
            :obj:`4 * channels`.
        stride (int, optional): Stride of the 3x3 convolution.
            (default: :obj:`1`)

    Example:
        >>> block = Bottleneck(256, 64)
        >>> block.has_projection, block(torch.rand(1, 256, 4, 4)).shape
        (False, torch.Size([1, 256, 4, 4]))
    """
    expansion: int = 4

    def __init__(self, in_channels: int, channels: int,
                 stride: int = 1) -> None:
        super().__init__(in_channels, channels, stride)
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3,
                               stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, self.out_channels, kernel_size=1,
                               bias=False)
        self.bn3 = nn.BatchNorm2d(self.out_channels)
        self.shortcut = _projection(in_channels, self.out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))


_BLOCKS: dict[str, type[nn.Module]] = {
    'basic': BasicBlock,
    'bottleneck': Bottleneck,
}


class ResNet(nn.Module):
    r"""A residual network in CIFAR or ImageNet form (He et al., 2016), as
    used by Lu et al. (ECCV 2022, `"Understanding the Dynamics of DNNs Using
    Graph Modularity" <https://arxiv.org/abs/2111.12485>`_).

    * :obj:`stem='cifar'`: :obj:`conv1` is a 3x3 convolution with stride 1
      and no max-pooling follows (for :math:`32 \times 32` inputs).
    * :obj:`stem='imagenet'`: :obj:`conv1` is a 7x7 convolution with stride
      2 followed by a 3x3 max-pooling with stride 2 (for
      :math:`224 \times 224` inputs).

    Stage :math:`i` (:obj:`layer{i}`) has :obj:`num_blocks[i - 1]` blocks of
    :obj:`channels[i - 1]` channels; every stage but the first halves the
    resolution in its first block. Global average pooling and a linear
    :obj:`fc` layer follow. (The paper's CIFAR code uses a 1x1 convolution as
    :obj:`fc`, which computes the same function.) Convolutions use Kaiming
    initialisation (fan-out), BatchNorm starts at :math:`\gamma = 1,
    \beta = 0`.

    Args:
        block (str or type): :obj:`'basic'` (:class:`BasicBlock`),
            :obj:`'bottleneck'` (:class:`Bottleneck`) or a block class.
        num_blocks ([int]): Blocks per stage, every entry :math:`\geq 1`.
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        channels ([int], optional): Base channels of every stage, one per
            entry of :obj:`num_blocks`; the stem outputs :obj:`channels[0]`.
            (default: :obj:`(64, 128, 256, 512)`)
        width (float, optional): Multiplier of every channel count.
            (default: :obj:`1.0`)
        in_channels (int, optional): Input channels. (default: :obj:`3`)
        stem (str, optional): :obj:`'cifar'` or :obj:`'imagenet'`.
            (default: :obj:`'cifar'`)
        zero_init_residual (bool, optional): Whether to start the last
            BatchNorm of every block at :math:`\gamma = 0`, so that every
            block starts as the identity. (default: :obj:`False`)
        shortcut (str, optional): The shortcut of a block that changes the
            shape, :obj:`"B"` (1x1 projection) or :obj:`"A"` (zero-padding,
            basic blocks only), see :data:`SHORTCUTS`.
            (default: :obj:`"B"`)
        mean (float or [float], optional): Input normalisation mean, see
            :class:`Normalize`. (default: :obj:`None`)
        std (float or [float], optional): Input normalisation std.
            (default: :obj:`None`)

    Example:
        >>> model = ResNet('basic', [1, 1], channels=(8, 16), num_classes=3)
        >>> model.num_blocks, model(torch.rand(2, 3, 32, 32)).shape
        ((1, 1), torch.Size([2, 3]))
        >>> [m.has_projection for m in model.blocks()]
        [False, True]
    """
    def __init__(
        self,
        block: Union[str, type[nn.Module]],
        num_blocks: Sequence[int],
        num_classes: int = 10,
        channels: Sequence[int] = (64, 128, 256, 512),
        width: float = 1.0,
        in_channels: int = 3,
        stem: str = 'cifar',
        zero_init_residual: bool = False,
        shortcut: str = 'B',
        mean: Stats = None,
        std: Stats = None,
    ) -> None:
        super().__init__()
        if shortcut not in SHORTCUTS:
            raise ValueError(f"'shortcut' must be 'A' or 'B' (got "
                             f"{shortcut!r})")
        if isinstance(block, str):
            if block.lower() not in _BLOCKS:
                raise ValueError(f"'block' must be 'basic' or 'bottleneck' "
                                 f"(got {block!r})")
            block = _BLOCKS[block.lower()]
        if not (isinstance(block, type) and issubclass(block, nn.Module)
                and getattr(block, 'is_residual_block', False)):
            raise TypeError(f"'block' must be 'basic', 'bottleneck' or a "
                            f"residual block class (got {block!r})")
        num_blocks = tuple(num_blocks)
        channels = tuple(channels)
        if len(num_blocks) == 0 or len(num_blocks) != len(channels):
            raise ValueError(f"'num_blocks' and 'channels' must be non-empty "
                             f"and of the same length (got {num_blocks!r} "
                             f"and {channels!r})")
        for n in num_blocks:
            check_positive_int(n, 'num_blocks')
        width = check_model_args(num_classes, in_channels, width)
        if stem not in ('cifar', 'imagenet'):
            raise ValueError(f"'stem' must be 'cifar' or 'imagenet' "
                             f"(got {stem!r})")
        if shortcut == 'A' and block is not BasicBlock:
            raise ValueError("shortcut='A' is for basic blocks only (the "
                             "CIFAR ResNets of He et al.)")
        self.stem = stem
        self.shortcut = shortcut
        widths = [scale_channels(c, width) for c in channels]

        self.normalize = Normalize(mean, std)
        if stem == 'cifar':
            self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3,
                                   stride=1, padding=1, bias=False)
            self.maxpool = None
        else:
            self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=7,
                                   stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(widths[0])

        planes = widths[0]
        for i, (n, c) in enumerate(zip(num_blocks, widths)):
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(block(planes, c, stride, shortcut)
                              if shortcut == 'A' else block(planes, c, stride))
                planes = c * block.expansion
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes, num_classes)
        self.reset_parameters(zero_init_residual)

    def reset_parameters(self, zero_init_residual: bool = False) -> None:
        r"""Re-initialises all weights."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out',
                                        nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                m.reset_parameters()
        if zero_init_residual:
            for m in self.blocks():
                last = m.bn3 if isinstance(m, Bottleneck) else m.bn2
                nn.init.zeros_(last.weight)

    @property
    def stages(self) -> list[nn.Sequential]:
        r"""The stages :obj:`layer1`, :obj:`layer2`, ... in order."""
        out = []
        i = 1
        while hasattr(self, f'layer{i}'):
            out.append(getattr(self, f'layer{i}'))
            i += 1
        return out

    @property
    def num_blocks(self) -> tuple[int, ...]:
        r"""Blocks per stage, read from the stages (so it reflects layer
        surgery)."""
        return tuple(len(stage) for stage in self.stages)

    def blocks(self) -> list[nn.Module]:
        r"""All residual blocks, stage by stage."""
        return [m for stage in self.stages for m in stage]

    def forward(self, x: Tensor) -> Tensor:
        x = self.normalize(x)
        x = F.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for stage in self.stages:
            x = stage(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


#: Block kind and blocks per stage of the ResNets of ImageNet depth.
RESNET_LAYOUTS: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ('basic', (2, 2, 2, 2)),
    34: ('basic', (3, 4, 6, 3)),
    50: ('bottleneck', (3, 4, 6, 3)),
    101: ('bottleneck', (3, 4, 23, 3)),
    152: ('bottleneck', RESNET152_BLOCKS),
}


def _named_resnet(depth: int, example: str,
                  result: str) -> Callable[..., ResNet]:
    block, num_blocks = RESNET_LAYOUTS[depth]
    return named_constructor(
        __name__, f'resnet{depth}', partial(ResNet, block, num_blocks),
        ResNet, f'CIFAR ResNet{depth}, :obj:`{list(num_blocks)}` {block} '
        f"blocks; keyword arguments (e.g. :obj:`stem='imagenet'`) go to "
        f':class:`ResNet`.', example, result)


resnet18 = _named_resnet(18, 'sum(p.numel() for p in resnet18().parameters())',
                         '11173962')
resnet34 = _named_resnet(34, 'resnet34().num_blocks', '(3, 4, 6, 3)')
resnet50 = _named_resnet(50, 'resnet50().fc', 'Linear(in_features=2048, '
                         'out_features=10, bias=True)')
resnet101 = _named_resnet(101, 'resnet101().num_blocks', '(3, 4, 23, 3)')
resnet152 = _named_resnet(152, 'resnet152().num_blocks', '(3, 8, 36, 3)')


def resnet152_pruned(removed: int, num_classes: int = 10,
                     imagenet: bool = False, **kwargs: Any) -> ResNet:
    r"""A ResNet152 with :obj:`removed` bottleneck blocks taken from its
    third stage, i.e. :obj:`[3, 8, 36 - removed, 3]` blocks: the paper's
    variants ResNet152_r for :math:`r \in` :obj:`RESNET152_REMOVED`. (The
    paper's code names them by depth: r = 5, 11, 16, 21, 26, 30 are its
    ResNet152_137, _119, _104, _89, _74, _62.)

    Args:
        removed (int): Blocks to remove, :math:`0 \leq r \leq 35`.
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        imagenet (bool, optional): Whether to build the ImageNet form
            (7x7 stem, max-pooling, :math:`224 \times 224` inputs) instead
            of the CIFAR form. (default: :obj:`False`)
        **kwargs (optional): Further arguments of :class:`ResNet`.

    Example:
        >>> resnet152_pruned(30).num_blocks
        (3, 8, 6, 3)
        >>> resnet152_pruned(5, imagenet=True).stem
        'imagenet'
    """
    if isinstance(removed, bool) or not isinstance(removed, int):
        raise TypeError(f"'removed' must be an int (got {removed!r})")
    if not 0 <= removed < RESNET152_BLOCKS[2]:
        raise ValueError(f"'removed' must be in [0, {RESNET152_BLOCKS[2] - 1}]"
                         f" (got {removed})")
    if 'stem' in kwargs:
        raise TypeError("'resnet152_pruned' sets 'stem' from 'imagenet'")
    num_blocks = list(RESNET152_BLOCKS)
    num_blocks[2] -= removed
    return ResNet('bottleneck', num_blocks, num_classes=num_classes,
                  stem='imagenet' if imagenet else 'cifar', **kwargs)


def _cifar_resnet(depth: int, num_classes: int, **kwargs: Any) -> ResNet:
    n = (depth - 2) // 6
    return ResNet('basic', [n, n, n], num_classes=num_classes,
                  channels=(16, 32, 64), **kwargs)


def cifar_resnet(depth: int, num_classes: int = 10,
                 **kwargs: Any) -> ResNet:
    r"""The CIFAR ResNet of He et al. (2016) with :math:`6n + 2` layers:
    a 16-channel 3x3 stem and three stages of :math:`n` basic blocks with
    16, 32 and 64 channels.

    Where a block changes the shape, its shortcut is by default a 1x1
    convolution with BatchNorm ("option B"); with :obj:`shortcut="A"` it is
    the zero-padding identity of the original CIFAR experiments
    (:class:`ZeroPadShortcut`), the models of the paper's Table 1
    (:func:`resnet20a` .. :func:`resnet110a`). Option B adds
    :math:`16 \cdot 32 + 64 + 32 \cdot 64 + 128 = 2{,}752` parameters to every
    depth. Either way every shape-changing block has the
    :obj:`has_projection` flag that layer pruning relies on.

    Args:
        depth (int): :math:`6n + 2`, e.g. 20, 32, 44, 56 or 110.
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        **kwargs (optional): Further arguments of :class:`ResNet`.

    Example:
        >>> cifar_resnet(56).num_blocks
        (9, 9, 9)
        >>> sum(p.numel() for p in cifar_resnet(56, shortcut='A').parameters())
        853018
    """
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise TypeError(f"'depth' must be an int (got {depth!r})")
    if depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(f"'depth' must be 6n + 2 with n >= 1 (got {depth})")
    return _cifar_resnet(depth, num_classes, **kwargs)


def _named_cifar_resnet(depth: int, example: str, result: str,
                        shortcut: str = 'B') -> Callable[..., ResNet]:
    suffix = 'a' if shortcut == 'A' else ''
    kind = (' with the zero-padding shortcuts of the paper (option A)'
            if shortcut == 'A' else '')
    return named_constructor(
        __name__, f'resnet{depth}{suffix}',
        partial(_cifar_resnet, depth, shortcut=shortcut), ResNet,
        f'CIFAR ResNet{depth} (:math:`n = {(depth - 2) // 6}`){kind}, see '
        f':func:`cifar_resnet`.', example, result)


resnet20 = _named_cifar_resnet(
    20, 'sum(p.numel() for p in resnet20().parameters())', '272474')
resnet32 = _named_cifar_resnet(32, 'resnet32().num_blocks', '(5, 5, 5)')
resnet44 = _named_cifar_resnet(44, 'resnet44().num_blocks', '(7, 7, 7)')
resnet56 = _named_cifar_resnet(56, 'resnet56().num_blocks', '(9, 9, 9)')
resnet110 = _named_cifar_resnet(110, 'resnet110().num_blocks',
                                '(18, 18, 18)')

resnet20a = _named_cifar_resnet(
    20, 'sum(p.numel() for p in resnet20a().parameters())', '269722', 'A')
resnet32a = _named_cifar_resnet(
    32, 'sum(p.numel() for p in resnet32a().parameters())', '464154', 'A')
resnet44a = _named_cifar_resnet(
    44, 'sum(p.numel() for p in resnet44a().parameters())', '658586', 'A')
resnet56a = _named_cifar_resnet(
    56, 'sum(p.numel() for p in resnet56a().parameters())', '853018', 'A')
resnet110a = _named_cifar_resnet(
    110, 'sum(p.numel() for p in resnet110a().parameters())', '1727962', 'A')

#: The constructors of the ResNets of ImageNet depth (CIFAR form, or
#: ImageNet form with :obj:`stem='imagenet'`).
RESNETS = (resnet18, resnet34, resnet50, resnet101, resnet152)

#: The constructors of the CIFAR ResNets of He et al. (2016).
CIFAR_RESNETS = (resnet20, resnet32, resnet44, resnet56, resnet110,
                 resnet20a, resnet32a, resnet44a, resnet56a, resnet110a)
