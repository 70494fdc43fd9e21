r"""Checkpoints: written atomically, loaded safely.

A checkpoint holds only tensors and plain Python values, so it loads with
:obj:`torch.load(weights_only=True)` and never executes code.
:func:`read_checkpoint` reads every format this package writes:

* a per-epoch checkpoint ``epoch_XXX.pt`` of
  :func:`~pyg_dnnmod.training.train` (the model's ``state_dict`` under
  :obj:`"model"`, the optimizer's and the scheduler's state, the history so
  far and the training configuration): the raw material of the "dynamics
  over epochs" analyses;
* a trained model of :func:`save_model_checkpoint` (``pyg-dnnmod
  dynamics`` keeps one): the ``state_dict`` under :obj:`"model"`;
* a cached model of :mod:`pyg_dnnmod.pretrained` (the ``state_dict`` under
  :obj:`"state_dict"`);
* a bare ``state_dict`` (the shipped networks' files, or
  :obj:`torch.save(model.state_dict(), path)`).

What the package writes records under :obj:`"info"` what the weights are
(:func:`checkpoint_info`): the model's spec (:obj:`"model"`) and the data
set it was trained on (:obj:`"dataset"`). A whole pickled model
(:obj:`torch.save(model)`) is refused, with how to convert it.
"""
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from torch import nn

PathLike = Union[str, Path]

_NAME = re.compile(r'^epoch_(\d+)\.pt$')
# Terminal colour codes, as torch's messages carry them.
_ESCAPES = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')


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


def _unreadable(path: Path, error: BaseException) -> str:
    # torch's message has terminal escapes and advice to unpickle; neither
    # belongs in ours.
    text = _ESCAPES.sub('', str(error))
    found = re.search(r'GLOBAL ([\w.]+) was not an allowed global', text)
    if found is not None:
        return (f"'{path}' is not a checkpoint that loads with "
                f"weights_only=True: it holds pickled Python objects (class "
                f"{found.group(1)}), e.g. a whole model saved with "
                f"torch.save(model). Such a file is never unpickled here, "
                f"since unpickling can run code; where you trust it, load it "
                f"and save the weights alone: "
                f"torch.save(model.state_dict(), '{path.stem}_weights.pt')")
    lines = text.strip().splitlines()
    first = lines[0].strip() if lines else ''
    return (f"'{path}' is not a checkpoint that loads with weights_only=True "
            f"({type(error).__name__}{': ' + first if first else ''})")


def _is_state_dict(value: Any) -> bool:
    return isinstance(value, dict) and \
        all(isinstance(v, torch.Tensor) for v in value.values())


