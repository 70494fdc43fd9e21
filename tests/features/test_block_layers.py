"""Block-level default layers of modern CNN families (rule 'block'), and
explicit selection by glob pattern, by class name ('type:...') and through
the 'model.' wrapper of NormalizedModel."""
import pytest
import torch
from torch import nn

from pyg_dnnmod.features import default_layers, list_layers, select_layers
from pyg_dnnmod.models import NormalizedModel
from pyg_dnnmod.typing import WITH_TIMM, WITH_TORCHVISION

needs_torchvision = pytest.mark.skipif(not WITH_TORCHVISION,
                                       reason='torchvision unusable')
needs_timm = pytest.mark.skipif(not WITH_TIMM, reason='timm unusable')


def _count(model: nn.Module, *class_names: str) -> int:
    return sum(type(m).__name__ in class_names for m in model.modules())


def _torchvision(name: str) -> nn.Module:
    import torchvision
    return torchvision.models.get_model(name, weights=None)


def _timm(name: str) -> nn.Module:
    import timm
    return timm.create_model(name, pretrained=False)


# (model, its block classes, number of blocks, the first default layers):
# the default layers are the stem convolution and every block.
TORCHVISION = [
    ('convnext_tiny', ('CNBlock', ), 3 + 3 + 9 + 3,
     ['features.0.0', 'features.1.0', 'features.1.1', 'features.1.2',
      'features.3.0']),
    ('efficientnet_b0', ('MBConv', ), 16,
     ['features.0.0', 'features.1.0', 'features.2.0', 'features.2.1',
      'features.3.0']),
    ('efficientnet_v2_s', ('MBConv', 'FusedMBConv'), 2 + 4 + 4 + 6 + 9 + 15,
     ['features.0.0', 'features.1.0', 'features.1.1', 'features.2.0',
      'features.2.1']),
    ('mobilenet_v2', ('InvertedResidual', ), 17,
     ['features.0.0', 'features.1', 'features.2', 'features.3',
      'features.4']),
    ('mobilenet_v3_small', ('InvertedResidual', ), 11,
     ['features.0.0', 'features.1', 'features.2', 'features.3',
      'features.4']),
    ('mnasnet0_5', ('_InvertedResidual', ), 16,
     ['layers.0', 'layers.8.0', 'layers.8.1', 'layers.8.2', 'layers.9.0']),
    ('densenet121', ('_DenseBlock', '_Transition'), 4 + 3,
     ['features.conv0', 'features.denseblock1', 'features.transition1',
      'features.denseblock2', 'features.transition2']),
    ('regnet_y_400mf', ('ResBottleneckBlock', ), 1 + 3 + 6 + 6,
     ['stem.0', 'trunk_output.block1.block1-0', 'trunk_output.block2.block2-0',
      'trunk_output.block2.block2-1', 'trunk_output.block2.block2-2']),
]

TIMM = [
    ('convnext_atto', ('ConvNeXtBlock', ), 2 + 2 + 6 + 2,
     ['stem.0', 'stages.0.blocks.0', 'stages.0.blocks.1',
      'stages.1.blocks.0', 'stages.1.blocks.1']),
    ('efficientnet_b0', ('DepthwiseSeparableConv', 'InvertedResidual'), 16,
     ['conv_stem', 'blocks.0.0', 'blocks.1.0', 'blocks.1.1', 'blocks.2.0']),
    ('mobilenetv2_050', ('DepthwiseSeparableConv', 'InvertedResidual'), 17,
     ['conv_stem', 'blocks.0.0', 'blocks.1.0', 'blocks.1.1', 'blocks.2.0']),
    # The last stage of timm's MobileNetV3 is one ConvBnAct block.
    ('mobilenetv3_small_050', ('DepthwiseSeparableConv', 'InvertedResidual',
                               'ConvBnAct'), 12,
     ['conv_stem', 'blocks.0.0', 'blocks.1.0', 'blocks.1.1', 'blocks.2.0']),
    ('densenet121', ('DenseBlock', 'DenseTransition'), 4 + 3,
     ['features.conv0', 'features.denseblock1', 'features.transition1',
      'features.denseblock2', 'features.transition2']),
]


@needs_torchvision
@pytest.mark.parametrize('name, classes, num_blocks, first', TORCHVISION,
                         ids=[t[0] for t in TORCHVISION])
def test_torchvision_families_are_read_by_blocks(name, classes, num_blocks,
                                                 first):
    model = _torchvision(name)
    names, rule = default_layers(model)
    assert rule == 'block'
    assert _count(model, *classes) == num_blocks
    assert len(names) == 1 + num_blocks
    assert names[:5] == first
    assert [type(model.get_submodule(n)).__name__ in classes
            for n in names] == [False] + [True] * num_blocks


