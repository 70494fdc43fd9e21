r"""What the ``pyg-dnnmod`` commands share: the options for model, data,
runtime and output, their resolution into tensors and modules, the output
folder written all at once, and ``run.json``.

Every failure a person can act on is raised as :class:`CLIError`, whose
message is one line naming the problem and the fix; :func:`pyg_dnnmod.cli.main`
prints it and exits with code 2. Heavy imports (torch, the models, the data)
happen inside the functions, so that building the parser stays cheap.
"""
import argparse
import errno
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

#: The names ``--dataset`` accepts.
DATASETS = ('translated-digits', 'digits', 'cifar10', 'cifar100',
            'imagenet50', 'synthetic')
#: The similarities ``--metric`` accepts.
METRICS = ('cosine', 'pearson', 'euclidean', 'dot')
#: The default model: :class:`~pyg_dnnmod.models.DigitsCNN`.
DEFAULT_MODEL = 'digits_cnn'
#: The default data: the translated digits of DESIGN.md section 5.
DEFAULT_DATASET = 'translated-digits'
#: Where outputs go without ``--out``: ``./pyg_dnnmod_out/<run-name>/``.
OUTPUT_ROOT = 'pyg_dnnmod_out'
#: The file that marks a folder as a ``pyg-dnnmod`` output.
RUN_JSON = 'run.json'

_TITLES = {
    'translated-digits': 'translated digits',
    'digits': 'digits',
    'cifar10': 'CIFAR-10',
    'cifar100': 'CIFAR-100',
    'imagenet50': 'ImageNet50',
    'synthetic': 'synthetic clusters',
}
_SYNTHETIC_PER_CLASS = 100
_SYNTHETIC_CLASSES = 10


class CLIError(Exception):
    r"""An error a person can act on: the message names the problem and the
    fix in one line; the command exits with code 2."""


# -- options ---------------------------------------------------------------

def add_model_arguments(parser: argparse.ArgumentParser,
                        checkpoint: bool = True,
                        random_init: bool = True) -> Any:
    r"""Adds ``--model``, ``--checkpoint``, ``--random-init`` and
    ``--num-classes``; returns their argument group."""
    group = parser.add_argument_group('model')
    group.add_argument(
        '--model', default=DEFAULT_MODEL, metavar='NAME',
        help="this project's model by name (e.g. digits_cnn, vgg16, "
             "resnet56; see pyg_dnnmod.models.list_models()), "
             "'torchvision:<name>' (built with weights=None, nothing is "
             "downloaded, normalisation of --dataset inside) or "
             "'package.module:factory' (an importable function called with "
             "no arguments that returns the model, inputs in [0, 1]) "
             "(default: %(default)s)")
    if checkpoint:
        group.add_argument(
            '--checkpoint', metavar='FILE',
            help="weights to load: an epoch_XXX.pt of 'pyg-dnnmod train' or "
                 "a state_dict file (loaded with weights_only=True). Without "
                 "it, only the default (digits_cnn on translated-digits, "
                 "trained once and cached) has trained weights")
    if random_init:
        group.add_argument(
            '--random-init', action='store_true',
            help='use the model at random initialisation (seeded by --seed)')
    group.add_argument(
        '--num-classes', type=int, metavar='C',
        help="the model's number of outputs (default: the dataset's)")
    return group


