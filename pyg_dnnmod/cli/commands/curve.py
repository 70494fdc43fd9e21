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
from typing import Any, List

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
                       type=common.int_values('--num-samples', 2),
                       help='samples per draw, N (default: %(default)s)')
    group.add_argument('--k', default='3', metavar='K[,K...]',
                       type=common.int_values('--k', 1),
                       help='neighbours per sample (default: %(default)s)')
    group.add_argument('--metric', default='cosine', metavar='M[,M...]',
                       type=common.choice_values('--metric', common.METRICS,
                                                 lists=False),
                       help=f"similarity: {', '.join(common.METRICS)} "
                            f"(default: %(default)s)")
    common.add_layer_arguments(group)
    group.add_argument('--repeats', type=int, default=5,
                       help='random draws of the N samples, seeds seed + r '
                            '(default: %(default)s)')
    group.add_argument('--unbalanced', action='store_true',
                       help='draw samples uniformly instead of N / classes '
                            'per class')
    common.add_calibration_arguments(group)
    common.add_runtime_arguments(parser)
    common.add_output_arguments(parser)
    return parser


def _listed(value: Any) -> List[Any]:
    return list(value) if isinstance(value, list) else [value]


def run_name(args: argparse.Namespace) -> str:
    r"""The default folder name, e.g.
    :obj:`curve-digits_cnn-translated-digits-N500-k3`."""
    parts = [NAME, common.slug(args.model), args.dataset,
             f'N{common.values_slug(args.num_samples)}',
             f'k{common.values_slug(args.k)}']
    if args.metric != 'cosine':
        parts.append(common.values_slug(args.metric))
    if args.random_init:
        parts.append('random')
    parts += common.checkpoint_part(args)
    if args.compare_random_init:
        parts.append('vs-random')
    if args.calibrate:
        parts.append('calibrated')
    return '-'.join(parts)


def _table(summary: Any) -> str:
    from pyg_dnnmod.plotting import curve_label, curve_settings

    columns = curve_settings(summary)
    z = summary['z_mean'] if 'z_mean' in summary.columns else \
        [None] * len(summary)
    cells = summary.assign(
        value=[(f'{m:.3f}' if s != s else f'{m:.3f} ± {s:.3f}') +
               ('' if zz is None else f' (z {zz:.1f})')
               for m, s, zz in zip(summary['mean'], summary['std'], z)],
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
    sizes, ks = _listed(args.num_samples), _listed(args.k)
    listed = [f"{option} {','.join(map(str, value))}"
              for option, value in (('--k', args.k),
                                    ('--num-samples', args.num_samples),
                                    ('--metric', args.metric))
              if isinstance(value, list)]
    if len(listed) > 1:
        raise CLIError(f"only one of --k, --num-samples and --metric may "
                       f"list several values (got {' and '.join(listed)}); "
                       f"run one ablation at a time")
    if max(ks) >= min(sizes):
        raise CLIError(f"--k {max(ks)} must be smaller than --num-samples "
                       f"{min(sizes)} (every sample needs k other samples); "
                       f"lower --k or raise --num-samples")
    common.check_positive(args.repeats, '--repeats')
    common.check_permutations(args)
    common.check_positive(args.batch_size, '--batch-size')
    if args.random_init and args.compare_random_init:
        raise CLIError("--compare-random-init overlays the random-init curve "
                       "on the trained one; drop --random-init")
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    out = common.plan_output(args.out, run_name(args), args.overwrite)

    data = common.read_data(args, timer, sizes)
    model, model_info, names = common.read_model(args, data, timer,
                                                 progress)
    models = {model_info['init']: model}
    if args.compare_random_init:
        with timer('model'):
            models['random'], _ = common.resolve_model(args, data,
                                                       random_init=True)

    with timer('curves'):
        # One config; an ablated option (a list) varies on top of it.
        axes = {name: getattr(args, name) for name in
                ('k', 'num_samples', 'metric')
                if isinstance(getattr(args, name), list)}
        config = common.snapshot_config(
            args, progress=progress,
            **{name: values[0] for name, values in axes.items()})
        df = modularity_curves(models, data.inputs, data.labels, config,
                               repeats=args.repeats, device=device,
                               calibrate=args.calibrate,
                               num_permutations=args.permutations, **axes)
        summary = summarize(df)

    with timer('plot'):
        from pyg_dnnmod.plotting import plot_modularity_curve
        fig = plot_modularity_curve(
            summary, model=common.model_title(args, model_info),
            data=f'{data.title} ({data.split})')

    paths = common.finish(
        NAME, args, out, timer, device,
        files={'modularity.csv': lambda p: df.to_csv(p, index=False),
               'summary.csv': lambda p: summary.to_csv(p, index=False)},
        figures={'modularity_curve.png': fig},
        model=model_info, data=data.describe(), layers=names,
        ablation=df.attrs.get('ablation'),
        curves=sorted(models), repeats=args.repeats,
        permutations=args.permutations if args.calibrate else None,
        sample_seeds=[args.seed + r for r in range(args.repeats)])

    weights = model_info.get('weights', '')
    if model_info.get('weights') == 'pretrained default':
        weights += ' (cached)' if model_info.get('cached') else \
            ' (trained now, cached for the next run)'
    print(f"{args.model}, {weights}, on {data.title} ({data.split}): "
          f"{len(names)} layers, {args.repeats} repeat(s)")
    print(_table(summary))
    common.print_written(paths)
    return 0
