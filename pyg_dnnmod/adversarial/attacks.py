r"""Deprecated: the old home of the adversarial attacks.

Its names now live in :mod:`pyg_dnnmod.adversarial` (defined in
:mod:`~pyg_dnnmod.adversarial.registry`, :mod:`~pyg_dnnmod.adversarial.sets`,
:mod:`~pyg_dnnmod.adversarial.cache` and
:mod:`~pyg_dnnmod.adversarial.runner`). Reading one from here still works
for one release and emits a :class:`DeprecationWarning` naming its new
place.
"""
import importlib
import warnings
from typing import Any, Dict, List, Tuple

# Old name: (new module, new name, where users should import it from).
_MOVED: Dict[str, Tuple[str, str, str]] = {
    'ATTACKS': ('registry', 'ATTACKS', 'pyg_dnnmod.adversarial'),
    'TARGET_RULE': ('registry', 'TARGET_RULE', 'pyg_dnnmod.adversarial'),
    'attack_params': ('registry', 'attack_params', 'pyg_dnnmod.adversarial'),
    'AdversarialSet': ('sets', 'AdversarialSet', 'pyg_dnnmod.adversarial'),
    'attack_summary': ('sets', 'attack_summary', 'pyg_dnnmod.adversarial'),
    'adversarial_examples': ('runner', 'adversarial_examples',
                             'pyg_dnnmod.adversarial'),
    # Read by pyg_dnnmod.experiments.adversarial until it moves over.
    '_SUMMARY_COLUMNS': ('sets', 'SUMMARY_COLUMNS',
                         'pyg_dnnmod.adversarial'),
}

__all__: List[str] = [name for name in _MOVED if not name.startswith('_')]


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute "
                             f"{name!r}")
    module, new_name, home = _MOVED[name]
    warnings.warn(f"'{__name__}.{name}' is deprecated; use "
                  f"'{home}.{new_name}' (defined in "
                  f"'pyg_dnnmod.adversarial.{module}')", DeprecationWarning,
                  stacklevel=2)
    return getattr(importlib.import_module(f'pyg_dnnmod.adversarial.{module}'),
                   new_name)
