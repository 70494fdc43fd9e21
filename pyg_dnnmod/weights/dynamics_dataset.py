r"""The population benchmark of training dynamics: one dynamic graph per
trained network of a zoo (see :func:`~pyg_dnnmod.weights.generate_zoo`),
its final test accuracy to predict, fixed splits and the
:class:`~pyg_dnnmod.datasets.Evaluator`, in the manner of OGB's datasets.

A network's first :math:`T` epochs are an edge-dynamic graph (the rolled
weight graphs of Vahedian et al., 2021, `"Convolutional Neural Network
Dynamics: A Graph Perspective" <https://arxiv.org/abs/2111.05410>`_): the
edge set is the architecture's, the weights move.
:class:`DNNDynamicsDataset` holds one such graph per network with node
features per epoch (:func:`dynamics_node_features`) and the targets, and
:meth:`DNNDynamicsDataset.get_idx_split` gives the splits of
:data:`SPLITS`. The baselines are
:func:`~pyg_dnnmod.experiments.run_benchmark`'s.

The graphs are built by :class:`~pyg_dnnmod.weights.WeightGraphDataset`
(the same processed file that ``pyg-dnnmod predict`` reads). The class
lives here, beside the weight graphs it reads, rather than in
:mod:`pyg_dnnmod.datasets`: that is a lower floor of the package and may
not import :mod:`pyg_dnnmod.weights`.
"""
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import scatter

from pyg_dnnmod._version import __version__
from pyg_dnnmod.datasets.evaluator import Evaluator
from pyg_dnnmod.datasets.in_memory import SafeInMemoryDataset
from pyg_dnnmod.io import DamagedFileError
from pyg_dnnmod.names import BENCHMARK_SPLITS
from pyg_dnnmod.weights.dataset import WeightGraphDataset

__all__ = ['SPLITS', 'NODE_FEATURES', 'dynamics_node_features',
           'DNNDynamicsDataset']

#: The splits of :meth:`DNNDynamicsDataset.get_idx_split`: :obj:`'seed'`
#: (a random 60/20/20 split drawn by a seed) and :obj:`'width'` (train on
#: the narrow networks, test on the wide ones).
SPLITS = BENCHMARK_SPLITS

#: The node features of every epoch (:func:`dynamics_node_features`).
NODE_FEATURES = ('log_strength_prev', 'log_strength_next', 'change_prev',
                 'change_next', 'depth', 'nonfinite')

#: The history rows an item keeps, for epochs :math:`0, \ldots, T` only.
HISTORY = ('test_acc', 'test_loss', 'train_acc', 'train_loss')

#: The share of the validation and of the test part in the splits.
HELD_OUT_FRACTION = 0.2