def add_data_arguments(parser: argparse.ArgumentParser,
                       split: Optional[str] = 'test') -> None:
    r"""Adds ``--dataset``, ``--data-root`` and (if :obj:`split`)
    ``--split``."""
    group = parser.add_argument_group('data')
    group.add_argument(
        '--dataset', default=DEFAULT_DATASET, choices=DATASETS,
        help="translated-digits: scikit-learn's digits at random offsets in "
             "16x16 (offline); digits: the plain 8x8 digits; cifar10, "
             "cifar100: the python pickles under --data-root; imagenet50: "
             "the paper's 50 classes from an ImageNet folder under "
             "--data-root; synthetic: Gaussian class clusters shaped as the "
             "model's input, for quick runs without data "
             "(default: %(default)s)")
    group.add_argument(
        '--data-root', metavar='DIR',
        help="the folder holding cifar-10-batches-py/, cifar-100-python/ or "
             "the ImageNet split folders (val/<wnid>/...); nothing is "
             "downloaded")
    if split is not None:
        group.add_argument(
            '--split', default=split, choices=('train', 'test'),
            help="which half of the data to read (ImageNet50: test is the "
                 "'val' folder) (default: %(default)s)")


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
    group.add_argument('--progress', action=argparse.BooleanOptionalAction,
                       default=None,
                       help='progress bars on stderr (default: when stderr '
                            'is a terminal)')
    return group


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
        pyg_dnnmod.cli._common.CLIError: --k must be an integer or a ...
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
    if len(set(values)) != len(values):
        raise CLIError(f"{option} lists a value more than once "
                       f"(got {str(text)!r})")
    return values


def parse_choice_list(text: str, option: str,
                      choices: Sequence[str]) -> List[str]:
    r"""Parses :obj:`"cosine,pearson"`, every value one of :obj:`choices`.

    Example:
        >>> parse_choice_list('cosine,pearson', '--metric', METRICS)
        ['cosine', 'pearson']
    """
    values = [t.strip() for t in str(text).split(',')]
    bad = [v for v in values if v not in choices]
    if bad:
        raise CLIError(f"{option} must be one or more of "
                       f"{', '.join(choices)} separated by commas "
                       f"(got {str(text)!r})")
    if len(set(values)) != len(values):
        raise CLIError(f"{option} lists a value more than once "
                       f"(got {str(text)!r})")
    return values


def parse_layers(text: Optional[str]) -> Any:
    r"""Parses ``--layers``: nothing or :obj:`"all"` for the default layers,
    one integer :math:`n` for the last :math:`n` of them, comma-separated
    integers for indices into them (negative from the end), otherwise
    comma-separated module names.

    Example:
        >>> parse_layers('2'), parse_layers('0,-1'), parse_layers('a.0,b')
        (2, [0, -1], ['a.0', 'b'])
    """
    if text is None or text.strip() in ('', 'all'):
        return None
    items = [t.strip() for t in text.split(',') if t.strip()]
    try:
        numbers = [int(t) for t in items]
    except ValueError:
        return items
    return numbers[0] if len(items) == 1 and ',' not in text else numbers


def check_positive(value: int, option: str, minimum: int = 1) -> int:
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


def one_line(text: str) -> str:
    r"""Collapses all whitespace, newlines included.

    Example:
        >>> one_line('a\n  b ')
        'a b'
    """
    return ' '.join(str(text).split())


def slug(text: str) -> str:
    r"""A file-name-safe form of :obj:`text`.

    Example:
        >>> slug('torchvision:resnet18'), slug('my.models:build')
        ('torchvision-resnet18', 'my.models-build')
    """
    return re.sub(r'[^A-Za-z0-9_.-]+', '-', str(text)).strip('-.') or 'run'


def values_slug(values: Sequence[Any]) -> str:
    r"""Example:
        >>> values_slug([100, 300])
        '100-300'
    """
    return '-'.join(slug(v) for v in values)


# -- device ----------------------------------------------------------------

def resolve_device(spec: str) -> Any:
    r"""``--device`` as a :class:`torch.device`: :obj:`"auto"` is CUDA when
    available, else the CPU."""
    import torch

    if spec == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError):
        raise CLIError(f"--device must be 'auto', 'cpu', 'cuda' or "
                       f"'cuda:N' (got {spec!r})") from None
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise CLIError(f"--device {spec}: CUDA is not available on this "
                           f"machine; use --device cpu (or auto)")
        if device.index is not None and \
                device.index >= torch.cuda.device_count():
            raise CLIError(f"--device {spec}: this machine has "
                           f"{torch.cuda.device_count()} CUDA device(s); "
                           f"use an index below that")
    elif device.type != 'cpu':
        raise CLIError(f"--device must be 'auto', 'cpu', 'cuda' or 'cuda:N' "
                       f"(got {spec!r})")
    return device


