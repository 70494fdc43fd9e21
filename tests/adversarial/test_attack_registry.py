import pytest
import torch

from pyg_dnnmod.adversarial import import_advertorch
from pyg_dnnmod.adversarial.registry import (
    ATTACKS,
    TARGET_RULE,
    attack_class,
    attack_params,
    check_attack,
    is_targeted,
    target_labels,
)


def test_attacks_are_the_papers():
    assert ATTACKS == {
        'fgsm': 'GradientSignAttack',
        'pgd': 'LinfPGDAttack',
        'jsma': 'JacobianSaliencyMapAttack',
        'cw': 'CarliniWagnerL2Attack',
        'single_pixel': 'SinglePixelAttack',
        'local_search': 'LocalSearchAttack',
    }
    module = import_advertorch()
    assert all(hasattr(module, name) for name in ATTACKS.values())


def test_attack_params_defaults_and_overrides():
    fgsm = attack_params('fgsm')
    assert fgsm == {'loss_fn': None, 'eps': 0.3, 'clip_min': 0.0,
                    'clip_max': 1.0, 'targeted': False}
    pgd = attack_params('PGD', eps=0.1, nb_iter=5)
    assert (pgd['eps'], pgd['nb_iter'], pgd['eps_iter']) == (0.1, 5, 0.01)
    cw = attack_params('cw', num_classes=10)
    assert cw['max_iterations'] == 200  # the paper's code, not 10000
    assert cw['num_classes'] == 10 and cw['binary_search_steps'] == 9
    assert attack_params('cw', max_iterations=7)['max_iterations'] == 7
    # AdverTorch raises a bare TypeError for an integer eps.
    assert isinstance(attack_params('pgd', eps=1, eps_iter=1)['eps_iter'],
                      float)
    assert attack_params('jsma', num_classes=3)['num_classes'] == 3
    assert attack_params('single_pixel', (3, 32, 32))['max_pixels'] == 100
    assert attack_params('single_pixel', (1, 8, 8))['max_pixels'] == 64
    with pytest.warns(UserWarning, match="'max_pixels' capped at the 64"):
        capped = attack_params('single_pixel', (1, 8, 8), max_pixels=500)
    assert capped['max_pixels'] == 64


def test_check_attack_and_targets():
    assert check_attack(' FGSM ') == 'fgsm'
    with pytest.raises(TypeError, match="'attack' must be a str"):
        check_attack(3)
    with pytest.raises(ValueError, match="Unknown attack 'deepfool'; valid "
                       'names: fgsm, pgd, jsma, cw, single_pixel, '
                       'local_search'):
        check_attack('deepfool')
    assert attack_class('cw') is import_advertorch().CarliniWagnerL2Attack
    assert is_targeted('jsma', {'targeted': False})
    assert is_targeted('pgd', {'targeted': True})
    assert not is_targeted('pgd', attack_params('pgd'))
    assert TARGET_RULE == '(y + 1) mod C'
    assert target_labels(torch.tensor([0, 1, 2]), 3).tolist() == [1, 2, 0]
