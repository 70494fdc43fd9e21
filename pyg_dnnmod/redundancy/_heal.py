r"""A short healing fine-tune after blocks were removed: only the last
blocks and what follows the block list (the final norm and the head) are
trained, the rest stays frozen, as in the healing step of the layer
pruning literature (Gromov et al. heal with QLoRA; here the parameters
themselves are trained, which a small model affords)."""
from typing import Optional, Union

import torch
from torch import Tensor, nn

from pyg_dnnmod.features import TokenInputs, transformer_blocks
from pyg_dnnmod.utils import check_labels


def trainable_names(model: nn.Module, last_blocks: int = 1) -> list[str]:
    r"""The parameters :func:`heal_blocks` trains: those of the last
    :obj:`last_blocks` blocks and every parameter registered after the
    block list (the final norm and the head; a head tied to the input
    embedding stays frozen with it).

    Example:
        >>> from pyg_dnnmod.models import vit_tiny
        >>> names = trainable_names(vit_tiny(depth=2))
        >>> [n for n in names if not n.startswith('blocks.1.')]
        ['norm.weight', 'norm.bias', 'head.weight', 'head.bias']
    """
    blocks = transformer_blocks(model)
    if isinstance(last_blocks, bool) or not isinstance(last_blocks, int) \
            or not 0 <= last_blocks <= len(blocks.names):
        raise ValueError(f"'last_blocks' must be an int between 0 and "
                         f"{len(blocks.names)} (got {last_blocks!r})")
    kept = blocks.names[len(blocks.names) - last_blocks:]
    names, after = [], False
    for name, _ in model.named_parameters():
        inside = name.startswith(blocks.path + '.')
        if inside:
            after = True
        if any(name.startswith(b + '.') for b in kept) or \
                (after and not inside):
            names.append(name)
    return names


def _loss(model: nn.Module, batch: dict[str, Tensor],
          labels: Optional[Tensor]) -> Tensor:
    if '' in batch:
        out = model(batch[''])
    elif labels is None:  # a causal language model: next-token loss
        target = batch['input_ids'].clone()
        if 'attention_mask' in batch:
            target[batch['attention_mask'] == 0] = -100
        return model(**batch, labels=target).loss
    else:
        out = model(**batch)
    logits = out if isinstance(out, Tensor) else out.logits
    return nn.functional.cross_entropy(logits, labels)


def heal_blocks(
    model: nn.Module,
    inputs: TokenInputs,
    labels: Optional[Tensor] = None,
    *,
    last_blocks: int = 1,
    epochs: int = 1,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    device: Optional[Union[str, torch.device]] = None,
) -> nn.Module:
    r"""A healed copy of :obj:`model` (the caller's is not changed): AdamW
    on the parameters of :func:`trainable_names` for :obj:`epochs` passes
    over :obj:`inputs` in a seeded order; cross-entropy on the logits with
    :obj:`labels`, else the next-token loss of a causal language model
    (:obj:`inputs` a dict with :obj:`input_ids`, padding masked). The copy
    is returned in eval mode.

    Args:
        model (torch.nn.Module): A transformer, e.g. after
            :func:`~pyg_dnnmod.redundancy.remove_blocks`.
        inputs (torch.Tensor or dict): Training samples :math:`[N, ...]`
            or a dict of tensors.
        labels (torch.Tensor, optional): Class labels :math:`[N]`.
            (default: :obj:`None`, the next-token loss)
        last_blocks (int, optional): Blocks trained, counted from the end.
            (default: :obj:`1`)
        epochs (int, optional): Passes over the data. (default: :obj:`1`)
        lr (float, optional): AdamW's learning rate. (default: :obj:`1e-3`)
        batch_size (int, optional): Samples per step. (default: :obj:`64`)
        seed (int, optional): Seeds the order of the samples.
            (default: :obj:`0`)
        device (str or torch.device, optional): Where to train.
            (default: where the model is)

    Example:
        >>> from pyg_dnnmod.models import vit_tiny
        >>> model = vit_tiny(depth=2)
        >>> x, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
        >>> healed = heal_blocks(model, x, y, batch_size=8)
        >>> torch.equal(healed.blocks[0].mlp[0].weight,
        ...             model.blocks[0].mlp[0].weight)
        True
        >>> torch.equal(healed.head.weight, model.head.weight)
        False
    """
    import copy

    for name, value in (('epochs', epochs), ('batch_size', batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) \
                or value < 1:
            raise ValueError(f"'{name}' must be a positive int (got "
                             f"{value!r})")
    if not lr > 0:
        raise ValueError(f"'lr' must be > 0 (got {lr!r})")
    train = set(trainable_names(model, last_blocks))
    data = {'': inputs} if isinstance(inputs, Tensor) else dict(inputs)
    n = next(iter(data.values())).size(0)
    if labels is not None:
        labels = check_labels(labels, n)
    elif '' in data or 'input_ids' not in data:
        raise ValueError("'labels' are needed unless 'inputs' is a dict "
                         "with 'input_ids' for a causal language model")
    healed = copy.deepcopy(model)
    if device is not None:
        healed.to(device)
    on = next(healed.parameters()).device
    params = []
    for name, p in healed.named_parameters():
        p.requires_grad_(name in train)
        if name in train:
            params.append(p)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    healed.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            batch = {k: v[idx].to(on) for k, v in data.items()}
            y = None if labels is None else labels[idx].to(on)
            loss = _loss(healed, batch, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    for p in healed.parameters():
        p.requires_grad_(True)
    return healed.eval()
