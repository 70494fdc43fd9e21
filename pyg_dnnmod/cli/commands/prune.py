r"""``pyg-dnnmod prune``: modularity-guided layer pruning end to end (Lu et
al., ECCV 2022, section 5.2): the modularity curve of a trained model, the
redundant layers a selector picks on it, the cut, the fine-tuning and the
report; ``--one-at-a-time`` runs the redundant-versus-irredundant
experiment instead (layers removed one at a time from the back, accuracy
change against modularity gain with their correlation). The work is done by
:func:`pyg_dnnmod.experiments.pruning.pruning_experiment` and
:func:`~pyg_dnnmod.experiments.pruning.layer_removal_sweep`.

With no arguments: :func:`~pyg_dnnmod.models.digits_deep.digits_deep_resnet`
(a stem, then one block of two and one of twelve residual convolutions)
trained once on the translated digits (the default recipe, 30 epochs) on one
CPU thread and cached, its curve over N=500, k=3, 5 repeats, the layers
whose mean gain is at most 0.01 removed, fine-tuned for two epochs at the
training recipe's final learning rate, 0.001
(:data:`~pyg_dnnmod.pretrained.DIGITS_FINETUNE`; ``--recipe digits-full``
fine-tunes with the whole 12-epoch training recipe instead; the recipes are
:data:`~pyg_dnnmod.pretrained.FINETUNE_RECIPES`, the selectors of
``--selector`` :data:`~pyg_dnnmod.pruning.SELECTORS`).
``--control`` adds the same number of removable layers with the largest
gains, ``--finetune-seeds 0,1,2`` reports the mean and standard deviation of
the accuracy change over fine-tuning seeds, and ``--threads 1`` runs on one
CPU thread, so that a run repeats exactly on a machine.

Writes into the output folder (default
``./pyg_dnnmod_out/prune-<model>-<dataset>-<selection>/``, with ``-2``,
``-3``, ... appended when taken): ``pruning.csv`` (one row per model:
removed layers, their modularity gain, params, MACs, FLOPs = 2 x MACs,
reductions in %, accuracy of the original, before and after fine-tuning,
and the change), ``modularity.csv`` and ``summary.csv`` (the curves of the
original and the pruned models), ``finetune_history.csv``,
``pruning.png`` (the paper's Fig. 9 and Fig. 10b side by side) and
``run.json``; with ``--save-models`` also ``<label>.pt``, the state_dict of
every fine-tuned pruned model.
"""
import argparse
from typing import Any, Dict, List

from pyg_dnnmod.cli import _common as common
from pyg_dnnmod.cli._common import CLIError
from pyg_dnnmod.names import FINETUNE_RECIPE_NAMES, SELECTOR_NAMES

NAME = 'prune'
#: The model of ``pyg-dnnmod prune`` without ``--model``.
DEFAULT_PRUNE_MODEL = 'digits_deep_resnet'
# What a selector option without a default means, for the error text.
_REQUIRED_HELP = {'m': 'the number of layers to remove (e.g. --m 3)'}
# TrainConfig fields and the options that set them.
_CONFIG_OPTIONS = {'epochs': '--epochs', 'lr': '--lr',
                   'momentum': '--momentum', 'weight_decay': '--weight-decay',
                   'gamma': '--gamma', 'batch_size': '--train-batch-size',
                   'milestones': '--milestones', 'seed': '--seed'}
