r"""The result of one attack, :class:`AdversarialSet`, and the table of
several, :func:`attack_summary`.
"""
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import pandas as pd
import torch
from torch import Tensor

__all__ = [
    'SUMMARY_COLUMNS',
    'AdversarialSet',
    'attack_summary',
]

#: The columns of :func:`attack_summary` (after :obj:`name`, when given).
SUMMARY_COLUMNS = ('attack', 'success_rate', 'num_collected',
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

    Example:
        >>> x = torch.zeros(1, 1, 2, 2)
        >>> adv = AdversarialSet(
        ...     x_adv=x + 0.5, y=torch.tensor([0]), x_clean=x,
        ...     index=torch.tensor([7]), pred=torch.tensor([1]),
        ...     success_rate=1.0, num_attacked=1, seconds=0.0,
        ...     attack='fgsm', params={'eps': 0.5})
        >>> len(adv), adv.summary()['linf_max']
        (1, 0.5)
        >>> adv.perturbation(2.0).tolist()  # sqrt(4 * 0.5 ** 2)
        [1.0]
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
                      columns=list(SUMMARY_COLUMNS))
    if names is not None:
        df.insert(0, 'name', names)
    return df
