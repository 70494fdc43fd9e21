r"""Layer surgery: which layers of the modularity curve can be cut from a
network, and a copy of the network without them.

The layers are those of :func:`~pyg_dnnmod.features.select_layers` (the
points of the modularity curve): a convolution of a VGG-like network is cut
with its BatchNorm and activation, a residual block of a ResNet as a whole.
Cutting must leave a network that runs, so only layers whose input and
output shapes agree are removable, unless :obj:`adapt=True` lets the next
convolution take the channels it now receives (re-initialised, with a
warning). Lu et al. (ECCV 2022, appendix B) prune VGG19/VGG11 and ResNet152
this way; the results equal the variants built by
:func:`~pyg_dnnmod.models.get_model`.
"""
import copy
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from typing import Optional, Union

from torch import nn

from pyg_dnnmod.features import is_residual_block, select_layers
from pyg_dnnmod.features import ACTIVATIONS as _ACTIVATIONS

# Modules that may sit between a removed convolution and the next one without
# depending on the channel count.
_CHANNEL_AGNOSTIC = _ACTIVATIONS + (
    nn.MaxPool2d, nn.AvgPool2d, nn.modules.dropout._DropoutNd, nn.Identity)

# Longest list of names quoted in an error message.
_MAX_QUOTED = 24


def _quote(names: Sequence[str]) -> str:
    shown = ', '.join(repr(n) for n in names[:_MAX_QUOTED])
    if len(names) > _MAX_QUOTED:
        shown += f', ... ({len(names) - _MAX_QUOTED} more)'
    return f'[{shown}]'


def _split(name: str) -> tuple[str, str]:
    parent, _, child = name.rpartition('.')
    return parent, child


def _has_projection(block: nn.Module) -> bool:
    flag = getattr(block, 'has_projection', None)
    if flag is not None:
        return bool(flag)
    # torchvision and timm blocks: a `downsample` module changes the shape.
    return getattr(block, 'downsample', None) is not None


def _keeps_spatial_size(conv: nn.Conv2d) -> bool:
    if any(s != 1 for s in conv.stride):
        return False
    if conv.padding == 'same':
        return True
    if isinstance(conv.padding, str):
        return False
    return all(2 * p == d * (k - 1) for p, d, k in zip(
        conv.padding, conv.dilation, conv.kernel_size))


def _unit(children: list[nn.Module], position: int) -> list[int]:
    r"""Positions of a convolution and of the BatchNorm and activation that
    belong to it."""
    conv = children[position]
    out = [position]
    nxt = position + 1
    if nxt < len(children) and isinstance(children[nxt], nn.BatchNorm2d) \
            and children[nxt].num_features == conv.out_channels:
        out.append(nxt)
        nxt += 1
    if nxt < len(children) and isinstance(children[nxt], _ACTIVATIONS):
        out.append(nxt)
    return out


def _next_conv(children: list[nn.Module],
               unit: list[int]) -> Union[int, str]:
    r"""Position of the convolution after a unit, or why there is none that
    can be adapted."""
    for position in range(unit[-1] + 1, len(children)):
        child = children[position]
        if isinstance(child, nn.Conv2d):
            if child.groups != 1:
                return (f"is followed by a grouped convolution "
                        f"(groups={child.groups}) that cannot be adapted")
            return position
        if not isinstance(child, _CHANNEL_AGNOSTIC):
            return (f"is followed by a {type(child).__name__} before the "
                    f"next convolution, which depends on the channels")
    return ("is the last convolution of its nn.Sequential, so nothing after "
            "it can be adapted")


def _reason(model: nn.Module, name: str, first: str,
            adapt: bool) -> Optional[str]:
    r"""Why the curve layer :obj:`name` cannot be removed, or :obj:`None`."""
    if name == first:
        return ("is the first layer of the curve (the stem), which is never "
                "removed")
    module = model.get_submodule(name)
    parent_name, child_name = _split(name)
    parent = model.get_submodule(parent_name)
    if not isinstance(parent, nn.Sequential):
        return (f"is not a direct child of an nn.Sequential (its parent is "
                f"a {type(parent).__name__})")
    if is_residual_block(module):
        if _has_projection(module):
            return ("is a residual block with a projection shortcut (a 1x1 "
                    "convolution, as it changes the channels or the "
                    "resolution), so the layers after it would no longer "
                    "fit; only identity-shortcut blocks can be removed")
        return None
    if isinstance(module, nn.Conv2d):
        if not _keeps_spatial_size(module):
            return (f"changes the spatial size (stride {module.stride}, "
                    f"padding {module.padding}), so the layers after it "
                    f"would no longer fit")
        if module.in_channels == module.out_channels:
            return None
        if not adapt:
            return (f"maps {module.in_channels} to {module.out_channels} "
                    f"channels; pass adapt=True to re-initialise the next "
                    f"convolution for {module.in_channels} input channels")
        children = list(parent.children())
        position = list(parent._modules).index(child_name)
        found = _next_conv(children, _unit(children, position))
        return found if isinstance(found, str) else None
    return (f"is a {type(module).__name__}; only convolutions and residual "
            f"blocks inside an nn.Sequential can be removed")


