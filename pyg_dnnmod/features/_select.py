r"""Which layers of a network are read: the paper's default points, explicit
choice by name, glob pattern, type or timm-style index, and the
post-activation option.

The defaults follow the code of Lu et al. (ECCV 2022): a VGG-like network is
read at the output of every :class:`~torch.nn.Conv2d` (before BatchNorm and
ReLU), a ResNet at its stem convolution and at the output of every residual
block. Other CNN families are read the ResNet way, by blocks.
"""
import difflib
import re
import warnings
from collections.abc import Sequence
from typing import Optional, Union

from torch import nn

#: What :obj:`layers` may be: :obj:`None` (all default layers), an :obj:`int`
#: (the last :obj:`n` default layers), a list of indices into the default
#: layers, one module name, glob pattern or :obj:`"type:<ClassName>"` or a
#: list of them, or a module type or a tuple of types.
LayerSpec = Union[None, int, str, Sequence[Union[int, str]], type,
                  tuple[type, ...]]

# Residual block classes of other libraries, recognised by class name and the
# package they come from, so that torchvision and timm are never imported
# here (a broken torchvision raises at import).
_FOREIGN_RESIDUAL_BLOCKS = {'BasicBlock', 'Bottleneck'}
_FOREIGN_PACKAGES = ('torchvision.models.', 'timm.models.')

# The blocks of other CNN families (rule 'block' of `default_layers`), by the
# module that defines them and their class name, so that torchvision and
# timm are never imported here. torchvision's RegNet block is listed here and
# not among the residual blocks: its shortcut is `proj`, not the `downsample`
# that the pruning code looks for to refuse a projection block.
_TIMM_EFFICIENTNET_BLOCKS = (
    'ConvBnAct', 'DepthwiseSeparableConv', 'InvertedResidual',
    'CondConvResidual', 'EdgeResidual', 'UniversalInvertedResidual',
    'MobileAttention')
_FOREIGN_BLOCKS = {
    'torchvision.models.convnext': ('CNBlock', ),
    'torchvision.models.efficientnet': ('MBConv', 'FusedMBConv'),
    'torchvision.models.mobilenetv2': ('InvertedResidual', ),
    'torchvision.models.mobilenetv3': ('InvertedResidual', ),
    'torchvision.models.mnasnet': ('_InvertedResidual', ),
    'torchvision.models.densenet': ('_DenseBlock', '_Transition'),
    'torchvision.models.regnet': ('ResBottleneckBlock', ),
    'timm.models.convnext': ('ConvNeXtBlock', ),
    'timm.models._efficientnet_blocks': _TIMM_EFFICIENTNET_BLOCKS,
    'timm.models.efficientnet_blocks': _TIMM_EFFICIENTNET_BLOCKS,  # timm<0.9
    'timm.models.densenet': ('DenseBlock', 'DenseTransition'),
}

# The child under which a wrapper such as `NormalizedModel` holds the network
# (`model.layer1.0`); a name or pattern that matches nothing is tried there.
_WRAPPED = 'model'
# Marks a name that selects modules by class name: 'type:Bottleneck'.
_TYPE_PREFIX = 'type:'
_GLOB_CHARS = frozenset('*?[')
# The class names of every module, its own first, then its bases'.
_ModuleTypes = dict[str, tuple[str, ...]]

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


def _is_family_block(module: nn.Module) -> bool:
    # The class, or one it derives from, is a block of a known CNN family.
    return any(cls.__name__ in _FOREIGN_BLOCKS.get(cls.__module__, ())
               for cls in type(module).__mro__)


def _outermost(names: list[str]) -> list[str]:
    # Drops every name nested inside an earlier one (`named_modules` lists a
    # parent before its children).
    out: list[str] = []
    for name in names:
        if not any(name.startswith(parent + '.') for parent in out):
            out.append(name)
    return out


