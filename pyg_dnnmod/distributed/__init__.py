r"""Scaling out with :mod:`torch.distributed` (an existing engine): the exact
k-NN sharded by rows over the ranks, and layer snapshots of a model whose
inputs are split with a :class:`~torch.utils.data.DistributedSampler`."""
from pyg_dnnmod.distributed.knn import distributed_knn_graph
from pyg_dnnmod.distributed.layer_graphs import (
    distributed_layer_graphs,
    shard_indices,
)

__all__ = [
    'distributed_knn_graph',
    'distributed_layer_graphs',
    'shard_indices',
]
