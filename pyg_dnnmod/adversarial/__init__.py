r"""Adversarial inputs through AdverTorch: the paper's six attacks, run on
correctly classified samples until N successful ones are collected.

Importing this module applies the compatibility shim AdverTorch 0.2.3 needs on
current torch (see :mod:`pyg_dnnmod.adversarial._compat`).
"""
from pyg_dnnmod.adversarial._compat import (
    apply_advertorch_shim,
    import_advertorch,
)
from pyg_dnnmod.adversarial.attacks import (
    ATTACKS,
    TARGET_RULE,
    AdversarialSet,
    adversarial_examples,
    attack_params,
    attack_summary,
)

apply_advertorch_shim()

__all__ = [
    'ATTACKS',
    'TARGET_RULE',
    'AdversarialSet',
    'adversarial_examples',
    'attack_params',
    'attack_summary',
    'apply_advertorch_shim',
    'import_advertorch',
]
