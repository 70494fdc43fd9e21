r"""Reference implementations and test helpers.

:mod:`pyg_dnnmod.testing.paper_pipeline` reproduces the paper's own snapshot
pipeline (dense similarity, per-row :func:`heapq.nlargest`, dense
:math:`(\mathbf{A} + \mathbf{A}^{\top}) / 2`, networkx modularity); the
tests match the library against it and the benchmarks time it;
:func:`toy_problem` is the small network and data of the examples.
"""
from pyg_dnnmod.testing.paper_pipeline import (
    paper_knn_adjacency,
    paper_modularity,
    paper_similarity,
    paper_similarity_loop,
)
from pyg_dnnmod.testing.toy import toy_problem

__all__ = [
    'toy_problem',
    'paper_similarity',
    'paper_similarity_loop',
    'paper_knn_adjacency',
    'paper_modularity',
]
