r"""Neural-network modules for GNN pipelines: modularity as a loss, and a
recurrent graph model over a snapshot sequence."""
from pyg_dnnmod.nn.gcn_gru import GCNGRU
from pyg_dnnmod.nn.modularity_loss import ModularityLoss

__all__ = [
    'ModularityLoss',
    'GCNGRU',
]
