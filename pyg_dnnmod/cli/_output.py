r"""The output of a ``pyg-dnnmod`` command: the folder, checked before any
work is done and written all at once at the end, ``run.json`` (the command
line, every parameter with its parsed value, versions, device, timings) and
the ``wrote ...`` lines."""
import argparse
import errno
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

from pyg_dnnmod._version import __version__
from pyg_dnnmod.cli._errors import CLIError, one_line
from pyg_dnnmod.cli._options import OUTPUT_ROOT, slug

#: The file that marks a folder as a ``pyg-dnnmod`` output.
RUN_JSON = 'run.json'

Writer = Callable[[Path], Any]


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path('.')


def _write_problem(folder: Path) -> Optional[str]:
    # Why nothing can be written into the existing :obj:`folder`, or None.
    if not folder.is_dir():
        return f"'{folder}' is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return os.strerror(errno.EACCES)
    try:
        # os.access does not see a read-only mount, nor what root may not do.
        with tempfile.NamedTemporaryFile(dir=folder,
                                         prefix='.pyg_dnnmod-probe-'):
            pass
    except OSError as e:
        return e.strerror or one_line(e)
    return None


def check_writable(path: Path, option: str = '--out',
                   replace: bool = True) -> None:
    r"""Fails before any work is done when the output folder :obj:`path`
    cannot be created and written: the nearest folder that exists (the
    parent of :obj:`path` with :obj:`replace`, where
    :func:`write_outputs` writes and renames) must be writable, and so must
    :obj:`path` itself if it exists. Nothing is left behind.

    Example:
        >>> check_writable(Path(sys.executable) / 'out')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyg_dnnmod.cli._errors.CLIError: --out '...out': cannot write there...
    """
    path = Path(path)
    folders = [path] if path.is_dir() else []
    if replace or not folders:
        folders.append(_nearest_existing(path.parent))
    for folder in folders:
        problem = _write_problem(folder)
        if problem is not None:
            raise CLIError(f"{option} '{path}': cannot write there "
                           f"({problem}); pass a folder you can write to")


def checkpoint_part(args: argparse.Namespace,
                    option: str = 'checkpoint') -> List[str]:
    r"""The part of a default output folder name that says which
    checkpoint (or folder of checkpoints) the weights came from:
    :obj:`["ckpt-<stem>"]`, the file's stem or the folder's name (at most
    40 characters), or nothing without one.

    Example:
        >>> checkpoint_part(argparse.Namespace(
        ...     checkpoint='runs/train-vgg11/epoch_010.pt'))
        ['ckpt-epoch_010']
        >>> checkpoint_part(argparse.Namespace(checkpoint=None))
        []
    """
    path = getattr(args, option, None)
    if path is None:
        return []
    path = Path(str(path))
    stem = path.name if path.is_dir() else path.stem
    return [f"ckpt-{slug(stem)[:40].rstrip('-.')}"]


def run_name(command: str, args: argparse.Namespace, *extra: str) -> str:
    r"""The default output folder name of a command that reads one model
    on one data set: command, model, data, N, k, :obj:`extra`, then the
    metric when it is not cosine, ``random`` for a random-init model and
    the checkpoint's :func:`checkpoint_part`.

    Example:
        >>> args = argparse.Namespace(model='vgg11', dataset='cifar10',
        ...                           num_samples=500, k=3,
        ...                           checkpoint='run/epoch_150.pt')
        >>> run_name('cka', args)
        'cka-vgg11-cifar10-N500-k3-ckpt-epoch_150'
    """
    parts = [command, slug(args.model), args.dataset,
             f'N{args.num_samples}', f'k{args.k}', *extra]
    if getattr(args, 'metric', 'cosine') != 'cosine':
        parts.append(args.metric)
    if getattr(args, 'random_init', False):
        parts.append('random')
    parts += checkpoint_part(args)
    return '-'.join(parts)


def plan_output(out: Optional[str], run_name: str,
                overwrite: bool) -> Path:
    r"""The output folder, checked before any work is done.

    Without ``--out`` it is ``./pyg_dnnmod_out/<run_name>``, with ``-2``,
    ``-3``, ... appended while that folder exists (``--overwrite`` reuses
    the plain name instead). A given ``--out`` that exists and is not empty
    is an error unless ``--overwrite``; only a folder holding ``run.json``
    (one this tool wrote) is ever replaced. A folder that cannot be written
    (see :func:`check_writable`) is an error too.
    """
    if out is None:
        base = Path(OUTPUT_ROOT) / run_name
        path = base
        if not overwrite:
            counter = 2
            while path.exists() and not _is_empty_dir(path):
                path = base.with_name(f'{base.name}-{counter}')
                counter += 1
    else:
        path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise CLIError(f"--out '{path}' is a file; pass a folder")
    if path.exists() and not _is_empty_dir(path):
        if not overwrite:
            raise CLIError(f"output folder '{path}' already exists and is "
                           f"not empty; pass --overwrite to replace it or "
                           f"another --out")
        check_ours(path)
    check_writable(path, '--out')
    return path


