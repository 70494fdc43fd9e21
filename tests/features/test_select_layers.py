import warnings

import pytest
import torch
from torch import nn

from pyg_dnnmod.features import (
    default_layers,
    is_residual_block,
    is_transformer_block,
    select_layers,
)


def vgg_like() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),  # 0-2
        nn.MaxPool2d(2),                                               # 3
        nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),  # 4-6
        nn.Flatten(), nn.Linear(8 * 4 * 4, 3),                         # 7-8
    )


class Block(nn.Module):
    is_residual_block = True

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return torch.relu(x + self.conv2(torch.relu(self.bn1(self.conv1(x)))))


class ResNetLike(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(Block(4), Block(4))
        self.layer2 = nn.Sequential(Block(4))
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x)))))
        return self.fc(x.mean((2, 3)))


def test_vgg_like_default_is_every_conv_before_bn():
    assert select_layers(vgg_like()) == ['0', '4']
    assert default_layers(vgg_like()) == (['0', '4'], 'conv')


def test_vgg_like_post_activation_skips_batch_norm_and_dropout():
    assert select_layers(vgg_like(), post_activation=True) == ['2', '6']
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(), nn.Identity(),
                          nn.GELU())
    assert select_layers(model, post_activation=True) == ['3']


def test_nested_vgg_like_uses_full_names():
    model = nn.Sequential()
    model.add_module('features', vgg_like()[:7])
    model.add_module('classifier', nn.Sequential(nn.Flatten(),
                                                 nn.Linear(128, 3)))
    assert select_layers(model) == ['features.0', 'features.4']
    assert select_layers(model, post_activation=True) == [
        'features.2', 'features.6']


def test_resnet_like_default_is_stem_and_every_block():
    model = ResNetLike()
    assert default_layers(model) == (
        ['conv1', 'layer1.0', 'layer1.1', 'layer2.0'], 'resnet')
    # The stem's activation is a module; the blocks end with their own
    # activation and are kept without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert select_layers(model, post_activation=True) == [
            'relu', 'layer1.0', 'layer1.1', 'layer2.0']


def test_resnet_stem_not_named_conv1_is_first_conv_outside_blocks():
    model = nn.Sequential(nn.Sequential(nn.Conv2d(1, 4, 1), nn.ReLU()),
                          Block(4), Block(4))
    assert select_layers(model) == ['0.0', '1', '2']
    # No convolution outside the blocks: no stem.
    assert select_layers(nn.Sequential(Block(4), Block(4))) == ['0', '1']


def test_is_residual_block_foreign_classes_by_name_and_package():
    def make(name: str, module: str) -> nn.Module:
        cls = type(name, (nn.Module, ), {})
        cls.__module__ = module
        return cls()

    assert is_residual_block(make('BasicBlock', 'torchvision.models.resnet'))
    assert is_residual_block(make('Bottleneck', 'timm.models.resnet'))
    assert not is_residual_block(make('BasicBlock', 'my_package.models'))
    assert not is_residual_block(make('Block', 'torchvision.models.resnet'))
    assert is_residual_block(Block(1))


def test_transformer_default_is_every_encoder_block():
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    model = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
    assert is_transformer_block(model.layers[0])
    assert not is_transformer_block(model)

    class Marked(nn.Module):
        is_transformer_block = True

    assert is_transformer_block(Marked())
    assert default_layers(model) == (['layers.0', 'layers.1', 'layers.2'],
                                     'transformer')


def test_mlp_default_is_every_linear():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8),
                          nn.Tanh(), nn.Linear(8, 2))
    assert default_layers(model) == (['0', '2', '4'], 'linear')
    # The output layer has no activation: read as it is, with a warning.
    with pytest.warns(UserWarning, match="follows layer '4'"):
        assert select_layers(model, post_activation=True) == ['1', '3', '4']


def test_conv1d_model_falls_back_to_any_convolution():
    model = nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.Conv1d(2, 2, 3))
    assert default_layers(model) == (['0', '2'], 'conv')


def test_no_automatic_choice_is_an_error():
    model = nn.Sequential(nn.ReLU(), nn.Flatten())
    assert default_layers(model) == ([], 'none')
    with pytest.raises(ValueError, match='could not choose the layers of '
                       'Sequential automatically'):
        select_layers(model)
    with pytest.raises(ValueError, match='could not choose'):
        select_layers(model, 1)
    assert select_layers(model, ['1']) == ['1']


