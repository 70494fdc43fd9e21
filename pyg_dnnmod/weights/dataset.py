r"""Weight graphs over training epochs, per network, and their temporal
summaries, after Vahedian et al. (2021, `"Convolutional Neural Network
Dynamics: A Graph Perspective" <https://arxiv.org/abs/2111.05410>`_).

A network's training is an edge-dynamic graph: the edge set of its rolled
weight graph is fixed by the architecture, only the weights move.
:func:`weight_graph_sequence` stores the snapshots of several epochs (from a
checkpoint folder, checkpoint files or :obj:`state_dict` copies) as one
:class:`~torch_geometric.data.Data` with one edge-weight column per epoch;
:class:`WeightGraphDataset` holds one such item per trained network of a zoo
(see :func:`~pyg_dnnmod.weights.generate_zoo`) with its final accuracy.
:func:`epoch_aggregates` summarises every snapshot by the per-layer
distribution of node statistics and :func:`temporal_summary` turns the first
:math:`T` epochs into one feature vector.
"""
import copy
import hashlib
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch_geometric.data import Data

from pyg_dnnmod._version import __version__
from pyg_dnnmod.datasets.in_memory import SafeInMemoryDataset
from pyg_dnnmod.io import (
    DamagedFileError,
    atomic_write,
    file_digest,
    load_json,
)

from pyg_dnnmod.weights._statistics import (
    AGGREGATES,
    aggregate_statistics,
    node_statistics,
)
from pyg_dnnmod.weights._weight_graph import weight_graph

PathLike = Union[str, Path]

#: The node statistics of the temporal summaries by default, the two of
#: Vahedian et al. (2021).
SUMMARY_STATISTICS = ('weighted_degree', 'eigenvector_centrality')


def _load_snapshots(snapshots: Any) -> tuple:
    r"""Returns ``(epochs, state_dicts)`` from a checkpoint folder, a list of
    checkpoint paths or a list of state dicts."""
    from pyg_dnnmod.training import list_checkpoints, read_checkpoint
    if isinstance(snapshots, (str, Path)):
        found = list_checkpoints(snapshots)
        if not found:
            raise ValueError(f"'snapshots' ('{snapshots}') holds no "
                             f"checkpoint named epoch_XXX.pt")
        epochs = [epoch for epoch, _ in found]
        snapshots = [path for _, path in found]
    else:
        if isinstance(snapshots, Mapping) or not hasattr(
                snapshots, '__iter__'):
            raise TypeError(f"'snapshots' must be a checkpoint folder or a "
                            f"sequence of state dicts or checkpoint paths "
                            f"(got {type(snapshots).__name__})")
        snapshots = list(snapshots)
        epochs = list(range(len(snapshots)))
    if not snapshots:
        raise ValueError("'snapshots' is empty")
    state_dicts = []
    for item in snapshots:
        if isinstance(item, (str, Path)):
            item = read_checkpoint(item)
            item = item.get('model', item)
        if not isinstance(item, Mapping):
            raise TypeError(f"every snapshot must be a state dict or a "
                            f"checkpoint path (got {type(item).__name__})")
        state_dicts.append(item)
    return epochs, state_dicts


