"""The IDX readers of Fashion-MNIST and MNIST: where they look, what they
read, and how they refuse damaged files."""
import gzip

import numpy as np
import pytest
import torch

from pyg_dnnmod.datasets import load_dataset
from pyg_dnnmod.datasets.images import (
    DATA_ENV,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    find_idx_folder,
    load_mnist,
    read_idx,
)

SYSTEM = '/usr/share/datasets/fashion-mnist'


def _idx(array, dtype_code=8):
    array = np.asarray(array, dtype=np.uint8)
    head = bytes([0, 0, dtype_code, array.ndim])
    head += b''.join(int(d).to_bytes(4, 'big') for d in array.shape)
    return head + array.tobytes()


def _write_split(folder, images, labels, train=False, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    prefix = 'train' if train else 't10k'
    for name, array in ((f'{prefix}-images-idx3-ubyte', images),
                        (f'{prefix}-labels-idx1-ubyte', labels)):
        raw = _idx(array)
        if gz:
            with gzip.open(folder / f'{name}.gz', 'wb') as f:
                f.write(raw)
        else:
            (folder / name).write_bytes(raw)


@pytest.fixture
def tiny():
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 256
    return images.astype(np.uint8), np.array([4, 0, 9], dtype=np.uint8)


@pytest.mark.parametrize('gz', [True, False])
def test_reads_images_and_labels_exactly(tmp_path, tiny, gz):
    images, labels = tiny
    _write_split(tmp_path, images, labels, gz=gz)
    x, y = load_mnist(tmp_path)
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x[:, 0], torch.from_numpy(images).float() / 255)
    assert y.tolist() == [4, 0, 9] and y.dtype == torch.long


def test_search_order_root_env_torchvision_then_system(
        tmp_path, tiny, monkeypatch):
    images, labels = tiny
    monkeypatch.delenv(DATA_ENV, raising=False)
    env, root = tmp_path / 'env', tmp_path / 'root'
    _write_split(env / 'fashion-mnist', images, labels)
    _write_split(root / 'FashionMNIST' / 'raw', images[:1], labels[:1])
    monkeypatch.setenv(DATA_ENV, str(env))
    # root (its torchvision layout) before the environment variable ...
    assert find_idx_folder('fashion-mnist', root) == \
        root / 'FashionMNIST' / 'raw'
    assert len(load_mnist(root, variant='fashion-mnist')[1]) == 1
    # ... the environment variable before the system folder ...
    assert find_idx_folder('fashion-mnist') == env / 'fashion-mnist'
    # ... and Debian's folder last.
    monkeypatch.delenv(DATA_ENV)
    assert str(find_idx_folder('fashion-mnist')) == SYSTEM


def test_not_found_says_where_it_looked_and_how_to_get_it(
        tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / 'env'))
    with pytest.raises(FileNotFoundError) as info:
        find_idx_folder('mnist', tmp_path / 'root')
    message = str(info.value)
    for where in (tmp_path / 'root', tmp_path / 'root' / 'MNIST' / 'raw',
                  tmp_path / 'env', tmp_path / 'env' / 'mnist'):
        assert str(where) in message
    assert "t10k-images-idx3-ubyte[.gz]" in message
    assert 'nothing is downloaded' in message
    with pytest.raises(ValueError, match=r"^name=mnist: no MNIST IDX files"):
        load_dataset('mnist', root=tmp_path / 'root')


@pytest.mark.parametrize('raw, message', [
    (b'\x01\x00\x08\x01\x00\x00\x00\x01\x05', 'bad magic number'),
    (b'\x00\x00\x0d\x01\x00\x00\x00\x01\x05', 'holds IDX type 0x0d'),
    (b'\x00\x00\x08\x09', 'damaged: 9 dimensions'),
    (_idx(np.zeros(4)) + b'\x00', 'its header says 4 bytes of data, the '
                                  'file holds 5'),
    (_idx(np.zeros(4))[:-1], 'its header says 4 bytes of data, the file '
                             'holds 3'),
])
def test_damaged_idx_files_are_refused_before_allocating(tmp_path, raw,
                                                         message):
    path = tmp_path / 'x-idx1-ubyte'
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_a_huge_header_in_a_small_file_allocates_nothing(tmp_path):
    path = tmp_path / 'bomb-idx3-ubyte'
    path.write_bytes(bytes([0, 0, 8, 3]) + (2**31).to_bytes(4, 'big') * 3)
    with pytest.raises(ValueError, match=r"header says 9903520314283042199"
                       r"192993792 bytes of data, the file holds 0"):
        read_idx(path)


def test_a_broken_gzip_names_the_file(tmp_path):
    path = tmp_path / 'x-idx1-ubyte.gz'
    path.write_bytes(b'not gzip at all')
    with pytest.raises(ValueError, match=rf"^'{path}' is not a readable IDX "
                       rf"file"):
        read_idx(path)


def test_images_and_labels_must_fit_together(tmp_path, tiny):
    images, labels = tiny
    _write_split(tmp_path, images, labels[:2])
    with pytest.raises(ValueError, match=r"do not fit together \(shapes "
                       r"\(3, 28, 28\) and \(2,\)\)"):
        load_mnist(tmp_path)


def test_real_fashion_mnist_from_debians_package(monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    test = load_dataset('fashion-mnist')
    assert (test.name, test.title, test.num_classes, test.input_shape) == \
        ('fashion-mnist', 'Fashion-MNIST', 10, (1, 28, 28))
    assert test.labels.bincount().tolist() == [1000] * 10
    assert test.info == {'root': SYSTEM}
    train = load_dataset('fashion-mnist', split='train')
    assert train.labels.bincount().tolist() == [6000] * 10
    # The normalisation constants are the training images' statistics.
    assert float(train.inputs.mean()) == pytest.approx(
        FASHION_MNIST_MEAN[0], abs=5e-5)
    assert float(train.inputs.std()) == pytest.approx(
        FASHION_MNIST_STD[0], abs=5e-5)
    assert test.mean == FASHION_MNIST_MEAN and test.std == FASHION_MNIST_STD


def test_mnist_5k_is_split_into_stratified_halves():
    train, test = load_dataset('mnist-5k', split='train'), \
        load_dataset('mnist-5k')
    assert train.labels.bincount().tolist() == [250] * 10
    assert test.labels.bincount().tolist() == [250] * 10
    both = torch.cat([train.inputs, test.inputs]).flatten(1)
    assert torch.unique(both, dim=0).shape[0] == 5000
    assert test.input_shape == (1, 28, 28)
    assert test.title == 'MNIST (5k)'
