import pytest
import torch
from torch import nn

from pyg_dnnmod.models import (
    DigitsCNN,
    alexnet,
    get_model,
    lenet5,
    resnet20,
    vgg11,
)
from pyg_dnnmod.pruning import removable_layers, remove_layers

torch.set_num_threads(1)


def structure(model: nn.Module) -> list:
    # Module names and types, and the shapes of every module's own
    # parameters, in module order.
    return [(name, type(m).__name__,
             [tuple(p.shape) for p in m.parameters(recurse=False)])
            for name, m in model.named_modules()]


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def meta_model(name: str) -> nn.Module:
    # Structure only: the meta device allocates no memory and draws no
    # random numbers, so even ResNet152 builds in a fraction of a second.
    with torch.device('meta'):
        return get_model(name)


# VGG19 `features` positions of the convolutions, block by block (each conv
# is a Conv-BN-ReLU triple, each block ends with a max-pooling):
# 0 3 | 7 10 | 14 17 20 23 | 27 30 33 36 | 40 43 46 49
# The paper's VGG19_k removes k convolutions from the back while every block
# keeps one: block 5 loses 49, 46, 43, then block 4 loses 36, 33, 30.
VGG19_CUTS = ['features.49', 'features.46', 'features.43', 'features.36',
              'features.33', 'features.30']
# VGG11: 0 | 4 | 8 11 | 15 18 | 22 25
VGG11_CUTS = ['features.25', 'features.18', 'features.11']


@pytest.fixture(scope='module')
def meta_vgg19():
    return meta_model('vgg19')


@pytest.mark.parametrize('k', range(1, 7))
def test_vgg19_minus_k_is_vgg19_k(meta_vgg19, k):
    pruned = remove_layers(meta_vgg19, VGG19_CUTS[:k])
    expected = meta_model(f'vgg19_{k}')
    assert structure(pruned) == structure(expected)
    assert list(pruned.state_dict()) == list(expected.state_dict())
    assert pruned.convs_per_block == expected.convs_per_block
    # Shapes propagate through the whole network.
    out = pruned(torch.empty(2, 3, 32, 32, device='meta'))
    assert out.shape == (2, 10)


@pytest.mark.parametrize('k', range(1, 4))
def test_vgg11_minus_k_is_vgg11_k(k):
    pruned = remove_layers(meta_model('vgg11'), VGG11_CUTS[:k])
    assert structure(pruned) == structure(meta_model(f'vgg11_{k}'))


def test_vgg19_removable_layers(meta_vgg19):
    # Every conv except the first of blocks 1-4 (3->64, 64->128, 128->256,
    # 256->512) maps C -> C channels; block 5 starts with 512 -> 512.
    assert removable_layers(meta_vgg19) == [
        'features.3', 'features.10', 'features.17', 'features.20',
        'features.23', 'features.30', 'features.33', 'features.36',
        'features.40', 'features.43', 'features.46', 'features.49']


def test_vgg19_param_count_by_hand(meta_vgg19):
    # VGG19: 3x3 convs with bias, 9 * c_in * c_out + c_out each:
    #   1,792 + 36,928 | 73,856 + 147,584 | 295,168 + 3 * 590,080
    #   | 1,180,160 + 3 * 2,359,808 | 4 * 2,359,808          = 20,024,384
    # BatchNorm: 2 * (2 * 64 + 2 * 128 + 4 * 256 + 8 * 512)  =     11,008
    # FC: 2 * (512 * 512 + 512) + 512 * 10 + 10               =    530,442
    # total                                                   = 20,565,834
    convs = (1_792 + 36_928 + 73_856 + 147_584 + 295_168 + 3 * 590_080
             + 1_180_160 + 3 * 2_359_808 + 4 * 2_359_808)
    total = convs + 11_008 + 530_442
    assert convs == 20_024_384 and total == 20_565_834
    assert num_params(meta_vgg19) == total
    # Each removed 512 -> 512 triple: 2,359,808 (conv) + 1,024 (BN).
    pruned = remove_layers(meta_vgg19, VGG19_CUTS)
    assert num_params(pruned) == total - 6 * 2_360_832 == 6_400_842


