r"""Running an attack: :func:`adversarial_examples` collects the successful
adversarial examples of one attack of
:obj:`~pyg_dnnmod.adversarial.ATTACKS`, as in section 4.2 of Lu et al.
(ECCV 2022).

The paper attacks only correctly classified samples, keeps the successful
ones (prediction :math:`\neq` true label) until :math:`N` are collected, and
reports the success rate and the time. Inputs live in pixel space
:math:`[0, 1]` and the model normalises them itself (see
:class:`~pyg_dnnmod.models.Normalize`), so the attacks' clipping to
:math:`[0, 1]` is right. Traps of AdverTorch 0.2.3 handled here rather than
in its source (those about parameters are handled in
:mod:`pyg_dnnmod.adversarial.registry`):

* Every attack backpropagates into the model, which accumulates gradients in
  the model's parameters; they are frozen during the attack and restored.
* :class:`LinfPGDAttack`, :class:`SinglePixelAttack` and
  :class:`LocalSearchAttack` draw from the global random generators; each
  chunk of samples is attacked under a seed derived from :obj:`seed` (and the
  caller's random state is restored), so results are reproducible.
"""
import math
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from pyg_dnnmod.adversarial.cache import (
    UnstableParameterError,
    cache_key,
    cache_path,
    load_cached_set,
    save_cached_set,
)
from pyg_dnnmod.adversarial.registry import (
    ATTACKS,
    TARGET_RULE,
    attack_class,
    attack_params,
    check_attack,
    is_targeted,
    target_labels,
)
from pyg_dnnmod.adversarial.sets import AdversarialSet
from pyg_dnnmod.utils import model_device

__all__ = ['adversarial_examples']


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
    r"""Runs the block under :obj:`seed` and restores the caller's torch (and
    :obj:`device`'s) and numpy random states afterwards."""
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
    # Independent streams per chunk, so a chunk's draws do not depend on
    # how many the previous chunks made.
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
        target = target_labels(yb, num_classes) if targeted else yb
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
    attack = check_attack(attack)
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
        device = model_device(model)
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
        targeted = is_targeted(attack, effective)
        target_rule = TARGET_RULE if targeted else None

        path = key = None
        if cache_dir is not None:
            try:
                key = cache_key(model, x, y, attack, effective, seed,
                                num_samples, batch_size, device)
            except UnstableParameterError as e:
                warnings.warn(f"not caching the {attack!r} set: a parameter "
                              f"has no stable representation ({e})",
                              stacklevel=2)
            else:
                path = cache_path(cache_dir, attack, key)
                cached = load_cached_set(path, key, effective)
                if cached is not None:
                    if cached.note:
                        warnings.warn(f'{attack}: {cached.note}',
                                      stacklevel=2)
                    return cached

        adversary = attack_class(attack)(model, **effective)
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
        save_cached_set(path, key, result)
    return result
