r"""``pyg-dnnmod train``: trains a model on a dataset with the paper's recipe
(or the default model's), keeping a checkpoint per epoch for the curves of
``pyg-dnnmod curve --checkpoint`` and for training dynamics. The work is
done by :func:`pyg_dnnmod.experiments.train_model`.

Writes into the output folder (default
``./pyg_dnnmod_out/train-<model>-<dataset>/``): ``epoch_000.pt`` (the
random init) ... ``epoch_XXX.pt`` (each records the model, the data set
and the class count it was trained with, which ``--checkpoint`` reads
back), ``history.csv`` (rewritten after every
epoch), ``training_curve.png`` and ``run.json``. ``--resume`` continues an
interrupted run in the same folder, ending with exactly the weights of an
uninterrupted one; a folder that holds a run is otherwise never reused
without ``--overwrite``.
"""
import argparse
import shutil
from pathlib import Path
from typing import Any, Dict

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError

NAME = 'train'


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='train a model with per-epoch checkpoints',
        description=(
            "Trains --model on the train half of --dataset with SGD (or "
            "AdamW) and "
            "evaluates on the test half after every epoch, saving "
            "epoch_XXX.pt checkpoints (epoch 0 is the random init) and "
            "history.csv. --recipe paper is the paper's CIFAR recipe (150 "
            "epochs, batch 256, lr 0.01, momentum 0.9, weight decay 5e-3, "
            "lr / 10 after epochs 50 and 100); --recipe digits is the "
            "default model's (12 epochs, batch 32, weight decay 5e-4, lr / "
            "10 after epoch 8); --recipe fashion is the shipped Fashion-MNIST "
            "networks' (10 epochs, batch 128, lr 0.05, weight decay 5e-4, "
            "lr / 10 after epochs 5 and 8, crops and flips). Every field can "
            "be overridden."))
    common.add_model_arguments(parser, checkpoint=False, random_init=False)
    common.add_data_arguments(parser, split=None, image_size=True)
    group = common.add_recipe_arguments(parser)
    group.add_argument('--nesterov', action=argparse.BooleanOptionalAction,
                       default=None)
    group.add_argument('--optimizer', choices=('sgd', 'adamw'),
                       help="sgd (with --momentum, the paper's) or adamw "
                            "(decoupled --weight-decay, as transformers are "
                            "trained) (default: the recipe's, sgd)")
    group.add_argument('--eval-batch-size', type=int)
    group.add_argument('--num-workers', type=int,
                       help='data loader workers (ImageNet50 only)')
    group.add_argument(
        '--eval-train-at-start', action=argparse.BooleanOptionalAction,
        default=None,
        help="evaluate the untrained model (epoch 0) on the whole training "
             "set; --no-eval-train-at-start skips that pass (epoch 0's "
             "train_loss and train_acc are then empty) (default: on)")
    group.add_argument(
        '--threads', type=int, metavar='N',
        help="CPU threads while training; the result depends on it (default: "
             "torch's count, and with --resume the count the run was "
             "trained with, so that it resumes bit for bit)")
    group.add_argument(
        '--augment', action=argparse.BooleanOptionalAction, default=None,
        help='random crop (padding 4) and horizontal flip, as the paper '
             'trains on CIFAR (default: on for cifar10, cifar100 and '
             'imagenet50)')
    common.add_runtime_arguments(
        parser, batch_size=None,
        batch_help="training batch size (default: the recipe's)", seed=None,
        seed_help="the seed of the init, the shuffling and every random "
                  "draw (default: the recipe's, 0)")
    out = parser.add_argument_group('output')
    out.add_argument(
        '--out', metavar='DIR',
        help=f'the output folder (default: ./{common.OUTPUT_ROOT}/'
             f'train-<model>-<dataset>/)')
    out.add_argument('--resume', action='store_true',
                     help='continue the run in the output folder from its '
                          'last checkpoint')
    out.add_argument('--overwrite', action='store_true',
                     help='delete the run in the output folder and start '
                          'over (only a folder this tool wrote)')
    return parser


def plan_folder(args: argparse.Namespace) -> Path:
    r"""The output folder: a run is resumed only with ``--resume`` and
    replaced only with ``--overwrite`` (and only if this tool wrote it);
    one that cannot be written fails here, before the training."""
    from pyg_dnnmod.training import list_checkpoints

    path = Path(args.out).expanduser() if args.out else \
        Path(common.OUTPUT_ROOT) / '-'.join(
            [NAME, common.slug(args.model), args.dataset])
    if args.resume and args.overwrite:
        raise CLIError('--resume continues the run and --overwrite deletes '
                       'it; pass one of them')
    if path.exists() and not path.is_dir():
        raise CLIError(f"--out '{path}' is a file; pass a folder")
    taken = path.is_dir() and any(path.iterdir())
    if args.resume:
        if not list_checkpoints(path):
            raise CLIError(f"--resume: '{path}' holds no checkpoint "
                           f"(epoch_XXX.pt) to continue from; drop --resume "
                           f"or pass the --out of that run")
    elif taken:
        if not args.overwrite:
            raise CLIError(f"output folder '{path}' already holds a run; "
                           f"pass --resume to continue it, --overwrite to "
                           f"start over, or another --out")
        common.check_ours(path)
    common.check_writable(path, '--out', replace=args.overwrite)
    return path


