r"""Adversarial inputs through AdverTorch, as in section 4.2 of Lu et al.
(ECCV 2022).

The paper reads the modularity curve of adversarial inputs beside the clean
one: it attacks only correctly classified samples, keeps the successful ones
(prediction :math:`\neq` true label) until :math:`N` are collected, and
reports the success rate and the time. :func:`adversarial_examples` does that
with the paper's six AdverTorch attacks (:obj:`ATTACKS`) at AdverTorch's
default parameters (CW with :obj:`max_iterations=200`, as in the paper's
code) and caches the result on disk; :func:`attack_summary` tabulates the
sets.

Inputs live in pixel space :math:`[0, 1]` and the model normalises them
itself (see :class:`~pyg_dnnmod.models.Normalize`), so the attacks' clipping
to :math:`[0, 1]` is right. Traps of AdverTorch 0.2.3 handled here rather
than in its source:

* :class:`JacobianSaliencyMapAttack` is always targeted: given the true label
  as "target" it stops at once and perturbs nothing. It gets the target
  :math:`(y + 1) \bmod C` (:obj:`TARGET_RULE`).
* :class:`SinglePixelAttack` indexes its first :obj:`max_pixels` (default
  100) pixels without checking that the image has that many; the value is
  capped at :math:`H \cdot W`. It and :class:`LocalSearchAttack` also mix up
  rows and columns, which only works for square images, so other shapes are
  refused with a clear error.
* Every attack backpropagates into the model, which accumulates gradients in
  the model's parameters; they are frozen during the attack and restored.
* Float parameters given as integers (:obj:`eps=1`) make AdverTorch raise a
  bare :class:`TypeError` deep inside; they are converted.
* :class:`LinfPGDAttack`, :class:`SinglePixelAttack` and
  :class:`LocalSearchAttack` draw from the global random generators; each
  chunk of samples is attacked under a seed derived from :obj:`seed` (and the
  caller's random state is restored), so results are reproducible.
"""
import hashlib
import importlib.metadata
import inspect
import json
import math
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm import tqdm

import pyg_dnnmod
from pyg_dnnmod.adversarial._compat import import_advertorch
from pyg_dnnmod.training._checkpoint import save_checkpoint

#: The six attacks of the paper: our name to the AdverTorch class.
ATTACKS: Dict[str, str] = {
    'fgsm': 'GradientSignAttack',
    'pgd': 'LinfPGDAttack',
    'jsma': 'JacobianSaliencyMapAttack',
    'cw': 'CarliniWagnerL2Attack',
    'single_pixel': 'SinglePixelAttack',
    'local_search': 'LocalSearchAttack',
}

#: The target class of a targeted attack (always for :obj:`'jsma'`).
TARGET_RULE = '(y + 1) mod C'

# Where the paper's code departs from AdverTorch's defaults.
_PAPER_PARAMS: Dict[str, Dict[str, Any]] = {'cw': {'max_iterations': 200}}
_ALWAYS_TARGETED = frozenset({'jsma'})
# Both index pixels as (p % W, p // W) into (row, col), valid iff H == W.
_SQUARE_ONLY = frozenset({'single_pixel', 'local_search'})
_SUPPLIED = frozenset({'predict'})
_CACHE_FORMAT = 1
_SUMMARY_COLUMNS = ('attack', 'success_rate', 'num_collected',
                    'num_attacked', 'linf_mean', 'linf_max', 'l2_mean',
                    'l2_max', 'seconds', 'target_rule', 'note')


