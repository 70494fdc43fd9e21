r"""A small vision transformer in timm's layout, trainable on the CPU: the
model of the block-removal comparison
(:func:`~pyg_dnnmod.experiments.block_removal_comparison`).

The module names are timm's :class:`VisionTransformer`'s
(:obj:`patch_embed.proj`, :obj:`cls_token`, :obj:`pos_embed`,
:obj:`blocks.<i>`, :obj:`norm`, :obj:`head`), so that everything that reads
or removes the blocks of a timm ViT (:func:`~pyg_dnnmod.features.
transformer_blocks`, :func:`~pyg_dnnmod.redundancy.remove_blocks`) reads
and removes these in the same way, without timm installed.
"""
from typing import Any

import torch
from torch import Tensor, nn

from pyg_dnnmod.models._utils import (
    check_dropout,
    check_positive_int,
    check_width,
)
from pyg_dnnmod.models.normalize import Normalize, Stats


class Attention(nn.Module):
    r"""Multi-head self-attention with one fused :obj:`qkv` projection, as
    in timm."""
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, s, d = x.shape
        qkv = self.qkv(x).reshape(b, s, 3, self.num_heads, d // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        out = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, s, d))


class Block(nn.Module):
    r"""A pre-norm transformer block, :math:`h + \mathrm{Attn}(\mathrm{LN}(h))`
    then :math:`h + \mathrm{MLP}(\mathrm{LN}(h))`: the residual stream in,
    the residual stream out."""
    is_transformer_block = True

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float,
                 dropout: float) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    r"""Non-overlapping :math:`p \times p` patches, each projected to the
    embedding by one strided convolution."""
    def __init__(self, in_channels: int, dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch_size, patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    r"""A vision transformer (Dosovitskiy et al., 2021) in timm's layout:
    patch embedding, a class token and learned position embeddings,
    :obj:`depth` pre-norm blocks in :obj:`blocks` (an
    :class:`~torch.nn.Sequential`), a final :obj:`norm` and a linear
    :obj:`head` on the class token. On :math:`28 \times 28` images with
    patches of 7 it reads :math:`16 + 1` tokens.

    Args:
        num_classes (int, optional): Number of classes. (default: :obj:`10`)
        width (float, optional): Multiplier of :obj:`dim`, rounded to a
            multiple of :obj:`num_heads`. (default: :obj:`1.0`)
        in_channels (int, optional): Input channels. (default: :obj:`1`)
        input_size (int, optional): Height and width of the input, a
            multiple of :obj:`patch_size`. (default: :obj:`28`)
        patch_size (int, optional): The patch side. (default: :obj:`7`)
        dim (int, optional): The embedding width. (default: :obj:`64`)
        depth (int, optional): The number of blocks. (default: :obj:`8`)
        num_heads (int, optional): Attention heads, dividing :obj:`dim`.
            (default: :obj:`4`)
        mlp_ratio (float, optional): MLP width over :obj:`dim`.
            (default: :obj:`2.0`)
        dropout (float, optional): Dropout inside the MLPs.
            (default: :obj:`0.0`)
        mean (float or [float], optional): Input normalisation mean, see
            :class:`~pyg_dnnmod.models.Normalize`. (default: :obj:`None`)
        std (float or [float], optional): Input normalisation std.
            (default: :obj:`None`)

    Example:
        >>> model = VisionTransformer(depth=2)
        >>> model(torch.rand(3, 1, 28, 28)).shape
        torch.Size([3, 10])
        >>> len(model.blocks), model.pos_embed.shape
        (2, torch.Size([1, 17, 64]))
    """
    def __init__(self, num_classes: int = 10, width: float = 1.0,
                 in_channels: int = 1,
                 input_size: int = 28, patch_size: int = 7, dim: int = 64,
                 depth: int = 8, num_heads: int = 4, mlp_ratio: float = 2.0,
                 dropout: float = 0.0, mean: Stats = None,
                 std: Stats = None) -> None:
        super().__init__()
        for name, value in (('num_classes', num_classes),
                            ('in_channels', in_channels),
                            ('input_size', input_size),
                            ('patch_size', patch_size), ('dim', dim),
                            ('depth', depth), ('num_heads', num_heads)):
            check_positive_int(value, name)
        if input_size % patch_size:
            raise ValueError(f"'input_size' must be a multiple of "
                             f"'patch_size' {patch_size} (got {input_size})")
        if dim % num_heads:
            raise ValueError(f"'num_heads' must divide 'dim' {dim} (got "
                             f"{num_heads})")
        if not mlp_ratio > 0:
            raise ValueError(f"'mlp_ratio' must be > 0 (got {mlp_ratio})")
        dropout = check_dropout(dropout)
        width = check_width(width)
        dim = max(num_heads, round(dim * width / num_heads) * num_heads)
        num_patches = (input_size // patch_size) ** 2
        self.normalize = Normalize(mean, std)
        self.patch_embed = PatchEmbed(in_channels, dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(
            torch.randn(1, num_patches + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*(
            Block(dim, num_heads, mlp_ratio, dropout) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        r"""The residual stream after the final norm, :math:`[B, S, D]`."""
        x = self.patch_embed(self.normalize(x))
        x = torch.cat([self.cls_token.expand(x.size(0), -1, -1), x], dim=1)
        return self.norm(self.blocks(x + self.pos_embed))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.forward_features(x)[:, 0])


def vit_tiny(num_classes: int = 10, **kwargs: Any) -> VisionTransformer:
    r"""The :class:`VisionTransformer` of the block-removal comparison: 8
    blocks of width 64 with 4 heads on patches of 7 (about 0.27 M
    parameters); keyword arguments go to it.

    Example:
        >>> sum(p.numel() for p in vit_tiny().parameters())
        272906
    """
    return VisionTransformer(num_classes=num_classes, **kwargs)
