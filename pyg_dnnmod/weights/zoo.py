r"""A population ("zoo") of small trained networks for predicting final
accuracy from the first epochs, as in Vahedian et al. (2021) and Unterthiner
et al. (2020, `"Predicting Neural Network Accuracy from Weights"
<https://arxiv.org/abs/2002.11448>`_).

:func:`generate_zoo` trains many small networks on the embedded translated
digits, each with hyperparameters drawn from a :class:`ZooSpace`, and writes
one record per finished network: the weights of its first epochs, its whole
training history and its test accuracy after the full budget. The draw of
network :math:`i` depends only on the zoo seed and :math:`i`, and every
record is written atomically under its own name, so the work splits over
processes in any order and a killed run resumes where it stopped, with
nothing lost or duplicated. :class:`~pyg_dnnmod.weights.WeightGraphDataset`
reads the records as weight graphs.

The layout of a zoo folder::

    root/raw/zoo.json          the generation settings (checked on resume)
    root/raw/net_00000.pt      one record per finished network
    root/processed/...         written by WeightGraphDataset
"""
import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
import torch
from torch import nn

from pyg_dnnmod._version import __version__
from pyg_dnnmod.io import (
    DamagedFileError,
    atomic_save,
    atomic_write_json,
    load_json,
    load_tensors,
)
from pyg_dnnmod.training import fixed_threads

PathLike = Union[str, Path]

#: The record format; a zoo written by another format is refused.
ZOO_FORMAT = 1

#: The architectures :func:`zoo_model` builds.
ZOO_ARCHITECTURES = ('lenet5', 'small_vgg')

#: The optimizers of the zoo: SGD without momentum, with heavy-ball momentum
#: 0.9, and with Nesterov momentum 0.9.
ZOO_OPTIMIZERS = ('sgd', 'momentum', 'nesterov')

#: The shape of one input sample (translated digits on a 16x16 canvas).
ZOO_INPUT_SHAPE = (1, 16, 16)

_RECORD = 'net_{:05d}.pt'


def zoo_model(architecture: str, width: float = 1.0, dropout: float = 0.0,
              num_classes: int = 10) -> nn.Module:
    r"""Builds one network of the zoo for :math:`1 \times 16 \times 16`
    digit images, with the digits' normalisation inside.

    :obj:`'lenet5'` is :class:`~pyg_dnnmod.models.LeNet5` (5x5 convolutions
    of 6 and 16 channels, FC 120 and 84, each times :obj:`width`);
    :obj:`'small_vgg'` is a three-block :class:`~pyg_dnnmod.models.VGG`
    without batch normalisation: 3x3 convolutions of 8, 16, 32 and 32
    channels (blocks of 1, 1 and 2) and two hidden FC layers of 64, each
    times :obj:`width`.

    Args:
        architecture (str): :obj:`'lenet5'` or :obj:`'small_vgg'`.
        width (float, optional): The width multiplier. (default: :obj:`1.0`)
        dropout (float, optional): The dropout probability of the hidden FC
            layers. (default: :obj:`0.0`)
        num_classes (int, optional): The number of classes.
            (default: :obj:`10`)

    Returns:
        torch.nn.Module: The network, initialised from the current global
        random state.

    Example:
        >>> model = zoo_model('small_vgg', width=0.5)
        >>> model(torch.zeros(2, 1, 16, 16)).shape
        torch.Size([2, 10])
        >>> zoo_model('resnet')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 'architecture' must be one of (...) (got 'resnet')
    """
    from pyg_dnnmod.datasets import (
        TRANSLATED_DIGITS_MEAN,
        TRANSLATED_DIGITS_STD,
    )
    from pyg_dnnmod.models import VGG, LeNet5
    norm = dict(mean=TRANSLATED_DIGITS_MEAN, std=TRANSLATED_DIGITS_STD)
    if architecture == 'lenet5':
        return LeNet5(num_classes, width, in_channels=1, input_size=16,
                      dropout=dropout, **norm)
    if architecture == 'small_vgg':
        return VGG((1, 1, 2), num_classes, channels=(8, 16, 32), width=width,
                   in_channels=1, input_size=16, batch_norm=False,
                   dropout=dropout, hidden_channels=64, **norm)
    raise ValueError(f"'architecture' must be one of {ZOO_ARCHITECTURES} "
                     f"(got {architecture!r})")