def check_resumable(model: Any, config: Any, folder: Path,
                    spec: str) -> Dict[str, Any]:
    r"""Fails before anything is written when the last checkpoint in
    :obj:`folder` does not fit the model or was trained with another
    recipe; returns the environment it was trained in (device, threads)."""
    from pyg_dnnmod.training import (
        config_differences,
        list_checkpoints,
        load_checkpoint,
    )

    _, path = list_checkpoints(folder)[-1]
    try:
        checkpoint = load_checkpoint(model, path)
        stored = checkpoint.get('config', {})
    except ValueError as e:
        raise CLIError(f"--resume: {common.one_line(e)}; pass the --model, "
                       f"--dataset and --num-classes of that run (--model "
                       f"is {spec})") from e
    diff = [f"{'--' + name.replace('_', '-')} {old!r} there vs {new!r} now"
            for name, old, new in config_differences(config, stored)]
    if diff:
        raise CLIError(f"--resume: '{path}' was trained with another recipe "
                       f"({', '.join(diff)}); pass the same options (only "
                       f"--epochs may grow) or another --out")
    environment = checkpoint.get('environment')
    return environment if isinstance(environment, dict) else {}


def run(args: argparse.Namespace) -> int:
    import torch

    from pyg_dnnmod.experiments import HISTORY_FILE, train_model
    from pyg_dnnmod.plotting import plot_training_history, save_figure
    from pyg_dnnmod.pretrained import default_augment
    from pyg_dnnmod.training import fixed_threads, random_crop_flip

    timer = common.Timer()
    config, recipe = common.make_config(args)
    if args.eval_train_at_start is not None:
        import dataclasses
        config = dataclasses.replace(
            config, eval_train_at_start=args.eval_train_at_start)
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    folder = plan_folder(args)

    with timer('data'):
        train_data = common.load_data(args.dataset, args.data_root, 'train',
                                      args.model,
                                      image_size=args.image_size)
        test_data = common.load_data(args.dataset, args.data_root, 'test',
                                     args.model,
                                     image_size=args.image_size)
    with timer('model'):
        model = common.build_model(args.model, train_data,
                                   args.num_classes, seed=config.seed)
        common.check_model_input(model, train_data, args.model)
    threads = args.threads
    if threads is not None:
        common.check_positive(threads, '--threads')
    if args.resume:
        stored = check_resumable(model, config, folder, args.model)
        if threads is None and torch.device(device).type == 'cpu' and \
                isinstance(stored.get('threads'), int):
            threads = stored['threads']
    augment = args.augment if args.augment is not None else \
        default_augment(args.dataset)

    record: Dict[str, Any] = dict(
        recipe=recipe, config=config.to_dict(), augment=augment,
        train_threads=threads if threads is not None
        else torch.get_num_threads(),
        model=dict(spec=args.model, parameters=sum(
            p.numel() for p in model.parameters())),
        data=dict(train=train_data.describe(), test=test_data.describe()))
    if args.overwrite and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # Written first, so that the folder is recognised as this tool's.
    common.write_json(common.run_record(NAME, args, timer.total(), device,
                                        status='running', **record),
                      folder / common.RUN_JSON)
    with timer('train'), fixed_threads(threads):
        history = train_model(
            model, train_data.as_data(), test_data.as_data(), config,
            out=folder, resume=args.resume, device=device,
            augment=random_crop_flip if augment else None,
            progress=progress, info=dict(
                model=args.model, dataset=args.dataset,
                num_classes=args.num_classes or train_data.num_classes))

    last = history.iloc[-1]
    fig = plot_training_history(
        history, title=f"{args.model} on {train_data.title}: test acc "
                       f"{100 * last['test_acc']:.1f} % after epoch "
                       f"{int(last['epoch'])}")
    save_figure(fig, folder / 'training_curve.png')
    common.write_json(common.run_record(NAME, args, timer.total(), device,
                                        status='finished', **record),
                      folder / common.RUN_JSON)

    print(history.to_string(index=False, float_format=lambda v: f'{v:.4f}'))
    print()
    print(f"wrote {folder}/epoch_000.pt ... epoch_{int(last['epoch']):03d}"
          f".pt, {HISTORY_FILE}, training_curve.png, {common.RUN_JSON}")
    root = f' --data-root {args.data_root}' if args.data_root else ''
    print(f"next: pyg-dnnmod curve --model {args.model} --dataset "
          f"{args.dataset}{root} --checkpoint {folder}/epoch_"
          f"{int(last['epoch']):03d}.pt")
    return 0
