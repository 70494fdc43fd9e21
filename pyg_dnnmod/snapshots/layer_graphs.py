r"""From a model to its temporal graph: one k-NN snapshot per layer.

This is where a model's layers become PyG snapshots: the features of every
chosen layer over :math:`N` labelled samples give one
:class:`~torch_geometric.data.Data` (the k-NN graph of the samples, their
labels, the depth index), and :class:`LayerGraphs` holds the sequence over
depth: an edge-dynamic graph on a fixed node set.
"""
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data, TemporalData

from pyg_dnnmod.snapshots._config import SnapshotConfig
from pyg_dnnmod.utils import (
    ModularityNull,
    check_labels,
    knn_graph,
    modularity,
    modularity_null,
)

#: The columns a calibrated table adds to the modularity: the mean and
#: standard deviation of its label-permutation null, the z-score and the
#: permutation p-value (:func:`~pyg_dnnmod.utils.modularity_null`).
CALIBRATION_COLUMNS = ('q_null_mean', 'q_null_std', 'z', 'p')


def calibration_columns(null: ModularityNull) -> Dict[str, List[float]]:
    r"""The :data:`CALIBRATION_COLUMNS` of a batched
    :class:`~pyg_dnnmod.utils.ModularityNull`, as lists.

    Example:
        >>> from pyg_dnnmod.utils import ModularityNull
        >>> null = ModularityNull(*(torch.tensor([v]) for v in
        ...                         (.5, 0., .1, 5., .001)))
        >>> calibration_columns(null)['z']
        [5.0]
    """
    return {'q_null_mean': null.expected.tolist(),
            'q_null_std': null.std.tolist(), 'z': null.z.tolist(),
            'p': null.p.tolist()}


