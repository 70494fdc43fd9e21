r"""Removing transformer blocks: a copy of a model without the blocks at
given positions that still runs (and generates, for a causal language
model) because everything that counts or numbers the blocks is updated
with them.

The blocks are the list that :func:`~pyg_dnnmod.features.transformer_blocks`
finds. The copy (:func:`copy.deepcopy`; the model passed in is never
changed) keeps the container's type (a :class:`~torch.nn.ModuleList` stays
one, an :class:`~torch.nn.Sequential` too), with the kept blocks in their
order under the names :obj:`0, 1, ...`, and keeps consistent:

* **Hugging Face** (GPT-2 :obj:`transformer.h`, Llama family
  :obj:`model.layers`, BERT :obj:`bert.encoder.layer`, ViT
  :obj:`vit.layers` in :obj:`transformers` 5): every config object held by
  a module on the way to the blocks or inside them (the model, its base
  model and the attention modules share one) whose
  :obj:`num_hidden_layers` was the old count gets the new count (GPT-2's
  :obj:`n_layer` is the same attribute, through :obj:`attribute_map`);
  every list or tuple of that config with one entry per block (e.g.
  :obj:`layer_types`, which sizes the KV cache and selects sliding-window
  masks, e.g. in Qwen2 and Mistral-family configs) keeps the entries of the
  kept blocks; the :obj:`per_layer_config` overrides of a heterogeneous
  config are renumbered; and every integer :obj:`layer_idx` (also
  :obj:`layer_id`, :obj:`layer_index`) inside a kept block is moved with
  its block, so block :math:`i` of the copy has :obj:`layer_idx` :math:`i`:
  a KV cache indexes its layers by it. Values computed from the old index
  when the model was built (GPT-2's :obj:`scale_attn_by_inverse_layer_idx`
  scaling) are left as they are, so the kept blocks compute what they did.
* **timm** :class:`~timm.models.vision_transformer.VisionTransformer` and
  :class:`~pyg_dnnmod.models.VisionTransformer` (:obj:`blocks`): timm's
  :obj:`feature_info` list (one dict per block, :obj:`"module":
  "blocks.<i>"`; ours has none) keeps the entries of the kept blocks,
  renumbered, with their other fields. Neither model stores its depth elsewhere (timm's
  :obj:`forward_intermediates` and :obj:`prune_intermediate_layers` read
  :obj:`len(blocks)`).

Not handled: encoder-decoder models (only the longest block list is found,
and their configs count the encoder and decoder layers separately) and
models whose blocks point at other blocks by index (e.g. KV-cache sharing).
"""
import copy
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from torch import nn

from pyg_dnnmod.features import transformer_blocks

#: Attributes of the modules inside a block that hold the block's position
#: (moved with the block).
INDEX_ATTRIBUTES = ('layer_idx', 'layer_id', 'layer_index')

# Config lists that are never per block, whatever their length.
_NOT_PER_BLOCK = frozenset({
    'architectures', 'image_mean', 'image_std', 'out_features',
    'out_indices', 'stage_names', 'bad_words_ids', 'suppress_tokens',
    'begin_suppress_tokens', 'forced_decoder_ids', 'id2label', 'label2id',
})


def _check_indices(indices: Any, num_blocks: int) -> list[int]:
    r"""The positions of :obj:`indices` in :obj:`[0, num_blocks)`."""
    if isinstance(indices, (str, bytes)) or not isinstance(indices,
                                                           Iterable):
        raise TypeError(f"'indices' must be a sequence of ints (got "
                        f"{type(indices).__name__} {indices!r})")
    indices = list(indices)
    seen: dict[int, int] = {}
    for index in indices:
        if isinstance(index, bool) or not isinstance(index,
                                                     numbers.Integral):
            raise TypeError(f"'indices' must hold ints (got "
                            f"{type(index).__name__} {index!r})")
        if not -num_blocks <= index < num_blocks:
            raise ValueError(f"'indices' must be in [{-num_blocks}, "
                             f"{num_blocks}) for a model with {num_blocks} "
                             f"blocks (got {int(index)})")
        position = int(index) % num_blocks
        if position in seen:
            raise ValueError(f"'indices' must name every block once (got "
                             f"{seen[position]} and {int(index)}, both "
                             f"block {position})")
        seen[position] = int(index)
    if len(seen) == num_blocks:
        raise ValueError(f"'indices' must keep at least one of the "
                         f"{num_blocks} blocks (got {indices})")
    return sorted(seen)


