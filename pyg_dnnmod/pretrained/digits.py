r"""The embedded default: translated digits and a small CNN trained on them.

Nothing can be downloaded on the machines this project runs on, so the
default run uses scikit-learn's bundled digits, each placed at a seeded
offset in a 16x16 canvas (:func:`~pyg_dnnmod.datasets.load_digits_images`),
split half for training and half for the analysis, and
:class:`~pyg_dnnmod.models.DigitsCNN` trained once with a fixed recipe.
The trained weights are cached under the user cache folder
(:obj:`$PYG_DNNMOD_CACHE`, else :obj:`$XDG_CACHE_HOME/pyg_dnnmod`, else
:obj:`~/.cache/pyg_dnnmod`) in a file named by a hash of the recipe, the
CPU thread count and the device it was trained with, so a changed recipe
retrains and a second run reuses the weights. Training runs on one CPU
thread by default (:data:`TRAIN_THREADS`): the sums of a CPU training step
are ordered by the thread count, so the same seed gives another network
with another count, and the default curve would depend on who filled the
cache.
"""
import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from pyg_dnnmod._version import __version__
from pyg_dnnmod.datasets.registry import TRANSLATED_DIGITS
from pyg_dnnmod.io import DamagedFileError, atomic_save, load_tensors
from pyg_dnnmod.names import DEFAULT_DATASET, DEFAULT_MODEL
from pyg_dnnmod.training import check_threads, fixed_threads

if TYPE_CHECKING:
    from pyg_dnnmod.training import TrainConfig

#: The default data: translated digits, half of every class for training.
DIGITS_DATA = TRANSLATED_DIGITS

#: The recipe of the default model (SGD; 12 epochs of batch 32 take about
#: 20 s on one CPU thread and reach about 95 % test accuracy).
DIGITS_RECIPE = dict(model=DEFAULT_MODEL, width=1.0, epochs=12,
                     batch_size=32, lr=0.01, momentum=0.9, weight_decay=5e-4,
                     milestones=(8, ), gamma=0.1, seed=0)

#: The CPU threads the cached models are trained with by default.
TRAIN_THREADS = 1


def cache_dir() -> Path:
    r"""The user cache folder of :mod:`pyg_dnnmod` (not created here)."""
    if os.environ.get('PYG_DNNMOD_CACHE'):
        return Path(os.environ['PYG_DNNMOD_CACHE'])
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'pyg_dnnmod'


def digits_data(split: str = 'test') -> Tuple[Tensor, Tensor]:
    r"""The default data: translated digits, :obj:`"train"` or
    :obj:`"test"` half (898 / 899 samples), pixels in :math:`[0, 1]`.

    Example:
        >>> x, y = digits_data('test')
        >>> x.shape, int(y.max())
        (torch.Size([898, 1, 16, 16]), 9)
    """
    from pyg_dnnmod.datasets.images import load_digits_images
    return load_digits_images(split=split, **DIGITS_DATA)


def digits_model(random_init: bool = False, seed: int = 0) -> nn.Module:
    r"""The default architecture with the digits' normalisation inside, at
    random initialisation (seeded)."""
    from pyg_dnnmod.datasets.images import (
        TRANSLATED_DIGITS_MEAN,
        TRANSLATED_DIGITS_STD,
    )
    from pyg_dnnmod.models import get_model
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return get_model(DIGITS_RECIPE['model'],
                         width=DIGITS_RECIPE['width'],
                         mean=TRANSLATED_DIGITS_MEAN,
                         std=TRANSLATED_DIGITS_STD)


def training_environment(num_threads: Optional[int] = TRAIN_THREADS,
                         device: Union[str, torch.device, None] = None
                         ) -> dict:
    r"""What besides the recipe changes a trained network, for cache keys:
    the device type and, on the CPU, the thread count (the count in force
    when :obj:`num_threads` is :obj:`None`).

    Example:
        >>> training_environment(1)
        {'device': 'cpu', 'threads': 1}
    """
    num_threads = check_threads(num_threads)
    kind = torch.device(device).type if device is not None else 'cpu'
    if kind != 'cpu':
        return {'device': kind}
    return {'device': kind, 'threads': num_threads if num_threads is not None
            else torch.get_num_threads()}