# -- data ------------------------------------------------------------------

@dataclass
class DataSource:
    r"""A labelled image source resolved from ``--dataset``."""
    name: str
    title: str
    split: str
    inputs: Any  # a tensor [M, C, H, W] or a Dataset of (x, label)
    labels: Any  # a long tensor [M]
    num_classes: int
    input_shape: Tuple[int, ...]
    mean: Optional[Tuple[float, ...]] = None
    std: Optional[Tuple[float, ...]] = None
    info: Dict[str, Any] = field(default_factory=dict)

    def describe(self) -> Dict[str, Any]:
        return dict(name=self.name, title=self.title, split=self.split,
                    num_samples=int(self.labels.numel()),
                    num_classes=self.num_classes,
                    input_shape=list(self.input_shape), **self.info)


def _require_root(name: str, root: Optional[str]) -> Path:
    expected = {'cifar10': 'cifar-10-batches-py/',
                'cifar100': 'cifar-100-python/',
                'imagenet50': 'val/<wnid>/ and train/<wnid>/'}[name]
    if root is None:
        raise CLIError(f"--dataset {name} reads a local copy: pass "
                       f"--data-root DIR, the folder holding {expected} "
                       f"(nothing is downloaded)")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise CLIError(f"--data-root '{root}' is not a folder; point it at "
                       f"the folder holding {expected} for --dataset {name}")
    return path


def synthetic_shape(model_spec: str) -> Tuple[int, int, int]:
    r"""The image shape of ``--dataset synthetic``: the input shape of a
    registered model, :obj:`(3, 32, 32)` for any other."""
    from pyg_dnnmod.models import get_input_shape
    if ':' not in model_spec:
        try:
            return tuple(get_input_shape(model_spec))
        except (ValueError, TypeError):
            pass
    return (3, 32, 32)


def load_data(name: str, root: Optional[str] = None, split: str = 'test',
              model_spec: str = DEFAULT_MODEL) -> DataSource:
    r"""Resolves ``--dataset`` (and ``--data-root``, ``--split``) into a
    :class:`DataSource`.

    * ``translated-digits``: :func:`pyg_dnnmod.pretrained.digits_data`, the
      halves the default model was trained (train) and is analysed (test) on;
    * ``digits``: the plain 8x8 digits, the same stratified halves;
    * ``cifar10`` / ``cifar100``: the python pickles under ``--data-root``
      (test: the 10,000 test images);
    * ``imagenet50``: the paper's 50 classes under ``--data-root`` (test:
      ``val/``), read lazily;
    * ``synthetic``: 100 samples per class of 10 Gaussian clusters
      (:func:`~pyg_dnnmod.datasets.make_gaussian_clusters`, separation
      :math:`\sqrt{D}`, the noise's norm) shaped as the model's input; the
      train and test halves use seeds 1 and 0.
    """
    from pyg_dnnmod import datasets as ds

    if name not in DATASETS:
        raise CLIError(f"--dataset must be one of {', '.join(DATASETS)} "
                       f"(got {name!r})")
    title = _TITLES[name]
    train = split == 'train'
    if name == 'translated-digits':
        from pyg_dnnmod.pretrained import DIGITS_DATA, digits_data
        x, y = digits_data(split)
        return DataSource(name, title, split, x, y, 10, tuple(x.shape[1:]),
                          ds.TRANSLATED_DIGITS_MEAN, ds.TRANSLATED_DIGITS_STD,
                          info=dict(DIGITS_DATA))
    if name == 'digits':
        x, y = ds.load_digits_images(translated=False, split=split,
                                     test_fraction=0.5, seed=0)
        return DataSource(name, title, split, x, y, 10, tuple(x.shape[1:]),
                          ds.DIGITS_MEAN, ds.DIGITS_STD,
                          info=dict(test_fraction=0.5, seed=0))
    if name in ('cifar10', 'cifar100'):
        path = _require_root(name, root)
        loader = ds.load_cifar10 if name == 'cifar10' else ds.load_cifar100
        try:
            x, y = loader(path, train=train)
        except FileNotFoundError as e:
            raise CLIError(f"--data-root: {one_line(e)}") from e
        mean, std = ((ds.CIFAR10_MEAN, ds.CIFAR10_STD) if name == 'cifar10'
                     else (ds.CIFAR100_MEAN, ds.CIFAR100_STD))
        return DataSource(name, title, split, x, y,
                          10 if name == 'cifar10' else 100,
                          tuple(x.shape[1:]), mean, std,
                          info=dict(root=str(path)))
    if name == 'imagenet50':
        path = _require_root(name, root)
        folder = 'train' if train else 'val'
        try:
            dataset = ds.ImageNet50(path, split=folder)
        except FileNotFoundError as e:
            raise CLIError(f"--data-root: {one_line(e)}") from e
        return DataSource(name, title, split, dataset, dataset.targets, 50,
                          (3, dataset.crop, dataset.crop), ds.IMAGENET_MEAN,
                          ds.IMAGENET_STD,
                          info=dict(root=str(path), folder=folder))
    # synthetic
    import math
    shape = synthetic_shape(model_spec)
    dim = math.prod(shape)
    x, y = ds.make_gaussian_clusters(
        _SYNTHETIC_PER_CLASS * _SYNTHETIC_CLASSES, _SYNTHETIC_CLASSES,
        dim=max(dim, _SYNTHETIC_CLASSES), separation=math.sqrt(dim),
        seed=1 if train else 0)
    return DataSource(name, title, split, x[:, :dim].reshape(-1, *shape), y,
                      _SYNTHETIC_CLASSES, shape,
                      info=dict(separation=math.sqrt(dim),
                                seed=1 if train else 0))