def test_resnet152_variants_cifar_and_imagenet():
    for suffix in ('', '_imagenet'):
        base = meta_model(f'resnet152{suffix}')
        for r in (5, 11, 16, 21, 26, 30):
            cuts = [f'layer3.{i}' for i in range(36 - r, 36)]
            pruned = remove_layers(base, cuts)
            expected = meta_model(f'resnet152_{r}{suffix}')
            assert structure(pruned) == structure(expected)
            assert list(pruned.state_dict()) == list(expected.state_dict())
            assert pruned.num_blocks == (3, 8, 36 - r, 3)
        size = 224 if suffix else 32
        out = pruned(torch.empty(1, 3, size, size, device='meta'))
        assert out.shape == (1, 10)
        assert base.num_blocks == (3, 8, 36, 3)  # the original is unchanged


def test_resnet152_removable_layers():
    # 50 blocks; the first block of every stage has a projection shortcut
    # (layer1.0: 64 -> 256 channels), and the stem is never removable.
    names = removable_layers(meta_model('resnet152'))
    assert len(names) == 46
    assert names[:2] == ['layer1.1', 'layer1.2']
    assert 'layer2.0' not in names and 'conv1' not in names


def test_resnet56_param_count_by_hand():
    model = get_model('resnet56')
    # ResNet56: stem 432 + 32; stage 1: 9 * (2 * 2,304 + 64) = 42,048;
    # stage 2: 14,528 + 8 * 18,560; stage 3: 57,728 + 8 * 73,984; fc 650.
    assert num_params(model) == 855_770
    pruned = remove_layers(model, ['layer1.8', 'layer3.8'])
    # layer1.8: 2 * 9 * 16 * 16 + 2 * 2 * 16 = 4,672;
    # layer3.8: 2 * 9 * 64 * 64 + 2 * 2 * 64 = 73,984.
    assert num_params(pruned) == 855_770 - 4_672 - 73_984 == 777_114
    assert pruned.num_blocks == (8, 9, 8)
    assert pruned(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_removed_identity_blocks_leave_the_function_unchanged():
    # A block whose last BatchNorm outputs zero computes relu(0 + x) = x on
    # the post-ReLU input it receives, so removing such blocks must leave
    # the output unchanged: this checks the kept weights and the wiring.
    torch.manual_seed(0)
    model = get_model('resnet152', width=0.125).eval()
    cuts = [f'layer3.{i}' for i in range(6, 36)]
    for name in cuts:
        bn3 = model.get_submodule(name).bn3
        nn.init.zeros_(bn3.weight)
        nn.init.zeros_(bn3.bias)
    pruned = remove_layers(model, cuts)
    assert not pruned.training
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), model(x))
    # layer3.35 of the original is gone; layer4 kept its weights.
    assert torch.equal(pruned.layer4[0].conv1.weight,
                       model.layer4[0].conv1.weight)


def test_removed_identity_convs_leave_the_function_unchanged():
    # A conv with a centred identity kernel, followed by a BatchNorm that
    # is the identity in eval mode and a ReLU, maps post-ReLU inputs to
    # themselves; removing it from the middle of VGG11 keeps the output.
    torch.manual_seed(0)
    model = vgg11(width=0.125).eval()
    conv, bn = model.features[11], model.features[12]
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, 1, 1] = torch.eye(conv.out_channels)
        conv.bias.zero_()
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)
        bn.weight.fill_(1.0)
        bn.bias.zero_()
    pruned = remove_layers(model, 'features.11')
    assert pruned.convs_per_block == (1, 1, 1, 2, 2)
    # Renumbered: features.15 of the original is features.12 now.
    assert torch.equal(pruned.features[12].weight, model.features[15].weight)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), model(x))


def test_the_caller_model_is_unchanged():
    model = DigitsCNN(width=0.25)
    before = structure(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    pruned = remove_layers(model, ['features.3', 'features.10'])
    assert structure(model) == before
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in
               state.items())
    # Kept layers carry the original weights, re-keyed: features 0-2, the
    # pooling (6) and the third triple (7-9) are 0-6 now.
    assert [type(m).__name__ for m in pruned.features] == [
        'Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d', 'Conv2d', 'BatchNorm2d',
        'ReLU', 'MaxPool2d']
    assert torch.equal(pruned.features[4].weight, model.features[7].weight)
    assert torch.equal(pruned.features[5].running_var,
                       model.features[8].running_var)
    assert pruned(torch.rand(2, 1, 16, 16)).shape == (2, 10)


