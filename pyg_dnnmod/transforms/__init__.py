r"""PyG transforms: thin wrappers over :mod:`pyg_dnnmod.utils`."""
from pyg_dnnmod.transforms.add_modularity import AddModularity
from pyg_dnnmod.transforms.feature_knn_graph import FeatureKNNGraph

__all__ = ['FeatureKNNGraph', 'AddModularity']