# -- model -----------------------------------------------------------------

def model_kind(spec: str) -> str:
    r""":obj:`"torchvision"`, :obj:`"factory"` or :obj:`"name"`.

    Example:
        >>> model_kind('vgg16'), model_kind('torchvision:resnet18')
        ('name', 'torchvision')
        >>> model_kind('my_pkg.nets:build')
        'factory'
    """
    if ':' not in spec:
        return 'name'
    return 'torchvision' if spec.split(':', 1)[0] == 'torchvision' \
        else 'factory'


def is_embedded_default(args: argparse.Namespace, data: DataSource) -> bool:
    r"""Whether the run uses the embedded default model: digits_cnn on the
    translated digits, without a checkpoint or another class count."""
    return (args.model.strip().lower() == DEFAULT_MODEL
            and data.name == DEFAULT_DATASET
            and getattr(args, 'checkpoint', None) is None
            and args.num_classes in (None, data.num_classes))


def build_model(spec: str, data: DataSource, num_classes: Optional[int],
                seed: int = 0) -> Any:
    r"""A freshly initialised model for ``--model`` (the random draw seeded
    by :obj:`seed`), taking inputs in :math:`[0, 1]` with the data's
    normalisation inside. A factory is called as it is."""
    import torch

    num_classes = num_classes or data.num_classes
    kind = model_kind(spec)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if kind == 'name':
            return _build_named(spec, data, num_classes)
        if kind == 'torchvision':
            return _build_torchvision(spec, data, num_classes)
        return _build_factory(spec)


def _build_named(spec: str, data: DataSource, num_classes: int) -> Any:
    from pyg_dnnmod.models import get_model

    if spec.strip().lower() == DEFAULT_MODEL and \
            data.name == DEFAULT_DATASET and num_classes == 10:
        from pyg_dnnmod.pretrained import DIGITS_RECIPE
        from pyg_dnnmod.datasets import (
            TRANSLATED_DIGITS_MEAN,
            TRANSLATED_DIGITS_STD,
        )
        # The embedded default's exact architecture (pretrained.digits_model).
        return get_model(DEFAULT_MODEL, width=DIGITS_RECIPE['width'],
                         mean=TRANSLATED_DIGITS_MEAN,
                         std=TRANSLATED_DIGITS_STD)
    kwargs = dict(num_classes=num_classes, in_channels=data.input_shape[0],
                  mean=data.mean, std=data.std)
    try:
        if len(data.input_shape) == 3 and data.input_shape[1] != 32:
            try:
                return get_model(spec, input_size=data.input_shape[1],
                                 **kwargs)
            except TypeError as e:
                if 'input_size' not in str(e):
                    raise
        return get_model(spec, **kwargs)
    except ValueError as e:
        if str(e).startswith('Unknown model'):
            raise CLIError(f"--model: {one_line(e)}; or use "
                           f"'torchvision:<name>' or "
                           f"'package.module:factory'") from e
        raise CLIError(f"--model {spec}: {one_line(e)}; choose a model "
                       f"made for the {data.title} inputs "
                       f"{list(data.input_shape)} or another "
                       f"--dataset") from e