def test_digits_cnn_and_other_models_removable():
    # DigitsCNN convs: 1->32, 32->32, 32->64, 64->64 at features 0, 3, 7, 10.
    assert removable_layers(DigitsCNN()) == ['features.3', 'features.10']
    assert removable_layers(DigitsCNN(), adapt=True) == [
        'features.3', 'features.7', 'features.10']
    # AlexNet: the stem has stride 2; 64->192->384->256->256 after it.
    assert removable_layers(alexnet()) == ['features.10']
    assert removable_layers(alexnet(), adapt=True) == [
        'features.3', 'features.6', 'features.8', 'features.10']
    # LeNet-5's 5x5 convolutions without padding shrink the image.
    assert removable_layers(lenet5(), adapt=True) == []
    assert removable_layers(resnet20()) == [
        f'layer{s}.{b}' for s in (1, 2, 3) for b in range(3)
        if not (s > 1 and b == 0)]


def test_adapt_reinitialises_the_next_conv():
    torch.manual_seed(0)
    model = DigitsCNN(width=0.25)  # channels 8, 8, 16, 16
    with pytest.raises(ValueError, match=r"maps 8 to 16 channels; pass "
                       r"adapt=True"):
        remove_layers(model, 'features.7')
    with pytest.warns(UserWarning, match=r"'features.10' \(now "
                      r"'features.7'\) was re-initialised with 8 input "
                      r"channels instead of 16"):
        pruned = remove_layers(model, 'features.7', adapt=True)
    conv = pruned.features[7]
    assert (conv.in_channels, conv.out_channels) == (8, 16)
    assert conv.weight is not model.features[10].weight
    # Its BatchNorm and the layers before it keep their weights.
    assert torch.equal(pruned.features[8].weight, model.features[11].weight)
    assert torch.equal(pruned.features[3].weight, model.features[3].weight)
    # 4,418 - (1,168 + 32) for the removed triple - 16 * 9 * 8 for the
    # adapted conv's lost input channels = 2,066.
    assert num_params(pruned) == 2_066
    assert pruned(torch.rand(2, 1, 16, 16)).shape == (2, 10)


def test_adapt_cannot_change_the_output_channels():
    with pytest.raises(ValueError, match=r"output channels of 'features' "
                       r"from 16 to 8"):
        remove_layers(DigitsCNN(width=0.25), ['features.7', 'features.10'],
                      adapt=True)


def test_errors_name_the_layer_and_say_why():
    model = resnet20()
    with pytest.raises(ValueError, match=r"cannot remove 'layer2.0' from "
                       r"ResNet: it is a residual block with a projection "
                       r"shortcut"):
        remove_layers(model, ['layer1.1', 'layer2.0'])
    with pytest.raises(ValueError, match=r"'conv1'.*the stem"):
        remove_layers(model, 'conv1')
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) "
                       r"\['layer1.0.conv1'\].*removable layers: "
                       r"\['layer1.0', 'layer1.1'"):
        remove_layers(model, 'layer1.0.conv1')
    with pytest.raises(ValueError, match=r"'features.0'.*the stem"):
        remove_layers(DigitsCNN(), 'features.0')
    with pytest.raises(ValueError, match=r"'features.3' from LeNet5: it "
                       r"changes the spatial size \(stride \(1, 1\), "
                       r"padding \(0, 0\)\)"):
        remove_layers(lenet5(), 'features.3')
    with pytest.raises(ValueError, match=r"must not be empty"):
        remove_layers(model, [])
    with pytest.raises(ValueError, match=r"\['layer1.1'\] more than once"):
        remove_layers(model, ['layer1.1', 'layer1.1'])
    with pytest.raises(TypeError, match="'layer_names' must be a module"):
        remove_layers(model, [1])
    with pytest.raises(TypeError, match="'model' must be a torch.nn.Module"):
        removable_layers('resnet20')
    with pytest.raises(TypeError, match="'adapt' must be a bool"):
        remove_layers(model, 'layer1.1', adapt=1)


def test_non_sequential_parent_and_last_conv():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 4, 3, padding=1)
            self.b = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            return self.b(self.a(x))

    with pytest.raises(ValueError, match="not a direct child of an "
                       "nn.Sequential"):
        remove_layers(Net(), 'b')
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(4, 8, 3, padding=1), nn.ReLU())
    with pytest.raises(ValueError, match="last convolution of its "
                       "nn.Sequential"):
        remove_layers(seq, '2', adapt=True)
