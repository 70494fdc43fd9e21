r"""Where features go when they do not fit memory: the memory budget of an
extraction (:func:`memory_budget`, taken from the memory available now) and
the disk-backed float32 store of the layers that do not fit it
(:class:`SpillStore`, one :class:`numpy.memmap` per layer).

The store keeps float32, the dtype of the features in memory, so a spilled
layer holds exactly the values an in-memory one would: a store of a smaller
dtype (float16) could not give the same k-NN graphs, and there is none.
"""
import os
import shutil
import tempfile
import warnings
import weakref
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

#: The memory taken as available when no source can be read (so the
#: default budget, half of it, is 2 GiB).
FALLBACK_AVAILABLE = 4 * 1024**3

# The files read for the available memory; module constants so that tests
# can point them at files of their own.
_MEMINFO = '/proc/meminfo'
_CGROUP = '/sys/fs/cgroup'
# File systems that keep their files in memory: a store there saves none.
_MEMORY_FILESYSTEMS = ('tmpfs', 'ramfs')


def _meminfo_available() -> Optional[int]:
    try:
        with open(_MEMINFO) as f:
            for line in f:
                if line.startswith('MemAvailable:'):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> Optional[int]:
    # A container's memory limit (cgroup v2) can be tighter than the host's
    # MemAvailable. Inactive file pages (page cache) are reclaimable, as in
    # the "working set" that container runtimes report.
    try:
        with open(os.path.join(_CGROUP, 'memory.max')) as f:
            limit = f.read().strip()
        if limit == 'max':
            return None
        with open(os.path.join(_CGROUP, 'memory.current')) as f:
            current = int(f.read())
        inactive_file = 0
        with open(os.path.join(_CGROUP, 'memory.stat')) as f:
            for line in f:
                if line.startswith('inactive_file '):
                    inactive_file = int(line.split()[1])
        return max(int(limit) - current + inactive_file, 0)
    except (OSError, ValueError, IndexError):
        return None


def _cpu_available() -> Optional[int]:
    found = [n for n in (_meminfo_available(), _cgroup_available())
             if n is not None]
    if found:
        return min(found)
    try:
        import psutil
        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil is optional
        return None


