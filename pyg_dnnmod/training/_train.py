r"""Seeded, resumable training that keeps a checkpoint of every epoch.

Both papers read a network's *training* dynamics from its weights epoch by
epoch, starting at random initialisation. :func:`train` therefore saves the
untrained model as epoch 0 and one checkpoint per epoch after it, and makes a
resumed run identical to an uninterrupted one: every epoch's random draws
(shuffling, dropout, augmentation) come from a seed derived from the
configured seed and the epoch number alone.
"""
import math
import sys
import time
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from pyg_dnnmod.training._checkpoint import (
    PathLike,
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from pyg_dnnmod.training._config import TrainConfig, config_differences
from pyg_dnnmod.utils import model_device

Data = Union[Tuple[Tensor, Tensor], Sequence[Tensor], Dataset]

COLUMNS = ['epoch', 'train_loss', 'train_acc', 'test_loss', 'test_acc', 'lr',
           'seconds']


def _check_data(data: Any, name: str) -> Any:
    if isinstance(data, (tuple, list)):
        if len(data) != 2 or not all(isinstance(t, Tensor) for t in data):
            raise TypeError(f"'{name}' must be an (x, y) pair of tensors or a "
                            f"torch Dataset (got a {type(data).__name__} of "
                            f"{len(data)} items)")
        x, y = data
        if y.dim() != 1 or y.dtype.is_floating_point or \
                y.dtype == torch.bool:
            raise TypeError(f"'{name}' labels must be a one-dimensional "
                            f"integer tensor (got {y.dtype} of shape "
                            f"{list(y.shape)})")
        if x.size(0) != y.size(0):
            raise ValueError(f"'{name}' has {x.size(0)} inputs but "
                             f"{y.size(0)} labels")
        if x.size(0) == 0:
            raise ValueError(f"'{name}' is empty")
        return x, y.long()
    if isinstance(data, Dataset) and hasattr(data, '__len__'):
        if len(data) == 0:
            raise ValueError(f"'{name}' is empty")
        return data
    raise TypeError(f"'{name}' must be an (x, y) pair of tensors or a torch "
                    f"Dataset with __len__ (got {type(data).__name__})")


def _batches(
    data: Any,
    batch_size: int,
    generator: Optional[torch.Generator] = None,
    num_workers: int = 0,
):
    r"""Yields :obj:`(x, y)` batches; shuffled iff :obj:`generator` is
    given."""
    if isinstance(data, tuple):
        x, y = data
        n = x.size(0)
        if generator is None:
            order = None
        else:
            order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            if order is None:
                yield x[start:start + batch_size], y[start:start + batch_size]
            else:
                idx = order[start:start + batch_size]
                yield x[idx.to(x.device)], y[idx.to(y.device)]
        return
    loader = DataLoader(data, batch_size=batch_size,
                        shuffle=generator is not None, generator=generator,
                        num_workers=num_workers)
    for batch in loader:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError('a Dataset used for training must return '
                            '(input, label) pairs')
        yield batch[0], torch.as_tensor(batch[1]).long()


@torch.no_grad()
def _evaluate(model: nn.Module, data: Any, batch_size: int,
              device: torch.device) -> Tuple[float, float]:
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    count = 0
    try:
        for x, y in _batches(data, batch_size):
            x, y = x.to(device), y.to(device)
            out = model(x)
            loss_sum += F.cross_entropy(out, y, reduction='sum').double()
            correct += (out.argmax(dim=-1) == y).sum()
            count += y.numel()
    finally:
        model.train(was_training)
    return loss_sum.item() / count, correct.item() / count


def evaluate(
    model: nn.Module,
    data: Data,
    batch_size: int = 1024,
    device: Optional[Union[str, torch.device]] = None,
) -> Tuple[float, float]:
    r"""Computes the mean cross-entropy loss and the top-1 accuracy of a
    classifier.

    .. math::
        \mathcal{L} = -\frac{1}{N} \sum_{i=1}^{N} \log
        \operatorname{softmax}(f(\mathbf{x}_i))_{y_i}, \qquad
        \mathrm{acc} = \frac{1}{N} \sum_{i=1}^{N}
        [\operatorname{argmax} f(\mathbf{x}_i) = y_i]

    The model runs in evaluation mode under :func:`torch.no_grad`; its mode
    is restored afterwards.

    Args:
        model (torch.nn.Module): A classifier returning logits :obj:`[B, C]`.
        data ((torch.Tensor, torch.Tensor) or torch.utils.data.Dataset):
            Inputs and integer labels, or a dataset of such pairs.
        batch_size (int, optional): The evaluation batch size.
            (default: :obj:`1024`)
        device (str or torch.device, optional): Where to compute; by default
            the device of the model's parameters. The model is not moved.
            (default: :obj:`None`)

    Returns:
        (float, float): The mean loss and the accuracy in :obj:`[0, 1]`.

    Example:
        >>> model = nn.Linear(2, 2, bias=False)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.eye(2))
        >>> x = torch.tensor([[1., 0.], [0., 1.], [1., 0.]])
        >>> loss, acc = evaluate(model, (x, torch.tensor([0, 1, 1])))
        >>> round(loss, 4), round(acc, 4)
        (0.6466, 0.6667)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or \
            batch_size < 1:
        raise ValueError(f"'batch_size' must be an integer >= 1 "
                         f"(got {batch_size!r})")
    data = _check_data(data, 'data')
    device = model_device(model) if device is None else torch.device(
        device)
    return _evaluate(model, data, batch_size, device)


def _epoch_seed(seed: int, epoch: int) -> int:
    # SeedSequence mixes (seed, epoch) so that nearby seeds and epochs give
    # unrelated streams (seed + epoch would make run 1's epoch 2 equal run
    # 2's epoch 1).
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _check_resumable(config: TrainConfig, stored: Dict[str, Any],
                     path: PathLike) -> None:
    diff = [f'{name}={old!r} in checkpoint vs {new!r} now'
            for name, old, new in config_differences(config, stored)]
    if diff:
        raise ValueError(f"cannot resume from '{path}': its training "
                         f"configuration differs ({', '.join(diff)}); use "
                         f"the same configuration or a new 'checkpoint_dir'")


def _check_environment(current: Dict[str, Any], stored: Any,
                       path: PathLike) -> None:
    if not isinstance(stored, dict) or stored == current:
        return  # checkpoints written before the environment was kept
    diff = ', '.join(f'{k}={stored.get(k)!r} in checkpoint vs '
                     f'{current.get(k)!r} now'
                     for k in sorted(set(stored) | set(current))
                     if stored.get(k) != current.get(k))
    warnings.warn(f"resuming from '{path}' in another environment ({diff}): "
                  f"the run continues but will not match an uninterrupted "
                  f"one bit for bit; use torch.set_num_threads("
                  f"{stored.get('threads')}) (pyg-dnnmod train --threads) "
                  f"on the same device for an exact resume", stacklevel=3)


def train(
    model: nn.Module,
    train_data: Data,
    test_data: Optional[Data] = None,
    config: Optional[TrainConfig] = None,
    checkpoint_dir: Optional[PathLike] = None,
    resume: bool = False,
    device: Optional[Union[str, torch.device]] = None,
    callback: Optional[Callable[[int, nn.Module], None]] = None,
    progress: bool = True,
    augment: Optional[Callable[[Tensor], Tensor]] = None,
    info: Optional[Dict[str, Any]] = None,
) -> pd.DataFrame:
    r"""Trains a classifier with SGD and cross-entropy, one checkpoint per
    epoch.

    Epoch 0 is the model as given (e.g. at random initialisation): it is
    evaluated (on the training data only if
    :obj:`config.eval_train_at_start`, a whole pass over it; else its
    training columns are NaN), saved as ``epoch_000.pt`` and passed to
    :obj:`callback` like every later epoch, so that dynamics over training
    start at the random init. Each epoch :math:`e \geq 1` shuffles the
    training data, takes SGD steps (see :class:`TrainConfig`), evaluates on
    :obj:`test_data`, writes
    ``epoch_XXX.pt`` atomically (model ``state_dict``, optimizer and
    scheduler state, history and configuration; loadable with
    :obj:`weights_only=True`) and calls :obj:`callback(e, model)`.

    All random draws of epoch :math:`e` (the shuffling, dropout,
    :obj:`augment`) are seeded from :obj:`(config.seed, e)`, so with
    :obj:`resume=True` an interrupted run continues from its last checkpoint
    and ends with exactly the weights and history of an uninterrupted run
    (bit for bit on the CPU with the same thread count, which every
    checkpoint keeps: resuming with another count or device warns; on a GPU
    as far as its kernels are deterministic). The caller's global random
    state is restored on return.

    Args:
        model (torch.nn.Module): The classifier, returning logits
            :obj:`[B, C]`; trained in place.
        train_data ((torch.Tensor, torch.Tensor) or torch.utils.data.Dataset):
            Training inputs and integer labels, or a dataset of such pairs.
        test_data ((torch.Tensor, torch.Tensor) or torch.utils.data.Dataset,
            optional): Evaluated after every epoch; :obj:`None` leaves the
            test columns NaN. (default: :obj:`None`)
        config (TrainConfig, optional): The recipe; :obj:`None` means the
            paper's defaults, :obj:`TrainConfig()`. (default: :obj:`None`)
        checkpoint_dir (str or pathlib.Path, optional): Where to write
            ``epoch_XXX.pt``; :obj:`None` writes nothing.
            (default: :obj:`None`)
        resume (bool, optional): Continue from the last checkpoint in
            :obj:`checkpoint_dir` (starting from scratch if there is none).
            Without it, a folder that already holds checkpoints is an error,
            so that a stale run is never mixed with a new one.
            (default: :obj:`False`)
        device (str or torch.device, optional): Where to train; the model is
            moved there. By default CUDA when available, else the CPU.
            (default: :obj:`None`)
        callback (callable, optional): Called as :obj:`callback(epoch, model)`
            after every epoch (including epoch 0 of a fresh run), with the
            model in evaluation mode. (default: :obj:`None`)
        progress (bool, optional): Show a tqdm progress bar on stderr.
            (default: :obj:`True`)
        augment (callable, optional): Applied to every training input batch
            on the device, e.g. :func:`random_crop_flip`.
            (default: :obj:`None`)
        info (dict, optional): What the weights are, plain values kept in
            every checkpoint under :obj:`"info"` (see
            :func:`~pyg_dnnmod.training.checkpoint_info`): the model's spec
            under :obj:`"model"` and the training data's name under
            :obj:`"dataset"`.
            (default: :obj:`None`)

    Returns:
        pandas.DataFrame: One row per epoch from 0 with columns
        :obj:`epoch`, :obj:`train_loss`, :obj:`train_acc`, :obj:`test_loss`,
        :obj:`test_acc`, :obj:`lr` and :obj:`seconds`. The training columns
        of epochs :math:`\geq 1` are averages over the epoch's batches in
        training mode; those of epoch 0 come from :func:`evaluate` (NaN
        unless :obj:`config.eval_train_at_start`).

    Example:
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> x = torch.randn(64, 2)
        >>> y = (x[:, 0] > 0).long()
        >>> model = nn.Linear(2, 2)
        >>> config = TrainConfig(epochs=3, batch_size=16, lr=0.5,
        ...                      weight_decay=0.0)
        >>> history = train(model, (x, y), (x, y), config, progress=False)
        >>> history['epoch'].tolist()
        [0, 1, 2, 3]
        >>> bool(history["test_acc"].iloc[-1] > 0.9)
        True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module "
                        f"(got {type(model).__name__})")
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"'config' must be a TrainConfig "
                        f"(got {type(config).__name__})")
    train_data = _check_data(train_data, 'train_data')
    if test_data is not None:
        test_data = _check_data(test_data, 'test_data')
    if callback is not None and not callable(callback):
        raise TypeError(f"'callback' must be callable (got {callback!r})")
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    device = torch.device(device)
    model.to(device)
    was_training = model.training

    if config.optimizer == 'adamw':
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                      weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr,
                                    momentum=config.momentum,
                                    weight_decay=config.weight_decay,
                                    nesterov=config.nesterov)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(config.milestones), gamma=config.gamma)

    def save_epoch(epoch: int, history: List[Dict[str, Any]]) -> None:
        if checkpoint_dir is not None:
            save_checkpoint(
                {
                    'epoch': epoch,
                    'model': model.state_dict(),
                    'optimizer': optimizer.state_dict(),
                    'scheduler': scheduler.state_dict(),
                    'history': [dict(row) for row in history],
                    'config': config.to_dict(),
                    'environment': environment,
                    **({'info': dict(info)} if info is not None else {}),
                }, checkpoint_path(checkpoint_dir, epoch))
        if callback is not None:
            callback(epoch, model)

    def test_metrics() -> Tuple[float, float]:
        if test_data is None:
            return math.nan, math.nan
        return _evaluate(model, test_data, config.eval_batch_size, device)

    # What besides the recipe changes the trajectory on the CPU: the sums of
    # a step are ordered by the thread count.
    environment = {'device': device.type}
    if device.type == 'cpu':
        environment['threads'] = torch.get_num_threads()
    history: List[Dict[str, Any]] = []
    start_epoch = 0
    existing = list_checkpoints(checkpoint_dir) if checkpoint_dir else []
    if existing and not resume:
        raise ValueError(f"'checkpoint_dir' ('{checkpoint_dir}') already "
                         f"holds checkpoints (up to epoch {existing[-1][0]}); "
                         f"pass 'resume=True' to continue that run or use an "
                         f"empty folder")
    if existing:
        last_epoch, path = existing[-1]
        checkpoint = load_checkpoint(model, path, map_location=device)
        _check_resumable(config, checkpoint.get('config', {}), path)
        _check_environment(environment, checkpoint.get('environment'), path)
        optimizer.load_state_dict(checkpoint['optimizer'])
        scheduler.load_state_dict(checkpoint['scheduler'])
        history = [dict(row) for row in checkpoint['history']]
        start_epoch = last_epoch + 1

    devices = [device.index or 0] if device.type == 'cuda' else []
    bar = None
    try:
        bar = tqdm(total=config.epochs,
                   initial=min(max(start_epoch - 1, 0), config.epochs),
                   file=sys.stderr, disable=not progress, desc='train',
                   unit='epoch')
        with torch.random.fork_rng(devices=devices):
            if start_epoch == 0:
                start = time.perf_counter()
                train_loss, train_acc = math.nan, math.nan
                if config.eval_train_at_start:
                    train_loss, train_acc = _evaluate(
                        model, train_data, config.eval_batch_size, device)
                test_loss, test_acc = test_metrics()
                history.append(
                    dict(epoch=0, train_loss=train_loss, train_acc=train_acc,
                         test_loss=test_loss, test_acc=test_acc,
                         lr=optimizer.param_groups[0]['lr'],
                         seconds=time.perf_counter() - start))
                model.eval()
                save_epoch(0, history)
                start_epoch = 1

            for epoch in range(start_epoch, config.epochs + 1):
                start = time.perf_counter()
                seed = _epoch_seed(config.seed, epoch)
                torch.manual_seed(seed)
                generator = torch.Generator().manual_seed(seed)
                lr = optimizer.param_groups[0]['lr']

                model.train()
                loss_sum = torch.zeros((), dtype=torch.float64, device=device)
                correct = torch.zeros((), dtype=torch.long, device=device)
                count = 0
                for x, y in _batches(train_data, config.batch_size, generator,
                                     config.num_workers):
                    x, y = x.to(device), y.to(device)
                    if augment is not None:
                        x = augment(x)
                    out = model(x)
                    loss = F.cross_entropy(out, y)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    loss_sum += loss.detach().double() * y.numel()
                    correct += (out.detach().argmax(dim=-1) == y).sum()
                    count += y.numel()
                scheduler.step()
                model.eval()

                train_loss = loss_sum.item() / count
                if not math.isfinite(train_loss):
                    warnings.warn(f"the training loss of epoch {epoch} is "
                                  f"{train_loss}; lower 'lr'?", stacklevel=2)
                test_loss, test_acc = test_metrics()
                history.append(
                    dict(epoch=epoch, train_loss=train_loss,
                         train_acc=correct.item() / count,
                         test_loss=test_loss, test_acc=test_acc, lr=lr,
                         seconds=time.perf_counter() - start))
                save_epoch(epoch, history)
                bar.set_postfix(loss=f'{train_loss:.4f}',
                                test_acc=f'{test_acc:.4f}', refresh=False)
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)

    return pd.DataFrame(history, columns=COLUMNS)
