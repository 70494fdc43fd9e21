r"""Any folder of labelled images: one sub-folder per class (the layout of
:class:`torchvision.datasets.ImageFolder`), read lazily from disk.

:class:`ImageFolderImages` reads ``root/<class>/<image>`` (or the split
folders ``root/train/`` and ``root/test/`` or ``root/val/`` when they are
there) into :obj:`(image, label)` pairs in pixel space :obj:`[0, 1]`;
:func:`image_statistics` computes the per-channel mean and standard
deviation a model normalises such images with. Only PIL is needed; images
of different sizes are resized by
:func:`~pyg_dnnmod.datasets.images.resize_center_crop`, the same pixels as
the ImageNet50 pipeline.
"""
import struct
import zlib
from pathlib import Path
from typing import Any, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from pyg_dnnmod.datasets.images.imagenet import resize_center_crop

__all__ = ['ImageFolderImages', 'image_statistics', 'IMAGE_EXTENSIONS',
           'STATISTICS_IMAGES']

#: The file endings :class:`ImageFolderImages` reads (case-insensitive).
IMAGE_EXTENSIONS: Tuple[str, ...] = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm',
                                     '.webp')
#: At most this many images of a folder give its mean and std.
STATISTICS_IMAGES = 1000
#: The held-out split folders, in the order they are looked for.
_HELD_OUT = ('test', 'val')
#: What PIL's plugins raise for a corrupt or truncated file.
_READ_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError,
                struct.error, zlib.error)

PathLike = Union[str, Path]
Stats = Tuple[float, ...]


def _visible(path: Path) -> bool:
    return not path.name.startswith('.')


def _check_image_size(image_size: Optional[int]) -> Optional[int]:
    if image_size is None:
        return None
    if isinstance(image_size, bool) or not isinstance(image_size, int) or \
            image_size < 1:
        raise ValueError(f"'image_size' must be a positive integer "
                         f"(got {image_size!r})")
    return image_size


