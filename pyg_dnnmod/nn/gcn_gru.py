r"""A recurrent graph model over a snapshot sequence, in plain PyG.

The snapshots of a model's layers share their node set (the samples) while
the edges change with depth, so a node classifier can read the sequence the
way a recurrent network reads time: a GCN embeds every snapshot, a GRU runs
over the depth axis for every node. No PyTorch Geometric Temporal needed.
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GCNConv


class GCNGRU(torch.nn.Module):
    r"""A GCN encoder per snapshot and a GRU across the snapshots, with a
    linear head at every step.

    .. math::
        \mathbf{H}^{(t)} = \mathrm{ReLU}\left(\mathrm{GCN}_t(\mathbf{X}^{(t)},
        \mathbf{A}^{(t)})\right), \qquad
        \mathbf{h}_i^{(t)} = \mathrm{GRU}(\mathbf{H}_i^{(t)},
        \mathbf{h}_i^{(t-1)}), \qquad
        \hat{\mathbf{y}}_i^{(t)} = \mathbf{W} \mathbf{h}_i^{(t)} + \mathbf{b},

    so the prediction at step :math:`t` has read snapshots :math:`0, \ldots,
    t`. Every snapshot has its own encoder, since the features of different
    layers live in different spaces (and may differ in size).

    Args:
        in_channels (int or [int]): The feature size of every snapshot, or
            one size for all.
        hidden_channels (int): The size of the embeddings and of the GRU
            state.
        out_channels (int): The number of classes.
        num_snapshots (int, optional): The length of the sequence; required
            if :obj:`in_channels` is an int. (default: :obj:`None`)
        dropout (float, optional): Dropout on the embeddings during
            training. (default: :obj:`0.5`)

    Example:
        >>> model = GCNGRU(8, 16, 3, num_snapshots=2)
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> out = model([torch.randn(3, 8)] * 2, [edge_index] * 2)
        >>> out.shape  # [num_snapshots, num_nodes, out_channels]
        torch.Size([2, 3, 3])
    """
    def __init__(
        self,
        in_channels: Union[int, Sequence[int]],
        hidden_channels: int,
        out_channels: int,
        num_snapshots: Optional[int] = None,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if isinstance(in_channels, int):
            if num_snapshots is None or num_snapshots < 1:
                raise ValueError(f"'num_snapshots' must be >= 1 when "
                                 f"'in_channels' is an int (got "
                                 f"{num_snapshots})")
            in_channels = [in_channels] * num_snapshots
        in_channels = list(in_channels)
        if len(in_channels) == 0:
            raise ValueError("'in_channels' must name at least one snapshot "
                             "(got [])")
        if num_snapshots is not None and num_snapshots != len(in_channels):
            raise ValueError(f"'num_snapshots' must equal the length of "
                             f"'in_channels' (got {num_snapshots} and "
                             f"{len(in_channels)})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"'dropout' must lie in [0, 1) (got {dropout})")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.dropout = dropout
        self.encoders = torch.nn.ModuleList(
            [GCNConv(c, hidden_channels) for c in in_channels])
        self.gru = torch.nn.GRU(hidden_channels, hidden_channels)
        self.head = torch.nn.Linear(hidden_channels, out_channels)

    @property
    def num_snapshots(self) -> int:
        return len(self.encoders)

    def reset_parameters(self) -> None:
        for encoder in self.encoders:
            encoder.reset_parameters()
        self.gru.reset_parameters()
        self.head.reset_parameters()

    def forward(self, xs: Sequence[Tensor], edge_indices: Sequence[Tensor],
                edge_weights: Optional[Sequence[Optional[Tensor]]] = None
                ) -> Tensor:
        r"""Args:
            xs ([torch.Tensor]): The node features of every snapshot,
                :math:`[N, F_t]` each.
            edge_indices ([torch.Tensor]): The edges of every snapshot.
            edge_weights ([torch.Tensor], optional): Their weights (an entry
                may be :obj:`None`). (default: :obj:`None`)

        Returns:
            The logits of every step, :math:`[T, N, C]`.
        """
        if len(xs) != self.num_snapshots or \
                len(edge_indices) != self.num_snapshots:
            raise ValueError(f"'xs' and 'edge_indices' must hold "
                             f"{self.num_snapshots} snapshots (got "
                             f"{len(xs)} and {len(edge_indices)})")
        if edge_weights is None:
            edge_weights = [None] * self.num_snapshots
        embeddings: List[Tensor] = []
        for encoder, x, edge_index, edge_weight in zip(
                self.encoders, xs, edge_indices, edge_weights):
            h = encoder(x, edge_index, edge_weight).relu()
            embeddings.append(F.dropout(h, self.dropout, self.training))
        # nn.GRU reads [T, batch, features]: the nodes are the batch.
        states, _ = self.gru(torch.stack(embeddings, dim=0))
        return self.head(states)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.hidden_channels}, {self.out_channels})')
