r"""``pyg-dnnmod tsne``: a grid of t-SNE maps of N samples, one panel per
layer, coloured by class and titled with the layer's modularity (the
paper's Fig. 1, left). The work is done by
:func:`pyg_dnnmod.experiments.tsne_panels`.

Writes into the output folder (default
``./pyg_dnnmod_out/tsne-<model>-<dataset>-N<N>-k<k>/``): ``tsne.png``,
``tsne.csv`` (the 2-D points: layer, sample, label, x, y, modularity),
``modularity.csv`` (one row per layer) and ``run.json``.
"""
import argparse
from typing import Any, Dict

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError

NAME = 'tsne'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='t-SNE maps of every layer, titled with its modularity',
        description=(
            "One draw of N samples through the model; for every layer a "
            "t-SNE map of its features (scikit-learn, after the metric's "
            "normalisation and PCA to 50 dimensions, random_state=--seed) "
            "coloured by class, titled with the modularity of the layer's "
            "k-NN graph (Lu et al., ECCV 2022, Fig. 1 left). Defaults as "
            "in 'pyg-dnnmod curve'."))
    common.add_model_arguments(parser)
    common.add_data_arguments(parser)
    group = parser.add_argument_group('graphs and maps')
    group.add_argument('--num-samples', type=int, default=500, metavar='N',
                       help='samples in the draw (default: %(default)s)')
    group.add_argument('--k', type=int, default=3,
                       help='neighbours per sample (default: %(default)s)')
    group.add_argument('--metric', default='cosine', choices=common.METRICS,
                       help='similarity of the graph and the map '
                            '(default: %(default)s)')
    group.add_argument('--layers', metavar='SPEC',
                       help="as in 'pyg-dnnmod curve' (default: the "
                            "paper's layers)")
    group.add_argument('--post-activation', action='store_true',
                       help='read each layer after its activation')
    group.add_argument('--include-input', action='store_true',
                       help='add a first panel of the raw inputs')
    group.add_argument('--perplexity', type=float, default=30.0,
                       help="t-SNE's perplexity (default: %(default)s)")
    group.add_argument('--unbalanced', action='store_true',
                       help='draw samples uniformly instead of N / classes '
                            'per class')
    common.add_runtime_arguments(
        parser, seed_help='the seed of the draw and of t-SNE '
                          '(default: %(default)s)')
    common.add_output_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from pyg_dnnmod.experiments import tsne_panels

    timer = common.Timer()
    common.check_positive(args.num_samples, '--num-samples', 2)
    common.check_positive(args.k, '--k')
    common.check_positive(args.batch_size, '--batch-size')
    if args.k >= args.num_samples:
        raise CLIError(f"--k {args.k} must be smaller than --num-samples "
                       f"{args.num_samples}; lower --k or raise "
                       f"--num-samples")
    if not 0 < args.perplexity < args.num_samples:
        raise CLIError(f"--perplexity must lie between 0 and --num-samples "
                       f"{args.num_samples} (got {args.perplexity}); 5 to 50 "
                       f"is usual")
    layers = common.parse_layers(args.layers)
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    name = '-'.join([NAME, common.slug(args.model), args.dataset,
                     f'N{args.num_samples}', f'k{args.k}'] +
                    (['random'] if args.random_init else []))
    out = common.plan_output(args.out, name, args.overwrite)

    with timer('data'):
        data = common.load_data(args.dataset, args.data_root, args.split,
                                args.model)
    common.check_samples(data.labels, [args.num_samples],
                         not args.unbalanced, data)
    with timer('model'):
        model, model_info = common.resolve_model(
            args, data, random_init=args.random_init, progress=progress)
    names = common.check_layers(model, layers, args.post_activation, args)

    with timer('tsne'):
        points = tsne_panels(
            model, data.inputs, data.labels, num_samples=args.num_samples,
            k=args.k, metric=args.metric, layers=layers, seed=args.seed,
            device=device, perplexity=args.perplexity,
            include_input=args.include_input,
            balanced=not args.unbalanced,
            post_activation=args.post_activation,
            batch_size=args.batch_size, progress=progress)
        per_layer = (points.groupby(['layer_index', 'layer'], sort=False)
                     ['modularity'].first().reset_index())

    with timer('plot'):
        import matplotlib
        matplotlib.use('Agg')
        from pyg_dnnmod.plotting import plot_tsne_grid
        init = ' (random init)' if model_info['init'] == 'random' else ''
        fig = plot_tsne_grid(
            points, title=f"{args.model}{init} on {data.title} "
                          f"({data.split}): t-SNE of N = {args.num_samples}, "
                          f"Q of the k = {args.k} {args.metric} graph")

    record: Dict[str, Any] = dict(model=model_info, data=data.describe(),
                                  layers=names)
    writers = {
        'tsne.png': lambda p: fig.savefig(p, dpi=150),
        'tsne.csv': lambda p: points.to_csv(p, index=False),
        'modularity.csv': lambda p: per_layer.to_csv(p, index=False),
        common.RUN_JSON: lambda p: common.write_json(
            common.run_record(NAME, args, timer.total(), device,
                              output=str(out), **record), p),
    }
    with timer('write'):
        paths = common.write_outputs(out, writers, args.overwrite)
    print(per_layer.to_string(index=False,
                              float_format=lambda v: f'{v:.3f}'))
    print()
    for path in paths:
        print(f'wrote {path}')
    return 0
