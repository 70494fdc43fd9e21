r"""Modularity-guided layer pruning (Lu et al., ECCV 2022, section 5.2).

Selectors read the modularity curve and pick redundant layers
(:func:`gain_threshold`, :func:`plateau_run`, :func:`gain_budget`,
:func:`mean_gain_threshold`, and their classes, by name in
:data:`SELECTORS`); :func:`layers_to_remove` applies one to a
:class:`ModularityCurve` and :func:`largest_gain_layers` picks the control;
:func:`remove_layers` cuts them from a copy of the network
(:func:`removable_layers` says which can be cut, :func:`removal_order`
in which order the paper cuts them); :func:`complexity` and
:func:`complexity_table` count parameters, MACs and FLOPs with thop;
:func:`prune_and_finetune` does one cut, the fine-tuning and the report
row.
"""
from pyg_dnnmod.pruning._selectors import (
    GainBudget,
    GainThreshold,
    LayerSelector,
    MeanGainThreshold,
    PlateauRun,
    gain_budget,
    gain_threshold,
    mean_gain_threshold,
    modularity_gain,
    plateau_run,
)
from pyg_dnnmod.pruning.selection import (
    SELECTORS,
    ModularityCurve,
    get_selector,
    largest_gain_layers,
    layers_to_remove,
    selector_options,
)
from pyg_dnnmod.pruning._surgery import removable_layers, remove_layers
from pyg_dnnmod.pruning._order import removal_order
from pyg_dnnmod.pruning._complexity import complexity, complexity_table
from pyg_dnnmod.pruning._finetune import input_shape_of, prune_and_finetune

__all__ = [
    'modularity_gain',
    'gain_threshold',
    'plateau_run',
    'gain_budget',
    'mean_gain_threshold',
    'LayerSelector',
    'GainThreshold',
    'PlateauRun',
    'GainBudget',
    'MeanGainThreshold',
    'SELECTORS',
    'get_selector',
    'selector_options',
    'ModularityCurve',
    'layers_to_remove',
    'largest_gain_layers',
    'removable_layers',
    'remove_layers',
    'removal_order',
    'complexity',
    'complexity_table',
    'input_shape_of',
    'prune_and_finetune',
]