def removable_layers(model: nn.Module, adapt: bool = False) -> list[str]:
    r"""Returns the layers of the modularity curve that
    :func:`remove_layers` can cut from :obj:`model`, in curve order.

    The curve's layers are :func:`~pyg_dnnmod.features.select_layers`
    (:obj:`model`). Of these, the first (the stem) is never removable, and a
    layer must be a direct child of an :class:`~torch.nn.Sequential`:

    * a residual block (ResNet) when its shortcut is the identity; a block
      with a projection shortcut changes the shape;
    * a :class:`~torch.nn.Conv2d` (VGG-like) that keeps the spatial size
      (stride 1, "same" padding) and maps :math:`C \to C` channels, or with
      :obj:`adapt=True` also :math:`C_{in} \neq C_{out}` when a later
      convolution of the same :class:`~torch.nn.Sequential` can take
      :math:`C_{in}` input channels instead.

    Removability is per layer: a set of them whose removal changes a
    :class:`~torch.nn.Sequential`'s output channels is refused by
    :func:`remove_layers`.

    Args:
        model (torch.nn.Module): The model.
        adapt (bool, optional): Whether convolutions that change the channel
            count count as removable. (default: :obj:`False`)

    Returns:
        list[str]: Module names.

    Example:
        >>> from pyg_dnnmod.models import DigitsCNN, resnet20
        >>> removable_layers(DigitsCNN())
        ['features.3', 'features.10']
        >>> removable_layers(DigitsCNN(), adapt=True)
        ['features.3', 'features.7', 'features.10']
        >>> removable_layers(resnet20())[:3]
        ['layer1.0', 'layer1.1', 'layer1.2']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    curve = select_layers(model)
    return [name for name in curve
            if _reason(model, name, curve[0], adapt) is None]


def _check_names(model: nn.Module, layer_names: Union[str, Sequence[str]],
                 adapt: bool) -> list[str]:
    if isinstance(layer_names, str):
        layer_names = [layer_names]
    if not isinstance(layer_names, Sequence) or not all(
            isinstance(n, str) for n in layer_names):
        raise TypeError(f"'layer_names' must be a module name or a list of "
                        f"names (got {layer_names!r})")
    names = list(layer_names)
    if not names:
        raise ValueError("'layer_names' must not be empty (got [])")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"'layer_names' names {duplicates!r} more than once")

    curve = select_layers(model)
    unknown = [n for n in names if n not in curve]
    if unknown:
        removable = [n for n in curve
                     if _reason(model, n, curve[0], adapt) is None]
        raise ValueError(f"unknown layer name(s) {unknown!r} in "
                         f"'layer_names': they are not layers of the "
                         f"modularity curve; removable layers: "
                         f"{_quote(removable)} (see removable_layers(model))")
    for name in names:
        reason = _reason(model, name, curve[0], adapt)
        if reason is not None:
            raise ValueError(f"cannot remove '{name}' from "
                             f"{type(model).__name__}: it {reason}")
    return names


def _plan(parent_name: str, parent: nn.Sequential, removed: set[int],
          adapt: bool) -> list[tuple[int, int]]:
    r"""Checks that the channels still flow through :obj:`parent` without
    the :obj:`removed` positions; returns the convolutions to adapt as
    :obj:`(position, new input channels)`."""
    channels: Optional[int] = None
    last_out: Optional[int] = None
    to_adapt: list[tuple[int, int]] = []
    for position, child in enumerate(parent.children()):
        if not isinstance(child, nn.Conv2d):
            continue
        if channels is None:
            channels = child.in_channels
        last_out = child.out_channels
        if position in removed:
            continue
        if child.in_channels != channels:
            assert adapt, 'only adapt=True removes a C_in != C_out conv'
            to_adapt.append((position, channels))
        channels = child.out_channels
    if channels != last_out:
        raise ValueError(f"removing these layers changes the output channels "
                         f"of '{parent_name}' from {last_out} to {channels}, "
                         f"which the layers after it cannot take; keep one "
                         f"of the convolutions that change the channels")
    return to_adapt


def _adapted_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size,
                     stride=conv.stride, padding=conv.padding,
                     dilation=conv.dilation, groups=conv.groups,
                     bias=conv.bias is not None,
                     padding_mode=conv.padding_mode,
                     device=conv.weight.device, dtype=conv.weight.dtype)


def _renumber(parent: nn.Sequential, keep: list[int]) -> dict[int, str]:
    r"""Keeps the children at :obj:`keep`; a Sequential with the default
    keys :obj:`'0', '1', ...` is renumbered, as if built without the removed
    children. Returns the new key of every kept position."""
    items = list(parent._modules.items())
    numbered = all(key == str(i) for i, (key, _) in enumerate(items))
    new_keys = {p: (str(i) if numbered else items[p][0])
                for i, p in enumerate(keep)}
    # Rebuilding `_modules` in place keeps the Sequential's class and hooks.
    parent._modules = OrderedDict(
        (new_keys[p], items[p][1]) for p in keep)
    return new_keys


def remove_layers(model: nn.Module, layer_names: Union[str, Sequence[str]],
                  adapt: bool = False) -> nn.Module:
    r"""Returns a copy of :obj:`model` without the given layers of its
    modularity curve, as in the layer pruning of Lu et al. (ECCV 2022,
    `"Understanding the Dynamics of DNNs Using Graph Modularity"
    <https://arxiv.org/abs/2111.12485>`_, section 5.2).

    The model is deep-copied, so every kept layer keeps its weights (and
    buffers, and the train/eval mode); the caller's model is not changed.

    * A :class:`~torch.nn.Conv2d` is removed together with the
      :class:`~torch.nn.BatchNorm2d` and the activation that follow it in
      its :class:`~torch.nn.Sequential`. With :obj:`adapt=True` a
      convolution that changes the channel count may be removed too: the
      next convolution is replaced by a freshly initialised one with the
      channels it now receives, and a warning names it.
    * A residual block with an identity shortcut is removed from its stage.
      A block with a projection shortcut raises a :class:`ValueError`.

    A :class:`~torch.nn.Sequential` with the default keys
    :obj:`'0', '1', ...` is renumbered, so VGG19 without its last
    convolution has the module names and the :obj:`state_dict` keys of the
    factory-built :obj:`'vgg19_1'`, and ResNet152 without the last
    :math:`r` blocks of its third stage those of :obj:`'resnet152_r'`.

    Args:
        model (torch.nn.Module): The model.
        layer_names (str or [str]): Names of layers of the curve (see
            :func:`removable_layers`).
        adapt (bool, optional): Whether convolutions that change the channel
            count may be removed by re-initialising the next convolution.
            (default: :obj:`False`)

    Returns:
        torch.nn.Module: The pruned copy.

    Example:
        >>> import torch
        >>> from pyg_dnnmod.models import get_model
        >>> pruned = remove_layers(get_model('vgg11'), 'features.25')
        >>> pruned.convs_per_block
        (1, 1, 2, 2, 1)
        >>> pruned(torch.rand(1, 3, 32, 32)).shape
        torch.Size([1, 10])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    if not isinstance(adapt, bool):
        raise TypeError(f"'adapt' must be a bool (got {adapt!r})")
    names = _check_names(model, layer_names, adapt)

    by_parent: dict[str, set[int]] = {}
    for name in names:
        parent_name, child_name = _split(name)
        parent = model.get_submodule(parent_name)
        position = list(parent._modules).index(child_name)
        module = parent[position]
        positions = ([position] if is_residual_block(module) else _unit(
            list(parent.children()), position))
        by_parent.setdefault(parent_name, set()).update(positions)

    plans = {
        parent_name: _plan(parent_name or type(model).__name__,
                           model.get_submodule(parent_name), removed, adapt)
        for parent_name, removed in by_parent.items()
    }

    pruned = copy.deepcopy(model)
    for parent_name, removed in by_parent.items():
        parent = pruned.get_submodule(parent_name)
        old_keys = list(parent._modules)
        for position, in_channels in plans[parent_name]:
            parent._modules[old_keys[position]] = _adapted_conv(
                parent[position], in_channels)
        keep = [p for p in range(len(old_keys)) if p not in removed]
        new_keys = _renumber(parent, keep)
        prefix = f'{parent_name}.' if parent_name else ''
        for position, in_channels in plans[parent_name]:
            old = model.get_submodule(prefix + old_keys[position])
            warnings.warn(
                f"remove_layers: the convolution '{prefix}"
                f"{old_keys[position]}' (now '{prefix}{new_keys[position]}')"
                f" was re-initialised with {in_channels} input channels "
                f"instead of {old.in_channels}; fine-tune the model",
                stacklevel=2)
    return pruned
