import pytest
import torch
from torch import nn

from pyg_dnnmod.models import LeNet5, lenet5


def test_param_count_by_hand():
    # conv1 3*6*25 + 6 = 456, conv2 6*16*25 + 16 = 2,416,
    # fc1 400*120 + 120 = 48,120, fc2 120*84 + 84 = 10,164,
    # fc3 84*10 + 10 = 850; total 62,006.
    model = lenet5()
    assert [p.numel() for p in model.parameters()] == [
        450, 6, 2400, 16, 48000, 120, 10080, 84, 840, 10
    ]
    assert sum(p.numel() for p in model.parameters()) == 62_006


def test_layers_and_weight_graph_node_count():
    model = LeNet5()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] \
        == [(3, 6, (5, 5)), (6, 16, (5, 5))]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (400, 120), (120, 84), (84, 10)
    ]
    # One node per input channel, conv channel and neuron (Vahedian et al.).
    nodes = convs[0].in_channels + sum(c.out_channels for c in convs) + \
        sum(m.out_features for m in linears)
    assert nodes == 3 + 6 + 16 + 120 + 84 + 10 == 239
    assert [type(m) for m in model.features] == [
        nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Conv2d, nn.ReLU, nn.MaxPool2d
    ]


def test_forward_and_options():
    torch.manual_seed(0)
    assert lenet5(num_classes=100)(torch.rand(2, 3, 32, 32)).shape == (2, 100)

    model = lenet5(width=2.0)
    assert model.features[3].out_channels == 32
    assert model.classifier[0].in_features == 32 * 5 * 5
    assert model.classifier[-1].in_features == 168

    model = lenet5(in_channels=1, input_size=28)
    assert model.classifier[0].in_features == 16 * 4 * 4
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)

    model = lenet5(dropout=0.5)
    assert [m.p for m in model.classifier if isinstance(m, nn.Dropout)] == [
        0.5, 0.5
    ]
    model.eval()
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(model(x), model(x))


def test_bad_input():
    with pytest.raises(ValueError, match=r"'input_size' must be >= 12 "
                       r"\(got 8\)"):
        lenet5(input_size=8)
    with pytest.raises(ValueError, match=r"'dropout' must be in \[0, 1\)"):
        lenet5(dropout=-0.1)
    with pytest.raises(TypeError, match=r"'in_channels' must be an int "
                       r"\(got 3.0\)"):
        lenet5(in_channels=3.0)
    with pytest.raises(ValueError, match=r"expects 32x32 inputs"):
        lenet5()(torch.rand(1, 3, 28, 28))