def dynamics_node_features(edge_index: Tensor, edge_weight: Tensor,
                           layer: Tensor) -> Tensor:
    r"""The node features of a layered weight graph at every epoch: the
    (log) strength of node :math:`i` toward the previous and toward the
    next layer, their change since the previous epoch, its depth, and
    whether a weight at it is not finite,

    .. math::
        a_i^{(t)} = \log\left(1 + \sum_{j \in \mathcal{N}(i),\,
        \ell_j < \ell_i} |w_{ij}^{(t)}|\right), \qquad
        b_i^{(t)} = \log\left(1 + \sum_{j \in \mathcal{N}(i),\,
        \ell_j > \ell_i} |w_{ij}^{(t)}|\right),

    .. math::
        \mathbf{x}_i^{(t)} = \left[ a_i^{(t)},\; b_i^{(t)},\;
        a_i^{(t)} - a_i^{(t-1)},\; b_i^{(t)} - b_i^{(t-1)},\;
        \frac{\ell_i}{\max_k \ell_k},\; \mathbb{1}\left[\exists j:
        w_{ij}^{(t)} \notin \mathbb{R}\right] \right]

    (named :data:`NODE_FEATURES`; the changes are 0 at the first epoch),
    with :math:`\ell` the layer of a node. A non-finite weight (a diverged
    network) counts as 0 in the strengths and sets the last feature. The
    edges are read from their source, so an undirected graph is stored
    with both directions, as :func:`~pyg_dnnmod.weights.weight_graph`
    stores it.

    Args:
        edge_index (torch.Tensor): The edges :obj:`[2, E]`.
        edge_weight (torch.Tensor): The weights :obj:`[E]` or, one column
            per epoch, :obj:`[E, S]`.
        layer (torch.Tensor): The layer of every node :obj:`[N]`.

    Returns:
        torch.Tensor: :obj:`[N, S, 6]` (:obj:`S = 1` for one-dimensional
        weights).

    Example:
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> edge_weight = torch.tensor([1., 1., -3., -3.])
        >>> x = dynamics_node_features(edge_index, edge_weight,
        ...                            torch.tensor([0, 1, 2]))
        >>> x.shape
        torch.Size([3, 1, 6])
        >>> [round(v, 4) for v in x[1, 0].tolist()]  # log 2, log 4
        [0.6931, 1.3863, 0.0, 0.0, 0.5, 0.0]
    """
    if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or \
            edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must be a tensor [2, E] (got "
                         f"{getattr(edge_index, 'shape', edge_index)})")
    if not isinstance(edge_weight, Tensor) or edge_weight.dim() not in (1, 2) \
            or edge_weight.size(0) != edge_index.size(1):
        raise ValueError(f"'edge_weight' must be a tensor [E] or [E, S] with "
                         f"E = {edge_index.size(1)} (got "
                         f"{getattr(edge_weight, 'shape', edge_weight)})")
    if not isinstance(layer, Tensor) or layer.dim() != 1:
        raise ValueError(f"'layer' must be a tensor [N] (got "
                         f"{getattr(layer, 'shape', layer)})")
    weight = edge_weight.unsqueeze(1) if edge_weight.dim() == 1 \
        else edge_weight
    weight = weight.float()
    finite = torch.isfinite(weight)
    magnitude = torch.where(finite, weight.abs(), torch.zeros_like(weight))
    num_nodes = layer.numel()
    src, dst = edge_index
    toward_prev = layer[dst] < layer[src]
    toward_next = layer[dst] > layer[src]

    def strength(mask: Tensor) -> Tensor:
        return scatter(magnitude[mask], src[mask], dim=0,
                       dim_size=num_nodes, reduce='sum')

    bad = scatter((~finite).float(), src, dim=0, dim_size=num_nodes,
                  reduce='max')
    depth = layer.float() / max(int(layer.max()), 1) if num_nodes else \
        layer.float()
    depth = depth.unsqueeze(1).expand(-1, weight.size(1))
    prev, nxt = strength(toward_prev).log1p(), strength(toward_next).log1p()

    def change(value: Tensor) -> Tensor:
        out = torch.zeros_like(value)
        out[:, 1:] = value[:, 1:] - value[:, :-1]
        return out

    return torch.stack([prev, nxt, change(prev), change(nxt), depth, bad],
                       dim=-1)


def _held_out(count: int) -> int:
    return int(math.floor(HELD_OUT_FRACTION * count + 0.5))