def _check_range(name: str, value: Any, positive: bool) -> Tuple[float, ...]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"'{name}' must be a (low, high) pair of numbers "
                        f"(got {value!r})") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low > high or \
            (positive and low <= 0) or low < 0:
        bound = '0 < low' if positive else '0 <= low'
        raise ValueError(f"'{name}' must satisfy {bound} <= high "
                         f"(got {value!r})")
    return low, high


def _check_choices(name: str, value: Any,
                   allowed: Optional[Sequence[Any]] = None) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, '__iter__'):
        raise TypeError(f"'{name}' must be a sequence (got {value!r})")
    value = tuple(value)
    if not value:
        raise ValueError(f"'{name}' must not be empty (got {value!r})")
    for v in value:
        if allowed is not None and v not in allowed:
            raise ValueError(f"'{name}' holds {v!r}; choose from "
                             f"{tuple(allowed)}")
    return value


@dataclass
class ZooSpace:
    r"""The hyperparameters a zoo draws from, one independent draw per
    network (see :meth:`sample`).

    Args:
        architectures (Tuple[str, ...], optional): Drawn uniformly; see
            :func:`zoo_model`. (default: :obj:`('lenet5', 'small_vgg')`)
        widths (Tuple[float, ...], optional): Width multipliers, drawn
            uniformly. (default: :obj:`(0.5, 0.75, 1.0, 1.5, 2.0)`)
        lr (Tuple[float, float], optional): The learning rate is
            log-uniform on this range. (default: :obj:`(0.003, 0.3)`)
        dropout (Tuple[float, float], optional): Uniform.
            (default: :obj:`(0.0, 0.5)`)
        weight_decay (Tuple[float, float], optional): Log-uniform.
            (default: :obj:`(1e-5, 1e-2)`)
        optimizers (Tuple[str, ...], optional): Drawn uniformly from
            :obj:`ZOO_OPTIMIZERS`. (default: all three)
        batch_sizes (Tuple[int, ...], optional): Drawn uniformly.
            (default: :obj:`(32, )`)

    Example:
        >>> space = ZooSpace(architectures=['lenet5'])
        >>> space.sample(3) == space.sample(3)
        True
        >>> sorted(space.sample(3))  # doctest: +NORMALIZE_WHITESPACE
        ['architecture', 'batch_size', 'dropout', 'lr', 'optimizer', 'seed',
         'weight_decay', 'width']
    """
    architectures: Tuple[str, ...] = ZOO_ARCHITECTURES
    widths: Tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0)
    lr: Tuple[float, float] = (3e-3, 0.3)
    dropout: Tuple[float, float] = (0.0, 0.5)
    weight_decay: Tuple[float, float] = (1e-5, 1e-2)
    optimizers: Tuple[str, ...] = ZOO_OPTIMIZERS
    batch_sizes: Tuple[int, ...] = (32, )

    def __post_init__(self) -> None:
        self.architectures = _check_choices('architectures',
                                            self.architectures,
                                            ZOO_ARCHITECTURES)
        self.optimizers = _check_choices('optimizers', self.optimizers,
                                         ZOO_OPTIMIZERS)
        self.widths = _check_choices('widths', self.widths)
        for w in self.widths:
            if isinstance(w, bool) or not isinstance(w, (int, float)) or \
                    not math.isfinite(w) or w <= 0:
                raise ValueError(f"'widths' must hold numbers > 0 "
                                 f"(got {w!r})")
        self.widths = tuple(float(w) for w in self.widths)
        self.batch_sizes = _check_choices('batch_sizes', self.batch_sizes)
        for b in self.batch_sizes:
            if isinstance(b, bool) or not isinstance(b, int) or b < 1:
                raise ValueError(f"'batch_sizes' must hold integers >= 1 "
                                 f"(got {b!r})")
        self.lr = _check_range('lr', self.lr, positive=True)
        self.weight_decay = _check_range('weight_decay', self.weight_decay,
                                         positive=True)
        self.dropout = _check_range('dropout', self.dropout, positive=False)
        if self.dropout[1] >= 1:
            raise ValueError(f"'dropout' must stay below 1 "
                             f"(got {self.dropout!r})")

    def to_dict(self) -> Dict[str, Any]:
        r"""The space as plain lists, as stored in :obj:`zoo.json`."""
        return {k: list(v) for k, v in asdict(self).items()}

    def sample(self, index: int, seed: int = 0) -> Dict[str, Any]:
        r"""The hyperparameters of network :obj:`index` of the zoo with
        :obj:`seed`: a function of the two alone, whatever else is drawn.

        Args:
            index (int): The network's index.
            seed (int, optional): The zoo's seed. (default: :obj:`0`)

        Returns:
            dict: :obj:`architecture`, :obj:`width`, :obj:`lr`,
            :obj:`dropout`, :obj:`weight_decay`, :obj:`optimizer`,
            :obj:`batch_size` and :obj:`seed` (of its initialisation and
            training).
        """
        rng = np.random.default_rng([int(seed), int(index)])

        def log_uniform(low: float, high: float) -> float:
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))

        # A fixed order of draws keeps old networks unchanged when a choice
        # list is edited elsewhere.
        return dict(
            architecture=str(self.architectures[rng.integers(
                len(self.architectures))]),
            width=float(self.widths[rng.integers(len(self.widths))]),
            lr=log_uniform(*self.lr),
            dropout=float(rng.uniform(*self.dropout)),
            weight_decay=log_uniform(*self.weight_decay),
            optimizer=str(self.optimizers[rng.integers(
                len(self.optimizers))]),
            batch_size=int(self.batch_sizes[rng.integers(
                len(self.batch_sizes))]),
            seed=int(rng.integers(2**31 - 1)),
        )


