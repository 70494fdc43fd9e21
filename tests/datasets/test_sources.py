import hashlib
import os
import pickle
import re
import warnings

import numpy as np
import pytest
import torch

from pyg_dnnmod.datasets.images import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR100_MEAN,
    CIFAR100_STD,
    DIGITS_MEAN,
    DIGITS_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    TRANSLATED_DIGITS_MEAN,
    TRANSLATED_DIGITS_STD,
    ImageNet50,
    cifar_class_names,
    digits_split_indices,
    imagenet50_classes,
    load_cifar10,
    load_cifar100,
    load_digits_images,
    make_gaussian_clusters,
    resize_center_crop,
    sample_imagenet50,
    sample_indices,
)
from pyg_dnnmod.typing import WITH_TORCHVISION

# SHA-256 of the space-joined wnids of the project's reference list
# (shared/imagenet50_classes.txt), which CI may not have beside the clone.
SHARED_WNIDS_SHA256 = ('9c056dc28284e754958228aa78529f7bc00aef9bbb54031136b3d1'
                       '37e901f313')


# --- sample_indices ---------------------------------------------------------

def test_sample_indices_balanced():
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 0, 1, 2, 0, 1, 2])
    idx = sample_indices(labels, 6, balanced=True, seed=3)
    assert idx.dtype == torch.long
    assert idx.tolist() == sorted(set(idx.tolist()))  # sorted and distinct
    assert labels[idx].bincount().tolist() == [2, 2, 2]
    assert torch.equal(idx, sample_indices(labels, 6, seed=3))
    # Every class has 4 samples, so 2 of each can be drawn in 6^3 ways; some
    # of 10 seeds must differ.
    draws = {tuple(sample_indices(labels, 6, seed=s).tolist())
             for s in range(10)}
    assert len(draws) > 1
    # Drawing everything returns every index.
    assert sample_indices(labels, 12, seed=1).tolist() == list(range(12))


def test_sample_indices_random_and_inputs():
    labels = np.array([0, 0, 0, 0, 0, 1])
    idx = sample_indices(labels, 4, balanced=False, seed=0)
    assert idx.numel() == 4 and len(set(idx.tolist())) == 4
    assert torch.equal(idx, sample_indices(list(labels), 4, balanced=False))
    # Unbalanced draws can be drawn from a class-skewed population.
    assert sample_indices(labels, 5, balanced=False).numel() == 5


