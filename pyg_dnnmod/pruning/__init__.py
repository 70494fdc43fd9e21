r"""Modularity-guided layer pruning (Lu et al., ECCV 2022, section 5.2).

Selectors read the modularity curve and pick redundant layers
(:func:`gain_threshold`, :func:`plateau_run`, :func:`gain_budget`,
:func:`mean_gain_threshold`, and their classes); :func:`remove_layers` cuts
them from a copy of the network (:func:`removable_layers` says which can
be cut); :func:`complexity` and :func:`complexity_table` count parameters,
MACs and FLOPs with thop; :func:`prune_and_finetune` does one cut, the
fine-tuning and the report row.
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
from pyg_dnnmod.pruning._surgery import removable_layers, remove_layers
from pyg_dnnmod.pruning._complexity import complexity, complexity_table
from pyg_dnnmod.pruning._finetune import prune_and_finetune

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
    'removable_layers',
    'remove_layers',
    'complexity',
    'complexity_table',
    'prune_and_finetune',
]
