import pytest
import torch
from torch import nn

from pyg_dnnmod.datasets import load_dataset
from pyg_dnnmod.models import (
    SPEC_KINDS,
    DigitsCNN,
    NormalizedModel,
    build_model,
    check_model_input,
    model_kind,
    reinitialize,
)

FACTORY = '''
import torch
from torch import nn


def build():
    torch.manual_seed(5)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten())


def not_a_model():
    return 'model'


NOT_CALLABLE = 3
'''


@pytest.fixture(scope='module')
def digits():
    return load_dataset('translated-digits')


@pytest.fixture
def factory(tmp_path, monkeypatch):
    (tmp_path / 'my_build_nets.py').write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    return 'my_build_nets'


def test_model_kind():
    assert [model_kind(s) for s in ('vgg16', ' torchvision:resnet18',
                                    'timm:resnet10t', 'pkg.nets:build')] == \
        list(SPEC_KINDS)
    with pytest.raises(TypeError, match=r"'spec' must be a str"):
        model_kind(None)


def test_registered_name_for_the_data(digits):
    model = build_model('digits_cnn', data=digits)
    assert isinstance(model, DigitsCNN) and model.fc.out_features == 10
    assert model.normalize.mean.flatten().tolist() == pytest.approx(
        list(digits.mean))
    # The data's image size reaches models that take one.
    data = load_dataset('synthetic', shape=(1, 64, 64))
    vgg = build_model('vgg11', data=data, num_classes=3)
    assert vgg.classifier[-1].out_features == 3
    assert vgg(torch.rand(2, 1, 64, 64)).shape == (2, 3)
    # Without data: the model's own defaults.
    assert build_model('vgg11').classifier[-1].out_features == 10


def test_seeded_and_global_state_untouched(digits):
    before = torch.random.get_rng_state()
    a = build_model('digits_cnn', data=digits, seed=3)
    b = build_model('digits_cnn', data=digits, seed=3)
    c = build_model('digits_cnn', data=digits, seed=4)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.equal(a.fc.weight, b.fc.weight)
    assert not torch.equal(a.fc.weight, c.fc.weight)


def test_torchvision_spec(digits):
    pytest.importorskip('torchvision')
    model = build_model('torchvision:resnet18', num_classes=7,
                        mean=(0.5, ), std=(0.25, ))
    assert isinstance(model, NormalizedModel)
    assert model.model.fc.out_features == 7
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 7)


def test_timm_spec(digits):
    timm = pytest.importorskip('timm')
    assert 'test_resnet' in timm.list_models()
    model = build_model('timm:test_resnet', data=digits)
    assert isinstance(model, NormalizedModel)
    assert model.model.num_classes == 10
    # in_chans follows the data: one grey channel.
    assert model(torch.rand(2, 1, 16, 16)).shape == (2, 10)
    check_model_input(model, digits)
    again = build_model('timm:test_resnet', data=digits)
    for x, y in zip(model.parameters(), again.parameters()):
        assert torch.equal(x, y)


def test_factory_spec(factory):
    model = build_model(f'{factory}:build', seed=0)
    assert isinstance(model, nn.Sequential)
    torch.manual_seed(5)
    assert torch.equal(model[0].weight, nn.Conv2d(1, 4, 3).weight)


@pytest.mark.parametrize('spec, error, message', [
    ('vgg99', ValueError, r"^'spec': Unknown model 'vgg99'.* or use "
                          r"'torchvision:<name>', 'timm:<name>' or "
                          r"'package.module:factory'$"),
    ('vgg16@0', ValueError, r"^'spec': The width after '@' must be a "
                            r"positive number \(got 'vgg16@0'"),
    ('nets:', ValueError, r"^'spec' must be a registered name, "
                          r"'torchvision:<name>', 'timm:<name>' or "
                          r"'package.module:factory' \(got 'nets:'\)$"),
    (':build', ValueError, r"^'spec' must be a registered name"),
    ('no_such_module_here:build', ValueError,
     r"^spec=no_such_module_here:build: cannot import "
     r"'no_such_module_here'"),
    ('{factory}:nothing', ValueError,
     r"^spec={factory}:nothing: '{factory}' has no callable 'nothing'"),
    ('{factory}:NOT_CALLABLE', ValueError, r"has no callable 'NOT_CALLABLE'"),
    ('{factory}:not_a_model', TypeError,
     r"^spec={factory}:not_a_model: 'not_a_model\(\)' returned a str, not a "
     r"torch.nn.Module$"),
    ('timm:no_such_net', ValueError,
     r"^spec=timm:no_such_net: timm has no model 'no_such_net'"),
])
def test_bad_specs_name_spec(digits, factory, spec, error, message):
    spec = spec.format(factory=factory)
    with pytest.raises(error, match=message.format(factory=factory)):
        build_model(spec, data=digits)


def test_bad_torchvision_spec():
    pytest.importorskip('torchvision')
    with pytest.raises(ValueError, match=r"^spec=torchvision:resnet19: "
                                         r"torchvision has no model "
                                         r"'resnet19'. Did you mean"):
        build_model('torchvision:resnet19')


def test_bad_data():
    with pytest.raises(TypeError, match=r"'data' must be a DataSource"):
        build_model('vgg11', data='digits')


def test_bad_num_classes():
    with pytest.raises(ValueError, match=r"'num_classes' must be >= 1 "
                                         r"\(got 0\)"):
        build_model('vgg11', num_classes=0)
    with pytest.raises(TypeError, match=r"'num_classes' must be an integer"):
        build_model('vgg11', num_classes=2.0)


def test_reinitialize_copies_and_seeds():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    weights = [p.clone() for p in model.parameters()]
    a, b = reinitialize(model, seed=7), reinitialize(model, seed=7)
    for p, w in zip(model.parameters(), weights):
        assert torch.equal(p, w)  # the model itself is unchanged
    for p, q, w in zip(a.parameters(), b.parameters(), weights):
        assert torch.equal(p, q) and not torch.equal(p, w)


def test_check_model_input(digits):
    model = build_model('digits_cnn', data=digits).train()
    check_model_input(model, digits)
    assert model.training  # the mode is restored
    with pytest.raises(ValueError, match=r"^'model' cannot take the digits "
                                         r"inputs of shape \[1, 8, 8\] "
                                         r"\(RuntimeError: "):
        check_model_input(nn.Linear(256, 2), load_dataset('digits'))
    with pytest.raises(ValueError, match=r"^spec=lin cannot take the inputs "
                                         r"of shape \[3\]"):
        check_model_input(nn.Linear(2, 2), torch.ones(4, 3), spec='lin')
    with pytest.raises(TypeError, match=r"'data' must be a DataSource"):
        check_model_input(model, [1, 2])


def test_model_that_cannot_take_the_data_names_spec_and_data():
    from pyg_dnnmod.datasets import load_dataset
    with pytest.raises(ValueError, match=r"^spec=lenet5: 'input_size' must "
                       r"be >= 12 \(got 8\); choose a model made for the "
                       r"digits inputs \[1, 8, 8\]$"):
        build_model('lenet5', data=load_dataset('digits'))
