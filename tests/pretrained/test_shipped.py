"""The shipped trained networks: checksums, accuracy measured again on real
data, and clear errors for damaged files and the wrong data."""
import shutil

import pytest
import torch

from pyg_dnnmod.datasets import load_dataset
from pyg_dnnmod.io import DamagedFileError, file_digest
from pyg_dnnmod.pretrained import (
    PRETRAINED,
    describe_pretrained,
    list_pretrained,
    load_model,
    load_pretrained,
    pretrained_path,
)
from pyg_dnnmod.pretrained import shipped

OURS = [n for n, e in PRETRAINED.items() if e.source == 'pyg_dnnmod']
LENETS = ['lenet5-mnist-clean', 'lenet5-mnist-advtrained']
MAX_BYTES = 5 * 2**20


def _accuracy(model, data, batch_size=1000):
    correct = 0
    with torch.no_grad():
        for i in range(0, len(data.labels), batch_size):
            x = data.inputs[i:i + batch_size]
            correct += int((model(x).argmax(1)
                            == data.labels[i:i + batch_size]).sum())
    return correct / len(data.labels)


CNNS = ['resnet20a-fashion-mnist', 'vgg16-fashion-mnist']
# The lowest test accuracy each shipped network of ours must reach.
FLOORS = {'resnet20a-fashion-mnist': 0.90, 'vgg16-fashion-mnist': 0.90,
          'vit-fashion-mnist': 0.82}


def test_registry_lists_our_fashion_models_and_advertorchs_lenets():
    assert list_pretrained() == OURS + LENETS
    assert OURS == CNNS + ['vit-fashion-mnist']
    assert [PRETRAINED[n].architecture for n in OURS] == \
        ['resnet20a', 'vgg16@0.25', 'vit_tiny']
    table = describe_pretrained()
    assert list(table.index) == list_pretrained()
    assert table.loc['resnet20a-fashion-mnist', 'parameters'] == 269434
    assert table.loc['vit-fashion-mnist', 'parameters'] == 272906
    for name in OURS:
        assert table.loc[name, 'test_acc'] >= FLOORS[name]


@pytest.mark.parametrize('name', list(PRETRAINED))
def test_every_file_has_its_recorded_checksum(name):
    path = pretrained_path(name)
    assert file_digest(path) == PRETRAINED[name].sha256


@pytest.mark.parametrize('name', OURS)
def test_our_weights_ship_in_the_package_small_with_a_command(name):
    path = pretrained_path(name)
    assert path.parent == shipped._WEIGHTS
    assert path.stat().st_size <= MAX_BYTES
    entry = PRETRAINED[name]
    recipe = 'fashion-vit' if entry.architecture == 'vit_tiny' else \
        'fashion'
    assert entry.command == (
        f'pyg-dnnmod train --model {entry.architecture} --dataset '
        f'fashion-mnist --recipe {recipe} --threads 1 --seed 0')


@pytest.mark.parametrize('name', LENETS)
def test_advertorch_lenets_accuracy_measured_again(name):
    data = load_dataset('mnist-5k')
    model, info = load_pretrained(name, data)
    acc = _accuracy(model, data)
    assert acc == pytest.approx(PRETRAINED[name].test_acc, abs=5e-4)
    assert acc >= 0.99
    assert info['test_data'] == 'mnist-5k'


@pytest.mark.slow
@pytest.mark.parametrize('name', OURS)
def test_fashion_models_accuracy_measured_again(name):
    # The whole Fashion-MNIST test split, through the images as the data
    # source yields them (the model normalises).
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = load_dataset('fashion-mnist')
    model, _ = load_pretrained(name, data)
    acc = _accuracy(model, data)
    assert acc >= FLOORS[name]
    assert acc == pytest.approx(PRETRAINED[name].test_acc, abs=5e-4)


def _copy_weights(tmp_path, monkeypatch, name):
    folder = tmp_path / 'weights'
    folder.mkdir()
    path = folder / PRETRAINED[name].file
    shutil.copy(pretrained_path(name), path)
    monkeypatch.setattr(shipped, '_WEIGHTS', folder)
    return path