def test_sample_indices_errors():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match=r"not a multiple .* classes \(3\)"):
        sample_indices(labels, 4)
    with pytest.raises(ValueError, match=r"needs 2 samples per class.*"
                       r"class 2: 1"):
        sample_indices(labels, 6)
    with pytest.raises(ValueError, match=r"'num_samples' \(7\) exceeds"):
        sample_indices(labels, 7, balanced=False)
    with pytest.raises(ValueError, match=r"'num_samples' must be >= 1 "
                       r"\(got 0\)"):
        sample_indices(labels, 0)
    with pytest.raises(TypeError, match="integer class labels"):
        sample_indices(torch.tensor([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match="one-dimensional"):
        sample_indices(torch.zeros(2, 2, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="'num_samples' must be an integer"):
        sample_indices(labels, 2.0)


# --- make_gaussian_clusters -------------------------------------------------

def test_gaussian_clusters_formula():
    x, y = make_gaussian_clusters(7, 3, dim=5, separation=2.5, seed=4)
    assert x.dtype == torch.float32 and y.dtype == torch.long
    assert y.tolist() == [0, 1, 2, 0, 1, 2, 0]
    noise = torch.randn(7, 5, generator=torch.Generator().manual_seed(4))
    centers = 2.5 * torch.eye(5)[y]
    assert torch.equal(x, noise + centers)
    x2, _ = make_gaussian_clusters(7, 3, dim=5, separation=2.5, seed=5)
    assert not torch.equal(x, x2)


def test_gaussian_clusters_separated_neighbours_share_class():
    x, y = make_gaussian_clusters(60, 4, dim=8, separation=30.0)
    xn = x / x.norm(dim=1, keepdim=True)
    sim = xn @ xn.t()
    sim.fill_diagonal_(-2.0)
    nbr = sim.topk(3, dim=1).indices
    assert bool((y[nbr] == y.view(-1, 1)).all())


def test_gaussian_clusters_errors():
    with pytest.raises(ValueError, match=r"'dim' must be >= 'num_classes'"):
        make_gaussian_clusters(10, 3, dim=2)
    with pytest.raises(ValueError, match=r"'num_samples' must be >= 1"):
        make_gaussian_clusters(0, 3, dim=3)
    with pytest.raises(ValueError, match=r"'separation' .* \(got -1.0\)"):
        make_gaussian_clusters(10, 3, dim=3, separation=-1)


# --- digits -----------------------------------------------------------------

def test_plain_digits_are_sklearn_digits_over_16():
    from sklearn.datasets import load_digits
    ref = load_digits()
    x, y = load_digits_images(translated=False)
    assert x.shape == (1797, 1, 8, 8) and x.dtype == torch.float32
    assert y.dtype == torch.long
    assert np.array_equal(x[:, 0].numpy(), ref.images / 16.0)
    assert y.tolist() == ref.target.tolist()


def test_translated_digits_are_shifted_copies():
    plain, y_plain = load_digits_images(translated=False)
    x, y = load_digits_images(translated=True, canvas=12, seed=1)
    assert x.shape == (1797, 1, 12, 12)
    assert torch.equal(y, y_plain)
    offsets = set()
    for i in range(40):
        found = [(r, c) for r in range(5) for c in range(5)
                 if torch.equal(x[i, 0, r:r + 8, c:c + 8], plain[i, 0])]
        assert len(found) >= 1
        r, c = found[0]
        offsets.add((r, c))
        rest = x[i, 0].clone()
        rest[r:r + 8, c:c + 8] = 0
        assert float(rest.abs().sum()) == 0.0
    assert len(offsets) > 5  # the offsets really vary
    assert torch.equal(x, load_digits_images(canvas=12, seed=1)[0])
    assert not torch.equal(x, load_digits_images(canvas=12, seed=2)[0])


def test_digits_split():
    x_all, y_all = load_digits_images(seed=3)
    x_tr, y_tr = load_digits_images(seed=3, split='train')
    x_te, y_te = load_digits_images(seed=3, split='test')
    train_idx, test_idx = digits_split_indices(y_all, 0.2, seed=3)
    assert set(train_idx.tolist()).isdisjoint(test_idx.tolist())
    assert sorted(train_idx.tolist() + test_idx.tolist()) == list(range(1797))
    # Same offsets in every split.
    assert torch.equal(x_tr, x_all[train_idx])
    assert torch.equal(x_te, x_all[test_idx])
    assert torch.equal(y_te, y_all[test_idx])
    # Stratified: round(0.2 * n_c) test samples per class.
    counts = y_all.bincount()
    expected = [int(round(0.2 * n)) for n in counts.tolist()]
    assert y_te.bincount(minlength=10).tolist() == expected
    assert len(y_tr) == 1797 - sum(expected)


def test_digits_normalisation_constants():
    x, _ = load_digits_images(translated=False)
    assert x.double().mean().item() == pytest.approx(DIGITS_MEAN[0], 1e-9)
    assert x.double().std(unbiased=False).item() == pytest.approx(
        DIGITS_STD[0], 1e-9)
    for seed in (0, 1):
        x, _ = load_digits_images(translated=True, seed=seed)
        assert x.double().mean().item() == pytest.approx(
            TRANSLATED_DIGITS_MEAN[0], 1e-9)
        assert x.double().std(unbiased=False).item() == pytest.approx(
            TRANSLATED_DIGITS_STD[0], 1e-9)


def _raw_pixel_modularity(x, y, k=3):
    # The paper's pipeline, independently: dense cosine, top-k per row without
    # self, (A + A^T) / 2, networkx modularity of the class partition.
    nx = pytest.importorskip('networkx')
    x = x.flatten(1).double()
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-8)
    sim = x @ x.t()
    sim.fill_diagonal_(-float('inf'))
    val, idx = sim.topk(k, dim=1)
    adj = torch.zeros_like(sim).scatter_(1, idx, val)
    adj = (adj + adj.t()) / 2
    graph = nx.from_numpy_array(adj.numpy())
    parts = [set(np.flatnonzero(y.numpy() == c)) for c in range(10)]
    return nx.community.modularity(graph, parts)


def test_digits_raw_pixel_modularity_plain_high_translated_low():
    plain, y = load_digits_images(translated=False)
    moved, _ = load_digits_images(translated=True)
    idx = sample_indices(y, 500, seed=0)
    assert _raw_pixel_modularity(plain[idx], y[idx]) == pytest.approx(
        0.868, abs=0.02)
    assert _raw_pixel_modularity(moved[idx], y[idx]) == pytest.approx(
        0.212, abs=0.03)


def test_digits_errors():
    with pytest.raises(ValueError, match=r"'split' must be one of .*'val'"):
        load_digits_images(split='val')
    with pytest.raises(ValueError, match=r"'canvas' must be >= 8.*\(got 7\)"):
        load_digits_images(canvas=7)
    with pytest.raises(ValueError, match=r"'test_fraction' .* \(got 1.0\)"):
        load_digits_images(split='test', test_fraction=1.0)


# --- CIFAR ------------------------------------------------------------------

def _dump(path, obj, protocol=pickle.HIGHEST_PROTOCOL):
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=protocol)


def _fake_cifar10(root, sizes=(3, 2, 1, 2, 2), test_size=2,
                  bytes_keys=True):
    # The official files are Python 2 pickles whose keys load as str with
    # encoding='latin1' (as torchvision reads them); files written with
    # bytes keys are accepted too, so by default some are.
    folder = root / 'cifar-10-batches-py'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    parts = []
    for i, n in enumerate(sizes, start=1):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        parts.append((data, labels))
        keys = (b'data', b'labels') if i % 2 and bytes_keys else \
            ('data', 'labels')
        _dump(folder / f'data_batch_{i}', {
            keys[0]: data,
            keys[1]: labels,
            'batch_label': f'training batch {i} of 5',
        }, protocol=2 if i == 1 else pickle.HIGHEST_PROTOCOL)
    test = rng.integers(0, 256, size=(test_size, 3072), dtype=np.uint8)
    test_labels = [9, 0][:test_size]
    _dump(folder / 'test_batch', {'data': test, 'labels': test_labels})
    names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
             'horse', 'ship', 'truck']
    _dump(folder / 'batches.meta', {'label_names': [n.encode()
                                                    for n in names]})
    return folder, parts, (test, test_labels), names