@needs_timm
@pytest.mark.parametrize('name, classes, num_blocks, first', TIMM,
                         ids=[t[0] for t in TIMM])
def test_timm_families_are_read_by_blocks(name, classes, num_blocks, first):
    model = _timm(name)
    names, rule = default_layers(model)
    assert rule == 'block'
    assert _count(model, *classes) == num_blocks
    assert len(names) == 1 + num_blocks
    assert names[:5] == first


@needs_timm
def test_convnext_default_count_is_its_number_of_blocks():
    model = _timm('convnext_atto')  # depths (2, 2, 6, 2)
    blocks = sum(len(stage.blocks) for stage in model.stages)
    assert blocks == 12
    names = select_layers(model)
    assert names[0] == 'stem.0' and len(names) == 1 + blocks
    # Nothing inside a block (conv_dw, mlp.fc1, mlp.fc2) is read.
    assert not any(n.endswith(('conv_dw', 'fc1', 'fc2')) for n in names)


@needs_timm
def test_hybrid_mobilenetv4_is_read_at_every_block_not_only_attention():
    model = _timm('mobilenetv4_hybrid_medium')
    names, rule = default_layers(model)
    assert rule == 'block'
    assert len(names) == 1 + 32
    assert _count(model, 'MobileAttention') == 8
    assert names[:3] == ['conv_stem', 'blocks.0.0', 'blocks.1.0']


@needs_torchvision
def test_block_outputs_are_whole_feature_maps_read_once():
    # No squeeze-and-excitation gate ([B, C, 1, 1]) is read any more.
    df = list_layers(_torchvision('efficientnet_b0'),
                     torch.rand(1, 3, 64, 64))
    read = df[df['default']]
    assert read['type'].tolist() == ['Conv2d'] + ['MBConv'] * 16
    assert read['calls'].tolist() == [1] * 17
    assert read['shape'].tolist()[:3] == [(32, 32, 32), (16, 32, 32),
                                          (24, 16, 16)]
    assert read['shape'].tolist()[-1] == (320, 2, 2)
    # DenseNet: the dense blocks' concatenated outputs and the transitions.
    df = list_layers(_torchvision('densenet121'), torch.rand(1, 3, 64, 64))
    assert df[df['default']]['shape'].tolist() == [
        (64, 32, 32), (256, 16, 16), (128, 8, 8), (512, 8, 8), (256, 4, 4),
        (1024, 4, 4), (512, 2, 2), (1024, 2, 2)]


@needs_torchvision
def test_subclass_of_a_family_block_is_a_block():
    from torchvision.models.mobilenetv2 import InvertedResidual

    class MyBlock(InvertedResidual):
        pass

    model = nn.Sequential(nn.Conv2d(3, 8, 3), MyBlock(8, 8, 1, 2),
                          MyBlock(8, 16, 2, 2))
    assert default_layers(model) == (['0', '1', '2'], 'block')
    # A look-alike from another package is not.
    look_alike = type('InvertedResidual', (nn.Module, ), {})
    assert default_layers(nn.Sequential(nn.Conv2d(3, 8, 3), look_alike())) \
        == (['0'], 'conv')


@needs_torchvision
@pytest.mark.parametrize('name, count, rule', [
    ('resnet18', 1 + 8, 'resnet'),
    ('vgg11', 8, 'conv'),
    ('swin_t', 12, 'transformer'),
])
def test_paper_defaults_of_torchvision_models_are_unchanged(name, count,
                                                            rule):
    names, found = default_layers(_torchvision(name))
    assert (len(names), found) == (count, rule)


@needs_timm
@pytest.mark.parametrize('name, count, rule, first', [
    ('resnet18', 1 + 8, 'resnet', ['conv1', 'layer1.0']),
    ('regnety_002', 1 + 13, 'resnet', ['stem.conv', 's1.b1']),
    ('vit_tiny_patch16_224', 12, 'transformer', ['blocks.0', 'blocks.1']),
])
def test_paper_defaults_of_timm_models_are_unchanged(name, count, rule,
                                                     first):
    names, found = default_layers(_timm(name))
    assert (len(names), found, names[:2]) == (count, rule, first)


# -- patterns, types and the wrapper ------------------------------------------

class Block(nn.Module):
    is_residual_block = True

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.downsample = (nn.Sequential(nn.Conv2d(c_in, c_out, 1))
                           if c_in != c_out else None)

    def forward(self, x):
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.relu(self.conv1(x) + shortcut)


