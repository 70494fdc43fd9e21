r"""The order in which Lu et al. (ECCV 2022, appendix B) remove layers: from
the back, every block of a plain network keeping a convolution."""
from typing import Optional

from torch import nn

from pyg_dnnmod.pruning._surgery import removable_layers

# What separates the blocks of a plain (VGG-like) nn.Sequential.
_POOLING = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d,
            nn.AdaptiveAvgPool2d)


def _block_key(model: nn.Module, name: str) -> Optional[tuple[str, int]]:
    r"""The :obj:`(parent, block)` of a convolution that is a child of an
    :class:`~torch.nn.Sequential`, blocks being separated by pooling;
    :obj:`None` for anything else (e.g. a residual block)."""
    parent_name, _, child = name.rpartition('.')
    parent = model.get_submodule(parent_name)
    if not isinstance(parent, nn.Sequential) or not isinstance(
            parent._modules[child], nn.Conv2d):
        return None
    block = 0
    for key, module in parent._modules.items():
        if key == child:
            return parent_name, block
        if isinstance(module, _POOLING):
            block += 1
    raise AssertionError('a child is found among its parent\'s children')


def removal_order(model: nn.Module, cumulative: bool = False,
                  adapt: bool = False) -> list[str]:
    r"""The removable layers of :obj:`model` from the back, as the paper
    prunes them: every block (the convolutions of an
    :class:`~torch.nn.Sequential` between two poolings) keeps at least one
    convolution (Lu et al., ECCV 2022, appendix B).

    With :obj:`cumulative=True` the layers are meant to be removed together
    in this order, so a block gives up convolutions only while another one
    is left (VGG11 gives the last convolution of blocks 5, 4 and 3: the
    paper's VGG11_1, VGG11_2 and VGG11_3); otherwise every layer is
    removed alone and only a block's single convolution is left out.
    Residual blocks are kept in the order of :func:`removable_layers`.

    Args:
        model (torch.nn.Module): The model.
        cumulative (bool, optional): Whether the removals add up.
            (default: :obj:`False`)
        adapt (bool, optional): Passed to :func:`removable_layers`.
            (default: :obj:`False`)

    Returns:
        list[str]: Layer names, deepest first.

    Example:
        >>> from pyg_dnnmod.models import get_model
        >>> removal_order(get_model('vgg11'), cumulative=True)
        ['features.25', 'features.18', 'features.11']
    """
    counts: dict[tuple[str, int], int] = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d) and name:
            key = _block_key(model, name)
            if key is not None:
                counts[key] = counts.get(key, 0) + 1
    order = []
    for name in removable_layers(model, adapt=adapt)[::-1]:
        key = _block_key(model, name)
        if key is not None:
            if counts[key] <= 1:
                continue
            if cumulative:
                counts[key] -= 1
        order.append(name)
    return order
