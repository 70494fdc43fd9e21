r"""GPU k-NN snapshots at scale: ours against the cuBLAS Gram floor and
torch-cluster, with the TF32 / bf16 / projection options and their measured
neighbour recall and modularity difference against float32.

For every N of the grid (D fixed), on seeded class clusters through a ReLU
(the features of ``bench/knn_modularity.py``), on one device:

* ``floor``: row normalisation and the Gram matrix X X^T in row blocks of
  ``--block`` rows (cuBLAS alone; the blocks are not kept);
* ``float32``: ``knn_graph`` + ``modularity``, the default, exact;
* ``tf32``: the same with ``torch.backends.cuda.matmul.allow_tf32 = True``
  (TF32 tensor cores for the block products: approximate neighbours);
* ``bf16``: ``precision='bf16'`` (bf16 tensor cores, exact re-ranking: the
  float32 graph, which the recall column checks);
* ``proj<d>``: ``projection=d`` (approximate, for wide layers);
* ``torch_cluster``: ``torch_cluster.knn_graph(cosine=True)`` when it is
  importable (no weights, no modularity).

Every variant reports seconds (CUDA-synchronised, best of ``--repeats``),
peak memory above the features (``torch.cuda.max_memory_allocated``; the
high-water RSS on the CPU), the share of the float32 edges it finds
(recall) and |Q - Q_float32|. Run on a GPU machine:
``python bench/gpu.py`` (N = 10,000 ... 100,000 at D = 4,096); on the CPU
``python bench/gpu.py --device cpu --grid 2000,5000``.
"""
import argparse
import resource
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from pyg_dnnmod.utils import knn_graph, modularity
from pyg_dnnmod.typing import WITH_TORCH_CLUSTER

sys.path.insert(0, str(Path(__file__).parent))
from knn_modularity import make_features  # noqa: E402


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def with_tf32(fn):
    flags = torch.backends.cuda.matmul
    saved, flags.allow_tf32 = flags.allow_tf32, True
    try:
        return fn()
    finally:
        flags.allow_tf32 = saved


def floor(x, block):
    xn = x / x.norm(dim=1, keepdim=True).clamp_min(1e-8)
    total = 0.0
    for start in range(0, x.size(0), block):
        total += float((xn[start:start + block] @ xn.t())[0, 0])
    return total


def measure(fn, device, repeats):
    best, out = float('inf'), None
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        base = (torch.cuda.memory_allocated(device) if device.type == 'cuda'
                else 0)
        sync(device)
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    if device.type == 'cuda':
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return best, peak, out


def edge_set(edge_index, num_nodes):
    # Pairs as one int64 each, compared on the device.
    return edge_index[0] * num_nodes + edge_index[1]


def recall(ref, other):
    return float(torch.isin(ref, other).float().mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--grid', default='10000,20000,50000,100000')
    parser.add_argument('--dim', type=int, default=4096)
    parser.add_argument('--k', type=int, default=3)
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--block', type=int, default=8192)
    parser.add_argument('--projection', type=int, default=1024)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        parser.error("'--device cuda' but no CUDA device is visible; use "
                     "'--device cpu'")
    name = (torch.cuda.get_device_name(device) if device.type == 'cuda'
            else 'cpu')
    rows = []
    for n in (int(v) for v in args.grid.split(',')):
        x, y = make_features(n, args.dim, 10, 0)
        x, y = x.to(device), y.to(device)

        def ours(**kwargs):
            edge_index, edge_weight = knn_graph(x, args.k, **kwargs)
            return edge_index, modularity(edge_index, y, edge_weight)

        variants = {
            'floor': lambda: floor(x, args.block),
            'float32': ours,
            'tf32': lambda: with_tf32(ours),
            'bf16': lambda: ours(precision='bf16'),
            f'proj{args.projection}': lambda: ours(
                projection=args.projection),
        }
        if WITH_TORCH_CLUSTER:
            import torch_cluster
            variants['torch_cluster'] = lambda: (torch_cluster.knn_graph(
                x, args.k, cosine=True, loop=False), float('nan'))
        ref_edges, ref_q = None, None
        for label, fn in variants.items():
            seconds, peak, out = measure(fn, device, args.repeats)
            row = dict(N=n, variant=label, seconds=seconds, peak_MiB=peak)
            if label != 'floor':
                edges = edge_set(out[0], n)
                if label == 'float32':
                    ref_edges, ref_q = edges, out[1]
                row.update(recall=recall(ref_edges, edges),
                           abs_dQ=abs(out[1] - ref_q))
            rows.append(row)
            print(pd.DataFrame([row]).to_string(index=False, header=False,
                                                float_format=lambda v:
                                                f'{v:.4g}'), flush=True)
        del x, y
    table = pd.DataFrame(rows)
    floor_s = table[table.variant == 'floor'].set_index('N').seconds
    table['over_floor'] = table.seconds / table.N.map(floor_s)
    print(f'\n{name}, D={args.dim}, k={args.k}, torch {torch.__version__}; '
          f'seconds = best of {args.repeats}; recall = share of the float32 '
          f'edges found; over_floor = seconds / Gram floor seconds')
    print(table.to_string(index=False, float_format=lambda v: f'{v:.4g}'))


if __name__ == '__main__':
    main()