def test_explicit_names_keep_their_order():
    assert select_layers(vgg_like(), ['4', '0', '8']) == ['4', '0', '8']
    assert select_layers(vgg_like(), '8') == ['8']


def test_explicit_types():
    assert select_layers(vgg_like(), nn.ReLU) == ['2', '6']
    assert select_layers(vgg_like(), (nn.Linear, nn.MaxPool2d)) == ['3', '8']
    with pytest.raises(ValueError, match="no module of type .*Conv3d"):
        select_layers(vgg_like(), nn.Conv3d)


def test_timm_style_indices():
    model = ResNetLike()
    assert select_layers(model, 2) == ['layer1.1', 'layer2.0']
    assert select_layers(model, 4) == select_layers(model)
    assert select_layers(model, [0, -1]) == ['conv1', 'layer2.0']
    assert select_layers(model, [-4, 3]) == ['conv1', 'layer2.0']
    assert select_layers(model, (1, -1)) == ['layer1.0', 'layer2.0']


def test_index_out_of_range_names_it():
    model = ResNetLike()
    with pytest.raises(ValueError, match=r"'layers' must be between 1 and 4 "
                       r".*\(got 0\)"):
        select_layers(model, 0)
    with pytest.raises(ValueError, match=r"\(got 5\)"):
        select_layers(model, 5)
    with pytest.raises(ValueError, match=r"index 4 in 'layers' is out of "
                       r"range for 4 default layers \(valid: -4..3\)"):
        select_layers(model, [0, 4])
    with pytest.raises(ValueError, match=r"index -5 in 'layers'"):
        select_layers(model, [-5])


def test_unknown_name_lists_valid_names_and_hint():
    with pytest.raises(ValueError) as info:
        select_layers(vgg_like(), ['0', 'conv9'])
    message = str(info.value)
    assert "unknown layer name(s) ['conv9']" in message
    assert "valid names: ['0', '1', '2', '3', '4', '5', '6', '7', '8']" in \
        message
    assert 'list_layers(model)' in message


def test_unknown_name_message_is_truncated_for_big_models():
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(30)])
    with pytest.raises(ValueError, match=r"'19', \.\.\. \(10 more\)"):
        select_layers(model, 'x')


def test_empty_mixed_and_bad_selections():
    with pytest.raises(ValueError, match=r"'layers' must not be empty"):
        select_layers(vgg_like(), [])
    with pytest.raises(TypeError, match="only names or only integer"):
        select_layers(vgg_like(), ['0', 1])
    with pytest.raises(TypeError, match=r"'layers' must be None.*float 1\.5"):
        select_layers(vgg_like(), 1.5)
    with pytest.raises(TypeError, match=r"bool True"):
        select_layers(vgg_like(), True)
    with pytest.raises(ValueError, match=r"selects \['0'\] more than once"):
        select_layers(vgg_like(), ['0', '4', '0'])
    with pytest.raises(ValueError, match="after moving to the activations"):
        select_layers(vgg_like(), ['0', '2'], post_activation=True)
    with pytest.raises(TypeError, match="'model' must be a torch.nn.Module"):
        select_layers(lambda x: x)


def test_post_activation_warns_when_no_activation_module_follows():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3), nn.ReLU())
    with pytest.warns(UserWarning, match="no activation module follows "
                      "layer '0'"):
        assert select_layers(model, post_activation=True) == ['0', '2']
    # An activation selected on its own is kept as it is.
    assert select_layers(model, ['2'], post_activation=True) == ['2']


@pytest.fixture(scope='module')
def project_models():
    models = pytest.importorskip('pyg_dnnmod.models')
    if not hasattr(models, 'get_model'):
        pytest.skip('pyg_dnnmod.models.get_model is not available')
    return models


def test_project_resnet20_default_selection(project_models):
    model = project_models.get_model('resnet20')
    blocks = [f'layer{i}.{j}' for i in (1, 2, 3) for j in range(3)]
    assert select_layers(model) == ['conv1'] + blocks


def test_project_vgg11_default_selection(project_models):
    model = project_models.get_model('vgg11')
    names = select_layers(model)
    assert len(names) == 8  # VGG11 has 1 + 1 + 2 + 2 + 2 convolutions
    assert all(isinstance(model.get_submodule(n), nn.Conv2d) for n in names)
    assert names == [n for n, m in model.named_modules()
                     if isinstance(m, nn.Conv2d)]
    after = select_layers(model, post_activation=True)
    assert all(isinstance(model.get_submodule(n), nn.ReLU) for n in after)
