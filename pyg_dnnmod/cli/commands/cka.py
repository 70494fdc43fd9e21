r"""``pyg-dnnmod cka``: the layer-difference matrix :math:`|Q_i - Q_j|` beside
linear CKA over the same N samples, with the Spearman correlation of their
upper triangles (the paper's section 5.1, Fig. 8). The work is done by
:func:`pyg_dnnmod.experiments.cka.cka_comparison`; one Gram matrix per layer
serves both the k-NN snapshot and the CKA.

Writes into the output folder (default
``./pyg_dnnmod_out/cka-<model>-<dataset>-N<N>-k<k>/``, with ``-2``, ``-3``,
... appended when taken): ``cka.csv`` (one row per pair of layers:
modularity of both, :math:`|Q_i - Q_j|`, CKA, and the Spearman
:math:`\rho` between :math:`|Q_i - Q_j|` and :math:`1 - \mathrm{CKA}`),
``layer_difference_cka.png`` and ``run.json``.
"""
import argparse
from typing import Any

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError

NAME = 'cka'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='layer difference |Q_i - Q_j| beside linear CKA',
        description=(
            "The modularity difference |Q_i - Q_j| of every pair of layers "
            "beside their linear CKA (Kornblith et al., 2019) over the same "
            "N samples, as two heatmaps, with Spearman's rho between |Q_i - "
            "Q_j| and 1 - CKA over the upper triangles (Lu et al., ECCV "
            "2022, Fig. 8). Each layer's Gram matrix is computed once and "
            "serves both. With no arguments: the small CNN trained once on "
            "the translated digits (cached), N=500, k=3, cosine."))
    graphs = common.add_snapshot_arguments(
        parser, seed_help='the seed of the sample draw and of a random init '
                          '(default: %(default)s)')
    graphs.add_argument(
        '--debiased', action='store_true',
        help="debiased linear CKA (Song et al.'s unbiased HSIC, as "
             "Kornblith's cka(..., debiased=True)) instead of the biased "
             "estimator the paper uses")
    return parser


def run(args: argparse.Namespace) -> int:
    from pyg_dnnmod.experiments.cka import cka_comparison, cka_matrices

    timer = common.Timer()
    common.check_graph_arguments(args)
    common.check_positive(args.batch_size, '--batch-size')
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    out = common.plan_output(
        args.out, common.run_name(NAME, args,
                                  *(['debiased'] if args.debiased else [])),
        args.overwrite)

    data = common.read_data(args, timer)
    model, model_info, names = common.read_model(args, data, timer,
                                                 progress)
    if len(names) < 2:
        raise CLIError(f"--layers selects {len(names)} layer; comparing "
                       f"layers needs at least 2")

    with timer('graphs_and_cka'):
        df = cka_comparison(model, data.inputs, data.labels,
                            common.snapshot_config(args), device=device,
                            debiased=args.debiased)

    with timer('plot'):
        from pyg_dnnmod.plotting import plot_cka_comparison
        fig = plot_cka_comparison(
            df, model=common.model_title(args, model_info),
            data=f'{data.title} ({data.split})')

    rho = df.attrs['spearman']
    paths = common.finish(
        NAME, args, out, timer, device,
        files={'cka.csv': lambda p: df.to_csv(p, index=False)},
        figures={'layer_difference_cka.png': fig},
        model=model_info, data=data.describe(), layers=names,
        spearman=rho, spearman_of='|Q_i - Q_j| vs 1 - CKA, upper triangles',
        num_samples=args.num_samples, k=args.k)

    diff, cka = cka_matrices(df)
    print(f"{args.model} ({model_info.get('weights', '')}) on {data.title} "
          f"({data.split}): {len(names)} layers, N = {args.num_samples}, "
          f"k = {args.k}")
    print()
    print('|Q_i - Q_j|:')
    print(diff.to_string(float_format=lambda v: f'{v:.3f}'))
    print()
    print('linear CKA (debiased):' if args.debiased else 'linear CKA:')
    print(cka.to_string(float_format=lambda v: f'{v:.3f}'))
    print()
    print(f'Spearman rho(|Q_i - Q_j|, 1 - CKA) over the upper triangles: '
          f'{rho:.3f}')
    common.print_written(paths)
    return 0
