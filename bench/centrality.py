r"""Eigenvector centrality on the rolled weight graph of every model of the
registry: ours (the default, exact ARPACK solver) against networkx's
``eigenvector_centrality_numpy`` and networkx's power iteration, with the
time of each.

networkx builds a Python graph, which takes gigabytes above about 500,000
stored edges; there the reference is networkx's own code (``scipy``'s
``eigs`` of the transposed adjacency, ``which='LR'``, sign and norm as
networkx fixes them) applied to the same sparse matrix. Run:
``python bench/centrality.py`` (about 15 minutes: ResNet-152 graphs take
10-40 s each to build) or ``--models resnet56 resnet110``.
"""
import argparse
import time

import networkx as nx
import numpy as np
import pandas as pd
import scipy as sp
import torch

from pyg_dnnmod.models import get_input_shape, get_model, list_models
from pyg_dnnmod.weights import eigenvector_centrality, weight_graph

NETWORKX_MAX_ENTRIES = 500_000


def reference(edge_index, weight, num_nodes):
    row, col = edge_index.numpy()
    if edge_index.size(1) <= NETWORKX_MAX_ENTRIES:
        graph = nx.Graph()
        graph.add_nodes_from(range(num_nodes))
        keep = row <= col
        graph.add_weighted_edges_from(zip(row[keep].tolist(),
                                          col[keep].tolist(),
                                          weight.numpy()[keep].tolist()))
        out = nx.eigenvector_centrality_numpy(graph, weight='weight')
        return np.array([out[i] for i in range(num_nodes)]), 'networkx'
    matrix = sp.sparse.csr_array((weight.numpy(), (row, col)),
                                 shape=(num_nodes, num_nodes))
    _, vec = sp.sparse.linalg.eigs(matrix.T, k=1, which='LR', maxiter=50,
                                   tol=0)
    vec = vec.flatten().real
    return vec / (np.sign(vec.sum()) * sp.linalg.norm(vec)), 'networkx code'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=list_models())
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.models:
        torch.manual_seed(0)
        data = weight_graph(get_model(name), input_shape=get_input_shape(name))
        w, n = data.edge_weight.double(), data.num_nodes
        t0 = time.perf_counter()
        ours = eigenvector_centrality(data.edge_index, w, n)
        seconds = time.perf_counter() - t0
        ref, kind = reference(data.edge_index, w, n)
        t0 = time.perf_counter()
        try:
            eigenvector_centrality(data.edge_index, w, n, method='power')
            power = f'{time.perf_counter() - t0:.2f} s'
        except RuntimeError:
            power = f'no convergence ({time.perf_counter() - t0:.2f} s)'
        rows.append({'model': name, 'nodes': n,
                     'stored_edges': data.edge_index.size(1),
                     'reference': kind,
                     'max_abs_diff': float(np.abs(ours.numpy() - ref).max()),
                     'ours_s': seconds, 'power_iteration': power})
        print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(
            rows) == 1, float_format=lambda v: f'{v:.3g}'), flush=True)
    print(pd.DataFrame(rows).to_string(index=False,
                                       float_format=lambda v: f'{v:.3g}'))


if __name__ == '__main__':
    main()