def _build_torchvision(spec: str, data: DataSource, num_classes: int) -> Any:
    from pyg_dnnmod.models import NormalizedModel
    from pyg_dnnmod.typing import WITH_TORCHVISION

    if not WITH_TORCHVISION:
        raise CLIError(f"--model {spec} needs a working torchvision; "
                       f"install the 'vision' extra (pip install "
                       f"'pyg_dnnmod[vision]')")
    import torchvision

    name = spec.split(':', 1)[1]
    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        import difflib
        close = difflib.get_close_matches(name, available, n=3)
        hint = (f" Did you mean {', '.join(map(repr, close))}?"
                if close else '')
        raise CLIError(f"--model {spec}: torchvision has no model "
                       f"'{name}'.{hint} Its models: "
                       f"{', '.join(sorted(available)[:40])}, ...")
    try:
        net = torchvision.models.get_model(name, weights=None,
                                           num_classes=num_classes)
    except (TypeError, ValueError) as e:
        raise CLIError(f"--model {spec}: {one_line(e)}") from e
    return NormalizedModel(net, data.mean, data.std)


def _build_factory(spec: str) -> Any:
    import importlib

    from torch import nn

    module_name, _, attr = spec.partition(':')
    if not module_name or not attr:
        raise CLIError(f"--model must be a name, 'torchvision:<name>' or "
                       f"'package.module:factory' (got {spec!r})")
    if '' not in sys.path and os.getcwd() not in sys.path:
        # As 'python -m' does, so that a module in the working folder is
        # found by the console script too.
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise CLIError(f"--model {spec}: cannot import '{module_name}' "
                       f"({one_line(e)}); put it on PYTHONPATH or run from "
                       f"the folder that holds it") from e
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise CLIError(f"--model {spec}: '{module_name}' has no callable "
                       f"'{attr}'; name a function that returns the model")
    model = factory()
    if not isinstance(model, nn.Module):
        raise CLIError(f"--model {spec}: '{attr}()' returned a "
                       f"{type(model).__name__}, not a torch.nn.Module")
    return model


def reinitialize(model: Any, seed: int = 0) -> Any:
    r"""Resets every module that has :obj:`reset_parameters` (seeded): the
    random init of a factory's model (custom initialisations of the factory
    are not repeated)."""
    import copy

    import torch
    model = copy.deepcopy(model)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for module in model.modules():
            if hasattr(module, 'reset_parameters'):
                module.reset_parameters()
    return model


def load_weights(model: Any, path: str, spec: str) -> Dict[str, Any]:
    r"""Loads ``--checkpoint`` into :obj:`model` (a bare torchvision
    state_dict also fits a wrapped torchvision model)."""
    from pyg_dnnmod.models import NormalizedModel
    from pyg_dnnmod.training import load_checkpoint

    if not Path(path).is_file():
        raise CLIError(f"--checkpoint '{path}' does not exist; pass a file "
                       f"written by 'pyg-dnnmod train' (epoch_XXX.pt) or a "
                       f"state_dict")
    try:
        try:
            checkpoint = load_checkpoint(model, path)
        except ValueError:
            if not isinstance(model, NormalizedModel):
                raise
            try:
                checkpoint = load_checkpoint(model.model, path)
            except ValueError:
                checkpoint = load_checkpoint(model, path)
    except ValueError as e:
        raise CLIError(f"--checkpoint: {one_line(e)}. Pass the --model (and "
                       f"--dataset or --num-classes) it was trained with "
                       f"(--model is {spec})") from e
    info = {'checkpoint': str(path)}
    if isinstance(checkpoint.get('epoch'), int):
        info['epoch'] = checkpoint['epoch']
    history = checkpoint.get('history')
    if isinstance(history, list) and history and \
            isinstance(history[-1], dict) and 'test_acc' in history[-1]:
        info['test_acc'] = float(history[-1]['test_acc'])
    return info