_SHOWN = ('model', 'removed', 'modularity_gain', 'params', 'FLOPs',
          'params_reduction_%', 'FLOPs_reduction_%', 'acc_before_%',
          'acc_after_%', 'acc_change_%', 'acc_change_std_%')


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        NAME, help='modularity-guided layer pruning: select, cut, '
                   'fine-tune, report',
        description=(
            "Computes the modularity curve of a trained model, selects the "
            "redundant layers on it (plateaus and drops: gain Q_i - Q_i-1 "
            "<= --tau by default), removes them, fine-tunes the pruned "
            "model and reports parameters, MACs and FLOPs (= 2 x MACs, "
            "thop) and the accuracy change (Lu et al., ECCV 2022, section "
            "5.2). --control also prunes as many layers with the largest "
            "gains; --one-at-a-time removes the layers one at a time from "
            "the back and correlates accuracy change with gain. With no "
            "arguments: digits_deep_resnet trained once on the translated "
            "digits (cached), tau 0.01, 2 fine-tuning epochs at lr 0.001."))
    model = common.add_model_arguments(parser, random_init=False)
    parser.set_defaults(model=DEFAULT_PRUNE_MODEL)
    model.add_argument(
        '--adapt', action='store_true',
        help='also allow removing convolutions that change the channel '
             'count (the next convolution is re-initialised)')
    common.add_data_arguments(parser, split=None, image_size=True)

    select = parser.add_argument_group('selection')
    select.add_argument(
        '--selector', choices=SELECTOR_NAMES,
        help="gain: layers with mean gain <= --tau; plateau: the tail after "
             "the curve first reaches (1 - --eps) of its maximum; budget: "
             "the --m layers with the smallest gain; mean-gain: mean gain "
             "over the repeats + --num-std standard deviations <= --tau "
             "(default: gain)")
    select.add_argument('--tau', type=float, default=0.01,
                        help='the largest gain counted as redundant '
                             '(default: %(default)s)')
    select.add_argument('--eps', type=float, default=0.01,
                        help='relative tolerance of --selector plateau '
                             '(default: %(default)s)')
    select.add_argument('--m', type=int,
                        help='how many layers --selector budget removes')
    select.add_argument('--num-std', type=float, default=1.0,
                        help='standard deviations of --selector mean-gain '
                             '(default: %(default)s)')
    select.add_argument(
        '--remove', '--layers', dest='remove', metavar='NAME[,NAME...]',
        help="remove these layers instead of selecting ('pyg-dnnmod "
             "layers' lists the model's layers; --layers is the old name)")
    select.add_argument(
        '--control', action='store_true',
        help='also prune the same number of removable layers with the '
             'largest gains (what the curve says should cost more)')
    select.add_argument(
        '--finetune-original', action='store_true',
        help='also fine-tune the unpruned model the same way, to tell the '
             'effect of the extra training from that of the removal')
    select.add_argument(
        '--one-at-a-time', action='store_true',
        help='the redundant-vs-irredundant experiment: remove the removable '
             'layers one at a time from the back, every block keeping a '
             'convolution (or --remove in order), fine-tune each, correlate '
             'accuracy change with gain')
    select.add_argument(
        '--cumulative', action='store_true',
        help='with --one-at-a-time, step j removes the first j layers of '
             'the order together (VGG11 gives VGG11_1, _2, _3)')
    select.add_argument('--max-steps', type=int,
                        help='with --one-at-a-time, stop after this many '
                             'layers')

    graphs = parser.add_argument_group('curve')
    graphs.add_argument('--num-samples', type=int, default=500, metavar='N',
                        help='samples per draw (default: %(default)s)')
    graphs.add_argument('--k', type=int, default=3,
                        help='neighbours per sample (default: %(default)s)')
    graphs.add_argument('--metric', default='cosine', choices=common.METRICS,
                        help='similarity (default: %(default)s)')
    graphs.add_argument('--repeats', type=int, default=5,
                        help='random draws of the N test samples, seeds '
                             'seed + r (default: %(default)s)')

    tune = parser.add_argument_group('fine-tuning')
    tune.add_argument(
        '--recipe', choices=FINETUNE_RECIPE_NAMES,
        help="digits: the digits training recipe continued at its final "
             "learning rate, 2 epochs, batch 32, lr 0.001, momentum 0.9, "
             "weight decay 5e-4; digits-full: the whole training recipe, 12 "
             "epochs, lr 0.01 / 10 after epoch 8; fashion: the Fashion-"
             "MNIST training recipe continued at its final learning rate, "
             "1 epoch, batch 128, lr 0.0005; paper: the paper's CIFAR "
             "recipe (150 epochs, batch 256, weight decay 5e-3, lr / 10 "
             "after epochs 50 and 100) (default: digits for translated-"
             "digits, digits and synthetic, fashion for fashion-mnist, "
             "mnist and mnist-5k, paper otherwise)")
    tune.add_argument('--epochs', type=int, help='fine-tuning epochs')
    tune.add_argument('--lr', type=float, help='initial learning rate')
    tune.add_argument('--momentum', type=float)
    tune.add_argument('--weight-decay', type=float)
    tune.add_argument('--milestones', metavar='E[,E...]',
                      help="epochs after which lr is multiplied by --gamma; "
                           "'none' for a constant rate")
    tune.add_argument('--gamma', type=float)
    tune.add_argument('--train-batch-size', type=int, metavar='B',
                      help='fine-tuning batch size')
    tune.add_argument(
        '--finetune-seeds', metavar='S[,S...]',
        help='fine-tune every model once per seed and report the mean and '
             'standard deviation of the accuracy change (default: once, '
             'with --seed)')
    tune.add_argument(
        '--threads', type=int, metavar='N',
        help='CPU threads for the whole run, restored afterwards; training '
             'sums depend on the count, so fix it to repeat a run exactly '
             '(default: unchanged)')
    common.add_runtime_arguments(
        parser, seed_help='the seed of the sample draws (repeat r uses seed '
                          '+ r) and of the fine-tuning (default: '
                          '%(default)s)')
    out = parser.add_argument_group('output')
    out.add_argument('--save-models', action='store_true',
                     help="also write every fine-tuned pruned model's "
                          "state_dict as <label>.pt")
    common.add_output_arguments(parser)
    return parser


