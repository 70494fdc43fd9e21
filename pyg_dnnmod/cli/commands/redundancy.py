r"""``pyg-dnnmod redundancy``: every block of a transformer scored side by
side, label-free (Block Influence, angular distance, mutual k-NN, linear
CKA) and label-aware (modularity gain, k-NN label overlap gain), the
blocks each score would remove, and their rank agreement. The work is done
by :func:`pyg_dnnmod.redundancy.layer_redundancy_report`; with
``--compare``, :func:`pyg_dnnmod.experiments.block_removal_comparison`
removes the blocks each choice picks and heals the model.

Writes into the output folder (default
``./pyg_dnnmod_out/redundancy-<model>-<dataset>-N<N>-k<k>-b<budget>/``):
``report.csv`` (one row per block), ``agreement.csv`` (Spearman between
the scores), ``redundancy.png``, with ``--compare`` also
``block_removal.csv`` (one row per choice and seed),
``block_removal_summary.csv`` and ``block_removal.png``, and ``run.json``.
"""
import argparse
from typing import Any

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError
from pyg_dnnmod.names import (
    BASELINE_CHOICES,
    REDUNDANCY_SCORE_NAMES,
    TOKEN_POOLINGS,
)

NAME = 'redundancy'
_DEFAULT_MODEL = 'vit-fashion-mnist'
_DEFAULT_DATASET = 'fashion-mnist'
_CHOICES = REDUNDANCY_SCORE_NAMES + BASELINE_CHOICES


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='which transformer blocks are redundant, by every score',
        description=(
            "Scores every block of a transformer side by side: Block "
            "Influence (ShortGPT) and the angular distance (Gromov et al.) "
            "per token, mutual k-NN and linear CKA of the pooled states, "
            "and, with labels, the modularity gain of the class partition "
            "(Lu et al., ECCV 2022) and the k-NN label overlap gain; marks "
            "the --budget blocks each would remove and their Spearman "
            "agreement. --compare removes them from the model, measures "
            "the test accuracy before and after a short healing fine-tune "
            "and compares with removing the last blocks and random ones. "
            "With no arguments: the shipped ViT trained on Fashion-MNIST "
            "(vit-fashion-mnist), N=500, k=3, budget 2."))
    common.add_model_arguments(parser)
    common.add_data_arguments(parser)
    parser.set_defaults(model=_DEFAULT_MODEL, dataset=_DEFAULT_DATASET)
    group = parser.add_argument_group('scores')
    group.add_argument('--num-samples', type=int, default=500, metavar='N',
                       help='samples the scores read, N / classes per class '
                            '(default: %(default)s)')
    group.add_argument('--k', type=int, default=3,
                       help='neighbours of the k-NN scores '
                            '(default: %(default)s)')
    group.add_argument('--budget', type=int, default=2,
                       help='blocks to remove (default: %(default)s)')
    group.add_argument('--pooling', default='mean', choices=TOKEN_POOLINGS,
                       help='how the tokens of a sample become one vector '
                            'for the per-sample scores: the mean, the last '
                            'token or the first (class) token '
                            '(default: %(default)s)')
    compare = parser.add_argument_group('comparison (--compare)')
    compare.add_argument('--compare', action='store_true',
                         help='remove the blocks each choice picks, heal, '
                              'and measure the test accuracy')
    compare.add_argument('--choices', default=','.join(
        ('modularity_gain', 'block_influence', 'angular_distance',
         'reverse', 'random')),
        help=f"comma-separated choices, of {', '.join(_CHOICES)} "
             f"(default: %(default)s)")
    compare.add_argument('--seeds', type=int, default=3,
                         help='seeds 0..S-1 of the sample draws, the random '
                              'choice and the healing (default: '
                              '%(default)s)')
    compare.add_argument('--heal-samples', type=int, default=10000,
                         metavar='M',
                         help='training samples of the healing fine-tune; '
                              '0 for none (default: %(default)s)')
    compare.add_argument('--heal-epochs', type=int, default=1,
                         help='its passes (default: %(default)s)')
    compare.add_argument(
        '--threads', type=int, metavar='N',
        help='CPU threads of the comparison, restored afterwards; the '
             "healing's sums depend on the count, so fix it to repeat a run "
             'exactly (default: unchanged)')
    parser.set_defaults(unbalanced=False)
    common.add_runtime_arguments(
        parser, seed_help='the seed of the sample draw and of the random '
                          'choice of the report (default: %(default)s)')
    common.add_output_arguments(parser)
    return parser


def _check(args: argparse.Namespace) -> list:
    for option in ('num_samples', 'k', 'budget', 'seeds', 'heal_epochs',
                   'batch_size'):
        common.check_positive(getattr(args, option),
                              '--' + option.replace('_', '-'))
    common.check_positive(args.threads, '--threads')
    if args.heal_samples < 0:
        raise CLIError(f"--heal-samples must be >= 0 (got "
                       f"{args.heal_samples})")
    choices = [c.strip() for c in args.choices.split(',') if c.strip()]
    bad = [c for c in choices if c not in _CHOICES]
    if bad or not choices:
        raise CLIError(f"--choices must name some of {', '.join(_CHOICES)} "
                       f"(got {args.choices!r})")
    return choices


