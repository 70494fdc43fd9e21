r"""``pyg-dnnmod curve``: a model's modularity curve over depth with mean and
standard deviation over repeated sample draws, and the ablations over k, N,
the metric and random initialisation (the paper's Fig. 4, Fig. 7 and
appendix A). The work is done by
:func:`pyg_dnnmod.experiments.modularity_curves`.

Writes into the output folder (default
``./pyg_dnnmod_out/curve-<model>-<dataset>-N<N>-k<k>[...]/``, with
``-2``, ``-3``, ... appended when taken): ``modularity.csv`` (one row per
curve, repeat and layer), ``summary.csv`` (mean / std / count per curve and
layer), ``modularity_curve.png`` and ``run.json``.
"""
import argparse
from typing import Any, Dict, List

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError

NAME = 'curve'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help="a model's modularity curve over depth (start here)",
        description=(
            "The modularity of the class partition of every layer's k-NN "
            "graph over N samples, repeated over random draws (Lu et al., "
            "ECCV 2022, Fig. 4). With no arguments: the small CNN trained "
            "once on the translated digits (cached), N=500, k=3, cosine, 5 "
            "repeats. One of --k, --num-samples and --metric may list "
            "several values (e.g. --k 3,5,7,10) for an ablation; "
            "--compare-random-init overlays the random-init curve."))
    model = common.add_model_arguments(parser)
    model.add_argument(
        '--compare-random-init', action='store_true',
        help='also draw the curve of the same architecture at random init')
    common.add_data_arguments(parser)
    group = parser.add_argument_group('graphs')
    group.add_argument('--num-samples', default='500', metavar='N[,N...]',
                       help='samples per draw, N (default: %(default)s)')
    group.add_argument('--k', default='3', metavar='K[,K...]',
                       help='neighbours per sample (default: %(default)s)')
    group.add_argument('--metric', default='cosine', metavar='M[,M...]',
                       help=f"similarity: {', '.join(common.METRICS)} "
                            f"(default: %(default)s)")
    group.add_argument(
        '--layers', metavar='SPEC',
        help="default: the paper's layers (every conv of a VGG, stem and "
             "residual blocks of a ResNet); an integer n: the last n of "
             "them; comma-separated integers: indices into them; otherwise "
             "comma-separated module names ('pyg-dnnmod layers' lists them)")
    group.add_argument('--post-activation', action='store_true',
                       help="read each layer after its activation")
    group.add_argument('--repeats', type=int, default=5,
                       help='random draws of the N samples, seeds seed + r '
                            '(default: %(default)s)')
    group.add_argument('--unbalanced', action='store_true',
                       help='draw samples uniformly instead of N / classes '
                            'per class')
    common.add_runtime_arguments(parser)
    common.add_output_arguments(parser)
    return parser


def run_name(args: argparse.Namespace, sizes: List[int], ks: List[int],
             metrics: List[str]) -> str:
    r"""The default folder name, e.g.
    :obj:`curve-digits_cnn-translated-digits-N500-k3`."""
    parts = [NAME, common.slug(args.model), args.dataset,
             f'N{common.values_slug(sizes)}', f'k{common.values_slug(ks)}']
    if metrics != ['cosine']:
        parts.append(common.values_slug(metrics))
    if args.random_init:
        parts.append('random')
    if args.compare_random_init:
        parts.append('vs-random')
    return '-'.join(parts)


def _table(summary: Any) -> str:
    from pyg_dnnmod.plotting import curve_label, curve_settings

    columns = curve_settings(summary)
    cells = summary.assign(
        value=[f'{m:.3f}' if s != s else f'{m:.3f} ± {s:.3f}'
               for m, s in zip(summary['mean'], summary['std'])],
        curve=[curve_label({c: row[c] for c in columns}) if columns
               else 'modularity (mean ± std)'
               for _, row in summary.iterrows()])
    table = cells.pivot_table(index=['layer_index', 'layer'],
                              columns='curve', values='value',
                              aggfunc='first', sort=False)
    table.columns.name = None
    return table.to_string()


