r"""Compatibility shim that lets AdverTorch 0.2.3 import on current torch.

AdverTorch 0.2.3 (its last release) imports ``zero_gradients`` from
``torch.autograd.gradcheck``, which torch removed in 1.9. The shim puts back
an equivalent function before AdverTorch is imported. It is applied when
:mod:`pyg_dnnmod.adversarial` is imported, never at ``import pyg_dnnmod``.
"""
import importlib
from collections.abc import Iterable

import torch


def zero_gradients(x) -> None:
    r"""Zeroes the gradient of a tensor (or of every tensor in an iterable),
    as the function torch removed from ``torch.autograd.gradcheck`` did."""
    if isinstance(x, torch.Tensor):
        if x.grad is not None:
            x.grad.detach_()
            x.grad.zero_()
    elif isinstance(x, Iterable):
        for elem in x:
            zero_gradients(elem)


def apply_advertorch_shim() -> None:
    r"""Installs :func:`zero_gradients` into ``torch.autograd.gradcheck``
    unless torch still has it. Idempotent."""
    # `torch.autograd.gradcheck` is also the name of a function that shadows
    # the module as an attribute, so fetch the module itself.
    module = importlib.import_module('torch.autograd.gradcheck')
    if not hasattr(module, 'zero_gradients'):
        module.zero_gradients = zero_gradients


def import_advertorch():
    r"""Applies the shim and returns the :mod:`advertorch.attacks` module,
    with an :class:`ImportError` that says how to install it."""
    apply_advertorch_shim()
    try:
        import advertorch.attacks
    except Exception as e:  # noqa: BLE001 - a broken torchvision raises too
        raise ImportError(
            "adversarial inputs require 'advertorch' and a working "
            "'torchvision' (pip install 'pyg_dnnmod[attacks]'); importing "
            f"them failed: {e}") from e
    return advertorch.attacks