def _is_hugging_face(obj: Any, *bases: str) -> bool:
    r"""Whether :obj:`obj` is an instance of one of :obj:`transformers`'
    classes :obj:`bases` (read from the MRO, without importing
    :obj:`transformers`)."""
    return any(cls.__name__ in bases
               and cls.__module__.startswith('transformers.')
               for cls in type(obj).__mro__)


def _prefixes(path: str) -> list[str]:
    r"""The module names from the root (:obj:`""`) to :obj:`path`."""
    parts = path.split('.')
    return [''] + ['.'.join(parts[:i + 1]) for i in range(len(parts))]


def _update_config(config: Any, old: int, kept: list[int]) -> None:
    r"""Sets a Hugging Face config's block count to :obj:`len(kept)` and
    keeps the per-block entries of the kept blocks."""
    attributes = vars(config)
    for key, value in list(attributes.items()):
        if key.startswith('_') or key in _NOT_PER_BLOCK \
                or key.endswith(('_token_id', '_token_ids')):
            continue
        if isinstance(value, (list, tuple)) and len(value) == old:
            setattr(config, key, type(value)(value[i] for i in kept))
    spec = attributes.get('_heterogeneity_spec')
    if spec is not None:
        new = {kept.index(i): overrides
               for i, overrides in spec.per_layer_overrides.items()
               if i in kept}
        spec.per_layer_overrides = new
        spec.per_layer_attributes = {
            attr for overrides in new.values() for attr in overrides
        } - {'skip'}
    config.num_hidden_layers = len(kept)


def _renumber(block: nn.Module, old: int, new: int) -> None:
    r"""Moves the integer position attributes inside :obj:`block` from
    :obj:`old` to :obj:`new` (an offset from the position is kept)."""
    for module in block.modules():
        for name in INDEX_ATTRIBUTES:
            value = module.__dict__.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(module, name, value - old + new)


def _update_feature_info(module: nn.Module, path: str,
                         keys: dict[str, str], removed: set[str]) -> None:
    r"""Rebuilds a timm-style :obj:`feature_info` list of :obj:`module`,
    whose entries name modules relative to it: entries of removed blocks
    are dropped, those of kept blocks renamed (:obj:`keys`: old to new)."""
    info = getattr(module, 'feature_info', None)
    if not isinstance(info, list) or not all(
            isinstance(entry, dict) for entry in info):
        return
    rebuilt = []
    for entry in info:
        name = entry.get('module')
        if isinstance(name, str) and name.startswith(path + '.'):
            key, _, rest = name[len(path) + 1:].partition('.')
            if key in removed:
                continue
            if key in keys:
                entry = dict(entry, module='.'.join(
                    [path, keys[key]] + ([rest] if rest else [])))
        rebuilt.append(entry)
    module.feature_info = rebuilt