def weight_graph_sequence(model: nn.Module, snapshots: Any,
                          input_shape: Optional[Sequence[int]] = None,
                          **kwargs: Any) -> Data:
    r"""The weight graphs of one model at several epochs, as one graph
    with one edge-weight column per epoch.

    Every snapshot is loaded into a copy of :obj:`model` and turned into a
    graph by :func:`~pyg_dnnmod.weights.weight_graph`; since the edge set
    depends only on the architecture, the snapshots share
    :obj:`edge_index` and differ in :obj:`edge_weight`.

    Args:
        model (torch.nn.Module): The architecture (its weights are not
            used and not changed).
        snapshots (str, pathlib.Path or list): A folder of
            :func:`~pyg_dnnmod.training.train` checkpoints
            (``epoch_XXX.pt``; their epochs are read from the names), or a
            list of :obj:`state_dict` objects or checkpoint paths for epochs
            :math:`0, 1, \ldots` (e.g. the :obj:`state_dicts` of a
            :class:`~pyg_dnnmod.weights.WeightRecorder`).
        input_shape (Sequence[int], optional): The shape of one input
            sample, see :func:`~pyg_dnnmod.weights.weight_graph`.
            (default: :obj:`None`)
        **kwargs: Further arguments of
            :func:`~pyg_dnnmod.weights.weight_graph` (:obj:`conv`,
            :obj:`signed`, :obj:`bn`).

    Returns:
        torch_geometric.data.Data: The attributes of
        :func:`~pyg_dnnmod.weights.weight_graph`, with :obj:`edge_weight`
        of shape :obj:`[num_edges, num_snapshots]` and :obj:`epoch` of
        shape :obj:`[1, num_snapshots]`.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 2),
        ...                             torch.nn.Linear(2, 1))
        >>> first = copy.deepcopy(model.state_dict())
        >>> with torch.no_grad():
        ...     _ = model[1].weight.mul_(2)
        >>> data = weight_graph_sequence(model, [first, model.state_dict()])
        >>> data.edge_weight.shape, data.epoch.tolist()
        (torch.Size([16, 2]), [[0, 1]])
        >>> bool((data.edge_weight[-2:, 1] == 2 * data.edge_weight[-2:, 0]
        ...       ).all())
        True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module "
                        f"(got {type(model).__name__})")
    epochs, state_dicts = _load_snapshots(snapshots)
    work = copy.deepcopy(model).cpu()
    base: Optional[Data] = None
    weights = []
    for epoch, state in zip(epochs, state_dicts):
        try:
            work.load_state_dict(state)
        except RuntimeError as error:
            raise ValueError(f"the snapshot of epoch {epoch} does not fit "
                             f"'model': {error}") from None
        graph = weight_graph(work, input_shape=input_shape, **kwargs)
        if base is None:
            base = graph
        # The edge set is the architecture's; a change means a bug.
        assert torch.equal(graph.edge_index, base.edge_index)
        weights.append(graph.edge_weight)
    assert base is not None
    base.edge_weight = torch.stack(weights, dim=1)
    base.epoch = torch.tensor([epochs])
    return base


def snapshot(data: Data, epoch: int) -> Data:
    r"""One epoch of a :func:`weight_graph_sequence` graph, with a
    one-dimensional :obj:`edge_weight`.

    Args:
        data (torch_geometric.data.Data): The sequence.
        epoch (int): The epoch (a value of :obj:`data.epoch`).

    Example:
        >>> data = Data(edge_index=torch.tensor([[0, 1], [1, 0]]),
        ...             edge_weight=torch.tensor([[1., 3.], [1., 3.]]),
        ...             epoch=torch.tensor([[0, 1]]), num_nodes=2)
        >>> snapshot(data, 1).edge_weight.tolist()
        [3.0, 3.0]
    """
    epochs = data.epoch.view(-1).tolist()
    if epoch not in epochs:
        raise ValueError(f"'epoch' must be one of the stored epochs "
                         f"{epochs} (got {epoch!r})")
    out = copy.copy(data)
    out.edge_weight = data.edge_weight[:, epochs.index(epoch)]
    del out.epoch
    return out


def layer_keys(data: Data) -> List[str]:
    r"""Names for the layers of a weight graph that line up across
    architectures: :obj:`'input'`, then the convolutions counted from the
    input (:obj:`'conv1'`, :obj:`'conv2'`, ...), then the linear layers
    counted from the output (..., :obj:`'fc-2'`, :obj:`'fc-1'`, the last
    one being the classifier).

    A layer whose output shape has more than one dimension is a
    convolution, any other a linear layer (read from
    :obj:`data.layer_shapes`).

    Example:
        >>> data = Data(layer_shapes=[(1, 16, 16), (6, 12, 12), (6, 8, 8),
        ...                           (120, ), (10, )])
        >>> layer_keys(data)
        ['input', 'conv1', 'conv2', 'fc-2', 'fc-1']
    """
    shapes = list(data.layer_shapes)
    keys = ['input']
    num_linear = sum(len(s) == 1 for s in shapes[1:])
    conv = linear = 0
    for shape in shapes[1:]:
        if len(shape) > 1:
            conv += 1
            keys.append(f'conv{conv}')
        else:
            keys.append(f'fc-{num_linear - linear}')
            linear += 1
    return keys


def epoch_aggregates(data: Data,
                     statistics: Sequence[str] = SUMMARY_STATISTICS,
                     **kwargs: Any) -> pd.DataFrame:
    r"""Summarises every snapshot of a :func:`weight_graph_sequence` by
    the per-layer distributions of its node statistics.

    For every epoch, :func:`~pyg_dnnmod.weights.aggregate_statistics`
    gives the median, mean, standard deviation, skewness and kurtosis of
    every node statistic per layer and over the whole graph. An epoch with
    non-finite weights (a diverged network) gets NaN, and so does a
    centrality that does not converge (with a warning), e.g. with
    :obj:`method='power'` on a graph whose weights have nearly vanished.

    Args:
        data (torch_geometric.data.Data): The sequence.
        statistics (Sequence[str], optional): The node statistics.
            (default: :obj:`('weighted_degree', 'eigenvector_centrality')`)
        **kwargs: Passed to
            :func:`~pyg_dnnmod.weights.node_statistics`.

    Returns:
        pandas.DataFrame: One row per epoch (index :obj:`'epoch'`), one
        column :obj:`'{layer}/{statistic}/{summary}'` per value, layers
        named by :func:`layer_keys` plus :obj:`'all'`; and a column
        :obj:`'seconds'` with the time it took.

    Example:
        >>> data = Data(edge_index=torch.tensor([[0, 1], [1, 0]]),
        ...             edge_weight=torch.tensor([[1., 3.], [1., 3.]]),
        ...             epoch=torch.tensor([[0, 1]]), num_nodes=2,
        ...             layer=torch.tensor([0, 1]),
        ...             layer_shapes=[(1, ), (1, )])
        >>> agg = epoch_aggregates(data, ['weighted_degree'])
        >>> agg['all/weighted_degree/mean'].tolist()
        [1.0, 3.0]
    """
    keys = layer_keys(data) if getattr(data, 'layer_shapes', None) \
        is not None else None
    statistics = [statistics] if isinstance(statistics, str) \
        else list(statistics)
    rows, epochs = [], data.epoch.view(-1).tolist()
    for epoch in epochs:
        start = time.perf_counter()
        graph = snapshot(data, epoch)
        row: Dict[str, float] = {}
        if bool(torch.isfinite(graph.edge_weight).all()):
            table = None
            for stat in statistics:
                try:
                    part = node_statistics(graph, [stat], **kwargs)
                except RuntimeError as error:
                    if 'did not converge' not in str(error):
                        raise
                    warnings.warn(f"epoch {epoch}: {error}; its summaries "
                                  f"are NaN", stacklevel=2)
                    continue
                table = part if table is None else table.assign(
                    **{stat: part[stat]})
            if table is not None:
                agg = aggregate_statistics(
                    table, by='layer' if 'layer' in table else None)
                if keys is not None:
                    agg.index = keys + ['all']
                row = {
                    f'{layer}/{stat}/{summary}': value
                    for layer, values in agg.iterrows()
                    for (stat, summary), value in values.items()
                }
        row['seconds'] = time.perf_counter() - start
        rows.append(row)
    frame = pd.DataFrame(rows, index=pd.Index(epochs, name='epoch'))
    if keys is not None:  # a fixed order, whatever failed
        columns = [f'{layer}/{stat}/{summary}'
                   for layer in keys + ['all'] for stat in statistics
                   for summary in AGGREGATES]
    else:
        columns = [c for c in frame.columns if c != 'seconds']
    return frame.reindex(columns=columns + ['seconds'])


def temporal_summary(aggregates: pd.DataFrame, T: int) -> pd.Series:
    r"""The feature vector of the first :math:`T` epochs: the per-epoch
    aggregates of epochs :math:`1, \ldots, T` concatenated, and their
    epoch-to-epoch differences.

    With :math:`\mathbf{a}_e` the aggregates of epoch :math:`e`
    (:math:`e = 0` the initialisation),

    .. math::
        \mathbf{s}_T = \left[ \mathbf{a}_1, \ldots, \mathbf{a}_T,
        \mathbf{a}_1 - \mathbf{a}_0, \ldots, \mathbf{a}_T -
        \mathbf{a}_{T-1} \right],

    named :obj:`'{column}@e{e}'` and :obj:`'{column}@d{e}'`.

    Args:
        aggregates (pandas.DataFrame): :func:`epoch_aggregates` of one
            network, with epochs :math:`0, \ldots, T` among its rows.
        T (int): The number of epochs.

    Example:
        >>> agg = pd.DataFrame({'x': [1., 3., 6.]},
        ...                    index=pd.Index([0, 1, 2], name='epoch'))
        >>> temporal_summary(agg, 2).to_dict()
        {'x@e1': 3.0, 'x@e2': 6.0, 'x@d1': 2.0, 'x@d2': 3.0}
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"'T' must be an integer >= 1 (got {T!r})")
    missing = [e for e in range(T + 1) if e not in aggregates.index]
    if missing:
        raise ValueError(f"'T'={T} needs the aggregates of epochs 0..{T}; "
                         f"epochs {missing} are missing")
    agg = aggregates.drop(columns=['seconds'], errors='ignore')
    parts = {}
    for e in range(1, T + 1):
        parts.update({f'{c}@e{e}': v for c, v in agg.loc[e].items()})
    for e in range(1, T + 1):
        delta = agg.loc[e] - agg.loc[e - 1]
        parts.update({f'{c}@d{e}': v for c, v in delta.items()})
    return pd.Series(parts, dtype=np.float64)


