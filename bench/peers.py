r"""Ours against the peers a user would pick instead, side by side in one run:
FAISS and scikit-learn for the exact k-NN, igraph and networkx for
modularity.

**k-NN** (cosine, top-k of the *other* rows, k = 3): on the same features
(Gaussian class clusters through a ReLU, like a conv layer's output, made
from the seed in every process) these are timed, each in a fresh spawned
process, best of ``--repeats``:

* ``ours``: :func:`pyg_dnnmod.utils.knn_graph` (exact, float32, weights
  and the paper's symmetrisation included);
* ``faiss``: ``faiss.normalize_L2`` + ``IndexFlatIP`` (exact inner
  product) ``add`` + ``search`` of k + 1 (the row itself comes back first);
  FAISS tiles the search as query blocks of 4096 x database blocks of 1024,
  one sgemm per tile and a heap per query;
* ``sklearn``: ``NearestNeighbors(metric='cosine', algorithm='brute')``;
* ``floor``: row normalisation + ``X @ X.T`` alone, the least any exact
  method does (ours computes only the upper triangle of the block grid, so
  it can go below this floor).

**Modularity** of the class partition of ours' k-NN graph (k = 3, ten
classes), in this process: ours (:func:`pyg_dnnmod.utils.modularity`, the
call a user makes), igraph's ``Graph.modularity`` (the graph built
beforehand, not timed) and networkx's ``community.modularity``; for one
graph at each N and for a batch of ``--graphs`` graphs of 500 nodes (ours:
one call with ``batch``; igraph and networkx: a loop).

``--contention`` starts a burner process that keeps one core busy for the
whole run (researchers share nodes). ``--device cuda`` runs ours and the
floor on the GPU (and FAISS on the GPU when its GPU build is installed).
``MiB`` is the process's peak resident memory above what it held after
the features were made and a small warm-up run had imported everything.
Run: ``python bench/peers.py`` (about 10 minutes on 2 cores) or
``--grid 2000x16384 --repeats 3``.
"""
import argparse
import multiprocessing as mp
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import torch
from knn_modularity import make_features, peak_mb, rss_mb

GRID = ('500x4096,2000x4096,10000x4096,2000x16384,20000x1024,'
        '500x65536,2000x65536,5000x65536')


def _sync(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def run_ours(x, k, device):
    from pyg_dnnmod.utils import knn_graph
    edge_index, _ = knn_graph(x, k)
    _sync(device)
    return edge_index.size(1)


def run_floor(x, k, device):
    xn = x / x.norm(dim=1, keepdim=True).clamp_min(1e-8)
    out = xn @ xn.t()
    _sync(device)
    return out.size(0)


def run_faiss(x, k, device):
    import faiss
    xs = x.cpu().numpy().copy()
    faiss.normalize_L2(xs)
    index = faiss.IndexFlatIP(xs.shape[1])
    if device == 'cuda':
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0,
                                       index)
    index.add(xs)
    _, idx = index.search(xs, k + 1)
    return idx.shape[0]


def run_sklearn(x, k, device):
    from sklearn.neighbors import NearestNeighbors
    xs = x.cpu().numpy()
    nn = NearestNeighbors(n_neighbors=k + 1, metric='cosine',
                          algorithm='brute').fit(xs)
    return nn.kneighbors(xs, return_distance=False).shape[0]


KNN = {'ours': run_ours, 'faiss': run_faiss, 'sklearn': run_sklearn,
       'floor': run_floor}


def child(method, n, d, args, queue):
    torch.set_num_threads(args.threads)
    if method == 'faiss':
        import faiss
        faiss.omp_set_num_threads(args.threads)
    x, _ = make_features(n, d, 10, args.seed)
    x = x.to(args.device)
    fn = KNN[method]
    fn(x[:50], args.k, args.device)  # imports and kernel set-up
    base = rss_mb()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fn(x, args.k, args.device)
        times.append(time.perf_counter() - t0)
    queue.put((min(times), max(0.0, peak_mb() - base)))


