r"""Adversarial inputs through AdverTorch: the paper's six attacks, run on
correctly classified samples until N successful ones are collected.

The rooms: :mod:`~pyg_dnnmod.adversarial.registry` (the attacks by name and
their parameters), :mod:`~pyg_dnnmod.adversarial.runner` (running one attack),
:mod:`~pyg_dnnmod.adversarial.sets` (the result and its table) and
:mod:`~pyg_dnnmod.adversarial.cache` (the on-disk cache of results).

Importing this module applies the compatibility shim AdverTorch 0.2.3 needs on
current torch (see :mod:`pyg_dnnmod.adversarial._compat`).
"""
from pyg_dnnmod.adversarial._compat import (
    apply_advertorch_shim,
    import_advertorch,
)
from pyg_dnnmod.adversarial.registry import (
    ATTACKS,
    TARGET_RULE,
    attack_params,
    check_attack,
)
from pyg_dnnmod.adversarial.runner import adversarial_examples
from pyg_dnnmod.adversarial.sets import (
    SUMMARY_COLUMNS,
    AdversarialSet,
    attack_summary,
)

apply_advertorch_shim()

__all__ = [
    'ATTACKS',
    'TARGET_RULE',
    'SUMMARY_COLUMNS',
    'AdversarialSet',
    'adversarial_examples',
    'attack_params',
    'attack_summary',
    'check_attack',
    'apply_advertorch_shim',
    'import_advertorch',
]
