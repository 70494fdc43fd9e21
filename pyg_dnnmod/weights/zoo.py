r"""A population ("zoo") of small trained networks for predicting final
accuracy from the first epochs, as in Vahedian et al. (2021) and Unterthiner
et al. (2020, `"Predicting Neural Network Accuracy from Weights"
<https://arxiv.org/abs/2002.11448>`_).

:func:`generate_zoo` trains many small networks on the embedded digits
(centred on a 16x16 canvas by default, see :data:`ZOO_DATA`), each with
hyperparameters drawn from a :class:`ZooSpace`, and writes
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
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import pandas as pd
import torch
from torch import nn

from pyg_dnnmod._version import __version__
from pyg_dnnmod.io import DamagedFileError, atomic_save, atomic_write_json
from pyg_dnnmod.training import fixed_threads
from pyg_dnnmod.weights._zoo_records import (
    ZOO_FORMAT,
    PathLike,
    finished_networks,
    read_record,
    read_spec,
    record_path,
    summary_row,
    zoo_summary,
)
from pyg_dnnmod.weights._zoo_space import (
    ZOO_ARCHITECTURES,
    ZOO_DATA,
    ZOO_FASHION_SUBSET,
    ZOO_INPUT_SHAPE,
    ZOO_OPTIMIZERS,
    OLD_ZOO_DEFAULTS,
    ZooSpace,
    network_train_config,
    zoo_model,
    zoo_spec,
)

__all__ = [
    'ZOO_FORMAT',
    'ZOO_ARCHITECTURES',
    'ZOO_OPTIMIZERS',
    'ZOO_INPUT_SHAPE',
    'ZOO_DATA',
    'ZOO_FASHION_SUBSET',
    'ZooSpace',
    'zoo_model',
    'zoo_spec',
    'WeightRecorder',
    'train_network',
    'record_path',
    'finished_networks',
    'read_record',
    'read_spec',
    'repair_records',
    'zoo_summary',
    'generate_zoo',
    'zoo_settings',
    'tiny_zoo',
]


class WeightRecorder:
    r"""A training callback that keeps a CPU copy of the model's
    :obj:`state_dict` after each of the first epochs (see
    :func:`~pyg_dnnmod.training.train`, whose epoch 0 is the
    initialisation).

    Args:
        max_epoch (int): The last epoch to keep.

    Example:
        >>> from pyg_dnnmod.training import TrainConfig, train
        >>> x, y = torch.randn(32, 4), torch.arange(32) % 2
        >>> recorder = WeightRecorder(max_epoch=1)
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


def _zoo_data(data: str, max_train_samples: Optional[int]
              ) -> Tuple[Any, Any]:
    r"""The (train, test) halves of the zoo's data, the training half
    optionally cut to a seeded random subset; cached per process."""
    key = (data, max_train_samples)
    if key not in _DATA_CACHE:
        from pyg_dnnmod.pretrained import DIGITS_DATA, digits_data
        if data == 'translated-digits':
            train, test = digits_data('train'), digits_data('test')
        elif data == 'fashion-mnist':
            train, test = (_fashion_subset(part == 'train',
                                           ZOO_FASHION_SUBSET[part])
                           for part in ('train', 'test'))
        else:
            import torch.nn.functional as F

            from pyg_dnnmod.datasets.images import load_digits_images
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


