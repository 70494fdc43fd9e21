r"""Modularity of every layer at every training epoch beside the accuracy:
the Python twin of ``pyg-dnnmod dynamics`` (Lu et al., ECCV 2022,
section 4.3, Fig. 6b)."""
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import pandas as pd
import torch
from torch import Tensor, nn

from pyg_dnnmod.experiments._draw import check_calibration, check_model
from pyg_dnnmod.experiments._draw import \
    snapshot_config as snapshot_config_of
from pyg_dnnmod.snapshots import CALIBRATION_COLUMNS, SnapshotConfig
from pyg_dnnmod.training import TrainConfig

#: The columns of :func:`training_dynamics`, in order.
DYNAMICS_COLUMNS = ('epoch', 'layer_index', 'layer', 'modularity',
                    'train_loss', 'train_acc', 'test_loss', 'test_acc', 'lr')
_HISTORY = ('train_loss', 'train_acc', 'test_loss', 'test_acc', 'lr')


def _probe_set(inputs: Optional[Tensor], labels: Optional[Tensor],
               test_data: Any) -> tuple:
    if inputs is None:
        if not (isinstance(test_data, (tuple, list)) and len(test_data) == 2
                and all(isinstance(t, Tensor) for t in test_data)):
            raise ValueError("'inputs' and 'labels' must be given unless "
                             "'test_data' is an (x, y) pair of tensors, "
                             f"whose samples are then used (got inputs=None "
                             f"and test_data of type "
                             f"{type(test_data).__name__})")
        return test_data[0], test_data[1]
    if labels is None:
        raise ValueError("'labels' must be given with 'inputs' (got None)")
    return inputs, labels


def _snapshots_of(snapshot_config: Optional[SnapshotConfig],
                  kwargs: Dict[str, Any], labels: Any) -> SnapshotConfig:
    config = snapshot_config_of(snapshot_config, kwargs, num_samples=500)
    config.validate(int(torch.as_tensor(labels).numel()))
    return config


def _merge(grid_df: pd.DataFrame,
           history: Optional[pd.DataFrame]) -> pd.DataFrame:
    df = grid_df.copy()
    if history is not None and len(history) > 0:
        keep = ['epoch'] + [c for c in _HISTORY if c in history.columns]
        hist = history[keep].drop_duplicates('epoch', keep='last')
        df = df.merge(hist, on='epoch', how='left')
    for column in _HISTORY:
        if column not in df.columns:
            df[column] = float('nan')
    columns = list(DYNAMICS_COLUMNS) + [c for c in CALIBRATION_COLUMNS
                                        if c in df.columns]
    return df[columns].sort_values(
        ['epoch', 'layer_index'], kind='stable').reset_index(drop=True)


