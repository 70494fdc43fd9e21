r"""Per-epoch training checkpoints: written atomically, loaded safely.

A checkpoint ``epoch_XXX.pt`` holds only tensors and plain Python values (the
model's ``state_dict``, the optimizer's and the scheduler's state, the history
so far and the training configuration), so it loads with
:obj:`torch.load(weights_only=True)` and never executes code. The sequence of
checkpoints is the raw material of the "dynamics over epochs" analyses.
"""
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import torch
from torch import nn

PathLike = Union[str, Path]

_NAME = re.compile(r'^epoch_(\d+)\.pt$')


def checkpoint_path(checkpoint_dir: PathLike, epoch: int) -> Path:
    r"""Returns the path of the checkpoint of :obj:`epoch`,
    ``checkpoint_dir/epoch_XXX.pt`` (at least three digits).

    Example:
        >>> checkpoint_path('runs/a', 7).as_posix()
        'runs/a/epoch_007.pt'
    """
    return Path(checkpoint_dir) / f'epoch_{epoch:03d}.pt'


def list_checkpoints(checkpoint_dir: PathLike) -> List[Tuple[int, Path]]:
    r"""Lists the per-epoch checkpoints in a folder, sorted by epoch.

    Args:
        checkpoint_dir (str or pathlib.Path): The folder that
            :func:`~pyg_dnnmod.training.train` wrote to.

    Returns:
        List[Tuple[int, pathlib.Path]]: :obj:`(epoch, path)` pairs; empty if
        the folder does not exist or holds no checkpoint.

    Example:
        >>> list_checkpoints('/nonexistent')
        []
    """
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match is not None and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def save_checkpoint(checkpoint: Dict[str, Any], path: PathLike) -> Path:
    r"""Saves :obj:`checkpoint` with :func:`torch.save`, atomically.

    The data goes to a temporary file in the same folder that then replaces
    :obj:`path` in one :func:`os.replace`, so an interrupted run never leaves
    a truncated checkpoint behind.

    Args:
        checkpoint (dict): What to save; tensors and plain Python values only,
            so that it can be loaded with :obj:`weights_only=True`.
        path (str or pathlib.Path): The destination.

    Returns:
        pathlib.Path: :obj:`path`.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = save_checkpoint({'epoch': 0}, Path(tmp) / 'a.pt')
        ...     torch.load(path, weights_only=True)
        {'epoch': 0}
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_checkpoint(path: PathLike,
                    map_location: Any = 'cpu') -> Dict[str, Any]:
    r"""Reads a checkpoint file with :obj:`torch.load(weights_only=True)`.

    A bare ``state_dict`` is returned as :obj:`{'model': state_dict}`.

    Args:
        path (str or pathlib.Path): The checkpoint file.
        map_location (optional): Passed to :func:`torch.load`.
            (default: :obj:`"cpu"`)

    Returns:
        dict: The checkpoint, with the model's state under :obj:`"model"`.

    Example:
        >>> read_checkpoint('/nonexistent.pt')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: checkpoint '/nonexistent.pt' does not exist
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint '{path}' does not exist")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types here
        raise ValueError(f"'{path}' is not a checkpoint that loads with "
                         f"weights_only=True ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from e
    if not isinstance(obj, dict):
        raise ValueError(f"'{path}' does not hold a dict (got "
                         f"{type(obj).__name__})")
    if 'model' in obj and isinstance(obj['model'], dict):
        return obj
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {'model': obj}
    raise ValueError(f"'{path}' holds neither a training checkpoint (no "
                     f"'model' entry) nor a state_dict")


def load_checkpoint(model: nn.Module, path: PathLike,
                    map_location: Any = 'cpu') -> Dict[str, Any]:
    r"""Loads the weights of a checkpoint into :obj:`model`, checking first
    that they fit.

    Accepts the files written by :func:`~pyg_dnnmod.training.train` and bare
    ``state_dict`` files. Loading uses :obj:`torch.load(weights_only=True)`.

    Args:
        model (torch.nn.Module): The model, with the architecture that wrote
            the checkpoint.
        path (str or pathlib.Path): The checkpoint file.
        map_location (optional): Passed to :func:`torch.load`; the tensors
            are then copied into the model's own parameters, on the model's
            device. (default: :obj:`"cpu"`)

    Returns:
        dict: The whole checkpoint (e.g. :obj:`"epoch"` and :obj:`"history"`
        for a training checkpoint).

    Raises:
        ValueError: If the checkpoint does not fit the model; the message
            names the file and lists the missing and unexpected keys and the
            mismatching shapes.

    Example:
        >>> import tempfile
        >>> model = nn.Linear(2, 3)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = save_checkpoint({'model': model.state_dict()},
        ...                            Path(tmp) / 'a.pt')
        ...     _ = load_checkpoint(nn.Linear(2, 3), path)
        ...     load_checkpoint(nn.Linear(2, 4), path)
        ... # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        ValueError: checkpoint '...a.pt' does not fit the model: shape
        mismatch: weight [3, 2] in file vs [4, 2] in model, ...
    """
    checkpoint = read_checkpoint(path, map_location=map_location)
    state = checkpoint['model']
    expected = model.state_dict()

    problems = []
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f'{k} {list(state[k].shape)} in file vs {list(v.shape)} in model'
        for k, v in expected.items()
        if k in state and isinstance(state[k], torch.Tensor)
        and state[k].shape != v.shape
    ]

    def _show(keys: List[str]) -> str:
        more = f', ... ({len(keys) - 10} more)' if len(keys) > 10 else ''
        return ', '.join(keys[:10]) + more

    if missing:
        problems.append(f'missing keys: {_show(missing)}')
    if unexpected:
        problems.append(f'unexpected keys: {_show(unexpected)}')
    if mismatched:
        problems.append(f'shape mismatch: {_show(mismatched)}')
    if problems:
        raise ValueError(f"checkpoint '{path}' does not fit the model: "
                         f"{'; '.join(problems)}")
    model.load_state_dict(state)
    return checkpoint
