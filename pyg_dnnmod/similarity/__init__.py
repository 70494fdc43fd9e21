r"""Layer similarity from Gram matrices: linear CKA beside the k-NN
snapshots, with one Gram matrix per layer serving both.

* :func:`gram_matrix`, :func:`gram_similarity` and
  :func:`knn_graph_from_similarity`: the k-NN graph of
  :func:`~pyg_dnnmod.utils.knn_graph` from a precomputed Gram matrix;
* :func:`linear_cka`, :func:`cka_from_gram`, :func:`cka_matrix`: linear CKA
  (Kornblith et al., 2019);
* :func:`layer_graphs_with_cka`: a model's snapshots and CKA matrix from one
  pass and one Gram matrix per layer; :func:`modularity_difference` and
  :func:`upper_triangle_spearman` compare :math:`|Q_i - Q_j|` with CKA (Lu
  et al., ECCV 2022, section 5.1).
"""
from pyg_dnnmod.similarity._cka import (
    centered_gram,
    cka_from_gram,
    cka_matrix,
    linear_cka,
)
from pyg_dnnmod.similarity._gram import (
    GRAM_METRICS,
    duplicate_rows,
    gram_matrix,
    gram_similarity,
    knn_graph_from_similarity,
)
from pyg_dnnmod.similarity._layers import (
    gram_snapshot,
    graphs_with_cka_from_features,
    layer_graphs_with_cka,
    modularity_difference,
    upper_triangle_spearman,
)

__all__ = [
    'gram_matrix',
    'gram_similarity',
    'knn_graph_from_similarity',
    'duplicate_rows',
    'GRAM_METRICS',
    'centered_gram',
    'cka_from_gram',
    'linear_cka',
    'cka_matrix',
    'gram_snapshot',
    'graphs_with_cka_from_features',
    'layer_graphs_with_cka',
    'modularity_difference',
    'upper_triangle_spearman',
]
