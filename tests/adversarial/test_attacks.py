r"""The old module path ``pyg_dnnmod.adversarial.attacks`` is a deprecation
shim: every name it had still works and says where it lives now."""
import importlib

import pytest

import pyg_dnnmod.adversarial as adversarial
from pyg_dnnmod.adversarial import attacks as old

MOVED = {
    'ATTACKS': 'registry',
    'TARGET_RULE': 'registry',
    'attack_params': 'registry',
    'AdversarialSet': 'sets',
    'attack_summary': 'sets',
    'adversarial_examples': 'runner',
}


@pytest.mark.parametrize('name', sorted(MOVED))
def test_old_names_forward_with_a_warning(name):
    new = importlib.import_module(f'pyg_dnnmod.adversarial.{MOVED[name]}')
    with pytest.warns(DeprecationWarning,
                      match=rf"'pyg_dnnmod\.adversarial\.attacks\.{name}' "
                            rf"is deprecated; use 'pyg_dnnmod\.adversarial"
                            rf"\.{name}'") as record:
        value = getattr(old, name)
    assert value is getattr(new, name) is getattr(adversarial, name)
    assert record[0].filename == __file__  # stacklevel=2: the caller


def test_from_import_and_private_columns():
    with pytest.warns(DeprecationWarning, match='adversarial_examples'):
        from pyg_dnnmod.adversarial.attacks import adversarial_examples
    assert adversarial_examples is adversarial.adversarial_examples
    # Still read by pyg_dnnmod.experiments.adversarial.
    with pytest.warns(DeprecationWarning, match=r'SUMMARY_COLUMNS'):
        from pyg_dnnmod.adversarial.attacks import _SUMMARY_COLUMNS
    assert _SUMMARY_COLUMNS == adversarial.SUMMARY_COLUMNS


def test_unknown_name():
    with pytest.raises(AttributeError, match="has no attribute 'deepfool'"):
        old.deepfool
    assert sorted(old.__all__) == sorted(MOVED)