def _fake_cifar100(root):
    folder = root / 'cifar-100-python'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    out = {}
    for split, n in (('train', 4), ('test', 3)):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        fine = rng.integers(0, 100, size=n).tolist()
        coarse = rng.integers(0, 20, size=n).tolist()
        _dump(folder / split, {'data': data, 'fine_labels': fine,
                               'coarse_labels': coarse})
        out[split] = (data, fine, coarse)
    _dump(folder / 'meta', {
        'fine_label_names': [f'fine{i}' for i in range(100)],
        'coarse_label_names': [f'coarse{i}' for i in range(20)],
    })
    return folder, out


def test_cifar10_reads_pickles(tmp_path):
    folder, parts, (test, test_labels), names = _fake_cifar10(tmp_path)
    x, y = load_cifar10(tmp_path)
    assert x.shape == (10, 3, 32, 32) and x.dtype == torch.float32
    assert y.dtype == torch.long
    data = np.concatenate([d for d, _ in parts])
    assert y.tolist() == sum((labels for _, labels in parts), [])
    # Row layout: 1024 red, 1024 green, 1024 blue values, each row-major.
    i, c, h, w = 4, 2, 5, 17
    assert x[i, c, h, w].item() == \
        np.float32(data[i, c * 1024 + h * 32 + w]) / np.float32(255.0)
    assert torch.equal(x, torch.from_numpy(data).float().div(255.0)
                       .view(-1, 3, 32, 32))
    x_te, y_te = load_cifar10(folder, train=False)  # the folder itself
    assert y_te.tolist() == test_labels
    assert torch.equal(x_te, torch.from_numpy(test).float().div(255.0)
                       .view(-1, 3, 32, 32))
    assert cifar_class_names(tmp_path) == names