class ImageFolderImages(Dataset):
    r"""The images of a folder with one sub-folder per class, read lazily.

    The class of an image is its sub-folder: the sub-folder names, sorted,
    are the classes :obj:`0..C-1` (hidden folders are skipped); a class
    folder's images (:data:`IMAGE_EXTENSIONS`, also in deeper folders) are
    listed in sorted order. When :obj:`root` holds a :obj:`train/` folder
    and a :obj:`test/` (else :obj:`val/`) folder, those are the splits, each
    with its class sub-folders; otherwise :obj:`root` itself is the data of
    both splits (:obj:`split_folder` is :obj:`None`). The held-out folder
    takes the training folder's classes and labels; it may lack a class,
    but not add one.

    An image is read with PIL as RGB (or grayscale with :obj:`channels=1`)
    into a tensor :obj:`[channels, H, W]` in :obj:`[0, 1]`. With
    :obj:`image_size`, its shorter side is resized to :obj:`image_size` and
    the central square cropped (:func:`resize_center_crop`); without, every
    image must have the size of the first one, and one that has not raises
    a :class:`ValueError` when it is read. An unreadable image raises a
    :class:`ValueError` naming the file when it is read (the first image
    already here, for the shape).

    Args:
        root (str or pathlib.Path): The folder of class sub-folders (or of
            :obj:`train/` and :obj:`test/` or :obj:`val/`).
        split (str, optional): :obj:`"train"` or :obj:`"test"`.
            (default: :obj:`"test"`)
        image_size (int, optional): The side of the square images, resized
            and center-cropped. (default: :obj:`None`: the images' size)
        channels (int, optional): :obj:`3` (RGB) or :obj:`1` (grayscale).
            (default: :obj:`3`)

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> root = Path(tempfile.mkdtemp())
        >>> for name, colour in [('cat', (255, 0, 0)), ('dog', (0, 0, 255))]:
        ...     (root / name).mkdir()
        ...     Image.new('RGB', (6, 4), colour).save(root / name / '0.png')
        >>> images = ImageFolderImages(root, image_size=2)
        >>> images
        ImageFolderImages(2, classes=2, split='test')
        >>> images.classes, images.targets.tolist(), images.image_shape
        (['cat', 'dog'], [0, 1], (3, 2, 2))
        >>> x, label = images[1]
        >>> x[:, 0, 0].tolist(), label
        ([0.0, 0.0, 1.0], 1)
        >>> ImageFolderImages(root / 'cat')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: root='...cat' has no class sub-folders: ...
    """
    def __init__(
        self,
        root: PathLike,
        split: str = 'test',
        image_size: Optional[int] = None,
        channels: int = 3,
    ) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f"'split' must be 'train' or 'test' (got "
                             f"{split!r})")
        if channels not in (1, 3) or isinstance(channels, bool):
            raise ValueError(f"'channels' must be 1 (grayscale) or 3 (RGB) "
                             f"(got {channels!r})")
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise ValueError(f"root='{root}' is not a folder; point it at a "
                             f"folder with one sub-folder of images per "
                             f"class")
        self.split = split
        self.image_size = _check_image_size(image_size)
        self.channels = channels
        #: The split folder read (:obj:`"train"`, :obj:`"test"`,
        #: :obj:`"val"`), or :obj:`None` when :obj:`root` is both splits.
        self.split_folder = self.find_split_folder(self.root, split)
        self.folder = (self.root if self.split_folder is None else
                       self.root / self.split_folder)
        class_dirs = self._class_dirs(root, self.folder)
        self.classes: List[str] = [p.name for p in class_dirs]
        if self.split_folder not in (None, 'train'):
            # The labels are the training folder's, whatever this one lacks.
            self.classes = [p.name for p in self._class_dirs(
                root, self.root / 'train')]
            unknown = [p.name for p in class_dirs
                       if p.name not in self.classes]
            if unknown:
                raise ValueError(
                    f"root='{root}': the class folders {unknown} of "
                    f"{self.split_folder}/ are not in train/; both splits "
                    f"need the same class sub-folders")
        self.samples: List[Tuple[Path, int]] = []
        for class_dir in class_dirs:
            label = self.classes.index(class_dir.name)
            files = sorted(p for p in class_dir.rglob('*')
                           if p.suffix.lower() in IMAGE_EXTENSIONS
                           and _visible(p) and p.is_file())
            if not files:
                raise ValueError(
                    f"class folder '{class_dir}' of root='{root}' holds no "
                    f"images ({', '.join(IMAGE_EXTENSIONS)}); remove it or "
                    f"add its images")
            self.samples.extend((p, label) for p in files)
        self._first = self.samples[0][0]
        if self.image_size is None:
            self._size = self._open(self._first, lambda image: image.size)
            width, height = self._size
            self.image_shape = (channels, height, width)
        else:
            self._size = None
            self.image_shape = (channels, self.image_size, self.image_size)

    @staticmethod
    def _class_dirs(root: PathLike, folder: Path) -> List[Path]:
        class_dirs = sorted((p for p in folder.iterdir()
                             if p.is_dir() and _visible(p)),
                            key=lambda p: p.name)
        if not class_dirs:
            where = ('' if folder == Path(root).expanduser() else
                     f' in {folder.name}/')
            raise ValueError(
                f"root='{root}' has no class sub-folders{where}: "
                f"expected one folder of images per class, e.g. "
                f"'{folder / 'cat' / '001.png'}' (optionally under train/ "
                f"and test/ or val/)")
        return class_dirs

    @staticmethod
    def find_split_folder(root: PathLike, split: str) -> Optional[str]:
        r"""The folder of :obj:`split` under :obj:`root`: :obj:`"train"`
        or the held-out :obj:`"test"` (else :obj:`"val"`) when
        :obj:`root/train/` and a held-out folder are there, else
        :obj:`None` (:obj:`root` is the data of both splits).

        Example:
            >>> ImageFolderImages.find_split_folder('/nonexistent', 'train')
        """
        root = Path(root).expanduser()
        held_out = next((name for name in _HELD_OUT
                         if (root / name).is_dir()), None)
        if held_out is None or not (root / 'train').is_dir():
            return None
        return 'train' if split == 'train' else held_out

    @property
    def targets(self) -> Tensor:
        r"""The labels of all images, without reading any."""
        return torch.tensor([label for _, label in self.samples],
                            dtype=torch.long)

    def _open(self, path: Path, read: Any) -> Any:
        from PIL import Image

        try:
            with Image.open(path) as image:
                return read(image)
        except Image.DecompressionBombError as e:
            raise ValueError(f"{type(self).__name__}: refusing image "
                             f"'{path}' ({e}); remove the file") from e
        except _READ_ERRORS as e:
            raise ValueError(f"{type(self).__name__}: cannot read image "
                             f"'{path}' ({str(e) or type(e).__name__})"
                             ) from e

    def _pixels(self, image: Any) -> Tuple[Tuple[int, int], Tensor]:
        image = image.convert('L' if self.channels == 1 else 'RGB')
        if self.image_size is not None:
            x = resize_center_crop(image, self.image_size, self.image_size)
            return image.size, x[:self.channels]
        array = np.asarray(image, dtype=np.uint8).reshape(
            image.size[1], image.size[0], self.channels)
        x = torch.from_numpy(array.copy()).permute(2, 0, 1)
        return image.size, x.float().div_(255.0)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, idx: int) -> Tuple[Tensor, int]:
        path, label = self.samples[idx]
        size, x = self._open(path, self._pixels)
        if self._size is not None and size != self._size:
            raise ValueError(
                f"{type(self).__name__}: image '{path}' is {size[0]}x"
                f"{size[1]} pixels but the first image '{self._first}' is "
                f"{self._size[0]}x{self._size[1]}; pass image_size "
                f"(--image-size) to resize and center-crop every image to "
                f"one size")
        return x, label

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({len(self)}, "
                f"classes={len(self.classes)}, split={self.split!r})")


