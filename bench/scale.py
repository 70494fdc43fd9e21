r"""How time and peak memory of `knn_graph` + `modularity` grow with N.

For every N of the grid (D fixed), a fresh process (spawn) builds seeded
clustered features, then times the k-NN graph and the modularity and reads
its high-water RSS above the features. Printed: a table, the log-log growth
exponent of time and of memory between consecutive N, and the ratio of
peak memory to the features themselves. Also runs on a GPU
(``--device cuda``; memory is then ``torch.cuda.max_memory_allocated``).

Run: ``python bench/scale.py`` (N = 1,000 ... 20,000 at D = 4,096) or
``--grid 1000,5000,20000,50000 --precision bf16``.
"""
import argparse
import math
import multiprocessing as mp
import resource
import time

import pandas as pd


def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(n, d, k, device, precision, threads, queue):
    import torch

    from pyg_dnnmod.utils import knn_graph, modularity
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 10
    x = (torch.randn(10, d, generator=gen)[y] +
         2.0 * torch.randn(n, d, generator=gen)).relu_().to(device)
    y = y.to(device)
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
    else:
        base = rss_mb()
    t0 = time.perf_counter()
    edge_index, edge_weight = knn_graph(x, k, precision=precision)
    q = modularity(edge_index, y, edge_weight)
    if device == 'cuda':
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20 - base
    else:
        peak = peak_mb() - base
    queue.put((time.perf_counter() - t0, peak, q))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--grid', default='1000,2000,5000,10000,20000')
    parser.add_argument('--dim', type=int, default=4096)
    parser.add_argument('--k', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--precision', default='float32')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    ctx = mp.get_context('spawn')
    rows = []
    for n in (int(v) for v in args.grid.split(',')):
        queue = ctx.Queue()
        proc = ctx.Process(target=child, args=(n, args.dim, args.k,
                                               args.device, args.precision,
                                               args.threads, queue))
        proc.start()
        seconds, peak, q = queue.get()
        proc.join()
        features_mb = n * args.dim * 4 / 2**20
        rows.append(dict(N=n, seconds=seconds, peak_MiB=peak,
                         features_MiB=features_mb,
                         peak_over_features=peak / features_mb,
                         modularity=q))
        print(f'N={n}: {seconds:.1f} s, peak +{peak:.0f} MiB', flush=True)
    table = pd.DataFrame(rows)
    for col, name in (('seconds', 'time_exponent'),
                      ('peak_MiB', 'memory_exponent')):
        logs = [math.log(max(v, 1e-9)) for v in table[col]]
        logn = [math.log(v) for v in table['N']]
        table[name] = [float('nan')] + [
            (logs[i] - logs[i - 1]) / (logn[i] - logn[i - 1])
            for i in range(1, len(logs))]
    print(f'\nknn_graph + modularity, D={args.dim}, k={args.k}, '
          f'{args.device}, precision={args.precision}, threads='
          f'{args.threads}; exponent = d log(y) / d log(N) from the row '
          f'above (time: 2 = the Gram floor; memory: 1 = linear)')
    print(table.to_string(index=False, float_format=lambda v: f'{v:.3g}'))


if __name__ == '__main__':
    main()