class DNNDynamicsDataset(SafeInMemoryDataset):
    r"""The population benchmark: one item per trained network of the zoo
    at :obj:`root` (``pyg-dnnmod zoo``, on the digits or Fashion-MNIST),
    holding the dynamic graph of its first :math:`T` epochs and its final
    test accuracy to predict.

    Item :math:`i` (the :math:`i`-th finished network in index order) is a
    :class:`~torch_geometric.data.Data` with

    * :obj:`edge_index` :obj:`[2, E]` and :obj:`edge_weight`
      :obj:`[E, T + 1]`: the rolled weight graph of
      :class:`~pyg_dnnmod.weights.WeightGraphDataset` at epochs
      :math:`0, \ldots, T` (epoch 0 is the initialisation; weights are
      :math:`|w|`, the L2 norm of a kernel slice for a convolution), with
      :obj:`layer`, :obj:`pos_in_layer`, :obj:`layer_names`,
      :obj:`layer_shapes` and :obj:`epoch` :obj:`[1, T + 1]`;
    * :obj:`x` :obj:`[N, T + 1, 6]`: :func:`dynamics_node_features` of
      every epoch;
    * :obj:`y` :obj:`[1]`: the final test accuracy (regression target),
      :obj:`y_bin` :obj:`[1]`: its bin (classification target);
    * :obj:`net_index` (in the zoo), :obj:`width` (its width multiplier),
      and the history of epochs :math:`0, \ldots, T` as rows
      :obj:`[1, T + 1]`: :obj:`test_acc`, :obj:`test_loss`,
      :obj:`train_acc`, :obj:`train_loss`. Nothing after epoch :math:`T`
      is in an item but :obj:`y` and :obj:`y_bin`.

    The bins are fixed by the dataset, as a target is: the inner edges
    :attr:`bin_edges` are the :math:`k / B` quantiles (numpy's linear
    rule) of all networks' final accuracies, equal edges merged, and a
    value goes to the number of edges at or below it, the rule of
    :class:`~pyg_dnnmod.datasets.Evaluator` (:meth:`evaluator` scores
    with these edges, so a test set's bins do not depend on the test
    set).

    The splits (:data:`SPLITS`, :meth:`get_idx_split`) are fixed by their
    seed. The per-depth k-NN snapshots of each network's final model are
    not offered: a zoo record keeps the weights of epochs
    :math:`0, \ldots, \mathrm{snapshot\_epochs}` only (5 of 15 by
    default), not the final weights, so they cannot be built from a zoo.

    The processed file is named by a hash of the weight graphs' key (the
    records' bytes and the zoo's settings), :math:`T`, :math:`B`, the node
    features and the version, and read with :obj:`weights_only=True` (see
    :class:`~pyg_dnnmod.datasets.in_memory.SafeInMemoryDataset`).

    Args:
        root (str): The zoo folder.
        T (int, optional): The last epoch seen, at most the zoo's
            :obj:`snapshot_epochs`. (default: :obj:`3`)
        num_bins (int, optional): :math:`B`, the accuracy bins.
            (default: :obj:`3`)
        narrow_max (float, optional): The widest width multiplier of the
            training part of the :obj:`'width'` split. (default: :obj:`1.0`)
        transform (callable, optional): Applied to every item on access.
            (default: :obj:`None`)
        force_reload (bool, optional): Rebuild even if cached (the weight
            graphs too). (default: :obj:`False`)

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = DNNDynamicsDataset(tiny_zoo(num_networks=8), T=1)
        >>> dataset[0].x.shape[1:], dataset[0].edge_weight.shape[1]
        (torch.Size([2, 6]), 2)
        >>> split = dataset.get_idx_split('seed')
        >>> [len(split[part]) for part in ('train', 'valid', 'test')]
        [4, 2, 2]
    """
    def __init__(self, root: str, T: int = 3, num_bins: int = 3,
                 narrow_max: float = 1.0, transform: Optional[Any] = None,
                 force_reload: bool = False) -> None:
        spec_path = Path(root) / 'raw' / 'zoo.json'
        if not spec_path.exists():
            raise ValueError(f"'root' ('{root}') holds no zoo (no "
                             f"'{spec_path}'); create one with "
                             f"generate_zoo or 'pyg-dnnmod zoo'")
        if isinstance(T, bool) or not isinstance(T, int) or T < 1:
            raise ValueError(f"'T' must be an integer >= 1 (got {T!r})")
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or \
                num_bins < 2:
            raise ValueError(f"'num_bins' must be an integer >= 2 "
                             f"(got {num_bins!r})")
        if isinstance(narrow_max, bool) or \
                not isinstance(narrow_max, (int, float)) or \
                not math.isfinite(narrow_max) or narrow_max <= 0:
            raise ValueError(f"'narrow_max' must be a number > 0 "
                             f"(got {narrow_max!r})")
        #: The :class:`~pyg_dnnmod.weights.WeightGraphDataset` of the zoo
        #: (every kept epoch), which the feature baselines read.
        self.weight_graphs = WeightGraphDataset(str(root),
                                                force_reload=force_reload)
        kept = self.weight_graphs.params['epochs']
        if T > kept:
            raise ValueError(f"'T' must be at most the {kept} epochs the zoo "
                             f"kept (got {T}); regenerate the zoo with "
                             f"snapshot_epochs={T}")
        if len(self.weight_graphs) < 2:
            raise ValueError(f"the zoo at '{root}' has "
                             f"{len(self.weight_graphs)} network(s); a "
                             f"benchmark needs at least 2")
        self.T, self.num_bins = T, num_bins
        self.narrow_max = float(narrow_max)
        self.key = hashlib.sha256(json.dumps(dict(
            weights=self.weight_graphs.key, T=T, num_bins=num_bins,
            features=NODE_FEATURES, history=HISTORY, version=__version__),
            sort_keys=True).encode()).hexdigest()[:16]
        super().__init__(str(root), transform, force_reload=force_reload)

    @property
    def processed_file_names(self) -> List[str]:
        return [f'dynamics_{self.key}.pt', f'dynamics_{self.key}.json']

    def process(self) -> Any:
        graphs = self.weight_graphs
        T = self.T
        y = np.array([float(graphs[i].y) for i in range(len(graphs))])
        edges = np.unique(Evaluator(self.num_bins).edges(y))
        bins = np.searchsorted(edges, y, side='right')
        widths = graphs.hparams['width'].to_numpy(dtype=np.float64)
        items = []
        for i in range(len(graphs)):
            graph = graphs[i]
            weight = graph.edge_weight[:, :T + 1]
            item = Data(
                edge_index=graph.edge_index, edge_weight=weight,
                x=dynamics_node_features(graph.edge_index, weight,
                                         graph.layer),
                layer=graph.layer, pos_in_layer=graph.pos_in_layer,
                layer_names=graph.layer_names,
                layer_shapes=graph.layer_shapes,
                epoch=graph.epoch[:, :T + 1], num_nodes=graph.num_nodes,
                y=graph.y, y_bin=torch.tensor([int(bins[i])]),
                net_index=graph.net_index,
                width=torch.tensor([widths[i]], dtype=torch.float64))
            for name in HISTORY:
                item[name] = graph[name][:, :T + 1]
            items.append(item)
        meta = dict(key=self.key, T=T, num_bins=self.num_bins,
                    bin_edges=[float(e) for e in edges])
        return items, meta

    def check_processed(self) -> None:
        if self.meta.get('key') != self.key or \
                len(self) != len(self.weight_graphs) or \
                not isinstance(self.meta.get('bin_edges'), list):
            raise DamagedFileError(
                f"processed files of key {self.key} in "
                f"'{self.processed_dir}' do not fit together")
        super().check_processed()

    @property
    def hparams(self) -> pd.DataFrame:
        r"""One row per item: :obj:`index` (in the zoo), the
        hyperparameters, :obj:`final_test_acc` and :obj:`train_seconds`
        (those of :attr:`weight_graphs`, item for item)."""
        return self.weight_graphs.hparams

    @property
    def spec(self) -> Dict[str, Any]:
        r"""The zoo's settings (its :obj:`raw/zoo.json`)."""
        return dict(self.weight_graphs.spec)

    @property
    def bin_edges(self) -> List[float]:
        r"""The inner edges of the accuracy bins of :obj:`y_bin`."""
        return list(self.meta['bin_edges'])

    def evaluator(self, top_fraction: float = 0.1) -> Evaluator:
        r"""The :class:`~pyg_dnnmod.datasets.Evaluator` of this benchmark:
        the dataset's :attr:`bin_edges`, the top :obj:`top_fraction`."""
        return Evaluator(bin_edges=self.bin_edges, top_fraction=top_fraction)

    def get_idx_split(self, name: str = 'seed',
                      seed: int = 0) -> Dict[str, Tensor]:
        r"""The items of the :obj:`train`, :obj:`valid` and :obj:`test`
        parts of split :obj:`name`, as sorted index tensors.

        * :obj:`'seed'`: a random permutation of the :math:`n` items drawn
          by :obj:`torch.Generator().manual_seed(seed)`; its first
          :math:`\lfloor 0.2 n + 0.5 \rfloor` items are the test part, the
          next as many the validation part, the rest (about 60 %) the
          training part.
        * :obj:`'width'` (the width transfer): the networks wider than
          :obj:`narrow_max` are the test part; of the others, a random
          :math:`\lfloor 0.2 m + 0.5 \rfloor` (drawn as above) are the
          validation part and the rest the training part, so every
          network trained on is at most as wide as every network tested.

        Args:
            name (str, optional): One of :data:`SPLITS`.
                (default: :obj:`'seed'`)
            seed (int, optional): The seed of the random parts.
                (default: :obj:`0`)

        Returns:
            dict: :obj:`{'train': Tensor, 'valid': Tensor, 'test': Tensor}`.
        """
        if name not in SPLITS:
            raise ValueError(f"'name' must be one of {SPLITS} (got {name!r})")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"'seed' must be an integer >= 0 (got {seed!r})")
        generator = torch.Generator().manual_seed(seed)
        if name == 'seed':
            order = torch.randperm(len(self), generator=generator)
            held = _held_out(len(self))
            parts = dict(test=order[:held], valid=order[held:2 * held],
                         train=order[2 * held:])
        else:
            width = torch.tensor(
                self.hparams['width'].to_numpy(dtype=np.float64))
            narrow = torch.nonzero(width <= self.narrow_max).view(-1)
            order = narrow[torch.randperm(narrow.numel(),
                                          generator=generator)]
            held = _held_out(narrow.numel())
            parts = dict(test=torch.nonzero(width > self.narrow_max).view(-1),
                         valid=order[:held], train=order[held:])
        small = {part: len(idx) for part, idx in parts.items() if len(idx) < 2}
        if small:
            widths = sorted(set(self.hparams['width'].tolist()))
            raise ValueError(f"split {name!r} of these {len(self)} networks "
                             f"(widths {widths}, narrow_max="
                             f"{self.narrow_max:g}) leaves fewer than 2 "
                             f"networks in {small}; train more networks")
        return {part: parts[part].sort().values
                for part in ('train', 'valid', 'test')}

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({len(self)}, T={self.T})'
