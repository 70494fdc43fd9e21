import pytest
import torch

from pyg_dnnmod.pretrained import (
    DIGITS_RECIPE,
    digits_data,
    pretrained_digits_cnn,
    recipe_key,
)


def test_data_halves():
    x_tr, y_tr = digits_data('train')
    x_te, y_te = digits_data('test')
    assert x_tr.shape[1:] == x_te.shape[1:] == (1, 16, 16)
    assert len(x_tr) + len(x_te) == 1797
    assert float(x_te.min()) >= 0.0 and float(x_te.max()) <= 1.0
    assert torch.bincount(y_te).min() >= 50  # N=500 balanced fits


def test_cached_model_is_reused_and_a_bad_file_is_not(trained_digits,
                                                      default_cache):
    model, info = trained_digits
    again, info2 = pretrained_digits_cnn()
    assert info2['cached'] and info2['path'] == info['path']
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert recipe_key() in info['path']
    # A corrupted cache file is retrained, with a warning, never reused.
    other = default_cache / 'other'
    other.mkdir()
    path = other / f'digits_cnn_{recipe_key()}.pt'
    path.write_bytes(b'not a checkpoint')
    with pytest.warns(UserWarning, match='unusable'):
        fresh, info3 = pretrained_digits_cnn(cache=other)
    assert not info3['cached'] and info3['test_acc'] >= 0.9
    assert DIGITS_RECIPE['epochs'] == info3['epochs']


# --- a model by spec with its weights (pyg_dnnmod.pretrained.load) ----------

FACTORY = '''
import torch
from torch import nn


def build():
    torch.manual_seed(5)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten())
'''


@pytest.fixture(scope='module')
def digits():
    from pyg_dnnmod.datasets import load_dataset
    return load_dataset('translated-digits')


def test_default_architecture_is_the_default_model(digits):
    # build_model on the default data gives the embedded default's exact
    # architecture and init, so its checkpoints fit either way.
    from pyg_dnnmod.models import build_model
    from pyg_dnnmod.pretrained import digits_model

    built = build_model(DIGITS_RECIPE['model'], data=digits,
                        seed=DIGITS_RECIPE['seed'])
    reference = digits_model(seed=DIGITS_RECIPE['seed'])
    assert built.state_dict().keys() == reference.state_dict().keys()
    for a, b in zip(built.state_dict().values(),
                    reference.state_dict().values()):
        assert torch.equal(a, b)


def test_is_default_model(digits):
    from pyg_dnnmod.datasets import load_dataset
    from pyg_dnnmod.pretrained import DEFAULT_MODEL, is_default_model

    assert DEFAULT_MODEL == 'digits_cnn'
    assert is_default_model(' Digits_CNN', digits)
    assert is_default_model('digits_cnn', digits, num_classes=10)
    assert not is_default_model('digits_cnn', digits, num_classes=5)
    assert not is_default_model('vgg11', digits)
    assert not is_default_model('digits_cnn', load_dataset('digits'))


def test_load_model_default_random_and_checkpoint(trained_digits, digits,
                                                   tmp_path):
    from pyg_dnnmod.pretrained import load_model

    trained, _ = trained_digits
    model, info = load_model('digits_cnn', digits)
    assert (info['init'], info['weights'], info['kind']) == (
        'trained', 'pretrained default', 'name')
    assert info['cached'] and info['test_acc'] >= 0.9 and not model.training
    for a, b in zip(model.state_dict().values(),
                    trained.state_dict().values()):
        assert torch.equal(a, b)

    random, info = load_model('digits_cnn', digits, random_init=True, seed=2)
    assert info['weights'] == 'random init (seed 2)'
    assert not torch.equal(random.fc.weight, trained.fc.weight)

    path = tmp_path / 'weights.pt'
    torch.save(random.state_dict(), path)
    loaded, info = load_model('digits_cnn', digits, checkpoint=path)
    assert info == dict(spec='digits_cnn', kind='name', checkpoint=str(path),
                        init='trained', weights='checkpoint')
    assert torch.equal(loaded.fc.weight, random.fc.weight)


