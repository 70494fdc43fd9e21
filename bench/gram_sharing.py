r"""One Gram matrix per layer for both the k-NN snapshot and linear CKA,
against computing them separately, side by side in one run.

For every layer (the embedded default's four convolutions over its test
half, and synthetic ReLU features of larger N and D), on the same features:

* ``separate``: :func:`pyg_dnnmod.utils.knn_graph` +
  :func:`pyg_dnnmod.modularity` for the snapshot, and a Gram matrix (:func:`gram_matrix`, which already
  computes only half the product) centred and normalised for the CKA;
* ``separate_mm``: the same with the CKA Gram matrix as a plain
  ``x @ x.T``, the obvious implementation;
* ``shared``: :func:`gram_snapshot` (Gram matrix once, cosine similarities
  and top-k from it) + :func:`pyg_dnnmod.modularity`, and the CKA from the
  same Gram matrix.

The CKA matrix (inner products of the centred Gram matrices) costs the same
in both and is included in both. Feature extraction is done once beforehand
and not timed. The run also checks that both give the same edges and CKA.
Times are the median of ``--repeats`` runs with one thread.
Run: ``python bench/gram_sharing.py`` (``--grid 2000x4096,4000x8192``).
"""
import argparse
import statistics
import time

import pandas as pd
import torch

from pyg_dnnmod.utils import knn_graph, modularity
from pyg_dnnmod.similarity import gram_matrix, gram_snapshot
from pyg_dnnmod.similarity._cka import _unit_centered, cka_matrix_from_unit


def separate(features, y, k, plain_mm=False):
    q, units = [], []
    for x in features:
        edge_index, edge_weight = knn_graph(x, k)
        q.append(float(modularity(edge_index, y, edge_weight.float())))
        gram = x @ x.t() if plain_mm else gram_matrix(x)
        units.append(_unit_centered(gram))
        del gram
    return q, cka_matrix_from_unit(units)


def shared(features, y, k):
    q, units = [], []
    for x in features:
        data, gram = gram_snapshot(x, y, k)
        q.append(float(modularity(data.edge_index, y, data.edge_weight)))
        units.append(_unit_centered(gram))
        del gram
    return q, cka_matrix_from_unit(units)


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def digits_features():
    from pyg_dnnmod.features import extract_features
    from pyg_dnnmod.pretrained import digits_data, pretrained_digits_cnn
    model, _ = pretrained_digits_cnn()
    x, y = digits_data('test')
    return list(extract_features(model, x).values()), y


def synthetic_features(n, d, num_layers=4, num_classes=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % num_classes
    features = []
    for _ in range(num_layers):
        centers = torch.randn(num_classes, d, generator=gen)
        features.append((centers[y] + 2.0 * torch.randn(
            n, d, generator=gen)).relu_())
    return features, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--grid', default='2000x4096,4000x4096',
                        help='synthetic NxD settings, comma separated')
    parser.add_argument('--k', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    settings = [('digits default (4 conv layers)', digits_features)]
    for item in filter(None, args.grid.split(',')):
        n, d = (int(v) for v in item.lower().split('x'))
        settings.append((f'synthetic N={n} D={d} (4 layers)',
                         lambda n=n, d=d: synthetic_features(n, d)))

    rows = []
    for name, make in settings:
        features, y = make()
        t_sep, (q_sep, c_sep) = timed(lambda: separate(features, y, args.k),
                                      args.repeats)
        t_mm, _ = timed(lambda: separate(features, y, args.k, True),
                        args.repeats)
        t_sh, (q_sh, c_sh) = timed(lambda: shared(features, y, args.k),
                                   args.repeats)
        rows.append({
            'setting': name,
            'N': features[0].size(0),
            'D': '/'.join(str(f.size(1)) for f in features),
            'separate_s': t_sep,
            'separate_mm_s': t_mm,
            'shared_s': t_sh,
            'shared/separate': t_sh / t_sep,
            'shared/separate_mm': t_sh / t_mm,
            'max|dQ|': max(abs(a - b) for a, b in zip(q_sep, q_sh)),
            'max|dCKA|': float((c_sep - c_sh).abs().max()),
        })
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print()
    print(f'k={args.k}, {args.threads} thread(s), median of '
          f'{args.repeats} runs')
    print(pd.DataFrame(rows).to_string(index=False,
                                       float_format=lambda v: f'{v:.3g}'))


if __name__ == '__main__':
    main()