class LayerGraphs(Sequence):
    r"""A sequence of k-NN snapshots over depth (or any time axis), as PyG
    :class:`~torch_geometric.data.Data` objects.

    Every snapshot holds :obj:`edge_index`, :obj:`edge_weight`, :obj:`y`
    (the node labels), :obj:`num_nodes`, :obj:`t` (its depth index) and
    :obj:`layer` (the layer name); :obj:`x` too when features were kept.
    Indexing by an integer gives a snapshot, by a slice another
    :class:`LayerGraphs`; iteration keeps no state on the container, so two
    loops can run at once. It plugs into
    :class:`torch_geometric.loader.DataLoader` as it is.

    Args:
        snapshots (list[Data]): The snapshots in time order.
        meta (dict, optional): What built them (model, k, metric, ...),
            carried along by slices. (default: :obj:`None`)

    Example:
        >>> x = torch.tensor([[1., 0.], [1., .1], [0., 1.], [.1, 1.]])
        >>> y = torch.tensor([0, 0, 1, 1])
        >>> graphs = LayerGraphs.from_features(
        ...     [('input', x), ('mixed', x[[0, 2, 1, 3]])], y, k=1)
        >>> len(graphs), graphs.layer_names
        (2, ['input', 'mixed'])
        >>> graphs.modularity()
        tensor([ 0.5000, -0.5000], dtype=torch.float64)
        >>> graphs[1:].layer_names
        ['mixed']
    """
    def __init__(self, snapshots: List[Data],
                 meta: Optional[Dict[str, Any]] = None) -> None:
        self._snapshots = list(snapshots)
        self.meta = dict(meta or {})

    @classmethod
    def from_features(
        cls,
        features: Sequence[Tuple[str, Tensor]],
        labels: Tensor,
        k: int = 3,
        metric: str = 'cosine',
        symmetrize: str = 'half',
        keep_features: bool = False,
        meta: Optional[Dict[str, Any]] = None,
        knn_kwargs: Optional[Dict[str, Any]] = None,
    ) -> 'LayerGraphs':
        r"""Builds one snapshot per :obj:`(name, features)` pair; the
        features may be a generator, so that only one layer is held at a
        time. :obj:`knn_kwargs` go to :func:`~pyg_dnnmod.utils.knn_graph`."""
        snapshots = [
            snapshot(x, labels, k=k, metric=metric, symmetrize=symmetrize,
                     t=t, layer=name, keep_features=keep_features,
                     knn_kwargs=knn_kwargs)
            for t, (name, x) in enumerate(features)
        ]
        meta = dict(meta or {})
        meta.update(k=k, metric=metric, symmetrize=symmetrize)
        if knn_kwargs:
            meta.update(knn_kwargs=dict(knn_kwargs))
        return cls(snapshots, meta)

    def __len__(self) -> int:
        return len(self._snapshots)

    def __getitem__(self, idx: Union[int, slice]) -> Union[Data,
                                                           'LayerGraphs']:
        if isinstance(idx, slice):
            return self.__class__(self._snapshots[idx], self.meta)
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise TypeError(f"'idx' must be an int or a slice "
                            f"(got {type(idx).__name__})")
        return self._snapshots[idx]

    def __iter__(self) -> Iterator[Data]:
        return iter(self._snapshots)

    def __repr__(self) -> str:
        num_nodes = self._snapshots[0].num_nodes if self._snapshots else 0
        return (f'{self.__class__.__name__}({len(self)} snapshots, '
                f'num_nodes={num_nodes})')

    @property
    def layer_names(self) -> List[str]:
        r"""The layer name of every snapshot."""
        return [data.layer for data in self._snapshots]

    def split(self, at: Union[int, float] = 0.5
              ) -> Tuple['LayerGraphs', 'LayerGraphs']:
        r"""A time-ordered split: the first snapshots and the rest. :obj:`at`
        is an index, or a fraction of the length (rounded down)."""
        if isinstance(at, float):
            if not 0.0 <= at <= 1.0:
                raise ValueError(f"'at' as a fraction must lie in [0, 1] "
                                 f"(got {at})")
            at = int(at * len(self))
        return self[:at], self[at:]

    def to_batch(self, exclude_keys: Optional[List[str]] = None) -> Batch:
        r"""All snapshots as one disjoint-union PyG
        :class:`~torch_geometric.data.Batch` (kept features :obj:`x` of
        layers of different widths cannot be stacked: exclude them with
        :obj:`exclude_keys=['x']`)."""
        if len(self) == 0:
            raise ValueError(f"'to_batch' needs at least one snapshot (got "
                             f"an empty {self.__class__.__name__})")
        return Batch.from_data_list(self._snapshots,
                                    exclude_keys=exclude_keys)

    def modularity(self, resolution: float = 1.0) -> Tensor:
        r"""The modularity of the label partition of every snapshot, computed
        in one batched call over the edge lists (float64, one value per
        snapshot)."""
        if len(self) == 0:
            return torch.zeros(0, dtype=torch.float64)
        batch = self.to_batch(exclude_keys=['x'])
        return modularity(batch.edge_index, batch.y, batch.edge_weight,
                          num_nodes=batch.num_nodes, resolution=resolution,
                          batch=batch.batch)

    def modularity_null(self, resolution: float = 1.0,
                        num_permutations: int = 1000,
                        seed: int = 0) -> ModularityNull:
        r"""Every snapshot's modularity against its label-permutation null
        (:func:`~pyg_dnnmod.utils.modularity_null`), in one batched call:
        tensors :math:`[L]` of :obj:`q`, :obj:`expected`, :obj:`std`,
        :obj:`z` and :obj:`p`."""
        if len(self) == 0:
            empty = torch.zeros(0, dtype=torch.float64)
            return ModularityNull(*([empty] * 5))
        batch = self.to_batch(exclude_keys=['x'])
        return modularity_null(batch.edge_index, batch.y, batch.edge_weight,
                               num_nodes=batch.num_nodes,
                               num_permutations=num_permutations, seed=seed,
                               batch=batch.batch, resolution=resolution)

    def to_dataframe(self, resolution: float = 1.0,
                     num_permutations: Optional[int] = None,
                     seed: int = 0) -> pd.DataFrame:
        r"""One row per snapshot: :obj:`layer_index`, :obj:`layer`,
        :obj:`num_nodes`, :obj:`num_edges` (stored, both directions) and
        :obj:`modularity`; with :obj:`num_permutations`, calibrated against
        chance too (:data:`CALIBRATION_COLUMNS`: :obj:`q_null_mean`,
        :obj:`q_null_std`, :obj:`z`, :obj:`p`, see :meth:`modularity_null`;
        permutations seeded by :obj:`seed`)."""
        columns: Dict[str, list] = {
            'layer_index': [int(data.t) for data in self._snapshots],
            'layer': self.layer_names,
            'num_nodes': [data.num_nodes for data in self._snapshots],
            'num_edges': [data.num_edges for data in self._snapshots],
        }
        if num_permutations is None:
            columns['modularity'] = self.modularity(resolution).tolist()
        else:
            null = self.modularity_null(resolution, num_permutations, seed)
            columns['modularity'] = null.q.tolist()
            columns.update(calibration_columns(null))
        return pd.DataFrame(columns)

    def temporal_signal_arguments(self) -> Dict[str, list]:
        r"""The arguments of PyTorch Geometric Temporal's
        :class:`DynamicGraphTemporalSignal` constructor, numpy arrays per
        snapshot: :obj:`edge_indices`, :obj:`edge_weights`, :obj:`features`
        (:obj:`None` per snapshot unless features were kept) and
        :obj:`targets`, and as additional attributes :obj:`edge_weight`
        (PyG's convolutions read it; the signal puts :obj:`edge_weights`
        in :obj:`edge_attr`), :obj:`num_nodes` and :obj:`layer_index`
        (the snapshot's :obj:`t`; the signal keeps its iteration counter in
        an attribute :obj:`t`, so that name cannot be passed), so that
        every snapshot it yields carries them.

        The layout is PyG Temporal's "dynamic graph": the node set (the
        :math:`N` samples) is fixed, the edges and their weights change from
        snapshot to snapshot, and so do the node features (each layer's
        own width); the targets (the class labels) are the same in every
        snapshot."""
        return {
            'edge_indices': [d.edge_index.cpu().numpy() for d in self],
            'edge_weights': [d.edge_weight.cpu().numpy() for d in self],
            'features': [d.x.cpu().numpy() if d.get('x') is not None else
                         None for d in self],
            'targets': [d.y.cpu().numpy() for d in self],
            'edge_weight': [d.edge_weight.cpu().numpy() for d in self],
            # One-element arrays: the signal turns each with
            # torch.LongTensor(array), which reads a 0-d array as a size.
            'num_nodes': [np.array([d.num_nodes]) for d in self],
            'layer_index': [np.array([d.t]) for d in self],
        }

    def to_temporal_signal(self):
        r"""Converts to PyTorch Geometric Temporal's
        :class:`DynamicGraphTemporalSignal` (see
        :meth:`temporal_signal_arguments` for what each snapshot carries;
        requires :obj:`torch-geometric-temporal`, which imports
        :obj:`torch_sparse`: see the README for the one-line stand-in)."""
        try:
            from torch_geometric_temporal.signal import (
                DynamicGraphTemporalSignal, )
        except Exception as e:  # noqa: BLE001 - its imports may fail too
            raise ImportError(
                "'to_temporal_signal' requires 'torch-geometric-temporal' "
                f"(importing it failed: {e})") from e
        return DynamicGraphTemporalSignal(**self.temporal_signal_arguments())

    def to_temporal_data(self) -> TemporalData:
        r"""The snapshots as one PyG :class:`~torch_geometric.data.
        TemporalData` event stream: every directed edge of snapshot
        :math:`t` is an event :obj:`(src, dst, t)` with its weight as the
        message :obj:`msg` :math:`[E, 1]`, in snapshot order (the form of
        PyG's continuous-time models, e.g. TGN); the node labels of the
        fixed node set are :obj:`node_y`.

        Example:
            >>> x = torch.tensor([[1., 0.], [1., .1], [0., 1.]])
            >>> graphs = LayerGraphs.from_features(
            ...     [('a', x), ('b', x.flip(1))], torch.tensor([0, 0, 1]),
            ...     k=1)
            >>> events = graphs.to_temporal_data()
            >>> events.t.tolist()
            [0, 0, 0, 0, 1, 1, 1, 1]
            >>> events.num_events, tuple(events.msg.shape)
            (8, (8, 1))
        """
        if len(self) == 0:
            raise ValueError("an empty LayerGraphs has no events")
        src = torch.cat([d.edge_index[0] for d in self])
        dst = torch.cat([d.edge_index[1] for d in self])
        t = torch.cat([torch.full((d.num_edges, ), int(d.t),
                                  dtype=torch.long) for d in self])
        msg = torch.cat([d.edge_weight.view(-1, 1) for d in self])
        return TemporalData(src=src, dst=dst, t=t, msg=msg,
                            node_y=self[0].y)