def _with_stem(model: nn.Module, modules: list[tuple[str, nn.Module]],
               blocks: list[str]) -> list[str]:
    # The stem convolution (see rule 'resnet' of `default_layers`) and the
    # blocks.
    stem = getattr(model, 'conv1', None)
    if isinstance(stem, nn.Conv2d):
        stem_name = 'conv1'
    else:
        stem_name = next(
            (n for n, m in modules if isinstance(m, nn.Conv2d) and
             not any(n.startswith(b + '.') for b in blocks)), None)
    return ([] if stem_name is None else [stem_name]) + blocks


def default_layers(model: nn.Module) -> tuple[list[str], str]:
    r"""Returns the names of the layers read by default and the name of the
    rule that chose them.

    The first rule that finds something applies:

    1. :obj:`'resnet'`: the model has residual blocks (see
       :func:`is_residual_block`). The stem convolution (the top-level
       :obj:`conv1` when it is a :class:`~torch.nn.Conv2d`, otherwise the
       first :class:`~torch.nn.Conv2d` outside every residual block, if any)
       and every outermost residual block, in module order. This is the
       paper's choice for ResNets (also timm's RegNets, whose blocks are
       timm :obj:`Bottleneck` blocks).
    2. :obj:`'block'`: the model has blocks of another CNN family. A
       *block* is the unit that the family's own code repeats to build a
       stage, whose output is the whole feature map the rest of the network
       reads; like a ResNet, the model is read at its stem convolution
       (found as in :obj:`'resnet'`) and at every outermost block, in module
       order. Downsampling layers between stages and the head are not read,
       nor is anything inside a block (e.g. a squeeze-and-excitation gate,
       whose output is :obj:`[B, C, 1, 1]`). The blocks are recognised by
       class name and defining module (or a subclass of one), without
       importing torchvision or timm:

       * ConvNeXt: torchvision :obj:`CNBlock`, timm :obj:`ConvNeXtBlock`
         (ConvNeXt-Atto, depths :obj:`(2, 2, 6, 2)`: 1 + 12 layers).
       * EfficientNet (V1 and V2), MobileNet (V2 and V3) and MNASNet:
         torchvision :obj:`MBConv`, :obj:`FusedMBConv`, the
         :obj:`InvertedResidual` of MobileNetV2 and V3 and MNASNet's
         :obj:`_InvertedResidual`; in timm the blocks of its EfficientNet
         builder (:obj:`ConvBnAct`, :obj:`DepthwiseSeparableConv`,
         :obj:`InvertedResidual`, :obj:`CondConvResidual`,
         :obj:`EdgeResidual`, :obj:`UniversalInvertedResidual`,
         :obj:`MobileAttention`), which also builds MobileNetV1 to V4,
         MNASNet, LCNet and TinyNet (EfficientNet-B0: 1 + 16 layers,
         MobileNetV2: 1 + 17).
       * DenseNet: every dense block and every transition (torchvision
         :obj:`_DenseBlock` and :obj:`_Transition`, timm :obj:`DenseBlock`
         and :obj:`DenseTransition`; DenseNet-121: 1 + 4 + 3 layers). Not
         the dense layers inside a block: a dense layer outputs only its
         :obj:`growth_rate` new channels, which the block concatenates to
         what came before, so only the block's output (and the
         transition's) is the network's representation at that depth.
       * RegNet: torchvision :obj:`ResBottleneckBlock` (RegNetY-400MF:
         1 + 16 layers).

       This rule comes before :obj:`'transformer'` so that a hybrid network
       (timm's MobileNetV4 hybrids) is read at all of its blocks, its
       attention blocks included.
    3. :obj:`'transformer'`: the model has transformer blocks (see
       :func:`is_transformer_block`): every outermost block, e.g. every
       encoder block of a ViT or a Swin transformer (the patch embedding is
       not read).
    4. :obj:`'conv'`: every :class:`~torch.nn.Conv2d` (else every 1D or 3D
       convolution). This is the paper's choice for VGGs: the output of the
       convolution itself, before BatchNorm and ReLU.
    5. :obj:`'linear'`: every :class:`~torch.nn.Linear` (an MLP).

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
        return _with_stem(model, modules, blocks), 'resnet'

    blocks = _outermost([n for n, m in modules if _is_family_block(m)])
    if blocks:
        return _with_stem(model, modules, blocks), 'block'

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


def _glob_regex(pattern: str) -> re.Pattern:
    # A shell-style pattern over dotted module names: `*`, `?` and `[...]`
    # stay within one part of the name, `**` spans any number of parts.
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == '*':
            if pattern.startswith('**', i):
                out.append('.*')
                while i < n and pattern[i] == '*':
                    i += 1
                continue
            out.append(r'[^.]*')
        elif c == '?':
            out.append(r'[^.]')
        elif c == '[':
            j = i + 1
            if j < n and pattern[j] == '!':
                j += 1
            if j < n and pattern[j] == ']':
                j += 1
            while j < n and pattern[j] != ']':
                j += 1
            if j >= n:
                out.append(r'\[')
            else:
                chars = pattern[i + 1:j].replace('\\', r'\\')
                if chars.startswith('!'):
                    chars = '^.' + chars[1:]
                elif chars.startswith('^'):
                    chars = '\\' + chars
                out.append(f'[{chars}]')
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile(''.join(out))


def _close_names(word: str, names: Sequence[str]) -> list[str]:
    # The five closest, in the order of `names` (module order).
    close: list[str] = []
    for w in (word, f'{_WRAPPED}.{word}'):
        close += [c for c in difflib.get_close_matches(w, names, n=5)
                  if c not in close]
    chosen = set(close[:5])
    return [n for n in names if n in chosen]


def _not_found(head: str, word: str, names: Sequence[str], what: str,
               kind: str = 'names') -> ValueError:
    close = _close_names(word, names)
    hint = f"; close {kind}: {_quote_names(close)}" if close else ''
    valid = 'module types' if kind == 'types' else 'valid names'
    return ValueError(f"{head}{hint}; {valid}: {_quote_names(names)} (call "
                      f"list_layers(model) to see the {what}s with their "
                      f"types and output shapes)")


def _by_type(item: str, module_types: Optional[_ModuleTypes],
             what: str) -> list[str]:
    type_name = item[len(_TYPE_PREFIX):].strip()
    if module_types is None:
        raise ValueError(f"{item!r} in 'layers' selects modules by class "
                         f"name, which only the module names of a model "
                         f"can (select_layers, method='hooks'); pass the "
                         f"names or the module type itself")
    if not type_name:
        raise ValueError(f"{item!r} in 'layers' names no class; write "
                         f"'type:<ClassName>', e.g. 'type:Conv2d'")
    names = [n for n, types in module_types.items() if type_name in types]
    if not names:
        present = sorted({types[0] for types in module_types.values()})
        raise _not_found(f"no module of type {type_name!r} in the model "
                         f"({item!r} in 'layers')", type_name, present,
                         what, 'types')
    return names


def _by_pattern(pattern: str, valid: Sequence[str], what: str) -> list[str]:
    for candidate in (pattern, f'{_WRAPPED}.{pattern}'):
        regex = _glob_regex(candidate)
        names = [n for n in valid if regex.fullmatch(n)]
        if names:
            return names
    raise _not_found(f"pattern {pattern!r} in 'layers' matches no {what} "
                     f"name ('*', '?' and '[...]' stay within one part of a "
                     f"dotted name, '**' spans parts)", pattern,
                     list(valid), what)


def _expand_names(items: list[str], valid: Sequence[str], what: str,
                  module_types: Optional[_ModuleTypes]) -> list[str]:
    # Every item in turn: a 'type:' item, a valid name, a glob pattern, or a
    # name of the network that a wrapper holds as its child `model`.
    valid_set = set(valid)
    names: list[str] = []
    unknown: list[str] = []
    for item in items:
        if item.startswith(_TYPE_PREFIX):
            names += _by_type(item, module_types, what)
        elif item in valid_set:
            names.append(item)
        elif _GLOB_CHARS & set(item):
            names += _by_pattern(item, valid, what)
        elif f'{_WRAPPED}.{item}' in valid_set:
            names.append(f'{_WRAPPED}.{item}')
        else:
            unknown.append(item)
    if unknown:
        raise _not_found(f"unknown {what} name(s) {unknown!r} in 'layers'",
                         unknown[0], list(valid), what)
    return names


def _resolve_layers(candidates: list[str], valid: Sequence[str],
                    layers: LayerSpec, what: str = 'layer',
                    module_types: Optional[_ModuleTypes] = None,
                    ) -> list[str]:
    r"""Resolves :obj:`layers` given as names, patterns or timm-style
    indices against a list of :obj:`candidates` (the default layers) and a
    list of :obj:`valid` names, in order; :obj:`"type:<ClassName>"` items
    need :obj:`module_types` (the class names of every valid name, its
    own first, then its bases'). Module types themselves are resolved by
    the caller."""
    if layers is None:
        return list(candidates)
    if _is_index(layers):
        n = len(candidates)
        if not 1 <= layers <= n:
            raise ValueError(f"'layers' must be between 1 and {n} (the "
                             f"number of default {what}s) when it is an int "
                             f"(got {layers})")
        return list(candidates[n - layers:])
    if isinstance(layers, str):
        return _expand_names([layers], valid, what, module_types)
    if isinstance(layers, Sequence):
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
            return [candidates[i] for i in items]
        if all(isinstance(i, str) for i in items):
            return _expand_names(items, valid, what, module_types)
        raise TypeError(f"'layers' must hold only names or only integer "
                        f"indices (got {layers!r})")
    raise TypeError(f"'layers' must be None, an int, a name, a list of "
                    f"names or indices, or a module type (got "
                    f"{type(layers).__name__} {layers!r})")


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
    :func:`default_layers` for the rules and for other models (the blocks
    of ConvNeXt, EfficientNet, MobileNet, DenseNet and RegNet, transformer
    blocks, convolutions, linear layers).

    A name in :obj:`layers` is one of three things, and a list of them
    selects, in the order given, what each one selects:

    * a module name, as in :meth:`~torch.nn.Module.named_modules`
      (:obj:`"layer1.0"`);
    * a glob pattern (it holds :obj:`*`, :obj:`?` or :obj:`[...]`): every
      module whose name matches, in module order. :obj:`*`, :obj:`?` and
      :obj:`[...]` (:obj:`[!...]` negated) stay within one part of the
      dotted name and :obj:`**` spans any number of parts, so
      :obj:`"layer*.?"` is every block of a ResNet (not
      :obj:`"layer2.0.downsample.0"`) and :obj:`"features.*"` every child
      of :obj:`features`;
    * :obj:`"type:<ClassName>"`: every module of that class or of a class
      derived from one of that name, in module order, like a module type
      (:obj:`"type:Bottleneck"`, :obj:`"type:Conv2d"`).

    A name or pattern that matches no module but does under :obj:`model.`
    is read there: a model wrapped as the child :obj:`model` (as
    :class:`~pyg_dnnmod.models.NormalizedModel` wraps the torchvision and
    timm models of :obj:`build_model`) takes the names of the network
    itself (:obj:`"layer1.0"` for :obj:`"model.layer1.0"`). A name that is
    a module of the model as it is always means that module.

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
            default layers (negative from the end), a module name, pattern
            or :obj:`"type:<ClassName>"` or a list of them (in the order
            given), or a module type or tuple of types (every module of
            that type, in module order). (default: :obj:`None`)
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
        >>> select_layers(model, ['type:Conv2d', '[12]'])
        ['0', '3', '1', '2']
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
        module_types = {
            name: tuple(cls.__name__ for cls in type(m).__mro__
                        if issubclass(cls, nn.Module))
            for name, m in model.named_modules() if name}
        names = _resolve_layers(candidates, valid, layers,
                                module_types=module_types)

    if post_activation:
        names = [_post_activation(model, name) for name in names]

    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"'layers' selects {duplicates!r} more than once"
                         + (" (after moving to the activations)"
                            if post_activation else ""))
    return names