def _train_config(hparams: Dict[str, Any], spec: Dict[str, Any]):
    from pyg_dnnmod.training import TrainConfig
    optimizer = hparams['optimizer']
    return TrainConfig(
        epochs=spec['epochs'], batch_size=hparams['batch_size'],
        lr=hparams['lr'], momentum=0.0 if optimizer == 'sgd' else 0.9,
        nesterov=optimizer == 'nesterov',
        weight_decay=hparams['weight_decay'],
        milestones=tuple(spec['milestones']), gamma=spec['gamma'],
        seed=hparams['seed'])


class SnapshotRecorder:
    r"""A training callback that keeps a CPU copy of the model's
    :obj:`state_dict` after each of the first epochs (see
    :func:`~pyg_dnnmod.training.train`, whose epoch 0 is the
    initialisation).

    Args:
        max_epoch (int): The last epoch to keep.

    Example:
        >>> from pyg_dnnmod.training import TrainConfig, train
        >>> x, y = torch.randn(32, 4), torch.arange(32) % 2
        >>> recorder = SnapshotRecorder(max_epoch=1)
        >>> _ = train(torch.nn.Linear(4, 2), (x, y), config=TrainConfig(
        ...     epochs=3, batch_size=8), callback=recorder, progress=False)
        >>> sorted(recorder.state_dicts)
        [0, 1]
    """
    def __init__(self, max_epoch: int) -> None:
        if isinstance(max_epoch, bool) or not isinstance(max_epoch, int) or \
                max_epoch < 0:
            raise ValueError(f"'max_epoch' must be an integer >= 0 "
                             f"(got {max_epoch!r})")
        self.max_epoch = max_epoch
        self.state_dicts: Dict[int, Dict[str, torch.Tensor]] = {}

    def __call__(self, epoch: int, model: nn.Module) -> None:
        if epoch <= self.max_epoch:
            self.state_dicts[epoch] = {
                k: v.detach().cpu().clone()
                for k, v in model.state_dict().items()
            }

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(max_epoch={self.max_epoch})'


_DATA_CACHE: Dict[Any, Any] = {}

#: The data a zoo trains on: the translated digits (the package default,
#: see :func:`~pyg_dnnmod.pretrained.digits_data`), or the same digits
#: centred on the 16x16 canvas (same split, same normalisation, learnt much
#: faster).
ZOO_DATA = ('translated-digits', 'centred-digits')


