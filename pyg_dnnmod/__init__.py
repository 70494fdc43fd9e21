r"""pyg_dnnmod: deep networks read as dynamic graphs, for PyTorch Geometric.

Where things live:

* :mod:`pyg_dnnmod.utils`: the functional core, k-NN snapshot graphs
  (:func:`feature_knn_graph`, :func:`pyg_dnnmod.utils.knn_graph`) and
  modularity (:func:`modularity`);
* :mod:`pyg_dnnmod.transforms`: the same as PyG transforms;
* :mod:`pyg_dnnmod.snapshots`: a model's layers as a sequence of PyG
  snapshots (:func:`layer_graphs`), per training epoch too;
* :mod:`pyg_dnnmod.features`: which layers are read, and their features;
* :mod:`pyg_dnnmod.models`: the paper's networks and their variants;
* :mod:`pyg_dnnmod.datasets`: offline data sources;
* :mod:`pyg_dnnmod.nn`: modularity as a loss, GNNs over snapshot sequences;
* :mod:`pyg_dnnmod.pruning`: where layers are selected from the curve and
  cut from the model;
* :mod:`pyg_dnnmod.training`: the paper's training recipe with checkpoints;
* :mod:`pyg_dnnmod.weights`: weight graphs over training (second paper);
* :mod:`pyg_dnnmod.similarity`: Gram matrices shared by k-NN and linear CKA;
* :mod:`pyg_dnnmod.experiments` / :mod:`pyg_dnnmod.plotting` /
  :mod:`pyg_dnnmod.cli`: the paper's experiments, their figures, and the
  ``pyg-dnnmod`` command line;
* :mod:`pyg_dnnmod.adversarial`, :mod:`pyg_dnnmod.distributed`,
  :mod:`pyg_dnnmod.pretrained` (the embedded default),
  :mod:`pyg_dnnmod.testing` (the paper's pipeline as reference).
"""
from pyg_dnnmod._version import __version__

# Everything else loads on first access (PEP 562), so that
# ``import pyg_dnnmod`` (and the ``pyg-dnnmod`` parser) does not import
# torch and PyG: ``pyg_dnnmod.layer_graphs`` imports
# :mod:`pyg_dnnmod.snapshots` then, ``pyg_dnnmod.utils`` the subpackage.

#: The subpackages of :data:`__all__`.
_SUBPACKAGES = ('datasets', 'features', 'models', 'nn', 'pruning',
                'snapshots', 'training', 'transforms', 'utils', 'weights')
#: The names of :data:`__all__` that live in a subpackage, and where.
_EXPORTS = {
    'select_layers': 'pyg_dnnmod.features',
    'EpochLayerGraphs': 'pyg_dnnmod.snapshots',
    'LayerGraphs': 'pyg_dnnmod.snapshots',
    'SnapshotConfig': 'pyg_dnnmod.snapshots',
    'epoch_layer_graphs': 'pyg_dnnmod.snapshots',
    'layer_graphs': 'pyg_dnnmod.snapshots',
    'LayerGraphDataset': 'pyg_dnnmod.datasets',
    'AddModularity': 'pyg_dnnmod.transforms',
    'FeatureKNNGraph': 'pyg_dnnmod.transforms',
    'community_modularity': 'pyg_dnnmod.utils',
    'feature_knn_graph': 'pyg_dnnmod.utils',
    'modularity': 'pyg_dnnmod.utils',
    'WeightGraphDataset': 'pyg_dnnmod.weights',
    'DNNDynamicsDataset': 'pyg_dnnmod.weights',
    'weight_graph': 'pyg_dnnmod.weights',
}
# Subpackages outside __all__, also loaded on first access
# (``pyg_dnnmod.experiments``, ...).
_LAZY = ('adversarial', 'cli', 'distributed', 'experiments', 'plotting',
         'pretrained', 'similarity', 'testing')


#: Names of other vocabularies that the top level exported before; they
#: live in their subpackages (one release of warnings).
_MOVED = {
    'get_model': 'pyg_dnnmod.models',
    'list_models': 'pyg_dnnmod.models',
    'extract_features': 'pyg_dnnmod.features',
    'list_layers': 'pyg_dnnmod.features',
}


def __getattr__(name: str):
    import importlib
    if name in _MOVED:
        import warnings
        warnings.warn(f"'pyg_dnnmod.{name}' is deprecated; use "
                      f"'{_MOVED[name]}.{name}'", DeprecationWarning,
                      stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    if name == 'knn_graph':
        # Not exported: `from pyg_dnnmod import *` would shadow PyG's
        # torch_geometric.nn.knn_graph (another contract). One release.
        import warnings
        warnings.warn(
            "'pyg_dnnmod.knn_graph' is deprecated; use "
            "'pyg_dnnmod.feature_knn_graph' or 'pyg_dnnmod.utils.knn_graph'",
            DeprecationWarning, stacklevel=2)
        return __getattr__('feature_knn_graph')
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # once: later reads skip this function
        return value
    if name in _SUBPACKAGES or name in _LAZY:
        # Importing a subpackage sets it as an attribute of this module.
        return importlib.import_module(f'pyg_dnnmod.{name}')
    raise AttributeError(f"module 'pyg_dnnmod' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = [
    'feature_knn_graph',
    'modularity',
    'community_modularity',
    'FeatureKNNGraph',
    'AddModularity',
    'SnapshotConfig',
    'layer_graphs',
    'LayerGraphs',
    'LayerGraphDataset',
    'epoch_layer_graphs',
    'EpochLayerGraphs',
    'weight_graph',
    'WeightGraphDataset',
    'DNNDynamicsDataset',
    'select_layers',
    'utils',
    'transforms',
    'features',
    'snapshots',
    'models',
    'nn',
    'pruning',
    'datasets',
    'training',
    'weights',
    '__version__',
]
