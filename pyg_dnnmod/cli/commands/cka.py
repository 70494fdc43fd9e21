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
from typing import Any, Dict

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError

NAME = 'cka'


def add_graph_arguments(parser: argparse.ArgumentParser,
                        num_samples: int = 500) -> Any:
    r"""``--num-samples``, ``--k``, ``--metric``, ``--layers``,
    ``--post-activation`` and ``--unbalanced`` (one value each), shared by
    ``cka``, ``attack``, ``dynamics`` and ``probe``."""
    group = parser.add_argument_group('graphs')
    group.add_argument('--num-samples', type=int, default=num_samples,
                       metavar='N',
                       help='samples drawn, N (default: %(default)s)')
    group.add_argument('--k', type=int, default=3,
                       help='neighbours per sample (default: %(default)s)')
    group.add_argument('--metric', default='cosine',
                       choices=common.METRICS,
                       help='similarity of the k-NN graph '
                            '(default: %(default)s)')
    group.add_argument(
        '--layers', metavar='SPEC',
        help="default: the paper's layers (every conv of a VGG, stem and "
             "residual blocks of a ResNet); an integer n: the last n of "
             "them; comma-separated integers: indices into them; otherwise "
             "comma-separated module names ('pyg-dnnmod layers' lists them)")
    group.add_argument('--post-activation', action='store_true',
                       help='read each layer after its activation')
    group.add_argument('--unbalanced', action='store_true',
                       help='draw samples uniformly instead of N / classes '
                            'per class')
    return group


def check_graph_arguments(args: argparse.Namespace) -> None:
    r"""The checks of :func:`add_graph_arguments`' options that need no
    data."""
    common.check_positive(args.num_samples, '--num-samples', 2)
    common.check_positive(args.k, '--k', 1)
    if args.k >= args.num_samples:
        raise CLIError(f"--k {args.k} must be smaller than --num-samples "
                       f"{args.num_samples} (every sample needs k other "
                       f"samples); lower --k or raise --num-samples")


def model_title(args: argparse.Namespace, info: Dict[str, Any]) -> str:
    r"""The model's name for a figure title, with its accuracy or
    :obj:`"random init"`."""
    title = args.model
    if info.get('init') == 'trained' and info.get('test_acc'):
        title += f" (test acc {100 * info['test_acc']:.1f} %)"
    elif info.get('init') == 'random':
        title += ' (random init)'
    return title


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
    common.add_model_arguments(parser)
    common.add_data_arguments(parser)
    add_graph_arguments(parser)
    common.add_runtime_arguments(
        parser, seed_help='the seed of the sample draw and of a random init '
                          '(default: %(default)s)')
    common.add_output_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from pyg_dnnmod.experiments.cka import cka_comparison, cka_matrices

    timer = common.Timer()
    check_graph_arguments(args)
    common.check_positive(args.batch_size, '--batch-size')
    layers = common.parse_layers(args.layers)
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    out = common.plan_output(args.out, common.run_name(NAME, args),
                             args.overwrite)

    with timer('data'):
        data = common.load_data(args.dataset, args.data_root, args.split,
                                args.model)
    balanced = not args.unbalanced
    common.check_samples(data.labels, [args.num_samples], balanced, data)
    with timer('model'):
        model, model_info = common.resolve_model(
            args, data, random_init=args.random_init, progress=progress)
    names = common.check_layers(model, layers, args.post_activation, args)
    if len(names) < 2:
        raise CLIError(f"--layers selects {len(names)} layer; comparing "
                       f"layers needs at least 2")

    with timer('graphs_and_cka'):
        df = cka_comparison(
            model, data.inputs, data.labels, k=args.k,
            num_samples=args.num_samples, metric=args.metric, layers=layers,
            seed=args.seed, device=device, balanced=balanced,
            post_activation=args.post_activation,
            batch_size=args.batch_size)

    with timer('plot'):
        import matplotlib
        matplotlib.use('Agg')
        from pyg_dnnmod.plotting._heatmaps import plot_cka_comparison
        fig = plot_cka_comparison(df, model=model_title(args, model_info),
                                  data=f'{data.title} ({data.split})')

    rho = df.attrs['spearman']
    record: Dict[str, Any] = dict(
        model=model_info, data=data.describe(), layers=names,
        spearman=rho, spearman_of='|Q_i - Q_j| vs 1 - CKA, upper triangles',
        num_samples=args.num_samples, k=args.k)
    writers = {
        'cka.csv': lambda p: df.to_csv(p, index=False),
        'layer_difference_cka.png': lambda p: fig.savefig(p, dpi=150),
        common.RUN_JSON: lambda p: common.write_json(
            common.run_record(NAME, args, timer.total(), device,
                              output=str(out), **record), p),
    }
    with timer('write'):
        paths = common.write_outputs(out, writers, args.overwrite)

    diff, cka = cka_matrices(df)
    print(f"{args.model} ({model_info.get('weights', '')}) on {data.title} "
          f"({data.split}): {len(names)} layers, N = {args.num_samples}, "
          f"k = {args.k}")
    print()
    print('|Q_i - Q_j|:')
    print(diff.to_string(float_format=lambda v: f'{v:.3f}'))
    print()
    print('linear CKA:')
    print(cka.to_string(float_format=lambda v: f'{v:.3f}'))
    print()
    print(f'Spearman rho(|Q_i - Q_j|, 1 - CKA) over the upper triangles: '
          f'{rho:.3f}')
    print()
    for path in paths:
        print(f'wrote {path}')
    return 0