def make_config(args: argparse.Namespace) -> Any:
    r"""The fine-tuning :class:`~pyg_dnnmod.training.TrainConfig` of
    ``--recipe`` with the options given on top; the seed is ``--seed``."""
    from pyg_dnnmod.pretrained import (
        default_finetune_recipe,
        finetune_config,
    )

    recipe = args.recipe or default_finetune_recipe(args.dataset)
    values: Dict[str, Any] = {}
    for field, option in _CONFIG_OPTIONS.items():
        value = getattr(args, option[2:].replace('-', '_'))
        if value is not None and field not in ('milestones', 'seed'):
            values[field] = value
    if args.milestones is not None:
        text = args.milestones.strip()
        values['milestones'] = () if text in ('', 'none') else tuple(
            common.parse_int_list(text, '--milestones', 1))
    values['seed'] = args.seed
    try:
        return finetune_config(recipe, **values), recipe
    except (TypeError, ValueError) as e:
        message = common.one_line(e)
        for field, option in _CONFIG_OPTIONS.items():
            message = message.replace(f"'{field}'", option)
        raise CLIError(f"bad fine-tuning option: {message}") from e


def finetune_seeds(args: argparse.Namespace) -> Any:
    r"""The seeds of ``--finetune-seeds`` as a list, or :obj:`None`."""
    if args.finetune_seeds is None:
        return None
    return common.parse_int_list(args.finetune_seeds, '--finetune-seeds', 0)


def make_selector(args: argparse.Namespace) -> Any:
    r"""The selector of ``--selector``
    (:func:`~pyg_dnnmod.pruning.get_selector`) with its options, or
    :obj:`None` when ``--remove`` names the layers."""
    from pyg_dnnmod.pruning import get_selector, selector_options

    if args.remove is not None:
        if args.selector is not None:
            raise CLIError("pass either --remove or --selector, not both")
        return None
    name = args.selector or 'gain'
    options = {key: getattr(args, key) for key in selector_options(name)}
    for key, value in options.items():
        if value is None:
            raise CLIError(f"--selector {name} needs --{key}, "
                           f"{_REQUIRED_HELP.get(key, 'see --help')}")
    try:
        return get_selector(name, **options)
    except (TypeError, ValueError) as e:
        message = common.one_line(e)
        for field in options:
            message = message.replace(f"'{field}'",
                                      '--' + field.replace('_', '-'))
        raise CLIError(message) from e


def selection_slug(args: argparse.Namespace) -> str:
    r"""The selection part of the default folder name, e.g.
    :obj:`gain0.01`, :obj:`budget3`, :obj:`layers` or :obj:`sweep`."""
    if args.one_at_a_time:
        return 'sweep-cumulative' if args.cumulative else 'sweep'
    if args.remove is not None:
        return 'layers'
    from pyg_dnnmod.pruning import selector_options

    name = args.selector or 'gain'
    # The selector's first option: tau, eps or m.
    value = getattr(args, next(iter(selector_options(name))))
    return f'{name}{common.slug(value)}'


