r"""How a transformer is read: its list of blocks, and the residual stream
before and after every block over :math:`N` sequences, one batch at a time.

A transformer's hidden states are :math:`[B, S, D]` per block (:math:`S`
tokens), not one vector per sample; the label-free block scores
(:mod:`pyg_dnnmod.redundancy`) need them per token, the k-NN snapshots
need one vector per sample (:func:`pool_tokens`). Both are taken from one
forward pass per batch: a pre-hook on the first block reads the stream
entering it (the embeddings) and a hook on every block reads the stream
leaving it, so the last state is the residual stream *before* the model's
final norm (the last entry of Hugging Face's :obj:`output_hidden_states`
has that norm applied already). The pass stops after the last block, so a
language model's head is never computed. Memory: the :math:`L + 1`
states of one batch, :math:`B \cdot S \cdot D \cdot (L + 1)` floats.
"""
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, Optional, Union

import torch
from torch import Tensor, nn

from pyg_dnnmod.features._readers import (
    _StopForward,
    leading_tensor,
    model_state,
)
from pyg_dnnmod.features._select import is_transformer_block
from pyg_dnnmod.names import TOKEN_POOLINGS


#: Token inputs: a tensor :obj:`[N, ...]` (token ids or images) or a dict of
#: tensors with the samples first (e.g. :obj:`input_ids` and
#: :obj:`attention_mask`, as a tokenizer returns them).
TokenInputs = Union[Tensor, Mapping]


class BlockList(NamedTuple):
    r"""The blocks of a transformer: the name of their container (e.g.
    :obj:`"transformer.h"`), the container and the blocks' module names."""
    path: str
    container: nn.Module
    names: list[str]


class BlockStates(NamedTuple):
    r"""The residual stream of one batch: :obj:`hidden[l]` enters block
    :obj:`l` (:obj:`hidden[0]` the embeddings, :obj:`hidden[L]` leaves the
    last block), each :obj:`[B, S, D]` float32, and the :obj:`[B, S]` bool
    mask of the real (non-padding) tokens; :obj:`start` is the index of
    the batch's first sample."""
    hidden: list[Tensor]
    mask: Tensor
    start: int


