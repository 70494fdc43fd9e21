r"""A PyG transform that stores the modularity of the class partition."""
from torch_geometric.data import Data
from torch_geometric.data.datapipes import functional_transform
from torch_geometric.transforms import BaseTransform

from pyg_dnnmod.utils import modularity


@functional_transform('add_modularity')
class AddModularity(BaseTransform):
    r"""Stores the modularity of the partition given by :obj:`data.y` as
    :obj:`data.modularity` (functional name: :obj:`add_modularity`), see
    :func:`pyg_dnnmod.modularity`. :obj:`data.edge_weight` is used when
    present.

    Args:
        resolution (float, optional): The resolution :math:`\gamma`.
            (default: :obj:`1.0`)
        directed (bool, optional): Treat :obj:`edge_index` as directed.
            (default: :obj:`False`)

    Example:
        >>> import torch
        >>> data = Data(edge_index=torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]]),
        ...             y=torch.tensor([0, 0, 1, 1]))
        >>> AddModularity()(data).modularity
        0.5
    """
    def __init__(self, resolution: float = 1.0,
                 directed: bool = False) -> None:
        self.resolution = resolution
        self.directed = directed

    def forward(self, data: Data) -> Data:
        if data.y is None:
            raise ValueError("'AddModularity' needs class labels 'data.y' "
                             "(got None)")
        y = data.y.view(-1)
        data.modularity = modularity(
            data.edge_index, y, edge_weight=data.get('edge_weight'),
            num_nodes=y.numel(),
            resolution=self.resolution, directed=self.directed)
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(resolution={self.resolution})'