def check_model_input(model: Any, data: DataSource, spec: str) -> None:
    r"""Runs two samples through the model, so that a model that cannot take
    the data fails here with a clear message."""
    import torch

    from pyg_dnnmod.experiments import take_samples

    x = take_samples(data.inputs, torch.arange(min(2, data.labels.numel())))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    except Exception as e:  # noqa: BLE001 - any failure of a foreign model
        raise CLIError(
            f"--model {spec} cannot take the {data.title} inputs of shape "
            f"{list(data.input_shape)} ({type(e).__name__}: "
            f"{one_line(str(e).splitlines()[0] if str(e) else '')}); choose "
            f"a model made for that input or another --dataset") from e
    finally:
        model.train(was_training)


def resolve_model(args: argparse.Namespace, data: DataSource,
                  random_init: bool = False,
                  progress: bool = False) -> Tuple[Any, Dict[str, Any]]:
    r"""The model of ``--model`` / ``--checkpoint`` / ``--random-init`` in
    eval mode, and what it is (for ``run.json``).

    The embedded default (digits_cnn on translated-digits, no checkpoint)
    is :func:`pyg_dnnmod.pretrained.pretrained_digits_cnn`: trained once on
    the CPU (progress bar on stderr) and cached. Any other model needs
    ``--checkpoint`` for trained weights, or ``--random-init``.
    """
    spec = args.model.strip()
    check_positive(args.num_classes, '--num-classes')
    checkpoint = getattr(args, 'checkpoint', None)
    info: Dict[str, Any] = dict(spec=spec, kind=model_kind(spec))
    if random_init:
        model = build_model(spec, data, args.num_classes, seed=args.seed)
        if info['kind'] == 'factory':
            model = reinitialize(model, args.seed)
        info.update(init='random', weights=f'random init (seed {args.seed})')
    elif checkpoint is not None:
        model = build_model(spec, data, args.num_classes, seed=args.seed)
        info.update(load_weights(model, checkpoint, spec), init='trained',
                    weights='checkpoint')
    elif is_embedded_default(args, data):
        from pyg_dnnmod.pretrained import pretrained_digits_cnn
        model, stored = pretrained_digits_cnn(progress=progress)
        info.update(init='trained', weights='pretrained default',
                    cached=bool(stored.get('cached')),
                    path=stored.get('path'), key=stored.get('key'),
                    test_acc=stored.get('test_acc'),
                    train_seconds=stored.get('seconds'))
    elif info['kind'] == 'factory':
        model = build_model(spec, data, args.num_classes, seed=args.seed)
        info.update(init='trained', weights='as returned by the factory')
    else:
        build_model(spec, data, args.num_classes)  # an unknown name first
        hint = (" (the default digits_cnn is trained only for "
                "--dataset translated-digits)"
                if spec.lower() == DEFAULT_MODEL else '')
        raise CLIError(
            f"--model {spec} has no trained weights here{hint}: pass "
            f"--checkpoint FILE (e.g. written by 'pyg-dnnmod train --model "
            f"{spec} --dataset {data.name}') or --random-init for the "
            f"untrained model")
    check_model_input(model, data, spec)
    return model.eval(), info


def check_layers(model: Any, layers: Any, post_activation: bool,
                 args: argparse.Namespace) -> List[str]:
    r"""The selected layer names, or a :class:`CLIError` pointing at
    ``pyg-dnnmod layers``."""
    from pyg_dnnmod.features import select_layers

    try:
        return select_layers(model, layers, post_activation)
    except (ValueError, TypeError) as e:
        message = re.sub(r'\s*\(call list_layers\(model\)[^()]*\)', '',
                         one_line(e))
        raise CLIError(f"--layers {args.layers}: {message}; 'pyg-dnnmod "
                       f"layers --model {args.model} --dataset "
                       f"{args.dataset}' lists them") from e