def test_cifar100_reads_pickles(tmp_path):
    _, out = _fake_cifar100(tmp_path)
    x, y = load_cifar100(tmp_path)
    data, fine, coarse = out['train']
    assert x.shape == (4, 3, 32, 32)
    assert torch.equal(x, torch.from_numpy(data).float().div(255.0)
                       .view(-1, 3, 32, 32))
    assert y.tolist() == fine
    _, y_coarse = load_cifar100(tmp_path, train=False, coarse=True)
    assert y_coarse.tolist() == out['test'][2]
    assert cifar_class_names(tmp_path, 'cifar100')[7] == 'fine7'
    assert cifar_class_names(tmp_path, 'cifar100', coarse=True)[19] == \
        'coarse19'


def test_cifar_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"CIFAR-10 not found under "
                       r"'root' .*cifar-10-batches-py' does not exist"):
        load_cifar10(tmp_path)
    folder, *_ = _fake_cifar10(tmp_path)
    (folder / 'data_batch_3').unlink()
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(FileNotFoundError, match=r"missing data_batch_3 in "):
        load_cifar10(tmp_path)
    load_cifar10(tmp_path, train=False)  # the test split is still complete
    assert sorted(p.name for p in folder.iterdir()) == before  # no writes
    with pytest.raises(FileNotFoundError, match=r"CIFAR-100 not found"):
        load_cifar100(tmp_path)


def test_cifar_wrong_format(tmp_path):
    folder, *_ = _fake_cifar10(tmp_path)
    (folder / 'test_batch').write_text('not a pickle')
    with pytest.raises(ValueError, match=r"test_batch' is not a CIFAR "
                       r"python pickle"):
        load_cifar10(tmp_path, train=False)
    _dump(folder / 'test_batch', {'labels': [1]})
    with pytest.raises(ValueError, match=r"no 'data' entry"):
        load_cifar10(tmp_path, train=False)
    _dump(folder / 'test_batch', {'data': np.zeros((2, 100), np.uint8),
                                  'labels': [1, 2]})
    with pytest.raises(ValueError, match=r"uint8 array of shape \[N, 3072\] "
                       r"\(got uint8 \[2, 100\]\)"):
        load_cifar10(tmp_path, train=False)
    _dump(folder / 'test_batch', {'data': np.zeros((2, 3072), np.uint8),
                                  'labels': [1, 10]})
    with pytest.raises(ValueError, match=r"must lie in \[0, 10\) "
                       r"\(got \[1, 10\]\)"):
        load_cifar10(tmp_path, train=False)
    _dump(folder / 'test_batch', {'data': np.zeros((2, 3072), np.uint8),
                                  'labels': [1]})
    with pytest.raises(ValueError, match=r"must hold 2 integer labels"):
        load_cifar10(tmp_path, train=False)
    with pytest.raises(ValueError, match=r"'backend' must be"):
        load_cifar10(tmp_path, backend='dali')


class _Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned > evil_marker',))


def test_cifar_pickle_cannot_run_code(tmp_path, monkeypatch):
    folder, *_ = _fake_cifar10(tmp_path)
    _dump(folder / 'test_batch', {'data': _Evil(), 'labels': []})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"refusing to load the global"):
        load_cifar10(tmp_path, train=False)
    assert not (tmp_path / 'evil_marker').exists()


@pytest.mark.parametrize('protocol', range(pickle.HIGHEST_PROTOCOL + 1))
def test_cifar_every_pickle_protocol(tmp_path, protocol):
    folder, *_ = _fake_cifar10(tmp_path)
    data = np.random.default_rng(2).integers(0, 256, (5, 3072),
                                             dtype=np.uint8)
    _dump(folder / 'test_batch', {'data': data, 'labels': [1, 2, 3, 4, 5],
                                  'scalar': np.float32(0.5)}, protocol)
    x, y = load_cifar10(tmp_path, train=False)
    assert torch.equal(x, torch.from_numpy(data).view(5, 3, 32, 32) / 255)
    assert y.tolist() == [1, 2, 3, 4, 5]


