r"""A PyG transform that builds the k-NN snapshot graph from ``data.x``."""
from typing import Optional

from torch_geometric.data import Data
from torch_geometric.data.datapipes import functional_transform
from torch_geometric.transforms import BaseTransform

from pyg_dnnmod.utils import knn_graph


@functional_transform('feature_knn_graph')
class FeatureKNNGraph(BaseTransform):
    r"""Creates the weighted k-NN graph of the node features :obj:`data.x`
    (functional name: :obj:`feature_knn_graph`), with the exact semantics of
    :func:`pyg_dnnmod.utils.knn_graph`: :obj:`edge_index` and :obj:`edge_weight`
    (cosine similarities by default), undirected as
    :math:`(\mathbf{A} + \mathbf{A}^{\top}) / 2`.

    Unlike PyG's :class:`~torch_geometric.transforms.KNNGraph`, which works
    on positions :obj:`data.pos`, this reads high-dimensional features and
    keeps the similarities as :obj:`edge_weight`.

    Args:
        k (int, optional): The number of neighbours. (default: :obj:`3`)
        metric (str, optional): :obj:`"cosine"`, :obj:`"pearson"`,
            :obj:`"euclidean"` or :obj:`"dot"`. (default: :obj:`"cosine"`)
        loop (bool, optional): Allow self-loops. (default: :obj:`False`)
        symmetrize (str, optional): :obj:`"half"`, :obj:`"max"`,
            :obj:`"sum"` or :obj:`"none"`. (default: :obj:`"half"`)
        block_size (int, optional): Rows per similarity block.
            (default: :obj:`None`)

    Example:
        >>> import torch
        >>> data = Data(x=torch.tensor([[1., 0.], [1., .1], [0., 1.]]))
        >>> data = FeatureKNNGraph(k=1)(data)
        >>> data.edge_index
        tensor([[0, 1, 1, 2],
                [1, 0, 2, 1]])
    """
    def __init__(self, k: int = 3, metric: str = 'cosine', loop: bool = False,
                 symmetrize: str = 'half',
                 block_size: Optional[int] = None) -> None:
        self.k = k
        self.metric = metric
        self.loop = loop
        self.symmetrize = symmetrize
        self.block_size = block_size

    def forward(self, data: Data) -> Data:
        if data.x is None:
            raise ValueError("'FeatureKNNGraph' needs node features 'data.x' "
                             "(got None)")
        data.edge_index, data.edge_weight = knn_graph(
            data.x, self.k, metric=self.metric, loop=self.loop,
            symmetrize=self.symmetrize, block_size=self.block_size)
        return data

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'metric={self.metric!r})')
