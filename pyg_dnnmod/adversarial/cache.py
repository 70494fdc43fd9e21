r"""The on-disk cache of adversarial sets: the key that names a set, and
the file that holds it.

A set is stored as ``<attack>-<key[:32]>.pt``, where the key
(:func:`cache_key`) hashes everything that changes the result: the model's
architecture, weights and buffers, the input and labels, the attack and all
its parameters, the seed, the number of samples, the batch size, the device
type and the library versions. A set computed with anything different is
never reused. Files are written atomically (:func:`~pyg_dnnmod.io.atomic_save`)
and read so that they cannot execute code
(:func:`~pyg_dnnmod.io.load_tensors`); an unreadable or stale file is
ignored with a warning naming it, and the set is computed again.
"""
import hashlib
import importlib.metadata
import json
import warnings
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import torch
from torch import Tensor, nn

from pyg_dnnmod._version import __version__
from pyg_dnnmod.adversarial.sets import AdversarialSet
from pyg_dnnmod.io import (
    DamagedFileError,
    atomic_save,
    load_tensors,
    update_with_tensor,
)

__all__ = [
    'CACHE_FORMAT',
    'UnstableParameterError',
    'canonical',
    'cache_key',
    'cache_path',
    'load_cached_set',
    'save_cached_set',
]

#: The version of the file layout; part of every key.
CACHE_FORMAT = 1

# What a cache file holds besides 'key' and 'params'.
_FIELDS = ('x_adv', 'y', 'x_clean', 'index', 'pred', 'success_rate',
           'num_attacked', 'seconds', 'attack', 'target_rule', 'note')


class UnstableParameterError(Exception):
    r"""A parameter value that has no form that changes iff the value does
    (e.g. a function, whose repr shows its address): a set built with it is
    not cached."""


