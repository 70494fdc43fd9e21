"""Argument checks and small helpers shared by the model constructors."""
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

M = TypeVar('M', bound=nn.Module)


def check_positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'{name}' must be an int (got {value!r})")
    if value < 1:
        raise ValueError(f"'{name}' must be >= 1 (got {value})")
    return value


def check_width(width: float) -> float:
    if isinstance(width, bool) or not isinstance(width, (int, float)):
        raise TypeError(f"'width' must be a float (got {width!r})")
    if not math.isfinite(width) or width <= 0:
        raise ValueError(f"'width' must be > 0 (got {width})")
    return float(width)


def check_dropout(p: float) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"'dropout' must be a float (got {p!r})")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"'dropout' must be in [0, 1) (got {p})")
    return float(p)


def check_model_args(num_classes: int, in_channels: int,
                     width: float) -> float:
    r"""Checks the arguments every model takes and returns :obj:`width` as
    a float.

    Example:
        >>> check_model_args(10, 3, 1)
        1.0
    """
    check_positive_int(num_classes, 'num_classes')
    check_positive_int(in_channels, 'in_channels')
    return check_width(width)


def check_convs_per_block(convs_per_block: Sequence[int],
                          channels: Sequence[int]) -> tuple[int, ...]:
    r"""Checks that there is one positive number of convolutions per block
    of :obj:`channels` and returns them as a tuple.

    Example:
        >>> check_convs_per_block([2, 1], (16, 32))
        (2, 1)
    """
    convs_per_block = tuple(convs_per_block)
    if len(convs_per_block) != len(channels):
        raise ValueError(f"'convs_per_block' and 'channels' must have the "
                         f"same length (got {convs_per_block!r} and "
                         f"{tuple(channels)!r})")
    for n in convs_per_block:
        check_positive_int(n, 'convs_per_block')
    return convs_per_block


def scale_channels(channels: int, width: float) -> int:
    r"""Scales a channel count by a width multiplier, keeping at least one
    channel."""
    return max(1, int(round(channels * width)))


def dropout_mlp(in_features: int, hidden: int, num_classes: int,
                dropout: float) -> nn.Sequential:
    r"""The classifier of AlexNet and VGG: Dropout - Linear - ReLU -
    Dropout - Linear - ReLU - Linear, both hidden layers of size
    :obj:`hidden` (the linear layers at indices 1, 4 and 6).

    Example:
        >>> [type(m).__name__ for m in dropout_mlp(8, 4, 2, 0.5)]
        ['Dropout', 'Linear', 'ReLU', 'Dropout', 'Linear', 'ReLU', 'Linear']
    """
    return nn.Sequential(
        nn.Dropout(dropout),
        nn.Linear(in_features, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


def flatten_features(x: Tensor, first: nn.Module, model: str,
                     input_size: int) -> Tensor:
    r"""Flattens the feature maps :obj:`x` for a classifier whose first
    layer is :obj:`first`, with an error that names the input size the
    :obj:`model` expects when a linear :obj:`first` does not fit.

    Example:
        >>> flatten_features(torch.zeros(2, 4, 1, 1), nn.Linear(4, 3),
        ...                  'Net', 32).shape
        torch.Size([2, 4])
        >>> flatten_features(torch.zeros(2, 4, 2, 2), nn.Linear(4, 3),
        ...                  'Net', 32)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Net expects 32x32 inputs; its features gave 16 values ...
    """
    x = torch.flatten(x, 1)
    if isinstance(first, nn.Linear) and x.size(1) != first.in_features:
        raise ValueError(f"{model} expects {input_size}x{input_size} "
                         f"inputs; its features gave {x.size(1)} values "
                         f"instead of {first.in_features}")
    return x


def named_constructor(module: str, name: str, build: Callable[..., M],
                      returns: type, summary: str, example: str,
                      result: str) -> Callable[..., M]:
    r"""A public constructor :obj:`name(num_classes=10, **kwargs)` that
    calls :obj:`build(num_classes=num_classes, **kwargs)`; its docstring is
    :obj:`summary` and the doctest :obj:`>>> example` giving :obj:`result`.
    Its :obj:`__module__` is :obj:`module`, so pickle and doctest find it
    there.

    Example:
        >>> def linear(num_classes):
        ...     return nn.Linear(4, num_classes)
        >>> head = named_constructor(__name__, 'head', linear, nn.Linear,
        ...                          'A linear head.', 'head().in_features',
        ...                          '4')
        >>> head.__name__, head().out_features, head(3).out_features
        ('head', 10, 3)
        >>> head.__doc__.split('\n')[0]
        'A linear head.'
    """
    def constructor(num_classes: int = 10, **kwargs: Any) -> M:
        return build(num_classes=num_classes, **kwargs)

    constructor.__module__ = module
    constructor.__name__ = constructor.__qualname__ = name
    constructor.__annotations__['return'] = returns
    # Wrapped as a hand-written docstring, never inside a `...` role.
    summary = re.sub('`[^`]*`', lambda m: m[0].replace(' ', '\0'), summary)
    summary = textwrap.fill(summary, 75, subsequent_indent=' ' * 4)
    constructor.__doc__ = (summary.replace('\0', ' ')
                           + f'\n\n    Example:\n        >>> {example}\n'
                           f'        {result}\n    ')
    return constructor
