import re

import numpy as np
import pytest
import torch

from pyg_dnnmod.datasets import (
    DIGITS_MEAN,
    ImageFolderImages,
    image_statistics,
    imagenet50_classes,
    load_dataset,
    resize_center_crop,
)
from pyg_dnnmod.datasets.registry import ResizedImages, resize_images


def _png(path, size, seed):
    r"""A random RGB PNG of :obj:`size` (width, height); returns its
    pixels :obj:`[H, W, 3]` (uint8)."""
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(array).save(path)
    return array


def _folder(root, classes, size=(6, 4), per_class=3, seed=0):
    r"""Class sub-folders of PNGs under :obj:`root`; the pixels by path."""
    pixels = {}
    for c, name in enumerate(classes):
        for i in range(per_class):
            path = root / name / f'{i}.png'
            pixels[path] = _png(path, size, seed=1000 * seed + 10 * c + i)
    return pixels


def _stats(arrays):
    x = np.stack(arrays).astype(np.float64) / 255.0  # [n, H, W, C]
    x = x.reshape(-1, x.shape[-1])
    return x.mean(axis=0).tolist(), x.std(axis=0).tolist()


def test_labels_shapes_and_pixels(tmp_path):
    pixels = _folder(tmp_path, ['dog', 'cat', 'emu'])
    data = load_dataset('folder', tmp_path)
    assert (data.name, data.title, data.split) == ('folder', 'image folder',
                                                   'test')
    assert data.num_classes == 3 and data.input_shape == (3, 4, 6)
    assert data.info['classes'] == ['cat', 'dog', 'emu']
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert not data.in_memory and isinstance(data.inputs, ImageFolderImages)
    x, label = data.inputs[3]
    assert label == 1 and x.dtype == torch.float32
    expected = pixels[tmp_path / 'dog' / '0.png']
    assert torch.equal(x, torch.from_numpy(expected).permute(2, 0, 1)
                       .float() / 255)
    assert data.take(torch.tensor([0, 8])).shape == (2, 3, 4, 6)
    assert data.as_data() is data.inputs


def test_split_folders(tmp_path):
    _folder(tmp_path / 'train', ['a', 'b'], per_class=4, seed=1)
    _folder(tmp_path / 'test', ['a', 'b'], per_class=2, seed=2)
    train = load_dataset('folder', tmp_path, split='train')
    test = load_dataset('folder', tmp_path, split='test')
    assert len(train.labels) == 8 and len(test.labels) == 4
    assert train.inputs.folder == tmp_path / 'train'
    assert test.inputs.folder == tmp_path / 'test'
    assert (train.info['folder'], test.info['folder']) == ('train', 'test')
    assert train.info['split_folders'] and test.info['split_folders']
    assert train.info['classes'] == test.info['classes'] == ['a', 'b']


def test_val_when_no_test_folder(tmp_path):
    _folder(tmp_path / 'train', ['a', 'b'], seed=1)
    _folder(tmp_path / 'val', ['a', 'b'], per_class=1, seed=2)
    test = load_dataset('folder', tmp_path)
    assert test.info['folder'] == 'val' and len(test.labels) == 2
    assert test.inputs.samples[0][0] == tmp_path / 'val' / 'a' / '0.png'


def test_without_split_folders_both_splits_are_the_folder(tmp_path):
    # A train/ folder alone is a class, not a split.
    _folder(tmp_path, ['train', 'zebra'])
    train = load_dataset('folder', tmp_path, split='train')
    test = load_dataset('folder', tmp_path, split='test')
    for data in (train, test):
        assert data.info['folder'] == '.'
        assert data.info['split_folders'] is False
        assert data.info['classes'] == ['train', 'zebra']
    assert train.inputs.samples == test.inputs.samples
    assert train.mean == test.mean


def test_held_out_folder_takes_the_training_labels(tmp_path):
    _folder(tmp_path / 'train', ['a', 'b', 'c'], seed=1)
    _folder(tmp_path / 'test', ['a', 'c'], per_class=1, seed=2)
    test = load_dataset('folder', tmp_path)
    assert test.num_classes == 3 and test.labels.tolist() == [0, 2]
    _folder(tmp_path / 'test', ['d'], per_class=1, seed=3)
    with pytest.raises(ValueError, match=re.escape(
            "the class folders ['d'] of test/ are not in train/; both "
            "splits need the same class sub-folders")):
        load_dataset('folder', tmp_path)


def test_mean_std_are_the_training_images_statistics(tmp_path):
    train = _folder(tmp_path / 'train', ['a', 'b'], per_class=3, seed=1)
    _folder(tmp_path / 'test', ['a', 'b'], per_class=2, seed=2)
    mean, std = _stats(list(train.values()))
    for split in ('train', 'test'):
        data = load_dataset('folder', tmp_path, split=split)
        assert list(data.mean) == pytest.approx(mean, abs=1e-6)
        assert list(data.std) == pytest.approx(std, abs=1e-6)
        assert data.info['stats_mean'] == list(data.mean)
        assert data.info['stats_std'] == list(data.std)
        assert data.info['stats_folder'] == 'train'
        assert data.info['stats_images'] == 6
        assert data.info['stats_seed'] == 0


