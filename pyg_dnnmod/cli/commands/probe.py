r"""``pyg-dnnmod probe``: the accuracy of a linear probe (scikit-learn's
logistic regression) at every layer beside the layer's modularity, on the
same features of the same N samples, with their rank correlation (the
paper's comparison with Alain and Bengio's probes). The work is done by
:func:`pyg_dnnmod.experiments.probes.linear_probes`.

Writes into the output folder (default
``./pyg_dnnmod_out/probe-<model>-<dataset>-N<N>-k<k>/``, with ``-2``,
``-3``, ... appended when taken): ``probes.csv`` (one row per layer:
modularity, probe train and test accuracy, whether the solver converged,
and Spearman's :math:`\rho` between modularity and probe test accuracy),
``linear_probes.png`` and ``run.json``. Where a layer has at least as many
features as the probe has training samples (less one), its train accuracy
is 1 by construction (any labels are linearly separable); the figure and
the printout say so.
"""
import argparse
from typing import Any

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError

NAME = 'probe'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='linear-probe accuracy per layer beside the modularity',
        description=(
            "At every layer, a multinomial logistic regression (scikit-learn, "
            "features standardised) trained on part of the N samples and "
            "scored on the rest, beside the layer's modularity over all N, "
            "with Spearman's rho between the two over the layers (the linear "
            "probes of Alain and Bengio, 2016, that Lu et al. compare with). "
            "With no arguments: the small CNN trained once on the translated "
            "digits (cached), N=500 split in halves, k=3."))
    common.add_snapshot_arguments(
        parser, seed_help='the seed of the sample draw, the split and a '
                          'random init (default: %(default)s)')
    group = parser.add_argument_group('probes')
    group.add_argument('--test-fraction', type=float, default=0.5,
                       metavar='F',
                       help='share of the N samples that scores the probes '
                            '(stratified) (default: %(default)s)')
    group.add_argument('--C', type=float, default=1.0, dest='C',
                       help='inverse L2 strength of the logistic regression '
                            'on standardised features; with more features '
                            'than training samples the train accuracy is 1 '
                            'for any moderate C, so compare the test '
                            'accuracy (default: %(default)s)')
    group.add_argument('--max-iter', type=int, default=1000,
                       help="the solver's iteration limit "
                            "(default: %(default)s)")
    return parser


def run(args: argparse.Namespace) -> int:
    from pyg_dnnmod.experiments.probes import linear_probes

    timer = common.Timer()
    common.check_graph_arguments(args)
    common.check_positive(args.batch_size, '--batch-size')
    common.check_positive(args.max_iter, '--max-iter')
    if not 0.0 < args.test_fraction < 1.0:
        raise CLIError(f"--test-fraction must lie strictly between 0 and 1 "
                       f"(got {args.test_fraction})")
    if not args.C > 0:
        raise CLIError(f"--C must be > 0 (got {args.C})")
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    out = common.plan_output(args.out, common.run_name(NAME, args),
                             args.overwrite)

    data = common.read_data(args, timer)
    model, model_info, names = common.read_model(args, data, timer,
                                                 progress)

    with timer('graphs_and_probes'):
        try:
            df = linear_probes(
                model, data.inputs, data.labels,
                common.snapshot_config(args), device=device,
                test_fraction=args.test_fraction, C=args.C,
                max_iter=args.max_iter)
        except ValueError as e:
            if 'stratified split' not in str(e):
                raise
            raise CLIError(common.one_line(e).replace(
                "'num_samples'", '--num-samples')) from e

    with timer('plot'):
        from pyg_dnnmod.plotting import plot_linear_probes
        fig = plot_linear_probes(
            df, model=common.model_title(args, model_info),
            data=f'{data.title} ({data.split})')

    rho = df.attrs['spearman']
    paths = common.finish(
        NAME, args, out, timer, device,
        files={'probes.csv': lambda p: df.to_csv(p, index=False)},
        figures={'linear_probes.png': fig},
        model=model_info, data=data.describe(), layers=names, spearman=rho,
        spearman_of='modularity vs probe test accuracy, over the layers',
        num_train=df.attrs['num_train'], num_test=df.attrs['num_test'],
        probe=dict(kind='sklearn LogisticRegression (lbfgs, multinomial), '
                        'features standardised on the training part',
                   C=args.C, max_iter=args.max_iter,
                   separable_layers=df.attrs['separable_layers']))

    print(f"{args.model} ({model_info.get('weights', '')}) on {data.title} "
          f"({data.split}): {len(names)} layers, N = {args.num_samples} "
          f"({df.attrs['num_train']} to train the probes, "
          f"{df.attrs['num_test']} to score them), k = {args.k}")
    print(df.drop(columns=['spearman']).to_string(
        index=False, float_format=lambda v: f'{v:.3f}'))
    print()
    print(f'Spearman rho(modularity, probe test accuracy) over the layers: '
          f'{rho:.3f}')
    from pyg_dnnmod.plotting import separable_note
    note = separable_note(df)
    if note:
        print(note.replace('\n', ' '))
    common.print_written(paths)
    return 0