def read_checkpoint(path: PathLike,
                    map_location: Any = 'cpu') -> Dict[str, Any]:
    r"""Reads a checkpoint file with :obj:`torch.load(weights_only=True)`:
    any format of the module's list (a training checkpoint, a saved or
    cached model, a bare ``state_dict``).

    A bare ``state_dict`` is returned as :obj:`{'model': state_dict}`, a
    cached model :obj:`{'state_dict': ..., 'info': ...}` as
    :obj:`{'model': ..., 'info': ...}`.

    Args:
        path (str or pathlib.Path): The checkpoint file.
        map_location (optional): Passed to :func:`torch.load`.
            (default: :obj:`"cpu"`)

    Returns:
        dict: The checkpoint, with the model's state under :obj:`"model"`.

    Raises:
        FileNotFoundError: If there is no such file.
        ValueError: If the file does not load with :obj:`weights_only=True`
            (e.g. a whole pickled model: the message says how to save its
            weights instead) or holds none of the formats.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / 'cached.pt'
        >>> torch.save({'state_dict': nn.Linear(2, 1).state_dict(),
        ...             'info': {'model': 'linear'}}, path)
        >>> checkpoint = read_checkpoint(path)
        >>> sorted(checkpoint['model']), checkpoint['info']
        (['bias', 'weight'], {'model': 'linear'})
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
        raise ValueError(_unreadable(path, e)) from e
    if not isinstance(obj, dict):
        raise ValueError(f"'{path}' does not hold a dict (got "
                         f"{type(obj).__name__}); pass a state_dict file "
                         f"(torch.save(model.state_dict(), path)) or a "
                         f"checkpoint of pyg_dnnmod.training.train")
    if isinstance(obj.get('model'), dict):
        return obj
    if isinstance(obj.get('state_dict'), dict):
        checkpoint = {k: v for k, v in obj.items() if k != 'state_dict'}
        checkpoint['model'] = obj['state_dict']
        return checkpoint
    if _is_state_dict(obj):
        return {'model': obj}
    keys = ', '.join(repr(k) for k in list(obj)[:8])
    more = f', ... ({len(obj) - 8} more)' if len(obj) > 8 else ''
    raise ValueError(f"'{path}' holds neither a training checkpoint (no "
                     f"'model' entry), a saved model (no 'state_dict' "
                     f"entry) nor a state_dict (not only tensors): a dict "
                     f"with the keys {keys}{more}; pass a state_dict file "
                     f"(torch.save(model.state_dict(), path))")


def checkpoint_info(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    r"""What a checkpoint of :func:`read_checkpoint` records about its
    weights under :obj:`"info"` (e.g. :obj:`"model"`, the model's spec, and
    :obj:`"dataset"`, the data set it was trained on); empty for a file
    that records nothing (a bare ``state_dict``, or a file written before
    the record was kept).

    Example:
        >>> checkpoint_info({'model': {}, 'info': {'dataset': 'digits'}})
        {'dataset': 'digits'}
        >>> checkpoint_info({'model': {}})
        {}
    """
    info = checkpoint.get('info')
    return dict(info) if isinstance(info, dict) else {}


def describe_checkpoint(checkpoint: Dict[str, Any]) -> str:
    r"""What kind of file a checkpoint of :func:`read_checkpoint` came
    from, for messages.

    Example:
        >>> describe_checkpoint({'model': {}, 'epoch': 3})
        'a training checkpoint of epoch 3'
        >>> describe_checkpoint({'model': {}})
        'a state_dict'
    """
    info = checkpoint_info(checkpoint)
    what = 'a state_dict'
    if isinstance(checkpoint.get('epoch'), int):
        what = f"a training checkpoint of epoch {checkpoint['epoch']}"
    elif 'info' in checkpoint:
        what = 'a saved model'
    parts = []
    if isinstance(info.get('model'), str):
        parts.append(f"model {info['model']}")
    if isinstance(info.get('dataset'), str):
        parts.append(f"trained on {info['dataset']}")
    return what + (f" ({', '.join(parts)})" if parts else '')


def save_model_checkpoint(model: nn.Module, path: PathLike,
                          info: Optional[Dict[str, Any]] = None,
                          **extra: Any) -> Path:
    r"""Saves :obj:`model`'s weights (on the CPU) atomically in a format
    :func:`read_checkpoint` reads back: :obj:`{'model': state_dict,
    'info': info, **extra}`.

    Args:
        model (torch.nn.Module): The model.
        path (str or pathlib.Path): The destination.
        info (dict, optional): What the weights are, plain values: the
            model's spec under :obj:`"model"` and the data set it was
            trained on under :obj:`"dataset"` (see :func:`checkpoint_info`).
            (default: :obj:`None`)
        **extra (optional): Plain values stored beside them, e.g.
            :obj:`epoch`, :obj:`history` or :obj:`config`.

    Returns:
        pathlib.Path: :obj:`path`.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / 'model.pt'
        >>> _ = save_model_checkpoint(nn.Linear(2, 1), path,
        ...                           {'model': 'linear', 'dataset': 'toy'})
        >>> describe_checkpoint(read_checkpoint(path))
        'a saved model (model linear, trained on toy)'
    """
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return save_checkpoint(dict(extra, model=state, info=dict(info or {})),
                           path)


def load_checkpoint(model: nn.Module, path: PathLike,
                    map_location: Any = 'cpu') -> Dict[str, Any]:
    r"""Loads the weights of a checkpoint into :obj:`model`, checking first
    that they fit.

    Accepts every format :func:`read_checkpoint` reads (a training
    checkpoint, a saved or cached model, a bare ``state_dict``). Loading uses
    :obj:`torch.load(weights_only=True)`.

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
    check_state_dict(model, checkpoint['model'], f"checkpoint '{path}'")
    model.load_state_dict(checkpoint['model'])
    return checkpoint


def check_state_dict(model: nn.Module, state: Dict[str, Any],
                     source: str = 'state_dict') -> None:
    r"""Checks that :obj:`state` fits :obj:`model` before it is loaded.

    Args:
        model (torch.nn.Module): The model.
        state (dict): A ``state_dict``.
        source (str, optional): What :obj:`state` is, for the message.
            (default: :obj:`"state_dict"`)

    Raises:
        ValueError: If it does not fit; the message names :obj:`source` and
            lists the missing and unexpected keys and the mismatching
            shapes.

    Example:
        >>> check_state_dict(nn.Linear(2, 3), nn.Linear(2, 3).state_dict())
        >>> check_state_dict(nn.Linear(2, 3), {'weight': torch.zeros(3, 2)})
        Traceback (most recent call last):
        ...
        ValueError: state_dict does not fit the model: missing keys: bias
    """
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
        raise ValueError(f"{source} does not fit the model: "
                         f"{'; '.join(problems)}")
