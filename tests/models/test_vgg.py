import math

import pytest
import torch
from torch import nn

from pyg_dnnmod.models import (
    VGG,
    make_vgg_features,
    vgg11,
    vgg16,
    vgg19,
    vgg_variant,
)

# Appendix B of Lu et al. (ECCV 2022), DESIGN section 8; written out here
# rather than imported so that a typo in the package cannot hide.
TABLE = {
    'vgg11': (1, 1, 2, 2, 2),
    'vgg13': (2, 2, 2, 2, 2),
    'vgg16': (2, 2, 3, 3, 3),
    'vgg19': (2, 2, 4, 4, 4),
    'vgg19_1': (2, 2, 4, 4, 3),
    'vgg19_2': (2, 2, 4, 4, 2),
    'vgg19_3': (2, 2, 4, 4, 1),
    'vgg19_4': (2, 2, 4, 3, 1),
    'vgg19_5': (2, 2, 4, 2, 1),
    'vgg19_6': (2, 2, 4, 1, 1),
    'vgg11_1': (1, 1, 2, 2, 1),
    'vgg11_2': (1, 1, 2, 1, 1),
    'vgg11_3': (1, 1, 1, 1, 1),
}


def structure(module: nn.Module) -> list:
    return [(name, type(m).__name__,
             [tuple(p.shape) for p in m.parameters(recurse=False)])
            for name, m in module.named_modules()]


def reference_param_count(convs_per_block, num_classes=10):
    # Conv 3x3 with bias: 9 * c_in * c_out + c_out; BatchNorm: 2 * c_out;
    # classifier: 512 -> 512 -> 512 -> num_classes with biases.
    total, c_in = 0, 3
    for n, c in zip(convs_per_block, (64, 128, 256, 512, 512)):
        for _ in range(n):
            total += 9 * c_in * c + c + 2 * c
            c_in = c
    return total + 2 * (512 * 512 + 512) + 512 * num_classes + num_classes


@pytest.mark.parametrize('name', list(TABLE))
def test_variant_convs_per_block(name):
    model = vgg_variant(name)
    assert model.convs_per_block == TABLE[name]
    channels = (64, 128, 256, 512, 512)
    assert model.cfg == tuple((c, ) * n for n, c in zip(TABLE[name], channels))
    assert sum(p.numel() for p in model.parameters()) == \
        reference_param_count(TABLE[name])


def test_vgg11_param_count_by_hand():
    # convs: 1,792 + 73,856 + 295,168 + 590,080 + 1,180,160 + 3 * 2,359,808
    #        = 9,220,480
    # BN:    2 * (64 + 128 + 256 + 256 + 512 + 3 * 512) = 5,504
    # FC:    2 * 262,656 + 5,130 = 530,442
    assert sum(p.numel() for p in vgg11().parameters()) == 9_756_426


def test_features_layout():
    model = vgg19()
    types = [type(m) for m in model.features]
    assert len(types) == 16 * 3 + 5
    i = 0
    for n in TABLE['vgg19']:
        for _ in range(n):
            assert types[i:i + 3] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
            conv = model.features[i]
            assert conv.kernel_size == (3, 3) and conv.padding == (1, 1)
            i += 3
        assert types[i] is nn.MaxPool2d
        i += 1
    assert not any(getattr(m, 'inplace', False) for m in model.modules())
    assert [type(m) for m in model.classifier] == [
        nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU,
        nn.Linear
    ]
    assert [m.out_features for m in model.classifier
            if isinstance(m, nn.Linear)] == [512, 512, 10]


def remove_convs(model: VGG, per_block_removed) -> nn.Sequential:
    r"""Deletes Conv-BN-ReLU triples from the back of every block."""
    layers, block, keep = list(model.features), [], []
    for m in layers:
        block.append(m)
        if isinstance(m, nn.MaxPool2d):
            keep.append(block)
            block = []
    out = []
    for blk, removed in zip(keep, per_block_removed):
        convs = (len(blk) - 1) // 3
        out += blk[:3 * (convs - removed)] + [blk[-1]]
    return nn.Sequential(*out)


@pytest.mark.parametrize('base,name', [(n.split('_')[0], n) for n in TABLE
                                       if '_' in n])
def test_removing_triples_gives_the_variant(base, name):
    model = vgg_variant(base)
    removed = [a - b for a, b in zip(TABLE[base], TABLE[name])]
    model.features = remove_convs(model, removed)
    variant = vgg_variant(name)
    assert structure(model) == structure(variant)
    assert model.cfg == variant.cfg
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in variant.state_dict().items()}
    model.eval()
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 10)


