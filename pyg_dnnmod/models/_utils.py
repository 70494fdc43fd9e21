"""Argument checks and small helpers shared by the model constructors."""
import math


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


def scale_channels(channels: int, width: float) -> int:
    r"""Scales a channel count by a width multiplier, keeping at least one
    channel."""
    return max(1, int(round(channels * width)))
