r"""k-NN snapshot + modularity: ours against the paper's pipeline and the
Gram-matrix floor, side by side in one run.

For every (N, D) of the grid, on the same features (Gaussian class clusters
through a ReLU, like a conv layer's output), these methods are timed:

* ``paper``: the paper's own pipeline (``calculate_similarity``,
  ``directly_return_undirected_weighted_network`` and
  ``calculate_modularity`` of yaolu-zjut/Dynamic-Graphs-Construction),
  reproduced by `pyg_dnnmod.testing`: one ``torch.cosine_similarity`` call
  per pair into a dense float64 matrix (`paper_similarity_loop`), one
  ``heapq.nlargest`` over ``range(N)`` per row, dense (A + A^T) / 2 and
  ``networkx.community.modularity``. About 12 us a pair on this CPU: ten
  minutes at N = 10,000.
* ``paper_gemm``: the same with the pair loop replaced by one float64
  matrix product (`paper_similarity`): a much faster baseline than the
  paper's, kept to show where its time goes.
* ``ours``: ``pyg_dnnmod.utils.knn_graph`` + ``pyg_dnnmod.modularity``
  (float32, the default).
* ``ours_bf16``: the same with ``precision='bf16'`` (bf16 candidates, exact
  float32 re-ranking: the same graph).
* ``floor``: row normalisation + X X^T alone, the least any exact method
  does in float32.
* ``torch_cluster`` / ``pyg_lib``: their k-NN (cosine) when importable.

Each method runs in a fresh process (spawn) that builds the features from
the seed, so peak memory is that process's high-water mark above the
features it was given. Times are the best of ``--repeats`` runs (the two
paper pipelines once). Run: ``python bench/knn_modularity.py`` (the issue's
grid, about 20 minutes with the paper's loop) or ``--grid 500x4096,2000x16384``
or ``--paper gemm`` to skip the loop.
"""
import argparse
import multiprocessing as mp
import resource
import time

import pandas as pd
import torch

DEFAULT_GRID = ('500x4096,2000x4096,10000x4096,2000x16384,'
                '500x65536,2000x65536')


def make_features(n, d, num_classes, seed):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % num_classes
    centers = torch.randn(num_classes, d, generator=gen)
    x = (centers[y] + 2.0 * torch.randn(n, d, generator=gen)).relu_()
    return x, y


def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_paper(x, y, k):
    from pyg_dnnmod.testing import (
        paper_knn_adjacency,
        paper_modularity,
        paper_similarity_loop,
    )
    sim = paper_similarity_loop(x)
    adj = paper_knn_adjacency(sim, k, self_as_zero=True)
    del sim
    return paper_modularity(adj, y.tolist())


def run_paper_gemm(x, y, k):
    from pyg_dnnmod.testing import (
        paper_knn_adjacency,
        paper_modularity,
        paper_similarity,
    )
    sim = paper_similarity(x.numpy())
    adj = paper_knn_adjacency(sim, k)
    del sim
    return paper_modularity(adj, y.tolist())


def run_ours(x, y, k):
    from pyg_dnnmod.utils import knn_graph, modularity
    edge_index, edge_weight = knn_graph(x, k)
    return modularity(edge_index, y, edge_weight)


def run_ours_bf16(x, y, k):
    from pyg_dnnmod.utils import knn_graph, modularity
    edge_index, edge_weight = knn_graph(x, k, precision='bf16')
    return modularity(edge_index, y, edge_weight)


def run_floor(x, y, k):
    xn = x / x.norm(dim=1, keepdim=True).clamp_min(1e-8)
    return float((xn @ xn.t())[0, 0])


def run_torch_cluster(x, y, k):
    import torch_cluster
    edge_index = torch_cluster.knn_graph(x, k, cosine=True)
    return float(edge_index.size(1))


def run_pyg_lib(x, y, k):
    import pyg_lib
    return float(pyg_lib.ops.knn(x, x, k + 1, cosine=True).size(1))


