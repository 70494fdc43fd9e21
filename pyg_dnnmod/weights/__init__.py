r"""Weight graphs over training, from `"Convolutional Neural Network
Dynamics: A Graph Perspective" <https://arxiv.org/abs/2111.05410>`_
(Vahedian et al., 2021).

:func:`weight_graph` turns a model's weights into one undirected layered PyG
graph (a snapshot per checkpoint gives an edge-dynamic graph);
:func:`weighted_degree`, :func:`eigenvector_centrality` and :func:`pagerank`
compute node statistics on any edge list, and :func:`node_statistics` /
:func:`aggregate_statistics` tabulate and summarise them per layer.
"""
from pyg_dnnmod.weights._centrality import (
    eigenvector_centrality,
    pagerank,
    weighted_degree,
)
from pyg_dnnmod.weights._statistics import (
    aggregate_statistics,
    node_statistics,
)
from pyg_dnnmod.weights._weight_graph import weight_graph
from pyg_dnnmod.weights.zoo import (
    SnapshotRecorder,
    ZooSpace,
    generate_zoo,
    zoo_model,
    zoo_summary,
)
from pyg_dnnmod.weights.dataset import (
    WeightGraphDataset,
    epoch_aggregates,
    temporal_summary,
    weight_graph_sequence,
)

__all__ = [
    'weight_graph',
    'weighted_degree',
    'eigenvector_centrality',
    'pagerank',
    'node_statistics',
    'aggregate_statistics',
    'weight_graph_sequence',
    'epoch_aggregates',
    'temporal_summary',
    'WeightGraphDataset',
    'ZooSpace',
    'SnapshotRecorder',
    'generate_zoo',
    'zoo_model',
    'zoo_summary',
]
