r"""Weight graphs over training, from `"Convolutional Neural Network
Dynamics: A Graph Perspective" <https://arxiv.org/abs/2111.05410>`_
(Vahedian et al., 2021).

:func:`weight_graph` turns a model's weights into one undirected layered PyG
graph (a snapshot per checkpoint gives an edge-dynamic graph);
:func:`weighted_degree`, :func:`eigenvector_centrality` and :func:`pagerank`
compute node statistics on any edge list, and :func:`node_statistics` /
:func:`aggregate_statistics` tabulate and summarise them per layer.

Over training: :func:`generate_zoo` trains a resumable population of small
networks, :class:`WeightGraphDataset` holds each one's weight graphs over
its first epochs (:func:`weight_graph_sequence`) with its final accuracy,
:func:`epoch_aggregates` and :func:`temporal_summary` turn them into
features, and :func:`accuracy_prediction` predicts the final accuracy from
them beside graph-free baselines (see :mod:`pyg_dnnmod.weights.predict`).
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
from pyg_dnnmod.weights.predict import (
    accuracy_prediction,
    cross_validate,
    parameter_statistics,
    quantile_bins,
    time_savings,
    width_transfer,
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
    'accuracy_prediction',
    'cross_validate',
    'quantile_bins',
    'parameter_statistics',
    'width_transfer',
    'time_savings',
]
