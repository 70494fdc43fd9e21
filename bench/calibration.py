r"""What calibration costs, as ratios measured side by side in one run.

1. **The modularity null** (:func:`pyg_dnnmod.utils.modularity_null` with
   :math:`P` permutations of one graph) against its natural baseline: one
   :func:`pyg_dnnmod.modularity` call on a PyG batch of :math:`P` copies of
   the same graph (the same :math:`P \times E` entries, scattered once).
   Target: at most 2x. Also shown: a Python loop of :math:`P` modularity
   calls on relabelled copies (what a user would write).
2. **The layer-by-layer mutual-kNN matrix** of :math:`L` layers at
   :math:`N` samples (one k-NN per layer, then every pair from the
   neighbour sets:
   :func:`pyg_dnnmod.similarity.alignment_matrix_from_features`) against the
   :math:`L` k-NN graphs alone (:func:`pyg_dnnmod.utils.knn_graph`).
   Target: at most 1.2x.

Features are synthetic ReLU features (fixed seed); graphs are their cosine
k-NN graphs. Times are medians of ``--repeats`` runs with ``--threads``
torch threads. Run: ``python bench/calibration.py`` (add ``--contention``
to keep the other core busy with a burner process started here).
"""
import argparse
import multiprocessing
import statistics
import time

import torch
from torch_geometric.data import Batch, Data


def burn(stop):
    x = 0.0
    while not stop.is_set():
        for i in range(100000):
            x += i * 0.5


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def bench_null(num_nodes, k, num_permutations, repeats):
    from pyg_dnnmod.utils import knn_graph, modularity, modularity_null

    gen = torch.Generator().manual_seed(0)
    x = torch.relu(torch.randn(num_nodes, 256, generator=gen))
    y = torch.arange(num_nodes) % 10
    edge_index, edge_weight = knn_graph(x, k)
    data = Data(edge_index=edge_index, edge_weight=edge_weight, y=y,
                num_nodes=num_nodes)
    batch = Batch.from_data_list([data] * num_permutations)
    t_null, null = timed(lambda: modularity_null(
        edge_index, y, edge_weight, num_permutations=num_permutations),
        repeats)
    t_batch, _ = timed(lambda: modularity(
        batch.edge_index, batch.y, batch.edge_weight, batch=batch.batch),
        repeats)
    perms = [y[torch.randperm(num_nodes, generator=gen)]
             for _ in range(num_permutations)]
    t_loop, _ = timed(lambda: [modularity(edge_index, p, edge_weight)
                               for p in perms], 1)
    print(f"null  N={num_nodes:>6} k={k} P={num_permutations}: "
          f"null {1e3 * t_null:8.1f} ms | batch of P graphs "
          f"{1e3 * t_batch:8.1f} ms | loop of P calls {1e3 * t_loop:8.1f} ms"
          f" | null / batch = {t_null / t_batch:5.2f} (target <= 2) | "
          f"loop / null = {t_loop / t_null:6.1f}  (z = {null.z:.2f})")
    return t_null / t_batch


def bench_matrix(num_nodes, num_layers, dim, k, repeats):
    from pyg_dnnmod.similarity import alignment_matrix_from_features
    from pyg_dnnmod.utils import knn_graph

    gen = torch.Generator().manual_seed(1)
    base = torch.randn(num_nodes, dim, generator=gen)
    features = []
    for _ in range(num_layers):
        w = torch.randn(dim, dim, generator=gen) / dim**0.5
        base = torch.relu(base @ w) + 0.1 * base
        features.append(base.clone())
    pairs = [(f'l{i}', f) for i, f in enumerate(features)]
    t_knn, _ = timed(lambda: [knn_graph(f, k, symmetrize='none')
                              for f in features], repeats)
    t_matrix, df = timed(lambda: alignment_matrix_from_features(
        pairs, k=k, metric='mutual_knn'), repeats)
    print(f"matrix N={num_nodes} L={num_layers} D={dim} k={k}: "
          f"{num_layers} k-NN graphs {t_knn:7.2f} s | mutual-kNN matrix "
          f"{t_matrix:7.2f} s ({len(df)} pairs) | matrix / k-NN = "
          f"{t_matrix / t_knn:5.2f} (target <= 1.2)")
    return t_matrix / t_knn


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--contention', action='store_true',
                        help='keep one core busy with a burner process')
    parser.add_argument('--quick', action='store_true',
                        help='small sizes (a smoke run)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stop = multiprocessing.Event()
    burner = None
    if args.contention:
        burner = multiprocessing.Process(target=burn, args=(stop, ))
        burner.start()
    try:
        print(f"torch {torch.__version__}, {args.threads} thread(s), "
              f"contention: {args.contention}")
        sizes = [(500, 3), (2000, 3)] if not args.quick else [(200, 3)]
        for n, k in sizes:
            bench_null(n, k, 1000 if not args.quick else 100, args.repeats)
        if args.quick:
            bench_matrix(500, 5, 64, 10, 1)
        else:
            bench_matrix(5000, 20, 512, 10, args.repeats)
    finally:
        stop.set()
        if burner is not None:
            burner.join()


if __name__ == '__main__':
    main()
