r"""Snapshots: a model's layers (and its training epochs) as a sequence of
PyG k-NN graphs."""
from pyg_dnnmod.snapshots._config import SnapshotConfig
from pyg_dnnmod.snapshots.epochs import (
    EpochLayerGraphs,
    LayerGraphsCallback,
    epoch_layer_graphs,
)
from pyg_dnnmod.snapshots.layer_graphs import (
    CALIBRATION_COLUMNS,
    calibration_columns,
    LayerGraphs,
    draw_layer_features,
    layer_graphs,
    snapshot,
)

__all__ = [
    'SnapshotConfig',
    'LayerGraphs',
    'draw_layer_features',
    'layer_graphs',
    'snapshot',
    'CALIBRATION_COLUMNS',
    'calibration_columns',
    'EpochLayerGraphs',
    'LayerGraphsCallback',
    'epoch_layer_graphs',
]