def memory_budget(device: Union[str, torch.device, None] = None,
                  fraction: float = 0.5) -> int:
    r"""The memory budget, in bytes, for features held on :obj:`device`: a
    :obj:`fraction` of the memory available there now. This is the budget
    :func:`iter_layer_features` and :func:`extract_features` take when
    :obj:`max_bytes=None` (their default).

    * CPU: :obj:`MemAvailable` of :obj:`/proc/meminfo` on Linux (bounded by
      the cgroup v2 limit of a container, :obj:`memory.max` less the memory
      in use, reclaimable page cache not counted as in use); elsewhere
      :obj:`psutil.virtual_memory().available` when :obj:`psutil` is
      installed.
    * CUDA: the free memory of the device, :obj:`torch.cuda.mem_get_info`.
    * Any other device (e.g. :obj:`'mps'`, which shares the CPU's
      memory): the CPU's available memory.

    When none of these can be read, :math:`4` GiB is taken as available
    (so the default budget is :math:`2` GiB).

    Args:
        device (str or torch.device, optional): Where the features are
            held. (default: :obj:`None`, the CPU)
        fraction (float, optional): The part of the available memory given
            to the features, in :math:`(0, 1]`; the rest is left to the
            forward pass, the k-NN and everything else. (default: :obj:`0.5`)

    Returns:
        int: The budget in bytes, at least :obj:`1`.

    Example:
        >>> budget = memory_budget()
        >>> budget >= 1
        True
        >>> memory_budget(fraction=0.25) <= budget
        True
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
            or not 0.0 < fraction <= 1.0:
        raise ValueError(f"'fraction' must be a number in (0, 1] (got "
                         f"{fraction!r})")
    device = torch.device('cpu') if device is None else torch.device(device)
    available = None
    if device.type == 'cuda':
        available = torch.cuda.mem_get_info(device)[0]
    if available is None:
        available = _cpu_available()
    if available is None:
        available = FALLBACK_AVAILABLE
    return max(int(available * fraction), 1)


def check_spill_dir(spill_dir: Union[str, os.PathLike, None]) -> str:
    r"""The folder the store goes in: :obj:`spill_dir`, or the system's
    temporary folder when :obj:`None`; checked to be a writable folder."""
    if spill_dir is None:
        return tempfile.gettempdir()
    if not isinstance(spill_dir, (str, os.PathLike)):
        raise TypeError(f"'spill_dir' must be a str or a path (got "
                        f"{type(spill_dir).__name__})")
    path = os.fspath(spill_dir)
    if not os.path.isdir(path):
        what = 'is not a folder' if os.path.exists(path) else \
            'does not exist'
        raise ValueError(f"'spill_dir' {what} (got {path!r})")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"'spill_dir' is not writable (got {path!r})")
    return path


def _filesystem(path: str) -> Optional[str]:
    # The type of the file system holding `path`: the longest mount point
    # of /proc/mounts above it (Linux only).
    path = os.path.realpath(path)
    best, kind = '', None
    try:
        with open('/proc/mounts') as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount = fields[1].replace('\\040', ' ')
                inside = path == mount or path.startswith(
                    mount.rstrip('/') + '/')
                if inside and len(mount) >= len(best):
                    best, kind = mount, fields[2]
    except OSError:
        return None
    return kind


def check_spill_space(folder: str, num_bytes: int, stacklevel: int) -> None:
    r"""Fails early when :obj:`folder` has less free space than the
    :obj:`num_bytes` a store will write (a full disk under a memory map
    would kill the process with SIGBUS, not raise), and warns when it lies
    in memory (tmpfs), where spilling saves no memory."""
    free = shutil.disk_usage(folder).free
    if free < num_bytes:
        raise ValueError(
            f"the layers that do not fit 'max_bytes' take {num_bytes} bytes "
            f"on disk, but 'spill_dir' {folder!r} has only {free} bytes "
            f"free; pass another 'spill_dir', a larger 'max_bytes', or "
            f"spill=False")
    kind = _filesystem(folder)
    if kind in _MEMORY_FILESYSTEMS:
        warnings.warn(
            f"'spill_dir' {folder!r} is on {kind}, which keeps files in "
            f"memory, so the {num_bytes} bytes of layers that do not fit "
            f"'max_bytes' take memory anyway; pass a 'spill_dir' on disk",
            stacklevel=stacklevel + 1)


class SpillStore:
    r"""A temporary folder of float32 :class:`numpy.memmap` matrices, one
    per layer, seen as CPU tensors. Every file is unlinked as soon as it is
    mapped where the system allows it (POSIX), so its data lives exactly as
    long as the tensors that map it and nothing is left behind by a crash;
    the folder is removed by :meth:`close`, on garbage collection, or at
    exit (with any file that could not be unlinked, as far as the system
    allows: Windows keeps a file while it is mapped)."""
    def __init__(self, folder: str) -> None:
        self.path = tempfile.mkdtemp(prefix='pyg_dnnmod_spill_', dir=folder)
        self._count = 0
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path,
                                           ignore_errors=True)

    def empty(self, rows: int, cols: int) -> Tensor:
        r"""An uninitialised float32 tensor :obj:`[rows, cols]` on disk."""
        file = os.path.join(self.path, f'{self._count}.f32')
        self._count += 1
        array = np.memmap(file, dtype=np.float32, mode='w+',
                          shape=(rows, cols))
        try:
            os.unlink(file)
        except OSError:  # a mapped file cannot be unlinked on Windows
            pass
        return torch.from_numpy(array)

    def close(self) -> None:
        r"""Removes the folder (idempotent)."""
        self._finalizer()