METHODS = {'paper': run_paper, 'paper_gemm': run_paper_gemm,
           'ours': run_ours, 'ours_bf16': run_ours_bf16,
           'floor': run_floor,
           'torch_cluster': run_torch_cluster, 'pyg_lib': run_pyg_lib}


def child(method, n, d, k, num_classes, seed, repeats, threads, queue):
    torch.set_num_threads(threads)
    x, y = make_features(n, d, num_classes, seed)
    base = rss_mb()
    fn = METHODS[method]
    # Imports and one-off kernel set-up (e.g. oneDNN's bf16 kernels) are
    # not what is measured: a small run first.
    fn(x[:50], y[:50], k)
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn(x, y, k)
        times.append(time.perf_counter() - t0)
    queue.put((min(times), max(0.0, peak_mb() - base), value))


def measure(method, n, d, args):
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    repeats = 1 if method.startswith('paper') else args.repeats
    proc = ctx.Process(target=child, args=(method, n, d, args.k,
                                           args.num_classes, args.seed,
                                           repeats, args.threads, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--grid', default=DEFAULT_GRID,
                        help='comma-separated NxD (default: the issue grid)')
    parser.add_argument('--k', type=int, default=3)
    parser.add_argument('--num-classes', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int,
                        default=torch.get_num_threads())
    parser.add_argument('--paper', default='both',
                        choices=['both', 'loop', 'gemm', 'none'],
                        help="which paper baselines to run: its own pair "
                        "loop ('paper'), the matrix-product variant "
                        "('paper_gemm'), both or none (default: both)")
    parser.add_argument('--csv', default=None, help='also write the table')
    args = parser.parse_args()

    from pyg_dnnmod.typing import WITH_PYG_LIB, WITH_TORCH_CLUSTER
    methods = ['floor', 'ours', 'ours_bf16']
    methods += ['paper'] * (args.paper in ('both', 'loop'))
    methods += ['paper_gemm'] * (args.paper in ('both', 'gemm'))
    methods += ['torch_cluster'] * WITH_TORCH_CLUSTER
    methods += ['pyg_lib'] * WITH_PYG_LIB

    rows = []
    for item in args.grid.split(','):
        n, d = (int(v) for v in item.lower().split('x'))
        row = {'N': n, 'D': d}
        for method in methods:
            seconds, mem, value = measure(method, n, d, args)
            row[f'{method}_s'] = seconds
            row[f'{method}_peak_MiB'] = mem
            row[f'{method}_value'] = value
        row['ours/floor'] = row['ours_s'] / row['floor_s']
        for paper in ('paper', 'paper_gemm'):
            if paper in methods:
                row[f'{paper}/ours'] = row[f'{paper}_s'] / row['ours_s']
                row[f'{paper}/ours_bf16'] = (row[f'{paper}_s'] /
                                             row['ours_bf16_s'])
                row[f'|Q_ours - Q_{paper}|'] = abs(row['ours_value'] -
                                                   row[f'{paper}_value'])
        row['|Q_bf16 - Q_ours|'] = abs(row['ours_bf16_value'] -
                                       row['ours_value'])
        for other in ('torch_cluster', 'pyg_lib'):
            if other in methods:
                row[f'{other}/ours'] = row[f'{other}_s'] / row['ours_s']
        rows.append(row)
        print(pd.DataFrame([row]).drop(
            columns=[c for c in row if c.endswith('_value')]).to_string(
                index=False, float_format=lambda v: f'{v:.3g}'), flush=True)

    table = pd.DataFrame(rows)
    shown = table.drop(columns=[c for c in table if c.endswith('_value')])
    print(f'\nk={args.k}, {args.num_classes} classes, threads='
          f'{args.threads}, torch {torch.__version__}; times are the best '
          f'of {args.repeats} (paper pipelines: 1 run), peak = high-water RSS above '
          f'the features')
    print(shown.to_string(index=False, float_format=lambda v: f'{v:.3g}'))
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == '__main__':
    main()
