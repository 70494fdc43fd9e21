r"""Layer selection and feature extraction: which layers of a network are
read (the paper's defaults, or by name, type or index) and their outputs
over :math:`N` inputs as :math:`[N, D]` matrices, one layer at a time, in
one forward pass (layers beyond the memory budget go to a disk-backed
store). Transformers are read by their block list: the residual stream
before and after every block, per token, one batch at a time."""
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
from pyg_dnnmod.features._transformers import (
    TOKEN_POOLINGS,
    BlockList,
    BlockStates,
    TokenInputs,
    iter_block_states,
    pool_tokens,
    transformer_blocks,
)

__all__ = [
    'list_layers',
    'select_layers',
    'default_layers',
    'is_residual_block',
    'is_transformer_block',
    'extract_features',
    'iter_layer_features',
    'memory_budget',
    'transformer_blocks',
    'iter_block_states',
    'pool_tokens',
    'TOKEN_POOLINGS',
    'BlockList',
    'BlockStates',
    'TokenInputs',
    'LayerSpec',
    'ACTIVATIONS',
]