def run(args: argparse.Namespace) -> int:
    from pyg_dnnmod.experiments import modularity_curves, summarize

    timer = common.Timer()
    sizes = common.parse_int_list(args.num_samples, '--num-samples', 2)
    ks = common.parse_int_list(args.k, '--k', 1)
    metrics = common.parse_choice_list(args.metric, '--metric',
                                       common.METRICS)
    listed = [f'{option} {value}' for option, value, values in (
        ('--k', args.k, ks), ('--num-samples', args.num_samples, sizes),
        ('--metric', args.metric, metrics)) if len(values) > 1]
    if len(listed) > 1:
        raise CLIError(f"only one of --k, --num-samples and --metric may "
                       f"list several values (got {' and '.join(listed)}); "
                       f"run one ablation at a time")
    if max(ks) >= min(sizes):
        raise CLIError(f"--k {max(ks)} must be smaller than --num-samples "
                       f"{min(sizes)} (every sample needs k other samples); "
                       f"lower --k or raise --num-samples")
    common.check_positive(args.repeats, '--repeats')
    common.check_positive(args.batch_size, '--batch-size')
    if args.random_init and args.compare_random_init:
        raise CLIError("--compare-random-init overlays the random-init curve "
                       "on the trained one; drop --random-init")
    layers = common.parse_layers(args.layers)
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    out = common.plan_output(args.out, run_name(args, sizes, ks, metrics),
                             args.overwrite)

    with timer('data'):
        data = common.load_data(args.dataset, args.data_root, args.split,
                                args.model)
    balanced = not args.unbalanced
    common.check_samples(data.labels, sizes, balanced, data)
    with timer('model'):
        model, model_info = common.resolve_model(
            args, data, random_init=args.random_init, progress=progress)
        models = {model_info['init']: model}
        if args.compare_random_init:
            random_model, _ = common.resolve_model(args, data,
                                                   random_init=True)
            models['random'] = random_model
    names = common.check_layers(model, layers, args.post_activation, args)

    with timer('curves'):
        df = modularity_curves(
            models, data.inputs, data.labels,
            k=ks if len(ks) > 1 else ks[0],
            num_samples=sizes if len(sizes) > 1 else sizes[0],
            metric=metrics if len(metrics) > 1 else metrics[0],
            layers=layers, repeats=args.repeats, seed=args.seed,
            device=device, balanced=balanced,
            post_activation=args.post_activation,
            batch_size=args.batch_size, progress=progress)
        summary = summarize(df)

    with timer('plot'):
        import matplotlib
        matplotlib.use('Agg')
        from pyg_dnnmod.plotting import plot_modularity_curve
        model_title = args.model
        if model_info['init'] == 'trained' and model_info.get('test_acc'):
            model_title += f" (test acc {100 * model_info['test_acc']:.1f} %)"
        elif model_info['init'] == 'random':
            model_title += ' (random init)'
        fig = plot_modularity_curve(summary, model=model_title,
                                    data=f'{data.title} ({data.split})')

    record: Dict[str, Any] = dict(
        model=model_info, data=data.describe(), layers=names,
        ablation=df.attrs.get('ablation'),
        curves=sorted(models), repeats=args.repeats,
        sample_seeds=[args.seed + r for r in range(args.repeats)])
    writers = {
        'modularity.csv': lambda p: df.to_csv(p, index=False),
        'summary.csv': lambda p: summary.to_csv(p, index=False),
        'modularity_curve.png': lambda p: fig.savefig(p, dpi=150),
        common.RUN_JSON: lambda p: common.write_json(
            common.run_record(NAME, args, timer.total(), device,
                              output=str(out), **record), p),
    }
    with timer('write'):
        paths = common.write_outputs(out, writers, args.overwrite)

    weights = model_info.get('weights', '')
    if model_info.get('weights') == 'pretrained default':
        weights += ' (cached)' if model_info.get('cached') else \
            ' (trained now, cached for the next run)'
    print(f"{args.model}, {weights}, on {data.title} ({data.split}): "
          f"{len(names)} layers, {args.repeats} repeat(s)")
    print(_table(summary))
    print()
    for path in paths:
        print(f'wrote {path}')
    return 0