def remove_blocks(model: nn.Module, indices: Sequence[int]) -> nn.Module:
    r"""Returns a copy of :obj:`model` without the transformer blocks at
    :obj:`indices` (positions in the list of
    :func:`~pyg_dnnmod.features.transformer_blocks`), with its block count,
    per-block config entries, layer indices and feature info updated (see
    the module doc), so that it runs, and a causal language model generates
    with its KV cache. The model passed in is not changed.

    Args:
        model (torch.nn.Module): A transformer (Hugging Face, timm or any
            model with a list of blocks).
        indices ([int]): The positions of the blocks to remove, from
            :obj:`0`; negative ones count from the end. At least one block
            must be kept; no block may be named twice. An empty list returns
            an unchanged copy.

    Example:
        >>> import torch
        >>> from pyg_dnnmod.models import vit_tiny
        >>> model = vit_tiny(depth=3)
        >>> pruned = remove_blocks(model, [-1])
        >>> len(pruned.blocks), len(model.blocks)
        (2, 3)
        >>> pruned(torch.rand(4, 1, 28, 28)).shape
        torch.Size([4, 10])
    """
    found = transformer_blocks(model)
    keys = list(found.container._modules)
    removed = _check_indices(indices, len(found.names))
    pruned = copy.deepcopy(model)
    if not removed:
        return pruned
    container = pruned.get_submodule(found.path)
    prefix = found.path + '.'
    block_keys = [name[len(prefix):] for name in found.names]
    old = len(block_keys)
    kept = [i for i in range(old) if i not in removed]
    removed_keys = {block_keys[i] for i in removed}

    # The container's children without the removed blocks; numeric names
    # (ModuleList, Sequential) are renumbered 0, 1, ...
    numeric = keys == [str(i) for i in range(len(keys))]
    children = [(key, module) for key, module in container._modules.items()
                if key not in removed_keys]
    renamed = {key: str(i) if numeric else key
               for i, (key, _) in enumerate(children)}
    container._modules = type(container._modules)(
        (renamed[key], module) for key, module in children)

    for new, i in enumerate(kept):
        _renumber(container._modules[renamed[block_keys[i]]], i, new)

    # Configs and feature info held by the modules from the root to the
    # container and by the kept blocks.
    holders = [pruned.get_submodule(name) for name in _prefixes(found.path)]
    holders += [m for m in container.modules() if m is not container]
    configs = {}
    for module in holders:
        config = module.__dict__.get('config')
        if _is_hugging_face(config, 'PreTrainedConfig',
                            'PretrainedConfig'):
            configs[id(config)] = config
    for config in configs.values():
        if getattr(config, 'num_hidden_layers', None) == old:
            _update_config(config, old, kept)
    for name in _prefixes(found.path)[:-1]:
        relative = found.path[len(name) + 1:] if name else found.path
        _update_feature_info(pruned.get_submodule(name), relative, renamed,
                             removed_keys)
    return pruned


def _block_index(block: nn.Module) -> Any:
    r"""The first integer :obj:`layer_idx` (or :obj:`layer_id`,
    :obj:`layer_index`) inside :obj:`block`, else :obj:`pandas.NA`."""
    for module in block.modules():
        for name in INDEX_ATTRIBUTES:
            value = module.__dict__.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return pd.NA


def block_layout(model: nn.Module) -> pd.DataFrame:
    r"""The transformer blocks of :obj:`model`, one row per block of
    :func:`~pyg_dnnmod.features.transformer_blocks`: its position
    :obj:`index`, module :obj:`name` and number of :obj:`params`, and for
    a Hugging Face model the :obj:`layer_idx` its attention reads the KV
    cache with (:obj:`pandas.NA` where a block has none, e.g. ViT).

    Args:
        model (torch.nn.Module): A transformer.

    Example:
        >>> from pyg_dnnmod.models import vit_tiny
        >>> block_layout(vit_tiny(depth=2))
           index      name  params
        0      0  blocks.0   33472
        1      1  blocks.1   33472
    """
    found = transformer_blocks(model)
    blocks = [model.get_submodule(name) for name in found.names]
    data: dict[str, Any] = {
        'index': pd.Series(range(len(blocks)), dtype='int64'),
        'name': pd.Series(found.names, dtype=object),
        'params': pd.Series([sum(p.numel() for p in b.parameters())
                             for b in blocks], dtype='int64'),
    }
    if _is_hugging_face(model, 'PreTrainedModel'):
        data['layer_idx'] = pd.Series([_block_index(b) for b in blocks],
                                      dtype='Int64')
    return pd.DataFrame(data)
