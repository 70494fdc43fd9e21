r"""Which layers of a network are read: the paper's default points, explicit
choice by name, type or timm-style index, and the post-activation option.

The defaults follow the code of Lu et al. (ECCV 2022): a VGG-like network is
read at the output of every :class:`~torch.nn.Conv2d` (before BatchNorm and
ReLU), a ResNet at its stem convolution and at the output of every residual
block.
"""
import warnings
from collections.abc import Sequence
from typing import Union

from torch import nn

#: What :obj:`layers` may be: :obj:`None` (all default layers), an :obj:`int`
#: (the last :obj:`n` default layers), a list of indices into the default
#: layers, one module name or a list of them, or a module type or a tuple of
#: types.
LayerSpec = Union[None, int, str, Sequence[Union[int, str]], type,
                  tuple[type, ...]]

# Residual block classes of other libraries, recognised by class name and the
# package they come from, so that torchvision and timm are never imported
# here (a broken torchvision raises at import).
_FOREIGN_RESIDUAL_BLOCKS = {'BasicBlock', 'Bottleneck'}
_FOREIGN_PACKAGES = ('torchvision.models.', 'timm.models.')

#: The activation modules whose output ``post_activation`` reads.
ACTIVATIONS = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU,
    nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid,
    nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Softsign,
)
# Modules that may sit between a layer and its activation without changing
# which activation "belongs" to the layer.
_PASS_THROUGH = (
    nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm,
    nn.LocalResponseNorm, nn.modules.dropout._DropoutNd, nn.Identity,
)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)

# Longest list of valid names quoted in an error message.
_MAX_QUOTED = 20


def is_residual_block(module: nn.Module) -> bool:
    r"""Returns whether :obj:`module` is a residual block, i.e. its class
    sets :obj:`is_residual_block = True` (as the residual blocks of
    :mod:`pyg_dnnmod.models` do) or it is the :obj:`BasicBlock` or
    :obj:`Bottleneck` of torchvision's or timm's ResNets.

    Args:
        module (torch.nn.Module): The module.

    Example:
        >>> from torch import nn
        >>> class Block(nn.Module):
        ...     is_residual_block = True
        >>> is_residual_block(Block()), is_residual_block(nn.Conv2d(1, 1, 1))
        (True, False)
    """
    cls = type(module)
    if getattr(cls, 'is_residual_block', False) is True:
        return True
    return (cls.__name__ in _FOREIGN_RESIDUAL_BLOCKS
            and cls.__module__.startswith(_FOREIGN_PACKAGES))


def is_transformer_block(module: nn.Module) -> bool:
    r"""Returns whether :obj:`module` is a transformer block, i.e. its class
    sets :obj:`is_transformer_block = True` or one of its direct children is
    an attention module (a :class:`torch.nn.MultiheadAttention` or a module
    whose class name ends in :obj:`"Attention"`, as in torchvision's and
    timm's vision transformers).

    This covers :class:`torch.nn.TransformerEncoderLayer`, torchvision's
    :obj:`EncoderBlock` and timm's :obj:`Block` without importing either
    library.

    Args:
        module (torch.nn.Module): The module.

    Example:
        >>> from torch import nn
        >>> is_transformer_block(nn.TransformerEncoderLayer(8, 2))
        True
        >>> is_transformer_block(nn.Linear(8, 8))
        False
    """
    if getattr(type(module), 'is_transformer_block', False) is True:
        return True
    return any(
        isinstance(child, nn.MultiheadAttention)
        or type(child).__name__.endswith('Attention')
        for child in module.children())


def _outermost(names: list[str]) -> list[str]:
    # Drops every name nested inside an earlier one (`named_modules` lists a
    # parent before its children).
    out: list[str] = []
    for name in names:
        if not any(name.startswith(parent + '.') for parent in out):
            out.append(name)
    return out