def snapshot(
    x: Tensor,
    labels: Tensor,
    k: int = 3,
    metric: str = 'cosine',
    symmetrize: str = 'half',
    t: int = 0,
    layer: str = '',
    keep_features: bool = False,
    knn_kwargs: Optional[Dict[str, Any]] = None,
) -> Data:
    r"""One k-NN snapshot: the graph of :func:`~pyg_dnnmod.utils.knn_graph` over
    the rows of :obj:`x` as a PyG :class:`~torch_geometric.data.Data` with
    :obj:`edge_index`, :obj:`edge_weight`, :obj:`y`, :obj:`num_nodes`,
    :obj:`t` and :obj:`layer` (and :obj:`x` if :obj:`keep_features`),
    on the CPU. :obj:`knn_kwargs` are further arguments of
    :func:`~pyg_dnnmod.utils.knn_graph` (e.g. :obj:`{'precision': 'bf16'}` or
    :obj:`{'projection': 1024}`).

    Example:
        >>> x = torch.tensor([[1., 0.], [1., .1], [0., 1.]])
        >>> snapshot(x, torch.tensor([0, 0, 1]), k=1, layer='conv1')
        Data(edge_index=[2, 4], y=[3], num_nodes=3, edge_weight=[4], t=0, layer='conv1')
    """
    labels = check_labels(labels, x.size(0))
    edge_index, edge_weight = knn_graph(x, k, metric=metric,
                                        symmetrize=symmetrize,
                                        **(knn_kwargs or {}))
    data = Data(edge_index=edge_index.cpu(), y=labels.cpu(),
                num_nodes=x.size(0))
    data.edge_weight = edge_weight.float().cpu()
    if keep_features:
        data.x = x.reshape(x.size(0), -1).float().cpu()
    data.t = t
    data.layer = layer
    return data


