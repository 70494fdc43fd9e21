r"""Weight graphs over training, from `"Convolutional Neural Network
Dynamics: A Graph Perspective" <https://arxiv.org/abs/2111.05410>`_
(Vahedian et al., 2021).

:func:`weight_graph` turns a model's weights into one undirected layered PyG
graph (a snapshot per checkpoint gives an edge-dynamic graph);
:func:`weighted_degree`, :func:`eigenvector_centrality` and :func:`pagerank`
compute node statistics on any edge list, and :func:`node_statistics` /
:func:`aggregate_statistics` tabulate and summarise them per layer.

Over training: :func:`generate_zoo` trains a resumable population of small
networks (:func:`tiny_zoo` a tiny one in seconds), :class:`WeightGraphDataset`
holds each one's weight graphs over its first epochs
(:func:`weight_graph_sequence`) with its final accuracy,
:func:`epoch_aggregates` and :func:`temporal_summary` turn them into
features; the experiment that predicts the final accuracy from them beside
graph-free baselines is
:func:`pyg_dnnmod.experiments.accuracy_prediction` (its old names here,
:obj:`accuracy_prediction`, :obj:`cross_validate`, :obj:`quantile_bins`,
:obj:`parameter_statistics`, :obj:`width_transfer` and
:obj:`time_savings`, still resolve for one release, with a
:class:`DeprecationWarning`).
"""
from typing import Any

from pyg_dnnmod.weights._centrality import (
    eigenvector_centrality,
    pagerank,
    weighted_degree,
)
from pyg_dnnmod.weights._statistics import (
    NODE_STATISTICS,
    aggregate_statistics,
    node_statistics,
)
from pyg_dnnmod.weights._weight_graph import weight_graph
from pyg_dnnmod.weights.zoo import (
    WeightRecorder,
    ZooSpace,
    generate_zoo,
    tiny_zoo,
    zoo_model,
    zoo_summary,
)
from pyg_dnnmod.weights.dataset import (
    WeightGraphDataset,
    epoch_aggregates,
    temporal_summary,
    weight_graph_sequence,
)
from pyg_dnnmod.weights.dynamics_dataset import (
    SPLITS,
    DNNDynamicsDataset,
    dynamics_node_features,
)
from pyg_dnnmod.weights import predict

# Moved to pyg_dnnmod.experiments (a higher floor), so resolved on access.
_MOVED = ('accuracy_prediction', 'cross_validate', 'quantile_bins',
          'parameter_statistics', 'width_transfer', 'time_savings')


def __getattr__(name: str) -> Any:
    if name == 'SnapshotRecorder':  # "snapshot" is a k-NN graph here
        import warnings
        warnings.warn("'pyg_dnnmod.weights.SnapshotRecorder' is deprecated; "
                      "use 'pyg_dnnmod.weights.WeightRecorder'",
                      DeprecationWarning, stacklevel=2)
        return WeightRecorder
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute "
                             f"{name!r}")
    return predict.moved(f'{__name__}.{name}', name, stacklevel=2)


__all__ = [
    'weight_graph',
    'weighted_degree',
    'eigenvector_centrality',
    'pagerank',
    'node_statistics',
    'aggregate_statistics',
    'NODE_STATISTICS',
    'weight_graph_sequence',
    'epoch_aggregates',
    'temporal_summary',
    'WeightGraphDataset',
    'DNNDynamicsDataset',
    'SPLITS',
    'dynamics_node_features',
    'ZooSpace',
    'WeightRecorder',
    'generate_zoo',
    'tiny_zoo',
    'zoo_model',
    'zoo_summary',
]