def test_load_model_of_a_factory(tmp_path, monkeypatch):
    from pyg_dnnmod.datasets import load_dataset
    from pyg_dnnmod.pretrained import load_model

    (tmp_path / 'my_loaded_nets.py').write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    data = load_dataset('synthetic', shape=(1, 8, 8))
    model, info = load_model('my_loaded_nets:build', data)
    assert (info['kind'], info['weights']) == ('factory',
                                               'as returned by the factory')
    random, info = load_model('my_loaded_nets:build', data, random_init=True)
    assert info['init'] == 'random'
    assert not torch.equal(model[0].weight, random[0].weight)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(spec='digits_deep_cnn', data='translated-digits'), ValueError,
     r"^spec=digits_deep_cnn has no trained weights here: pass "
     r"checkpoint=FILE .* or random_init=True for the untrained model$"),
    (dict(spec='digits_cnn', data='digits'), ValueError,
     r"^spec=digits_cnn has no trained weights here \(the default "
     r"digits_cnn is trained only for data=translated-digits\): pass "
     r"checkpoint=FILE"),
    (dict(spec='vgg99', data='digits'), ValueError,
     r"^'spec': Unknown model 'vgg99'"),
    (dict(spec='digits_cnn', data='digits', random_init=True,
          num_classes=0), ValueError, r"'num_classes' must be >= 1"),
    (dict(spec='digits_cnn', data='translated-digits',
          checkpoint='/no/such.pt'), FileNotFoundError,
     r"^checkpoint='/no/such.pt' does not exist"),
    (dict(spec='digits_cnn', data='translated-digits',
          checkpoint='{linear}'), ValueError,
     r"^'checkpoint': checkpoint '.*linear.pt' does not fit the model: "
     r"missing keys: .* Pass the 'spec' \(and 'data' or 'num_classes'\) it "
     r"was trained with \(spec=digits_cnn\)$"),
    (dict(spec='lenet5', data='synthetic', random_init=True,
          num_classes=3, shape=(1, 8, 8)), ValueError,
     r"^spec=lenet5: 'input_size' must be >= 12 \(got 8\)"),
])
def test_load_model_errors(tmp_path, kwargs, error, message):
    from pyg_dnnmod.datasets import load_dataset
    from pyg_dnnmod.pretrained import load_model

    linear = tmp_path / 'linear.pt'
    torch.save(torch.nn.Linear(2, 3).state_dict(), linear)
    kwargs = dict(kwargs)
    data = load_dataset(kwargs.pop('data'), shape=kwargs.pop('shape', None))
    if 'checkpoint' in kwargs:
        kwargs['checkpoint'] = kwargs['checkpoint'].format(linear=linear)
    with pytest.raises(error, match=message):
        load_model(data=data, **kwargs)


def test_load_model_needs_a_data_source():
    from pyg_dnnmod.pretrained import load_model

    with pytest.raises(TypeError, match=r"'data' must be a DataSource"):
        load_model('digits_cnn', 'translated-digits')


def test_load_weights(tmp_path):
    from pyg_dnnmod.models import NormalizedModel
    from pyg_dnnmod.pretrained import load_weights
    from pyg_dnnmod.training import save_checkpoint

    net = torch.nn.Linear(2, 3)
    path = save_checkpoint({'model': net.state_dict(), 'epoch': 4,
                            'history': [{'epoch': 4, 'test_acc': 0.5}]},
                           tmp_path / 'epoch_004.pt')
    model = torch.nn.Linear(2, 3)
    assert load_weights(model, path) == dict(checkpoint=str(path), epoch=4,
                                             test_acc=0.5)
    assert torch.equal(model.weight, net.weight)
    # A bare state_dict of the inner network fits the wrapped model.
    bare = tmp_path / 'bare.pt'
    torch.save(net.state_dict(), bare)
    wrapped = NormalizedModel(torch.nn.Linear(2, 3), mean=0.5, std=0.5)
    load_weights(wrapped, bare)
    assert torch.equal(wrapped.model.weight, net.weight)
    with pytest.raises(ValueError, match=r"does not fit the model"):
        load_weights(torch.nn.Linear(2, 4), bare)