def canonical(value: Any) -> Any:
    r"""A JSON-able form of a parameter value that changes iff the value
    does.

    Floats become their :func:`repr` (JSON has no NaN; the repr keeps inf
    and nan apart), tensors their SHA-256, modules their class, repr, plain
    attributes and state.

    Raises:
        UnstableParameterError: Where no such form is known.

    Example:
        >>> canonical({'eps': 0.3, 'steps': (1, 2), 'loss_fn': None})
        {'eps': '0.3', 'steps': [1, 2], 'loss_fn': None}
        >>> canonical(torch.nn.MSELoss(reduction='sum'))['attributes']
        {'reduction': 'sum', 'training': True}
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)  # json has no NaN; repr keeps inf and nan apart
    if isinstance(value, Tensor):
        h = hashlib.sha256()
        update_with_tensor(h, value)
        return {'tensor': h.hexdigest()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, nn.Module):
        # A loss module's options (e.g. `reduction`) are plain attributes
        # that neither its repr nor its state_dict shows.
        plain = {
            k: canonical(v)
            for k, v in sorted(vars(value).items())
            if not k.startswith('_') and (v is None or isinstance(
                v, (bool, int, float, str)))
        }
        return {
            'module': f'{type(value).__module__}.{type(value).__qualname__}',
            'repr': repr(value),
            'attributes': plain,
            'state': canonical(dict(value.state_dict())),
        }
    text = repr(value)
    if ' at 0x' in text:
        raise UnstableParameterError(text)
    return {'type': f'{type(value).__module__}.{type(value).__qualname__}',
            'repr': text}


def _installed_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'


def cache_key(model: nn.Module, x: Tensor, y: Tensor, attack: str,
              params: Dict[str, Any], seed: int, num_samples: Optional[int],
              batch_size: int, device: torch.device) -> str:
    r"""The SHA-256 (hex) of everything that changes an adversarial set.

    Raises:
        UnstableParameterError: If a parameter has no stable form
            (see :func:`canonical`).

    Example:
        >>> model = torch.nn.Linear(4, 2)
        >>> x, y = torch.zeros(3, 4), torch.zeros(3, dtype=torch.long)
        >>> args = (x, y, 'fgsm', {'eps': 0.3}, 0, None, 64,
        ...         torch.device('cpu'))
        >>> key = cache_key(model, *args)
        >>> len(key), key == cache_key(model, *args)
        (64, True)
        >>> with torch.no_grad():
        ...     _ = model.bias.add_(1e-3)
        >>> key == cache_key(model, *args)
        False
    """
    h = hashlib.sha256()
    meta = {
        'format': CACHE_FORMAT,
        'pyg_dnnmod': __version__,
        'advertorch': _installed_version('advertorch'),
        'torch': torch.__version__,
        'model': f'{type(model).__module__}.{type(model).__qualname__}',
        'repr': repr(model),
        'attack': attack,
        'params': canonical(params),
        'seed': seed,
        'num_samples': num_samples,
        # Results depend on the batch (PGD draws its random start per
        # batch, CW's early abort looks at the batch's summed loss) and may
        # differ in the last bits between devices.
        'batch_size': batch_size,
        'device': device.type,
    }
    h.update(json.dumps(meta, sort_keys=True).encode())
    # Non-persistent buffers (e.g. the input normalisation) are not in the
    # state_dict but change the model.
    tensors = dict(model.state_dict())
    for name, buffer in model.named_buffers():
        tensors.setdefault(name, buffer)
    for name in sorted(tensors):
        h.update(name.encode())
        update_with_tensor(h, tensors[name])
    update_with_tensor(h, x)
    update_with_tensor(h, y)
    return h.hexdigest()


def cache_path(cache_dir: Union[str, Path], attack: str, key: str) -> Path:
    r"""Where the set of :obj:`attack` with :obj:`key` is cached.

    Example:
        >>> cache_path('cache', 'fgsm', 'ab' * 32).name
        'fgsm-abababababababababababababababab.pt'
    """
    return Path(cache_dir) / f'{attack}-{key[:32]}.pt'


def load_cached_set(path: Union[str, Path], key: str,
                    params: Dict[str, Any]) -> Optional[AdversarialSet]:
    r"""The set cached at :obj:`path` under :obj:`key`, with
    :obj:`params` as its parameters (the key covers them), or :obj:`None`
    if there is none. A file that cannot be read safely, lacks a field, or
    holds another key is ignored with a warning naming it.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / 'fgsm-0.pt'
        >>> load_cached_set(path, '0', {}) is None  # nothing cached yet
        True
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        stored = load_tensors(path, what='adversarial cache')
        if stored.get('key') != key:
            raise ValueError('its key differs')
        values = {name: stored[name] for name in _FIELDS}
    except Exception as e:  # noqa: BLE001 - any unreadable file is rebuilt
        # The cause, since a DamagedFileError repeats the path.
        reason = e.__cause__ if isinstance(e, DamagedFileError) and \
            e.__cause__ is not None else e
        # stacklevel: this function, adversarial_examples, its caller.
        warnings.warn(f"ignoring the unreadable adversarial cache '{path}' "
                      f"({type(reason).__name__}: {reason}); recomputing",
                      stacklevel=3)
        return None
    return AdversarialSet(params=params, cached=True, **values)


def save_cached_set(path: Union[str, Path], key: str,
                    adv: AdversarialSet) -> Path:
    r"""Writes :obj:`adv` to :obj:`path` under :obj:`key`, atomically,
    making the folder if needed. The parameters are stored as the JSON of
    their :func:`canonical` form, for reading; a loaded set takes those it
    was asked with.

    Example:
        >>> import tempfile
        >>> x, labels = torch.zeros(1, 4), torch.tensor([0])
        >>> adv = AdversarialSet(x + 0.5, labels, x, torch.tensor([7]),
        ...                      1 - labels, 1.0, 1, 0.0, 'fgsm',
        ...                      {'eps': 0.5})
        >>> path = Path(tempfile.mkdtemp()) / 'sub' / 'fgsm-0.pt'
        >>> _ = save_cached_set(path, '0', adv)
        >>> again = load_cached_set(path, '0', adv.params)
        >>> again.cached, again.index.tolist(), again.params
        (True, [7], {'eps': 0.5})
    """
    path = Path(path)
    content: Dict[str, Any] = {name: getattr(adv, name) for name in _FIELDS}
    content['key'] = key
    content['params'] = json.dumps(canonical(adv.params), sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_save(content, path)