def _zoo_data(data: str, max_train_samples: Optional[int]
              ) -> Tuple[Any, Any]:
    r"""The (train, test) halves of the zoo's data, the training half
    optionally cut to a seeded random subset; cached per process."""
    key = (data, max_train_samples)
    if key not in _DATA_CACHE:
        from pyg_dnnmod.pretrained import DIGITS_DATA, digits_data
        if data == 'translated-digits':
            train, test = digits_data('train'), digits_data('test')
        else:
            import torch.nn.functional as F

            from pyg_dnnmod.datasets import load_digits_images
            split = dict(translated=False, seed=DIGITS_DATA['seed'],
                         test_fraction=DIGITS_DATA['test_fraction'])
            pad = (16 - 8) // 2
            train, test = (
                (F.pad(x, (pad, pad, pad, pad)), y)
                for x, y in (load_digits_images(split='train', **split),
                             load_digits_images(split='test', **split)))
        x, y = train
        if max_train_samples is not None and max_train_samples < len(y):
            gen = torch.Generator().manual_seed(0)
            keep = torch.randperm(len(y), generator=gen)[:max_train_samples]
            keep = keep.sort().values
            x, y = x[keep], y[keep]
        _DATA_CACHE[key] = ((x, y), test)
    return _DATA_CACHE[key]


def record_path(root: PathLike, index: int) -> Path:
    r"""The record file of network :obj:`index` in the zoo at :obj:`root`.

    Example:
        >>> record_path('zoo', 7).as_posix()
        'zoo/raw/net_00007.pt'
    """
    return Path(root) / 'raw' / _RECORD.format(index)


def train_network(index: int, spec: Dict[str, Any],
                  device: Union[str, torch.device] = 'cpu') -> Dict[str, Any]:
    r"""Trains network :obj:`index` of a zoo and returns its record (what
    :func:`generate_zoo` writes to :obj:`raw/net_XXXXX.pt`).

    The network is built from its drawn hyperparameters under its own seed
    and trained with :func:`~pyg_dnnmod.training.train` (SGD with the drawn
    momentum variant; the learning rate times :obj:`gamma` after each
    milestone); the same :obj:`(index, spec)` gives the same record, bit for
    bit on the CPU (it trains on :obj:`spec['threads']` CPU threads).

    Args:
        index (int): The network's index.
        spec (dict): The zoo settings, as :func:`zoo_spec` returns them.
        device (str or torch.device, optional): Where to train.
            (default: :obj:`'cpu'`)

    Returns:
        dict: :obj:`index`, :obj:`hparams`, :obj:`config` (the
        :class:`~pyg_dnnmod.training.TrainConfig`), :obj:`history` (a dict of
        per-epoch lists: :obj:`epoch`, :obj:`train_loss`, :obj:`train_acc`,
        :obj:`test_loss`, :obj:`test_acc`, :obj:`lr`, :obj:`seconds`),
        :obj:`state_dicts` (one per epoch :obj:`0..snapshot_epochs`),
        :obj:`final_test_acc`, :obj:`final_test_loss`,
        :obj:`train_seconds`, :obj:`input_shape`, :obj:`num_classes` and
        :obj:`format`.
    """
    from pyg_dnnmod.training import train
    space = ZooSpace(**spec['space'])
    hparams = space.sample(index, spec['seed'])
    train_data, test_data = _zoo_data(spec.get('data', 'translated-digits'),
                                      spec['max_train_samples'])
    with torch.random.fork_rng():
        torch.manual_seed(hparams['seed'])
        model = zoo_model(hparams['architecture'], hparams['width'],
                          hparams['dropout'], spec['num_classes'])
    recorder = SnapshotRecorder(spec['snapshot_epochs'])
    start = time.perf_counter()
    with _warnings_quiet(), fixed_threads(spec.get('threads', 1)):
        history = train(model, train_data, test_data,
                        _train_config(hparams, spec), device=device,
                        callback=recorder, progress=False)
    seconds = time.perf_counter() - start
    last = history.iloc[-1]
    return dict(
        format=ZOO_FORMAT,
        index=int(index),
        hparams=hparams,
        config=_train_config(hparams, spec).to_dict(),
        history={c: [float(v) for v in history[c]] for c in history.columns},
        state_dicts=[recorder.state_dicts[e]
                     for e in range(spec['snapshot_epochs'] + 1)],
        final_test_acc=float(last['test_acc']),
        final_test_loss=float(last['test_loss']),
        train_seconds=float(seconds),
        input_shape=list(ZOO_INPUT_SHAPE),
        num_classes=int(spec['num_classes']),
    )


