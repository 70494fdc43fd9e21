r"""A model by spec with its weights: a checkpoint, the embedded default, a
factory's own, or a seeded random init (what ``pyg-dnnmod --model``,
``--checkpoint`` and ``--random-init`` resolve to).

The rule of :func:`load_model`: without a checkpoint, only the embedded
default (:data:`DEFAULT_MODEL` on the translated digits, see
:func:`~pyg_dnnmod.pretrained.pretrained_digits_cnn`), the shipped networks
(:func:`~pyg_dnnmod.pretrained.list_pretrained`) and a factory's model
have trained weights; any other model asks for a checkpoint or an explicit
random init, so that an untrained network is never analysed by accident.

A checkpoint (:func:`load_model_checkpoint`) is any file this package
writes: a ``pyg-dnnmod train`` epoch, a model ``pyg-dnnmod dynamics``
keeps, a cached model of :func:`~pyg_dnnmod.pretrained.pretrained_digits_cnn`,
a shipped network's file or a bare ``state_dict``. What it records
(:func:`checkpoint_record`: the model's spec and the data set it was trained
on) names the model when none is given and is checked against the data it
is run on.
"""
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from torch import nn

from pyg_dnnmod.datasets.registry import (
    DEFAULT_DATASET,
    DataSource,
    load_dataset,
)
from pyg_dnnmod.io import file_digest
from pyg_dnnmod.models import (
    NormalizedModel,
    build_model,
    check_model_input,
    model_kind,
    reinitialize,
)
from pyg_dnnmod.pretrained.digits import DIGITS_RECIPE, pretrained_digits_cnn
from pyg_dnnmod.pretrained.shipped import (
    PRETRAINED,
    architecture_of,
    load_pretrained,
    pretrained_of_digest,
)
from pyg_dnnmod.training import (
    check_state_dict,
    checkpoint_info,
    describe_checkpoint,
    read_checkpoint,
)

__all__ = ['DEFAULT_MODEL', 'SAME_IMAGES', 'RANDOM_INIT_HINT',
           'is_default_model', 'checkpoint_record', 'trained_on_data',
           'load_weights', 'load_model_checkpoint', 'load_model']

#: The embedded default model, trained on :obj:`"translated-digits"`.
DEFAULT_MODEL = DIGITS_RECIPE['model']

#: Groups of data sets that hold the same kind of images, so that a network
#: trained on one reads the others: MNIST and its 5,000 digits.
SAME_IMAGES: Tuple[Tuple[str, ...], ...] = (('mnist', 'mnist-5k'), )

#: The part of :func:`load_model`'s message for a model without trained
#: weights that offers the random init (a caller that offers none drops
#: it).
RANDOM_INIT_HINT = ' or random_init=True for the untrained model'

PathLike = Union[str, Path]


def is_default_model(spec: str, data: DataSource,
                     num_classes: Optional[int] = None) -> bool:
    r"""Whether :obj:`spec` on :obj:`data` is the embedded default:
    :data:`DEFAULT_MODEL` on the translated digits with their class count.

    Example:
        >>> from pyg_dnnmod.datasets import load_dataset
        >>> data = load_dataset('translated-digits')
        >>> is_default_model('digits_cnn', data)
        True
        >>> is_default_model('digits_cnn', data, num_classes=3)
        False
    """
    return (spec.strip().lower() == DEFAULT_MODEL
            and data.name == DEFAULT_DATASET
            and num_classes in (None, data.num_classes))


def _read(checkpoint: PathLike) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    # The checkpoint and its record; a copy of a shipped file, which
    # records nothing itself, is recognised by its SHA-256.
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint='{checkpoint}' does not exist; pass a state_dict "
            f"file or a checkpoint of pyg_dnnmod.training.train (an "
            f"epoch_XXX.pt of 'pyg-dnnmod train')")
    try:
        stored = read_checkpoint(path)
    except ValueError as e:
        raise ValueError(f"'checkpoint': {e}") from e
    record = checkpoint_info(stored)
    if not isinstance(record.get('dataset'), str):
        entry = pretrained_of_digest(file_digest(path))
        if entry is not None:
            record.update(model=entry.name, dataset=entry.dataset,
                          shipped=entry.name)
    return stored, record


