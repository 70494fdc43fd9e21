r"""``pyg-dnnmod benchmark``: the population benchmark of training dynamics
in one command. Builds (or resumes, or extends) a zoo of trained networks
(:func:`pyg_dnnmod.weights.generate_zoo`), reads it as
:class:`pyg_dnnmod.weights.DNNDynamicsDataset`, runs every baseline on
every split and seed (:func:`pyg_dnnmod.experiments.run_benchmark`) and
writes the leaderboard.

Writes into the output folder (default
``./pyg_dnnmod_out/benchmark-<zoo>-T<T>/``): ``results.csv`` (one row per
baseline, split and seed), ``leaderboard.csv`` and ``leaderboard.md`` (mean
and std over seeds; the Markdown table is ready for a README),
``benchmark.png`` and ``run.json``.
"""
import argparse
import os
from pathlib import Path
from typing import Any

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError
from pyg_dnnmod.names import BENCHMARK_BASELINES, BENCHMARK_SPLITS, ZOO_DATA

NAME = 'benchmark'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='the population benchmark: predict final accuracies of '
                   'a zoo from its first epochs, every baseline',
        description=(
            "Trains the zoo's missing networks (resuming a zoo with its "
            "stored settings), reads every network's weight graphs of "
            "epochs 0..T as one dynamic graph, and predicts its final test "
            "accuracy with every baseline (train mean; hyperparameters, "
            "Unterthiner et al.'s weight statistics and Vahedian et al.'s "
            "graph statistics, each with gradient-boosted trees; a GCN-GRU "
            "on the dynamic graph) on every split ('seed': random 60/20/20; "
            "'width': train on width <= --narrow-max, test on the wider) "
            "and seed, scored by R^2, Kendall tau, bin accuracy and top-10 "
            "% recall on the test parts; writes the leaderboard (mean and "
            "std over seeds)."))
    parser.add_argument('--zoo', default=os.path.join(common.OUTPUT_ROOT,
                                                      'zoo'), metavar='DIR',
                        help='the zoo folder, made or extended here '
                             '(default: %(default)s)')
    parser.add_argument('--num-networks', type=int, default=100, metavar='N',
                        help='train networks until the zoo holds N; a zoo '
                             'with more is read whole (default: %(default)s)')
    parser.add_argument('--data', choices=ZOO_DATA,
                        help="the data a new zoo trains on (an existing zoo "
                             "keeps its own; a different value is an error): "
                             "centred-digits (default), translated-digits, "
                             "or fashion-mnist (a class-balanced 2,000-image "
                             "subset of the real Fashion-MNIST at 16x16, "
                             "from its local IDX files)")
    parser.add_argument('--T', type=int, default=3,
                        help='epochs seen (default: %(default)s)')
    group = parser.add_argument_group('benchmark')
    group.add_argument('--seeds', default='0,1,2',
                       type=common.list_of(common.parse_int_list, '--seeds',
                                           0),
                       help='seeds of the splits and the models; the table '
                            'gives mean and std over them '
                            '(default: %(default)s)')
    group.add_argument('--baselines', default=','.join(BENCHMARK_BASELINES),
                       type=common.list_of(common.parse_choice_list,
                                           '--baselines',
                                           BENCHMARK_BASELINES),
                       help='from %(default)s (default: all)')
    group.add_argument('--splits', default=','.join(BENCHMARK_SPLITS),
                       type=common.list_of(common.parse_choice_list,
                                           '--splits', BENCHMARK_SPLITS),
                       help='from %(default)s (default: all)')
    group.add_argument('--bins', type=int, default=3, metavar='B',
                       help='accuracy bins, at the quantiles of all '
                            'networks (default: %(default)s)')
    group.add_argument('--narrow-max', type=float, default=1.0, metavar='W',
                       help="the 'width' split trains on width <= W "
                            "(default: %(default)s)")
    runtime = parser.add_argument_group('runtime')
    runtime.add_argument('--workers', type=int, default=1,
                         help='processes training zoo networks at once '
                              '(default: %(default)s)')
    common.add_progress_argument(runtime)
    common.add_output_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    # Bad values are refused before the heavy imports.
    common.check_positive(args.num_networks, '--num-networks', 2)
    common.check_positive(args.T, '--T')
    common.check_positive(args.bins, '--bins', 2)
    common.check_positive(args.workers, '--workers')
    if not args.narrow_max > 0:
        raise CLIError(f"--narrow-max must be > 0 (got {args.narrow_max})")
    import pandas as pd

    from pyg_dnnmod import plotting
    from pyg_dnnmod.weights import DNNDynamicsDataset
    from pyg_dnnmod.experiments.benchmark import (
        GCN_GRU_SETTINGS,
        leaderboard,
        leaderboard_markdown,
        run_benchmark,
    )
    from pyg_dnnmod.weights.zoo import generate_zoo, zoo_settings

    timer = common.Timer()
    progress = common.show_progress(args)
    zoo = Path(args.zoo).expanduser()
    common.check_writable(zoo, '--zoo', replace=False)
    out = common.plan_output(
        args.out, f'{NAME}-{common.slug(zoo.name)}-T{args.T}',
        args.overwrite)

    settings = zoo_settings(zoo) if (zoo / 'raw' / 'zoo.json').is_file() \
        else {}
    if args.data is not None:
        settings['data'] = args.data
    with timer('zoo'):
        try:
            generate_zoo(zoo, args.num_networks, num_workers=args.workers,
                         progress=progress, **settings)
        except RuntimeError as error:  # the zoo is locked by a generator
            raise CLIError(str(error)) from error
    with timer('graphs'):
        dataset = DNNDynamicsDataset(str(zoo), T=args.T, num_bins=args.bins,
                                     narrow_max=args.narrow_max)
    with timer('benchmark'):
        results = run_benchmark(dataset, args.splits, args.baselines,
                                args.seeds, progress=progress)
    board = leaderboard(results)
    spec = dataset.spec
    caption = (f"Final test accuracy of {len(dataset)} networks "
               f"({spec['data']}, {spec['epochs']} epochs) predicted from "
               f"epochs 0..{args.T}; test parts, mean ± std over seeds "
               f"{', '.join(map(str, args.seeds))} (pyg-dnnmod benchmark).")
    markdown = caption + '\n\n' + leaderboard_markdown(board) + '\n'
    with timer('plot'):
        figure = plotting.plot_benchmark(results)
    sizes = {split: {part: len(idx) for part, idx in
                     dataset.get_idx_split(split, args.seeds[0]).items()}
             for split in args.splits}
    paths = common.finish(
        NAME, args, out, timer, 'cpu',
        {'results.csv': lambda p: results.to_csv(p, index=False),
         'leaderboard.csv': lambda p: board.to_csv(p, index=False),
         'leaderboard.md': lambda p: p.write_text(markdown)},
        {'benchmark.png': figure}, dpi=130,
        zoo=str(zoo), networks=len(dataset), zoo_spec=spec,
        bin_edges=dataset.bin_edges, split_sizes_first_seed=sizes,
        gcn_gru=GCN_GRU_SETTINGS,
        leaderboard=board.to_dict(orient='records'))

    print(f"zoo '{zoo}': {len(dataset)} networks ({spec['data']}), T="
          f"{args.T}, seeds {args.seeds}, in "
          f"{timer.total()['total']:.1f} s")
    with pd.option_context('display.width', 160):
        print()
        print(leaderboard_markdown(board))
    common.print_written(paths)
    return 0
