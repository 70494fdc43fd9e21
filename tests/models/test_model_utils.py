import inspect
import pickle

import pytest
import torch
from torch import nn

from pyg_dnnmod.models import (
    VGG,
    ResNet,
    get_model,
    resnet18,
    resnet20,
    resnet152,
    vgg11,
    vgg19,
)
from pyg_dnnmod.models._utils import (
    check_convs_per_block,
    check_model_args,
    dropout_mlp,
    flatten_features,
    named_constructor,
)
from pyg_dnnmod.models.resnet import CIFAR_RESNETS, RESNET_LAYOUTS, RESNETS


@pytest.mark.parametrize('fn, module, returns', [
    (vgg11, 'pyg_dnnmod.models.vgg', VGG),
    (vgg19, 'pyg_dnnmod.models.vgg', VGG),
    (resnet18, 'pyg_dnnmod.models.resnet', ResNet),
    (resnet152, 'pyg_dnnmod.models.resnet', ResNet),
    (resnet20, 'pyg_dnnmod.models.resnet', ResNet),
])
def test_named_constructors_look_hand_written(fn, module, returns):
    assert fn.__module__ == module and fn.__qualname__ == fn.__name__
    returned = f'{module}.{returns.__name__}'
    assert str(inspect.signature(fn)) == \
        f'(num_classes: int = 10, **kwargs: Any) -> {returned}'
    # Pickled by name, as a def'd function is.
    assert pickle.loads(pickle.dumps(fn)) is fn
    doc = inspect.getdoc(fn)
    assert doc.startswith('CIFAR ') and '>>> ' in doc
    assert 'Example:' in doc


def test_named_constructors_build_the_registered_models():
    assert [fn.__name__ for fn in RESNETS] == [
        f'resnet{depth}' for depth in RESNET_LAYOUTS]
    assert [fn.__name__ for fn in CIFAR_RESNETS] == [
        'resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet110',
        'resnet20a', 'resnet32a', 'resnet44a', 'resnet56a', 'resnet110a']
    for fn in RESNETS + CIFAR_RESNETS + (vgg11, vgg19):
        torch.manual_seed(0)
        a = fn(num_classes=3, width=0.125)
        torch.manual_seed(0)
        b = get_model(fn.__name__, num_classes=3, width=0.125)
        assert type(a) is type(b)
        sa, sb = a.state_dict(), b.state_dict()
        assert list(sa) == list(sb)
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert resnet18(stem='imagenet').stem == 'imagenet'
    assert RESNET_LAYOUTS[101] == ('bottleneck', (3, 4, 23, 3))


def test_named_constructor_passes_arguments():
    calls = []

    def build(**kwargs):
        calls.append(kwargs)
        return nn.Identity()

    make = named_constructor(__name__, 'make', build, nn.Identity,
                             'Makes an identity with a summary long enough '
                             'to wrap, and a role :obj:`(1, 2, 3, 4, 5, 6)` '
                             'that must stay on one line.', 'make()',
                             'Identity()')
    make()
    make(5, a=1)
    assert calls == [{'num_classes': 10}, {'num_classes': 5, 'a': 1}]
    lines = make.__doc__.split('\n')
    assert all(len(line) <= 79 for line in lines)
    assert any(':obj:`(1, 2, 3, 4, 5, 6)`' in line for line in lines)
    assert lines[-4:] == ['    Example:', '        >>> make()',
                          '        Identity()', '    ']


def test_checks():
    assert check_model_args(3, 1, 2) == 2.0
    with pytest.raises(ValueError, match=r"'num_classes' must be >= 1"):
        check_model_args(0, 1, 1.0)
    with pytest.raises(TypeError, match=r"'in_channels' must be an int"):
        check_model_args(1, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"'width' must be > 0"):
        check_model_args(1, 1, 0.0)
    assert check_convs_per_block([1, 2], [8, 16]) == (1, 2)
    with pytest.raises(ValueError, match=r"^'convs_per_block' and 'channels' "
                       r"must have the same length \(got \(1,\) and "
                       r"\(8, 16\)\)$"):
        check_convs_per_block([1], [8, 16])
    with pytest.raises(ValueError, match=r"'convs_per_block' must be >= 1 "
                       r"\(got 0\)"):
        check_convs_per_block([1, 0], [8, 16])


def test_dropout_mlp_and_flatten_features():
    head = dropout_mlp(8, 4, 3, 0.25)
    assert list(head.state_dict()) == [
        '1.weight', '1.bias', '4.weight', '4.bias', '6.weight', '6.bias']
    assert head[0].p == head[3].p == 0.25
    x = torch.rand(2, 2, 2, 2)
    assert torch.equal(flatten_features(x, head[1], 'Net', 8),
                       x.reshape(2, 8))
    # Only a linear first layer is checked.
    assert flatten_features(x, nn.Identity(), 'Net', 8).shape == (2, 8)
    with pytest.raises(ValueError, match=r"^Net expects 16x16 inputs; its "
                       r"features gave 8 values instead of 4$"):
        flatten_features(x, nn.Linear(4, 3), 'Net', 16)
