r"""The functional core: k-NN graphs over features and modularity over edge
lists. Everything else in the package is built on these functions."""
from pyg_dnnmod.utils._knn import feature_knn_graph, knn_graph
from pyg_dnnmod.utils._model import model_device
from pyg_dnnmod.utils._modularity import (
    collapse_regularization,
    community_modularity,
    modularity,
)
from pyg_dnnmod.utils._modularity_null import (
    ModularityNull,
    expected_modularity,
    modularity_null,
    permuted_modularity,
)
from pyg_dnnmod.utils._projection import random_projection
from pyg_dnnmod.utils.sampling import check_labels, sample_indices
from pyg_dnnmod.utils._symmetrize import symmetrize_edges
from pyg_dnnmod.utils.knn_kernel import (
    neighbour_similarity,
    pair_dot,
    prepare_features,
    row_norms,
)

__all__ = [
    'knn_graph',
    'feature_knn_graph',
    'prepare_features',
    'row_norms',
    'neighbour_similarity',
    'pair_dot',
    'random_projection',
    'symmetrize_edges',
    'modularity',
    'community_modularity',
    'collapse_regularization',
    'modularity_null',
    'expected_modularity',
    'permuted_modularity',
    'ModularityNull',
    'model_device',
    'sample_indices',
    'check_labels',
]