def transformer_blocks(model: nn.Module) -> BlockList:
    r"""Finds the list of blocks of a transformer: the
    :class:`~torch.nn.ModuleList` or :class:`~torch.nn.Sequential` that
    holds the most outermost transformer blocks (see
    :func:`~pyg_dnnmod.features.is_transformer_block`), e.g.
    :obj:`transformer.h` (GPT-2), :obj:`model.layers` (Llama family),
    :obj:`bert.encoder.layer` (BERT), :obj:`vit.encoder.layer` (Hugging
    Face ViT; :obj:`vit.layers` in transformers 5) and :obj:`blocks`
    (timm ViT, :class:`~pyg_dnnmod.models.VisionTransformer`).

    Args:
        model (torch.nn.Module): The model.

    Example:
        >>> from pyg_dnnmod.models import vit_tiny
        >>> found = transformer_blocks(vit_tiny(depth=3))
        >>> found.path, found.names
        ('blocks', ['blocks.0', 'blocks.1', 'blocks.2'])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    found: dict[str, list[str]] = {}
    outer: list[str] = []
    for name, module in model.named_modules():
        if not name or any(name.startswith(b + '.') for b in outer):
            continue
        if is_transformer_block(module):
            outer.append(name)
            parent = name.rpartition('.')[0]
            found.setdefault(parent, []).append(name)
    lists = {parent: names for parent, names in found.items()
             if isinstance(model.get_submodule(parent),
                           (nn.ModuleList, nn.Sequential))}
    if not lists:
        raise ValueError(
            f"'model' ({type(model).__name__}) has no list of transformer "
            f"blocks (a ModuleList or Sequential of modules with an "
            f"attention child, see is_transformer_block)")
    path = max(lists, key=lambda p: len(lists[p]))
    return BlockList(path, model.get_submodule(path), lists[path])


def pool_tokens(hidden: Tensor, attention_mask: Optional[Tensor] = None,
                pooling: str = 'mean') -> Tensor:
    r"""One vector per sequence from token states :obj:`[B, S, D]`: the
    mean over the real tokens (:obj:`"mean"`), the last real token
    (:obj:`"last"`, what a causal model's next-token prediction reads) or
    the first token (:obj:`"cls"`, BERT's and ViT's class token).

    Args:
        hidden (torch.Tensor): The token states :obj:`[B, S, D]`.
        attention_mask (torch.Tensor, optional): :obj:`[B, S]`, nonzero on
            real tokens; padding may be on either side. (default: every
            token is real)
        pooling (str, optional): One of :data:`TOKEN_POOLINGS`.
            (default: :obj:`"mean"`)

    Example:
        >>> h = torch.tensor([[[1., 0.], [3., 2.], [9., 9.]]])
        >>> mask = torch.tensor([[1, 1, 0]])
        >>> pool_tokens(h, mask).tolist()
        [[2.0, 1.0]]
        >>> pool_tokens(h, mask, 'last').tolist()
        [[3.0, 2.0]]
    """
    if pooling not in TOKEN_POOLINGS:
        raise ValueError(f"'pooling' must be one of {TOKEN_POOLINGS} (got "
                         f"{pooling!r})")
    if hidden.dim() != 3:
        raise ValueError(f"'hidden' must be [B, S, D] (got shape "
                         f"{tuple(hidden.shape)})")
    mask = _check_mask(attention_mask, hidden.shape[:2])
    if pooling == 'cls':
        return hidden[:, 0]
    if pooling == 'last':
        # The last real token: the highest position whose mask is set.
        pos = torch.arange(hidden.size(1), device=hidden.device)
        last = torch.where(mask, pos, -1).amax(dim=1)
        return hidden[torch.arange(hidden.size(0)), last]
    weight = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weight).sum(dim=1) / weight.sum(dim=1)


def _check_mask(attention_mask: Optional[Tensor],
                shape: tuple[int, ...]) -> Tensor:
    if attention_mask is None:
        return torch.ones(shape, dtype=torch.bool)
    if not isinstance(attention_mask, Tensor):
        raise TypeError(f"'attention_mask' must be a Tensor (got "
                        f"{type(attention_mask).__name__})")
    if tuple(attention_mask.shape) != tuple(shape):
        raise ValueError(f"'attention_mask' must have shape {tuple(shape)} "
                         f"(got {tuple(attention_mask.shape)})")
    mask = attention_mask.bool()
    if not bool(mask.any(dim=1).all()):
        empty = int((~mask.any(dim=1)).nonzero()[0])
        raise ValueError(f"'attention_mask' has no real token in sequence "
                         f"{empty}")
    return mask


def _split(inputs: TokenInputs, attention_mask: Optional[Tensor]
           ) -> tuple[dict[str, Tensor], int]:
    if isinstance(inputs, Tensor):
        batch = {'': inputs}
    elif isinstance(inputs, Mapping):
        batch = dict(inputs)
        bad = [k for k, v in batch.items() if not isinstance(v, Tensor)]
        if bad or not batch:
            raise TypeError(f"'inputs' must map names to tensors (got "
                            f"{bad[0] if bad else 'an empty mapping'!r})")
    else:
        raise TypeError(f"'inputs' must be a Tensor or a dict of tensors "
                        f"(got {type(inputs).__name__})")
    if attention_mask is not None:
        if 'attention_mask' in batch:
            raise ValueError("pass the mask once: in 'inputs' or as "
                             "'attention_mask', not both")
        batch['attention_mask'] = attention_mask
    sizes = {k: v.size(0) if v.dim() else 0 for k, v in batch.items()}
    n = next(iter(sizes.values()))
    if n == 0 or any(s != n for s in sizes.values()):
        raise ValueError(f"every tensor of 'inputs' must hold the same "
                         f"number (> 0) of samples first (got {sizes})")
    return batch, n


def _first_tensor(value: Any) -> Tensor:
    tensor = leading_tensor(value)
    if tensor is None:
        raise TypeError(f"a transformer block returned "
                        f"{type(value).__name__}, not a Tensor or a tuple "
                        f"starting with one")
    return tensor


def iter_block_states(
    model: nn.Module,
    inputs: TokenInputs,
    attention_mask: Optional[Tensor] = None,
    batch_size: int = 32,
    device: Optional[Union[str, torch.device]] = None,
) -> Iterator[BlockStates]:
    r"""Runs :obj:`model` over :obj:`inputs` in batches and yields the
    residual stream before and after every block of
    :func:`transformer_blocks` for each batch, as :class:`BlockStates`
    (see the module doc: the last state is the stream before the final
    norm; the pass stops after the last block).

    The model runs in eval mode under :func:`torch.no_grad`, as
    :obj:`model(**batch)` for a dict (with the mask as
    :obj:`attention_mask`) and :obj:`model(x)` for a tensor; every
    module's train/eval flag is restored afterwards.

    Args:
        model (torch.nn.Module): A transformer (Hugging Face, timm or any
            model with a list of blocks).
        inputs (torch.Tensor or dict): Token ids or images :obj:`[N, ...]`,
            or a dict of tensors with :obj:`N` samples first.
        attention_mask (torch.Tensor, optional): :obj:`[N, S]`, nonzero on
            real tokens (or :obj:`inputs['attention_mask']`).
            (default: every token is real)
        batch_size (int, optional): Samples per forward pass.
            (default: :obj:`32`)
        device (str or torch.device, optional): Where the model runs.
            (default: where it is)

    Example:
        >>> from pyg_dnnmod.models import vit_tiny
        >>> states = next(iter_block_states(vit_tiny(depth=2),
        ...                                 torch.rand(5, 1, 28, 28)))
        >>> len(states.hidden), tuple(states.hidden[0].shape)
        (3, (5, 17, 64))
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) \
            or batch_size < 1:
        raise ValueError(f"'batch_size' must be a positive int (got "
                         f"{batch_size!r})")
    blocks = transformer_blocks(model)
    data, n = _split(inputs, attention_mask)
    modules = [model.get_submodule(name) for name in blocks.names]
    device = torch.device(device) if device is not None else None
    for start in range(0, n, batch_size):
        batch = {k: v[start:start + batch_size] for k, v in data.items()}
        hidden: list[Optional[Tensor]] = [None] * (len(modules) + 1)

        def enter(module: nn.Module, args: Any, kwargs: Any) -> None:
            x = args[0] if args else kwargs.get('hidden_states')
            hidden[0] = _first_tensor(x).detach().float()

        def leave_hook(i: int):
            def leave(module: nn.Module, args: Any, output: Any) -> None:
                hidden[i + 1] = _first_tensor(output).detach().float()
                if i + 1 == len(modules):
                    raise _StopForward
            return leave

        handles = [modules[0].register_forward_pre_hook(enter,
                                                        with_kwargs=True)]
        handles += [m.register_forward_hook(leave_hook(i))
                    for i, m in enumerate(modules)]
        try:
            with model_state(model, device) as on, torch.no_grad():
                moved = {k: v.to(on) for k, v in batch.items()}
                try:
                    if '' in moved:
                        mask = moved.pop('attention_mask', None)
                        kwargs = {} if mask is None else {
                            'attention_mask': mask}
                        model(moved[''], **kwargs)
                    else:
                        model(**moved)
                except _StopForward:
                    pass
        finally:
            for handle in handles:
                handle.remove()
        missing = [i for i, h in enumerate(hidden) if h is None]
        if missing:
            raise ValueError(f"the blocks of {blocks.path!r} did not all "
                             f"run in the forward pass (states {missing})")
        first = hidden[0]
        if first.dim() != 3:
            raise ValueError(f"the blocks of {blocks.path!r} take "
                             f"{tuple(first.shape)}, not [B, S, D] token "
                             f"states")
        mask = _check_mask(batch.get('attention_mask'),
                           tuple(first.shape[:2]))
        yield BlockStates([h for h in hidden if h is not None],
                          mask.to(first.device), start)