def run_name(args: argparse.Namespace) -> str:
    r"""The default folder name, e.g.
    :obj:`prune-digits_deep_cnn-translated-digits-gain0.01` (then
    :obj:`-ckpt-<stem>` with ``--checkpoint``)."""
    return '-'.join([NAME, common.slug(args.model), args.dataset,
                     selection_slug(args)] + common.checkpoint_part(args))


def resolve_trained_model(args: argparse.Namespace, data: Any,
                          progress: bool) -> Any:
    r"""The trained model: a checkpoint, the cached default digits_cnn, or
    any other registered model on the translated digits trained once with
    the default recipe and cached
    (:func:`~pyg_dnnmod.pretrained.pretrained_digits_model`, for the
    models :func:`~pyg_dnnmod.pretrained.takes_digits` accepts)."""
    from pyg_dnnmod.pretrained import pretrained_digits_model, takes_digits

    spec = args.model.strip()
    if (args.checkpoint is None and common.model_kind(spec) == 'name'
            and spec.lower() != common.DEFAULT_MODEL
            and data.name == common.DEFAULT_DATASET
            and args.num_classes in (None, data.num_classes)
            and takes_digits(spec)):
        model, stored = pretrained_digits_model(spec, progress=progress)
        common.check_model_input(model, data, spec)
        return model.eval(), dict(
            spec=spec, kind='name', init='trained',
            weights=f"trained on the translated digits (default recipe, "
                    f"{stored.get('epochs')} epochs)",
            cached=bool(stored.get('cached')), path=stored.get('path'),
            key=stored.get('key'), test_acc=stored.get('test_acc'),
            train_seconds=stored.get('seconds'))
    return common.resolve_model(args, data, random_init=False,
                                progress=progress)


def _check_options(args: argparse.Namespace) -> List[str]:
    common.check_positive(args.num_samples, '--num-samples')
    common.check_positive(args.k, '--k')
    common.check_positive(args.repeats, '--repeats')
    common.check_positive(args.batch_size, '--batch-size')
    common.check_positive(args.max_steps, '--max-steps')
    common.check_positive(args.threads, '--threads')
    if args.k >= args.num_samples:
        raise CLIError(f"--k {args.k} must be smaller than --num-samples "
                       f"{args.num_samples}; lower --k or raise "
                       f"--num-samples")
    if not args.one_at_a_time:
        for option in ('cumulative', 'max_steps'):
            if getattr(args, option) not in (None, False):
                raise CLIError(f"--{option.replace('_', '-')} belongs to "
                               f"--one-at-a-time; add it or drop the option")
    elif args.control or args.selector is not None:
        raise CLIError("--one-at-a-time removes every removable layer (or "
                       "--remove) in turn; drop --control and --selector")
    if args.remove is None:
        return []
    names = [n.strip() for n in args.remove.split(',') if n.strip()]
    if not names:
        raise CLIError(f"--remove must name at least one layer (got "
                       f"{args.remove!r})")
    return names


