import pytest
import torch

from pyg_dnnmod.models import (
    Normalize,
    get_input_shape,
    get_model,
    list_models,
)

CIFAR_RESNET152 = ['resnet152'] + [
    f'resnet152_{r}' for r in (5, 11, 16, 21, 26, 30)
]
IMAGENET = [f'resnet{d}_imagenet' for d in (18, 34, 50, 101, 152)] + [
    f'resnet152_{r}_imagenet' for r in (5, 11, 16, 21, 26, 30)
]
EXPECTED = sorted(
    ['vgg11', 'vgg13', 'vgg16', 'vgg19'] +
    [f'vgg19_{i}' for i in range(1, 7)] + [f'vgg11_{i}' for i in range(1, 4)]
    + [f'resnet{d}' for d in (18, 34, 50, 101)] + CIFAR_RESNET152 +
    [f'resnet{d}' for d in (20, 32, 44, 56, 110)] + IMAGENET +
    [f'resnet{d}a' for d in (20, 32, 44, 56, 110)] +
    ['lenet5', 'alexnet', 'digits_cnn', 'digits_deep_cnn',
     'digits_deep_resnet', 'mnist_lenet5', 'vit_tiny'])


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_list_models():
    assert list_models() == EXPECTED


def forward(name, batch):
    model = get_model(name, num_classes=7).eval()
    with torch.no_grad():
        out = model(torch.rand(batch, *get_input_shape(name)))
    assert out.shape == (batch, 7)
    assert bool(torch.isfinite(out).all())
    assert isinstance(model.normalize, Normalize)


@pytest.mark.parametrize('name', [
    n for n in EXPECTED if n not in IMAGENET and n not in CIFAR_RESNET152
])
def test_forward_cifar_and_small(name, one_thread):
    forward(name, batch=2)


@pytest.mark.parametrize('name', CIFAR_RESNET152)
def test_forward_cifar_resnet152(name, one_thread):
    forward(name, batch=1)


@pytest.mark.slow
@pytest.mark.parametrize('name', IMAGENET)
def test_forward_imagenet(name, one_thread):
    forward(name, batch=1)


def test_input_shapes():
    assert get_input_shape('vgg19_6') == (3, 32, 32)
    assert get_input_shape('ResNet152_30_ImageNet') == (3, 224, 224)
    assert get_input_shape('digits_cnn') == (1, 16, 16)


def test_names_are_case_insensitive_and_kwargs_pass_through():
    model = get_model('  VGG11_3 ', num_classes=3, width=0.25, in_channels=1)
    assert model.convs_per_block == (1, 1, 1, 1, 1)
    assert model.features[0].in_channels == 1
    assert model.features[0].out_channels == 16
    assert model.classifier[-1].out_features == 3
    model = get_model('ResNet56', width=0.5)
    assert model.num_blocks == (9, 9, 9) and model.conv1.out_channels == 8
    assert get_model('resnet152_11_imagenet', width=0.125).stem == 'imagenet'


@pytest.mark.parametrize('name', ['lenet5', 'digits_cnn', 'resnet20'])
def test_normalization_lives_inside_the_model(name):
    torch.manual_seed(0)
    shape = get_input_shape(name)
    mean, std = [0.3] * shape[0], [0.2] * shape[0]
    model = get_model(name, mean=mean, std=std).eval()
    plain = get_model(name).eval()
    plain.load_state_dict(model.state_dict())
    x = torch.rand(2, *shape)
    assert torch.allclose(model(x), plain((x - 0.3) / 0.2), atol=1e-5)


def test_unknown_name():
    with pytest.raises(ValueError, match=r"Unknown model 'vgg20'.*Did you "
                       r"mean .*'vgg19'.*Valid names: .*digits_cnn"):
        get_model('vgg20')
    with pytest.raises(ValueError, match=r"Unknown model 'resnet152_7'"):
        get_input_shape('resnet152_7')
    with pytest.raises(TypeError, match=r"'name' must be a str \(got int\)"):
        get_model(19)
    with pytest.raises(ValueError, match=r"'num_classes' must be >= 1 "
                       r"\(got 0\)"):
        get_model('lenet5', num_classes=0)
    with pytest.raises(TypeError, match=r"unexpected keyword argument"):
        get_model('lenet5', depth=3)


DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', ['digits_cnn', 'resnet20', 'vgg11_3'])
def test_forward_on_device(name, device):
    shape = get_input_shape(name)
    model = get_model(name, mean=[0.5] * shape[0], std=[0.25] * shape[0])
    model = model.to(device).eval()
    assert model.normalize.mean.device.type == device
    with torch.no_grad():
        out = model(torch.rand(2, *shape, device=device))
    assert out.shape == (2, 10) and out.device.type == device


def test_width_suffix_scales_the_channels():
    assert get_model('vgg16@0.25').cfg == get_model('vgg16', width=0.25).cfg
    assert get_model('resnet20a@2', width=0.5).conv1.out_channels == 16
    for bad in ('vgg16@', 'vgg16@0', 'vgg16@-1', 'vgg16@nan', 'vgg16@x'):
        with pytest.raises(ValueError, match="The width after '@' must be a "
                           "positive number"):
            get_model(bad)