def checkpoint_record(checkpoint: PathLike) -> Dict[str, Any]:
    r"""What a checkpoint file records about its weights: the
    :obj:`"info"` of a file this package wrote
    (:func:`~pyg_dnnmod.training.checkpoint_info`), such as :obj:`model`
    (the spec of :func:`~pyg_dnnmod.models.build_model`) and
    :obj:`dataset` (the data set it was trained on); for a copy of a
    shipped network's file (:func:`~pyg_dnnmod.pretrained.list_pretrained`),
    its name and data set. Empty for a file that records nothing (a bare
    ``state_dict``, or a file written before the record was kept). The file
    is read with :obj:`weights_only=True`.

    Example:
        >>> import tempfile, torch
        >>> from pyg_dnnmod.training import save_model_checkpoint
        >>> path = Path(tempfile.mkdtemp()) / 'model.pt'
        >>> _ = save_model_checkpoint(nn.Linear(2, 3), path,
        ...                           {'model': 'linear', 'dataset': 'digits'})
        >>> checkpoint_record(path)
        {'model': 'linear', 'dataset': 'digits'}
    """
    return _read(checkpoint)[1]


def trained_on_data(record: Dict[str, Any], data: DataSource,
                    checkpoint: Any = 'checkpoint') -> None:
    r"""Checks that the weights of a checkpoint with the
    :func:`checkpoint_record` :obj:`record` were trained on :obj:`data`, or
    on a data set of the same images (:data:`SAME_IMAGES`). A record
    without a data set (an older file) is accepted as it is.

    Raises:
        ValueError: If the record names another data set; the message
            names both.

    Example:
        >>> from pyg_dnnmod.datasets import load_dataset
        >>> digits = load_dataset('translated-digits')
        >>> trained_on_data({'dataset': 'translated-digits'}, digits)
        >>> trained_on_data({}, digits)  # nothing recorded
        >>> trained_on_data({'dataset': 'fashion-mnist'}, digits, 'a.pt')
        ... # doctest: +NORMALIZE_WHITESPACE
        Traceback (most recent call last):
        ...
        ValueError: checkpoint='a.pt' was trained on data=fashion-mnist
        (Fashion-MNIST), not on the translated digits: pass
        data=fashion-mnist (got data=translated-digits)
    """
    from pyg_dnnmod.names import DATASET_TITLES

    trained = record.get('dataset')
    if not isinstance(trained, str) or trained == data.name:
        return
    if any(trained in group and data.name in group for group in SAME_IMAGES):
        return
    title = DATASET_TITLES.get(trained)
    raise ValueError(
        f"checkpoint='{checkpoint}' was trained on data={trained}"
        f"{f' ({title})' if title else ''}, not on the {data.title}: pass "
        f"data={trained} (got data={data.name})")


def _fit(model: nn.Module, state: Dict[str, Any], source: str) -> None:
    # A torchvision state_dict also fits the network inside a
    # NormalizedModel; the first message is the one reported.
    try:
        check_state_dict(model, state, source)
    except ValueError:
        if not isinstance(model, NormalizedModel):
            raise
        try:
            check_state_dict(model.model, state, source)
        except ValueError:
            check_state_dict(model, state, source)
        model.model.load_state_dict(state)
        return
    model.load_state_dict(state)


