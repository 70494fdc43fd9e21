r"""Flags for the optional packages, guarded in one place.

Every optional import is attempted once here and any exception is caught, not
only :class:`ImportError`: a torchvision wheel built for another torch raises
:class:`RuntimeError` (``operator torchvision::nms does not exist``) at import,
and advertorch 0.2.3 fails on current torch until its shim is applied (see
:mod:`pyg_dnnmod.adversarial`). Call sites check the flag and raise an
:class:`ImportError` that names the package to install.
"""
import importlib.util
from typing import Tuple, Union

from torch import Tensor


def _importable(name: str) -> bool:
    # Importing is the only reliable test: a broken torchvision is found by
    # `find_spec` but fails at import.
    if importlib.util.find_spec(name) is None:
        return False
    try:
        __import__(name)
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False
    return True


def _spec_exists(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


WITH_TORCHVISION = _importable('torchvision')
# advertorch is imported lazily (it needs a shim and imports torchvision), so
# only its presence is recorded here.
WITH_ADVERTORCH = _spec_exists('advertorch')
WITH_TIMM = _spec_exists('timm')
WITH_TORCH_CLUSTER = _spec_exists('torch_cluster')
WITH_PYG_LIB = _spec_exists('pyg_lib')
WITH_NETWORKX = _spec_exists('networkx')
WITH_PYG_TEMPORAL = _spec_exists('torch_geometric_temporal')

#: A pair ``(edge_index, edge_weight)`` as returned by :func:`knn_graph`.
EdgeTuple = Tuple[Tensor, Tensor]
#: Communities as a hard label vector ``[N]``.
Communities = Union[Tensor, list]
