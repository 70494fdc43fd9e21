r"""Neural-network modules for GNN pipelines: modularity as a loss, a
recurrent graph model over a snapshot sequence (node level), and a
graph-level one that predicts a value per dynamic graph."""
from pyg_dnnmod.nn.gcn_gru import GCNGRU
from pyg_dnnmod.nn.graph_gcn_gru import GraphGCNGRU, propagate_features
from pyg_dnnmod.nn.modularity_loss import ModularityLoss

__all__ = [
    'ModularityLoss',
    'GCNGRU',
    'GraphGCNGRU',
    'propagate_features',
]
