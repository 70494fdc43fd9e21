r"""``pyg-dnnmod align``: the layer-by-layer k-NN alignment of one model, of
two models or of two checkpoints over the same N samples (Huh et al., 2024,
mutual k-NN, cycle k-NN and CKNNA; Klabunde et al.'s Jaccard k-NN), each
pair optionally calibrated against its permutation null. The work is done by
:func:`pyg_dnnmod.similarity.alignment_matrix`.

Writes into the output folder (default
``./pyg_dnnmod_out/align-<model>[-vs-<model-b>]-<dataset>-N<N>-k<k>-<score>/``,
with ``-2``, ``-3``, ... appended when taken): ``alignment.csv`` (one row
per pair of layers: score, and null mean / sd, z, p when calibrated),
``alignment_matrix.csv`` (the score as a layers x layers table),
``alignment.png`` and ``run.json``.
"""
import argparse
from typing import Any

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError

NAME = 'align'
#: The scores, as in :data:`pyg_dnnmod.similarity.ALIGNMENT_METRICS`.
SCORES = ('mutual_knn', 'cycle_knn', 'knn_jaccard', 'cknna')


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='layer-by-layer k-NN alignment within a model or across '
                   'two',
        description=(
            "The k-NN alignment of every pair of layers over the same N "
            "samples: within --model, or between --model and --model-b "
            "(or --checkpoint-b of the same architecture). Scores: mutual "
            "k-NN (mean share of common neighbours; chance about "
            "k/(N-1)), cycle k-NN and CKNNA (Huh et al., 2024) and Jaccard "
            "k-NN (Klabunde et al.); --calibrate compares every pair with "
            "its permutation null (the samples of B shuffled). Every layer's "
            "k-NN is computed once. With no arguments: the small CNN "
            "trained once on the translated digits (cached), within itself, "
            "mutual k-NN, N=500, k=10."))
    graphs = common.add_snapshot_arguments(
        parser, seed_help='the seed of the sample draw, of a random init '
                          'and of the permutations (default: %(default)s)')
    parser.set_defaults(k=10)
    graphs.add_argument('--score', default='mutual_knn', choices=SCORES,
                        help='the alignment score (default: %(default)s)')
    common.add_calibration_arguments(graphs)
    other = parser.add_argument_group('second model (B)')
    other.add_argument(
        '--model-b', metavar='NAME',
        help="the model B compared with --model, named as --model "
             "(default: --model itself when --checkpoint-b is given, "
             "otherwise none: the layers of --model against each other)")
    other.add_argument('--checkpoint-b', metavar='FILE',
                       help="weights of B, as --checkpoint")
    other.add_argument('--random-init-b', action='store_true',
                       help='B at random initialisation (seeded by --seed)')
    other.add_argument('--layers-b', metavar='SPEC',
                       type=common.parse_layers,
                       help="the layers of B, as --layers (default: as "
                            "--layers)")
    return parser


def _second(args: argparse.Namespace) -> bool:
    return (args.model_b is not None or args.checkpoint_b is not None
            or args.random_init_b)


def _namespace_b(args: argparse.Namespace) -> argparse.Namespace:
    r"""The options of model B, as those of model A."""
    values = dict(vars(args))
    values.update(model=args.model_b or args.model,
                  checkpoint=args.checkpoint_b,
                  random_init=args.random_init_b,
                  layers=args.layers_b if args.layers_b is not None
                  else args.layers)
    return argparse.Namespace(**values)


def run_name(args: argparse.Namespace) -> str:
    r"""The default folder name, e.g.
    :obj:`align-digits_cnn-translated-digits-N500-k10-mutual_knn`."""
    model = common.slug(args.model)
    if args.random_init:
        model += '-random'
    model += ''.join('-' + part for part in common.checkpoint_part(args))
    if _second(args):
        b = common.slug(args.model_b or args.model)
        if args.checkpoint_b is not None:
            b += '-' + common.slug(args.checkpoint_b.rsplit('/', 1)[-1]
                                   .removesuffix('.pt'))
        if args.random_init_b:
            b += '-random'
        model += f'-vs-{b}'
    parts = [NAME, model, args.dataset, f'N{args.num_samples}',
             f'k{args.k}', args.score]
    if args.metric != 'cosine':
        parts.append(args.metric)
    if args.calibrate:
        parts.append('calibrated')
    return '-'.join(parts)


def run(args: argparse.Namespace) -> int:
    from pyg_dnnmod.similarity import alignment_matrix, alignment_table

    timer = common.Timer()
    common.check_graph_arguments(args)
    common.check_positive(args.batch_size, '--batch-size')
    common.check_permutations(args)
    if args.score == 'cknna' and args.k < 2:
        raise CLIError(f"--score cknna needs --k of at least 2 (got "
                       f"{args.k})")
    if args.checkpoint_b is not None and args.random_init_b:
        raise CLIError("--checkpoint-b loads trained weights into B; drop "
                       "--random-init-b")
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    out = common.plan_output(args.out, run_name(args), args.overwrite)

    data = common.read_data(args, timer)
    model_a, info_a, names_a = common.read_model(args, data, timer,
                                                 progress)
    model_b, info_b, names_b = None, None, names_a
    if _second(args):
        args_b = _namespace_b(args)
        try:
            model_b, info_b, names_b = common.read_model(args_b, data, timer,
                                                         progress)
        except CLIError as e:
            raise CLIError(str(e).replace('--model', '--model-b')
                           .replace('--checkpoint', '--checkpoint-b')
                           .replace('--random-init', '--random-init-b')
                           .replace('--layers', '--layers-b')) from e

    with timer('alignment'):
        config = common.snapshot_config(args, progress=progress)
        df = alignment_matrix(
            model_a, data.inputs, data.labels, model_b, metric=args.score,
            config=config, calibrate=args.calibrate,
            num_permutations=args.permutations, seed=args.seed,
            device=device, layers_b=args.layers_b)
        table = alignment_table(df)

    title_a = common.model_title(args, info_a)
    title_b = common.model_title(_namespace_b(args), info_b) \
        if info_b is not None else None
    with timer('plot'):
        from pyg_dnnmod.plotting import plot_alignment_matrix
        fig = plot_alignment_matrix(df, title_a, title_b,
                                    f'{data.title} ({data.split})')

    paths = common.finish(
        NAME, args, out, timer, device,
        files={'alignment.csv': lambda p: df.to_csv(p, index=False),
               'alignment_matrix.csv': lambda p: table.to_csv(p)},
        figures={'alignment.png': fig},
        model=info_a, model_b=info_b, data=data.describe(),
        layers=names_a, layers_b=names_b, score=args.score,
        chance_level=df.attrs.get('chance_level'),
        permutations=args.permutations if args.calibrate else None)

    what = title_a if title_b is None else f'{title_a} vs {title_b}'
    print(f"{args.score} (k = {args.k}, N = {args.num_samples}) of {what} "
          f"on {data.title} ({data.split})")
    chance = df.attrs.get('chance_level')
    if chance is not None:
        print(f"chance level: {chance:.4f}")
    print(table.to_string(float_format=lambda v: f'{v:.3f}'))
    if args.calibrate:
        print()
        print('z against the permutation null:')
        print(alignment_table(df, 'z').to_string(
            float_format=lambda v: f'{v:.1f}'))
    common.print_written(paths)
    return 0
