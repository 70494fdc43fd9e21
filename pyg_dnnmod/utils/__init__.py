r"""The functional core: k-NN graphs over features and modularity over edge
lists. Everything else in the package is built on these functions."""
from pyg_dnnmod.utils._knn import (
    knn_graph,
    neighbour_similarity,
    pair_dot,
    prepare_features,
)
from pyg_dnnmod.utils._modularity import (
    collapse_regularization,
    community_modularity,
    modularity,
)
from pyg_dnnmod.utils._projection import random_projection
from pyg_dnnmod.utils._symmetrize import symmetrize_edges

__all__ = [
    'knn_graph',
    'prepare_features',
    'neighbour_similarity',
    'pair_dot',
    'random_projection',
    'symmetrize_edges',
    'modularity',
    'community_modularity',
    'collapse_regularization',
]
