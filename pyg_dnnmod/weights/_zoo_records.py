r"""The records of a zoo folder (see :mod:`pyg_dnnmod.weights.zoo` for the
layout): where a network's record lives, which networks are finished, and
reading records and settings back with :obj:`weights_only=True`.
"""
from pathlib import Path
from typing import Any, Dict, List, Union

import pandas as pd

from pyg_dnnmod.io import DamagedFileError, load_json, load_tensors

PathLike = Union[str, Path]

#: The record format; a zoo written by another format is refused.
ZOO_FORMAT = 1

_RECORD = 'net_{:05d}.pt'


def record_path(root: PathLike, index: int) -> Path:
    r"""The record file of network :obj:`index` in the zoo at :obj:`root`.

    Example:
        >>> record_path('zoo', 7).as_posix()
        'zoo/raw/net_00007.pt'
    """
    return Path(root) / 'raw' / _RECORD.format(index)


def summary_row(record: Dict[str, Any]) -> Dict[str, Any]:
    r"""The row of :func:`zoo_summary` of one record: the network's
    index, hyperparameters, final test accuracy and loss and training
    seconds.

    Example:
        >>> row = summary_row(dict(index=3, hparams=dict(width=0.5),
        ...                        final_test_acc=0.9, final_test_loss=0.3,
        ...                        train_seconds=2.0))
        >>> row['index'], row['width'], row['final_test_acc']
        (3, 0.5, 0.9)
    """
    return dict(index=record['index'], **record['hparams'],
                final_test_acc=record['final_test_acc'],
                final_test_loss=record['final_test_loss'],
                train_seconds=record['train_seconds'])


def finished_networks(root: PathLike) -> List[int]:
    r"""The indices of the networks whose records are in the zoo at
    :obj:`root`, sorted.

    Example:
        >>> finished_networks('/nonexistent')
        []
    """
    folder = Path(root) / 'raw'
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob('net_*.pt'):
        stem = path.stem[len('net_'):]
        if stem.isdigit():
            found.append(int(stem))
    return sorted(found)


_RECORD_KEYS = ('format', 'index', 'hparams', 'history', 'state_dicts',
                'final_test_acc', 'input_shape', 'num_classes')


def read_record(root: PathLike, index: int) -> Dict[str, Any]:
    r"""Loads the record of network :obj:`index` with
    :obj:`weights_only=True` (nothing in it can run code).

    Raises:
        ValueError: If the network has no record.
        ~pyg_dnnmod.io.DamagedFileError: If the record is truncated, not a
            torch file, hostile, or not a record of network :obj:`index`
            (see :func:`~pyg_dnnmod.weights.zoo.repair_records`).

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> record = read_record(tiny_zoo(num_networks=1), 0)
        >>> record['index'], len(record['state_dicts'])  # epochs 0 and 1
        (0, 2)
    """
    path = record_path(root, index)
    if not path.exists():
        raise ValueError(f"network {index} is not in the zoo at '{root}' "
                         f"(no file '{path}')")
    record = load_tensors(path, what='zoo record')
    if not isinstance(record, dict) or \
            any(k not in record for k in _RECORD_KEYS):
        raise DamagedFileError(f"zoo record '{path}' is not a record (it "
                               f"lacks one of {', '.join(_RECORD_KEYS)})")
    if record['index'] != index or record['format'] != ZOO_FORMAT:
        raise DamagedFileError(f"zoo record '{path}' holds network "
                               f"{record['index']!r} of format "
                               f"{record['format']!r}, not network {index} "
                               f"of format {ZOO_FORMAT}")
    return record


def read_spec(root: PathLike) -> Dict[str, Any]:
    r"""The settings of the zoo at :obj:`root` (:obj:`raw/zoo.json`), with
    the defaults of older zoos filled in.

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> spec = read_spec(tiny_zoo(num_networks=1))
        >>> spec['epochs'], spec['data'], spec['space']['architectures']
        (2, 'centred-digits', ['lenet5'])
    """
    path = Path(root) / 'raw' / 'zoo.json'
    spec = load_json(path, what='zoo settings')
    if not isinstance(spec, dict) or 'space' not in spec:
        raise DamagedFileError(f"zoo settings '{path}' are not a zoo's")
    spec.pop('version', None)
    # Zoos written before the 'data' setting trained on the translated
    # digits, whatever the default is now.
    spec.setdefault('data', 'translated-digits')
    spec.setdefault('threads', 1)
    return spec


def zoo_summary(root: PathLike) -> pd.DataFrame:
    r"""One row per finished network of the zoo at :obj:`root`: its index,
    hyperparameters, final test accuracy and loss and training seconds.

    Example:
        >>> zoo_summary('/nonexistent').columns.tolist()[:4]
        ['index', 'architecture', 'width', 'lr']
    """
    rows = [summary_row(read_record(root, i))
            for i in finished_networks(root)]
    columns = ['index', 'architecture', 'width', 'lr', 'dropout',
               'weight_decay', 'optimizer', 'batch_size', 'seed',
               'final_test_acc', 'final_test_loss', 'train_seconds']
    return pd.DataFrame(rows, columns=columns)