def training_dynamics(
    model: nn.Module,
    train_data: Any,
    test_data: Any = None,
    config: Optional[TrainConfig] = None,
    inputs: Optional[Tensor] = None,
    labels: Optional[Tensor] = None,
    snapshot_config: Optional[SnapshotConfig] = None,
    *,
    every: int = 1,
    device: Union[str, torch.device, None] = None,
    checkpoint_dir: Union[str, Path, None] = None,
    progress: bool = False,
    calibrate: bool = False,
    num_permutations: int = 1000,
    **kwargs: Any,
) -> pd.DataFrame:
    r"""Trains :obj:`model` and records the modularity curve at every
    epoch beside the accuracy: the epoch :math:`\times` layer grid of Fig.
    6b of `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_.

    Training is :func:`~pyg_dnnmod.training.train` (the untrained model is
    epoch 0); after every :obj:`every`-th epoch a training callback
    (:class:`~pyg_dnnmod.snapshots.LayerGraphsCallback`) builds the k-NN
    snapshots of the same :math:`N` samples (drawn once with :obj:`seed`)
    and computes

    .. math::
        Q_{e,\ell} = \sum_c \left[ \frac{L_c}{m} - \gamma
        \left(\frac{K_c}{2m}\right)^2 \right]

    for every epoch :math:`e` and layer :math:`\ell`. The paper's reading:
    the deep layers' modularity rises with the accuracy while the first
    layer's hardly moves.

    Args:
        model (torch.nn.Module): The classifier, trained in place.
        train_data: Training data, an :obj:`(x, y)` pair or a dataset.
        test_data (optional): Evaluated after every epoch; an :obj:`(x, y)`
            pair also serves as the snapshot samples when :obj:`inputs` is
            not given. (default: :obj:`None`)
        config (TrainConfig, optional): The recipe.
            (default: :obj:`None`, the paper's)
        inputs (torch.Tensor, optional): The snapshot samples :math:`[M,
            ...]`. (default: :obj:`None`, the test inputs)
        labels (torch.Tensor, optional): Their labels. (default: :obj:`None`)
        snapshot_config (SnapshotConfig, optional): How the snapshots of
            every recorded epoch are taken. (default: :obj:`None`, the
            defaults with :obj:`num_samples=500`)
        every (int, optional): Record every :obj:`every`-th epoch (and epoch
            0). (default: :obj:`1`)
        device (str or torch.device, optional): Where to train and build
            the snapshots. (default: :obj:`None`, CUDA if available)
        checkpoint_dir (str or Path, optional): Also write the per-epoch
            checkpoints there (see :func:`dynamics_from_checkpoints`).
            (default: :obj:`None`)
        progress (bool, optional): Show the training progress bar.
            (default: :obj:`False`)
        calibrate (bool, optional): Also compare every snapshot's
            modularity with its label-permutation null
            (:func:`~pyg_dnnmod.utils.modularity_null`, seeded by
            :obj:`seed`): adds the columns :obj:`q_null_mean`,
            :obj:`q_null_std`, :obj:`z` and :obj:`p`. (default:
            :obj:`False`)
        num_permutations (int, optional): Permutations of the null.
            (default: :obj:`1000`)
        **kwargs (optional): Fields of :class:`SnapshotConfig` on top of
            :obj:`snapshot_config` (:obj:`k`, :obj:`num_samples`,
            :obj:`seed`, :obj:`layers`, ...).

    Returns:
        pandas.DataFrame: Long format, one row per (recorded epoch, layer):
        :obj:`epoch`, :obj:`layer_index`, :obj:`layer`, :obj:`modularity`
        and the epoch's :obj:`train_loss`, :obj:`train_acc`,
        :obj:`test_loss`, :obj:`test_acc` (NaN without test data) and
        :obj:`lr` (calibrated: and the
        :data:`~pyg_dnnmod.snapshots.CALIBRATION_COLUMNS`). :obj:`df.attrs`
        holds :obj:`k`, :obj:`num_samples`, :obj:`metric`, :obj:`seed`,
        :obj:`train_seconds`, :obj:`snapshot_seconds` and :obj:`history`
        (the rows of :func:`~pyg_dnnmod.training.train`'s history, every
        epoch, as a checkpoint of
        :func:`~pyg_dnnmod.training.save_model_checkpoint` keeps them). The
        model ends trained: save it with
        :func:`~pyg_dnnmod.training.save_model_checkpoint`.

    Example:
        >>> from torch import nn
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> x = torch.randn(64, 4)
        >>> y = (x[:, 0] > 0).long()
        >>> config = TrainConfig(epochs=2, batch_size=16, lr=0.1,
        ...                      milestones=())
        >>> df = training_dynamics(model, (x, y), (x, y), config,
        ...                        num_samples=40, layers=nn.Linear)
        >>> df['epoch'].unique().tolist(), df['layer'].unique().tolist()
        ([0, 1, 2], ['0', '2'])
    """
    from pyg_dnnmod.features import select_layers
    from pyg_dnnmod.snapshots import LayerGraphsCallback
    from pyg_dnnmod.training import train

    check_model(model)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"'every' must be an integer >= 1 (got {every!r})")
    inputs, labels = _probe_set(inputs, labels, test_data)
    snapshots = _snapshots_of(snapshot_config, kwargs, labels)
    permutations = check_calibration(calibrate, num_permutations)
    select_layers(model, snapshots.layers, snapshots.post_activation)

    recorder = LayerGraphsCallback(inputs, labels, every=every,
                                   config=snapshots)
    snapshot_seconds = 0.0

    def callback(epoch: int, trained: nn.Module) -> None:
        nonlocal snapshot_seconds
        start = time.perf_counter()
        recorder(epoch, trained)
        snapshot_seconds += time.perf_counter() - start

    start = time.perf_counter()
    history = train(model, train_data, test_data, config,
                    checkpoint_dir=checkpoint_dir, device=device,
                    callback=callback, progress=progress)
    total = time.perf_counter() - start
    df = _merge(recorder.result.to_dataframe(
        snapshots.resolution, permutations, snapshots.seed), history)
    n = snapshots.validate(int(torch.as_tensor(labels).numel()))
    df.attrs.update(k=snapshots.k, num_samples=n, metric=snapshots.metric,
                    seed=snapshots.seed,
                    train_seconds=total - snapshot_seconds,
                    snapshot_seconds=snapshot_seconds,
                    history=history.to_dict('records'))
    return df