def check_samples(labels: Any, sizes: Sequence[int], balanced: bool,
                  data: DataSource) -> None:
    r"""Fails early when ``--num-samples`` cannot be drawn."""
    from pyg_dnnmod.datasets import sample_indices

    total = int(labels.numel())
    for n in sizes:
        if n > total:
            raise CLIError(f"--num-samples {n} exceeds the {total} samples "
                           f"of {data.title} ({data.split} split); lower it")
        try:
            sample_indices(labels, n, balanced=balanced)
        except ValueError as e:
            message = one_line(e).replace("pass 'balanced=False'",
                                          'pass --unbalanced')
            raise CLIError(f"--num-samples {n}: {message}") from e


# -- output ----------------------------------------------------------------

def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path('.')


def _write_problem(folder: Path) -> Optional[str]:
    # Why nothing can be written into the existing :obj:`folder`, or None.
    if not folder.is_dir():
        return f"'{folder}' is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return os.strerror(errno.EACCES)
    try:
        # os.access does not see a read-only mount, nor what root may not do.
        with tempfile.NamedTemporaryFile(dir=folder,
                                         prefix='.pyg_dnnmod-probe-'):
            pass
    except OSError as e:
        return e.strerror or one_line(e)
    return None


def check_writable(path: Path, option: str = '--out',
                   replace: bool = True) -> None:
    r"""Fails before any work is done when the output folder :obj:`path`
    cannot be created and written: the nearest folder that exists (the
    parent of :obj:`path` with :obj:`replace`, where
    :func:`write_outputs` writes and renames) must be writable, and so must
    :obj:`path` itself if it exists. Nothing is left behind.

    Example:
        >>> check_writable(Path(sys.executable) / 'out')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyg_dnnmod.cli._common.CLIError: --out '...out': cannot write there...
    """
    path = Path(path)
    folders = [path] if path.is_dir() else []
    if replace or not folders:
        folders.append(_nearest_existing(path.parent))
    for folder in folders:
        problem = _write_problem(folder)
        if problem is not None:
            raise CLIError(f"{option} '{path}': cannot write there "
                           f"({problem}); pass a folder you can write to")


def run_name(command: str, args: argparse.Namespace, *extra: str) -> str:
    r"""The default output folder name of a command that reads one model
    on one data set: command, model, data, N, k, :obj:`extra`, then the
    metric when it is not cosine and ``random`` for a random-init model."""
    parts = [command, slug(args.model), args.dataset,
             f'N{args.num_samples}', f'k{args.k}', *extra]
    if getattr(args, 'metric', 'cosine') != 'cosine':
        parts.append(args.metric)
    if getattr(args, 'random_init', False):
        parts.append('random')
    return '-'.join(parts)


def plan_output(out: Optional[str], run_name: str,
                overwrite: bool) -> Path:
    r"""The output folder, checked before any work is done.

    Without ``--out`` it is ``./pyg_dnnmod_out/<run_name>``, with ``-2``,
    ``-3``, ... appended while that folder exists (``--overwrite`` reuses
    the plain name instead). A given ``--out`` that exists and is not empty
    is an error unless ``--overwrite``; only a folder holding ``run.json``
    (one this tool wrote) is ever replaced. A folder that cannot be written
    (see :func:`check_writable`) is an error too.
    """
    if out is None:
        base = Path(OUTPUT_ROOT) / run_name
        path = base
        if not overwrite:
            counter = 2
            while path.exists() and not _is_empty_dir(path):
                path = base.with_name(f'{base.name}-{counter}')
                counter += 1
    else:
        path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise CLIError(f"--out '{path}' is a file; pass a folder")
    if path.exists() and not _is_empty_dir(path):
        if not overwrite:
            raise CLIError(f"output folder '{path}' already exists and is "
                           f"not empty; pass --overwrite to replace it or "
                           f"another --out")
        if not (path / RUN_JSON).is_file():
            raise CLIError(f"refusing to overwrite '{path}': it holds no "
                           f"{RUN_JSON}, so this tool did not write it; "
                           f"pass another --out")
    check_writable(path, '--out')
    return path