def measure(method, n, d, args):
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=child, args=(method, n, d, args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def knn_table(args):
    methods = ['floor', 'ours', 'faiss']
    if not args.no_sklearn:
        methods.append('sklearn')
    if args.device == 'cuda':
        import faiss
        if not hasattr(faiss, 'StandardGpuResources'):
            methods.remove('faiss')
            print('faiss: no GPU build installed, skipped')
    rows = []
    for item in args.grid.split(','):
        n, d = (int(v) for v in item.lower().split('x'))
        row = {'N': n, 'D': d}
        for method in methods:
            row[f'{method}_s'], row[f'{method}_MiB'] = measure(method, n, d,
                                                               args)
        row['ours/floor'] = row['ours_s'] / row['floor_s']
        for other in methods[2:]:
            row[f'{other}/ours'] = row[f'{other}_s'] / row['ours_s']
        rows.append(row)
        print(pd.DataFrame([row]).to_string(
            index=False, float_format=lambda v: f'{v:.3g}'), flush=True)
    return pd.DataFrame(rows)


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def knn_graphs(sizes, dim, k, seed):
    r"""One k-NN graph per size (ours, float32), with its labels."""
    from pyg_dnnmod.utils import knn_graph
    out = []
    for i, n in enumerate(sizes):
        x, y = make_features(n, dim, 10, seed + i)
        edge_index, edge_weight = knn_graph(x, k)
        out.append((edge_index, edge_weight, y))
    return out


def igraph_graph(edge_index, edge_weight, num_nodes):
    import igraph
    keep = edge_index[0] < edge_index[1]  # one entry per undirected edge
    pairs = edge_index[:, keep].t().tolist()
    return igraph.Graph(n=num_nodes, edges=pairs), \
        edge_weight[keep].double().tolist()


def networkx_graph(edge_index, edge_weight, num_nodes):
    import networkx as nx
    g = nx.Graph()
    g.add_nodes_from(range(num_nodes))
    keep = edge_index[0] < edge_index[1]
    g.add_weighted_edges_from(
        zip(*edge_index[:, keep].tolist(), edge_weight[keep].tolist()))
    return g


def partition(y):
    return [set(np.flatnonzero(y.numpy() == c).tolist())
            for c in y.unique().tolist()]


def modularity_table(args):
    import networkx as nx

    from pyg_dnnmod.utils import modularity
    torch.set_num_threads(args.threads)
    rows = []
    for n in args.modularity_sizes:
        (ei, w, y), = knn_graphs([n], 64, args.k, args.seed)
        g, gw = igraph_graph(ei, w, n)
        gx = networkx_graph(ei, w, n)
        parts, membership = partition(y), y.tolist()
        q = modularity(ei, y, w)
        q_ig = g.modularity(membership, weights=gw)
        q_nx = nx.community.modularity(gx, parts)
        row = {'graphs': 1, 'N': n, 'E': ei.size(1),
               'ours_ms': 1e3 * best_of(lambda: modularity(ei, y, w),
                                        args.repeats * 5),
               'igraph_ms': 1e3 * best_of(
                   lambda: g.modularity(membership, weights=gw),
                   args.repeats * 5),
               'networkx_ms': 1e3 * best_of(
                   lambda: nx.community.modularity(gx, parts), args.repeats),
               '|Q-Q_igraph|': abs(q - q_ig), '|Q-Q_nx|': abs(q - q_nx)}
        rows.append(row)

    graphs = knn_graphs([500] * args.graphs, 64, args.k, args.seed)
    offsets = torch.arange(args.graphs).repeat_interleave(
        torch.tensor([g[0].size(1) for g in graphs])) * 500
    ei = torch.cat([g[0] for g in graphs], dim=1) + offsets
    w = torch.cat([g[1] for g in graphs])
    y = torch.cat([g[2] for g in graphs])
    batch = torch.arange(args.graphs).repeat_interleave(500)
    ig = [igraph_graph(*g[:2], 500) + (g[2].tolist(), ) for g in graphs]
    nxg = [(networkx_graph(*g[:2], 500), partition(g[2])) for g in graphs]
    q = modularity(ei, y, w, batch=batch)
    q_ig = torch.tensor([g.modularity(m, weights=gw) for g, gw, m in ig],
                        dtype=torch.float64)
    rows.append({
        'graphs': args.graphs, 'N': 500, 'E': ei.size(1) // args.graphs,
        'ours_ms': 1e3 * best_of(lambda: modularity(ei, y, w, batch=batch),
                                 args.repeats),
        'igraph_ms': 1e3 * best_of(
            lambda: [g.modularity(m, weights=gw) for g, gw, m in ig],
            args.repeats),
        'networkx_ms': 1e3 * best_of(
            lambda: [nx.community.modularity(g, p) for g, p in nxg], 1),
        '|Q-Q_igraph|': float((q - q_ig).abs().max()),
        '|Q-Q_nx|': float('nan')})
    table = pd.DataFrame(rows)
    table['ours/igraph'] = table['ours_ms'] / table['igraph_ms']
    table['igraph/ours'] = table['igraph_ms'] / table['ours_ms']
    table['networkx/ours'] = table['networkx_ms'] / table['ours_ms']
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--grid', default=GRID,
                        help=f'comma-separated NxD (default: {GRID})')
    parser.add_argument('--k', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int,
                        default=torch.get_num_threads())
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--graphs', type=int, default=1000,
                        help='graphs in the modularity batch (default: 1000)')
    parser.add_argument('--modularity-sizes', type=int, nargs='+',
                        default=[2000, 20000])
    parser.add_argument('--contention', action='store_true',
                        help='keep one core busy with a burner process')
    parser.add_argument('--no-sklearn', action='store_true')
    parser.add_argument('--skip', choices=['knn', 'modularity'],
                        default=None)
    args = parser.parse_args()

    burner = None
    if args.contention:
        burner = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
    try:
        if args.skip != 'modularity':
            mod = modularity_table(args)
        if args.skip != 'knn':
            knn = knn_table(args)
    finally:
        if burner is not None:
            burner.kill()
    fmt = dict(index=False, float_format=lambda v: f'{v:.3g}')
    print(f'\nk={args.k}, threads={args.threads}, device={args.device}, '
          f'contention={args.contention}, torch {torch.__version__}; best '
          f'of {args.repeats}; MiB = peak RSS above the features')
    if args.skip != 'knn':
        print(knn.to_string(**fmt))
    if args.skip != 'modularity':
        print(mod.to_string(**fmt))


if __name__ == '__main__':
    main()
