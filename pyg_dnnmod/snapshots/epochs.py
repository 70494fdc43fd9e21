r"""The second time axis: snapshots per training epoch, an epoch x layer grid.

The paper's Fig. 6b follows the modularity curve over training; here every
epoch (a checkpoint, or a training callback) gives one :class:`LayerGraphs`
over the same samples, and :class:`EpochLayerGraphs` holds the grid.
"""
import copy
from pathlib import Path
from typing import (
    Any,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import pandas as pd
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from pyg_dnnmod.snapshots.layer_graphs import (
    LayerGraphs,
    calibration_columns,
    layer_graphs,
)
from pyg_dnnmod.utils import ModularityNull, modularity, modularity_null


class EpochLayerGraphs:
    r"""An epoch x layer grid of k-NN snapshots: one :class:`LayerGraphs`
    per epoch, all over the same samples and layers.

    Args:
        items (list[(int, LayerGraphs)]): :obj:`(epoch, graphs)` pairs.

    Example:
        >>> x = torch.tensor([[1., 0.], [1., .1], [0., 1.], [.1, 1.]])
        >>> y = torch.tensor([0, 0, 1, 1])
        >>> early = LayerGraphs.from_features([('a', x[[0, 2, 1, 3]])], y, k=1)
        >>> late = LayerGraphs.from_features([('a', x)], y, k=1)
        >>> grid = EpochLayerGraphs([(0, early), (5, late)])
        >>> grid.epochs, grid.layer_names
        ([0, 5], ['a'])
        >>> grid.modularity()
        tensor([[-0.5000],
                [ 0.5000]], dtype=torch.float64)
    """
    def __init__(self, items: Sequence[Tuple[int, LayerGraphs]]) -> None:
        items = sorted(items, key=lambda item: item[0])
        names = [graphs.layer_names for _, graphs in items]
        if any(n != names[0] for n in names):
            raise ValueError("every epoch must have the same layers "
                             f"(got {names})")
        self._items = list(items)

    @property
    def epochs(self) -> List[int]:
        return [epoch for epoch, _ in self._items]

    @property
    def layer_names(self) -> List[str]:
        return self._items[0][1].layer_names if self._items else []

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Tuple[int, LayerGraphs]]:
        return iter(self._items)

    def __getitem__(self, epoch: int) -> LayerGraphs:
        for e, graphs in self._items:
            if e == epoch:
                return graphs
        raise KeyError(f"no snapshots for epoch {epoch} (epochs: "
                       f"{self.epochs})")

    def _batch(self) -> Batch:
        data = [d for _, graphs in self._items for d in graphs]
        return Batch.from_data_list(data, exclude_keys=['x'])

    def modularity(self, resolution: float = 1.0) -> Tensor:
        r"""The modularity grid :math:`[E, L]`, in one batched call."""
        if not self._items or not self.layer_names:
            return torch.zeros(0, 0, dtype=torch.float64)
        batch = self._batch()
        q = modularity(batch.edge_index, batch.y, batch.edge_weight,
                       num_nodes=batch.num_nodes, resolution=resolution,
                       batch=batch.batch)
        return q.view(len(self._items), -1)

    def modularity_null(self, resolution: float = 1.0,
                        num_permutations: int = 1000,
                        seed: int = 0) -> ModularityNull:
        r"""Every snapshot's modularity against its label-permutation null
        (:func:`~pyg_dnnmod.utils.modularity_null`), in one batched call:
        grids :math:`[E, L]` of :obj:`q`, :obj:`expected`, :obj:`std`,
        :obj:`z` and :obj:`p`."""
        if not self._items or not self.layer_names:
            empty = torch.zeros(0, 0, dtype=torch.float64)
            return ModularityNull(*([empty] * 5))
        batch = self._batch()
        null = modularity_null(batch.edge_index, batch.y, batch.edge_weight,
                               num_nodes=batch.num_nodes,
                               num_permutations=num_permutations, seed=seed,
                               batch=batch.batch, resolution=resolution)
        return ModularityNull(*(v.view(len(self._items), -1) for v in null))

    def to_dataframe(self, resolution: float = 1.0,
                     num_permutations: Optional[int] = None,
                     seed: int = 0) -> pd.DataFrame:
        r"""Long format: :obj:`epoch`, :obj:`layer_index`, :obj:`layer`,
        :obj:`modularity`; with :obj:`num_permutations` also the
        :data:`~pyg_dnnmod.snapshots.CALIBRATION_COLUMNS` (see
        :meth:`modularity_null`)."""
        names = self.layer_names
        df = pd.DataFrame({
            'epoch': [e for e in self.epochs for _ in names],
            'layer_index': [j for _ in self.epochs for j in range(len(names))],
            'layer': [name for _ in self.epochs for name in names],
        })
        if num_permutations is None:
            df['modularity'] = self.modularity(resolution).reshape(-1).tolist()
            return df
        null = self.modularity_null(resolution, num_permutations, seed)
        flat = ModularityNull(*(v.reshape(-1) for v in null))
        df['modularity'] = flat.q.tolist()
        for column, values in calibration_columns(flat).items():
            df[column] = values
        return df


