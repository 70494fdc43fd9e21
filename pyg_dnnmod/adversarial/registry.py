r"""The paper's six AdverTorch attacks by name, and every parameter they are
built with.

Lu et al. (ECCV 2022, section 4.2) run six AdverTorch attacks
(:obj:`ATTACKS`) at AdverTorch's defaults, except CW with
:obj:`max_iterations=200` as in the paper's code. This module turns a name
and overrides into the constructor arguments (:func:`attack_params`) and
holds the fixes for traps of AdverTorch 0.2.3 that are about parameters:

* :class:`JacobianSaliencyMapAttack` is always targeted: given the true label
  as "target" it stops at once and perturbs nothing. It gets the target
  :math:`(y + 1) \bmod C` (:obj:`TARGET_RULE`, :func:`target_labels`).
* :class:`SinglePixelAttack` indexes its first :obj:`max_pixels` (default
  100) pixels without checking that the image has that many; the value is
  capped at :math:`H \cdot W`. It and :class:`LocalSearchAttack` also mix up
  rows and columns, which only works for square images, so other shapes are
  refused with a clear error.
* Float parameters given as integers (:obj:`eps=1`) make AdverTorch raise a
  bare :class:`TypeError` deep inside; they are converted.
"""
import inspect
import warnings
from typing import Any, Dict, Mapping, Optional, Sequence

from torch import Tensor

from pyg_dnnmod.adversarial._compat import import_advertorch

__all__ = [
    'ATTACKS',
    'TARGET_RULE',
    'check_attack',
    'attack_class',
    'attack_params',
    'is_targeted',
    'target_labels',
]

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
# Constructor arguments that pyg_dnnmod fills in itself.
_SUPPLIED = frozenset({'predict'})


def check_attack(attack: Any) -> str:
    r"""Returns the key of :obj:`ATTACKS` that :obj:`attack` names (case and
    surrounding blanks do not matter).

    Raises:
        TypeError: If :obj:`attack` is not a string.
        ValueError: If it names no attack of :obj:`ATTACKS` (the message
            lists the valid names).

    Example:
        >>> check_attack(' PGD')
        'pgd'
        >>> try:
        ...     check_attack('deepfool')
        ... except ValueError as e:
        ...     print(str(e).split(';')[0])
        Unknown attack 'deepfool'
    """
    if not isinstance(attack, str):
        raise TypeError(f"'attack' must be a str, one of {list(ATTACKS)} "
                        f"(got {type(attack).__name__})")
    key = attack.strip().lower()
    if key not in ATTACKS:
        raise ValueError(f"Unknown attack {attack!r}; valid names: "
                         f"{', '.join(ATTACKS)}")
    return key


def attack_class(attack: str) -> type:
    r"""The AdverTorch class of an attack of :obj:`ATTACKS` (imports
    AdverTorch with its compatibility shim).

    Example:
        >>> attack_class('fgsm').__name__
        'GradientSignAttack'
    """
    return getattr(import_advertorch(), ATTACKS[check_attack(attack)])


def _check_param_names(attack: str, params: Mapping[str, Any],
                       valid: Sequence[str]) -> None:
    for name in params:
        if name in _SUPPLIED:
            raise ValueError(f"'{name}' of attack {attack!r} is supplied by "
                             f"pyg_dnnmod (got {name}={params[name]!r})")
        if name not in valid:
            raise ValueError(f"Unknown parameter {name!r} of attack "
                             f"{attack!r} ({ATTACKS[attack]}); valid "
                             f"parameters: {', '.join(valid)}")


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
    attack = check_attack(attack)
    signature = inspect.signature(attack_class(attack).__init__)
    defaults: Dict[str, Any] = {}
    for name, parameter in list(signature.parameters.items())[1:]:
        if name in _SUPPLIED or parameter.kind in (
                parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        defaults[name] = (None if parameter.default is parameter.empty else
                          parameter.default)
    _check_param_names(attack, params, list(defaults))
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


def is_targeted(attack: str, params: Mapping[str, Any]) -> bool:
    r"""Whether :obj:`attack` built with :obj:`params` aims at a target
    class (:obj:`TARGET_RULE`): always for :obj:`'jsma'`, else when
    :obj:`params` sets :obj:`targeted=True`.

    Example:
        >>> is_targeted('jsma', {}), is_targeted('fgsm', {'targeted': False})
        (True, False)
    """
    attack = check_attack(attack)
    return attack in _ALWAYS_TARGETED or bool(params.get('targeted', False))


def target_labels(y: Tensor, num_classes: int) -> Tensor:
    r"""The targets :obj:`TARGET_RULE` gives the true labels :obj:`y`:
    :math:`(y + 1) \bmod C`.

    Example:
        >>> import torch
        >>> target_labels(torch.tensor([0, 3, 9]), 10).tolist()
        [1, 4, 0]
    """
    return (y + 1) % num_classes