def run(args: argparse.Namespace) -> int:
    import torch

    from pyg_dnnmod.features import transformer_blocks
    from pyg_dnnmod.redundancy import layer_redundancy_report, score_agreement
    from pyg_dnnmod.utils import sample_indices

    timer = common.Timer()
    choices = _check(args)
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    out = common.plan_output(
        args.out, common.run_name(NAME, args, f'b{args.budget}',
                                  *(['compare'] if args.compare else [])),
        args.overwrite)
    data = common.read_data(args, timer)
    with timer('model'):
        model, model_info = common.resolve_model(
            args, data, random_init=args.random_init, progress=progress)
    try:
        num_blocks = len(transformer_blocks(model).names)
    except ValueError as e:
        raise CLIError(f"--model {args.model}: {e}; this command reads "
                       f"transformers (e.g. vit_tiny, vit-fashion-mnist, "
                       f"timm:vit_tiny_patch16_224)") from e
    if not args.budget < num_blocks:
        raise CLIError(f"--budget must be below the model's {num_blocks} "
                       f"blocks (got {args.budget})")

    with timer('report'):
        idx = sample_indices(data.labels, args.num_samples, seed=args.seed)
        report = layer_redundancy_report(
            model, data.take(idx), data.labels[idx], budget=args.budget,
            k=args.k, pooling=args.pooling, batch_size=args.batch_size,
            device=device, seed=args.seed, progress=progress)
        agreement = score_agreement(report)
    files = {'report.csv': lambda p: report.to_csv(p, index=False),
             'agreement.csv': lambda p: agreement.to_csv(p)}
    from pyg_dnnmod.plotting import plot_block_removal, plot_redundancy_report
    title = (f"{common.model_title(args, model_info)} on {data.title} "
             f"({data.split}): budget {args.budget}, k = {args.k}, "
             f"N = {args.num_samples}, {args.pooling} pooling")
    figures = {'redundancy.png': plot_redundancy_report(report, title)}
    record: dict = {}
    summary = None
    if args.compare:
        from pyg_dnnmod.experiments.block_removal import (
            block_removal_comparison,
            summarize_block_removal,
        )
        with timer('data'):
            train = common.load_data(args.dataset, args.data_root, 'train',
                                     args.model,
                                     getattr(args, 'image_size', None))
            test = data if data.split == 'test' else common.load_data(
                args.dataset, args.data_root, 'test', args.model,
                getattr(args, 'image_size', None))
        with timer('compare'):
            everything = torch.arange(train.labels.numel())
            table = block_removal_comparison(
                model, (train.take(everything), train.labels),
                (test.take(torch.arange(test.labels.numel())),
                 test.labels),
                budget=args.budget, choices=choices,
                seeds=list(range(args.seeds)),
                num_samples=args.num_samples, k=args.k,
                heal_samples=args.heal_samples,
                heal_epochs=args.heal_epochs, batch_size=args.batch_size,
                num_threads=args.threads, progress=progress)
            summary = summarize_block_removal(table)
        files['block_removal.csv'] = lambda p: table.to_csv(p, index=False)
        files['block_removal_summary.csv'] = \
            lambda p: summary.to_csv(p, index=False)
        figures['block_removal.png'] = plot_block_removal(table)
        record['block_removal'] = summary.to_dict(orient='records')
    paths = common.finish(
        NAME, args, out, timer, device, files=files, figures=figures,
        model=model_info, data=data.describe(), num_blocks=num_blocks,
        budget=args.budget, k=args.k, pooling=args.pooling,
        num_samples=args.num_samples, **record)

    shown = report.drop(columns=[c for c in report.columns
                                 if c.startswith('remove_')])
    print(f"{args.model} on {data.title} ({data.split}): {num_blocks} "
          f"blocks, N = {args.num_samples}, k = {args.k}, budget "
          f"{args.budget}")
    print()
    print(shown.to_string(index=False, float_format=lambda v: f'{v:.3f}'))
    print()
    print('blocks each would remove:')
    for column in (c for c in report.columns if c.startswith('remove_')):
        chosen = report.loc[report[column], 'block'].tolist()
        print(f"  {column[len('remove_'):]:<18} {chosen}")
    if summary is not None:
        print()
        print('accuracy after removal and after healing (mean, std over '
              f'{args.seeds} seeds; unpruned '
              f"{table['acc_full'].iloc[0]:.4f}):")
        print(summary.to_string(index=False,
                                float_format=lambda v: f'{v:.4f}'))
    common.print_written(paths)
    return 0