@pytest.mark.parametrize('damage', ['flip', 'truncate', 'empty'])
def test_a_damaged_weights_file_gives_a_clear_error(tmp_path, monkeypatch,
                                                    damage):
    name = OURS[0]
    path = _copy_weights(tmp_path, monkeypatch, name)
    raw = bytearray(path.read_bytes())
    if damage == 'flip':
        raw[len(raw) // 2] ^= 0xFF
    elif damage == 'truncate':
        raw = raw[:len(raw) // 3]
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedFileError, match=(
            rf"^pretrained weights '{path}' of {name} are damaged: their "
            rf"SHA-256 is [0-9a-f]{{64}}, expected "
            rf"{PRETRAINED[name].sha256}; reinstall pyg_dnnmod$")):
        load_pretrained(name)


def test_a_missing_weights_file_says_how_to_get_it(tmp_path, monkeypatch):
    name = OURS[1]
    path = _copy_weights(tmp_path, monkeypatch, name)
    path.unlink()
    with pytest.raises(FileNotFoundError, match=rf"^name={name}: its weights "
                       rf"'{path}' are not installed; reinstall pyg_dnnmod"):
        load_pretrained(name)


def test_wrong_data_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match=r"^name=resnet20a-fashion-mnist was "
                       r"trained on fashion-mnist; it reads "
                       r"data=fashion-mnist \(got data=translated-digits; "
                       r"--dataset fashion-mnist on the command line\)$"):
        load_pretrained('resnet20a-fashion-mnist',
                        load_dataset('translated-digits'))
    with pytest.raises(ValueError, match=r"^'name' must be one of "):
        load_pretrained('resnet20')


def test_load_model_takes_shipped_names_and_their_random_init():
    data = load_dataset('mnist-5k')
    model, info = load_model('lenet5-mnist-clean', data)
    assert (info['init'], info['weights'], info['architecture']) == \
        ('trained', 'shipped', 'mnist_lenet5')
    fresh, info = load_model('lenet5-mnist-clean', data, random_init=True)
    assert info['init'] == 'random'
    assert _accuracy(model, data) >= 0.99
    assert _accuracy(fresh, data) < 0.3
    with pytest.raises(ValueError, match=r"has 10 outputs \(got "
                       r"num_classes=3\)"):
        load_model('lenet5-mnist-clean', data, num_classes=3)


def test_train_recipes_by_name():
    from pyg_dnnmod.pretrained import (
        FASHION_RECIPE,
        TRAIN_RECIPES,
        VIT_FASHION_RECIPE,
        default_augment,
        default_train_recipe,
        train_config,
    )
    from pyg_dnnmod.training import TrainConfig
    assert list(TRAIN_RECIPES) == ['paper', 'digits', 'fashion',
                                   'fashion-vit']
    assert train_config('fashion') == TrainConfig(**FASHION_RECIPE)
    vit = train_config('fashion-vit')
    assert vit == TrainConfig(**VIT_FASHION_RECIPE)
    assert (vit.optimizer, vit.lr, vit.weight_decay, vit.epochs,
            vit.milestones, vit.batch_size) == ('adamw', 0.001, 0.05, 15,
                                                (10, 13), 128)
    assert train_config('fashion').milestones == (5, 8)
    assert train_config('paper') == TrainConfig()
    assert train_config('digits', epochs=3).epochs == 3
    assert [default_train_recipe(d) for d in (
        'translated-digits', 'fashion-mnist', 'mnist-5k', 'cifar10')] == [
            'digits', 'fashion', 'fashion', 'paper']
    assert [default_augment(d) for d in (
        'cifar10', 'fashion-mnist', 'folder', 'mnist', 'digits')] == [
            True, True, True, False, False]
    with pytest.raises(ValueError, match="unknown training recipe 'x'"):
        train_config('x')