@dataclass(eq=False, repr=False)
class AdversarialSet:
    r"""The successful adversarial examples of one attack, beside their
    clean originals.

    Row :math:`i` of :obj:`x_adv`, :obj:`x_clean`, :obj:`y`, :obj:`index` and
    :obj:`pred` describes one sample: the adversarial input, the clean input
    :obj:`x[index[i]]` (classified correctly by the model), its true label
    and the model's (wrong) prediction on the adversarial input.

    Attributes:
        x_adv (torch.Tensor): Adversarial inputs :obj:`[n, ...]`.
        y (torch.Tensor): True labels :obj:`[n]`.
        x_clean (torch.Tensor): The clean inputs :obj:`[n, ...]`.
        index (torch.Tensor): Positions of the samples in the attacked input.
        pred (torch.Tensor): Predictions on :obj:`x_adv` :obj:`[n]`.
        success_rate (float): Successes over attacked samples (NaN if none
            was attacked).
        num_attacked (int): How many correctly classified samples were
            attacked.
        seconds (float): Wall time of the attack (of the original run when
            loaded from the cache).
        attack (str): The attack's name (a key of :obj:`ATTACKS`).
        params (dict): Every parameter the AdverTorch attack was built with.
        target_rule (str, optional): :obj:`TARGET_RULE` for a targeted
            attack, else :obj:`None`.
        note (str): Why fewer samples than requested were collected, or
            :obj:`""`.
        cached (bool): Whether the set was loaded from the cache.
    """
    x_adv: Tensor
    y: Tensor
    x_clean: Tensor
    index: Tensor
    pred: Tensor
    success_rate: float
    num_attacked: int
    seconds: float
    attack: str
    params: Dict[str, Any]
    target_rule: Optional[str] = None
    note: str = ''
    cached: bool = field(default=False)

    def __len__(self) -> int:
        return int(self.x_adv.size(0))

    @property
    def num_collected(self) -> int:
        r"""The number of adversarial examples in the set."""
        return len(self)

    def perturbation(self, p: float = float('inf')) -> Tensor:
        r"""The :math:`L_p` norm of every perturbation
        :math:`\mathbf{x}_{adv} - \mathbf{x}`, as a tensor :obj:`[n]`.

        Args:
            p (float, optional): The order of the norm.
                (default: :obj:`float('inf')`)
        """
        delta = (self.x_adv - self.x_clean).flatten(1)
        return torch.linalg.vector_norm(delta.double(), ord=p, dim=1)

    def summary(self) -> Dict[str, Any]:
        r"""One row of :func:`attack_summary` as a dict."""
        linf = self.perturbation(float('inf'))
        l2 = self.perturbation(2.0)

        def stat(t: Tensor, fn: str) -> float:
            return float(getattr(t, fn)()) if t.numel() else math.nan

        return {
            'attack': self.attack,
            'success_rate': self.success_rate,
            'num_collected': len(self),
            'num_attacked': self.num_attacked,
            'linf_mean': stat(linf, 'mean'),
            'linf_max': stat(linf, 'max'),
            'l2_mean': stat(l2, 'mean'),
            'l2_max': stat(l2, 'max'),
            'seconds': self.seconds,
            'target_rule': self.target_rule,
            'note': self.note,
        }

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(attack={self.attack!r}, '
                f'num_collected={len(self)}, '
                f'success_rate={self.success_rate:.4f}, '
                f'num_attacked={self.num_attacked})')


def _check_attack(attack: Any) -> str:
    if not isinstance(attack, str):
        raise TypeError(f"'attack' must be a str, one of {list(ATTACKS)} "
                        f"(got {type(attack).__name__})")
    key = attack.strip().lower()
    if key not in ATTACKS:
        raise ValueError(f"Unknown attack {attack!r}; valid names: "
                         f"{', '.join(ATTACKS)}")
    return key


def _attack_class(attack: str) -> type:
    return getattr(import_advertorch(), ATTACKS[attack])