def test_mean_std_given(tmp_path):
    _folder(tmp_path, ['a', 'b'])
    data = load_dataset('folder', tmp_path, mean=[0.5, 0.4, 0.3],
                        std=(0.2, 0.2, 0.2))
    assert data.mean == (0.5, 0.4, 0.3) and data.std == (0.2, 0.2, 0.2)
    assert 'stats_mean' not in data.info
    assert 'stats_images' not in data.info


def test_statistics_of_a_seeded_draw():
    images = [(torch.rand(2, 3, 3, generator=torch.Generator().manual_seed(i)),
               0) for i in range(10)]
    mean, std = image_statistics(images, num_images=3, seed=5)
    index = np.sort(np.random.default_rng(5).choice(10, 3, replace=False))
    x = torch.stack([images[i][0] for i in index]).double()
    x = x.transpose(0, 1).flatten(1)
    assert list(mean) == pytest.approx(x.mean(dim=1).tolist(), abs=1e-12)
    assert list(std) == pytest.approx(x.std(dim=1, unbiased=False).tolist(),
                                      abs=1e-12)
    assert image_statistics(images, num_images=3, seed=5) == (mean, std)
    assert image_statistics(images, num_images=3, seed=6) != (mean, std)
    with pytest.raises(ValueError, match="'num_images' must be a positive "
                                         "integer"):
        image_statistics(images, num_images=0)


def test_grayscale(tmp_path):
    from PIL import Image
    _folder(tmp_path, ['a', 'b'])
    data = load_dataset('folder', tmp_path, channels=1)
    assert data.input_shape == (1, 4, 6) and len(data.mean) == 1
    assert data.info['channels'] == 1
    x, _ = data.inputs[4]
    with Image.open(tmp_path / 'b' / '1.png') as image:
        gray = np.asarray(image.convert('L'), dtype=np.float32) / 255
    assert x.shape == (1, 4, 6)
    assert torch.equal(x[0], torch.from_numpy(gray))
    mean, std = _stats([np.asarray(Image.open(p).convert('L'))[..., None]
                        for p, _ in data.inputs.samples])
    assert list(data.mean) == pytest.approx(mean, abs=1e-6)
    assert list(data.std) == pytest.approx(std, abs=1e-6)
    resized = load_dataset('folder', tmp_path, channels=1, image_size=3)
    assert resized.inputs[0][0].shape == (1, 3, 3)


def test_mixed_sizes_need_image_size(tmp_path):
    from PIL import Image
    _folder(tmp_path, ['a', 'b'])
    odd = tmp_path / 'b' / 'odd.png'
    _png(odd, (9, 7), seed=99)
    message = (f"image '{odd}' is 9x7 pixels but the first image "
               f"'{tmp_path / 'a' / '0.png'}' is 6x4; pass image_size "
               f"(--image-size) to resize and center-crop every image to "
               f"one size")
    with pytest.raises(ValueError, match=re.escape(message)):
        load_dataset('folder', tmp_path)
    # With mean and std nothing is read up front; the odd image fails when
    # it is read.
    lazy = load_dataset('folder', tmp_path, mean=[0.5] * 3, std=[0.5] * 3)
    lazy.inputs[0]
    with pytest.raises(ValueError, match=re.escape(message)):
        lazy.take(torch.arange(len(lazy.labels)))

    data = load_dataset('folder', tmp_path, image_size=4)
    assert data.input_shape == (3, 4, 4) and data.image_size == 4
    assert data.describe()['image_size'] == 4
    x = data.take(torch.arange(len(data.labels)))
    assert x.shape == (7, 3, 4, 4)
    with Image.open(odd) as image:
        expected = resize_center_crop(image, 4, 4)
    assert torch.equal(x[-1], expected)


def test_split_folders_of_other_sizes_need_image_size(tmp_path):
    _folder(tmp_path / 'train', ['a'], size=(6, 4), seed=1)
    _folder(tmp_path / 'test', ['a'], size=(5, 5), seed=2)
    with pytest.raises(ValueError, match=re.escape(
            "the images of train/ are 6x4 pixels but those of test/ 5x5; "
            "pass image_size (--image-size)")):
        load_dataset('folder', tmp_path)
    assert load_dataset('folder', tmp_path, image_size=4).input_shape == (
        3, 4, 4)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "name=folder reads a folder of images: pass root=DIR, the "
            "folder holding one sub-folder of images per class")):
        load_dataset('folder')
    missing = tmp_path / 'missing'
    with pytest.raises(ValueError, match=re.escape(
            f"root='{missing}' is not a folder")):
        load_dataset('folder', missing)
    with pytest.raises(ValueError, match=re.escape(
            f"root='{missing}' is not a folder")):
        ImageFolderImages(missing)
    flat = tmp_path / 'flat'
    _png(flat / '0.png', (4, 4), seed=0)
    with pytest.raises(ValueError, match=re.escape(
            f"root='{flat}' has no class sub-folders: expected one folder of "
            f"images per class")):
        load_dataset('folder', flat)
    root = tmp_path / 'data'
    _folder(root, ['a'])
    (root / 'b').mkdir()
    (root / 'b' / 'notes.txt').write_text('no images here')
    with pytest.raises(ValueError, match=re.escape(
            f"class folder '{root / 'b'}' of root='{root}' holds no images "
            f"(.png, .jpg, .jpeg, .bmp, .ppm, .webp)")):
        load_dataset('folder', root)


