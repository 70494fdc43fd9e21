"""The option-A CIFAR ResNets against the paper's own model definition.

The reference below is the CIFAR ResNet of the paper's code base (He et
al.'s option A as commonly implemented for CIFAR-10: a lambda shortcut
that subsamples and zero-pads planes // 4 channels on both sides, a 1x1
"linear" head), written out here independently of the package.
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pyg_dnnmod.models import (
    ZeroPadShortcut,
    get_model,
    resnet20a,
    resnet56a,
    resnet110a,
)
from pyg_dnnmod.pruning import removable_layers


class _Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class _RefBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = _Lambda(lambda x: F.pad(
                x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4)))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _RefResNet(nn.Module):
    def __init__(self, n, num_classes=10, in_channels=3):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._stage(16, n, 1)
        self.layer2 = self._stage(32, n, 2)
        self.layer3 = self._stage(64, n, 2)
        self.linear = nn.Linear(64, num_classes)

    def _stage(self, planes, n, stride):
        blocks = []
        for s in [stride] + [1] * (n - 1):
            blocks.append(_RefBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*blocks)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size(3)).flatten(1)
        return self.linear(out)


def _count(model):
    return sum(p.numel() for p in model.parameters())


def _macs(model, shape):
    thop = pytest.importorskip('thop')
    macs, _ = thop.profile(model, inputs=(torch.rand(1, *shape), ),
                           verbose=False)
    return macs


# The parameter counts the paper's Table 1 rounds (ResNet20 0.27M ...
# ResNet110 1.7M), exactly, for 10 classes and RGB inputs.
@pytest.mark.parametrize('depth, params', [
    (20, 269722), (32, 464154), (44, 658586), (56, 853018), (110, 1727962)])
def test_option_a_has_the_papers_parameters_and_macs(depth, params):
    ours = get_model(f'resnet{depth}a')
    ref = _RefResNet((depth - 2) // 6)
    assert _count(ours) == _count(ref) == params
    # Option B adds the two 1x1 projections with their BatchNorms.
    assert _count(get_model(f'resnet{depth}')) - params == 2752
    # thop counts the global average pooling only where it is a module
    # (ours: AdaptiveAvgPool2d, 8 * 8 + 1 operations per channel); the
    # paper's code pools functionally. Every convolution, BatchNorm and the
    # head count the same.
    pool = 64 * (8 * 8 + 1)
    assert _macs(ours, (3, 32, 32)) - pool == _macs(ref, (3, 32, 32))


@pytest.mark.parametrize('fn, millions', [
    (resnet20a, 40.55), (resnet56a, 125.49), (resnet110a, 252.89)])
def test_option_a_convolution_macs_are_the_published_figures(fn, millions):
    # The convolution and linear MACs (what pruning papers tabulate for the
    # CIFAR-10 ResNets: 40.55M, 125.49M, 252.89M), counted by torch's own
    # FlopCounterMode (FLOPs = 2 x MACs).
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        fn().eval()(torch.rand(1, 3, 32, 32))
    assert round(counter.get_total_flops() / 2 / 1e6, 2) == millions


def test_option_a_computes_the_reference_function():
    torch.manual_seed(0)
    ours = resnet20a(in_channels=1)
    ref = _RefResNet(3, in_channels=1)
    state = {k.replace('fc.', 'linear.'): v
             for k, v in ours.state_dict().items()}
    ref.load_state_dict(state)
    x = torch.rand(4, 1, 28, 28)
    for mode in (False, True):
        ours.train(mode)
        ref.train(mode)
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-6)


def test_zero_pad_shortcut_by_hand():
    x = torch.arange(2 * 4 * 4, dtype=torch.float).view(1, 2, 4, 4)
    out = ZeroPadShortcut(2, 6, stride=2)(x)
    assert out.shape == (1, 6, 2, 2)
    assert out[0, [0, 1, 4, 5]].abs().sum() == 0
    assert out[0, 2].tolist() == [[0.0, 2.0], [8.0, 10.0]]
    assert out[0, 3].tolist() == [[16.0, 18.0], [24.0, 26.0]]
    with pytest.raises(ValueError, match=r"'out_channels' must be >= "
                       r"'in_channels'"):
        ZeroPadShortcut(4, 2)


def test_option_a_blocks_that_change_shape_are_not_removable():
    model = resnet20a()
    flags = [b.has_projection for b in model.blocks()]
    assert flags == [False] * 3 + [True, False, False] * 2
    names = ['conv1'] + [f'layer{s}.{i}' for s in (1, 2, 3)
                         for i in range(3)]
    assert removable_layers(model, names) == \
        [n for n, keep in zip(names, [False] + [True] * 3
                              + [False, True, True] * 2) if keep]


def test_option_a_refuses_bottlenecks_and_unknown_shortcuts():
    from pyg_dnnmod.models import ResNet
    with pytest.raises(ValueError, match="shortcut='A' is for basic blocks"):
        ResNet('bottleneck', [1, 1], channels=(8, 16), shortcut='A')
    with pytest.raises(ValueError, match=r"'shortcut' must be 'A' or 'B' "
                       r"\(got 'C'\)"):
        ResNet('basic', [1], channels=(8, ), shortcut='C')