def attack_params(
    attack: str,
    input_shape: Optional[Sequence[int]] = None,
    num_classes: Optional[int] = None,
    **params: Any,
) -> Dict[str, Any]:
    r"""Returns every parameter an attack of :obj:`ATTACKS` is built with:
    AdverTorch's defaults, the paper's changes (CW:
    :obj:`max_iterations=200`), then :obj:`params`.

    Given the shape of one input, :obj:`max_pixels` of :obj:`'single_pixel'`
    is capped at :math:`H \cdot W` (with a warning if it was set explicitly
    above that). Integers given for float parameters become floats, since
    AdverTorch rejects :obj:`eps=1`.

    Args:
        attack (str): A key of :obj:`ATTACKS`.
        input_shape ([int], optional): The shape of one input, e.g.
            :obj:`(1, 16, 16)`. (default: :obj:`None`)
        num_classes (int, optional): The number of classes, for the attacks
            that need it (:obj:`'jsma'`, :obj:`'cw'`). (default: :obj:`None`)
        **params (optional): Overrides of the attack's constructor
            arguments (all but :obj:`predict`).

    Returns:
        dict: The constructor arguments, without :obj:`predict`.

    Example:
        >>> attack_params('cw', num_classes=10)['max_iterations']
        200
        >>> attack_params('single_pixel', (1, 8, 8))['max_pixels']
        64
        >>> attack_params('fgsm', eps=1)['eps']
        1.0
    """
    attack = _check_attack(attack)
    signature = inspect.signature(_attack_class(attack).__init__)
    defaults: Dict[str, Any] = {}
    for name, parameter in list(signature.parameters.items())[1:]:
        if name in _SUPPLIED or parameter.kind in (
                parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        defaults[name] = (None if parameter.default is parameter.empty else
                          parameter.default)
    for name in params:
        if name in _SUPPLIED:
            raise ValueError(f"'{name}' of attack {attack!r} is supplied by "
                             f"pyg_dnnmod (got {name}={params[name]!r})")
        if name not in defaults:
            raise ValueError(f"Unknown parameter {name!r} of attack "
                             f"{attack!r} ({ATTACKS[attack]}); valid "
                             f"parameters: {', '.join(defaults)}")
    out = dict(defaults)
    out.update(_PAPER_PARAMS.get(attack, {}))
    for name, value in params.items():
        default = defaults[name]
        if isinstance(default, float) and isinstance(value, int) and \
                not isinstance(value, bool):
            value = float(value)
        out[name] = value

    if 'num_classes' in out and num_classes is not None:
        out['num_classes'] = num_classes

    if input_shape is not None and attack in _SQUARE_ONLY:
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ValueError(
                f"attack {attack!r} ({ATTACKS[attack]} of AdverTorch 0.2.3) "
                f"needs square images [C, H, W] with H == W, since it mixes "
                f"up rows and columns (got input shape {list(shape)})")
        if attack == 'single_pixel':
            num_pixels = shape[1] * shape[2]
            if out['max_pixels'] > num_pixels:
                if 'max_pixels' in params:
                    warnings.warn(
                        f"'max_pixels' capped at the {num_pixels} pixels of "
                        f"a {shape[1]}x{shape[2]} image "
                        f"(got {params['max_pixels']})", stacklevel=2)
                out['max_pixels'] = num_pixels
    return out


# ---------------------------------------------------------------------------
# Cache keys.


def _hash_tensor(h: 'hashlib._Hash', t: Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(f'{t.dtype}{tuple(t.shape)}'.encode())
    if t.numel():
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


class _Unstable(Exception):
    pass


def _canonical(value: Any) -> Any:
    r"""A JSON-able form of a parameter value that changes iff the value
    does; :class:`_Unstable` where no such form is known."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)  # json has no NaN; repr keeps inf and nan apart
    if isinstance(value, Tensor):
        h = hashlib.sha256()
        _hash_tensor(h, value)
        return {'tensor': h.hexdigest()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, nn.Module):
        # A loss module's options (e.g. `reduction`) are plain attributes
        # that neither its repr nor its state_dict shows.
        plain = {
            k: _canonical(v)
            for k, v in sorted(vars(value).items())
            if not k.startswith('_') and (v is None or isinstance(
                v, (bool, int, float, str)))
        }
        return {
            'module': f'{type(value).__module__}.{type(value).__qualname__}',
            'repr': repr(value),
            'attributes': plain,
            'state': _canonical(dict(value.state_dict())),
        }
    text = repr(value)
    if ' at 0x' in text:
        raise _Unstable(text)
    return {'type': f'{type(value).__module__}.{type(value).__qualname__}',
            'repr': text}


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'


def _cache_key(model: nn.Module, x: Tensor, y: Tensor, attack: str,
               params: Dict[str, Any], seed: int, num_samples: Optional[int],
               batch_size: int, device: torch.device) -> str:
    h = hashlib.sha256()
    meta = {
        'format': _CACHE_FORMAT,
        'pyg_dnnmod': pyg_dnnmod.__version__,
        'advertorch': _version('advertorch'),
        'torch': torch.__version__,
        'model': f'{type(model).__module__}.{type(model).__qualname__}',
        'repr': repr(model),
        'attack': attack,
        'params': _canonical(params),
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
        _hash_tensor(h, tensors[name])
    _hash_tensor(h, x)
    _hash_tensor(h, y)
    return h.hexdigest()


_FIELDS = ('x_adv', 'y', 'x_clean', 'index', 'pred', 'success_rate',
           'num_attacked', 'seconds', 'attack', 'target_rule', 'note')


def _load_cached(path: Path, key: str,
                 params: Dict[str, Any]) -> Optional[AdversarialSet]:
    if not path.is_file():
        return None
    try:
        stored = torch.load(path, map_location='cpu', weights_only=True)
        if stored.get('key') != key:
            raise ValueError('its key differs')
        values = {name: stored[name] for name in _FIELDS}
    except Exception as e:  # noqa: BLE001 - any unreadable file is rebuilt
        warnings.warn(f"ignoring the unreadable adversarial cache '{path}' "
                      f"({type(e).__name__}: {e}); recomputing",
                      stacklevel=3)
        return None
    return AdversarialSet(params=params, cached=True, **values)


def _save_cached(path: Path, key: str, adv: AdversarialSet) -> None:
    content: Dict[str, Any] = {name: getattr(adv, name) for name in _FIELDS}
    content['key'] = key
    content['params'] = json.dumps(_canonical(adv.params), sort_keys=True)
    save_checkpoint(content, path)


# ---------------------------------------------------------------------------
# Attacking.


@contextmanager
def _attack_mode(model: nn.Module) -> Iterator[None]:
    r"""Evaluation mode and frozen parameters, restored afterwards: the
    attacks backpropagate to the input only, and must neither update batch
    statistics nor leave gradients in the caller's parameters."""
    was_training = model.training
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    devices = [device.index if device.index is not None else
               torch.cuda.current_device()] if device.type == 'cuda' else []
    np_state = np.random.get_state()  # comply_with_foolbox reseeds numpy
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
    finally:
        np.random.set_state(np_state)


def _chunk_seed(seed: int, chunk: int) -> int:
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0])


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"'{name}' must be an integer (got {value!r})")
    if value < low:
        raise ValueError(f"'{name}' must be >= {low} (got {value})")
    return int(value)