def dynamics_from_checkpoints(
    model: nn.Module,
    checkpoints: Union[str, Path, Sequence[Union[str, Path]],
                       Dict[int, Any]],
    inputs: Tensor,
    labels: Tensor,
    snapshot_config: Optional[SnapshotConfig] = None,
    *,
    device: Union[str, torch.device, None] = None,
    history: Optional[pd.DataFrame] = None,
    calibrate: bool = False,
    num_permutations: int = 1000,
    **kwargs: Any,
) -> pd.DataFrame:
    r"""The same epoch :math:`\times` layer table as
    :func:`training_dynamics`, from the per-epoch checkpoints of a finished
    run (e.g. ``pyg-dnnmod train``'s output folder) through
    :func:`~pyg_dnnmod.snapshots.epoch_layer_graphs`.

    The accuracy columns come from :obj:`history` if given, else from the
    history that :func:`~pyg_dnnmod.training.train` stores in the last
    checkpoint (NaN where there is none).

    Args:
        model (torch.nn.Module): The architecture (not changed).
        checkpoints: A folder of ``epoch_XXX.pt`` files, a list of files
            (epochs numbered by position) or a dict :obj:`{epoch: path}`.
        inputs (torch.Tensor): The snapshot samples.
        labels (torch.Tensor): Their labels.
        history (pandas.DataFrame, optional): Per-epoch metrics with an
            :obj:`epoch` column. (default: :obj:`None`)
        calibrate (bool, optional): Also compare every snapshot's
            modularity with its label-permutation null
            (:func:`~pyg_dnnmod.utils.modularity_null`, seeded by
            :obj:`seed`): adds the columns :obj:`q_null_mean`,
            :obj:`q_null_std`, :obj:`z` and :obj:`p`. (default:
            :obj:`False`)
        num_permutations (int, optional): Permutations of the null.
            (default: :obj:`1000`)

    The other arguments are those of :func:`training_dynamics`.

    Example:
        >>> import tempfile
        >>> from torch import nn
        >>> from pyg_dnnmod.training import train
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> x = torch.randn(64, 4)
        >>> y = (x[:, 0] > 0).long()
        >>> config = TrainConfig(epochs=2, batch_size=16, lr=0.1,
        ...                      milestones=())
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = train(model, (x, y), (x, y), config, checkpoint_dir=tmp,
        ...               progress=False)
        ...     df = dynamics_from_checkpoints(model, tmp, x, y,
        ...                                    num_samples=40)
        >>> df['epoch'].unique().tolist(), bool(df['test_acc'].notna().all())
        ([0, 1, 2], True)
    """
    from pyg_dnnmod.features import select_layers
    from pyg_dnnmod.snapshots import epoch_layer_graphs
    from pyg_dnnmod.training import list_checkpoints, read_checkpoint

    check_model(model)
    snapshots = _snapshots_of(snapshot_config, kwargs, labels)
    permutations = check_calibration(calibrate, num_permutations)
    select_layers(model, snapshots.layers, snapshots.post_activation)
    if isinstance(checkpoints, (str, Path)):
        pairs = list_checkpoints(checkpoints)
        if not pairs:
            raise ValueError(f"'checkpoints' folder {str(checkpoints)!r} "
                             f"holds no epoch_XXX.pt checkpoint; write one "
                             f"with 'pyg-dnnmod train' or "
                             f"pyg_dnnmod.training.train")
        last = pairs[-1][1]
    elif isinstance(checkpoints, dict):
        last = checkpoints[max(checkpoints)] if checkpoints else None
    else:
        last = list(checkpoints)[-1] if len(checkpoints) else None

    start = time.perf_counter()
    grid = epoch_layer_graphs(model, checkpoints, inputs, labels,
                              config=snapshots, device=device)
    seconds = time.perf_counter() - start
    if history is None and last is not None:
        stored = read_checkpoint(last)
        if stored.get('history'):
            history = pd.DataFrame(stored['history'])
    df = _merge(grid.to_dataframe(snapshots.resolution, permutations,
                                  snapshots.seed), history)
    n = snapshots.validate(int(torch.as_tensor(labels).numel()))
    df.attrs.update(k=snapshots.k, num_samples=n, metric=snapshots.metric,
                    seed=snapshots.seed,
                    snapshot_seconds=seconds)
    return df