def _check_device(device: Any) -> Optional[torch.device]:
    if device is None or isinstance(device, torch.device):
        return device
    if isinstance(device, bool) or not isinstance(device, (str, int)):
        raise TypeError(f"'device' must be a str, an int or a torch.device "
                        f"(got {type(device).__name__} {device!r})")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"'device' must name a device such as 'cpu', "
                         f"'cuda' or 'cuda:0' (got {device!r})") from error


def draw_layer_features(
    model: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    config: SnapshotConfig,
    device: Union[str, torch.device, None] = None,
    *,
    repeat: int = 0,
    max_bytes: Optional[int] = None,
    spill: bool = True,
    spill_dir: Union[str, os.PathLike, None] = None,
) -> Tuple[Iterator[Tuple[str, Tensor]], Tensor, Dict[str, Any]]:
    r"""The common first step of :func:`layer_graphs` and its relatives:
    checks the inputs, draws the :math:`N` samples of repeat
    :obj:`repeat` (:meth:`SnapshotConfig.draw`), and returns the generator
    of their per-layer features (one layer at a time, from one forward
    pass, see :func:`~pyg_dnnmod.features.iter_layer_features`, which
    :obj:`max_bytes`, :obj:`spill` and :obj:`spill_dir` go to), their
    labels, and the metadata of the draw.

    Example:
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        >>> x, y = torch.randn(10, 3), torch.arange(10) % 2
        >>> features, labels, meta = draw_layer_features(
        ...     model, x, y, SnapshotConfig(k=2, num_samples=6))
        >>> [(name, tuple(f.shape)) for name, f in features]
        [('0', (6, 4)), ('2', (6, 2))]
        >>> meta['num_samples'], labels.tolist()
        (6, [0, 1, 0, 1, 0, 1])
    """
    if not isinstance(config, SnapshotConfig):
        raise TypeError(f"'config' must be a SnapshotConfig "
                        f"(got {type(config).__name__})")
    if not isinstance(inputs, Tensor):
        raise TypeError(f"'inputs' must be a torch.Tensor [M, ...] "
                        f"(got {type(inputs).__name__})")
    if inputs.dim() == 0 or inputs.size(0) == 0:
        raise ValueError(f"'inputs' must hold at least one sample [M, ...] "
                         f"(got shape {list(inputs.shape)})")
    labels = check_labels(labels, inputs.size(0))
    device = _check_device(device)
    shape, dtype = list(inputs.shape), inputs.dtype
    index = config.draw(labels, repeat)
    if config.num_samples is not None:
        inputs, labels = inputs[index], labels[index.to(labels.device)]
    try:
        # A probe forward pass runs here, so a model that rejects the inputs
        # fails now, before any layer is read.
        features = config.layer_features(model, inputs, device, max_bytes,
                                         spill=spill, spill_dir=spill_dir)
    except torch.cuda.OutOfMemoryError:
        raise
    except RuntimeError as error:
        raise ValueError(f"'inputs' of shape {shape} and dtype {dtype} do "
                         f"not fit the model, whose forward pass raised: "
                         f"{error}") from error
    meta = dict(model=type(model).__name__, num_samples=int(index.numel()),
                seed=config.seed + repeat, balanced=config.balanced,
                post_activation=config.post_activation,
                sample_index=None if config.num_samples is None
                else index.tolist())
    return features, labels, meta


