r"""Files: atomic writes, loads that cannot execute code, fingerprints.

Every file the package reads back from a folder a user points it at
(processed datasets and their side files, zoo records, caches, checkpoints)
goes through :func:`load_tensors` or :func:`load_json`: :func:`torch.load`
with :obj:`weights_only=True` and no fallback to full unpickling, so a
planted file cannot run code. A file that cannot be read so (truncated,
random bytes, empty, or a pickle that asks for a global outside torch's
allow-list) raises :class:`DamagedFileError`, which names the file; callers
that own a derived file rebuild it with a warning.

Every file the package writes goes through :func:`atomic_write`: a
temporary name in the same folder, then one :func:`os.replace`, so a reader
never sees half a file and a killed run leaves only a hidden temporary.
"""
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Union

import torch
from torch import Tensor

PathLike = Union[str, Path]

__all__ = [
    'DamagedFileError',
    'atomic_write',
    'atomic_save',
    'atomic_write_json',
    'load_tensors',
    'load_json',
    'file_digest',
    'update_with_tensor',
]


class DamagedFileError(ValueError):
    r"""A file that cannot be read safely: truncated, empty, not in the
    expected format, or holding something other than tensors and plain
    Python values. The message names the file; nothing in it was run."""


def _describe(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    first = text[0] if text else ''
    if len(first) > 160:
        first = first[:157] + '...'
    return f'{type(e).__name__}: {first}' if first else type(e).__name__


def atomic_write(path: PathLike, write: Callable[[Path], Any]) -> Path:
    r"""Calls :obj:`write(tmp)` on a hidden temporary path next to
    :obj:`path` and renames it into place; the temporary is removed if
    :obj:`write` fails.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / 'a.txt'
        >>> _ = atomic_write(path, lambda tmp: tmp.write_text('done'))
        >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
        ('done', ['a.txt'])
    """
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.tmp{os.getpid()}')
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_save(obj: Any, path: PathLike) -> Path:
    r""":func:`torch.save` of :obj:`obj` to :obj:`path` through
    :func:`atomic_write`. Store tensors and plain Python values only, so
    that :func:`load_tensors` can read the file back."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


def atomic_write_json(obj: Any, path: PathLike, **kwargs: Any) -> Path:
    r"""Writes :obj:`obj` as JSON through :func:`atomic_write`
    (:obj:`kwargs` go to :func:`json.dump`)."""
    def write(tmp: Path) -> None:
        with open(tmp, 'w') as f:
            json.dump(obj, f, **kwargs)

    return atomic_write(path, write)


def load_tensors(path: PathLike, map_location: Any = 'cpu',
                 what: str = 'file') -> Any:
    r"""Reads a file written by :func:`torch.save` with
    :obj:`weights_only=True` and no fallback: it cannot execute code.

    Args:
        path (str or Path): The file.
        map_location (optional): Passed to :func:`torch.load`.
            (default: :obj:`'cpu'`)
        what (str, optional): What the file is, for the error message.
            (default: :obj:`'file'`)

    Raises:
        DamagedFileError: If the file is missing, truncated, not a torch
            file, or asks for anything but tensors and plain values.

    Example:
        >>> import os, tempfile
        >>> path = Path(tempfile.mkdtemp()) / 'hostile.pt'
        >>> torch.save({'run': os.getcwd}, path)  # a callable: refused
        >>> try:
        ...     load_tensors(path, what='cache')
        ... except DamagedFileError as e:
        ...     print(str(e).startswith(f"cache '{path}'"))
        True
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - every failure means "damaged"
        raise DamagedFileError(f"{what} '{path}' cannot be read safely "
                               f"({_describe(e)})") from e


def load_json(path: PathLike, what: str = 'file') -> Any:
    r"""Reads a JSON file; a missing, empty or malformed one raises
    :class:`DamagedFileError` naming it.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / 'meta.json'
        >>> _ = atomic_write_json({'k': 3}, path)
        >>> load_json(path)
        {'k': 3}
    """
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise DamagedFileError(f"{what} '{path}' cannot be read "
                               f"({_describe(e)})") from e


def file_digest(path: PathLike) -> str:
    r"""The SHA-256 of a file's bytes, read in 1 MiB blocks.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / 'a.txt'
        >>> _ = path.write_text('abc')
        >>> file_digest(path)[:12]
        'ba7816bf8f01'
    """
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def update_with_tensor(h: 'hashlib._Hash', t: Tensor) -> None:
    r"""Feeds a tensor's dtype, shape and bytes into the hash :obj:`h`.

    Example:
        >>> h1, h2 = hashlib.sha256(), hashlib.sha256()
        >>> update_with_tensor(h1, torch.zeros(2))
        >>> update_with_tensor(h2, torch.zeros(2, dtype=torch.float64))
        >>> h1.hexdigest() == h2.hexdigest()
        False
    """
    t = t.detach().cpu().contiguous()
    h.update(f'{t.dtype}{tuple(t.shape)}'.encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes()
             if t.numel() else b'')