class _Declared:
    # Pickles as numpy's array constructors called with a shape whose data
    # the file does not hold.
    def __init__(self, how):
        self.how = how

    def __reduce__(self):
        reconstruct = np.empty(0).__reduce__()[0]
        if self.how == 'reconstruct':
            return reconstruct, (np.ndarray, (10_000, 3072), b'B')
        if self.how == 'ndarray':
            return np.ndarray, ((10_000, 3072), np.dtype(np.uint8))
        if self.how == 'subarray':
            return np.ndarray, ((10_000, ), np.dtype((np.uint8, (3072, ))))
        # 'setstate': an empty array whose BUILD declares the big shape.
        return reconstruct, (np.ndarray, (0, ), b'B'), (
            1, (10_000, 3072), np.dtype(np.uint8), False, b'short')


class _Hex:
    # _codecs.encode(b'x' * 100, 'hex') nested 24 times: 300 bytes that
    # expand to 1.6 GB.
    def __init__(self, depth):
        self.depth = depth

    def __reduce__(self):
        import _codecs
        inner = b'x' * 100 if self.depth == 0 else _Hex(self.depth - 1)
        return _codecs.encode, (inner, 'hex')


@pytest.mark.parametrize('how', ['reconstruct', 'ndarray', 'subarray',
                                 'setstate'])
