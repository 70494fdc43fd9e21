r"""CIFAR-10 and CIFAR-100 read from a local copy, never downloaded.

The files are the official "python version" pickles
(``cifar-10-batches-py/data_batch_1..5``, ``test_batch``, ``batches.meta``;
``cifar-100-python/train``, ``test``, ``meta``). They are read without
torchvision through a restricted unpickler that only rebuilds numpy arrays and
plain Python values, so a tampered file cannot run code, and only as much
array data as the file holds, so a small file cannot claim GiBs. Alternatively
:obj:`backend="torchvision"` goes through :class:`torchvision.datasets.CIFAR10`
/ :class:`~torchvision.datasets.CIFAR100` (with :obj:`download=False`).
"""
import os
import pickle
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np
import torch
from torch import Tensor

#: The paper's CIFAR-10 normalisation constants (per channel).
CIFAR10_MEAN: Tuple[float, float, float] = (0.4914, 0.4822, 0.4465)
#: The paper's CIFAR-10 normalisation constants (per channel).
CIFAR10_STD: Tuple[float, float, float] = (0.2023, 0.1994, 0.2010)
#: The paper's CIFAR-100 normalisation constants. These are the values of the
#: paper's code, which are the exact per-channel statistics of the CIFAR-10
#: training set, not of CIFAR-100; they are kept for reproduction.
CIFAR100_MEAN: Tuple[float, float, float] = (0.49139968, 0.48215827,
                                             0.44653124)
#: The paper's CIFAR-100 normalisation constants (see :obj:`CIFAR100_MEAN`).
CIFAR100_STD: Tuple[float, float, float] = (0.24703233, 0.24348505,
                                            0.26158768)

PathLike = Union[str, Path]

_LAYOUT = {
    'cifar10': dict(
        title='CIFAR-10',
        folder='cifar-10-batches-py',
        train=[f'data_batch_{i}' for i in range(1, 6)],
        test=['test_batch'],
        meta='batches.meta',
        meta_key='label_names',
        num_classes=10,
    ),
    'cifar100': dict(
        title='CIFAR-100',
        folder='cifar-100-python',
        train=['train'],
        test=['test'],
        meta='meta',
        meta_key='fine_label_names',
        num_classes=100,
    ),
}

# Everything a CIFAR pickle needs besides builtins: numpy's array
# reconstruction (pickle protocols 2 to 5) under its numpy 1.x and 2.x module
# names, and the latin1 encoding through which Python 3 writes bytes at
# protocol 2. None of these can call arbitrary code; the ones that allocate
# memory are checked by _BoundedUnpickler before they do.
_ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'),  # protocol 5
    ('numpy._core.numeric', '_frombuffer'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('_codecs', 'encode'),
}
_LATIN1 = {'latin1', 'latin-1', 'latin_1', 'iso-8859-1', 'iso8859-1'}
# What an array may exceed the bytes of its file by (headers, alignment).
_SLACK = 1 << 16


def _nbytes(shape: Any, dtype: Any) -> int:
    # With Python integers, so that a huge shape cannot overflow.
    dims = (shape, ) if isinstance(shape, int) else tuple(shape)
    size = 1
    for d in dims:
        size *= int(d)
    return size * np.dtype(dtype).itemsize


class _Budget:
    # The memory a file may make the unpickler allocate: every array (and
    # protocol-2 byte string) must be backed by bytes of the file, so that a
    # few KiB cannot claim GiBs. A protocol-2 array holds its data twice (the
    # byte string and the array), hence twice the file in all.
    def __init__(self, size: int) -> None:
        self.size = size
        self.left = 2 * size + _SLACK

    def allocate(self, nbytes: int, dtype: Any = None) -> None:
        if dtype is not None and np.dtype(dtype).hasobject:
            # numpy trusts the element list of a pickled object array.
            raise pickle.UnpicklingError(
                'it holds an object array; a CIFAR file only holds numeric '
                'arrays')
        if nbytes > self.size + _SLACK or nbytes > self.left:
            raise pickle.UnpicklingError(
                f'it declares {nbytes:,} bytes of array data, more than its '
                f'{self.size:,} bytes can hold')
        self.left -= nbytes


