import copy
import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pyg_dnnmod.models import get_model
from pyg_dnnmod.pruning import complexity, complexity_table, remove_layers

torch.set_num_threads(1)

with warnings.catch_warnings():
    # thop compares versions with distutils' deprecated LooseVersion.
    warnings.simplefilter('ignore', DeprecationWarning)
    import thop


def thop_direct(model, shape):
    # thop as one would call it by hand, on a copy (it changes the module).
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        macs, params = thop.profile(copy.deepcopy(model),
                                    inputs=(torch.zeros(1, *shape), ),
                                    verbose=False)
    return int(macs), int(params)


@pytest.fixture(scope='module')
def vgg19():
    torch.manual_seed(0)
    return get_model('vgg19')


@pytest.mark.parametrize('name', ['resnet56', 'vgg19'])
def test_agrees_with_thop_direct_and_flop_counter(name, vgg19):
    model = vgg19 if name == 'vgg19' else get_model(name)
    with warnings.catch_warnings():
        warnings.simplefilter('error', UserWarning)
        c = complexity(model, (3, 32, 32))
    macs, params = thop_direct(model, (3, 32, 32))
    assert (c['MACs'], c['params']) == (macs, params)
    assert c['FLOPs'] == 2 * macs
    assert c['params'] == sum(p.numel() for p in model.parameters())
    # FlopCounterMode counts 2 FLOPs per conv/linear multiply-accumulate.
    assert c['flop_counter_FLOPs'] == 2 * c['conv_linear_MACs']
    # BatchNorm and pooling make up the rest of thop's count.
    assert 0 < c['MACs'] - c['conv_linear_MACs'] < 0.05 * c['MACs']


def test_vgg19_macs_by_hand(vgg19):
    # conv MACs = H * W * 9 * c_in * c_out per conv, at 32, 16, 8, 4, 2:
    convs = (32 * 32 * 9 * (3 * 64 + 64 * 64)
             + 16 * 16 * 9 * (64 * 128 + 128 * 128)
             + 8 * 8 * 9 * (128 * 256 + 3 * 256 * 256)
             + 4 * 4 * 9 * (256 * 512 + 3 * 512 * 512)
             + 2 * 2 * 9 * (4 * 512 * 512))
    linears = 512 * 512 + 512 * 512 + 512 * 10
    c = complexity(vgg19, (3, 32, 32))
    assert c['conv_linear_MACs'] == convs + linears == 398_660_608


def test_small_model_every_term_by_hand():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    c = complexity(model, (3, 8, 8))
    # conv 4 * 8 * 8 * 3 * 9 = 6,912; affine BatchNorm 2 * 2 * 256 = 1,024
    # (thop's rule); ReLU 0; average pooling (64 + 1) * 4 = 260; linear 8.
    assert c['MACs'] == 6_912 + 1_024 + 260 + 8
    assert c['conv_linear_MACs'] == 6_912 + 8
    assert c['flop_counter_FLOPs'] == 2 * 6_920
    assert c['params'] == 112 + 8 + 10


def test_profiles_a_copy():
    model = get_model('resnet20').train()
    buffers = [name for name, _ in model.named_buffers()]
    complexity(model, (3, 32, 32))
    assert model.training
    assert [name for name, _ in model.named_buffers()] == buffers
    assert not any(hasattr(m, 'total_ops') for m in model.modules())


def test_cross_check_warns_about_functional_ops():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(2, 1, 3, 3))
            self.fc = nn.Linear(2 * 4 * 4, 3)

        def forward(self, x):
            return self.fc(F.conv2d(x, self.weight, padding=1).flatten(1))

    with pytest.warns(UserWarning, match=r"FlopCounterMode counts 768 .* "
                      r"2 x 96 MACs = 192"):
        c = complexity(Functional(), (1, 4, 4))
    # thop misses the functional conv (2 * 16 * 9 = 288 MACs).
    assert (c['MACs'], c['flop_counter_FLOPs']) == (96, 2 * (288 + 96))
    assert complexity(Functional(), (1, 4, 4),
                      cross_check=False)['flop_counter_FLOPs'] is None