def _fashion_subset(train: bool, size: int) -> Tuple[Any, Any]:
    r"""A class-balanced subset of :obj:`size` Fashion-MNIST images of
    one split, resized to 16x16 (see :data:`ZOO_FASHION_SUBSET`)."""
    from pyg_dnnmod.datasets import load_fashion_mnist, resize_images
    from pyg_dnnmod.utils import sample_indices
    x, y = load_fashion_mnist(train=train)
    keep = sample_indices(y, size, balanced=True,
                          seed=ZOO_FASHION_SUBSET['seed'])
    return resize_images(x[keep], ZOO_INPUT_SHAPE[-1]), y[keep]


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
    data = spec.get('data', 'translated-digits')
    train_data, test_data = _zoo_data(data, spec['max_train_samples'])
    with torch.random.fork_rng():
        torch.manual_seed(hparams['seed'])
        model = zoo_model(hparams['architecture'], hparams['width'],
                          hparams['dropout'], spec['num_classes'], data)
    recorder = WeightRecorder(spec['snapshot_epochs'])
    start = time.perf_counter()
    with _warnings_quiet(), fixed_threads(spec.get('threads', 1)):
        history = train(model, train_data, test_data,
                        network_train_config(hparams, spec), device=device,
                        callback=recorder, progress=False)
    seconds = time.perf_counter() - start
    last = history.iloc[-1]
    return dict(
        format=ZOO_FORMAT,
        index=int(index),
        hparams=hparams,
        config=network_train_config(hparams, spec).to_dict(),
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


def _check_spec(path: Path, spec: Dict[str, Any]) -> None:
    stored = read_spec(path.parent.parent)
    diff = [f'{k}={stored.get(k)!r} stored vs {spec.get(k)!r} now'
            for k in sorted(set(stored) | set(spec))
            if stored.get(k) != spec.get(k)]
    if diff:
        raise ValueError(f"the zoo at '{path.parent.parent}' was generated "
                         f"with other settings ({'; '.join(diff)}); use the "
                         f"same settings to resume it, or a new 'root'"
                         f"{_old_defaults_hint(stored, spec)}")


def _old_defaults_hint(stored: Dict[str, Any], spec: Dict[str, Any]) -> str:
    r"""A hint for a zoo made with the defaults before issue 20, which
    would otherwise only read as a list of differences."""
    old_lr = [float(v) for v in OLD_ZOO_DEFAULTS['lr']]
    stored_lr = [float(v) for v in stored.get('space', {}).get('lr', [])]
    old_data = stored.get('data') == OLD_ZOO_DEFAULTS['data'] != \
        spec.get('data')
    old_space = stored_lr == old_lr != spec['space']['lr']
    if not (old_data or old_space):
        return ''
    low, high = old_lr
    return (f" (the zoo's defaults changed: zoos made before trained on "
            f"data={OLD_ZOO_DEFAULTS['data']!r} with learning rates in "
            f"({low:g}, {high:g}); to resume this one pass its "
            f"data={stored.get('data')!r} and "
            f"space=ZooSpace(lr={tuple(stored_lr)}), on the command line "
            f"--data {stored.get('data')} "
            f"--lr {','.join(f'{v:g}' for v in stored_lr)})")


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
    return summary_row(record)


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


def generate_zoo(root: PathLike, num_networks: int, epochs: int = 15,
                 snapshot_epochs: int = 5,
                 milestones: Optional[Sequence[int]] = None,
                 gamma: float = 0.1, space: Optional[ZooSpace] = None,
                 seed: int = 0, max_train_samples: Optional[int] = None,
                 data: str = 'centred-digits', num_workers: int = 1,
                 threads_per_worker: int = 1,
                 progress: bool = False) -> pd.DataFrame:
    r"""Trains a population of small networks on the digits, in parallel
    and resumably.

    Network :math:`i` (for :math:`i < \mathrm{num\_networks}`) gets the
    hyperparameters :obj:`space.sample(i, seed)` (architecture, width,
    learning rate, dropout, weight decay, optimizer, batch size, seed; see
    :class:`ZooSpace`), is trained for :obj:`epochs` epochs on the training
    half of :obj:`data` (by default the digits of
    :func:`~pyg_dnnmod.pretrained.digits_data`, centred) and evaluated on its
    test half after every epoch (see :func:`train_network`); its record
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
            (default: :obj:`None`, all 899 digits, or the 2,000 images of
            the Fashion-MNIST subset)
        data (str, optional): :obj:`'centred-digits'`,
            :obj:`'translated-digits'` (the package's default data, which
            the zoo's networks barely learn) or :obj:`'fashion-mnist'` (a
            class-balanced subset of the real Fashion-MNIST resized to
            16x16, see :data:`ZOO_FASHION_SUBSET`; needs its local IDX
            files); see :data:`ZOO_DATA`. (default: :obj:`'centred-digits'`)
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


def zoo_settings(root: PathLike) -> Dict[str, Any]:
    r"""The settings stored with the zoo at :obj:`root`, as keyword
    arguments of :func:`generate_zoo`, so that a zoo made with any settings
    is resumed or extended with the same ones:
    :obj:`generate_zoo(root, n, **zoo_settings(root))`.

    Example:
        >>> root = tiny_zoo(num_networks=1)
        >>> settings = zoo_settings(root)
        >>> settings['epochs'], settings['data'], settings['space'].widths
        (2, 'centred-digits', (0.5,))
        >>> len(generate_zoo(root, 2, **settings))  # one more network
        2
    """
    spec = read_spec(root)
    return dict(epochs=spec['epochs'],
                snapshot_epochs=spec['snapshot_epochs'],
                milestones=spec['milestones'], gamma=spec['gamma'],
                space=ZooSpace(**spec['space']), seed=spec['seed'],
                max_train_samples=spec['max_train_samples'],
                data=spec['data'], threads_per_worker=spec['threads'])


def tiny_zoo(root: Optional[PathLike] = None, num_networks: int = 4,
             epochs: int = 2, widths: Sequence[float] = (0.5, ),
             seed: int = 0) -> str:
    r"""Trains a zoo of tiny LeNets in seconds, for examples and tests:
    :func:`generate_zoo` with :obj:`epochs` epochs on 64 training images,
    the weights of all but the last epoch kept.

    Args:
        root (str or pathlib.Path, optional): The zoo folder.
            (default: :obj:`None`, a new temporary folder)
        num_networks (int, optional): The size of the population.
            (default: :obj:`4`)
        epochs (int, optional): The training budget, at least 2.
            (default: :obj:`2`)
        widths (Sequence[float], optional): The width multipliers drawn.
            (default: :obj:`(0.5, )`)
        seed (int, optional): The zoo seed. (default: :obj:`0`)

    Returns:
        str: The zoo folder, to read with
        :class:`~pyg_dnnmod.weights.WeightGraphDataset`.

    Example:
        >>> root = tiny_zoo(num_networks=2)
        >>> finished_networks(root), read_spec(root)['snapshot_epochs']
        ([0, 1], 1)
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or \
            epochs < 2:
        raise ValueError(f"'epochs' must be an integer >= 2 (got {epochs!r})")
    if root is None:
        import tempfile
        root = tempfile.mkdtemp(prefix='pyg_dnnmod_zoo_')
    generate_zoo(root, num_networks, epochs=epochs,
                 snapshot_epochs=epochs - 1, seed=seed, max_train_samples=64,
                 space=ZooSpace(architectures=['lenet5'], widths=widths))
    return str(root)


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