class _BoundedArray(np.ndarray):
    # The class an array is rebuilt as while unpickling, so that its
    # __setstate__ (the pickle's BUILD) is checked before numpy allocates.
    _budget: _Budget

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) in (4, 5):
            shape, dtype = state[-4], state[-3]
            self._budget.allocate(_nbytes(shape, dtype), dtype)
        super().__setstate__(state)


class _RestrictedUnpickler(pickle.Unpickler):
    # Rebuilds only the globals of _ALLOWED_GLOBALS, and those that allocate
    # only within the _Budget of the file's size.
    def __init__(self, file: Any, size: int, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        budget = _Budget(size)

        def ndarray(shape: Any, dtype: Any = float, buffer: Any = None,
                    *args: Any) -> np.ndarray:
            if buffer is None:  # with a buffer, a view of the file's bytes
                budget.allocate(_nbytes(shape, dtype), dtype)
            return np.ndarray(shape, dtype, buffer, *args)

        def reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
            if subtype is not ndarray:
                raise pickle.UnpicklingError(
                    'it rebuilds an array of another class than '
                    'numpy.ndarray')
            budget.allocate(_nbytes(shape, dtype), dtype)
            array = self._numpy['_reconstruct'](_BoundedArray, shape, dtype)
            array._budget = budget
            return array

        def scalar(dtype: Any, *args: Any) -> Any:
            budget.allocate(np.dtype(dtype).itemsize, dtype)
            return self._numpy['scalar'](dtype, *args)

        def encode(text: Any, encoding: str = 'utf-8', *args: Any) -> bytes:
            # Only the latin1 of protocol-2 bytes: other codecs ('hex', ...)
            # expand their input, and chained they make a bomb.
            if not isinstance(text, str) or \
                    str(encoding).lower() not in _LATIN1:
                raise pickle.UnpicklingError(
                    f"refusing _codecs.encode of a {type(text).__name__} "
                    f"with {encoding!r}; a CIFAR file only encodes text as "
                    f"latin1")
            budget.allocate(len(text))
            return text.encode('latin1', *args)

        self._numpy: Dict[str, Any] = {}
        self._bounded = dict(_reconstruct=reconstruct, ndarray=ndarray,
                             scalar=scalar, encode=encode)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load the global '{module}.{name}'; a CIFAR "
                f"file only holds numpy arrays and plain Python values")
        if module.startswith('numpy._core') and not hasattr(np, '_core'):
            module = module.replace('numpy._core', 'numpy.core')
        elif module.startswith('numpy.core') and hasattr(np, '_core'):
            # numpy 2 warns on the old name; the objects are the same.
            module = module.replace('numpy.core', 'numpy._core')
        target = super().find_class(module, name)
        self._numpy.setdefault(name, target)
        return self._bounded.get(name, target)


def _read_pickle(path: Path) -> Dict[str, Any]:
    try:
        with open(path, 'rb') as f:
            # latin1 turns the byte strings of Python 2 pickles into str.
            obj = _RestrictedUnpickler(f, os.fstat(f.fileno()).st_size,
                                       encoding='latin1').load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError,
            IndexError, TypeError, ValueError, UnicodeDecodeError,
            OverflowError) as e:
        raise ValueError(f"'{path}' is not a CIFAR python pickle ({e})") from e
    if not isinstance(obj, dict):
        raise ValueError(f"'{path}' is not a CIFAR python pickle (expected a "
                         f"dict, got {type(obj).__name__})")
    return {k.decode('latin1') if isinstance(k, bytes) else k:
            v.view(np.ndarray) if isinstance(v, _BoundedArray) else v
            for k, v in obj.items()}


def _find_folder(root: PathLike, name: str, expected: List[str]) -> Path:
    layout = _LAYOUT[name]
    root = Path(root).expanduser()
    # Accept both the folder that contains the extracted archive and the
    # extracted folder itself.
    folder = root if root.name == layout['folder'] else root / layout['folder']
    missing = [f for f in expected if not (folder / f).is_file()]
    if missing:
        what = (f"folder '{folder}' does not exist" if not folder.is_dir()
                else f"missing {', '.join(missing)} in '{folder}'")
        raise FileNotFoundError(
            f"{layout['title']} not found under 'root' ('{root}'): {what}. "
            f"Expected the python version of the dataset extracted as "
            f"'{layout['folder']}/' with files {', '.join(expected)}. "
            f"Nothing is downloaded; fetch it from "
            f"https://www.cs.toronto.edu/~kriz/cifar.html yourself.")
    return folder


