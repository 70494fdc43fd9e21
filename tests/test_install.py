r"""The install gives what later parts of the project build on."""
import torch

from pyg_dnnmod.typing import WITH_ADVERTORCH, WITH_TORCHVISION


def test_torchvision_resnet18_forward():
    assert WITH_TORCHVISION, 'torchvision must import (see README install)'
    import torchvision
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert bool(torch.isfinite(out).all())


def test_advertorch_present():
    assert WITH_ADVERTORCH