def _check_inputs(x: Any, y: Any) -> Tuple[Tensor, Tensor]:
    if not isinstance(x, Tensor):
        raise TypeError(f"'x' must be a tensor (got {type(x).__name__})")
    if not x.is_floating_point():
        raise TypeError(f"'x' must be a floating-point tensor in pixel "
                        f"space [0, 1] (got {x.dtype})")
    if x.dim() < 2 or x.size(0) == 0:
        raise ValueError(f"'x' must be a non-empty batch [N, ...] "
                         f"(got shape {list(x.shape)})")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("'x' must be finite (got NaN or Inf values)")
    if not isinstance(y, Tensor):
        y = torch.as_tensor(y)
    if y.dim() != 1 or y.is_floating_point() or y.is_complex() or \
            y.dtype == torch.bool:
        raise TypeError(f"'y' must be a one-dimensional integer tensor "
                        f"(got {y.dtype} of shape {list(y.shape)})")
    if y.numel() != x.size(0):
        raise ValueError(f"'y' must hold one label per input: 'x' has "
                         f"{x.size(0)} inputs but 'y' has {y.numel()} "
                         f"labels")
    return x, y.long()


def _model_device(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device('cpu')


def _model_dtype(model: nn.Module, default: torch.dtype) -> torch.dtype:
    for t in model.parameters():
        if t.is_floating_point():
            return t.dtype
    return default


def _bounds(value: Any, ref: Tensor) -> Tensor:
    return torch.as_tensor(value, dtype=ref.dtype, device=ref.device)


def _collect(
    model: nn.Module,
    adversary: Any,
    x: Tensor,
    y: Tensor,
    num_classes: int,
    targeted: bool,
    clip: Tuple[Any, Any],
    num_samples: Optional[int],
    batch_size: int,
    seed: int,
    device: torch.device,
    dtype: torch.dtype,
    bar: tqdm,
) -> Dict[str, Any]:
    r"""Streams over :obj:`x` in a seeded order: keeps the correctly
    classified samples, attacks them chunk by chunk and keeps the successful
    ones until :obj:`num_samples` are found."""
    n = x.size(0)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    wanted = n if num_samples is None else num_samples
    pending = torch.empty(0, dtype=torch.long)
    position = 0
    attacked = successes = num_correct = 0
    found: Dict[str, List[Tensor]] = {k: [] for k in ('x_adv', 'index',
                                                       'pred')}
    collected = chunk = size = 0

    while collected < wanted:
        remaining = wanted - collected
        if num_samples is None:
            size = batch_size
        elif successes == 0:
            # No rate known yet: ask for just what is missing, doubling
            # after every chunk without success.
            size = min(batch_size, max(remaining, 2 * size))
        else:
            # Attack about as many as the observed rate needs, plus a
            # margin, so that slow per-sample attacks do not run on a whole
            # batch to find one more example.
            size = min(batch_size,
                       math.ceil(1.2 * remaining * attacked / successes))
        while pending.numel() < size and position < n:
            idx = order[position:position + batch_size]
            position += batch_size
            with torch.no_grad():
                pred = model(x[idx].to(device, dtype)).argmax(dim=-1).cpu()
            correct = idx[pred == y[idx]]
            num_correct += correct.numel()
            pending = torch.cat([pending, correct])
        if pending.numel() == 0:
            break
        idx, pending = pending[:size], pending[size:]

        xb = x[idx].to(device, dtype)
        yb = y[idx].to(device)
        target = (yb + 1) % num_classes if targeted else yb
        with _seeded(_chunk_seed(seed, chunk), device), torch.enable_grad():
            xa = adversary.perturb(xb, target)
        xa = xa.detach()
        # A no-op for a well-behaved attack; guarantees the pixel range even
        # for, e.g., a local search with a large `r`.
        xa = torch.max(torch.min(xa, _bounds(clip[1], xa)),
                       _bounds(clip[0], xa))
        with torch.no_grad():
            pred = model(xa).argmax(dim=-1)
        ok = (pred != yb).nonzero().view(-1)
        attacked += idx.numel()
        successes += ok.numel()
        ok = ok[:wanted - collected]
        found['x_adv'].append(xa[ok].cpu())
        found['index'].append(idx[ok.cpu()])
        found['pred'].append(pred[ok].cpu())
        collected += ok.numel()
        bar.update(ok.numel())
        chunk += 1

    index = torch.cat(found['index']) if found['index'] else torch.empty(
        0, dtype=torch.long)
    x_adv = torch.cat(found['x_adv']) if found['x_adv'] else x.new_empty(
        (0, ) + tuple(x.shape[1:])).to(dtype)
    pred = torch.cat(found['pred']) if found['pred'] else torch.empty(
        0, dtype=torch.long)
    return dict(x_adv=x_adv, index=index, pred=pred, attacked=attacked,
                successes=successes, num_correct=num_correct)


def adversarial_examples(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    attack: str = 'fgsm',
    num_samples: Optional[int] = None,
    batch_size: int = 64,
    seed: int = 0,
    cache_dir: Optional[Union[str, Path]] = None,
    device: Optional[Union[str, torch.device]] = None,
    progress: bool = True,
    **params: Any,
) -> AdversarialSet:
    r"""Collects :obj:`num_samples` successful adversarial examples of one
    of the paper's AdverTorch attacks (Lu et al., ECCV 2022, section 4.2).

    As in the paper, only correctly classified samples are attacked, and an
    example counts as successful when the model's prediction differs from
    the true label:

    .. math::
        \mathcal{A} = \{\, i : f(\mathbf{x}_i) = y_i,\;
        f(\mathbf{x}_i^{adv}) \neq y_i \,\}, \qquad
        \mathrm{success\ rate} = \frac{|\mathcal{A}|}{|\{\, i \text{
        attacked} \,\}|}

    The input is read in an order drawn from :obj:`seed`, chunk by chunk,
    and the search stops as soon as :obj:`num_samples` examples are found
    (all of them when :obj:`None`). The rate counts every attacked sample,
    including successes beyond :obj:`num_samples` in the last chunk.
    :obj:`'jsma'` (always targeted in AdverTorch) and any attack given
    :obj:`targeted=True` aim at class :math:`(y + 1) \bmod C`
    (:obj:`target_rule` of the result). An attack that fails on every sample
    returns an empty set with a :obj:`note` and a warning, not an error.

    The model runs in evaluation mode with its parameters frozen; its mode
    and :obj:`requires_grad` flags are restored afterwards. With
    :obj:`cache_dir`, the set is stored as ``<attack>-<key>.pt`` (written
    atomically, read with :obj:`torch.load(weights_only=True)`), where the
    key hashes the model's architecture, weights and buffers, the input and
    labels, the attack, all its parameters, :obj:`seed`,
    :obj:`num_samples`, :obj:`batch_size`, the device type and the library
    versions; a set computed with anything different is never reused.

    Args:
        model (torch.nn.Module): A classifier taking pixel-space inputs in
            :obj:`[0, 1]` (normalising inside) and returning logits
            :obj:`[B, C]`.
        x (torch.Tensor): Inputs :obj:`[N, C, H, W]` (any :obj:`[N, ...]`
            for the gradient attacks) in :obj:`[clip_min, clip_max]`.
        y (torch.Tensor): True integer labels :obj:`[N]`.
        attack (str, optional): A key of :obj:`ATTACKS`.
            (default: :obj:`'fgsm'`)
        num_samples (int, optional): How many examples to collect;
            :obj:`None` attacks every correctly classified sample.
            (default: :obj:`None`)
        batch_size (int, optional): The largest chunk attacked at once.
            :obj:`'jsma'` needs memory for :math:`B \cdot D^2` floats with
            :math:`D` the input size. (default: :obj:`64`)
        seed (int, optional): Seeds the order of the input and the attacks'
            random draws. (default: :obj:`0`)
        cache_dir (str or pathlib.Path, optional): Where to cache the set;
            :obj:`None` caches nothing. (default: :obj:`None`)
        device (str or torch.device, optional): Where to attack; the model
            is moved there. By default the device of the model.
            (default: :obj:`None`)
        progress (bool, optional): Show a tqdm progress bar on stderr.
            (default: :obj:`True`)
        **params (optional): Parameters of the AdverTorch attack, e.g.
            :obj:`eps=0.1`; see :func:`attack_params`.

    Returns:
        AdversarialSet: The examples (on the CPU), their clean originals,
        true labels and positions in :obj:`x`, with the success rate, the
        number of attacked samples and the time.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Sequential(torch.nn.Flatten(),
        ...                             torch.nn.Linear(4, 2))
        >>> x = torch.rand(20, 1, 2, 2)
        >>> y = model(x).argmax(dim=1)
        >>> adv = adversarial_examples(model, x, y, 'fgsm', num_samples=3,
        ...                            eps=0.5, progress=False)
        >>> len(adv), adv.attack, adv.params['eps']
        (3, 'fgsm', 0.5)
        >>> bool((model(adv.x_adv).argmax(dim=1) != adv.y).all())
        True
        >>> bool((adv.x_adv - adv.x_clean).abs().max() <= 0.5 + 1e-6)
        True
    """
    attack = _check_attack(attack)
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module "
                        f"(got {type(model).__name__})")
    x, y = _check_inputs(x, y)
    # The input is streamed to the device chunk by chunk; the sets are
    # returned on the CPU.
    x, y = x.detach().cpu(), y.cpu()
    if num_samples is not None:
        num_samples = _check_int(num_samples, 'num_samples', 1)
    batch_size = _check_int(batch_size, 'batch_size', 1)
    seed = _check_int(seed, 'seed', 0)
    if device is None:
        device = _model_device(model)
    else:
        device = torch.device(device)
        model.to(device)
    dtype = _model_dtype(model, x.dtype)

    with _attack_mode(model):
        with torch.no_grad():
            out = model(x[:1].to(device, dtype))
        if out.dim() != 2 or out.size(1) < 2:
            raise ValueError(f"'model' must return logits [B, C] with C >= 2 "
                             f"(got an output of shape {list(out.shape)})")
        num_classes = int(out.size(1))
        if int(y.min()) < 0 or int(y.max()) >= num_classes:
            raise ValueError(f"'y' must hold labels in [0, {num_classes - 1}]"
                             f" for the model's {num_classes} classes (got "
                             f"values in [{int(y.min())}, {int(y.max())}])")
        # `num_classes` comes from the model; a given one must agree.
        params = dict(params)
        has_given = 'num_classes' in params
        given = params.pop('num_classes', None)
        effective = attack_params(attack, tuple(x.shape[1:]), num_classes,
                                  **params)
        if has_given and 'num_classes' not in effective:
            raise ValueError(f"Unknown parameter 'num_classes' of attack "
                             f"{attack!r} ({ATTACKS[attack]}); valid "
                             f"parameters: {', '.join(effective)}")
        if has_given and given != num_classes:
            raise ValueError(f"'num_classes' must match the model's "
                             f"{num_classes} outputs (got {given!r})")
        clip = (effective.get('clip_min', 0.0),
                effective.get('clip_max', 1.0))
        low, high = _bounds(clip[0], x), _bounds(clip[1], x)
        if bool((x < low).any()) or bool((x > high).any()):
            raise ValueError(
                f"'x' must lie in [clip_min, clip_max] = [{clip[0]}, "
                f"{clip[1]}]: attacks work in pixel space and the model "
                f"normalises its input itself (got values in "
                f"[{float(x.min()):.4g}, {float(x.max()):.4g}])")
        targeted = attack in _ALWAYS_TARGETED or bool(
            effective.get('targeted', False))
        target_rule = TARGET_RULE if targeted else None

        path = key = None
        if cache_dir is not None:
            try:
                key = _cache_key(model, x, y, attack, effective, seed,
                                 num_samples, batch_size, device)
            except _Unstable as e:
                warnings.warn(f"not caching the {attack!r} set: a parameter "
                              f"has no stable representation ({e})",
                              stacklevel=2)
            else:
                path = Path(cache_dir) / f'{attack}-{key[:32]}.pt'
                cached = _load_cached(path, key, effective)
                if cached is not None:
                    if cached.note:
                        warnings.warn(f'{attack}: {cached.note}',
                                      stacklevel=2)
                    return cached

        adversary = _attack_class(attack)(model, **effective)
        total = x.size(0) if num_samples is None else num_samples
        start = time.perf_counter()
        with tqdm(total=total, desc=f'attack {attack}', unit='sample',
                  file=sys.stderr, disable=not progress) as bar:
            found = _collect(model, adversary, x, y, num_classes, targeted,
                             clip, num_samples, batch_size, seed, device,
                             dtype, bar)
        seconds = time.perf_counter() - start

    attacked, successes = found['attacked'], found['successes']
    index = found['index']
    note = ''
    if attacked == 0:
        note = (f'nothing was attacked: the model classifies none of the '
                f'{x.size(0)} inputs correctly')
    elif successes == 0:
        note = (f'the attack failed on every one of the {attacked} correctly '
                f'classified samples it was run on')
    elif num_samples is not None and index.numel() < num_samples:
        note = (f'collected {index.numel()} of the {num_samples} requested: '
                f'the input holds {found["num_correct"]} correctly '
                f'classified samples and the attack succeeded on '
                f'{successes} of the {attacked} attacked')
    if note:
        warnings.warn(f'{attack}: {note}', stacklevel=2)

    result = AdversarialSet(
        x_adv=found['x_adv'],
        y=y[index],
        x_clean=x[index].to(found['x_adv'].dtype),
        index=index,
        pred=found['pred'],
        success_rate=successes / attacked if attacked else math.nan,
        num_attacked=attacked,
        seconds=seconds,
        attack=attack,
        params=effective,
        target_rule=target_rule,
        note=note,
    )
    if path is not None:
        _save_cached(path, key, result)
    return result