def check_ours(path: Path) -> None:
    r"""Refuses to replace a folder that holds no ``run.json``."""
    if not (path / RUN_JSON).is_file():
        raise CLIError(f"refusing to overwrite '{path}': it holds no "
                       f"{RUN_JSON}, so this tool did not write it; pass "
                       f"another --out")


def write_outputs(path: Path, writers: Mapping[str, Writer],
                  overwrite: bool = False) -> List[Path]:
    r"""Writes every file of :obj:`writers` (file name to a function that
    writes that path) into a temporary folder next to :obj:`path` and
    renames it into place at the end, so the output folder appears complete
    or not at all."""
    path = Path(path)
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f'.{path.name}.tmp-{os.getpid()}'
    old = parent / f'.{path.name}.old-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name, write in writers.items():
            write(tmp / name)
        if path.exists():
            if _is_empty_dir(path):
                path.rmdir()
            elif overwrite and (path / RUN_JSON).is_file():
                os.replace(path, old)
            else:
                raise CLIError(f"output folder '{path}' appeared while this "
                               f"run was computing; pass another --out or "
                               f"--overwrite")
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return [path / name for name in writers]


def environment(device: Any = None) -> Dict[str, Any]:
    r"""Versions and the compute device, for ``run.json``."""
    import numpy
    import pandas
    import sklearn
    import torch
    import torch_geometric

    from pyg_dnnmod.typing import WITH_TORCHVISION

    versions = dict(python=platform.python_version(),
                    pyg_dnnmod=__version__,
                    torch=torch.__version__,
                    torch_geometric=torch_geometric.__version__,
                    numpy=numpy.__version__, pandas=pandas.__version__,
                    scikit_learn=sklearn.__version__)
    if WITH_TORCHVISION:
        import torchvision
        versions['torchvision'] = torchvision.__version__
    info: Dict[str, Any] = dict(versions=versions,
                                platform=platform.platform(),
                                torch_threads=torch.get_num_threads())
    if device is not None:
        device = torch.device(device)
        info['device'] = str(device)
        if device.type == 'cuda':
            info['device_name'] = torch.cuda.get_device_name(device)
            info['cuda'] = torch.version.cuda
        else:
            info['device_name'] = platform.processor() or platform.machine()
    return info


def run_record(command: str, args: argparse.Namespace,
               timings: Dict[str, float], device: Any = None,
               **extra: Any) -> Dict[str, Any]:
    r"""The content of ``run.json``: the command line, every parameter as
    parsed (integers, lists), versions, device, timings per stage and what
    :obj:`extra` adds."""
    params = {k: v for k, v in vars(args).items() if not k.startswith('_')}
    record: Dict[str, Any] = dict(
        command=command, argv=list(getattr(args, '_argv', sys.argv[1:])),
        params=params, seed=getattr(args, 'seed', None),
        finished=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
    record.update(environment(device))
    record['timings'] = {k: round(v, 3) for k, v in timings.items()}
    record.update(extra)
    return record


def write_json(record: Dict[str, Any], path: Path) -> None:
    r"""Writes :obj:`record` as indented JSON (anything else as text),
    atomically."""
    from pyg_dnnmod.io import atomic_write  # imports torch

    text = json.dumps(record, indent=2, default=str) + '\n'
    atomic_write(path, lambda tmp: tmp.write_text(text))


def finish(command: str, args: argparse.Namespace, out: Path,
           timer: 'Timer', device: Any, files: Mapping[str, Writer],
           figures: Optional[Mapping[str, Any]] = None, dpi: int = 150,
           **record: Any) -> List[Path]:
    r"""Writes the output folder :obj:`out` at once: :obj:`files` (name to
    writer), :obj:`figures` (name to figure) and ``run.json`` with
    :obj:`record`; returns the paths written."""
    from pyg_dnnmod.plotting import save_figure

    writers: Dict[str, Writer] = dict(files)
    for name, fig in (figures or {}).items():
        writers[name] = (lambda f: lambda p: save_figure(f, p, dpi))(fig)
    writers[RUN_JSON] = lambda p: write_json(
        run_record(command, args, timer.total(), device, output=str(out),
                   **record), p)
    with timer('write'):
        return write_outputs(out, writers, args.overwrite)


def print_written(paths: List[Path]) -> None:
    r"""A blank line, then ``wrote <path>`` for every path."""
    print()
    for path in paths:
        print(f'wrote {path}')


class Timer:
    r"""Wall time per stage, for ``run.json``.

    Example:
        >>> timer = Timer()
        >>> with timer('data'):
        ...     pass
        >>> sorted(timer.timings)
        ['data']
    """
    def __init__(self) -> None:
        self.timings: Dict[str, float] = {}
        self._start = time.perf_counter()

    def __call__(self, stage: str) -> '_Stage':
        return _Stage(self, stage)

    def total(self) -> Dict[str, float]:
        return dict(self.timings, total=time.perf_counter() - self._start)


class _Stage:
    def __init__(self, timer: Timer, stage: str) -> None:
        self.timer, self.stage = timer, stage

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        before = self.timer.timings.get(self.stage, 0.0)
        self.timer.timings[self.stage] = (before + time.perf_counter()
                                          - self.start)
