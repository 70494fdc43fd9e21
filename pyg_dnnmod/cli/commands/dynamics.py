r"""``pyg-dnnmod dynamics``: the modularity of every layer at every training
epoch beside the accuracy (the paper's section 4.3, Fig. 6b): an epoch x
layer heatmap and chosen layers' curves with the accuracy on a second axis.
The work is done by
:func:`pyg_dnnmod.experiments.dynamics.training_dynamics` (training with a
callback) or, with ``--checkpoints``, by
:func:`pyg_dnnmod.experiments.dynamics.dynamics_from_checkpoints` (a run of
``pyg-dnnmod train``).

The recipe is the one ``pyg-dnnmod train`` would use; ``--epochs``
without ``--milestones`` moves its learning-rate milestones with the budget
(:func:`~pyg_dnnmod.pretrained.scaled_milestones`: ``--epochs 30`` of the
digits recipe drops the rate after epoch 20, as 8 of its 12 epochs).

Writes into the output folder (default
``./pyg_dnnmod_out/dynamics-<model>-<dataset>-N<N>-k<k>-e<epochs>/``, with
``-2``, ``-3``, ... appended when taken): ``dynamics.csv`` (one row per
epoch and layer: modularity, training and test loss and accuracy, learning
rate), ``dynamics.png``, ``run.json`` and, after training, the trained
model as ``epoch_XXX.pt`` of the last epoch
(:func:`~pyg_dnnmod.training.save_model_checkpoint`: the weights, the
model, data set and class count, the history and the recipe), which
``--checkpoint`` of the other commands reads back. For every epoch's
checkpoint, run ``pyg-dnnmod train`` and then ``pyg-dnnmod dynamics
--checkpoints <its folder>`` (whose last checkpoint must have been trained
on ``--dataset``; without ``--model``, the model it records).
"""
import argparse
from typing import Any, Dict

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError

NAME = 'dynamics'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='modularity per layer and training epoch, beside the '
                   'accuracy',
        description=(
            "Trains --model from random init on the train half of --dataset "
            "and, after every epoch (epoch 0 is the random init), builds the "
            "k-NN snapshots of the same N test samples: the epoch x layer "
            "modularity grid of Lu et al. (ECCV 2022, Fig. 6b) beside the "
            "test accuracy. With --checkpoints, reads the epochs of a "
            "finished 'pyg-dnnmod train' run instead. With no arguments: "
            "the small CNN on the translated digits with its recipe (12 "
            "epochs), N=500, k=3, e.g. 'pyg-dnnmod dynamics --epochs 30'."))
    group = common.add_model_arguments(parser, checkpoint=False,
                                       random_init=False)
    group.add_argument(
        '--checkpoints', metavar='DIR',
        help="read the epochs from this folder of epoch_XXX.pt files "
             "(written by 'pyg-dnnmod train') instead of training")
    common.add_data_arguments(parser, split=None, image_size=True)
    graphs = common.add_graph_arguments(parser)
    graphs.add_argument('--every', type=int, default=1, metavar='E',
                        help='record every E-th epoch (and epoch 0) '
                             '(default: %(default)s)')
    graphs.add_argument('--show-layers', metavar='NAME[,NAME...]',
                        type=common.parse_names,
                        help='the layers drawn as lines (default: all, or '
                             'five spread over depth)')
    common.add_calibration_arguments(graphs)
    common.add_recipe_arguments(
        parser, "as in 'pyg-dnnmod train'; --batch-size is the training "
                "batch size")
    common.add_runtime_arguments(
        parser, batch_size=None,
        batch_help="training batch size (default: the recipe's)", seed=None,
        seed_help="the seed of the init, the training and the sample draw "
                  "(default: the recipe's, 0)")
    common.add_output_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from pyg_dnnmod.experiments.dynamics import (
        dynamics_from_checkpoints,
        training_dynamics,
    )
    from pyg_dnnmod.training import list_checkpoints

    timer = common.Timer()
    common.check_graph_arguments(args)
    common.check_positive(args.every, '--every')
    common.check_positive(args.epochs, '--epochs', 0)
    common.check_positive(args.batch_size, '--batch-size')
    common.check_permutations(args)
    config, recipe = common.make_config(args, scale_milestones=True)
    seed = config.seed
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    record: Dict[str, Any] = {}
    if args.checkpoints is not None:
        pairs = list_checkpoints(args.checkpoints)
        if not pairs:
            raise CLIError(f"--checkpoints '{args.checkpoints}' holds no "
                           f"epoch_XXX.pt checkpoint; pass the folder of a "
                           f"'pyg-dnnmod train' run")
        record = checkpoints_record(args, pairs[-1][1])
        epochs_label = f'e{pairs[-1][0]}'
    else:
        epochs_label = f'e{config.epochs}'
    name = '-'.join([NAME, common.slug(args.model), args.dataset,
                     f'N{args.num_samples}', f'k{args.k}', epochs_label] +
                    ([args.metric] if args.metric != 'cosine' else []) +
                    (['calibrated'] if args.calibrate else []) +
                    common.checkpoint_part(args, 'checkpoints'))
    out = common.plan_output(args.out, name, args.overwrite)

    with timer('data'):
        test_data = common.load_data(args.dataset, args.data_root, 'test',
                                     args.model,
                                     image_size=args.image_size)
        train_data = None if args.checkpoints is not None else \
            common.load_data(args.dataset, args.data_root, 'train',
                             args.model,
                             image_size=args.image_size)
    if record:
        from pyg_dnnmod.pretrained import trained_on_data
        with common.options_named(checkpoint='--checkpoints',
                                  data='--dataset'):
            trained_on_data(record, test_data, pairs[-1][1])
    balanced = not args.unbalanced
    common.check_samples(test_data.labels, [args.num_samples], balanced,
                         test_data)
    if not test_data.in_memory:
        raise CLIError(f"--dataset {args.dataset} is read lazily; "
                       f"'dynamics' needs an in-memory dataset "
                       f"(translated-digits, digits, cifar10, cifar100, "
                       f"fashion-mnist, mnist, mnist-5k, synthetic; "
                       f"without --image-size)")
    num_classes = args.num_classes or record.get('num_classes')
    with timer('model'):
        model = common.build_model(args.model, test_data, num_classes,
                                   seed=seed)
        common.check_model_input(model, test_data, args.model)
    names = common.check_layers(model, args.layers, args.post_activation,
                                args)
    shown = args.show_layers or None
    if shown:
        unknown = [n for n in shown if n not in names]
        if unknown:
            raise CLIError(f"--show-layers names {unknown}, which are not "
                           f"among the selected layers {names}")

    # --batch-size is the training batch here; the snapshots keep theirs.
    snapshots = common.snapshot_config(args, seed=seed, balanced=balanced,
                                       batch_size=256)
    if args.checkpoints is not None:
        with timer('snapshots'):
            chosen = dict(pairs[::args.every])
            chosen.setdefault(*pairs[-1])  # the last epoch is always read
            df = dynamics_from_checkpoints(
                model, chosen, test_data.inputs, test_data.labels,
                snapshots, device=device, calibrate=args.calibrate,
                num_permutations=args.permutations)
        source: Dict[str, Any] = dict(checkpoints=str(args.checkpoints),
                                      epochs=[e for e, _ in pairs])
    else:
        with timer('train_and_snapshots'):
            df = training_dynamics(
                model, train_data.as_data(), test_data.as_data(), config,
                snapshot_config=snapshots, every=args.every, device=device,
                progress=progress, calibrate=args.calibrate,
                num_permutations=args.permutations)
        timer.timings['train'] = df.attrs['train_seconds']
        timer.timings['snapshots'] = df.attrs['snapshot_seconds']
        source = dict(recipe=recipe, config=config.to_dict())
    files = {'dynamics.csv': lambda p: df.to_csv(p, index=False)}
    kept = None
    if args.checkpoints is None:  # the trained model, as 'train' keeps it
        from pyg_dnnmod.training import checkpoint_path, save_model_checkpoint
        kept = checkpoint_path('', config.epochs).name
        info = dict(model=args.model, dataset=args.dataset,
                    num_classes=num_classes or test_data.num_classes)
        files[kept] = lambda p: save_model_checkpoint(
            model, p, info, epoch=config.epochs,
            history=df.attrs['history'], config=config.to_dict())
        source['checkpoint'] = kept

    with timer('plot'):
        from pyg_dnnmod.plotting import plot_training_dynamics
        fig = plot_training_dynamics(
            df, layers=shown, model=args.model,
            data=f'{test_data.title} (test)')

    paths = common.finish(
        NAME, args, out, timer, device, files=files,
        figures={'dynamics.png': fig},
        model=dict(spec=args.model, init_seed=seed), data=test_data.describe(),
        layers=names, num_samples=args.num_samples, k=args.k, **source)

    table = df.pivot_table(index='epoch', columns='layer_index',
                           values='modularity', sort=True)
    table.columns = [names[i] for i in table.columns]
    accuracy = df.groupby('epoch')['test_acc'].first()
    table['test_acc'] = accuracy.reindex(table.index)
    print(f"{args.model} on {test_data.title}: modularity per epoch and "
          f"layer (N = {args.num_samples}, k = {args.k}) and test accuracy")
    print(table.to_string(float_format=lambda v: f'{v:.3f}'))
    common.print_written(paths)
    if kept is not None:
        print(f"next: pyg-dnnmod curve --checkpoint {out / kept}")
    return 0


def checkpoints_record(args: argparse.Namespace, last: Any) -> Dict[str, Any]:
    r"""What the last checkpoint of ``--checkpoints`` records
    (:func:`~pyg_dnnmod.pretrained.checkpoint_record`); without ``--model``
    (``--dataset``), the model (the data set) it records becomes the
    option's value."""
    from pyg_dnnmod.pretrained import checkpoint_record

    with common.options_named(checkpoint='--checkpoints'):
        record = checkpoint_record(last)
    if not common.given(args, 'model') and \
            isinstance(record.get('model'), str):
        args.model = record['model']
    if not common.given(args, 'dataset') and \
            record.get('dataset') in common.DATASETS:
        args.dataset = record['dataset']
    return record
