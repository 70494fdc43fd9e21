import pytest
import torch
from torch import nn

from pyg_dnnmod.models import (
    BasicBlock,
    Bottleneck,
    ResNet,
    cifar_resnet,
    resnet18,
    resnet20,
    resnet50,
    resnet56,
    resnet152,
    resnet152_pruned,
)


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def structure(module: nn.Module) -> list:
    return [(name, type(m).__name__,
             [tuple(p.shape) for p in m.parameters(recurse=False)])
            for name, m in module.named_modules()]


def test_resnet20_param_count_by_hand():
    # stem:   conv 3*16*9 = 432, BN 32                              =     464
    # layer1: 3 blocks * (2 * 16*16*9 + 2 * 32)                     =  14,016
    # layer2: first 16*32*9 + 32*32*9 + 2 * 64 + (16*32 + 64)      =  14,528
    #         two more blocks 2 * (2 * 32*32*9 + 2 * 64)            =  37,120
    # layer3: first 32*64*9 + 64*64*9 + 2 * 128 + (32*64 + 128)    =  57,728
    #         two more blocks 2 * (2 * 64*64*9 + 2 * 128)           = 147,968
    # fc:     64 * 10 + 10                                          =     650
    # total                                                         = 272,474
    # (option A of He et al. has no shortcut weights: 269,722, the usual
    # "0.27 M")
    assert count(resnet20()) == 272_474


def test_known_param_counts():
    # The usual figures for option A (853,018) plus the 2,752 parameters of
    # the two 1x1 projections (16*32 + 64 + 32*64 + 128).
    assert count(resnet56()) == 853_018 + 2_752
    # CIFAR ResNet18 with a 3x3 stem and a linear head: 11,173,962.
    assert count(resnet18()) == 11_173_962
    # The ImageNet form has torchvision's parameter counts.
    assert count(resnet18(num_classes=1000, stem='imagenet')) == 11_689_512
    assert count(resnet50(num_classes=1000, stem='imagenet')) == 25_557_032


def test_block_flags_and_projections():
    model = resnet20()
    assert model.num_blocks == (3, 3, 3)
    assert all(type(m).is_residual_block for m in model.blocks())
    assert [m.has_projection for m in model.blocks()] == [
        False, False, False, True, False, False, True, False, False
    ]
    proj = model.layer2[0].shortcut
    assert [type(m) for m in proj] == [nn.Conv2d, nn.BatchNorm2d]
    assert proj[0].kernel_size == (1, 1) and proj[0].stride == (2, 2)
    assert isinstance(model.layer2[1].shortcut, nn.Identity)

    model = resnet50()
    flags = [m.has_projection for m in model.blocks()]
    # layer1[0] widens 64 -> 256 channels; every other stage halves.
    assert [i for i, f in enumerate(flags) if f] == [0, 3, 7, 13]
    assert isinstance(model.layer1[0], Bottleneck)
    assert model.layer2[0].conv2.stride == (2, 2)
    assert model.layer2[0].conv1.stride == (1, 1)


def test_stems():
    cifar = resnet18()
    assert cifar.conv1.kernel_size == (3, 3) and cifar.conv1.stride == (1, 1)
    assert cifar.maxpool is None
    imagenet = resnet18(stem='imagenet')
    assert imagenet.conv1.kernel_size == (7, 7)
    assert imagenet.conv1.stride == (2, 2)
    assert isinstance(imagenet.maxpool, nn.MaxPool2d)


@pytest.mark.parametrize('r', [5, 11, 16, 21, 26, 30])
def test_resnet152_variants(r):
    for imagenet in (False, True):
        # The block counts do not depend on the width; narrow is fast.
        model = resnet152_pruned(r, imagenet=imagenet, width=0.125)
        assert model.num_blocks == (3, 8, 36 - r, 3)
        assert model.stem == ('imagenet' if imagenet else 'cifar')
        assert all(isinstance(m, Bottleneck) for m in model.blocks())


