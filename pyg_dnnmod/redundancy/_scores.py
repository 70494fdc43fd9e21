r"""Label-free scores of a transformer block from the residual stream
before and after it, per token: Block Influence (Men et al., 2024,
"ShortGPT") and the angular distance of Gromov et al. (2024, "The
Unreasonable Ineffectiveness of the Deeper Layers").

Both are means of a per-token quantity over the real (non-padding) tokens,

.. math::
    \cos_t = \frac{\mathbf{h}^{(a)}_t \cdot \mathbf{h}^{(b)}_t}
    {\max(\|\mathbf{h}^{(a)}_t\|, \epsilon) \,
    \max(\|\mathbf{h}^{(b)}_t\|, \epsilon)}, \qquad
    \mathrm{BI} = 1 - \frac{1}{T} \sum_t \cos_t, \qquad
    d = \frac{1}{T} \sum_t \frac{\arccos(\cos_t)}{\pi},

so they take :math:`O(T)` memory for :math:`T` tokens: no
:math:`T \times T` similarity matrix is formed (public Block Influence
code often builds one and keeps its diagonal), and padding tokens, whose
states are arbitrary, are left out. The cosines are float32 products of
float32 states, summed in float64, one token's value independent of the
others'.
"""
import math
from typing import Optional

import torch
from torch import Tensor

#: Norms below this count as this (cosine 0 for a zero state), as in
#: :func:`~pyg_dnnmod.utils.knn_graph`.
EPS = 1e-8


def _tokens(hidden: Tensor, name: str) -> Tensor:
    if not isinstance(hidden, Tensor):
        raise TypeError(f"'{name}' must be a Tensor (got "
                        f"{type(hidden).__name__})")
    if hidden.dim() not in (2, 3) or hidden.numel() == 0:
        raise ValueError(f"'{name}' must be [B, S, D] token states or "
                         f"[N, D] vectors (got shape {tuple(hidden.shape)})")
    if not bool(torch.isfinite(hidden).all()):
        raise ValueError(f"'{name}' contains NaN or Inf values")
    return hidden


def token_cosine(hidden_a: Tensor, hidden_b: Tensor,
                 attention_mask: Optional[Tensor] = None) -> Tensor:
    r"""The cosine :math:`\cos_t` between the two states of every real
    token (see the module doc), in token order, as float32 :math:`[T]`.

    Args:
        hidden_a (torch.Tensor): States :math:`[B, S, D]` (or :math:`[N,
            D]`, one row per sample).
        hidden_b (torch.Tensor): The other states, same shape.
        attention_mask (torch.Tensor, optional): :math:`[B, S]`, nonzero on
            real tokens (only with :math:`[B, S, D]` states).
            (default: every token is real)

    Example:
        >>> a = torch.tensor([[[1., 0.], [0., 2.], [5., 5.]]])
        >>> b = torch.tensor([[[1., 1.], [0., -1.], [1., 0.]]])
        >>> token_cosine(a, b, torch.tensor([[1, 1, 0]]))
        tensor([ 0.7071, -1.0000])
    """
    a, b = _tokens(hidden_a, 'hidden_a'), _tokens(hidden_b, 'hidden_b')
    if a.shape != b.shape:
        raise ValueError(f"'hidden_a' and 'hidden_b' must have the same "
                         f"shape (got {tuple(a.shape)} and "
                         f"{tuple(b.shape)})")
    a, b = a.float(), b.float()
    if attention_mask is not None:
        if a.dim() != 3:
            raise ValueError("'attention_mask' needs [B, S, D] token states "
                             f"(got shape {tuple(a.shape)})")
        if tuple(attention_mask.shape) != tuple(a.shape[:2]):
            raise ValueError(f"'attention_mask' must have shape "
                             f"{tuple(a.shape[:2])} (got "
                             f"{tuple(attention_mask.shape)})")
        mask = attention_mask.to(a.device).bool()
        a, b = a[mask], b[mask]
    else:
        a, b = a.reshape(-1, a.size(-1)), b.reshape(-1, b.size(-1))
    dot = (a * b).sum(dim=-1)
    norms = a.norm(dim=-1).clamp_min(EPS) * b.norm(dim=-1).clamp_min(EPS)
    return (dot / norms).clamp(-1.0, 1.0)


def block_influence(hidden_a: Tensor, hidden_b: Tensor,
                    attention_mask: Optional[Tensor] = None) -> float:
    r"""Block Influence (Men et al., 2024, `ShortGPT
    <https://arxiv.org/abs/2403.03853>`_): one minus the mean cosine
    between the states entering and leaving a block over the real tokens
    (see the module doc). Near 0: the block barely turns the residual
    stream, a candidate for removal.

    Args:
        hidden_a (torch.Tensor): The states entering the block,
            :math:`[B, S, D]` (or :math:`[N, D]`).
        hidden_b (torch.Tensor): The states leaving it, same shape.
        attention_mask (torch.Tensor, optional): :math:`[B, S]`, nonzero on
            real tokens. (default: every token is real)

    Example:
        >>> a = torch.tensor([[[1., 0.], [0., 1.], [7., 7.]]])
        >>> b = torch.tensor([[[1., 0.], [1., 0.], [0., 0.]]])
        >>> block_influence(a, b, torch.tensor([[1, 1, 0]]))  # 1 - (1 + 0)/2
        0.5
    """
    cos = token_cosine(hidden_a, hidden_b, attention_mask)
    return 1.0 - float(cos.double().mean())


def angular_distance(hidden_a: Tensor, hidden_b: Tensor,
                     attention_mask: Optional[Tensor] = None) -> float:
    r"""The angular distance of Gromov et al. (2024, `The Unreasonable
    Ineffectiveness of the Deeper Layers
    <https://arxiv.org/abs/2403.17887>`_) between two states of the
    residual stream, usually :math:`\mathbf{h}_\ell` and
    :math:`\mathbf{h}_{\ell + n}` around a run of :math:`n` blocks: the
    mean of :math:`\arccos(\cos_t) / \pi` over the real tokens, in
    :math:`[0, 1]`. Gromov et al. read the last token only; pass
    :func:`~pyg_dnnmod.features.pool_tokens` :obj:`(..., 'last')` states
    for that.

    Args:
        hidden_a (torch.Tensor): The first states, :math:`[B, S, D]` (or
            :math:`[N, D]`).
        hidden_b (torch.Tensor): The second states, same shape.
        attention_mask (torch.Tensor, optional): :math:`[B, S]`, nonzero on
            real tokens. (default: every token is real)

    Example:
        >>> a = torch.tensor([[1., 0.], [0., 1.]])
        >>> b = torch.tensor([[0., 1.], [0., 1.]])
        >>> angular_distance(a, b)  # (1/2 + 0) / 2
        0.25
    """
    cos = token_cosine(hidden_a, hidden_b, attention_mask)
    return float((torch.arccos(cos.double()) / math.pi).mean())