class LayerGraphsCallback:
    r"""A training callback (:obj:`callback(epoch, model)`, as
    :func:`pyg_dnnmod.training.train` calls it) that records the snapshots
    of every epoch; :obj:`result` is the :class:`EpochLayerGraphs` so far.

    Args:
        inputs (torch.Tensor): The samples, the same at every epoch.
        labels (torch.Tensor): Their labels.
        every (int, optional): Record every :obj:`every`-th epoch (and
            epoch 0). (default: :obj:`1`)
        **kwargs: Passed to :func:`layer_graphs` (:obj:`k`, :obj:`layers`,
            :obj:`num_samples`, :obj:`seed`, ...).
    """
    def __init__(self, inputs: Tensor, labels: Tensor, every: int = 1,
                 **kwargs: Any) -> None:
        if every < 1:
            raise ValueError(f"'every' must be >= 1 (got {every})")
        self.inputs, self.labels = inputs, labels
        self.every = every
        self.kwargs = kwargs
        self._items: List[Tuple[int, LayerGraphs]] = []

    def __call__(self, epoch: int, model: nn.Module) -> None:
        if epoch % self.every == 0:
            self._items.append((epoch, layer_graphs(
                model, self.inputs, self.labels, **self.kwargs)))

    @property
    def result(self) -> EpochLayerGraphs:
        return EpochLayerGraphs(self._items)


def epoch_layer_graphs(
    model: nn.Module,
    checkpoints: Union[str, Path, Sequence[Union[str, Path]],
                       Dict[int, Union[str, Path]]],
    inputs: Tensor,
    labels: Tensor,
    **kwargs: Any,
) -> EpochLayerGraphs:
    r"""Snapshots of every checkpoint of a training run, over the same
    samples: the epoch x layer grid of the paper's Fig. 6b.

    Args:
        model (torch.nn.Module): The architecture (its weights are not
            changed; each checkpoint is loaded into a copy).
        checkpoints: A folder written by :func:`pyg_dnnmod.training.train`,
            a list of checkpoint files (epochs numbered by position), or a
            dict :obj:`{epoch: path}`.
        inputs (torch.Tensor): The samples.
        labels (torch.Tensor): Their labels.
        **kwargs: Passed to :func:`layer_graphs`.
    """
    from pyg_dnnmod.training import list_checkpoints, load_checkpoint

    if isinstance(checkpoints, (str, Path)):
        pairs = list_checkpoints(checkpoints)
        if not pairs:
            raise ValueError(f"'checkpoints' folder {str(checkpoints)!r} "
                             f"holds no epoch_XXX.pt checkpoint")
    elif isinstance(checkpoints, dict):
        pairs = sorted(checkpoints.items())
    else:
        pairs = list(enumerate(checkpoints))
    if not pairs:
        raise ValueError("'checkpoints' is empty")
    copy_ = copy.deepcopy(model)
    items = []
    for epoch, path in pairs:
        load_checkpoint(copy_, path)
        items.append((int(epoch), layer_graphs(copy_, inputs, labels,
                                               **kwargs)))
    return EpochLayerGraphs(items)