def _summary(checkpoint: PathLike, stored: Dict[str, Any],
             record: Dict[str, Any]) -> Dict[str, Any]:
    info: Dict[str, Any] = {'checkpoint': str(checkpoint)}
    if isinstance(stored.get('epoch'), int):
        info['epoch'] = stored['epoch']
    history = stored.get('history')
    if isinstance(history, list) and history and \
            isinstance(history[-1], dict) and 'test_acc' in history[-1]:
        info['test_acc'] = float(history[-1]['test_acc'])
    elif isinstance(record.get('test_acc'), float):
        info['test_acc'] = record['test_acc']
    if isinstance(record.get('dataset'), str):
        info['trained_on'] = record['dataset']
    return info


def load_weights(model: nn.Module, checkpoint: PathLike) -> Dict[str, Any]:
    r"""Loads :obj:`checkpoint` into :obj:`model` (with
    :obj:`weights_only=True`): any file of
    :func:`~pyg_dnnmod.training.read_checkpoint` (a checkpoint of
    :func:`~pyg_dnnmod.training.train`, a saved or cached model, a bare
    state_dict); a torchvision state_dict also fits the model wrapped in
    :class:`~pyg_dnnmod.models.NormalizedModel`.

    Returns:
        dict: The file, and the checkpoint's :obj:`epoch`, last
        :obj:`test_acc` and the data set it was :obj:`trained_on` when it
        has them.

    Raises:
        FileNotFoundError: If there is no such file.
        ValueError: If it does not fit the model (the message lists the
            missing and unexpected keys).

    Example:
        >>> import tempfile, torch
        >>> path = Path(tempfile.mkdtemp()) / 'w.pt'
        >>> torch.save(nn.Linear(2, 3).state_dict(), path)
        >>> load_weights(nn.Linear(2, 3), path) == {'checkpoint': str(path)}
        True
    """
    stored, record = _read(checkpoint)
    _fit(model, stored['model'], f"checkpoint '{checkpoint}'")
    return _summary(checkpoint, stored, record)


