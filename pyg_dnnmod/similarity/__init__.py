r"""Layer similarity from Gram matrices: linear CKA beside the k-NN
snapshots, with one Gram matrix per layer serving both.

* :func:`gram_matrix`, :func:`gram_similarity` and
  :func:`knn_graph_from_similarity`: the k-NN graph of
  :func:`~pyg_dnnmod.utils.knn_graph` from a precomputed Gram matrix;
* :func:`linear_cka`, :func:`cka_from_gram`, :func:`cka_matrix`: linear CKA
  (Kornblith et al., 2019), biased or debiased (:obj:`debiased=True`, Song
  et al.'s unbiased HSIC); :func:`minibatch_cka` and
  :func:`minibatch_cka_matrix` (Nguyen et al., 2021);
* :func:`knn_indices`, :func:`mutual_knn`, :func:`cycle_knn`,
  :func:`knn_jaccard`, :func:`cknna` (and their :obj:`*_from_indices`
  twins), :func:`knn_alignment` and :func:`alignment_null_from_indices`:
  k-NN alignment (Huh et al., 2024; Klabunde et al., 2024) calibrated
  against the permutation null; :func:`alignment_matrix` for every pair of
  layers, :func:`alignment_table` and :func:`alignment_graph` to view it;
* :func:`layer_graphs_with_cka`: a model's snapshots and CKA matrix from one
  pass and one Gram matrix per layer; :func:`modularity_difference` and
  :func:`upper_triangle_spearman` compare :math:`|Q_i - Q_j|` with CKA (Lu
  et al., ECCV 2022, section 5.1).
"""
from pyg_dnnmod.similarity._alignment import (
    ALIGNMENT_METRICS,
    AlignmentScore,
    knn_indices,
)
from pyg_dnnmod.similarity._alignment_matrix import (
    alignment_graph,
    alignment_matrix,
    alignment_matrix_from_features,
    alignment_table,
)
from pyg_dnnmod.similarity._cka import (
    centered_gram,
    cka_from_gram,
    cka_matrix,
    linear_cka,
    minibatch_cka,
    minibatch_cka_matrix,
    unbiased_centered_gram,
)
from pyg_dnnmod.similarity._gram import (
    GRAM_METRICS,
    duplicate_rows,
    gram_matrix,
    gram_similarity,
    knn_graph_from_similarity,
)
from pyg_dnnmod.similarity._knn_alignment import (
    alignment_null_from_indices,
    cknna,
    cknna_from_indices,
    cycle_knn,
    cycle_knn_from_indices,
    knn_alignment,
    knn_chance_level,
    knn_jaccard,
    knn_jaccard_from_indices,
    mutual_knn,
    mutual_knn_from_indices,
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
    'unbiased_centered_gram',
    'minibatch_cka',
    'minibatch_cka_matrix',
    'ALIGNMENT_METRICS',
    'AlignmentScore',
    'knn_indices',
    'mutual_knn',
    'cycle_knn',
    'knn_jaccard',
    'cknna',
    'mutual_knn_from_indices',
    'cycle_knn_from_indices',
    'knn_jaccard_from_indices',
    'cknna_from_indices',
    'knn_alignment',
    'alignment_null_from_indices',
    'knn_chance_level',
    'alignment_matrix',
    'alignment_matrix_from_features',
    'alignment_table',
    'alignment_graph',
]