def layer_graphs(
    model: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    config: Optional[SnapshotConfig] = None,
    *,
    device: Union[str, torch.device, None] = None,
    keep_features: bool = False,
    max_bytes: Optional[int] = None,
    spill: bool = True,
    spill_dir: Union[str, os.PathLike, None] = None,
    **kwargs: Any,
) -> LayerGraphs:
    r"""The paper's snapshots of a model: for every chosen layer, the k-NN
    graph of its features over :math:`N` labelled samples, from `"Understanding
    the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_ (Lu et al., ECCV 2022).

    The layers are those of :func:`~pyg_dnnmod.select_layers` (by default
    the paper's: every convolution of a VGG, the stem and every residual block
    of a ResNet). Features are read by
    :func:`~pyg_dnnmod.features.iter_layer_features` in one forward pass
    and turned into a graph one layer at a time. The layers whose features
    fit the budget :obj:`max_bytes` together are held in memory until their
    turn, the others in a disk-backed float32 store (exactly the same
    values, so the same graphs), so peak memory is at most
    :obj:`max_bytes` of features (by default half the memory available,
    see :func:`~pyg_dnnmod.features.memory_budget`) plus the forward pass
    of one batch and the k-NN blocks; snapshots themselves are
    :math:`O(N k)` each.

    Args:
        model (torch.nn.Module): The model (inputs in the space it expects).
        inputs (torch.Tensor): Samples :math:`[M, ...]`.
        labels (torch.Tensor): Their integer labels :math:`[M]`.
        config (SnapshotConfig, optional): How the snapshots are taken (k,
            metric, symmetrisation, the draw of :math:`N` samples, the
            layers, batch size, ...). (default: :obj:`None`, the defaults)
        device (str or torch.device, optional): Where the forward passes
            and the k-NN run. (default: :obj:`None`, the model's device)
        keep_features (bool, optional): Store every layer's features as
            :obj:`x` of its snapshot. (default: :obj:`False`)
        max_bytes (int, optional): Budget in bytes for the features held
            in memory, see
            :func:`~pyg_dnnmod.features.iter_layer_features`.
            (default: :obj:`None`, half the memory available on the
            device the features are held on,
            :func:`~pyg_dnnmod.features.memory_budget`)
        spill (bool, optional): Whether the layers beyond
            :obj:`max_bytes` go to a disk-backed store (one forward pass)
            or, if :obj:`False`, to further forward passes.
            (default: :obj:`True`)
        spill_dir (str or os.PathLike, optional): The folder of that store.
            (default: :obj:`None`, the system's temporary folder)
        **kwargs (optional): Fields of :class:`SnapshotConfig` set on top of
            :obj:`config`, the short Python path: :obj:`k`, :obj:`layers`,
            :obj:`metric`, :obj:`num_samples`, :obj:`seed`,
            :obj:`balanced`, :obj:`symmetrize`, :obj:`post_activation`,
            :obj:`batch_size`, :obj:`progress`, :obj:`knn_kwargs` (e.g.
            :obj:`{'precision': 'bf16'}`, exact and faster on bf16
            hardware, or :obj:`{'projection': 1024}`, approximate, for very
            wide layers; stored in :obj:`meta`).

    Example:
        >>> from pyg_dnnmod.testing import toy_problem
        >>> model, x, y = toy_problem(40, num_classes=2)
        >>> graphs = layer_graphs(model, x, y, k=3)
        >>> graphs.layer_names
        ['0', '2']
        >>> graphs[0]
        Data(edge_index=[2, ...], y=[40], num_nodes=40, edge_weight=[...], t=0, layer='0')
    """
    config = SnapshotConfig.resolve(config, **kwargs)
    features, labels, meta = draw_layer_features(
        model, inputs, labels, config, device, max_bytes=max_bytes,
        spill=spill, spill_dir=spill_dir)
    if config.progress:
        from tqdm.auto import tqdm

        from pyg_dnnmod.features import select_layers
        total = len(select_layers(model, config.layers,
                                  config.post_activation))
        features = tqdm(features, desc='snapshots', unit='layer',
                        total=total, leave=False)
    return LayerGraphs.from_features(features, labels, k=config.k,
                                     metric=config.metric,
                                     symmetrize=config.symmetrize,
                                     keep_features=keep_features, meta=meta,
                                     knn_kwargs=config.knn_kwargs)