def load_model_checkpoint(
    checkpoint: PathLike,
    spec: Optional[str] = None,
    data: Optional[DataSource] = None,
    num_classes: Optional[int] = None,
    seed: int = 0,
) -> Tuple[nn.Module, Dict[str, Any]]:
    r"""The model of a checkpoint file with its weights, in eval mode,
    checked on two samples of the data, and what it is.

    The file is any that this package writes (see
    :func:`~pyg_dnnmod.training.read_checkpoint`): an ``epoch_XXX.pt`` of
    ``pyg-dnnmod train``, the model ``pyg-dnnmod dynamics`` keeps, a cached
    model of :func:`~pyg_dnnmod.pretrained.pretrained_digits_cnn`, a shipped
    network's file, or a bare ``state_dict``; it is read with
    :obj:`weights_only=True` (a whole pickled model is refused, with how
    to save its weights instead). What it records
    (:func:`checkpoint_record`) fills in :obj:`spec` and :obj:`data` when
    they are not given, and the data it was trained on must be
    :obj:`data` (:func:`trained_on_data`).

    Args:
        checkpoint (str or Path): The file.
        spec (str, optional): The model it was trained with (see
            :func:`~pyg_dnnmod.models.build_model`). (default: the one the
            file records)
        data (DataSource, optional): The data it reads. (default: the test
            split of the data set the file records)
        num_classes (int, optional): The number of outputs.
            (default: the one the file records, else the data's)
        seed (int, optional): The seed of the model's initialisation, the
            values of anything the file does not hold. (default: :obj:`0`)

    Returns:
        (torch.nn.Module, dict): The model, and :obj:`spec`, :obj:`kind`,
        :obj:`init` (:obj:`"trained"`), :obj:`weights`
        (:obj:`"checkpoint"`), :obj:`checkpoint`, and the :obj:`epoch`,
        :obj:`test_acc` and the data set it was :obj:`trained_on` when the
        file has them.

    Raises:
        FileNotFoundError: If there is no such file.
        ValueError: If the file cannot be read safely, names no model and
            none is given, was trained on other data, or does not fit the
            model (the message says what the file holds and records).

    Example:
        >>> import tempfile
        >>> from pyg_dnnmod.pretrained import digits_model
        >>> from pyg_dnnmod.training import save_model_checkpoint
        >>> path = Path(tempfile.mkdtemp()) / 'model.pt'
        >>> _ = save_model_checkpoint(digits_model(), path, {
        ...     'model': 'digits_cnn', 'dataset': 'translated-digits'})
        >>> model, info = load_model_checkpoint(path)
        >>> info['spec'], info['trained_on'], model.training
        ('digits_cnn', 'translated-digits', False)
    """
    stored, record = _read(checkpoint)
    what = describe_checkpoint(stored)
    recorded = record.get('model')
    recorded = recorded if isinstance(recorded, str) else None
    if spec is None:
        if recorded is None:
            raise ValueError(f"checkpoint='{checkpoint}' ({what}) records no "
                             f"model: pass the 'spec' it was trained with")
        spec = recorded
    if data is None:
        if not isinstance(record.get('dataset'), str):
            raise ValueError(f"checkpoint='{checkpoint}' ({what}) records no "
                             f"data set: pass the 'data' it reads")
        data = load_dataset(record['dataset'])
    if not isinstance(data, DataSource):
        raise TypeError(f"'data' must be a DataSource (see "
                        f"pyg_dnnmod.datasets.load_dataset) (got "
                        f"{type(data).__name__})")
    trained_on_data(record, data, checkpoint)
    if num_classes is None and isinstance(record.get('num_classes'), int) \
            and record['num_classes'] != data.num_classes:
        num_classes = record['num_classes']
    kind = model_kind(spec)
    spec = spec.strip()
    shipped = record.get('shipped')
    if shipped in PRETRAINED and num_classes in (None, 10) and \
            architecture_of(spec) == PRETRAINED[shipped].architecture:
        # A copy of a shipped file: built as the shipped network is (its
        # own normalisation), from the installed file of the same SHA-256.
        model, stored_info = load_pretrained(shipped, data)
        check_model_input(model, data, spec)
        return model.eval(), dict(
            spec=spec, kind=kind, init='trained', weights='checkpoint',
            checkpoint=str(checkpoint), shipped=shipped,
            trained_on=stored_info['dataset'],
            test_acc=stored_info['test_acc'])
    model = build_model(architecture_of(spec), num_classes, data=data,
                        seed=seed)
    try:
        _fit(model, stored['model'], f"checkpoint '{checkpoint}'")
    except ValueError as e:
        given = f'spec={spec}'
        if recorded is not None and recorded.strip().lower() != \
                spec.lower():
            given = f'the file records spec={recorded}; got spec={spec}'
        raise ValueError(f"'checkpoint': {e} ({what}). Pass the 'spec' (and "
                         f"'data' or 'num_classes') it was trained with "
                         f"({given})") from e
    check_model_input(model, data, spec)
    info: Dict[str, Any] = dict(spec=spec, kind=kind, init='trained',
                                weights='checkpoint')
    info.update(_summary(checkpoint, stored, record))
    return model.eval(), info