def _format(table: Any) -> str:
    shown = table[list(_SHOWN)].copy()
    shown['removed'] = [r if len(r) <= 40 else r[:37] + '...'
                        for r in shown['removed']]
    return shown.to_string(index=False, float_format=lambda v: f'{v:.3f}')


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from pyg_dnnmod.experiments.pruning import (
        layer_removal_sweep,
        pruning_experiment,
    )
    from pyg_dnnmod.snapshots import SnapshotConfig

    timer = common.Timer()
    names = _check_options(args)
    selector = make_selector(args) if not args.one_at_a_time else None
    config, recipe = make_config(args)
    seeds = finetune_seeds(args)
    progress = common.show_progress(args)
    device = common.resolve_device(args.device)
    out = common.plan_output(args.out, run_name(args), args.overwrite)

    with timer('data'):
        train = common.load_data(args.dataset, args.data_root, 'train',
                                 args.model,
                                 image_size=args.image_size)
        test = common.load_data(args.dataset, args.data_root, 'test',
                                args.model,
                                image_size=args.image_size)
    common.check_samples(test.labels, [args.num_samples], True, test,
                         unbalanced_option=False)
    with timer('model'):
        model, model_info = resolve_trained_model(args, test, progress)

    def as_data(source: Any) -> Any:
        import torch
        if isinstance(source.inputs, torch.Tensor):
            return source.inputs, source.labels
        return source.inputs

    snapshots = SnapshotConfig(k=args.k, num_samples=args.num_samples,
                               seed=args.seed, metric=args.metric,
                               batch_size=args.batch_size)
    shared = dict(config=config, snapshot_config=snapshots,
                  repeats=args.repeats, adapt=args.adapt,
                  finetune_original=args.finetune_original,
                  finetune_seeds=seeds, num_threads=args.threads,
                  input_shape=test.input_shape, device=device,
                  progress=progress)
    with timer('prune'), common.options_named(remove='--remove'):
        if args.one_at_a_time:
            result = layer_removal_sweep(
                model, as_data(train), as_data(test), remove=names or None,
                cumulative=args.cumulative, max_steps=args.max_steps,
                pruned_curves=args.cumulative, **shared)
        else:
            result = pruning_experiment(
                model, as_data(train), as_data(test), selector=selector,
                remove=names or None, control=args.control, **shared)
        summary = result.summary()
    table = result.table

    with timer('plot'):
        from pyg_dnnmod.plotting import plot_pruning_report, save_figure
        title = args.model
        if model_info.get('test_acc'):
            title += f" (test acc {100 * model_info['test_acc']:.1f} %)"
        fig = plot_pruning_report(summary, table, result.correlation,
                                  model=title, data=f'{test.title} (test)')

    histories = pd.concat(
        [h.assign(model=label) for label, h in result.histories.items()],
        ignore_index=True) if result.histories else pd.DataFrame()
    removed = {str(r['model']): [n for n in str(r['removed']).split(', ')
                                 if n]
               for _, r in table.iterrows()}
    record: Dict[str, Any] = dict(
        model=model_info, data=dict(train=train.describe(),
                                    test=test.describe()),
        selection=('one at a time' + (' (cumulative)' if args.cumulative
                                      else '')
                   if args.one_at_a_time else
                   repr(selector) if selector is not None else 'given layers'),
        removed=removed, recipe=recipe, config=config.to_dict(),
        finetune_seeds=seeds if seeds is not None else [config.seed],
        num_threads=args.threads, correlation=result.correlation,
        sample_seeds=[args.seed + r for r in range(args.repeats)],
        FLOPs='2 x MACs (thop counts multiply-accumulates)')
    writers = {
        'pruning.csv': lambda p: table.to_csv(p, index=False),
        'modularity.csv': lambda p: result.curves.to_csv(p, index=False),
        'summary.csv': lambda p: summary.to_csv(p, index=False),
        'finetune_history.csv': lambda p: histories.to_csv(p, index=False),
        'pruning.png': lambda p: save_figure(fig, p),
    }
    if args.save_models:
        import torch
        for label, pruned in result.models.items():
            writers[f'{common.slug(label)}.pt'] = (
                lambda p, m=pruned: torch.save(
                    {k: v.cpu() for k, v in m.state_dict().items()}, p))
    writers[common.RUN_JSON] = lambda p: common.write_json(
        common.run_record(NAME, args, timer.total(), device,
                          output=str(out), **record), p)
    with timer('write'):
        paths = common.write_outputs(out, writers, args.overwrite)

    weights = model_info.get('weights', '')
    if model_info.get('cached') is not None:
        weights += ' (cached)' if model_info.get('cached') else \
            ' (trained now, cached for the next run)'
    runs = '' if seeds is None else f", mean of seeds {args.finetune_seeds}"
    print(f"{args.model}, {weights}; fine-tuned with the {recipe} recipe "
          f"({config.epochs} epoch{'s' if config.epochs != 1 else ''}, lr "
          f"{config.lr:g}{runs}) on {train.title}; accuracy in % on the "
          f"test half, FLOPs = 2 x MACs")
    print(_format(table))
    c = result.correlation
    if c['n'] >= 3 and c['pearson'] == c['pearson']:
        print(f"\naccuracy change vs modularity gain over {c['n']} pruned "
              f"models: Pearson r = {c['pearson']:+.3f} (p = "
              f"{c['pearson_p']:.3f}), Spearman rho = {c['spearman']:+.3f} "
              f"(p = {c['spearman_p']:.3f})")
    print()
    for path in paths:
        print(f'wrote {path}')
    return 0