class WeightGraphDataset(SafeInMemoryDataset):
    r"""The weight graphs over the first training epochs of every network
    of a zoo (see :func:`~pyg_dnnmod.weights.generate_zoo`), one item per
    network, after Vahedian et al. (2021, `"Convolutional Neural Network
    Dynamics: A Graph Perspective" <https://arxiv.org/abs/2111.05410>`_).

    Item :math:`i` is the :func:`weight_graph_sequence` of the
    :math:`i`-th finished network (in index order) over epochs
    :math:`0, \ldots, T` (epoch 0 is the initialisation), with
    :obj:`y` (its test accuracy after the full budget), :obj:`net_index`
    (its index in the zoo) and its whole history as graph-level rows of
    shape :obj:`[1, budget + 1]`: :obj:`test_acc`, :obj:`test_loss`,
    :obj:`train_acc`, :obj:`train_loss` and :obj:`seconds` (of every
    epoch). :attr:`hparams` holds the hyperparameters.

    The records are read from :obj:`root/raw/net_XXXXX.pt`; the processed
    file is named by a hash of their contents and of every build
    parameter, so a grown zoo or another parameter builds a new file and a
    stale one is never reused, and it is written to a temporary name and
    renamed into place. Every file is read so that it cannot run code
    (:obj:`weights_only=True`, see
    :class:`~pyg_dnnmod.datasets.in_memory.SafeInMemoryDataset`); a damaged
    processed file is rebuilt, and when the processed file must be built, a
    damaged record (truncated, random bytes, empty, or hostile) is reported
    and its network trained again
    (:func:`~pyg_dnnmod.weights.zoo.repair_records`), with a warning.

    Args:
        root (str): The zoo folder.
        epochs (int, optional): :math:`T`, the last epoch kept; at most the
            zoo's :obj:`snapshot_epochs`. (default: :obj:`None`, all kept)
        conv (str, optional): :obj:`'rolled'` or :obj:`'unrolled'`, see
            :func:`~pyg_dnnmod.weights.weight_graph`.
            (default: :obj:`'rolled'`)
        signed (bool, optional): Signed edge weights.
            (default: :obj:`False`)
        bn (str, optional): :obj:`'ignore'` or :obj:`'fold'`.
            (default: :obj:`'ignore'`)
        transform (callable, optional): Applied to every item on access.
            (default: :obj:`None`)
        force_reload (bool, optional): Rebuild even if cached.
            (default: :obj:`False`)

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = WeightGraphDataset(tiny_zoo(num_networks=2))
        >>> len(dataset), dataset[0].edge_weight.shape[1]  # epochs 0, 1
        (2, 2)
        >>> dataset[0].test_acc.shape  # epochs 0, 1, 2
        torch.Size([1, 3])
    """
    def __init__(self, root: str, epochs: Optional[int] = None,
                 conv: str = 'rolled', signed: bool = False,
                 bn: str = 'ignore', transform: Optional[Any] = None,
                 force_reload: bool = False) -> None:
        spec_path = Path(root) / 'raw' / 'zoo.json'
        if not spec_path.exists():
            raise ValueError(f"'root' ('{root}') holds no zoo (no "
                             f"'{spec_path}'); create one with "
                             f"generate_zoo or 'pyg-dnnmod zoo'")
        self.spec: Dict[str, Any] = load_json(spec_path, what='zoo settings')
        if not isinstance(self.spec, dict) or \
                not isinstance(self.spec.get('snapshot_epochs'), int):
            raise DamagedFileError(f"zoo settings '{spec_path}' hold no "
                                   f"'snapshot_epochs'")
        stored = self.spec['snapshot_epochs']
        if epochs is None:
            epochs = stored
        if isinstance(epochs, bool) or not isinstance(epochs, int) or \
                not 0 <= epochs <= stored:
            raise ValueError(f"'epochs' must be an integer in [0, {stored}] "
                             f"(the zoo kept epochs 0..{stored}; got "
                             f"{epochs!r})")
        if conv not in ('rolled', 'unrolled'):
            raise ValueError(f"'conv' must be 'rolled' or 'unrolled' "
                             f"(got {conv!r})")
        from pyg_dnnmod.weights.zoo import repair_records
        self.params = dict(epochs=epochs, conv=conv, signed=signed, bn=bn)
        self.key = self._records_key(root)
        built = Path(root) / 'processed' / f'weight_graphs_{self.key}.pt'
        # A processed file of this key was built from these very records,
        # so they are read (and repaired) only when it must be built.
        if (force_reload or not built.exists()) and \
                repair_records(root, stacklevel=3):
            self.key = self._records_key(root)
        super().__init__(root, transform, force_reload=force_reload)

    def _records_key(self, root: str) -> str:
        r"""A hash of the settings, the build parameters, the version and
        the bytes of every finished record; sets :obj:`indices_in_zoo`."""
        from pyg_dnnmod.weights.zoo import finished_networks
        self.indices_in_zoo = finished_networks(root)
        h = hashlib.sha256()
        h.update(json.dumps(dict(self.params, version=__version__,
                                 spec=self.spec), sort_keys=True).encode())
        for i in self.indices_in_zoo:
            path = Path(root) / 'raw' / f'net_{i:05d}.pt'
            h.update(path.name.encode())
            h.update(file_digest(path).encode())
        return h.hexdigest()[:16]

    @property
    def raw_file_names(self) -> List[str]:
        return ['zoo.json'] + [f'net_{i:05d}.pt' for i in self.indices_in_zoo]

    @property
    def processed_file_names(self) -> List[str]:
        return [f'weight_graphs_{self.key}.pt',
                f'weight_graphs_{self.key}.json']

    def download(self) -> None:
        raise ValueError(f"the zoo at '{self.root}' has no finished network "
                         f"yet; run generate_zoo or 'pyg-dnnmod zoo'")

    def process(self) -> Any:
        from pyg_dnnmod.weights.zoo import read_record, zoo_model
        if not self.indices_in_zoo:
            self.download()
        items, networks = [], []
        epochs = self.params['epochs']
        for i in self.indices_in_zoo:
            record = read_record(self.root, i)
            hp = record['hparams']
            model = zoo_model(hp['architecture'], hp['width'], hp['dropout'],
                              record['num_classes'])
            with warnings.catch_warnings():
                # A diverged network is a legitimate member of the zoo.
                warnings.filterwarnings('ignore', message="'model' holds NaN")
                data = weight_graph_sequence(
                    model, record['state_dicts'][:epochs + 1],
                    input_shape=record['input_shape'],
                    conv=self.params['conv'], signed=self.params['signed'],
                    bn=self.params['bn'])
            data.y = torch.tensor([record['final_test_acc']],
                                  dtype=torch.float64)
            data.net_index = torch.tensor([i])
            for name in ('test_acc', 'test_loss', 'train_acc', 'train_loss',
                         'seconds'):
                data[name] = torch.tensor([record['history'][name]],
                                          dtype=torch.float64)
            items.append(data)
            networks.append(dict(index=i, **hp,
                                 final_test_acc=record['final_test_acc'],
                                 train_seconds=record['train_seconds']))
        meta = dict(key=self.key, params=self.params, spec=self.spec,
                    networks=networks)
        return items, meta

    def check_processed(self) -> None:
        networks = self.meta.get('networks')
        if self.meta.get('key') != self.key or not isinstance(networks, list) \
                or len(networks) != len(self):
            raise DamagedFileError(
                f"processed files of key {self.key} in "
                f"'{self.processed_dir}' do not fit together")
        super().check_processed()

    @property
    def hparams(self) -> pd.DataFrame:
        r"""One row per item: :obj:`index` (in the zoo), the
        hyperparameters, :obj:`final_test_acc` and :obj:`train_seconds`."""
        return pd.DataFrame(self.meta['networks'])

    @property
    def num_epochs(self) -> int:
        r"""The full training budget of the zoo."""
        return int(self.spec['epochs'])

    @property
    def num_classes(self) -> int:  # the classes of the networks' task
        return int(self.spec['num_classes'])

    def record(self, idx: int) -> Dict[str, Any]:
        r"""The zoo record of item :obj:`idx` (weights included)."""
        from pyg_dnnmod.weights.zoo import read_record
        return read_record(self.root, self.meta['networks'][idx]['index'])

    def epoch_aggregates(self, statistics: Sequence[str] = SUMMARY_STATISTICS,
                         progress: bool = False) -> pd.DataFrame:
        r"""The :func:`epoch_aggregates` of every item, cached next to the
        processed file.

        Returns:
            pandas.DataFrame: Indexed by :obj:`(item, epoch)`.
        """
        statistics = list(statistics)
        # The solver is part of the key: aggregates cached while the
        # eigenvector centrality was the power iteration are stale.
        tag = hashlib.sha256(json.dumps(
            [statistics, 'eigenvector_centrality:auto']).encode()
        ).hexdigest()[:8]
        path = os.path.join(self.processed_dir,
                            f'aggregates_{self.key}_{tag}.csv')
        if os.path.exists(path):
            try:
                cached = pd.read_csv(path, index_col=[0, 1])
                if list(cached.index.names) != ['item', 'epoch'] or \
                        set(cached.index.get_level_values(0)) != \
                        set(range(len(self))) or \
                        len(cached) != len(self) * (self.params['epochs'] + 1):
                    raise ValueError('not the aggregates of this dataset')
                return cached
            except Exception as e:  # noqa: BLE001 - any damage is rebuilt
                warnings.warn(f"cached statistics '{path}' are unusable "
                              f"({type(e).__name__}: {e}); computing them "
                              f"again", stacklevel=2)
        from tqdm import tqdm
        frames = []
        for idx in tqdm(range(len(self)), disable=not progress,
                        desc='statistics', unit='net'):
            frame = epoch_aggregates(self[idx], statistics)
            frame.index = pd.MultiIndex.from_product(
                [[idx], frame.index], names=['item', 'epoch'])
            frames.append(frame)
        out = pd.concat(frames)
        atomic_write(path, lambda tmp: out.to_csv(tmp))
        return pd.read_csv(path, index_col=[0, 1])

    def summaries(self, T: int,
                  statistics: Sequence[str] = SUMMARY_STATISTICS,
                  progress: bool = False) -> pd.DataFrame:
        r"""The :func:`temporal_summary` of the first :obj:`T` epochs of
        every item, one row per item; a column absent for one
        architecture (a layer it does not have) is NaN there."""
        if isinstance(T, bool) or not isinstance(T, int) or \
                not 1 <= T <= self.params['epochs']:
            raise ValueError(f"'T' must be an integer in [1, "
                             f"{self.params['epochs']}] (got {T!r})")
        agg = self.epoch_aggregates(statistics, progress)
        rows = [temporal_summary(agg.loc[idx], T) for idx in range(len(self))]
        return pd.DataFrame(rows).reset_index(drop=True)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({len(self)}, '
                f'epochs={self.params["epochs"]})')