@contextlib.contextmanager
def _warnings_quiet() -> Iterator[None]:
    # A diverging network is a legitimate member of the population; its
    # "training loss is nan" warning would only flood the log.
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='the training loss')
        yield


def zoo_spec(epochs: int = 15, snapshot_epochs: int = 5,
             milestones: Optional[Sequence[int]] = None, gamma: float = 0.1,
             space: Optional[ZooSpace] = None, seed: int = 0,
             max_train_samples: Optional[int] = None,
             num_classes: int = 10,
             data: str = 'translated-digits',
             threads: int = 1) -> Dict[str, Any]:
    r"""The settings that define a zoo, validated, as stored in
    :obj:`raw/zoo.json`; see :func:`generate_zoo` for the arguments
    (:obj:`threads` is its :obj:`threads_per_worker`: the CPU threads each
    network trains on, which change its weights).

    Example:
        >>> spec = zoo_spec(epochs=9, snapshot_epochs=3)
        >>> spec['milestones']  # two thirds of the budget by default
        [6]
        >>> zoo_spec(epochs=3, snapshot_epochs=5)
        Traceback (most recent call last):
        ...
        ValueError: 'snapshot_epochs' must be <= 'epochs' (got 5 > 3)
    """
    for name, value, low in (('epochs', epochs, 1),
                             ('snapshot_epochs', snapshot_epochs, 0),
                             ('seed', seed, 0), ('threads', threads, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"'{name}' must be an integer (got {value!r})")
        if value < low:
            raise ValueError(f"'{name}' must be >= {low} (got {value})")
    if data not in ZOO_DATA:
        raise ValueError(f"'data' must be one of {ZOO_DATA} (got {data!r})")
    if snapshot_epochs > epochs:
        raise ValueError(f"'snapshot_epochs' must be <= 'epochs' "
                         f"(got {snapshot_epochs} > {epochs})")
    if max_train_samples is not None and (
            isinstance(max_train_samples, bool)
            or not isinstance(max_train_samples, int)
            or max_train_samples < 1):
        raise ValueError(f"'max_train_samples' must be None or an integer "
                         f">= 1 (got {max_train_samples!r})")
    if milestones is None:
        milestones = [m for m in (round(2 * epochs / 3), ) if 0 < m < epochs]
    space = ZooSpace() if space is None else space
    if not isinstance(space, ZooSpace):
        raise TypeError(f"'space' must be a ZooSpace "
                        f"(got {type(space).__name__})")
    spec = dict(format=ZOO_FORMAT, epochs=epochs,
                snapshot_epochs=snapshot_epochs,
                milestones=[int(m) for m in milestones], gamma=float(gamma),
                seed=seed, data=data, max_train_samples=max_train_samples,
                num_classes=int(num_classes), space=space.to_dict(),
                threads=threads)
    # TrainConfig checks milestones and gamma.
    _train_config(space.sample(0, seed), spec)
    return spec


def _check_spec(path: Path, spec: Dict[str, Any]) -> None:
    stored = read_spec(path.parent.parent)
    diff = [f'{k}={stored.get(k)!r} stored vs {spec.get(k)!r} now'
            for k in sorted(set(stored) | set(spec))
            if stored.get(k) != spec.get(k)]
    if diff:
        raise ValueError(f"the zoo at '{path.parent.parent}' was generated "
                         f"with other settings ({'; '.join(diff)}); use the "
                         f"same settings to resume it, or a new 'root'")


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    r"""Holds an exclusive lock on the zoo folder; the kernel drops it when
    the process dies, so a killed run never blocks its resumption."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(root / 'raw' / '.lock', 'w') as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RuntimeError(f"another zoo generator is writing to "
                               f"'{root}'; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _worker_init(threads: int, parent: int) -> None:
    torch.set_num_threads(threads)
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    r"""Makes a worker process die with its parent, so that a killed
    generator leaves no worker writing records outside its lock: the
    kernel's parent-death signal on Linux, and a check of the parent."""
    try:
        import ctypes
        import signal
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the parent died before the signal was set
        os._exit(1)


def _train_and_save(index: int, spec: Dict[str, Any], root: str,
                    parent: Optional[int] = None) -> Dict[str, Any]:
    record = train_network(index, spec)
    if parent is not None and os.getppid() != parent:
        os._exit(1)  # orphaned: the lock is no longer held for this worker
    atomic_save(record, record_path(root, index))
    return _summary_row(record)


def _summary_row(record: Dict[str, Any]) -> Dict[str, Any]:
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
            (see :func:`repair_records`).
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
    the defaults of older zoos filled in."""
    path = Path(root) / 'raw' / 'zoo.json'
    spec = load_json(path, what='zoo settings')
    if not isinstance(spec, dict) or 'space' not in spec:
        raise DamagedFileError(f"zoo settings '{path}' are not a zoo's")
    spec.pop('version', None)
    spec.setdefault('data', 'translated-digits')
    spec.setdefault('threads', 1)
    return spec


def repair_records(root: PathLike, stacklevel: int = 2) -> List[int]:
    r"""Checks every record of the zoo at :obj:`root` and trains again,
    with a warning naming the file, each network whose record is damaged
    (truncated, empty, random bytes, or holding anything but tensors and
    plain values); the new record is the same as a clean run's, as the
    training is seeded by the zoo seed and the network's index.

    Returns:
        list[int]: The indices of the networks trained again.

    Example:
        >>> repair_records('/nonexistent')
        []
    """
    import warnings
    damaged = []
    for i in finished_networks(root):
        try:
            read_record(root, i)
        except DamagedFileError as e:
            warnings.warn(f"{e}; training network {i} again",
                          stacklevel=stacklevel + 1)
            damaged.append(i)
    if damaged:
        spec = read_spec(root)
        for i in damaged:
            _train_and_save(i, spec, str(root))
    return damaged


def zoo_summary(root: PathLike) -> pd.DataFrame:
    r"""One row per finished network of the zoo at :obj:`root`: its index,
    hyperparameters, final test accuracy and loss and training seconds."""
    rows = [_summary_row(read_record(root, i))
            for i in finished_networks(root)]
    columns = ['index', 'architecture', 'width', 'lr', 'dropout',
               'weight_decay', 'optimizer', 'batch_size', 'seed',
               'final_test_acc', 'final_test_loss', 'train_seconds']
    return pd.DataFrame(rows, columns=columns)


def generate_zoo(root: PathLike, num_networks: int, epochs: int = 15,
                 snapshot_epochs: int = 5,
                 milestones: Optional[Sequence[int]] = None,
                 gamma: float = 0.1, space: Optional[ZooSpace] = None,
                 seed: int = 0, max_train_samples: Optional[int] = None,
                 data: str = 'translated-digits', num_workers: int = 1,
                 threads_per_worker: int = 1,
                 progress: bool = False) -> pd.DataFrame:
    r"""Trains a population of small networks on the digits, in parallel
    and resumably.

    Network :math:`i` (for :math:`i < \mathrm{num\_networks}`) gets the
    hyperparameters :obj:`space.sample(i, seed)` (architecture, width,
    learning rate, dropout, weight decay, optimizer, batch size, seed; see
    :class:`ZooSpace`), is trained for :obj:`epochs` epochs on the training
    half of :obj:`data` (by default
    :func:`~pyg_dnnmod.pretrained.digits_data`) and evaluated on its test
    half after every epoch (see :func:`train_network`); its record
    keeps the weights of epochs :math:`0, \ldots,
    \mathrm{snapshot\_epochs}` (epoch 0 is the initialisation), the whole
    history and the final test accuracy, and is written atomically to
    :obj:`root/raw/net_XXXXX.pt` as soon as the network is done.

    Calling it again on the same :obj:`root` trains only the networks that
    have no record yet, so a killed run loses at most the networks in
    training at that moment, and a larger :obj:`num_networks` extends a
    zoo; the settings must be the same as stored in :obj:`raw/zoo.json`.
    An exclusive lock on the folder keeps two generators apart.

    Args:
        root (str or pathlib.Path): The zoo folder.
        num_networks (int): The size of the population.
        epochs (int, optional): The full training budget. (default:
            :obj:`15`)
        snapshot_epochs (int, optional): The last epoch whose weights are
            kept. (default: :obj:`5`)
        milestones (Sequence[int], optional): Epochs after which the
            learning rate is multiplied by :obj:`gamma`; :obj:`None` means
            one drop after two thirds of the budget. (default: :obj:`None`)
        gamma (float, optional): The learning-rate factor.
            (default: :obj:`0.1`)
        space (ZooSpace, optional): The hyperparameter space.
            (default: :obj:`ZooSpace()`)
        seed (int, optional): The zoo seed. (default: :obj:`0`)
        max_train_samples (int, optional): Train on a seeded random subset
            of this many training images (for quick tests).
            (default: :obj:`None`, all 899)
        data (str, optional): :obj:`'translated-digits'` (the package's
            default data) or :obj:`'centred-digits'` (see
            :data:`ZOO_DATA`). (default: :obj:`'translated-digits'`)
        num_workers (int, optional): Processes that train networks at the
            same time; :obj:`1` trains in this process.
            (default: :obj:`1`)
        threads_per_worker (int, optional): Torch threads per network; the
            count changes the trained weights, so it is one of the zoo's
            settings (a resume must use the same). (default: :obj:`1`)
        progress (bool, optional): Show a progress bar.
            (default: :obj:`False`)

    Returns:
        pandas.DataFrame: :func:`zoo_summary` of the finished zoo.

    Example:
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> zoo = generate_zoo(root, 2, epochs=1, snapshot_epochs=1,
        ...                    max_train_samples=64,
        ...                    space=ZooSpace(architectures=['lenet5'],
        ...                                   widths=[0.5]))
        >>> zoo['index'].tolist(), finished_networks(root)
        ([0, 1], [0, 1])
    """
    from tqdm import tqdm
    if isinstance(num_networks, bool) or not isinstance(num_networks, int) \
            or num_networks < 1:
        raise ValueError(f"'num_networks' must be an integer >= 1 "
                         f"(got {num_networks!r})")
    for name, value in (('num_workers', num_workers),
                        ('threads_per_worker', threads_per_worker)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"'{name}' must be an integer >= 1 "
                             f"(got {value!r})")
    spec = zoo_spec(epochs, snapshot_epochs, milestones, gamma, space, seed,
                    max_train_samples, data=data, threads=threads_per_worker)
    root = Path(root)
    (root / 'raw').mkdir(parents=True, exist_ok=True)
    with _exclusive(root):
        spec_path = root / 'raw' / 'zoo.json'
        if spec_path.exists():
            _check_spec(spec_path, spec)
        else:
            atomic_write_json(dict(spec, version=__version__), spec_path,
                              indent=1)
        # Temporary files of a killed run; the lock says no one owns them.
        for stale in (root / 'raw').glob('.*.tmp*'):
            stale.unlink()
        repair_records(root, stacklevel=2)

        done = set(finished_networks(root))
        todo = [i for i in range(num_networks) if i not in done]
        bar = tqdm(total=num_networks, initial=num_networks - len(todo),
                   disable=not progress, desc='zoo', unit='net')
        try:
            if num_workers == 1 or len(todo) <= 1:
                for i in todo:
                    _train_and_save(i, spec, str(root))
                    bar.update(1)
            else:
                _run_pool(todo, spec, root, num_workers, threads_per_worker,
                          bar)
        finally:
            bar.close()
    return zoo_summary(root)


def _run_pool(todo: List[int], spec: Dict[str, Any], root: Path,
              num_workers: int, threads: int, bar: Any) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # 'spawn' starts clean interpreters: forking a process that already ran
    # torch's thread pools can deadlock.
    context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(max_workers=min(num_workers, len(todo)),
                             mp_context=context, initializer=_worker_init,
                             initargs=(threads, os.getpid())) as pool:
        futures = [pool.submit(_train_and_save, i, spec, str(root),
                               os.getpid()) for i in todo]
        try:
            for future in as_completed(futures):
                future.result()
                bar.update(1)
        except BaseException:
            for future in futures:
                future.cancel()
            raise