def load_model(
    spec: str,
    data: DataSource,
    checkpoint: Optional[PathLike] = None,
    random_init: bool = False,
    num_classes: Optional[int] = None,
    seed: int = 0,
    progress: bool = False,
) -> Tuple[nn.Module, Dict[str, Any]]:
    r"""The model of :obj:`spec` for :obj:`data` with its weights, in eval
    mode, checked on two samples of the data, and what it is.

    * :obj:`random_init`: the freshly initialised model (seeded by
      :obj:`seed`; a factory's model is re-initialised with
      :func:`~pyg_dnnmod.models.reinitialize`);
    * a :obj:`checkpoint`: its weights (:func:`load_model_checkpoint`,
      which checks that it was trained on :obj:`data`);
    * the embedded default (:func:`is_default_model`): trained once on the
      CPU (a progress bar with :obj:`progress`) and cached;
    * a shipped network (:func:`~pyg_dnnmod.pretrained.list_pretrained`):
      its checked weights (:func:`~pyg_dnnmod.pretrained.load_pretrained`),
      on the data it was trained for; with :obj:`random_init` or a
      checkpoint, its architecture;
    * a factory: the model as the factory returns it.

    Any other model has no trained weights here: a :class:`ValueError`
    asks for a checkpoint or a random init.

    Args:
        spec (str): The model (see :func:`~pyg_dnnmod.models.build_model`).
        data (DataSource): The data it reads (see
            :func:`~pyg_dnnmod.datasets.load_dataset`).
        checkpoint (str or Path, optional): Weights to load.
            (default: :obj:`None`)
        random_init (bool, optional): Use the random initialisation.
            (default: :obj:`False`)
        num_classes (int, optional): The number of outputs.
            (default: the data's)
        seed (int, optional): The seed of a random init.
            (default: :obj:`0`)
        progress (bool, optional): Show the progress bar when the default
            model is trained. (default: :obj:`False`)

    Returns:
        (torch.nn.Module, dict): The model, and :obj:`spec`, :obj:`kind`,
        :obj:`init` (:obj:`"trained"` or :obj:`"random"`), :obj:`weights`
        and what the weights came with (checkpoint, cache, accuracy).

    Example:
        >>> from pyg_dnnmod.datasets import load_dataset
        >>> data = load_dataset('synthetic', shape=(1, 16, 16))
        >>> model, info = load_model('digits_cnn', data, random_init=True)
        >>> info['init'], info['weights'], model.training
        ('random', 'random init (seed 0)', False)
        >>> load_model('vgg11', load_dataset('synthetic'))
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: spec=vgg11 has no trained weights here: pass ...
    """
    kind = model_kind(spec)
    spec = spec.strip()
    if not isinstance(data, DataSource):
        raise TypeError(f"'data' must be a DataSource (see "
                        f"pyg_dnnmod.datasets.load_dataset) (got "
                        f"{type(data).__name__})")
    info: Dict[str, Any] = dict(spec=spec, kind=kind)

    shipped = spec.lower() in PRETRAINED

    def build() -> nn.Module:
        return build_model(architecture_of(spec), num_classes, data=data,
                           seed=seed)

    if random_init:
        model = build()
        if kind == 'factory':
            model = reinitialize(model, seed)
        info.update(init='random', weights=f'random init (seed {seed})')
    elif checkpoint is not None:
        return load_model_checkpoint(checkpoint, spec, data, num_classes,
                                     seed)
    elif shipped:
        if num_classes not in (None, 10):
            raise ValueError(f"spec={spec} has 10 outputs (got "
                             f"num_classes={num_classes})")
        model, stored = load_pretrained(spec, data)
        info.update(init='trained', weights='shipped',
                    **{k: v for k, v in stored.items() if k != 'name'})
    elif is_default_model(spec, data, num_classes):
        model, stored = pretrained_digits_cnn(progress=progress)
        info.update(init='trained', weights='pretrained default',
                    cached=bool(stored.get('cached')),
                    path=stored.get('path'), key=stored.get('key'),
                    test_acc=stored.get('test_acc'),
                    train_seconds=stored.get('seconds'))
    elif kind == 'factory':
        model = build()
        info.update(init='trained', weights='as returned by the factory')
    else:
        build()  # an unknown name or a bad fit fails first
        hint = (f" (the default {DEFAULT_MODEL} is trained only for "
                f"data={DEFAULT_DATASET})"
                if spec.lower() == DEFAULT_MODEL else '')
        raise ValueError(
            f"spec={spec} has no trained weights here{hint}: pass "
            f"checkpoint=FILE (e.g. written by 'pyg-dnnmod train --model "
            f"{spec} --dataset {data.name}'){RANDOM_INIT_HINT}")
    check_model_input(model, data, spec)
    return model.eval(), info
