r"""Adversarial inputs through AdverTorch.

Importing this module applies the compatibility shim AdverTorch 0.2.3 needs on
current torch (see :mod:`pyg_dnnmod.adversarial._compat`).
"""
from pyg_dnnmod.adversarial._compat import (
    apply_advertorch_shim,
    import_advertorch,
)

apply_advertorch_shim()

__all__ = ['apply_advertorch_shim', 'import_advertorch']