def _read_batch(path: Path, label_key: str,
                num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    batch = _read_pickle(path)
    for key in ('data', label_key):
        if key not in batch:
            raise ValueError(f"'{path}' is not a CIFAR python pickle: no "
                             f"'{key}' entry (found {sorted(batch)})")
    data = np.asarray(batch['data'])
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or \
            data.dtype != np.uint8:
        raise ValueError(f"'{path}': 'data' must be a uint8 array of shape "
                         f"[N, 3072] (got {data.dtype} {list(data.shape)})")
    labels = np.asarray(batch[label_key])
    if labels.ndim != 1 or labels.shape[0] != data.shape[0] or \
            not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"'{path}': '{label_key}' must hold {data.shape[0]} "
                         f"integer labels (got {labels.dtype} "
                         f"{list(labels.shape)})")
    if labels.size > 0 and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"'{path}': '{label_key}' must lie in "
                         f"[0, {num_classes}) (got [{labels.min()}, "
                         f"{labels.max()}])")
    return data, labels.astype(np.int64)


def _to_images(data: np.ndarray) -> Tensor:
    x = torch.from_numpy(data.reshape(-1, 3, 32, 32))
    return x.to(torch.float32).div_(255.0)


def _load_torchvision(root: PathLike, name: str, train: bool,
                      coarse: bool) -> Tuple[Tensor, Tensor]:
    from pyg_dnnmod.typing import WITH_TORCHVISION
    if not WITH_TORCHVISION:
        raise ImportError(f"'load_{name}(backend=\"torchvision\")' requires "
                          f"a working 'torchvision'; use backend='pickle'")
    import torchvision

    layout = _LAYOUT[name]
    root = Path(root).expanduser()
    if root.name == layout['folder']:
        root = root.parent
    cls = (torchvision.datasets.CIFAR10
           if name == 'cifar10' else torchvision.datasets.CIFAR100)
    try:
        dataset = cls(str(root), train=train, download=False)
    except RuntimeError as e:
        raise FileNotFoundError(
            f"{layout['title']} not found under 'root' ('{root}') by "
            f"torchvision ({e}). Expected '{layout['folder']}/' with the "
            f"official files (torchvision checks their MD5 sums); nothing "
            f"is downloaded.") from e
    x = _to_images(np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2))
                   .reshape(len(dataset), -1))
    if coarse:
        # torchvision only exposes the fine labels.
        split_file = layout['train'][0] if train else layout['test'][0]
        _, y = _read_batch(root / layout['folder'] / split_file,
                           'coarse_labels', 20)
        return x, torch.from_numpy(y)
    return x, torch.as_tensor(dataset.targets, dtype=torch.long)


def _load(root: PathLike, name: str, train: bool, coarse: bool,
          backend: str) -> Tuple[Tensor, Tensor]:
    if backend not in ('pickle', 'torchvision'):
        raise ValueError(f"'backend' must be 'pickle' or 'torchvision' "
                         f"(got {backend!r})")
    if backend == 'torchvision':
        return _load_torchvision(root, name, train, coarse)
    layout = _LAYOUT[name]
    files = layout['train' if train else 'test']
    folder = _find_folder(root, name, files)
    if name == 'cifar10':
        label_key, num_classes = 'labels', 10
    elif coarse:
        label_key, num_classes = 'coarse_labels', 20
    else:
        label_key, num_classes = 'fine_labels', 100
    parts = [_read_batch(folder / f, label_key, num_classes) for f in files]
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return _to_images(data), torch.from_numpy(labels)


