r"""ImageNet50: the paper's 50-class ImageNet subset, read from a local folder.

The paper evaluates its ImageNet models on the 50 classes listed in its
supplementary material (shipped here as ``imagenet50_classes.txt``). Images are
read lazily from an ImageNet-style folder ``root/<split>/<wnid>/*.JPEG`` and
preprocessed as the paper's validation pipeline does: resize the shorter side
to 256, center-crop 224. Only PIL is needed.
"""
import struct
import warnings
import zlib
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from pyg_dnnmod.utils.sampling import sample_indices

#: The usual ImageNet normalisation constants (also the paper's).
IMAGENET_MEAN: Tuple[float, float, float] = (0.485, 0.456, 0.406)
#: The usual ImageNet normalisation constants (also the paper's).
IMAGENET_STD: Tuple[float, float, float] = (0.229, 0.224, 0.225)

_CLASSES_FILE = Path(__file__).with_name('imagenet50_classes.txt')
_EXTENSIONS = ('.jpeg', '.jpg', '.png', '.ppm', '.bmp', '.webp')

PathLike = Union[str, Path]


def imagenet50_classes() -> List[Tuple[str, str]]:
    r"""Returns the paper's 50 ImageNet classes as :obj:`(wnid, name)` pairs.

    The position in the list is the class label used by :class:`ImageNet50`.

    Example:
        >>> classes = imagenet50_classes()
        >>> len(classes), classes[0]
        (50, ('n01443537', 'goldfish, Carassius auratus'))
    """
    classes = []
    for line in _CLASSES_FILE.read_text().splitlines():
        line = line.strip()
        if line:
            wnid, _, name = line.partition(' ')
            classes.append((wnid, name.strip()))
    assert len(classes) == 50, f'{_CLASSES_FILE} lists {len(classes)} classes'
    return classes


def resize_center_crop(image, resize: int = 256, crop: int = 224) -> Tensor:
    r"""Resizes a PIL image so that its shorter side is :obj:`resize`, crops
    the central :obj:`crop` x :obj:`crop` square and returns it as a tensor in
    :obj:`[0, 1]`.

    Follows :class:`torchvision.transforms.Resize` (the longer side becomes
    :math:`\lfloor \mathrm{resize} \cdot \mathrm{long} / \mathrm{short}
    \rfloor`, bilinear with antialiasing) and
    :class:`~torchvision.transforms.CenterCrop` (offsets rounded), so both
    give the same pixels.

    Args:
        image (PIL.Image.Image): The image; converted to RGB.
        resize (int, optional): The target length of the shorter side.
            (default: :obj:`256`)
        crop (int, optional): The side of the central crop, at most
            :obj:`resize`. (default: :obj:`224`)

    Returns:
        torch.Tensor: The image :obj:`[3, crop, crop]` (:obj:`torch.float32`).

    Example:
        >>> from PIL import Image
        >>> img = Image.new('RGB', (40, 30), (255, 0, 0))
        >>> x = resize_center_crop(img, resize=16, crop=8)
        >>> x.shape, x[:, 0, 0].tolist()
        (torch.Size([3, 8, 8]), [1.0, 0.0, 0.0])
    """
    from PIL import Image

    if crop > resize:
        raise ValueError(f"'crop' must be <= 'resize' (got crop={crop}, "
                         f"resize={resize})")
    image = image.convert('RGB')
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = resize, int(resize * long / short)
    size = ((new_short, new_long) if width <= height else
            (new_long, new_short))
    if size != (width, height):
        image = image.resize(size, Image.BILINEAR)
    width, height = image.size
    top = int(round((height - crop) / 2.0))
    left = int(round((width - crop) / 2.0))
    image = image.crop((left, top, left + crop, top + crop))
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


