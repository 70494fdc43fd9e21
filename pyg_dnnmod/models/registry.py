"""Builds the project's models by name.

Every model of the paper (Lu et al., ECCV 2022, with its appendix B
variants), LeNet-5, AlexNet, the default :class:`DigitsCNN` and a small
vision transformer (:obj:`"vit_tiny"`) is registered
under a lower-case name; :func:`get_model` looks names up
case-insensitively and :func:`get_input_shape` says what input a model
expects.
"""
import difflib
import math
from functools import partial
from typing import Any, Callable, Optional

from torch import nn

from pyg_dnnmod.models.alexnet import alexnet
from pyg_dnnmod.models.digits_cnn import digits_cnn
from pyg_dnnmod.models.digits_deep import digits_deep_cnn, digits_deep_resnet
from pyg_dnnmod.models.lenet import lenet5
from pyg_dnnmod.models.mnist_lenet import mnist_lenet5
from pyg_dnnmod.models.resnet import (
    CIFAR_RESNETS,
    RESNET152_REMOVED,
    RESNETS,
    resnet152_pruned,
)
from pyg_dnnmod.models.vgg import VGG, VGG_CONVS_PER_BLOCK
from pyg_dnnmod.models.vit import vit_tiny

_CIFAR = (3, 32, 32)
_IMAGENET = (3, 224, 224)

_MODELS: dict[str, tuple[Callable[..., nn.Module], tuple[int, int, int]]] = {}


def _register(name: str, fn: Callable[..., nn.Module],
              input_shape: tuple[int, int, int]) -> None:
    assert name == name.lower() and name not in _MODELS
    _MODELS[name] = (fn, input_shape)


for _name, _convs in VGG_CONVS_PER_BLOCK.items():
    _register(_name, partial(VGG, _convs), _CIFAR)
for _fn in RESNETS:
    _register(_fn.__name__, _fn, _CIFAR)
    _register(f'{_fn.__name__}_imagenet', partial(_fn, stem='imagenet'),
              _IMAGENET)
for _fn in CIFAR_RESNETS:
    _register(_fn.__name__, _fn, _CIFAR)
for _r in RESNET152_REMOVED:
    _register(f'resnet152_{_r}', partial(resnet152_pruned, _r), _CIFAR)
    _register(f'resnet152_{_r}_imagenet',
              partial(resnet152_pruned, _r, imagenet=True), _IMAGENET)
_register('lenet5', lenet5, _CIFAR)
_register('alexnet', alexnet, _CIFAR)
_register('mnist_lenet5', mnist_lenet5, (1, 28, 28))
_register('digits_cnn', digits_cnn, (1, 16, 16))
_register('digits_deep_cnn', digits_deep_cnn, (1, 16, 16))
_register('digits_deep_resnet', digits_deep_resnet, (1, 16, 16))
_register('vit_tiny', vit_tiny, (1, 28, 28))


def list_models() -> list[str]:
    r"""Returns the names :func:`get_model` accepts, sorted.

    Example:
        >>> [name for name in list_models() if name.startswith('vgg11')]
        ['vgg11', 'vgg11_1', 'vgg11_2', 'vgg11_3']
    """
    return sorted(_MODELS)


def split_width(name: str) -> tuple[str, Optional[float]]:
    r"""Splits a model name with a width suffix, :obj:`"vgg16@0.25"`, into
    the registered name and the channel width multiplier (:obj:`None`
    without a suffix).

    Example:
        >>> split_width('vgg16@0.25'), split_width('resnet20a')
        (('vgg16', 0.25), ('resnet20a', None))
        >>> split_width('vgg16@wide')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: The width after '@' must be a positive number (got ...
    """
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a str (got {type(name).__name__})")
    base, at, suffix = name.strip().partition('@')
    if not at:
        return base, None
    try:
        width = float(suffix)
    except ValueError:
        width = float('nan')
    if not math.isfinite(width) or width <= 0:
        raise ValueError(f"The width after '@' must be a positive number "
                         f"(got {name!r}; e.g. 'vgg16@0.25')")
    return base, width


def _lookup(name: str) -> tuple[Callable[..., nn.Module], tuple[int, ...]]:
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a str (got {type(name).__name__})")
    key = split_width(name)[0].lower()
    if key not in _MODELS:
        close = difflib.get_close_matches(key, list(_MODELS), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ''
        raise ValueError(f"Unknown model '{name}'.{hint} Valid names: "
                         f"{', '.join(list_models())}")
    return _MODELS[key]


def get_model(name: str, num_classes: int = 10, width: float = 1.0,
              **kwargs: Any) -> nn.Module:
    r"""Builds a registered model by name (case-insensitive), freshly
    initialised; nothing is downloaded.

    Names: :obj:`'vgg11'`, :obj:`'vgg13'`, :obj:`'vgg16'`, :obj:`'vgg19'`,
    the pruned :obj:`'vgg19_1'` .. :obj:`'vgg19_6'` and :obj:`'vgg11_1'` ..
    :obj:`'vgg11_3'`; :obj:`'resnet18'` .. :obj:`'resnet152'` (CIFAR form,
    or ImageNet form with the suffix :obj:`'_imagenet'`); :obj:`'resnet20'`
    .. :obj:`'resnet110'`; the pruned :obj:`'resnet152_r'` for
    :math:`r \in \{5, 11, 16, 21, 26, 30\}` (also with :obj:`'_imagenet'`);
    :obj:`'resnet20a'` .. :obj:`'resnet110a'` (option-A shortcuts, the
    paper's Table 1); :obj:`'lenet5'`, AdverTorch's :obj:`'mnist_lenet5'`,
    :obj:`'alexnet'` and
    :obj:`'digits_cnn'`. See :func:`list_models`. A suffix :obj:`"@w"`
    multiplies the channel widths by :obj:`w` (:obj:`"vgg16@0.25"`).

    Args:
        name (str): The model name.
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        width (float, optional): Channel width multiplier.
            (default: :obj:`1.0`)
        **kwargs (optional): Further arguments of the model's class, e.g.
            :obj:`in_channels`, :obj:`mean` and :obj:`std`.

    Returns:
        torch.nn.Module: The model, in training mode.

    Example:
        >>> model = get_model('VGG19_3', num_classes=100)
        >>> model.convs_per_block, model.classifier[-1].out_features
        ((2, 2, 4, 4, 1), 100)
        >>> get_model('resnet152_30').num_blocks
        (3, 8, 6, 3)
        >>> get_model('vgg16@0.25').cfg[0]
        (16, 16)
    """
    fn, _ = _lookup(name)
    suffix = split_width(name)[1]
    if suffix is not None:
        width = width * suffix
    return fn(num_classes=num_classes, width=width, **kwargs)


def get_input_shape(name: str) -> tuple[int, int, int]:
    r"""Returns the :obj:`(channels, height, width)` of one input of a
    registered model with its default :obj:`in_channels`.

    Example:
        >>> get_input_shape('digits_cnn'), get_input_shape('resnet50_imagenet')
        ((1, 16, 16), (3, 224, 224))
    """
    _, shape = _lookup(name)
    return shape  # type: ignore[return-value]
