r"""A graph-level recurrent GNN over a sequence of snapshots of one node
set: a GCN embeds every snapshot, pooling turns it into one vector per
graph, a GRU reads the vectors in order and a linear head predicts one
value per graph (e.g. a network's final accuracy from the weight graphs
of its first epochs, :class:`~pyg_dnnmod.weights.DNNDynamicsDataset`).

Batched the PyG way: the graphs of a batch are one disconnected graph,
:obj:`batch` names the graph of every node. The propagation of the first
GCN layer has no parameters, so a training loop may compute it once per
graph (:func:`propagate_features`) instead of at every step.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GCNConv, global_max_pool, global_mean_pool
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import scatter


def _propagate(h: Tensor, edge_index: Tensor, norm: Tensor) -> Tensor:
    return scatter(h[edge_index[0]] * norm.unsqueeze(-1), edge_index[1],
                   dim=0, dim_size=h.size(0), reduce='sum')


def _weights(conv: GCNConv, h: Tensor) -> Tensor:
    out = conv.lin(h)
    return out + conv.bias if conv.bias is not None else out


def _gcn(conv: GCNConv, x: Tensor, edge_index: Tensor,
         norm: Tensor) -> Tensor:
    r"""What :obj:`conv(x, edge_index, edge_weight)` computes,
    :math:`\hat{\mathbf{A}} \mathbf{X} \mathbf{W} + \mathbf{b}`, from the
    normalised edges, propagating before the weight when that is narrower
    (few input features: the propagation then needs no gradient)."""
    if conv.in_channels < conv.out_channels:
        return _weights(conv, _propagate(x, edge_index, norm))
    out = _propagate(conv.lin(x), edge_index, norm)
    return out + conv.bias if conv.bias is not None else out


def _snapshot_norm(edge_index: Tensor, edge_weight: Optional[Tensor],
                   t: int, num_nodes: int,
                   dtype: torch.dtype) -> Tuple[Tensor, Tensor]:
    weight = edge_weight if edge_weight is None or edge_weight.dim() == 1 \
        else edge_weight[:, t]
    return gcn_norm(edge_index, weight, num_nodes, dtype=dtype)


def propagate_features(x: Tensor, edge_index: Tensor,
                       edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""The propagation of the first GCN layer of every snapshot,
    :math:`\hat{\mathbf{A}}^{(t)} \mathbf{X}^{(t)}` with
    :math:`\hat{\mathbf{A}} = \mathbf{D}^{-1/2} (\mathbf{A} + \mathbf{I})
    \mathbf{D}^{-1/2}` (:class:`~torch_geometric.nn.conv.GCNConv`'s), for
    :obj:`GraphGCNGRU(..., propagated=True)`.

    It has no parameters and no edge crosses from one graph of a batch to
    another, so it is computed once per graph, before training.

    Args:
        x (torch.Tensor): :math:`[N, S, F]` (or :math:`[N, F]`).
        edge_index (torch.Tensor): :math:`[2, E]`.
        edge_weight (torch.Tensor, optional): :math:`[E, S]` or
            :math:`[E]`. (default: :obj:`None`, all 1)

    Returns:
        torch.Tensor: :math:`[N, S, F]`.

    Example:
        >>> edge_index = torch.tensor([[0, 1], [1, 0]])
        >>> x = torch.tensor([[[1.], [2.]], [[3.], [4.]]])  # [N=2, S=2, 1]
        >>> propagate_features(x, edge_index).squeeze(-1)  # means, here
        tensor([[2.0000, 3.0000],
                [2.0000, 3.0000]])
    """
    x = x.unsqueeze(1) if x.dim() == 2 else x
    out = []
    for t in range(x.size(1)):
        edges, norm = _snapshot_norm(edge_index, edge_weight, t, x.size(0),
                                     x.dtype)
        out.append(_propagate(x[:, t], edges, norm))
    return torch.stack(out, dim=1)