def default_layers(model: nn.Module) -> tuple[list[str], str]:
    r"""Returns the names of the layers read by default and the name of the
    rule that chose them.

    The first rule that finds something applies:

    1. :obj:`'resnet'`: the model has residual blocks (see
       :func:`is_residual_block`). The stem convolution (the top-level
       :obj:`conv1` when it is a :class:`~torch.nn.Conv2d`, otherwise the
       first :class:`~torch.nn.Conv2d` outside every residual block, if any)
       and every outermost residual block, in module order. This is the
       paper's choice for ResNets.
    2. :obj:`'transformer'`: the model has transformer blocks (see
       :func:`is_transformer_block`): every outermost block, e.g. every
       encoder block of a ViT (the patch embedding is not read).
    3. :obj:`'conv'`: every :class:`~torch.nn.Conv2d` (else every 1D or 3D
       convolution). This is the paper's choice for VGGs: the output of the
       convolution itself, before BatchNorm and ReLU.
    4. :obj:`'linear'`: every :class:`~torch.nn.Linear` (an MLP).

    Args:
        model (torch.nn.Module): The model.

    Returns:
        (list[str], str): The module names (possibly empty, with rule
        :obj:`'none'`) and the rule.

    Example:
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(),
        ...                       nn.Flatten(), nn.LazyLinear(2))
        >>> default_layers(model)
        (['0'], 'conv')
    """
    modules = [(name, m) for name, m in model.named_modules() if name]

    blocks = _outermost([n for n, m in modules if is_residual_block(m)])
    if blocks:
        stem = getattr(model, 'conv1', None)
        if isinstance(stem, nn.Conv2d):
            stem_name = 'conv1'
        else:
            stem_name = next(
                (n for n, m in modules if isinstance(m, nn.Conv2d) and
                 not any(n.startswith(b + '.') for b in blocks)), None)
        stem_names = [] if stem_name is None else [stem_name]
        return stem_names + blocks, 'resnet'

    blocks = _outermost([n for n, m in modules if is_transformer_block(m)])
    if blocks:
        return blocks, 'transformer'

    convs = [n for n, m in modules if isinstance(m, nn.Conv2d)]
    if not convs:
        convs = [n for n, m in modules if isinstance(m, _CONVS)]
    if convs:
        return convs, 'conv'

    linears = [n for n, m in modules if isinstance(m, nn.Linear)]
    if linears:
        return linears, 'linear'
    return [], 'none'


def _quote_names(names: Sequence[str]) -> str:
    shown = ', '.join(repr(n) for n in names[:_MAX_QUOTED])
    if len(names) > _MAX_QUOTED:
        shown += f', ... ({len(names) - _MAX_QUOTED} more)'
    return f'[{shown}]'


def _is_index(x: object) -> bool:
    # `bool` is an `int` subclass, but `True` is never meant as an index.
    return isinstance(x, int) and not isinstance(x, bool)


def _is_module_type(x: object) -> bool:
    return isinstance(x, type) and issubclass(x, nn.Module)


def _resolve_layers(candidates: list[str], valid: Sequence[str],
                   layers: LayerSpec, what: str = 'layer') -> list[str]:
    r"""Resolves :obj:`layers` given as names or timm-style indices against
    a list of :obj:`candidates` (the default layers) and a list of
    :obj:`valid` names. Module types are resolved by the caller."""
    if layers is None:
        names = list(candidates)
    elif _is_index(layers):
        n = len(candidates)
        if not 1 <= layers <= n:
            raise ValueError(f"'layers' must be between 1 and {n} (the "
                             f"number of default {what}s) when it is an int "
                             f"(got {layers})")
        names = list(candidates[n - layers:])
    elif isinstance(layers, str):
        names = [layers]
    elif isinstance(layers, Sequence):
        items = list(layers)
        if len(items) == 0:
            raise ValueError("'layers' must not be empty (got [])")
        if all(_is_index(i) for i in items):
            n = len(candidates)
            for i in items:
                if not -n <= i < n:
                    raise ValueError(
                        f"index {i} in 'layers' is out of range for {n} "
                        f"default {what}s (valid: {-n}..{n - 1})")
            names = [candidates[i] for i in items]
        elif all(isinstance(i, str) for i in items):
            names = items
        else:
            raise TypeError(f"'layers' must hold only names or only integer "
                            f"indices (got {layers!r})")
    else:
        raise TypeError(f"'layers' must be None, an int, a name, a list of "
                        f"names or indices, or a module type (got "
                        f"{type(layers).__name__} {layers!r})")

    valid_set = set(valid)
    unknown = [n for n in names if n not in valid_set]
    if unknown:
        raise ValueError(f"unknown {what} name(s) {unknown!r} in 'layers'; "
                         f"valid names: {_quote_names(list(valid))} (call "
                         f"list_layers(model) to see them with their types "
                         f"and output shapes)")
    return names