def attack_summary(
    sets: Union[Iterable[AdversarialSet], Mapping[str, AdversarialSet]],
) -> pd.DataFrame:
    r"""Tabulates adversarial sets: one row per set with the attack, its
    success rate, how many examples were collected out of how many
    attacked, the mean and largest :math:`L_\infty` and :math:`L_2`
    perturbation

    .. math::
        \|\mathbf{x}^{adv}_i - \mathbf{x}_i\|_\infty, \qquad
        \|\mathbf{x}^{adv}_i - \mathbf{x}_i\|_2

    and the time in seconds (NaN statistics for an empty set).

    Args:
        sets ([AdversarialSet] or {str: AdversarialSet}): The sets; with a
            mapping, its keys become a leading :obj:`name` column.

    Returns:
        pandas.DataFrame: Columns :obj:`attack`, :obj:`success_rate`,
        :obj:`num_collected`, :obj:`num_attacked`, :obj:`linf_mean`,
        :obj:`linf_max`, :obj:`l2_mean`, :obj:`l2_max`, :obj:`seconds`,
        :obj:`target_rule` and :obj:`note`.

    Example:
        >>> x = torch.zeros(2, 1, 2, 2)
        >>> adv = AdversarialSet(
        ...     x_adv=x + 0.25, y=torch.tensor([0, 1]), x_clean=x,
        ...     index=torch.tensor([3, 5]), pred=torch.tensor([1, 0]),
        ...     success_rate=0.5, num_attacked=4, seconds=0.1,
        ...     attack='fgsm', params={'eps': 0.25})
        >>> row = attack_summary([adv]).iloc[0]
        >>> int(row['num_collected']), float(row['linf_max'])
        (2, 0.25)
        >>> float(row['l2_max'])  # sqrt(4 * 0.25 ** 2)
        0.5
    """
    if isinstance(sets, AdversarialSet):
        raise TypeError("'sets' must be a list or a dict of AdversarialSet "
                        "(got a single AdversarialSet; wrap it in a list)")
    if isinstance(sets, Mapping):
        names: Optional[List[str]] = [str(k) for k in sets]
        items = list(sets.values())
    else:
        names, items = None, list(sets)
    for item in items:
        if not isinstance(item, AdversarialSet):
            raise TypeError(f"'sets' must hold AdversarialSet objects "
                            f"(got {type(item).__name__})")
    df = pd.DataFrame([item.summary() for item in items],
                      columns=list(_SUMMARY_COLUMNS))
    if names is not None:
        df.insert(0, 'name', names)
    return df

