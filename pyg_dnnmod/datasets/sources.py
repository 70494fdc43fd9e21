r"""Deprecated: the image sources live in :mod:`pyg_dnnmod.datasets.images`
(and are exported from :mod:`pyg_dnnmod.datasets`)."""
import warnings
from typing import Any


def __getattr__(name: str) -> Any:
    from pyg_dnnmod.datasets import images
    if name not in images.__all__:
        raise AttributeError(f"module {__name__!r} has no attribute "
                             f"{name!r}")
    warnings.warn(f"'pyg_dnnmod.datasets.sources.{name}' is deprecated; "
                  f"use 'pyg_dnnmod.datasets.images.{name}' or "
                  f"'pyg_dnnmod.datasets.{name}'", DeprecationWarning,
                  stacklevel=2)
    return getattr(images, name)