class MyConv(nn.Conv2d):
    pass


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = MyConv(1, 4, 3, padding=1)
        self.layer1 = nn.Sequential(Block(4, 4), Block(4, 4))
        self.layer2 = nn.Sequential(Block(4, 8), Block(8, 8))
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc(self.layer2(self.layer1(self.conv1(x))).mean((2, 3)))


BLOCKS = ['layer1.0', 'layer1.1', 'layer2.0', 'layer2.1']


def test_glob_parts_stay_within_one_dotted_part():
    model = TinyResNet()
    assert select_layers(model, 'layer*.?') == BLOCKS  # no downsample.0
    assert select_layers(model, 'layer?') == ['layer1', 'layer2']
    assert select_layers(model, 'layer2.0.*') == [
        'layer2.0.conv1', 'layer2.0.downsample']
    assert select_layers(model, 'layer2.**') == [
        'layer2.0', 'layer2.0.conv1', 'layer2.0.downsample',
        'layer2.0.downsample.0', 'layer2.1', 'layer2.1.conv1']
    assert select_layers(model, '**.conv1') == [f'{b}.conv1' for b in BLOCKS]
    assert select_layers(model, 'layer[2].[!0]') == ['layer2.1']


def test_names_patterns_and_types_mix_in_the_order_given():
    model = TinyResNet()
    assert select_layers(model, ['fc', 'conv1', 'layer2.*']) == [
        'fc', 'conv1', 'layer2.0', 'layer2.1']
    assert select_layers(model, ['conv1', 'type:Block']) == ['conv1'] + BLOCKS
    assert select_layers(model, 'type:Block') == select_layers(model, Block)
    # A class name selects its subclasses too, as a type does.
    assert select_layers(model, 'type:Conv2d') == select_layers(
        model, nn.Conv2d) == ['conv1', 'layer1.0.conv1', 'layer1.1.conv1',
                              'layer2.0.conv1', 'layer2.0.downsample.0',
                              'layer2.1.conv1']
    assert select_layers(model, 'type:MyConv') == ['conv1']
    assert select_layers(model, 'layer*.?', post_activation=True) == BLOCKS


def test_pattern_and_type_errors_name_layers_and_close_names():
    model = TinyResNet()
    with pytest.raises(ValueError, match=(
            r"^pattern 'layer9\.\*' in 'layers' matches no layer name "
            r"\('\*', '\?' and '\[\.\.\.\]' stay within one part of a dotted "
            r"name, '\*\*' spans parts\); close names: \['layer1\.0', ")):
        select_layers(model, 'layer9.*')
    with pytest.raises(ValueError, match=r"^unknown layer name\(s\) "
                       r"\['layer1\.7'\] in 'layers'; close names: "
                       r"\['layer1', 'layer1\.0', 'layer1\.1', .*valid "
                       r"names: \['conv1', 'layer1', .*list_layers\(model\)"):
        select_layers(model, ['conv1', 'layer1.7'])
    with pytest.raises(ValueError, match=(
            r"^no module of type 'Conv2D' in the model \('type:Conv2D' in "
            r"'layers'\); close types: \['Conv2d', 'MyConv'\]; module types: "
            r"\['Block', 'Conv2d', 'Linear', 'MyConv', 'Sequential'\]")):
        select_layers(model, 'type:Conv2D')
    with pytest.raises(ValueError, match=r"'type: ' in 'layers' names no "
                       r"class; write 'type:<ClassName>'"):
        select_layers(model, 'type: ')
    with pytest.raises(ValueError, match=r"'layers' selects \['layer1\.0'\] "
                       r"more than once"):
        select_layers(model, ['layer1.0', 'layer1.?'])


def test_names_of_a_wrapped_network_are_found_under_model():
    model = NormalizedModel(TinyResNet(), mean=[0.5], std=[0.5])
    assert select_layers(model)[:2] == ['model.conv1', 'model.layer1.0']
    assert select_layers(model, 'layer1.0') == ['model.layer1.0']
    assert select_layers(model, ['fc', 'model.conv1']) == [
        'model.fc', 'model.conv1']
    assert select_layers(model, 'layer*.?') == [f'model.{b}' for b in BLOCKS]
    blocks = [f'model.{b}' for b in BLOCKS]
    assert select_layers(model, 'type:Block') == blocks
    # A name of the wrapper itself means that module.
    assert select_layers(model, ['normalize', 'model']) == [
        'normalize', 'model']
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) "
                       r"\['layer3\.0'\] in 'layers'; close names: "
                       r"\['model\.layer1\.0'"):
        select_layers(model, 'layer3.0')
