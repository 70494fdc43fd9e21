r"""``pyg-dnnmod predict``: predicts the final accuracy of the networks of a
zoo (``pyg-dnnmod zoo``) from their first T epochs, with the weight-graph
features of Vahedian et al. (2021) beside graph-free baselines, the width
transfer and the time saved. The work is done by
:mod:`pyg_dnnmod.weights.predict`.

Writes into the output folder (default
``./pyg_dnnmod_out/predict-<zoo>-T<T>/``): ``metrics.csv`` (bin accuracy,
R^2, MAE, Kendall tau per subset and feature set), ``predictions.csv``
(out-of-fold predictions per network), ``transfer.csv`` (narrow to wide),
``time_saved.csv``, ``metric_vs_T.csv``, ``predicted_vs_true.png``,
``confusion.png``, ``metric_vs_T.png`` and ``run.json``.
"""
import argparse
import os
from pathlib import Path
from typing import Any

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError
from pyg_dnnmod.names import NODE_STATISTICS

NAME = 'predict'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help="predict a zoo's final accuracies from the first epochs",
        description=(
            "Cross-validated prediction of every network's final test "
            "accuracy from its first T epochs: quantile-bin classification "
            "(K bins, edges at the k/K quantiles of the training fold, a "
            "value on an edge goes down) and regression (R^2, MAE, Kendall "
            "tau), with the weight-graph summary (per-layer median, mean, "
            "std, skewness, kurtosis of weighted degree and eigenvector "
            "centrality at epochs 1..T plus their epoch-to-epoch "
            "differences) beside the test accuracy and loss at epoch T, the "
            "hyperparameters, per-layer weight statistics (Unterthiner et "
            "al., 2020), all combined, and the majority / mean predictor; "
            "on all networks and on those above chance."))
    parser.add_argument('--zoo', default=os.path.join(common.OUTPUT_ROOT,
                                                      'zoo'), metavar='DIR',
                        help="the folder of 'pyg-dnnmod zoo' "
                             "(default: %(default)s)")
    parser.add_argument('--T', type=int, default=3,
                        help='epochs seen (default: %(default)s)')
    group = parser.add_argument_group('prediction')
    group.add_argument('--bins', type=int, default=3, metavar='K',
                       help='quantile bins (default: %(default)s)')
    group.add_argument('--folds', type=int, default=5,
                       help='cross-validation folds (default: %(default)s)')
    group.add_argument('--repeats', type=int, default=1,
                       help='repeat the cross-validation with new folds '
                            '(seeds seed + r) and report mean and std '
                            '(default: %(default)s)')
    group.add_argument('--model', default='gbt',
                       choices=('gbt', 'linear', 'forest'),
                       help='gradient-boosted trees, standardised '
                            'logistic / ridge regression, or random forests '
                            '(default: %(default)s)')
    group.add_argument('--statistics',
                       default='weighted_degree,eigenvector_centrality',
                       type=common.list_of(common.parse_choice_list,
                                           '--statistics', NODE_STATISTICS),
                       help='node statistics of the graph features, from '
                            'weighted_degree, eigenvector_centrality, '
                            'pagerank (default: %(default)s)')
    group.add_argument('--min-accuracy', type=float, metavar='ACC',
                       help='the non-degenerate subset: final accuracy '
                            'above ACC (default: chance + 0.05)')
    group.add_argument('--narrow-max', type=float, default=1.0,
                       metavar='W',
                       help='width transfer: train on width <= W, test on '
                            'the wider (default: %(default)s)')
    group.add_argument('--patience', type=int, default=3,
                       help='early stopping patience for the time '
                            'comparison (default: %(default)s)')
    group.add_argument('--no-metric-vs-T', dest='metric_vs_T',
                       action='store_false',
                       help='skip the metrics for every T (the slowest '
                            'part)')
    runtime = parser.add_argument_group('runtime')
    runtime.add_argument('--seed', type=int, default=0,
                         help='the seed of the folds and the models '
                              '(default: %(default)s)')
    common.add_progress_argument(runtime)
    common.add_output_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from pyg_dnnmod import experiments as P
    from pyg_dnnmod import plotting
    from pyg_dnnmod.experiments.final_accuracy import degenerate_message
    from pyg_dnnmod.weights import WeightGraphDataset

    timer = common.Timer()
    zoo = Path(args.zoo).expanduser()
    if not (zoo / 'raw' / 'zoo.json').is_file():
        raise CLIError(f"--zoo '{zoo}' holds no zoo (no raw/zoo.json); "
                       f"create one with 'pyg-dnnmod zoo --root {zoo}'")
    common.check_positive(args.T, '--T')
    common.check_positive(args.bins, '--bins', 2)
    common.check_positive(args.folds, '--folds', 2)
    common.check_positive(args.patience, '--patience')
    common.check_positive(args.repeats, '--repeats')
    statistics = args.statistics
    progress = common.show_progress(args)
    out = common.plan_output(
        args.out, f'{NAME}-{common.slug(zoo.name)}-T{args.T}',
        args.overwrite)

    with timer('graphs'):
        dataset = WeightGraphDataset(str(zoo))
    kept = dataset.params['epochs']
    if args.T > kept:
        raise CLIError(f"--T {args.T} is more than the {kept} epochs the zoo "
                       f"kept; lower --T or regenerate the zoo with "
                       f"--snapshot-epochs {args.T}")
    if len(dataset) < 2 * args.folds:
        raise CLIError(f"the zoo has {len(dataset)} networks, too few for "
                       f"--folds {args.folds}; train more with "
                       f"'pyg-dnnmod zoo --root {zoo} --num-networks N'")
    kwargs = dict(model=args.model, num_bins=args.bins, folds=args.folds,
                  seed=args.seed, repeats=args.repeats,
                  min_accuracy=args.min_accuracy, statistics=statistics)
    with timer('features'):
        dataset.epoch_aggregates(statistics, progress)
        features = P.feature_table(dataset, args.T, statistics=statistics)
    with timer('cross-validation'):
        metrics, predictions = P.accuracy_prediction(
            dataset, args.T, features=features, **kwargs)
    with timer('transfer'):
        try:
            transfer = P.width_transfer(
                dataset, args.T, args.narrow_max, model=args.model,
                num_bins=args.bins, seed=args.seed, features=features)
        except ValueError as error:  # e.g. a zoo of one width
            transfer = pd.DataFrame([dict(note=str(error))])
    with timer('time saved'):
        saved = P.time_savings(dataset, args.T, args.patience, predictions,
                               statistics)
    by_T = None
    if args.metric_vs_T:
        with timer('metric vs T'):
            by_T = P.metric_vs_T(dataset, **kwargs)

    with timer('plot'):
        figures = {
            'predicted_vs_true.png':
                plotting.plot_predicted_vs_true(predictions),
            'confusion.png': plotting.plot_confusion(predictions,
                                                     num_bins=args.bins),
        }
        if by_T is not None:
            figures['metric_vs_T.png'] = plotting.plot_metric_vs_T(by_T)

    mask = P.non_degenerate(dataset, args.min_accuracy)
    # The library warned already (on stderr); the reasons also go beside
    # the table they invalidate, and into run.json.
    degenerate = list(metrics.attrs.get('degenerate', []))
    if by_T is not None:
        degenerate += [f'metric vs T: {reason}' for reason in
                       by_T.attrs.get('degenerate', [])]
    files = {
        'metrics.csv': lambda p: metrics.to_csv(p, index=False),
        'predictions.csv': lambda p: predictions.to_csv(p, index=False),
        'transfer.csv': lambda p: transfer.to_csv(p, index=False),
        'time_saved.csv': lambda p: saved.to_csv(p, index=False),
    }
    if by_T is not None:
        files['metric_vs_T.csv'] = lambda p: by_T.to_csv(p, index=False)
    paths = common.finish(
        NAME, args, out, timer, 'cpu', files, figures, dpi=130,
        zoo=str(zoo), networks=len(dataset),
        non_degenerate=int(mask.sum()), zoo_spec=dataset.spec,
        bin_rule=(f'{args.bins} bins; interior edges at the k/{args.bins} '
                  f'quantiles (numpy linear) of the training fold; a value '
                  f'equal to an edge goes to the lower bin'),
        metrics=metrics.to_dict(orient='records'), degenerate=degenerate)

    print(f"zoo '{zoo}': {len(dataset)} networks, {int(mask.sum())} above "
          f"chance; T={args.T}, {args.bins} quantile bins, {args.folds}-fold "
          f"CV x {args.repeats}, model {args.model}")
    columns = ['subset', 'features', 'n', 'bin_accuracy', 'r2', 'mae',
               'kendall_tau']
    if args.repeats > 1:
        columns += ['bin_accuracy_std', 'r2_std']
    with pd.option_context('display.precision', 3, 'display.width', 120):
        print(metrics[columns].to_string(index=False))
        if degenerate:
            print()
            print(f'warning: {degenerate_message(degenerate)}')
        print()
        print(saved.to_string(index=False))
    common.print_written(paths)
    return 0