def recipe_key(num_threads: Optional[int] = TRAIN_THREADS,
               device: Union[str, torch.device, None] = None) -> str:
    r"""A hash of the data, the recipe, the :func:`training_environment`
    and the library version."""
    text = json.dumps({'data': DIGITS_DATA, 'recipe': DIGITS_RECIPE,
                       'environment': training_environment(num_threads,
                                                           device),
                       'version': __version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def pretrained_digits_cnn(
    cache: Union[str, Path, None] = None,
    retrain: bool = False,
    progress: bool = False,
    device: Union[str, torch.device, None] = None,
    num_threads: Optional[int] = TRAIN_THREADS,
) -> Tuple[nn.Module, dict]:
    r"""The default model, trained on the translated digits with
    :data:`DIGITS_RECIPE`, from the cache when it is there.

    The cache file is keyed by :func:`recipe_key`: the recipe, the thread
    count and the device, so the model is the same whoever filled the
    cache, and a model trained otherwise is kept apart.

    Args:
        cache (str or Path, optional): The cache folder.
            (default: :func:`cache_dir`)
        retrain (bool, optional): Train even if cached. (default: :obj:`False`)
        progress (bool, optional): Show the training progress bar.
            (default: :obj:`False`)
        device (str or torch.device, optional): Where to train.
            (default: :obj:`None`, the CPU)
        num_threads (int, optional): CPU threads while training, the
            previous count restored afterwards; :obj:`None` trains with
            the count in force (and keys the cache by it).
            (default: :obj:`1`)

    Returns:
        (torch.nn.Module, dict): The model in eval mode, and a summary
        (:obj:`path`, :obj:`cached`, :obj:`test_acc`, :obj:`seconds`,
        :obj:`key`).
    """
    folder = Path(cache) if cache is not None else cache_dir()
    key = recipe_key(num_threads, device)
    return train_cached(folder / f'digits_cnn_{key}.pt',
                        lambda: digits_model(seed=DIGITS_RECIPE['seed']),
                        recipe_config(DIGITS_RECIPE),
                        dict(key=key, model=DEFAULT_MODEL,
                             **training_environment(num_threads, device)),
                        retrain=retrain, progress=progress, device=device,
                        num_threads=num_threads)


def recipe_config(recipe: dict) -> 'TrainConfig':
    r"""The :class:`~pyg_dnnmod.training.TrainConfig` of a recipe dict
    such as :data:`DIGITS_RECIPE` (its other keys, e.g. :obj:`model`, are
    ignored).

    Example:
        >>> recipe_config(DIGITS_RECIPE).epochs
        12
    """
    from pyg_dnnmod.training import TrainConfig
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in recipe.items() if k in fields})


def train_cached(
    path: Path,
    make_model: Callable[[], nn.Module],
    config: 'TrainConfig',
    info: dict,
    retrain: bool = False,
    progress: bool = False,
    device: Union[str, torch.device, None] = None,
    num_threads: Optional[int] = TRAIN_THREADS,
) -> Tuple[nn.Module, dict]:
    r"""A model of :obj:`make_model` trained on the translated digits
    with :obj:`config` on :obj:`num_threads` CPU threads (see
    :func:`~pyg_dnnmod.training.fixed_threads`; the caller keys
    :obj:`path` by :func:`training_environment`), loaded from :obj:`path`
    when it is there.

    A new file is written atomically as :obj:`{'state_dict': ...,
    'info': ...}`, with :obj:`info` plus :obj:`dataset` (the name of the
    translated digits, what the weights were trained on), :obj:`test_acc`,
    :obj:`seconds` and :obj:`epochs`: a checkpoint ``--checkpoint`` reads
    back (:func:`~pyg_dnnmod.training.read_checkpoint`). An unusable file
    (truncated, or of another architecture) is never reused silently: it is
    reported and the model trained again.

    Returns:
        (torch.nn.Module, dict): The model in eval mode, and its summary
        with :obj:`path` and :obj:`cached` added.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / 'model.pt'
        >>> torch.save({'state_dict': digits_model().state_dict(),
        ...             'info': {'key': 'demo'}}, path)
        >>> model, info = train_cached(path, digits_model,
        ...                            recipe_config(DIGITS_RECIPE), {})
        >>> info['cached'], info['key'], model.training
        (True, 'demo', False)
    """
    from pyg_dnnmod.training import train

    model = make_model()
    if path.exists() and not retrain:
        try:
            stored = load_tensors(path, what='cached model')
            if not isinstance(stored, dict) or \
                    not isinstance(stored.get('info'), dict):
                raise DamagedFileError(f"cached model '{path}' holds no "
                                       f"'state_dict' and 'info'")
            model.load_state_dict(stored['state_dict'])
        except Exception as e:  # noqa: BLE001 - any unusable file
            warnings.warn(f"cached model {str(path)!r} is unusable ({e}); "
                          f"training again", stacklevel=3)
            model = make_model()
        else:
            return model.eval(), dict(stored['info'], cached=True,
                                      path=str(path))

    with fixed_threads(num_threads):
        history = train(model, digits_data('train'), digits_data('test'),
                        config, progress=progress,
                        device=device if device is not None else 'cpu')
    model = model.cpu().eval()
    last = history.iloc[-1]
    info = dict(info, dataset=DEFAULT_DATASET,
                test_acc=float(last['test_acc']),
                seconds=float(history['seconds'].sum()),
                epochs=int(last['epoch']))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save({'state_dict': model.state_dict(), 'info': info}, path)
    return model, dict(info, cached=False, path=str(path))