def test_cifar_pickle_cannot_claim_more_memory_than_it_holds(tmp_path, how):
    import tracemalloc

    # A 20 KB file that declared 10,000 images was read as such.
    folder, *_ = _fake_cifar10(tmp_path)
    path = folder / 'test_batch'
    _dump(path, {'data': _Declared(how), 'labels': [0] * 10_000}, protocol=2)
    size = path.stat().st_size
    assert size < 30_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=(
                rf"'{re.escape(str(path))}' is not a CIFAR python pickle \(it "
                rf"declares 30,720,000 bytes of array data, more than its "
                rf"{size:,} bytes can hold\)")):
            load_cifar10(tmp_path, train=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_cifar_pickle_bombs(tmp_path):
    folder, *_ = _fake_cifar10(tmp_path)
    path = folder / 'test_batch'
    _dump(path, {'data': _Hex(23), 'labels': []}, protocol=2)
    with pytest.raises(ValueError, match=r"refusing _codecs.encode of a bytes "
                       r"with 'hex'; a CIFAR file only encodes text as "
                       r"latin1"):
        load_cifar10(tmp_path, train=False)
    # numpy trusts the element list of a pickled object array (a short one
    # crashes the interpreter).
    _dump(path, {'data': np.array([b'a', 1], dtype=object), 'labels': []})
    with pytest.raises(ValueError, match=r"it holds an object array"):
        load_cifar10(tmp_path, train=False)


@pytest.mark.skipif(not WITH_TORCHVISION, reason='torchvision unusable')
def test_cifar_torchvision_backend(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    with pytest.raises(FileNotFoundError, match=r"not found under 'root'.*"
                       r"torchvision"):
        load_cifar10(tmp_path, backend='torchvision')
    _fake_cifar10(tmp_path, bytes_keys=False)
    _fake_cifar100(tmp_path)
    # The fake files cannot have the official MD5 sums.
    monkeypatch.setattr(tv_cifar, 'check_integrity', lambda *a, **k: True)
    for load in (load_cifar10, load_cifar100):
        for train in (True, False):
            x, y = load(tmp_path, train=train, backend='torchvision')
            x_ref, y_ref = load(tmp_path, train=train)
            assert torch.equal(x, x_ref) and torch.equal(y, y_ref)
    _, y = load_cifar100(tmp_path, coarse=True, backend='torchvision')
    assert torch.equal(y, load_cifar100(tmp_path, coarse=True)[1])
    assert not list(tmp_path.glob('*.tar.gz'))  # nothing downloaded


def test_normalisation_constants():
    assert CIFAR10_MEAN == (0.4914, 0.4822, 0.4465)
    assert CIFAR10_STD == (0.2023, 0.1994, 0.2010)
    assert CIFAR100_MEAN == (0.49139968, 0.48215827, 0.44653124)
    assert CIFAR100_STD == (0.24703233, 0.24348505, 0.26158768)
    assert IMAGENET_MEAN == (0.485, 0.456, 0.406)
    assert IMAGENET_STD == (0.229, 0.224, 0.225)


# --- ImageNet50 -------------------------------------------------------------

def _save_image(path, size, color=None, seed=0):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    if color is not None:
        image = Image.new('RGB', size, color)
    else:
        rng = np.random.default_rng(seed)
        array = rng.integers(0, 256, size=(size[1], size[0], 3),
                             dtype=np.uint8)
        image = Image.fromarray(array)
    image.save(path)


def _fake_imagenet(root):
    wnids = [w for w, _ in imagenet50_classes()]
    val = root / 'val'
    # Three of the 50 classes (labels 0, 7 and 49) and one foreign class.
    _save_image(val / wnids[0] / 'b.JPEG', (40, 30), color=(255, 0, 0))
    _save_image(val / wnids[0] / 'a.JPEG', (30, 50), color=(0, 0, 255))
    _save_image(val / wnids[7] / 'c.png', (64, 48), seed=1)
    _save_image(val / wnids[7] / 'd.JPEG', (20, 20), color=(0, 255, 0))
    _save_image(val / wnids[49] / 'e.JPEG', (33, 33), color=(10, 20, 30))
    _save_image(val / wnids[49] / 'f.JPEG', (50, 35), color=(0, 0, 0))
    (val / wnids[49] / 'notes.txt').write_text('ignored')
    _save_image(val / 'n99999999' / 'x.JPEG', (32, 32), color=(1, 1, 1))
    return wnids


def test_imagenet50_classes_match_shared_file():
    classes = imagenet50_classes()
    assert len(classes) == 50 and len({w for w, _ in classes}) == 50
    assert classes[0] == ('n01443537', 'goldfish, Carassius auratus')
    wnids = ' '.join(w for w, _ in classes).encode()
    assert hashlib.sha256(wnids).hexdigest() == SHARED_WNIDS_SHA256


def test_imagenet50_folder(tmp_path):
    wnids = _fake_imagenet(tmp_path)
    with pytest.warns(UserWarning, match=r"47 of the 50 class folders"):
        dataset = ImageNet50(tmp_path, resize=16, crop=8)
    assert len(dataset) == 6
    assert dataset.targets.tolist() == [0, 0, 7, 7, 49, 49]
    assert [p.name for p, _ in dataset.samples] == [
        'a.JPEG', 'b.JPEG', 'c.png', 'd.JPEG', 'e.JPEG', 'f.JPEG']
    x, label = dataset[1]  # the red image
    assert x.shape == (3, 8, 8) and x.dtype == torch.float32 and label == 0
    assert x[0].min().item() >= 250 / 255 and x[1:].max().item() <= 5 / 255
    x, _ = dataset[5]
    assert float(x.abs().max()) == 0.0
    assert wnids[7] in str(dataset.samples[2][0])


def test_imagenet50_default_size_and_transform(tmp_path):
    _fake_imagenet(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dataset = ImageNet50(tmp_path, transform=lambda t: t * 2)
    x, label = dataset[2]
    assert x.shape == (3, 224, 224) and label == 7
    assert float(x.max()) > 1.0  # the transform ran


def test_resize_center_crop_geometry():
    from PIL import Image
    # A 30 x 20 image (w x h), black with a white band in columns 8..21:
    # resized to short side 10 it is 15 x 10 (a factor 2, so each output
    # pixel mixes source pixels within +-2 of its centre), and the central
    # 5 x 5 crop (columns 5..9, i.e. source columns 9..21) is all white.
    array = np.zeros((20, 30, 3), np.uint8)
    array[:, 8:22] = 255
    x = resize_center_crop(Image.fromarray(array), resize=10, crop=5)
    assert x.shape == (3, 5, 5)
    assert float(x.min()) == 1.0
    x = resize_center_crop(Image.fromarray(array), resize=10, crop=10)
    # The 10 x 10 crop starts at column round(2.5) = 2 (source 3..7: black).
    assert float(x[:, :, 0].max()) == 0.0 and float(x[:, :, 5].min()) == 1.0
    with pytest.raises(ValueError, match=r"'crop' must be <= 'resize'"):
        resize_center_crop(Image.fromarray(array), resize=10, crop=11)


@pytest.mark.skipif(not WITH_TORCHVISION, reason='torchvision unusable')
def test_resize_center_crop_matches_torchvision():
    from PIL import Image
    from torchvision import transforms
    pipeline = transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
    ])
    rng = np.random.default_rng(0)
    for size in ((300, 257), (240, 500), (256, 256), (225, 231)):
        array = rng.integers(0, 256, size=(size[1], size[0], 3),
                             dtype=np.uint8)
        image = Image.fromarray(array)
        assert torch.equal(resize_center_crop(image), pipeline(image))


def test_sample_imagenet50(tmp_path):
    _fake_imagenet(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        x, y = sample_imagenet50(tmp_path, 3, seed=0, resize=16, crop=8)
        assert x.shape == (3, 3, 8, 8)
        assert y.tolist() == [0, 7, 49]
        x2, y2 = sample_imagenet50(tmp_path, 3, seed=0, resize=16, crop=8)
        assert torch.equal(x, x2) and torch.equal(y, y2)
        x, y = sample_imagenet50(tmp_path, 6, resize=16, crop=8)
        assert y.tolist() == [0, 0, 7, 7, 49, 49]
        assert float(x[5].abs().max()) == 0.0  # f.JPEG is black
        with pytest.raises(ValueError, match=r"not a multiple of the number "
                           r"of classes \(3\)"):
            sample_imagenet50(tmp_path, 4, resize=16, crop=8)


def test_imagenet50_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"folder '.*val' does not "
                       r"exist"):
        ImageNet50(tmp_path)
    (tmp_path / 'val' / 'n99999999').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"no images of the 50 "
                       r"classes"):
        ImageNet50(tmp_path)
    wnid = imagenet50_classes()[3][0]
    bad = tmp_path / 'val' / wnid / 'broken.JPEG'
    bad.parent.mkdir()
    bad.write_bytes(b'not a jpeg')
    with pytest.warns(UserWarning):
        dataset = ImageNet50(tmp_path)
    with pytest.raises(ValueError, match=r"cannot read image '.*broken"):
        dataset[0]
    with pytest.raises(ValueError, match=r"'crop' must be <= 'resize'"):
        ImageNet50(tmp_path, resize=100, crop=224)


def test_imagenet50_decompression_bomb_and_corrupt_images(tmp_path,
                                                          monkeypatch):
    from PIL import Image
    wnid = imagenet50_classes()[0][0]
    _save_image(tmp_path / 'val' / wnid / 'a_bomb.png', (64, 64), seed=2)
    _save_image(tmp_path / 'val' / wnid / 'b_fine.png', (8, 8), seed=3)
    png = (tmp_path / 'val' / wnid / 'b_fine.png').read_bytes()
    (tmp_path / 'val' / wnid / 'c_cut.png').write_bytes(png[:len(png) // 2])
    # PIL refuses more than twice MAX_IMAGE_PIXELS as a decompression bomb.
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 1000)
    with pytest.warns(UserWarning, match=r"49 of the 50"):
        dataset = ImageNet50(tmp_path, resize=8, crop=8)
    with pytest.raises(ValueError, match=r"ImageNet50: refusing image "
                       r"'.*a_bomb\.png' \(.*decompression bomb.*\); remove "
                       r"the file"):
        dataset[0]
    assert dataset[1][0].shape == (3, 8, 8)
    with pytest.raises(ValueError, match=r"cannot read image '.*c_cut\.png' "
                       r"\(image file is truncated"):
        dataset[2]
