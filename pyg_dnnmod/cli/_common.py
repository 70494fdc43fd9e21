r"""What the ``pyg-dnnmod`` commands share, the one module a command
imports: the options (:mod:`~pyg_dnnmod.cli._options`), the output folder
and ``run.json`` (:mod:`~pyg_dnnmod.cli._output`), the error text
(:mod:`~pyg_dnnmod.cli._errors`), and the steps of a command that reads a
model on a data set (:func:`read_data`, :func:`read_model`).

The policy lives in the library: data sets by name
(:func:`pyg_dnnmod.datasets.load_dataset`), models by spec
(:func:`pyg_dnnmod.models.build_model`) and their weights
(:func:`pyg_dnnmod.pretrained.load_model`). The wrappers here only add what
a command line needs: the library's errors become a :class:`CLIError`
naming the option, and a factory module in the working folder is found as
with ``python -m``. Every failure a person can act on is raised as
:class:`CLIError`, whose message is one line naming the problem and the
fix; :func:`pyg_dnnmod.cli.main` prints it and exits with code 2.

The library is imported inside the functions, so that importing this
module (and building the parser) does not import torch.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
)

from pyg_dnnmod.cli._errors import (
    CLIError,
    name_options,
    one_line,
    options_named,
)
from pyg_dnnmod.cli._options import (
    DATASETS,
    DEFAULT_DATASET,
    DEFAULT_MODEL,
    METRICS,
    OUTPUT_ROOT,
    RECIPES,
    add_calibration_arguments,
    add_data_arguments,
    add_graph_arguments,
    add_layer_arguments,
    add_model_arguments,
    add_output_arguments,
    add_progress_argument,
    add_recipe_arguments,
    add_runtime_arguments,
    add_snapshot_arguments,
    check_permutations,
    check_positive,
    checkpoint_defaults,
    choice_values,
    given,
    int_values,
    layers_text,
    list_of,
    milestones,
    parse_choice_list,
    parse_float_list,
    parse_int_list,
    parse_layers,
    parse_names,
    show_progress,
    slug,
    values_slug,
)
from pyg_dnnmod.cli._output import (
    RUN_JSON,
    Timer,
    check_ours,
    check_writable,
    checkpoint_part,
    environment,
    finish,
    plan_output,
    print_written,
    run_name,
    run_record,
    write_json,
    write_outputs,
)

if TYPE_CHECKING:
    from pyg_dnnmod.datasets import DataSource

# DataSource and model_kind load on access (__getattr__).
__all__ = [  # noqa: F822
    'add_calibration_arguments',
    'check_permutations',
    'CLIError', 'one_line', 'name_options', 'options_named',
    'DATASETS', 'METRICS', 'OUTPUT_ROOT', 'RECIPES', 'RUN_JSON',
    'DEFAULT_MODEL', 'DEFAULT_DATASET', 'DataSource',
    'add_data_arguments', 'add_graph_arguments', 'add_layer_arguments',
    'add_model_arguments', 'add_output_arguments', 'add_progress_argument',
    'add_recipe_arguments', 'add_runtime_arguments', 'add_snapshot_arguments',
    'check_positive', 'checkpoint_defaults', 'given', 'checkpoint_part',
    'choice_values', 'int_values', 'layers_text',
    'list_of', 'milestones', 'parse_choice_list', 'parse_float_list',
    'parse_int_list', 'parse_layers', 'parse_names', 'show_progress',
    'slug', 'values_slug',
    'Timer', 'check_ours', 'check_writable', 'environment', 'finish',
    'plan_output', 'print_written', 'run_name', 'run_record', 'write_json',
    'write_outputs',
    'resolve_device', 'synthetic_shape', 'load_data', 'build_model',
    'resolve_model', 'check_model_input', 'model_kind', 'check_layers',
    'check_samples', 'check_graph_arguments', 'read_data', 'read_model',
    'model_title',
    'make_config',
]

#: The names of :data:`__all__` that are the library's, imported on first
#: access (:func:`__getattr__`).
_LIBRARY = {'DataSource': 'pyg_dnnmod.datasets',
            'model_kind': 'pyg_dnnmod.models'}


def __getattr__(name: str) -> Any:
    if name in _LIBRARY:
        import importlib
        return getattr(importlib.import_module(_LIBRARY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The options of the arguments of the library's data and model functions.
_MODEL_OPTIONS = dict(spec='--model', data='--dataset',
                      checkpoint='--checkpoint', random_init='--random-init',
                      num_classes='--num-classes')
#: The fields of :class:`~pyg_dnnmod.training.TrainConfig`, each an option.
_TRAIN_FIELDS = ('epochs', 'batch_size', 'lr', 'momentum', 'weight_decay',
                 'nesterov', 'milestones', 'gamma', 'seed',
                 'eval_batch_size', 'num_workers', 'optimizer')


# -- device ------------------------------------------------------------------

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


# -- data and model ----------------------------------------------------------

def synthetic_shape(model_spec: str) -> Tuple[int, ...]:
    r"""The image shape of ``--dataset synthetic``: the input shape of a
    registered model, :obj:`(3, 32, 32)` for any other.

    Example:
        >>> synthetic_shape('digits_cnn'), synthetic_shape('my.nets:build')
        ((1, 16, 16), (3, 32, 32))
    """
    from pyg_dnnmod.models import get_input_shape, model_kind

    if model_kind(model_spec) == 'name':
        try:
            return tuple(get_input_shape(model_spec))
        except (ValueError, TypeError):
            pass
    return (3, 32, 32)


def load_data(name: str, root: Any = None, split: str = 'test',
              model_spec: str = DEFAULT_MODEL,
              image_size: Optional[int] = None) -> DataSource:
    r""":func:`~pyg_dnnmod.datasets.load_dataset` of ``--dataset``,
    ``--data-root``, ``--split`` and ``--image-size`` (synthetic data shaped
    as the input of ``--model``).

    Example:
        >>> load_data('digits', image_size=32).input_shape
        (1, 32, 32)
        >>> load_data('folder')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyg_dnnmod.cli._errors.CLIError: --dataset folder reads a folder of ...
        >>> load_data('digits', root='data')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pyg_dnnmod.cli._errors.CLIError: --data-root data: --dataset digits ...
    """
    from pyg_dnnmod.datasets import load_dataset

    shape = synthetic_shape(model_spec) if name == 'synthetic' else None
    with options_named(name='--dataset', root='--data-root',
                       split='--split', image_size='--image-size'):
        try:
            data = load_dataset(name, root, split, shape=shape,
                                image_size=image_size)
        except FileNotFoundError as e:  # the loader names what is missing
            raise CLIError(f"--data-root: {one_line(e)}") from e
    if root is not None and 'root' not in data.info:
        # The data source records the folder it read; this one read none.
        raise CLIError(f"--data-root {root}: --dataset {name} reads no "
                       f"folder, so --data-root would be ignored; drop it, "
                       f"or pass the --dataset whose files are there")
    return data


def _cwd_on_path() -> None:
    # As 'python -m' does, so that a factory module in the working folder
    # is found by the console script too.
    if '' not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def build_model(spec: str, data: DataSource, num_classes: Any = None,
                seed: int = 0) -> Any:
    r""":func:`~pyg_dnnmod.models.build_model` of ``--model`` for the
    data (``--num-classes``), seeded by :obj:`seed`."""
    from pyg_dnnmod import models
    from pyg_dnnmod.pretrained import architecture_of

    _cwd_on_path()
    with options_named(**_MODEL_OPTIONS):
        return models.build_model(architecture_of(spec), num_classes,
                                  data=data, seed=seed)


def resolve_model(args: argparse.Namespace, data: DataSource,
                  random_init: bool = False,
                  progress: bool = False) -> Tuple[Any, Dict[str, Any]]:
    r"""The model of ``--model`` / ``--checkpoint`` / ``--random-init`` in
    eval mode, and what it is (for ``run.json``): see
    :func:`pyg_dnnmod.pretrained.load_model`."""
    from pyg_dnnmod.pretrained import load_model

    _cwd_on_path()
    with options_named(**_MODEL_OPTIONS), offered_only(args):
        return load_model(args.model, data,
                          checkpoint=getattr(args, 'checkpoint', None),
                          random_init=random_init,
                          num_classes=args.num_classes, seed=args.seed,
                          progress=progress)


@contextlib.contextmanager
def offered_only(args: argparse.Namespace) -> Iterator[None]:
    r"""Drops from the library's errors raised in the block the hints at
    options the command does not have: a command without
    ``--random-init`` (``prune``) is not told to pass it.

    Example:
        >>> with offered_only(argparse.Namespace()):
        ...     raise ValueError("pass checkpoint=FILE or random_init=True "
        ...                      "for the untrained model")
        Traceback (most recent call last):
        ...
        ValueError: pass checkpoint=FILE
    """
    from pyg_dnnmod.pretrained import RANDOM_INIT_HINT

    try:
        yield
    except ValueError as e:
        if hasattr(args, 'random_init') or RANDOM_INIT_HINT not in str(e):
            raise
        raise ValueError(str(e).replace(RANDOM_INIT_HINT, '')) from e


def check_model_input(model: Any, data: DataSource, spec: str) -> None:
    r""":func:`~pyg_dnnmod.models.check_model_input`, naming
    ``--model``."""
    from pyg_dnnmod import models

    with options_named(**_MODEL_OPTIONS):
        models.check_model_input(model, data, spec)


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
        raise CLIError(f"--layers {layers_text(layers)}: {message}; "
                       f"'pyg-dnnmod layers --model {args.model} --dataset "
                       f"{args.dataset}' lists them") from e


def check_samples(labels: Any, sizes: Sequence[int], balanced: bool,
                  data: DataSource, unbalanced_option: bool = True) -> None:
    r"""Fails early when ``--num-samples`` cannot be drawn; the hint
    offers ``--unbalanced`` only to a command that has it
    (:obj:`unbalanced_option`)."""
    from pyg_dnnmod.datasets import sample_indices

    total = int(labels.numel())
    for n in sizes:
        if n > total:
            raise CLIError(f"--num-samples {n} exceeds the {total} samples "
                           f"of {data.title} ({data.split} split); lower it")
        try:
            sample_indices(labels, n, balanced=balanced)
        except ValueError as e:
            message = one_line(e)
            message = message.replace("pass 'balanced=False'",
                                      'pass --unbalanced') \
                if unbalanced_option else \
                message.replace("pass 'balanced=False' or ", 'pass ')
            raise CLIError(f"--num-samples {n}: {message}") from e


def read_data(args: argparse.Namespace, timer: Timer,
              sizes: Sequence[int] = ()) -> DataSource:
    r"""The step 'data' of a command: ``--dataset`` (``--split``), checked
    for the draws of ``--num-samples`` (:obj:`sizes`)."""
    with timer('data'):
        data = load_data(args.dataset, args.data_root, args.split,
                         args.model, getattr(args, 'image_size', None))
    check_samples(data.labels, sizes or [args.num_samples],
                  not args.unbalanced, data)
    return data


def read_model(args: argparse.Namespace, data: DataSource, timer: Timer,
               progress: bool) -> Tuple[Any, Dict[str, Any], List[str]]:
    r"""The step 'model' of a command: the model of :func:`resolve_model`,
    what it is, and the names of the ``--layers`` it reads."""
    with timer('model'):
        model, info = resolve_model(args, data, random_init=args.random_init,
                                    progress=progress)
    names = check_layers(model, args.layers, args.post_activation, args)
    return model, info, names


#: The options of the fields of a SnapshotConfig, for error messages.
SNAPSHOT_OPTIONS = dict(k='--k', num_samples='--num-samples',
                        metric='--metric', layers='--layers', seed='--seed',
                        batch_size='--batch-size')


def snapshot_config(args: argparse.Namespace, **changes: Any) -> Any:
    r"""The :class:`~pyg_dnnmod.SnapshotConfig` of a command's options,
    built once (:obj:`changes` on top, e.g. the first value of an
    ablation); a bad value is a :class:`CLIError` naming the option."""
    from pyg_dnnmod.snapshots import SnapshotConfig

    values: Dict[str, Any] = {}
    for name in ('k', 'num_samples', 'metric', 'layers', 'seed',
                 'post_activation', 'batch_size'):
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    if hasattr(args, 'unbalanced'):
        values['balanced'] = not args.unbalanced
    values.update(changes)
    with options_named(**SNAPSHOT_OPTIONS):
        return SnapshotConfig(**values)


def check_graph_arguments(args: argparse.Namespace) -> None:
    r"""The checks of :func:`add_graph_arguments`' options that need no
    data: those of :class:`~pyg_dnnmod.SnapshotConfig`, and its
    :math:`k < N` rule for :obj:`--num-samples` samples."""
    check_positive(args.num_samples, '--num-samples', 2)
    config = snapshot_config(args)
    try:
        config.validate(args.num_samples)
    except ValueError:
        raise CLIError(f"--k {args.k} must be smaller than --num-samples "
                       f"{args.num_samples} (every sample needs k other "
                       f"samples); lower --k or raise --num-samples"
                       ) from None


def model_title(args: argparse.Namespace, info: Dict[str, Any]) -> str:
    r"""The model's name for a figure title, with its accuracy or
    :obj:`"random init"`."""
    title = args.model
    if info.get('init') == 'trained' and info.get('test_acc'):
        title += f" (test acc {100 * info['test_acc']:.1f} %)"
    elif info.get('init') == 'random':
        title += ' (random init)'
    return title


def make_config(args: argparse.Namespace,
                scale_milestones: bool = False) -> Tuple[Any, str]:
    r"""The :class:`~pyg_dnnmod.training.TrainConfig` of ``--recipe`` with
    every option given on the command line on top, and the recipe's name:
    by default :obj:`"digits"` (the default model's) for the digits and
    synthetic data, :obj:`"fashion"` for Fashion-MNIST and MNIST,
    :obj:`"paper"` otherwise
    (:func:`~pyg_dnnmod.pretrained.default_train_recipe`); with
    :obj:`scale_milestones`, ``--epochs`` without ``--milestones`` moves
    the recipe's milestones with the budget
    (:func:`~pyg_dnnmod.pretrained.scaled_milestones`)."""
    from pyg_dnnmod.pretrained import default_train_recipe, train_config

    recipe = args.recipe or default_train_recipe(args.dataset)
    values = {name: getattr(args, name) for name in _TRAIN_FIELDS
              if getattr(args, name, None) is not None}
    if 'milestones' in values:
        values['milestones'] = tuple(values['milestones'])
    try:
        return train_config(recipe, scale_milestones=scale_milestones,
                            **values), recipe
    except (TypeError, ValueError) as e:
        options = {name: '--' + name.replace('_', '-')
                   for name in _TRAIN_FIELDS}
        raise CLIError(f"bad training option: "
                       f"{name_options(str(e), options)}") from e