class GraphGCNGRU(torch.nn.Module):
    r"""A GCN on every snapshot, mean and max pooling per graph, a GRU
    across the snapshots and a linear head on its last state: one
    prediction per graph of a sequence of :math:`S` snapshots that share
    their nodes and edges and differ in node features and edge weights,

    .. math::
        \mathbf{H}^{(t)} = \mathrm{GCN}\left(\mathbf{X}^{(t)},
        \mathbf{A}^{(t)}\right), \qquad
        \mathbf{g}^{(t)} = \left[ \frac{1}{|G|} \sum_{i \in G}
        \mathbf{h}_i^{(t)} \,\Big\|\, \max_{i \in G}
        \mathbf{h}_i^{(t)} \right], \qquad
        \mathbf{s}^{(t)} = \mathrm{GRU}\left(\mathbf{g}^{(t)},
        \mathbf{s}^{(t-1)}\right), \qquad
        \hat{\mathbf{y}} = \mathbf{W} \mathbf{s}^{(S)} + \mathbf{b},

    with :math:`\mathrm{GCN}` :obj:`num_layers` :class:`GCNConv` layers
    (:math:`\hat{\mathbf{A}} = \mathbf{D}^{-1/2} (\mathbf{A} +
    \mathbf{I}) \mathbf{D}^{-1/2}` of the snapshot's edge weights, ReLU
    after each), shared by the snapshots, since they are one node set at
    different times (unlike the layers of
    :class:`~pyg_dnnmod.nn.GCNGRU`'s depth sequence).

    Args:
        in_channels (int): The node features of a snapshot.
        hidden_channels (int): The size of the node embeddings and of the
            GRU state.
        out_channels (int, optional): The outputs per graph.
            (default: :obj:`1`)
        num_layers (int, optional): GCN layers per snapshot.
            (default: :obj:`1`)
        dropout (float, optional): Dropout on the node embeddings during
            training. (default: :obj:`0.0`)

    Example:
        >>> from torch_geometric.data import Batch, Data
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> graphs = [Data(x=torch.randn(3, 4, 2), edge_index=edge_index,
        ...                edge_weight=torch.rand(4, 4)) for _ in range(2)]
        >>> batch = Batch.from_data_list(graphs)
        >>> model = GraphGCNGRU(2, 8)
        >>> model(batch.x, batch.edge_index, batch.edge_weight,
        ...       batch.batch).shape  # [num_graphs, out_channels]
        torch.Size([2, 1])
    """
    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int = 1, num_layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        for name, value in (('in_channels', in_channels),
                            ('hidden_channels', hidden_channels),
                            ('out_channels', out_channels),
                            ('num_layers', num_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or \
                    value < 1:
                raise ValueError(f"'{name}' must be an integer >= 1 "
                                 f"(got {value!r})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must lie in [0, 1) (got {dropout!r})")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.convs = torch.nn.ModuleList(
            [GCNConv(in_channels if i == 0 else hidden_channels,
                     hidden_channels) for i in range(num_layers)])
        self.gru = torch.nn.GRU(2 * hidden_channels, hidden_channels)
        self.head = torch.nn.Linear(hidden_channels, out_channels)

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        self.gru.reset_parameters()
        self.head.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor,
                edge_weight: Optional[Tensor] = None,
                batch: Optional[Tensor] = None,
                propagated: bool = False) -> Tensor:
        r"""Args:
            x (torch.Tensor): The node features of every snapshot,
                :math:`[N, S, F]` (or :math:`[N, F]` for one snapshot).
            edge_index (torch.Tensor): The edges :math:`[2, E]`, the same
                in every snapshot.
            edge_weight (torch.Tensor, optional): The weights of every
                snapshot :math:`[E, S]`, or :math:`[E]` for all of them;
                finite. (default: :obj:`None`, all 1)
            batch (torch.Tensor, optional): The graph of every node
                :math:`[N]`. (default: :obj:`None`, one graph)
            propagated (bool, optional): :obj:`x` is
                :func:`propagate_features` of the node features, so the
                first layer only applies its weights; with one layer the
                edges are then not read. (default: :obj:`False`)

        Returns:
            torch.Tensor: :math:`[B, \mathrm{out\_channels}]`, one row per
            graph.
        """
        x = self._check(x, edge_index, edge_weight, batch)
        num_nodes, num_steps = x.size(0), x.size(1)
        if batch is None:
            batch = torch.zeros(num_nodes, dtype=torch.long, device=x.device)
        num_graphs = int(batch.max()) + 1 if num_nodes else 0
        pooled = []
        for t in range(num_steps):
            h = x[:, t]
            if not propagated or self.num_layers > 1:
                edges, norm = _snapshot_norm(edge_index, edge_weight, t,
                                             num_nodes, x.dtype)
            for i, conv in enumerate(self.convs):
                h = _weights(conv, h) if propagated and i == 0 else \
                    _gcn(conv, h, edges, norm)
                h = F.dropout(h.relu(), self.dropout, self.training)
            pooled.append(torch.cat(
                [global_mean_pool(h, batch, num_graphs),
                 global_max_pool(h, batch, num_graphs)], dim=-1))
        # nn.GRU reads [S, batch, features]: the graphs are the batch.
        states, _ = self.gru(torch.stack(pooled, dim=0))
        return self.head(states[-1])

    def _check(self, x: Tensor, edge_index: Tensor,
               edge_weight: Optional[Tensor],
               batch: Optional[Tensor]) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() not in (2, 3) or \
                x.size(-1) != self.in_channels:
            raise ValueError(f"'x' must be a tensor [N, S, "
                             f"{self.in_channels}] (got "
                             f"{getattr(x, 'shape', type(x).__name__)})")
        x = x.unsqueeze(1) if x.dim() == 2 else x
        if not bool(torch.isfinite(x).all()):
            raise ValueError("'x' holds NaN or Inf")
        if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or \
                edge_index.size(0) != 2:
            raise ValueError(f"'edge_index' must be a tensor [2, E] (got "
                             f"{getattr(edge_index, 'shape', edge_index)})")
        if edge_weight is not None:
            ok = edge_weight.dim() == 1 or (
                edge_weight.dim() == 2 and edge_weight.size(1) == x.size(1))
            if not ok or edge_weight.size(0) != edge_index.size(1):
                raise ValueError(
                    f"'edge_weight' must be [E] or [E, S] with E = "
                    f"{edge_index.size(1)}, S = {x.size(1)} (got "
                    f"{list(edge_weight.shape)})")
            if not bool(torch.isfinite(edge_weight).all()):
                raise ValueError("'edge_weight' holds NaN or Inf")
        if batch is not None and (batch.dim() != 1 or
                                  batch.numel() != x.size(0)):
            raise ValueError(f"'batch' must be a tensor [N] with N = "
                             f"{x.size(0)} (got {list(batch.shape)})")
        return x

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.hidden_channels}, {self.out_channels}, '
                f'num_layers={self.num_layers})')
