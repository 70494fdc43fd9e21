import pytest
import torch
from torch import nn

from pyg_dnnmod.features import select_layers
from pyg_dnnmod.models import (
    DigitsDeepCNN,
    digits_deep_cnn,
    get_input_shape,
    get_model,
)
from pyg_dnnmod.models.digits_deep import ResidualConv, digits_deep_resnet
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


def test_residual_param_count_and_layout():
    # Stem: conv 1 -> 16 and BatchNorm. A unit: conv + BatchNorm, plus a
    # 1x1 projection without bias and its BatchNorm when the channels change.
    def unit(cin, cout):
        projection = cin * cout + 2 * cout if cin != cout else 0
        return conv_params(cin, cout) + 2 * cout + projection

    expected = (conv_params(1, 16) + 2 * 16 + unit(16, 32) + unit(32, 32)
                + unit(32, 64) + 11 * unit(64, 64) + 64 * 10 + 10)
    assert expected == 443_850
    model = digits_deep_resnet()
    assert sum(p.numel() for p in model.parameters()) == expected
    kinds = [type(m).__name__ for m in model.features]
    assert kinds == (['Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d']
                     + ['ResidualConv'] * 2 + ['MaxPool2d']
                     + ['ResidualConv'] * 12)
    units = [m for m in model.features if isinstance(m, ResidualConv)]
    assert [u.has_projection for u in units] == [True, False, True] + \
        [False] * 11
    assert model.convs_per_block == (1, 2, 12)
    assert model(torch.rand(3, 1, 16, 16)).shape == (3, 10)


def test_residual_macs_closed_form():
    def conv(cin, cout, side, k=3):
        return cout * side * side * cin * k * k

    expected = (conv(1, 16, 16) + conv(16, 32, 8) + conv(16, 32, 8, k=1)
                + conv(32, 32, 8) + conv(32, 64, 4) + conv(32, 64, 4, k=1)
                + 11 * conv(64, 64, 4) + 64 * 10)
    c = complexity(digits_deep_resnet(), (1, 16, 16))
    assert c['conv_linear_MACs'] == expected == 7_770_752
    # Every identity unit of the last block costs 7.6 % of that.
    assert round(100 * conv(64, 64, 4) / expected, 1) == 7.6


def test_residual_unit():
    torch.manual_seed(0)
    unit = ResidualConv(4, 4).eval()
    x = torch.rand(2, 4, 5, 5)
    assert torch.allclose(unit(x), torch.relu(x + unit.bn(unit.conv(x))))
    # A unit whose BatchNorm scale is zero is the identity (x >= 0).
    torch.nn.init.zeros_(unit.bn.weight)
    assert torch.allclose(unit(x), x)
    projected = ResidualConv(4, 6).eval()
    assert projected.has_projection
    assert torch.allclose(projected(x), torch.relu(
        projected.shortcut(x) + projected.bn(projected.conv(x))))


def test_residual_layers_and_removable_units():
    model = digits_deep_resnet()
    # The curve reads the stem and every unit (rule 'resnet'); the units
    # with a projection and the stem are not removable.
    assert select_layers(model) == ['features.0'] + [
        f'features.{i}' for i in (4, 5, *range(7, 19))]
    assert removable_layers(model) == ['features.5'] + [
        f'features.{i}' for i in range(8, 19)]
    assert get_model('digits_deep_resnet').convs_per_block == (1, 2, 12)
    assert get_input_shape('digits_deep_resnet') == (1, 16, 16)


def test_residual_surgery_equals_the_smaller_model():
    torch.manual_seed(0)
    model = digits_deep_resnet()
    pruned = remove_layers(model, ['features.17', 'features.18'])
    direct = digits_deep_resnet(convs_per_block=(1, 2, 10))
    assert pruned.convs_per_block == (1, 2, 10)
    assert str(pruned) == str(direct)
    assert torch.equal(pruned.features[16].conv.weight,
                       model.features[16].conv.weight)
    assert pruned(torch.rand(2, 1, 16, 16)).shape == (2, 10)


def test_residual_options():
    model = DigitsDeepCNN(channels=(4, 8), convs_per_block=(2, 1),
                          residual=True)
    # The stem stays a plain convolution; the second conv of block 1 keeps
    # the width (identity), the first of block 2 changes it (projection).
    assert [type(m).__name__ for m in model.features] == [
        'Conv2d', 'BatchNorm2d', 'ReLU', 'ResidualConv', 'MaxPool2d',
        'ResidualConv']
    assert [model.features[i].has_projection for i in (3, 5)] == [False,
                                                                  True]
    assert digits_deep_resnet(residual=False).convs_per_block == (1, 2, 12)
    with pytest.raises(TypeError, match=r"'residual' must be a bool "
                       r"\(got 1\)"):
        DigitsDeepCNN(residual=1)
    with pytest.raises(ValueError, match=r"'channels' must be >= 1"):
        ResidualConv(4, 0)