def test_complexity_table_reductions(vgg19):
    pruned = remove_layers(vgg19, 'features.49')
    table = complexity_table({'vgg19': vgg19, 'vgg19_1': pruned},
                             (3, 32, 32))
    assert list(table.columns) == ['params', 'MACs', 'FLOPs',
                                   'params_reduction_%', 'FLOPs_reduction_%']
    assert table.index.tolist() == ['vgg19', 'vgg19_1']
    assert table.loc['vgg19', 'params_reduction_%'] == 0.0
    # One 512 -> 512 triple: 2,360,832 parameters; at 2 x 2 its conv does
    # 4 * 9 * 512 * 512 = 9,437,184 MACs and its BatchNorm 2 * 2 * 2,048.
    params, macs = table.loc['vgg19', 'params'], table.loc['vgg19', 'MACs']
    assert params - table.loc['vgg19_1', 'params'] == 2_360_832
    assert macs - table.loc['vgg19_1', 'MACs'] == 9_437_184 + 8_192
    assert table.loc['vgg19_1', 'params_reduction_%'] == pytest.approx(
        100 * 2_360_832 / params)
    assert table.loc['vgg19_1', 'FLOPs_reduction_%'] == pytest.approx(
        100 * (9_437_184 + 8_192) / macs)


def test_complexity_table_from_dicts():
    rows = {'a': {'params': 100, 'MACs': 40, 'FLOPs': 80},
            'b': {'params': 25, 'MACs': 30, 'FLOPs': 60}}
    table = complexity_table(rows)
    assert table['params_reduction_%'].tolist() == [0.0, 75.0]
    assert table['FLOPs_reduction_%'].tolist() == [0.0, 25.0]
    zero = complexity_table({'a': {'params': 0, 'MACs': 0, 'FLOPs': 0}})
    assert math.isnan(zero['FLOPs_reduction_%'].iloc[0])


def test_bad_input():
    with pytest.raises(ValueError, match=r"'input_shape' .* \(got \(3, 0, "
                       r"32\)\)"):
        complexity(nn.Linear(2, 2), (3, 0, 32))
    with pytest.raises(ValueError, match="'input_shape'"):
        complexity(nn.Linear(2, 2), 2)
    with pytest.raises(TypeError, match="'model' must be a torch.nn.Module"):
        complexity('vgg19', (3, 32, 32))
    with pytest.raises(ValueError, match="'models' must be a non-empty"):
        complexity_table({})
    with pytest.raises(ValueError, match="'input_shape' is needed"):
        complexity_table({'a': nn.Linear(2, 2)})
    with pytest.raises(TypeError, match=r"'models\['a'\]' must be"):
        complexity_table({'a': 3})


@pytest.mark.parametrize('shape,match', [
    ((1.0, 4, 4), r"positive integers .*\(got \(1.0, 4, 4\)\)"),
    ((0, 4, 4), r"positive integers .*\(got \(0, 4, 4\)\)"),
    ((1, -4, 4), r"positive integers .*\(got \(1, -4, 4\)\)"),
    ((), r"positive integers .*\(got \(\)\)"),
    ('144', r"positive integers .*\(got '144'\)"),
    # The model rejects these: the wrong length, channels or size.
    ((1, 4, 4, 4), r"'input_shape' \(1, 4, 4, 4\) does not fit the model"),
    ((3, 4, 4), r"'input_shape' \(3, 4, 4\) does not fit the model.* 3 "
     r"channels"),
    ((1, 5, 5), r"'input_shape' \(1, 5, 5\) does not fit the model"),
    # A Conv2d also runs unbatched, so (H, W) would pass as [1, H, W].
    ((4, 4), r"'input_shape' \(4, 4\) reaches Conv2d '0' without a batch "
     r"dimension"),
])
def test_bad_input_shape(shape, match):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    with pytest.raises(ValueError, match=match) as info:
        complexity(model, shape)
    if 'does not fit' in match:
        assert isinstance(info.value.__cause__, RuntimeError)
    # The model is untouched and still profiles its real shape.
    assert complexity(model, (1, 4, 4))['MACs'] == 384
    assert not model[0]._forward_pre_hooks
