r"""The snapshots of one model + data + parameters, cached on disk as a PyG
:class:`~torch_geometric.data.InMemoryDataset`."""
import dataclasses
import hashlib
import json
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from pyg_dnnmod._version import __version__
from pyg_dnnmod.datasets.in_memory import SafeInMemoryDataset
from pyg_dnnmod.io import DamagedFileError, update_with_tensor
from pyg_dnnmod.snapshots import LayerGraphs, SnapshotConfig, layer_graphs


def cache_key(model: nn.Module, inputs: Tensor, labels: Tensor,
              params: Dict[str, Any]) -> str:
    r"""A hash of everything that changes the snapshots: the architecture
    (its :obj:`repr`), every parameter and buffer of the model (also the
    non-persistent ones, such as a normalisation's mean), the inputs,
    the labels, the build parameters and the library version.

    Example:
        >>> m = torch.nn.Linear(2, 2)
        >>> x, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.long)
        >>> cache_key(m, x, y, {'k': 3}) == cache_key(m, x, y, {'k': 3})
        True
        >>> cache_key(m, x, y, {'k': 3}) == cache_key(m, x, y, {'k': 5})
        False
    """
    h = hashlib.sha256()
    h.update(__version__.encode())
    h.update(repr(model).encode())
    # Parameters and every buffer, persistent or not (a normalisation
    # layer's mean and std are non-persistent buffers, outside state_dict).
    tensors = dict(model.state_dict(keep_vars=False))
    tensors.update({f'buffer:{n}': b for n, b in model.named_buffers()})
    for name, t in sorted(tensors.items()):
        h.update(name.encode())
        update_with_tensor(h, t)
    update_with_tensor(h, inputs)
    update_with_tensor(h, labels)
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


class LayerGraphDataset(SafeInMemoryDataset):
    r"""The k-NN layer snapshots of a model over labelled samples (see
    :func:`pyg_dnnmod.layer_graphs`) as a PyG dataset stored under
    :obj:`root`, one :class:`~torch_geometric.data.Data` per layer in depth
    order.

    The processed file is named by :func:`cache_key`, a hash of the model's
    architecture and weights, the inputs, the labels and every build
    parameter, so a changed parameter builds a new file and never reuses a
    stale one; files are written to a temporary name and renamed into place,
    so an interrupted build leaves nothing half-written.

    Args:
        root (str): The root folder.
        model (torch.nn.Module): The model.
        inputs (torch.Tensor): The samples :math:`[M, ...]`.
        labels (torch.Tensor): Their labels :math:`[M]`.
        transform (callable, optional): Applied to every snapshot on access.
            (default: :obj:`None`)
        force_reload (bool, optional): Rebuild even if cached.
            (default: :obj:`False`)
        config (SnapshotConfig, optional): How the snapshots are taken.
            (default: :obj:`None`, the defaults)
        **kwargs: Fields of :class:`~pyg_dnnmod.SnapshotConfig` on top of
            :obj:`config` (:obj:`k`, :obj:`layers`, :obj:`metric`,
            :obj:`num_samples`, :obj:`seed`, ...) and further arguments
            of :func:`pyg_dnnmod.layer_graphs` (:obj:`keep_features`,
            ...).

    Example:
        >>> import tempfile
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> x, y = torch.randn(30, 4), torch.arange(30) % 3
        >>> root = tempfile.mkdtemp()
        >>> dataset = LayerGraphDataset(root, model, x, y, k=3)
        >>> len(dataset), dataset.layer_names
        (2, ['0', '2'])
        >>> dataset.modularity().shape
        torch.Size([2])
    """
    def __init__(self, root: str, model: nn.Module, inputs: Tensor,
                 labels: Tensor, transform: Optional[Callable] = None,
                 force_reload: bool = False,
                 config: Optional[SnapshotConfig] = None,
                 **kwargs: Any) -> None:
        self.model = model
        self.inputs = inputs
        self.labels = labels
        fields = {f.name for f in dataclasses.fields(SnapshotConfig)}
        self.config = SnapshotConfig.resolve(
            config, **{k: v for k, v in kwargs.items() if k in fields})
        self.options = {k: v for k, v in kwargs.items() if k not in fields}
        self.progress = self.config.progress
        # Everything that changes the graphs, and nothing that does not.
        self.params = dict(self.config.replace(progress=False).to_dict(),
                           **self.options)
        self.key = cache_key(model, inputs, labels, self.params)
        super().__init__(root, transform, force_reload=force_reload)

    @property
    def processed_file_names(self) -> List[str]:
        return [f'layer_graphs_{self.key}.pt', f'layer_graphs_{self.key}.json']

    def process(self) -> Tuple[List[Data], Dict[str, Any]]:
        graphs = layer_graphs(self.model, self.inputs, self.labels,
                              self.config, **self.options)
        meta = dict(graphs.meta, params=self.params, key=self.key,
                    layer_names=graphs.layer_names)
        # Through JSON once, so that what is kept is what a reload reads.
        return list(graphs), json.loads(json.dumps(meta, default=str))

    def check_processed(self) -> None:
        names = self.meta.get('layer_names')
        if self.meta.get('key') != self.key or not isinstance(names, list) \
                or len(names) != len(self):
            raise DamagedFileError(
                f"processed files of key {self.key} in "
                f"'{self.processed_dir}' do not fit together (side file key "
                f"{self.meta.get('key')!r}, {len(self)} graphs)")
        super().check_processed()

    @property
    def layer_names(self) -> List[str]:
        return list(self.meta['layer_names'])

    def to_layer_graphs(self) -> LayerGraphs:
        r"""The snapshots as a :class:`~pyg_dnnmod.snapshots.LayerGraphs`."""
        return LayerGraphs([self[i] for i in range(len(self))], self.meta)

    def modularity(self, resolution: float = 1.0) -> Tensor:
        r"""One modularity value per snapshot, in one batched call."""
        return self.to_layer_graphs().modularity(resolution)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({len(self)}, key={self.key})'
