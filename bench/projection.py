r"""Random projection of wide features before the k-NN search: its time and
its measured effect on neighbours and modularity, against the exact graph.

Two parts, each printed as a table:

* ``synthetic``: Gaussian class clusters through a ReLU (the features of
  ``bench/knn_modularity.py``) at a large width D, projected to d columns
  (``knn_graph(x, k, projection=d)``): seconds, modularity, |dQ| and the
  share of exact edges that the projected graph keeps.
* ``digits``: the modularity curve of the trained default model (the
  embedded translated digits, every snapshot layer, all test samples),
  exact against projected: the largest |dQ| over the layers.

Run: ``python bench/projection.py`` or ``--dims 128,512 --width 16384``.
"""
import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from pyg_dnnmod.utils import knn_graph, modularity

sys.path.insert(0, str(Path(__file__).parent))
from knn_modularity import make_features  # noqa: E402


def edge_set(edge_index):
    return set(map(tuple, edge_index.t().tolist()))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def synthetic(args, dims):
    x, y = make_features(args.num_samples, args.width, 10, args.seed)
    (index, weight), seconds = timed(lambda: knn_graph(x, args.k))
    q = modularity(index, y, weight)
    exact = edge_set(index)
    rows = [dict(d=args.width, seconds=seconds, Q=q, abs_dQ=0.0,
                 edges_kept=1.0)]
    for d in dims:
        (p_index, p_weight), seconds = timed(
            lambda: knn_graph(x, args.k, projection=d, projection_seed=0))
        q_d = modularity(p_index, y, p_weight)
        rows.append(dict(d=d, seconds=seconds, Q=q_d, abs_dQ=abs(q_d - q),
                         edges_kept=len(exact & edge_set(p_index)) /
                         len(exact)))
    return pd.DataFrame(rows)


def digits(args, dims):
    from pyg_dnnmod import layer_graphs
    from pyg_dnnmod.pretrained import digits_data, pretrained_digits_cnn
    model, _ = pretrained_digits_cnn()
    x, y = digits_data('test')
    table = {}
    for d in [None] + dims:
        kwargs = None if d is None else {'projection': d}
        graphs = layer_graphs(model, x, y, k=args.k, knn_kwargs=kwargs)
        table['exact' if d is None else f'd={d}'] = \
            graphs.modularity().tolist()
    return pd.DataFrame(table, index=graphs.layer_names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=2000)
    parser.add_argument('--width', type=int, default=65536)
    parser.add_argument('--dims', default='256,1024,4096')
    parser.add_argument('--k', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int,
                        default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dims = [int(v) for v in args.dims.split(',')]
    fmt = lambda v: f'{v:.4g}'  # noqa: E731

    print(f'synthetic: N={args.num_samples}, D={args.width}, k={args.k}, '
          f'10 classes, threads={args.threads}')
    print(synthetic(args, dims).to_string(index=False, float_format=fmt))
    curves = digits(args, dims)
    print('\ndigits: modularity per layer of the trained default model, '
          'exact and projected')
    print(curves.to_string(float_format=fmt))
    for col in curves.columns[1:]:
        print(f'{col}: max |dQ| over layers = '
              f'{(curves[col] - curves["exact"]).abs().max():.4g}')


if __name__ == '__main__':
    main()
