"""The three ways of reading a layer (forward hooks, torchvision's FX feature
extractor, timm's forward_intermediates) agree, and torchvision's and timm's
architectures get the documented automatic choice."""
import pytest
import torch

from pyg_dnnmod.features import extract_features, select_layers
from pyg_dnnmod.typing import WITH_TORCHVISION

needs_torchvision = pytest.mark.skipif(not WITH_TORCHVISION,
                                       reason='torchvision is not usable')


def images(n: int = 3, size: int = 32) -> torch.Tensor:
    return torch.randn(n, 3, size, size,
                       generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope='module')
def resnet18():
    import torchvision
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None, num_classes=10).eval()


@needs_torchvision
def test_torchvision_resnet18_default_layers(resnet18):
    blocks = [f'layer{i}.{j}' for i in range(1, 5) for j in range(2)]
    assert select_layers(resnet18) == ['conv1'] + blocks
    assert select_layers(resnet18, post_activation=True) == ['relu'] + blocks


@needs_torchvision
def test_hooks_equal_torchvision_create_feature_extractor(resnet18):
    from torchvision.models.feature_extraction import (
        create_feature_extractor,
    )
    x = images()
    names = select_layers(resnet18)
    hooks = extract_features(resnet18, x)
    reference = create_feature_extractor(resnet18, return_nodes=names)(x)
    fx = extract_features(resnet18, x, method='fx')
    assert list(hooks) == list(fx) == names
    for name in names:
        expected = reference[name].flatten(1)
        assert torch.equal(hooks[name], expected), name
        assert torch.equal(fx[name], expected), name


@needs_torchvision
def test_fx_reads_functional_nodes(resnet18):
    x = images(2)
    fx = extract_features(resnet18, x, ['layer1.0.add', 'layer1.0.relu_1'],
                          method='fx')
    hooks = extract_features(resnet18, x, ['layer1.0'])
    # The block's output is the ReLU of the residual sum.
    assert torch.equal(fx['layer1.0.relu_1'], hooks['layer1.0'])
    assert torch.equal(fx['layer1.0.add'].clamp(min=0), hooks['layer1.0'])
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) "
                       r"\['layer1.0.add'\]"):
        extract_features(resnet18, x, ['layer1.0.add'])
    with pytest.raises(ValueError, match="module names only"):
        extract_features(resnet18, x, ['layer1.0.add'], method='fx',
                         post_activation=True)


@needs_torchvision
def test_torchvision_vgg11_automatic_choice():
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.vgg11(weights=None)
    names = select_layers(model)
    assert names == ['features.0', 'features.3', 'features.6', 'features.8',
                     'features.11', 'features.13', 'features.16',
                     'features.18']
    features = extract_features(model, images(2), post_activation=True)
    assert list(features) == ['features.1', 'features.4', 'features.7',
                              'features.9', 'features.12', 'features.14',
                              'features.17', 'features.19']
    # 32x32 inputs: 64 x 32 x 32 after the first conv, 512 x 2 x 2 last.
    assert features['features.1'].shape == (2, 64 * 32 * 32)
    assert features['features.19'].shape == (2, 512 * 2 * 2)
    assert all((f >= 0).all() for f in features.values())


@needs_torchvision
def test_torchvision_small_vit_reads_every_encoder_block():
    from torchvision.models import VisionTransformer
    torch.manual_seed(0)
    model = VisionTransformer(image_size=32, patch_size=8, num_layers=2,
                              num_heads=2, hidden_dim=16, mlp_dim=32,
                              num_classes=10)
    names = select_layers(model)
    assert names == ['encoder.layers.encoder_layer_0',
                     'encoder.layers.encoder_layer_1']
    x = images(3)
    features = extract_features(model, x)
    # Recomputed by hand: patch embedding, class token, positions, blocks.
    model.eval()
    with torch.no_grad():
        tokens = model._process_input(x)
        tokens = torch.cat([model.class_token.expand(3, -1, -1), tokens], 1)
        h0 = model.encoder.layers[0](tokens + model.encoder.pos_embedding)
        h1 = model.encoder.layers[1](h0)
    assert features[names[0]].shape == (3, 17 * 16)
    torch.testing.assert_close(features[names[0]], h0.flatten(1))
    torch.testing.assert_close(features[names[1]], h1.flatten(1))


def test_timm_resnet_hooks_equal_forward_intermediates():
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    model = timm.create_model('resnet18', pretrained=False, num_classes=10)
    x = images(2)
    modules = [f['module'] for f in model.feature_info]
    via_timm = extract_features(model, x, method='timm')
    assert list(via_timm) == modules  # act1, layer1, ..., layer4
    via_hooks = extract_features(model, x, modules)
    for name in modules:
        assert torch.equal(via_timm[name], via_hooks[name]), name
    assert list(extract_features(model, x, [-1, 1], method='timm')) == [
        'layer4', 'layer1']
    # timm's blocks are recognised as residual blocks.
    assert select_layers(model) == ['conv1'] + [
        f'layer{i}.{j}' for i in range(1, 5) for j in range(2)]


def test_timm_vit_intermediates_are_patch_tokens_of_the_blocks():
    timm = pytest.importorskip('timm')
    torch.manual_seed(0)
    model = timm.create_model('vit_tiny_patch16_224', pretrained=False,
                              img_size=32, patch_size=8, depth=2,
                              embed_dim=16, num_heads=2, num_classes=10)
    x = images(2)
    names = select_layers(model)
    assert names == ['blocks.0', 'blocks.1']
    via_hooks = extract_features(model, x)
    via_timm = extract_features(model, x, method='timm')
    assert list(via_timm) == names
    for name in names:
        tokens = via_hooks[name].view(2, 17, 16)[:, 1:]  # drop class token
        expected = tokens.transpose(1, 2).reshape(2, 16, 4, 4).flatten(1)
        torch.testing.assert_close(via_timm[name], expected)
    with pytest.raises(ValueError, match="not supported with method='timm'"):
        extract_features(model, x, method='timm', post_activation=True)
