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
from typing import Any

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
    group = common.add_snapshot_arguments(
        parser, seed_help='the seed of the draw and of t-SNE '
                          '(default: %(default)s)')
    group.add_argument('--include-input', action='store_true',
                       help='add a first panel of the raw inputs')
    group.add_argument('--perplexity', type=float, default=30.0,
                       help="t-SNE's perplexity (default: %(default)s)")
    return parser


def run(args: argparse.Namespace) -> int:
    from pyg_dnnmod.experiments import tsne_panels

    timer = common.Timer()
    common.check_graph_arguments(args)
    common.check_positive(args.batch_size, '--batch-size')
    if not 0 < args.perplexity < args.num_samples:
        raise CLIError(f"--perplexity must lie between 0 and --num-samples "
                       f"{args.num_samples} (got {args.perplexity}); 5 to 50 "
                       f"is usual")
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    name = '-'.join([NAME, common.slug(args.model), args.dataset,
                     f'N{args.num_samples}', f'k{args.k}'] +
                    (['random'] if args.random_init else []) +
                    common.checkpoint_part(args))
    out = common.plan_output(args.out, name, args.overwrite)

    data = common.read_data(args, timer)
    model, model_info, names = common.read_model(args, data, timer,
                                                 progress)

    with timer('tsne'):
        points = tsne_panels(
            model, data.inputs, data.labels,
            common.snapshot_config(args, progress=progress), device=device,
            perplexity=args.perplexity, include_input=args.include_input)
        per_layer = (points.groupby(['layer_index', 'layer'], sort=False)
                     ['modularity'].first().reset_index())

    with timer('plot'):
        from pyg_dnnmod.plotting import plot_tsne_grid
        init = ' (random init)' if model_info['init'] == 'random' else ''
        fig = plot_tsne_grid(
            points, title=f"{args.model}{init} on {data.title} "
                          f"({data.split}): t-SNE of N = {args.num_samples}, "
                          f"Q of the k = {args.k} {args.metric} graph")

    paths = common.finish(
        NAME, args, out, timer, device, figures={'tsne.png': fig},
        files={'tsne.csv': lambda p: points.to_csv(p, index=False),
               'modularity.csv': lambda p: per_layer.to_csv(p, index=False)},
        model=model_info, data=data.describe(), layers=names)
    print(per_layer.to_string(index=False,
                              float_format=lambda v: f'{v:.3f}'))
    common.print_written(paths)
    return 0