def image_statistics(dataset: Any, num_images: int = STATISTICS_IMAGES,
                     seed: int = 0) -> Tuple[Stats, Stats]:
    r"""The per-channel mean and standard deviation of the pixels of (up to
    :obj:`num_images` of) the images of :obj:`dataset`.

    With more than :obj:`num_images` images, :obj:`num_images` of them are
    drawn without replacement (:func:`numpy.random.default_rng` of
    :obj:`seed`, the same on any machine). The statistics pool all pixels
    of the drawn images :math:`x_1, \ldots, x_n` of :math:`P` pixels each
    (the population standard deviation):

    .. math::
        \mu_c = \frac{1}{nP} \sum_{i, p} x_{i,c,p}, \qquad
        \sigma_c = \sqrt{\frac{1}{nP} \sum_{i, p} x_{i,c,p}^2 - \mu_c^2}.

    A channel without variation (:math:`\sigma_c = 0`) gets
    :math:`\sigma_c = 1`, so that normalising only shifts it.

    Args:
        dataset (torch.utils.data.Dataset): :obj:`(image, label)` pairs,
            images :obj:`[C, H, W]` of one size.
        num_images (int, optional): The most images read.
            (default: :obj:`1000`)
        seed (int, optional): The seed of the draw. (default: :obj:`0`)

    Returns:
        (tuple, tuple): The means and the standard deviations, one float
        per channel.

    Example:
        >>> images = [(torch.tensor([[[0., 1.]], [[.5, .5]]]), 0),
        ...           (torch.tensor([[[1., 1.]], [[.5, .5]]]), 1)]
        >>> image_statistics(images)
        ((0.75, 0.5), (0.4330127018922193, 1.0))
    """
    if isinstance(num_images, bool) or not isinstance(num_images, int) or \
            num_images < 1:
        raise ValueError(f"'num_images' must be a positive integer "
                         f"(got {num_images!r})")
    total = len(dataset)
    if total == 0:
        raise ValueError("'dataset' holds no images")
    if total > num_images:
        rng = np.random.default_rng(seed)
        index = np.sort(rng.choice(total, num_images, replace=False))
    else:
        index = np.arange(total)
    sums = squares = None
    count = 0
    for i in index.tolist():
        x = torch.as_tensor(dataset[i][0]).double().flatten(1)
        if sums is None:
            sums = torch.zeros(x.size(0), dtype=torch.float64)
            squares = torch.zeros_like(sums)
        sums += x.sum(dim=1)
        squares += x.square().sum(dim=1)
        count += x.size(1)
    mean = sums / count
    std = (squares / count - mean.square()).clamp_min(0.0).sqrt()
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return tuple(mean.tolist()), tuple(std.tolist())
