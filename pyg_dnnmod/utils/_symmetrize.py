r"""Symmetrisation of directed k-NN edges on the edge list (no dense matrix)."""
from typing import Tuple

import torch
from torch import Tensor
from torch_geometric.utils import coalesce

from pyg_dnnmod.utils.threads import small_work

SYMMETRIZE_MODES = ('half', 'max', 'sum', 'none')


def symmetrize_edges(row: Tensor, col: Tensor, weight: Tensor,
                     num_nodes: int,
                     mode: str = 'half') -> Tuple[Tensor, Tensor]:
    r"""Turns the directed edges :math:`i \to j` of weight :math:`A_{ij}`
    (node :obj:`row[e]` chose neighbour :obj:`col[e]`) into a PyG graph.

    * :obj:`"half"`: :math:`\frac{1}{2}(A_{ij} + A_{ji})`, the paper's choice
      (a mutual pair keeps :math:`w`, a one-way pair gets :math:`w/2`);
    * :obj:`"sum"`: :math:`A_{ij} + A_{ji}`;
    * :obj:`"max"`: the larger weight of the directions that exist (a one-way
      pair keeps its weight);
    * :obj:`"none"`: the directed edges, in PyG's
      :obj:`flow="source_to_target"` layout (source = neighbour
      :obj:`col`, target = node :obj:`row`).

    Undirected results store every edge in both directions (a self-loop
    once), sorted by row then column.

    Args:
        row (torch.Tensor): The choosing nodes :math:`[E]`.
        col (torch.Tensor): Their chosen neighbours :math:`[E]`.
        weight (torch.Tensor): The weights :math:`A_{ij}` :math:`[E]`.
        num_nodes (int): The number of nodes.
        mode (str, optional): :obj:`"half"`, :obj:`"sum"`, :obj:`"max"` or
            :obj:`"none"`. (default: :obj:`"half"`)

    Example:
        >>> row, col = torch.tensor([0, 1, 2]), torch.tensor([1, 0, 0])
        >>> weight = torch.tensor([0.8, 0.8, 0.4])
        >>> edge_index, edge_weight = symmetrize_edges(row, col, weight, 3)
        >>> edge_index
        tensor([[0, 0, 1, 2],
                [1, 2, 0, 0]])
        >>> edge_weight
        tensor([0.8000, 0.2000, 0.8000, 0.2000])
    """
    if mode not in SYMMETRIZE_MODES:
        raise ValueError(f"'mode' must be one of {SYMMETRIZE_MODES} "
                         f"(got {mode!r})")
    with small_work(2 * row.numel()):
        return _symmetrize(row, col, weight, num_nodes, mode)


def _symmetrize(row: Tensor, col: Tensor, weight: Tensor, num_nodes: int,
                mode: str) -> Tuple[Tensor, Tensor]:
    if mode == 'none':
        edge_index = torch.stack([col, row], dim=0)
        return coalesce(edge_index, weight, num_nodes)

    loop = row == col
    # A self-loop is its own transpose: list it once, with weight 2 * A_ii for
    # "half"/"sum" so that it ends up as A_ii / 2 + A_ii / 2 and 2 A_ii.
    fwd = torch.stack([row, col], dim=0)
    bwd = torch.stack([col[~loop], row[~loop]], dim=0)
    edge_index = torch.cat([fwd, bwd], dim=1)
    if mode == 'max':
        edge_weight = torch.cat([weight, weight[~loop]])
        return coalesce(edge_index, edge_weight, num_nodes, reduce='max')
    loop_weight = torch.where(loop, 2 * weight, weight)
    edge_weight = torch.cat([loop_weight, weight[~loop]])
    edge_index, edge_weight = coalesce(edge_index, edge_weight, num_nodes,
                                       reduce='sum')
    if mode == 'half':
        edge_weight = edge_weight / 2
    return edge_index, edge_weight