def write_outputs(path: Path, writers: Dict[str, Callable[[Path], None]],
                  overwrite: bool = False) -> List[Path]:
    r"""Writes every file of :obj:`writers` (file name to a function that
    writes that path) into a temporary folder next to :obj:`path` and
    renames it into place at the end, so the output folder appears complete
    or not at all."""
    path = Path(path)
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f'.{path.name}.tmp-{os.getpid()}'
    old = parent / f'.{path.name}.old-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name, write in writers.items():
            write(tmp / name)
        if path.exists():
            if _is_empty_dir(path):
                path.rmdir()
            elif overwrite and (path / RUN_JSON).is_file():
                os.replace(path, old)
            else:
                raise CLIError(f"output folder '{path}' appeared while this "
                               f"run was computing; pass another --out or "
                               f"--overwrite")
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return [path / name for name in writers]


def environment(device: Any = None) -> Dict[str, Any]:
    r"""Versions and the compute device, for ``run.json``."""
    import numpy
    import pandas
    import sklearn
    import torch
    import torch_geometric

    import pyg_dnnmod
    from pyg_dnnmod.typing import WITH_TORCHVISION

    versions = dict(python=platform.python_version(),
                    pyg_dnnmod=pyg_dnnmod.__version__,
                    torch=torch.__version__,
                    torch_geometric=torch_geometric.__version__,
                    numpy=numpy.__version__, pandas=pandas.__version__,
                    scikit_learn=sklearn.__version__)
    if WITH_TORCHVISION:
        import torchvision
        versions['torchvision'] = torchvision.__version__
    info: Dict[str, Any] = dict(versions=versions,
                                platform=platform.platform(),
                                torch_threads=torch.get_num_threads())
    if device is not None:
        device = torch.device(device)
        info['device'] = str(device)
        if device.type == 'cuda':
            info['device_name'] = torch.cuda.get_device_name(device)
            info['cuda'] = torch.version.cuda
        else:
            info['device_name'] = platform.processor() or platform.machine()
    return info


def run_record(command: str, args: argparse.Namespace,
               timings: Dict[str, float], device: Any = None,
               **extra: Any) -> Dict[str, Any]:
    r"""The content of ``run.json``: the command line, every parameter,
    versions, device, timings per stage and what :obj:`extra` adds."""
    params = {k: v for k, v in vars(args).items() if not k.startswith('_')}
    record: Dict[str, Any] = dict(
        command=command, argv=list(getattr(args, '_argv', sys.argv[1:])),
        params=params, seed=getattr(args, 'seed', None),
        finished=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
    record.update(environment(device))
    record['timings'] = {k: round(v, 3) for k, v in timings.items()}
    record.update(extra)
    return record


def write_json(record: Dict[str, Any], path: Path) -> None:
    r"""Writes :obj:`record` as indented JSON (anything else as text)."""
    path.write_text(json.dumps(record, indent=2, default=str) + '\n')


class Timer:
    r"""Wall time per stage, for ``run.json``.

    Example:
        >>> timer = Timer()
        >>> with timer('data'):
        ...     pass
        >>> sorted(timer.timings)
        ['data']
    """
    def __init__(self) -> None:
        self.timings: Dict[str, float] = {}
        self._start = time.perf_counter()

    def __call__(self, stage: str) -> '_Stage':
        return _Stage(self, stage)

    def total(self) -> Dict[str, float]:
        return dict(self.timings, total=time.perf_counter() - self._start)


class _Stage:
    def __init__(self, timer: Timer, stage: str) -> None:
        self.timer, self.stage = timer, stage

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.timer.timings[self.stage] = (self.timer.timings.get(self.stage,
                                                                  0.0)
                                          + time.perf_counter() - self.start)
