r"""pyg_dnnmod: deep networks read as dynamic graphs, for PyTorch Geometric.

Where things live: :mod:`pyg_dnnmod.utils` builds k-NN snapshots
(:func:`knn_graph`) and computes modularity (:func:`modularity`);
:mod:`pyg_dnnmod.transforms` wraps them as PyG transforms.
"""
from pyg_dnnmod import transforms, utils
from pyg_dnnmod.transforms import AddModularity, FeatureKNNGraph
from pyg_dnnmod.utils import community_modularity, knn_graph, modularity

__version__ = '0.1.0'

__all__ = [
    'knn_graph',
    'modularity',
    'community_modularity',
    'FeatureKNNGraph',
    'AddModularity',
    'utils',
    'transforms',
    '__version__',
]
