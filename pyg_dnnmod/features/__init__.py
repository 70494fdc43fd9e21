r"""Layer selection and feature extraction: which layers of a network are
read (the paper's defaults, or by name, type or index) and their outputs
over :math:`N` inputs as :math:`[N, D]` matrices, one layer at a time, in
one forward pass (layers beyond the memory budget go to a disk-backed
store)."""
from pyg_dnnmod.features._extract import (
    extract_features,
    iter_layer_features,
)
from pyg_dnnmod.features._list import list_layers
from pyg_dnnmod.features._select import (
    ACTIVATIONS,
    LayerSpec,
    default_layers,
    is_residual_block,
    is_transformer_block,
    select_layers,
)
from pyg_dnnmod.features._spill import memory_budget

__all__ = [
    'list_layers',
    'select_layers',
    'default_layers',
    'is_residual_block',
    'is_transformer_block',
    'extract_features',
    'iter_layer_features',
    'memory_budget',
    'LayerSpec',
    'ACTIVATIONS',
]
