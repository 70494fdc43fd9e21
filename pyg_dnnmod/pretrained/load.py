r"""A model by spec with its weights: a checkpoint, the embedded default, a
factory's own, or a seeded random init (what ``pyg-dnnmod --model``,
``--checkpoint`` and ``--random-init`` resolve to).

The rule of :func:`load_model`: without a checkpoint, only the embedded
default (:data:`DEFAULT_MODEL` on the translated digits, see
:func:`~pyg_dnnmod.pretrained.pretrained_digits_cnn`), the shipped networks
(:func:`~pyg_dnnmod.pretrained.list_pretrained`) and a factory's model
have trained weights; any other model asks for a checkpoint or an explicit
random init, so that an untrained network is never analysed by accident.
"""
from pathlib import Path
from typing import Any, Dict, Optional, Tuple, Union

from torch import nn

from pyg_dnnmod.datasets.registry import DEFAULT_DATASET, DataSource
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
)
from pyg_dnnmod.training import load_checkpoint

__all__ = ['DEFAULT_MODEL', 'is_default_model', 'load_weights', 'load_model']

#: The embedded default model, trained on :obj:`"translated-digits"`.
DEFAULT_MODEL = DIGITS_RECIPE['model']

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


def load_weights(model: nn.Module, checkpoint: PathLike) -> Dict[str, Any]:
    r"""Loads :obj:`checkpoint` into :obj:`model` (with
    :obj:`weights_only=True`): a checkpoint of
    :func:`~pyg_dnnmod.training.train` or a bare state_dict; a torchvision
    state_dict also fits the model wrapped in
    :class:`~pyg_dnnmod.models.NormalizedModel`.

    Returns:
        dict: The file, and the checkpoint's :obj:`epoch` and last
        :obj:`test_acc` when it has them.

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
    if not Path(checkpoint).is_file():
        raise FileNotFoundError(
            f"checkpoint='{checkpoint}' does not exist; pass a state_dict "
            f"file or a checkpoint of pyg_dnnmod.training.train (an "
            f"epoch_XXX.pt of 'pyg-dnnmod train')")
    try:
        stored = load_checkpoint(model, checkpoint)
    except ValueError:
        if not isinstance(model, NormalizedModel):
            raise
        try:
            stored = load_checkpoint(model.model, checkpoint)
        except ValueError:
            stored = load_checkpoint(model, checkpoint)  # the first message
    info: Dict[str, Any] = {'checkpoint': str(checkpoint)}
    if isinstance(stored.get('epoch'), int):
        info['epoch'] = stored['epoch']
    history = stored.get('history')
    if isinstance(history, list) and history and \
            isinstance(history[-1], dict) and 'test_acc' in history[-1]:
        info['test_acc'] = float(history[-1]['test_acc'])
    return info


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
    * a :obj:`checkpoint`: its weights (:func:`load_weights`);
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
        model = build()
        try:
            info.update(load_weights(model, checkpoint))
        except ValueError as e:
            raise ValueError(f"'checkpoint': {e}. Pass the 'spec' (and "
                             f"'data' or 'num_classes') it was trained with "
                             f"(spec={spec})") from e
        info.update(init='trained', weights='checkpoint')
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
            f"{spec} --dataset {data.name}') or random_init=True for the "
            f"untrained model")
    check_model_input(model, data, spec)
    return model.eval(), info
