r"""Modularity as a training objective: the soft modularity of a GNN's
cluster assignment, for DMoN-style graph clustering inside a PyG model."""
from typing import Optional

import torch
from torch import Tensor

from pyg_dnnmod.utils import collapse_regularization, modularity


class ModularityLoss(torch.nn.Module):
    r"""The negative soft modularity of a cluster assignment, plus DMoN's
    collapse regulariser, from `"Graph Clustering with Graph Neural
    Networks" <https://arxiv.org/abs/2006.16904>`_

    .. math::
        \mathcal{L} = -\frac{\mathrm{Tr}(\mathbf{S}^{\top} \mathbf{B}
        \mathbf{S})}{2m} + \lambda \left( \frac{\sqrt{C}}{N} \left\|
        \sum_i \mathbf{S}_{i,:} \right\|_2 - 1 \right),

    computed on the edge list by :func:`~pyg_dnnmod.modularity` and
    :func:`~pyg_dnnmod.utils.collapse_regularization` (never the dense
    modularity matrix :math:`\mathbf{B}`), averaged over the graphs of a
    batch. :math:`\mathbf{S}` is usually a softmax over a GNN's outputs.

    Args:
        resolution (float, optional): The resolution :math:`\gamma`.
            (default: :obj:`1.0`)
        collapse_weight (float, optional): The weight :math:`\lambda` of the
            collapse regulariser; :obj:`0` leaves pure :math:`-Q`.
            (default: :obj:`1.0`)
        directed (bool, optional): Treat :obj:`edge_index` as directed.
            (default: :obj:`False`)

    Example:
        >>> edge_index = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2]])
        >>> logits = torch.tensor([[2., 0.], [2., 0.], [0., 2.], [0., 2.]],
        ...                       requires_grad=True)
        >>> loss = ModularityLoss()(logits.softmax(dim=-1), edge_index)
        >>> loss.backward()
        >>> round(loss.item(), 4)  # -Q; the hard split would give -0.5
        -0.29
    """
    def __init__(self, resolution: float = 1.0, collapse_weight: float = 1.0,
                 directed: bool = False) -> None:
        super().__init__()
        if collapse_weight < 0:
            raise ValueError(f"'collapse_weight' must be >= 0 "
                             f"(got {collapse_weight})")
        self.resolution = resolution
        self.collapse_weight = collapse_weight
        self.directed = directed

    def forward(self, s: Tensor, edge_index: Tensor,
                edge_weight: Optional[Tensor] = None,
                batch: Optional[Tensor] = None) -> Tensor:
        r"""Args:
            s (torch.Tensor): The soft assignment :math:`[N, C]`.
            edge_index (torch.Tensor): The edges :math:`[2, E]`.
            edge_weight (torch.Tensor, optional): Edge weights :math:`[E]`.
                (default: :obj:`None`)
            batch (torch.Tensor, optional): The graph of every node
                :math:`[N]`. (default: :obj:`None`)

        Returns:
            A 0-dim tensor in the dtype of :obj:`s`.
        """
        if not isinstance(s, Tensor) or s.dim() != 2 \
                or not s.dtype.is_floating_point:
            what = list(s.shape) if isinstance(s, Tensor) else \
                type(s).__name__
            raise ValueError(f"'s' must be a floating soft assignment "
                             f"[num_nodes, num_communities] (got {what})")
        q = modularity(edge_index, s, edge_weight, resolution=self.resolution,
                       directed=self.directed, batch=batch)
        loss = -q.mean().to(s.dtype)
        if self.collapse_weight > 0:
            loss = loss + self.collapse_weight * collapse_regularization(
                s, batch).mean()
        return loss

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(resolution={self.resolution}, '
                f'collapse_weight={self.collapse_weight})')