def _post_activation(model: nn.Module, name: str) -> str:
    module = model.get_submodule(name)
    if isinstance(module, ACTIVATIONS):
        return name
    parent_name, _, child_name = name.rpartition('.')
    parent = model.get_submodule(parent_name)
    siblings = list(parent.named_children())
    position = [n for n, _ in siblings].index(child_name)
    for sibling_name, sibling in siblings[position + 1:]:
        if isinstance(sibling, _PASS_THROUGH):
            continue
        if isinstance(sibling, ACTIVATIONS):
            return (f'{parent_name}.{sibling_name}'
                    if parent_name else sibling_name)
        break
    if isinstance(module, (nn.Linear, ) + _CONVS):
        warnings.warn(
            f"no activation module follows layer {name!r} in its parent "
            f"(the activation may be a functional call); the layer's own "
            f"output is read", stacklevel=3)
    return name


def select_layers(model: nn.Module, layers: LayerSpec = None,
                  post_activation: bool = False) -> list[str]:
    r"""Returns the names of the modules whose outputs are read as the
    layers of :obj:`model`, in the spirit of timm's :obj:`out_indices` and
    torchvision's :obj:`return_nodes`.

    By default (:obj:`layers=None`) these are the points read by the code of
    Lu et al. (ECCV 2022, `"Understanding the Dynamics of DNNs Using Graph
    Modularity" <https://arxiv.org/abs/2111.12485>`_): the output of every
    :class:`~torch.nn.Conv2d` of a VGG-like network (before BatchNorm and
    ReLU), the stem convolution and every residual block of a ResNet; see
    :func:`default_layers` for the rules and for other models (transformer
    blocks, convolutions, linear layers).

    With :obj:`post_activation=True` every selected layer is replaced by the
    activation module that follows it: among the modules registered after
    the layer in the same parent module (the execution order in a
    :class:`~torch.nn.Sequential`), normalisation, dropout and identity
    modules are skipped and the next module is taken if it is an activation
    (:class:`~torch.nn.ReLU`, :class:`~torch.nn.GELU`, ...). A layer without
    one (a residual block, which ends with its own activation, or a layer
    whose activation is a functional call) is read as it is, with a warning
    for a convolution or linear layer. An activation module that runs more
    than once per forward pass cannot be read by a hook and is rejected at
    extraction.

    Args:
        model (torch.nn.Module): The model.
        layers (None or int or str or [str] or [int] or type, optional):
            :obj:`None` for all default layers, an :obj:`int` :math:`n` for
            the last :math:`n` default layers, a list of indices into the
            default layers (negative from the end), a module name or a list
            of names (in the order given), or a module type or tuple of
            types (every module of that type, in module order).
            (default: :obj:`None`)
        post_activation (bool, optional): Whether to read the output of the
            activation that follows every selected layer.
            (default: :obj:`False`)

    Returns:
        list[str]: Module names, as in :meth:`torch.nn.Module.named_modules`.

    Example:
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4),
        ...                       nn.ReLU(), nn.Conv2d(4, 8, 3), nn.ReLU())
        >>> select_layers(model)
        ['0', '3']
        >>> select_layers(model, post_activation=True)
        ['2', '4']
        >>> select_layers(model, 1), select_layers(model, nn.ReLU)
        (['3'], ['2', '4'])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    valid = [name for name, _ in model.named_modules() if name]

    if _is_module_type(layers) or (
            isinstance(layers, tuple) and len(layers) > 0
            and all(_is_module_type(t) for t in layers)):
        names = [name for name, m in model.named_modules()
                 if name and isinstance(m, layers)]
        if not names:
            raise ValueError(f"no module of type {layers!r} in the model "
                             f"(call list_layers(model) to see its modules)")
    else:
        candidates: list[str] = []
        if layers is None or _is_index(layers) or (
                isinstance(layers, Sequence) and not isinstance(layers, str)
                and len(layers) > 0 and all(_is_index(i) for i in layers)):
            candidates, _ = default_layers(model)
            if not candidates:
                raise ValueError(
                    f"could not choose the layers of "
                    f"{type(model).__name__} automatically (no residual "
                    f"block, transformer block, convolution or linear "
                    f"layer); pass 'layers' by name or type (call "
                    f"list_layers(model) to see the modules)")
        names = _resolve_layers(candidates, valid, layers)

    if post_activation:
        names = [_post_activation(model, name) for name in names]

    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"'layers' selects {duplicates!r} more than once"
                         + (" (after moving to the activations)"
                            if post_activation else ""))
    return names
