r"""Training with an accuracy log on disk: the Python twin of
``pyg-dnnmod train``."""
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Union

import pandas as pd
import torch
from torch import Tensor, nn

from pyg_dnnmod.io import atomic_write
from pyg_dnnmod.training import TrainConfig

#: The accuracy log written next to the checkpoints.
HISTORY_FILE = 'history.csv'


def write_csv_atomic(df: pd.DataFrame, path: Union[str, Path]) -> Path:
    r"""Writes :obj:`df` to :obj:`path` as CSV (no index) through a
    temporary file and one :func:`os.replace`, so a reader never sees half a
    file.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = write_csv_atomic(pd.DataFrame({'a': [1]}),
        ...                             Path(tmp) / 'a.csv')
        ...     path.read_text()
        'a\n1\n'
    """
    return atomic_write(path, lambda tmp: df.to_csv(tmp, index=False))


def train_model(
    model: nn.Module,
    train_data: Any,
    test_data: Any = None,
    config: Optional[TrainConfig] = None,
    out: Union[str, Path, None] = None,
    resume: bool = False,
    device: Union[str, torch.device, None] = None,
    augment: Optional[Callable[[Tensor], Tensor]] = None,
    progress: bool = True,
    info: Optional[Dict[str, Any]] = None,
) -> pd.DataFrame:
    r"""Trains :obj:`model` with :func:`~pyg_dnnmod.training.train` (the
    paper's SGD recipe, see :class:`~pyg_dnnmod.training.TrainConfig`),
    writing a checkpoint ``epoch_XXX.pt`` per epoch and the accuracy log
    :obj:`history.csv` (one row per epoch, rewritten atomically after every
    epoch, so it can be watched during a long run) into :obj:`out`.

    With :obj:`resume=True` a run continues from the last checkpoint in
    :obj:`out` and ends with the weights and log of an uninterrupted run.

    Args:
        model (torch.nn.Module): The classifier; trained in place.
        train_data: Training data, an :obj:`(x, y)` pair or a dataset.
        test_data (optional): Evaluated after every epoch.
            (default: :obj:`None`)
        config (TrainConfig, optional): The recipe.
            (default: :obj:`None`, the paper's)
        out (str or Path, optional): The folder of the checkpoints and the
            log; :obj:`None` writes nothing. (default: :obj:`None`)
        resume (bool, optional): Continue the run in :obj:`out`.
            (default: :obj:`False`)
        device (str or torch.device, optional): Where to train.
            (default: :obj:`None`, CUDA if available)
        augment (callable, optional): Batch augmentation, e.g.
            :func:`~pyg_dnnmod.training.random_crop_flip`.
            (default: :obj:`None`)
        progress (bool, optional): Show a progress bar on stderr.
            (default: :obj:`True`)
        info (dict, optional): What the weights are, kept in every
            checkpoint (the model's spec under :obj:`"model"`, the training
            data's name under :obj:`"dataset"`; see
            :func:`~pyg_dnnmod.training.checkpoint_info`).
            (default: :obj:`None`)

    Returns:
        pandas.DataFrame: The history of
        :func:`~pyg_dnnmod.training.train`, one row per epoch from 0.

    Example:
        >>> import tempfile
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> x = torch.randn(64, 2)
        >>> y = (x[:, 0] > 0).long()
        >>> config = TrainConfig(epochs=2, batch_size=16, lr=0.5,
        ...                      milestones=())
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     history = train_model(nn.Linear(2, 2), (x, y), (x, y),
        ...                           config, out=tmp, progress=False)
        ...     sorted(p.name for p in Path(tmp).iterdir())
        ['epoch_000.pt', 'epoch_001.pt', 'epoch_002.pt', 'history.csv']
    """
    from pyg_dnnmod.training import checkpoint_path, train

    folder = Path(out) if out is not None else None
    callback = None
    if folder is not None:
        def callback(epoch: int, _: nn.Module) -> None:
            # The checkpoint just written holds the history so far; mmap
            # avoids reading the weights.
            stored = torch.load(checkpoint_path(folder, epoch),
                                map_location='cpu', weights_only=True,
                                mmap=True)
            write_csv_atomic(pd.DataFrame(stored['history']),
                             folder / HISTORY_FILE)

    history = train(model, train_data, test_data, config,
                    checkpoint_dir=folder, resume=resume, device=device,
                    callback=callback, progress=progress, augment=augment,
                    info=info)
    if folder is not None:
        write_csv_atomic(history, folder / HISTORY_FILE)
    return history