def test_unreadable_image_names_the_file(tmp_path):
    _folder(tmp_path, ['a', 'b'])
    broken = tmp_path / 'b' / '1.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(ValueError, match=re.escape(
            f"ImageFolderImages: cannot read image '{broken}'")):
        load_dataset('folder', tmp_path)
    first = tmp_path / 'a' / '0.png'
    first.write_bytes(b'')
    with pytest.raises(ValueError, match=re.escape(
            f"cannot read image '{first}'")):
        ImageFolderImages(tmp_path)


def test_bad_arguments(tmp_path):
    _folder(tmp_path, ['a'])
    with pytest.raises(ValueError, match=re.escape(
            "'channels' must be 1 (grayscale) or 3 (RGB) (got 2)")):
        load_dataset('folder', tmp_path, channels=2)
    for size in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=re.escape(
                f"'image_size' must be a positive integer (got {size!r})")):
            load_dataset('folder', tmp_path, image_size=size)
    with pytest.raises(ValueError, match=re.escape(
            "pass both 'mean' and 'std' or neither")):
        load_dataset('folder', tmp_path, mean=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match=re.escape(
            "'mean' must be 3 numbers, one per channel (got (0.5,))")):
        load_dataset('folder', tmp_path, mean=(0.5,), std=(1.0,))
    with pytest.raises(ValueError, match=re.escape(
            "'std' must be positive (got (1, 0, 1))")):
        load_dataset('folder', tmp_path, mean=(0, 0, 0), std=(1, 0, 1))
    with pytest.raises(ValueError, match=re.escape(
            "'channels' is for name=folder only; name=digits has its own "
            "channels")):
        load_dataset('digits', channels=1)
    with pytest.raises(ValueError, match=re.escape(
            "'mean' is for name=folder only")):
        load_dataset('digits', mean=(0.5,), std=(0.5,))


# -- image_size for every data set --------------------------------------------

def test_in_memory_sources_resize_on_access():
    plain = load_dataset('digits')
    data = load_dataset('digits', image_size=20)
    assert isinstance(data.inputs, ResizedImages) and not data.in_memory
    assert data.input_shape == (1, 20, 20) and data.image_size == 20
    # No resized copy is made: the images are kept as they are.
    assert torch.equal(data.inputs.images, plain.inputs)
    assert torch.equal(data.labels, plain.labels)
    assert data.mean == DIGITS_MEAN and data.info == plain.info
    index = torch.tensor([5, 0, 7])
    expected = torch.nn.functional.interpolate(
        plain.inputs[index], size=(20, 20), mode='bilinear', antialias=True,
        align_corners=False).clamp(0, 1)
    assert torch.allclose(data.take(index), expected)
    x, label = data.inputs[7]
    assert torch.allclose(x, expected[2]) and label == int(plain.labels[7])
    assert data.as_data() is data.inputs and len(data.as_data()) == len(
        plain.labels)
    assert torch.equal(data.inputs.targets, plain.labels)
    described = data.describe()
    assert described['image_size'] == 20
    assert described['input_shape'] == [1, 20, 20]
    assert 'image_size' not in plain.describe()


def test_synthetic_resized_and_same_size_is_kept():
    data = load_dataset('synthetic', shape=(1, 4, 4), image_size=8)
    assert data.input_shape == (1, 8, 8)
    assert data.take(torch.arange(3)).shape == (3, 1, 8, 8)
    same = load_dataset('synthetic', shape=(1, 4, 4), image_size=4)
    images = same.inputs.images
    assert torch.equal(same.take(torch.arange(3)), images[:3])


def test_resize_images_crops_the_centre_of_a_wide_image():
    x = torch.arange(32.).view(1, 1, 4, 8) / 32
    # The shorter side already has the size: only the central crop.
    assert torch.equal(resize_images(x, 4), x[..., 2:6])
    y = resize_images(x.repeat(2, 3, 1, 1), 2)
    assert y.shape == (2, 3, 2, 2)
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    with pytest.raises(ValueError, match=re.escape(
            "'images' must be a tensor [M, C, H, W]")):
        resize_images(x[0], 2)


def test_imagenet50_image_size(tmp_path):
    wnid = imagenet50_classes()[0][0]
    _png(tmp_path / 'val' / wnid / '0.png', (40, 30), seed=0)
    with pytest.warns(UserWarning, match='49 of the 50 class folders'):
        data = load_dataset('imagenet50', tmp_path, image_size=32)
    assert data.input_shape == (3, 32, 32)
    assert (data.inputs.resize, data.inputs.crop) == (36, 32)
    assert data.inputs[0][0].shape == (3, 32, 32)
    with pytest.warns(UserWarning):
        default = load_dataset('imagenet50', tmp_path)
    assert (default.inputs.resize, default.inputs.crop) == (256, 224)
