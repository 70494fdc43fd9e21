import pytest
import torch
from torch import nn

from pyg_dnnmod.models import AlexNet, alexnet


def test_param_count_by_hand():
    # convs: 3*64*9 + 64 = 1,792; 64*192*9 + 192 = 110,784;
    #        192*384*9 + 384 = 663,936; 384*256*9 + 256 = 884,992;
    #        256*256*9 + 256 = 590,080                   -> 2,251,584
    # FC:    1024*4096 + 4096 = 4,198,400; 4096*4096 + 4096 = 16,781,312;
    #        4096*10 + 10 = 40,970                       -> 21,020,682
    assert sum(p.numel() for p in alexnet().parameters()) == 23_272_266


def test_shapes_of_every_layer():
    model = AlexNet(width=0.25).eval()
    shapes = []
    handles = [
        m.register_forward_hook(
            lambda m, i, o: shapes.append(tuple(o.shape[1:])))
        for m in model.features
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d))
    ]
    out = model(torch.rand(2, 3, 32, 32))
    for h in handles:
        h.remove()
    # The module docstring's table at width 1/4.
    assert shapes == [(16, 16, 16), (16, 8, 8), (48, 8, 8), (48, 4, 4),
                      (96, 4, 4), (64, 4, 4), (64, 4, 4), (64, 2, 2)]
    assert out.shape == (2, 10)
    assert sum(isinstance(m, nn.Linear) for m in model.modules()) == 3
    assert model.classifier[1].in_features == 64 * 2 * 2
    assert model.classifier[1].out_features == 1024


def test_options_and_bad_input():
    model = AlexNet(num_classes=3, in_channels=1, width=0.125,
                    hidden_channels=256).eval()
    assert model(torch.rand(1, 1, 32, 32)).shape == (1, 3)
    assert model.classifier[4].out_features == 32
    with pytest.raises(ValueError, match=r"expects 32x32 inputs"):
        model(torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match=r"'hidden_channels' must be >= 1"):
        AlexNet(hidden_channels=0)
    with pytest.raises(TypeError, match=r"'width' must be a float "
                       r"\(got '1'\)"):
        AlexNet(width='1')