class ImageNet50(Dataset):
    r"""The paper's 50-class ImageNet subset, read lazily from a folder.

    Scans ``root/<split>/<wnid>/`` for the 50 wnids of
    :func:`imagenet50_classes` (other class folders are ignored) and returns
    :obj:`(image, label)` pairs, the image resized and center-cropped by
    :func:`resize_center_crop` to :obj:`[3, 224, 224]` in :obj:`[0, 1]`
    (normalise with :obj:`IMAGENET_MEAN` / :obj:`IMAGENET_STD`) and the label
    the class's position in ``imagenet50_classes.txt`` (:obj:`0..49`). Files
    are listed in sorted order. A class folder that is missing only raises a
    warning, since a subset of the classes can still be analysed. An image
    that cannot be read, or that PIL refuses as a decompression bomb (more
    than twice :obj:`PIL.Image.MAX_IMAGE_PIXELS` pixels), raises a
    :class:`ValueError` naming the file when it is accessed.

    Args:
        root (str or pathlib.Path): The ImageNet folder, containing
            :obj:`split`.
        split (str, optional): The subfolder to read, e.g. :obj:`"val"` or
            :obj:`"train"`. (default: :obj:`"val"`)
        resize (int, optional): The shorter side after resizing.
            (default: :obj:`256`)
        crop (int, optional): The side of the center crop.
            (default: :obj:`224`)
        transform (callable, optional): A function applied to the image tensor
            after cropping. (default: :obj:`None`)

    Example:
        >>> ImageNet50('/nonexistent')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: ImageNet50: folder '/nonexistent/val' does not...
    """
    def __init__(
        self,
        root: PathLike,
        split: str = 'val',
        resize: int = 256,
        crop: int = 224,
        transform: Optional[Callable[[Tensor], Tensor]] = None,
    ) -> None:
        if crop > resize:
            raise ValueError(f"'crop' must be <= 'resize' (got crop={crop}, "
                             f"resize={resize})")
        self.root = Path(root).expanduser()
        self.split = split
        self.resize = resize
        self.crop = crop
        self.transform = transform
        self.classes = imagenet50_classes()
        self.wnids = [wnid for wnid, _ in self.classes]

        folder = self.root / split
        if not folder.is_dir():
            raise FileNotFoundError(
                f"ImageNet50: folder '{folder}' does not exist. Expected an "
                f"ImageNet-style layout '{self.root}/{split}/<wnid>/*.JPEG' "
                f"with the 50 wnids of imagenet50_classes.txt")
        self.samples: List[Tuple[Path, int]] = []
        missing = []
        for label, wnid in enumerate(self.wnids):
            class_dir = folder / wnid
            if not class_dir.is_dir():
                missing.append(wnid)
                continue
            files = sorted(p for p in class_dir.iterdir()
                           if p.suffix.lower() in _EXTENSIONS and p.is_file())
            self.samples.extend((p, label) for p in files)
        if len(missing) == len(self.wnids) or len(self.samples) == 0:
            raise FileNotFoundError(
                f"ImageNet50: no images of the 50 classes found in "
                f"'{folder}'. Expected subfolders named by wnid (e.g. "
                f"'{folder / self.wnids[0]}') holding image files "
                f"({', '.join(_EXTENSIONS)})")
        if missing:
            warnings.warn(
                f"ImageNet50: {len(missing)} of the 50 class folders are "
                f"missing in '{folder}' ({', '.join(missing[:5])}"
                f"{', ...' if len(missing) > 5 else ''}); their labels are "
                f"kept but have no samples", stacklevel=2)

    @property
    def targets(self) -> Tensor:
        r"""The labels of all samples, without reading any image."""
        return torch.tensor([label for _, label in self.samples],
                            dtype=torch.long)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, idx: int) -> Tuple[Tensor, int]:
        from PIL import Image

        path, label = self.samples[idx]
        try:
            with Image.open(path) as image:
                x = resize_center_crop(image, self.resize, self.crop)
        except Image.DecompressionBombError as e:
            raise ValueError(f"ImageNet50: refusing image '{path}' ({e}); "
                             f"remove the file") from e
        except (OSError, SyntaxError, ValueError, EOFError, IndexError,
                struct.error, zlib.error) as e:
            # What PIL's plugins raise for a corrupt or truncated file.
            raise ValueError(f"ImageNet50: cannot read image '{path}' "
                             f"({str(e) or type(e).__name__})") from e
        if self.transform is not None:
            x = self.transform(x)
        return x, label

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({len(self)}, "
                f"split={self.split!r})")


def sample_imagenet50(
    root: PathLike,
    num_samples: int,
    split: str = 'val',
    balanced: bool = True,
    seed: int = 0,
    resize: int = 256,
    crop: int = 224,
) -> Tuple[Tensor, Tensor]:
    r"""Draws :obj:`num_samples` images of :class:`ImageNet50` into memory.

    The indices come from :func:`sample_indices` over the dataset's labels,
    so the draw is reproducible and, with :obj:`balanced=True`, takes the
    same number of images from every class that has images.

    Args:
        root (str or pathlib.Path): The ImageNet folder (see
            :class:`ImageNet50`).
        num_samples (int): The number of images to draw.
        split (str, optional): The subfolder to read. (default: :obj:`"val"`)
        balanced (bool, optional): Draw the same number per class.
            (default: :obj:`True`)
        seed (int, optional): The random seed. (default: :obj:`0`)
        resize (int, optional): The shorter side after resizing.
            (default: :obj:`256`)
        crop (int, optional): The side of the center crop.
            (default: :obj:`224`)

    Returns:
        (torch.Tensor, torch.Tensor): Images :obj:`[N, 3, crop, crop]` in
        :obj:`[0, 1]` and labels :obj:`[N]` (:obj:`torch.long`).

    Example:
        >>> sample_imagenet50('/nonexistent', 50)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: ImageNet50: folder '/nonexistent/val' does not...
    """
    dataset = ImageNet50(root, split=split, resize=resize, crop=crop)
    idx = sample_indices(dataset.targets, num_samples, balanced=balanced,
                         seed=seed)
    images, labels = zip(*(dataset[i] for i in idx.tolist()))
    return torch.stack(images), torch.tensor(labels, dtype=torch.long)
