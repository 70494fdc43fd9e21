import pickle

import numpy as np
import pytest
import torch

from pyg_dnnmod.datasets import (
    DEFAULT_DATASET,
    TRANSLATED_DIGITS,
    TRANSLATED_DIGITS_MEAN,
    DataSource,
    list_datasets,
    load_dataset,
)


def test_list_datasets():
    assert list_datasets() == ['translated-digits', 'digits', 'cifar10',
                               'cifar100', 'imagenet50', 'fashion-mnist',
                               'mnist', 'mnist-5k', 'synthetic', 'folder']
    assert DEFAULT_DATASET in list_datasets()


def test_translated_digits_are_the_default_models_data():
    from pyg_dnnmod.pretrained import DIGITS_DATA, digits_data

    assert TRANSLATED_DIGITS == DIGITS_DATA
    for split in ('train', 'test'):
        data = load_dataset('translated-digits', split=split)
        x, y = digits_data(split)
        assert torch.equal(data.inputs, x) and torch.equal(data.labels, y)
        assert (data.name, data.split, data.num_classes) == (
            'translated-digits', split, 10)
        assert data.input_shape == (1, 16, 16)
        assert data.mean == TRANSLATED_DIGITS_MEAN
    described = load_dataset('translated-digits').describe()
    assert described == dict(name='translated-digits',
                             title='translated digits', split='test',
                             num_samples=898, num_classes=10,
                             input_shape=[1, 16, 16], **DIGITS_DATA)


def test_plain_digits_halves():
    train, test = load_dataset('digits', split='train'), load_dataset('digits')
    assert train.input_shape == test.input_shape == (1, 8, 8)
    assert len(train.labels) + len(test.labels) == 1797
    assert test.info == dict(test_fraction=0.5, seed=0)


def test_synthetic_shaped_as_asked():
    data = load_dataset('synthetic', shape=(1, 16, 16))
    assert data.inputs.shape == (1000, 1, 16, 16)
    assert data.input_shape == (1, 16, 16) and data.mean == (0.5, )
    assert torch.bincount(data.labels).tolist() == [100] * 10
    assert data.info == dict(separation=3.0, grid=4, seed=0, template_seed=0)
    train = load_dataset('synthetic', split='train', shape=(1, 16, 16))
    assert train.info['seed'] == 1
    assert not torch.equal(train.inputs, data.inputs)
    assert load_dataset('synthetic').input_shape == (3, 32, 32)


def test_cifar10_from_a_local_folder(tmp_path):
    folder = tmp_path / 'cifar-10-batches-py'
    folder.mkdir()
    images = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    with open(folder / 'test_batch', 'wb') as f:
        pickle.dump({'data': images, 'labels': [3, 7]}, f)
    data = load_dataset('cifar10', root=tmp_path)
    assert data.title == 'CIFAR-10' and data.labels.tolist() == [3, 7]
    assert data.inputs.shape == (2, 3, 32, 32) and data.input_shape == (3, 32,
                                                                        32)
    assert data.info == dict(root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="CIFAR-10 not found"):
        load_dataset('cifar10', root=tmp_path, split='train')


def test_data_source_helpers():
    x = torch.arange(12.).view(3, 1, 2, 2)
    y = torch.tensor([0, 1, 0])
    data = DataSource('mine', 'my data', 'test', x, y, 2, (1, 2, 2))
    assert data.in_memory and data.as_data() == (x, y)
    assert torch.equal(data.take(torch.tensor([2, 0])), x[[2, 0]])
    lazy = DataSource('mine', 'my data', 'test', list(zip(x, y)), y, 2,
                      (1, 2, 2))
    assert not lazy.in_memory and lazy.as_data() is lazy.inputs
    assert torch.equal(lazy.take(torch.tensor([2, 0])), x[[2, 0]])


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(name='kmnist'), ValueError, r"'name' must be one of "
                                      r"translated-digits, digits"),
    (dict(name=3), TypeError, r"'name' must be a str \(got int\)"),
    (dict(name='digits', split='val'), ValueError,
     r"'split' must be 'train' or 'test' \(got 'val'\)"),
    (dict(name='cifar10'), ValueError,
     r"name=cifar10 reads a local copy: pass root=DIR, the folder holding "
     r"cifar-10-batches-py/ \(nothing is downloaded\)"),
    (dict(name='imagenet50'), ValueError, r"name=imagenet50 reads a local"),
    (dict(name='cifar100', root='/no/such/folder'), ValueError,
     r"root='/no/such/folder' is not a folder; point it at the folder "
     r"holding cifar-100-python/ for name=cifar100"),
    (dict(name='digits', shape=(1, 8, 8)), ValueError,
     r"'shape' is for name=synthetic only"),
    (dict(name='synthetic', shape=(16, 16)), ValueError,
     r"'shape' must be three positive integers"),
])
def test_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_dataset(**kwargs)