def test_forward_shapes_and_options():
    model = vgg11(num_classes=100).eval()
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 100)

    model = vgg11(width=0.25, in_channels=1).eval()
    assert model.cfg == ((16, ), (32, ), (64, 64), (128, 128), (128, 128))
    assert model.classifier[1].in_features == 128
    assert model.classifier[4].in_features == 128
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 10)

    model = VGG((1, 1), channels=(8, 16), input_size=16).eval()
    assert model.classifier[1].in_features == 16 * 4 * 4
    assert model(torch.rand(3, 3, 16, 16)).shape == (3, 10)

    model = VGG((1, 1), channels=(8, 16), batch_norm=False)
    assert [type(m) for m in model.features] == [
        nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Conv2d, nn.ReLU, nn.MaxPool2d
    ]


def test_normalize_applies_first():
    torch.manual_seed(0)
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]
    model = vgg11(width=0.25, mean=mean, std=std).eval()
    x = torch.rand(2, 3, 32, 32)
    ref = vgg11(width=0.25).eval()
    ref.load_state_dict(model.state_dict())
    x_norm = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(
        std).view(1, 3, 1, 1)
    assert torch.allclose(model(x), ref(x_norm), atol=1e-6)


def test_paper_initialisation():
    torch.manual_seed(0)
    model = vgg19()
    conv = model.features[-4]  # the last 512 -> 512 convolution
    assert isinstance(conv, nn.Conv2d)
    assert conv.bias.abs().max().item() == 0.0
    expected = math.sqrt(2.0 / (9 * 512))
    assert abs(conv.weight.std().item() / expected - 1) < 0.01
    assert abs(conv.weight.mean().item()) < 0.01 * expected


def test_make_vgg_features():
    f = make_vgg_features([[4, 4], [8]], in_channels=2)
    assert [type(m).__name__ for m in f] == [
        'Conv2d', 'BatchNorm2d', 'ReLU', 'Conv2d', 'BatchNorm2d', 'ReLU',
        'MaxPool2d', 'Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d'
    ]
    assert f(torch.rand(1, 2, 8, 8)).shape == (1, 8, 2, 2)
    with pytest.raises(ValueError, match=r"'cfg' block 1 must have at least"):
        make_vgg_features([[4], []])
    with pytest.raises(ValueError, match=r"'cfg' must have at least one"):
        make_vgg_features([])


def test_bad_input():
    with pytest.raises(ValueError, match=r"'convs_per_block' must be >= 1 "
                       r"\(got 0\)"):
        VGG((2, 2, 4, 4, 0))
    with pytest.raises(ValueError, match=r"same length"):
        VGG((2, 2, 4, 4))
    with pytest.raises(ValueError, match=r"'width' must be > 0 \(got 0.0\)"):
        vgg11(width=0.0)
    with pytest.raises(ValueError, match=r"'dropout' must be in \[0, 1\) "
                       r"\(got 1.0\)"):
        vgg11(dropout=1.0)
    with pytest.raises(ValueError, match=r"'input_size' must be >= 1 "
                       r"\(got 0\)"):
        vgg11(input_size=0)
    with pytest.raises(ValueError, match=r"'num_classes' must be >= 1"):
        vgg11(num_classes=0)
    with pytest.raises(ValueError, match=r"Unknown VGG 'vgg12'.*'vgg11'"):
        vgg_variant('vgg12')
    model = VGG((1, 1), channels=(4, 4), input_size=16)
    with pytest.raises(ValueError, match=r"expects 16x16 inputs"):
        model(torch.rand(1, 3, 32, 32))


def test_vgg_takes_sizes_not_divisible_by_its_poolings():
    # Fashion-MNIST's 28x28: the poolings round up, 28-14-7-4-2-1, so the
    # classifier reads 1x1 maps; a divisible size keeps floor pooling.
    model = vgg16(in_channels=1, input_size=28, width=0.25)
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert [p.ceil_mode for p in pools] == [True] * 5
    sizes, x = [], torch.rand(2, 1, 28, 28)
    for m in model.features:
        x = m(x)
        if isinstance(m, nn.MaxPool2d):
            sizes.append(x.shape[-1])
    assert sizes == [14, 7, 4, 2, 1]
    assert model.classifier[1].in_features == 128
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert not any(m.ceil_mode for m in vgg16().features
                   if isinstance(m, nn.MaxPool2d))
