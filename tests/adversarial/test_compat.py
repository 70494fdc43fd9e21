import subprocess
import sys

import pytest
import torch


def test_shim_not_applied_by_package_import():
    code = ('import importlib, pyg_dnnmod; '
            'g = importlib.import_module("torch.autograd.gradcheck"); '
            'print(hasattr(g, "zero_gradients"))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == 'False'


def test_fgsm_step_perturbs_input():
    from pyg_dnnmod.adversarial import import_advertorch

    attacks = import_advertorch()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 3))
    x = torch.rand(4, 3, 4, 4)
    y = torch.tensor([0, 1, 2, 0])
    attack = attacks.GradientSignAttack(model, eps=0.1)
    x_adv = attack.perturb(x, y)
    delta = (x_adv - x).abs()
    assert x_adv.shape == x.shape
    # Every pixel moves by eps unless clipped at the [0, 1] border.
    assert float(delta.max()) == pytest.approx(0.1, abs=1e-6)
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    inside = (x > 0.1) & (x < 0.9)
    assert torch.allclose(delta[inside], torch.full_like(delta[inside], 0.1),
                          atol=1e-6)


def test_zero_gradients_matches_removed_function():
    from pyg_dnnmod.adversarial._compat import zero_gradients
    x = torch.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    zero_gradients([x])
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
