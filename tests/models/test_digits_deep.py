import pytest
import torch
from torch import nn

from pyg_dnnmod.models import (
    DigitsDeepCNN,
    digits_deep_cnn,
    get_input_shape,
    get_model,
)
from pyg_dnnmod.pruning import complexity, removable_layers, remove_layers


def conv_params(cin, cout):
    return cin * cout * 9 + cout


def test_param_count_and_layout():
    # Block b: one conv C_{b-1} -> C_b and three C_b -> C_b, each followed by
    # BatchNorm (2 C_b parameters); fc 64 * 10 + 10.
    expected = (conv_params(1, 16) + 3 * conv_params(16, 16) + 4 * 2 * 16
                + conv_params(16, 32) + 3 * conv_params(32, 32) + 4 * 2 * 32
                + conv_params(32, 64) + 3 * conv_params(64, 64) + 4 * 2 * 64
                + 64 * 10 + 10)
    assert expected == 170_330
    model = DigitsDeepCNN()
    assert sum(p.numel() for p in model.parameters()) == expected
    kinds = [type(m).__name__ for m in model.features]
    unit = ['Conv2d', 'BatchNorm2d', 'ReLU']
    assert kinds == (unit * 4 + ['MaxPool2d'] + unit * 4 + ['MaxPool2d']
                     + unit * 4)
    assert model.convs_per_block == (4, 4, 4)
    assert model(torch.rand(3, 1, 16, 16)).shape == (3, 10)


def test_macs_closed_form():
    # C_out * H * W * C_in * 9 per convolution, 16x16 -> 8x8 -> 4x4.
    def conv(cin, cout, side):
        return cout * side * side * cin * 9

    expected = (conv(1, 16, 16) + 3 * conv(16, 16, 16) + conv(16, 32, 8)
                + 3 * conv(32, 32, 8) + conv(32, 64, 4) + 3 * conv(64, 64, 4)
                + 64 * 10)
    c = complexity(DigitsDeepCNN(), (1, 16, 16))
    assert c['conv_linear_MACs'] == expected == 5_935_744
    assert c['flop_counter_FLOPs'] == 2 * expected


def test_options():
    model = digits_deep_cnn(num_classes=4, width=0.5, in_channels=3,
                            channels=(8, 8), convs_per_block=(1, 3))
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 4), (4, 4), (4, 4), (4, 4)]
    assert model.convs_per_block == (1, 3)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 4)
    assert DigitsDeepCNN(channels=(4, ), convs_per_block=2).fc.in_features \
        == 4


def test_bad_input():
    with pytest.raises(ValueError, match=r"'channels' must have at least one "
                       r"entry \(got \(\)\)"):
        DigitsDeepCNN(channels=())
    with pytest.raises(ValueError, match=r"'convs_per_block' and 'channels' "
                       r"must have the same length \(got \(1, 2\) and "
                       r"\(4, 8, 16\)\)"):
        DigitsDeepCNN(convs_per_block=(1, 2), channels=(4, 8, 16))
    with pytest.raises(ValueError, match=r"'convs_per_block' must be >= 1 "
                       r"\(got 0\)"):
        DigitsDeepCNN(convs_per_block=(1, 0, 1))
    with pytest.raises(TypeError, match=r"'channels' must be an int"):
        DigitsDeepCNN(channels=(4, 8.5, 16))


def test_registry():
    model = get_model('digits_deep_cnn', num_classes=3)
    assert isinstance(model, DigitsDeepCNN) and model.fc.out_features == 3
    assert get_input_shape('DIGITS_DEEP_CNN') == (1, 16, 16)


def test_every_same_width_conv_is_removable():
    model = DigitsDeepCNN()
    # The first conv of every block changes the channels, the stem is never
    # removed: 3 + 3 + 3 of the 12 convolutions remain.
    assert removable_layers(model) == [
        'features.3', 'features.6', 'features.9', 'features.16',
        'features.19', 'features.22', 'features.29', 'features.32',
        'features.35'
    ]


def test_surgery_equals_the_smaller_model():
    torch.manual_seed(0)
    model = DigitsDeepCNN()
    pruned = remove_layers(model, ['features.9', 'features.32',
                                   'features.35'])
    direct = DigitsDeepCNN(convs_per_block=(3, 4, 2))
    assert pruned.convs_per_block == (3, 4, 2)
    assert str(pruned) == str(direct)
    shapes = {k: v.shape for k, v in direct.state_dict().items()}
    assert {k: v.shape for k, v in pruned.state_dict().items()} == shapes
    # Kept layers keep their weights: features.29 is the last conv left.
    assert torch.equal(pruned.features[26].weight,
                       model.features[29].weight)
    assert pruned(torch.rand(2, 1, 16, 16)).shape == (2, 10)