def load_cifar10(
    root: PathLike,
    train: bool = True,
    backend: str = 'pickle',
) -> Tuple[Tensor, Tensor]:
    r"""Loads CIFAR-10 from a local copy of its python pickle files.

    Args:
        root (str or pathlib.Path): The folder that contains
            ``cifar-10-batches-py/``, or that folder itself.
        train (bool, optional): If set to :obj:`True`, loads the 50,000
            training images (``data_batch_1..5``), otherwise the 10,000 test
            images (``test_batch``). (default: :obj:`True`)
        backend (str, optional): :obj:`"pickle"` reads the files directly;
            :obj:`"torchvision"` goes through
            :class:`torchvision.datasets.CIFAR10` with :obj:`download=False`
            (which also checks the files' MD5 sums). (default:
            :obj:`"pickle"`)

    Returns:
        (torch.Tensor, torch.Tensor): Images :obj:`[N, 3, 32, 32]` in
        :obj:`[0, 1]` (:obj:`torch.float32`) and labels :obj:`[N]`
        (:obj:`torch.long`). Normalise with :obj:`CIFAR10_MEAN` and
        :obj:`CIFAR10_STD`.

    Raises:
        FileNotFoundError: If a file is missing; the message names the folder
            and the expected files. Nothing is downloaded or written.
        ValueError: If a file is not in the CIFAR python pickle format, or
            declares more array data than it holds.

    Example:
        >>> load_cifar10('/nonexistent')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: CIFAR-10 not found under 'root' ('/nonexistent')...
    """
    return _load(root, 'cifar10', train, False, backend)


def load_cifar100(
    root: PathLike,
    train: bool = True,
    coarse: bool = False,
    backend: str = 'pickle',
) -> Tuple[Tensor, Tensor]:
    r"""Loads CIFAR-100 from a local copy of its python pickle files.

    Args:
        root (str or pathlib.Path): The folder that contains
            ``cifar-100-python/``, or that folder itself.
        train (bool, optional): If set to :obj:`True`, loads the 50,000
            training images (``train``), otherwise the 10,000 test images
            (``test``). (default: :obj:`True`)
        coarse (bool, optional): If set to :obj:`True`, returns the 20
            superclass labels instead of the 100 fine labels.
            (default: :obj:`False`)
        backend (str, optional): :obj:`"pickle"` or :obj:`"torchvision"`
            (see :func:`load_cifar10`). (default: :obj:`"pickle"`)

    Returns:
        (torch.Tensor, torch.Tensor): Images :obj:`[N, 3, 32, 32]` in
        :obj:`[0, 1]` (:obj:`torch.float32`) and labels :obj:`[N]`
        (:obj:`torch.long`). Normalise with :obj:`CIFAR100_MEAN` and
        :obj:`CIFAR100_STD`.

    Example:
        >>> load_cifar100('/nonexistent')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: CIFAR-100 not found under 'root' ('/nonexistent')...
    """
    return _load(root, 'cifar100', train, coarse, backend)


def cifar_class_names(root: PathLike, name: str = 'cifar10',
                      coarse: bool = False) -> List[str]:
    r"""Reads the class names from a local CIFAR meta file.

    Args:
        root (str or pathlib.Path): As in :func:`load_cifar10`.
        name (str, optional): :obj:`"cifar10"` or :obj:`"cifar100"`.
            (default: :obj:`"cifar10"`)
        coarse (bool, optional): For CIFAR-100, returns the 20 superclass
            names. (default: :obj:`False`)

    Returns:
        List[str]: The class names, indexed by label.

    Example:
        >>> cifar_class_names('/nonexistent', 'cifar11')
        Traceback (most recent call last):
        ...
        ValueError: 'name' must be 'cifar10' or 'cifar100' (got 'cifar11')
    """
    if name not in _LAYOUT:
        raise ValueError(f"'name' must be 'cifar10' or 'cifar100' "
                         f"(got {name!r})")
    layout = _LAYOUT[name]
    path = _find_folder(root, name, [layout['meta']]) / layout['meta']
    key = 'coarse_label_names' if coarse else layout['meta_key']
    meta = _read_pickle(path)
    if key not in meta:
        raise ValueError(f"'{path}' is not a CIFAR meta file: no '{key}' "
                         f"entry (found {sorted(meta)})")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in meta[key]]