def test_removing_blocks_gives_the_variant():
    model = resnet152(width=0.25)
    assert model.num_blocks == (3, 8, 36, 3)
    assert not any(m.has_projection for m in model.layer3[31:])
    model.layer3 = nn.Sequential(*list(model.layer3)[:31])
    variant = resnet152_pruned(5, width=0.25)
    assert structure(model) == structure(variant)
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in variant.state_dict().items()}


def test_forward_shapes():
    x = torch.rand(2, 3, 32, 32)
    assert resnet20(num_classes=7).eval()(x).shape == (2, 7)
    model = ResNet('bottleneck', [1, 1, 1], channels=(8, 16, 32),
                   in_channels=1).eval()
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 10)
    model = resnet18(width=0.125, stem='imagenet').eval()
    assert model.conv1.out_channels == 8
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 10)


def test_zero_init_residual_makes_blocks_identities():
    torch.manual_seed(0)
    model = ResNet('basic', [2], channels=(4, ), zero_init_residual=True)
    model.eval()
    x = torch.rand(1, 4, 8, 8)  # non-negative, so ReLU(x) = x
    for block in model.blocks():
        assert not block.has_projection
        assert torch.equal(block(x), x)
    model = ResNet('bottleneck', [2], channels=(4, ), zero_init_residual=True)
    model.eval()
    x = torch.rand(1, 16, 8, 8)
    assert torch.equal(model.layer1[1](x), x)


def test_hooked_outputs_are_not_overwritten():
    model = resnet20(width=0.5).eval()
    kept, copies = [], []

    def hook(module, inputs, output):
        kept.append(output)
        copies.append(output.clone())

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    model(torch.rand(2, 3, 32, 32))
    for h in handles:
        h.remove()
    assert len(kept) == 19 + 2 + 19 + 2
    assert all(torch.equal(a, b) for a, b in zip(kept, copies))


def test_matches_torchvision():
    try:
        import torchvision
    except Exception:  # a broken torchvision raises RuntimeError at import
        pytest.skip('torchvision is not importable')
    torch.manual_seed(0)
    for ours, theirs in [
        (resnet18(num_classes=5, stem='imagenet'),
         torchvision.models.resnet18(num_classes=5)),
        (ResNet('bottleneck', [1, 2, 1, 1], num_classes=5, stem='imagenet'),
         torchvision.models.resnet.ResNet(
             torchvision.models.resnet.Bottleneck, [1, 2, 1, 1],
             num_classes=5)),
    ]:
        state = {
            k.replace('downsample', 'shortcut'): v
            for k, v in theirs.state_dict().items()
        }
        ours.load_state_dict(state)
        ours.eval()
        theirs.eval()
        x = torch.rand(2, 3, 64, 64)
        with torch.no_grad():
            assert torch.allclose(ours(x), theirs(x), atol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match=r"'block' must be 'basic' or "
                       r"'bottleneck' \(got 'dense'\)"):
        ResNet('dense', [1])
    with pytest.raises(TypeError, match=r"'block' must be"):
        ResNet(nn.Conv2d, [1])
    with pytest.raises(ValueError, match=r"'num_blocks' must be >= 1 "
                       r"\(got 0\)"):
        ResNet('basic', [1, 0], channels=(4, 8))
    with pytest.raises(ValueError, match=r"same length"):
        ResNet('basic', [1, 1])
    with pytest.raises(ValueError, match=r"'stem' must be 'cifar' or "
                       r"'imagenet' \(got 'mnist'\)"):
        ResNet('basic', [1], channels=(4, ), stem='mnist')
    with pytest.raises(ValueError, match=r"'removed' must be in \[0, 35\] "
                       r"\(got 36\)"):
        resnet152_pruned(36)
    with pytest.raises(TypeError, match=r"'removed' must be an int"):
        resnet152_pruned(5.0)
    with pytest.raises(ValueError, match=r"'depth' must be 6n \+ 2 with "
                       r"n >= 1 \(got 21\)"):
        cifar_resnet(21)
    assert cifar_resnet(8).num_blocks == (1, 1, 1)
    assert isinstance(cifar_resnet(8).layer1[0], BasicBlock)
