r"""Row-sharded exact k-NN across the processes of a :mod:`torch.distributed`
group (gloo on CPUs, NCCL on GPUs).

Every rank holds some rows of the feature matrix and finds the k nearest
neighbours of its own rows against all rows; the other ranks' rows arrive
one block at a time by broadcast, so no rank ever holds the whole matrix.
The directed edges are gathered on one rank, which symmetrises them. The
result is the single-process :func:`pyg_dnnmod.utils.knn_graph`, edge for edge.
"""
from typing import List, Optional, Tuple

import torch
import torch.distributed as dist
from torch import Tensor

from pyg_dnnmod.utils import symmetrize_edges
from pyg_dnnmod.utils.knn_kernel import (
    block_similarity,
    check_features,
    check_knn_modes,
    neighbour_similarity,
    prepare_features,
    row_hash,
    topk_lowest_index,
)


def _all_gather_1d(t: Tensor, group) -> List[Tensor]:
    r"""All-gathers 1-D tensors of different lengths."""
    world = dist.get_world_size(group)
    size = torch.tensor([t.numel()], dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size, group=group)
    longest = int(max(int(s) for s in sizes))
    padded = torch.zeros(longest, dtype=t.dtype)
    padded[:t.numel()] = t.cpu()
    out = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(out, padded, group=group)
    return [o[:int(s)] for o, s in zip(out, sizes)]


def _merge(best_val: Tensor, best_idx: Tensor, val: Tensor, idx: Tensor,
           k: int) -> Tuple[Tensor, Tensor]:
    r"""Top-k of two candidate lists, ties to the lowest global index."""
    cand_val = torch.cat([best_val, val], dim=1)
    cand_idx = torch.cat([best_idx, idx], dim=1)
    cand_idx, order = cand_idx.sort(dim=1)
    cand_val = cand_val.gather(1, order)
    top_val, pos = topk_lowest_index(cand_val, k)
    return top_val, cand_idx.gather(1, pos)


def distributed_knn_graph(
    x: Tensor,
    k: int = 3,
    index: Optional[Tensor] = None,
    metric: str = 'cosine',
    loop: bool = False,
    symmetrize: str = 'half',
    block_size: int = 1024,
    eps: float = 1e-8,
    dst: int = 0,
    group=None,
) -> Optional[Tuple[Tensor, Tensor]]:
    r"""The k-NN graph of :func:`pyg_dnnmod.utils.knn_graph` over rows sharded
    across the ranks of a :mod:`torch.distributed` process group.

    Every rank passes its own rows :obj:`x` and their global indices
    :obj:`index` (by default the ranks hold consecutive shards in rank
    order). Each rank computes the similarities of its rows against every
    shard, received block by block by broadcast (:obj:`block_size` rows at a
    time), keeps a running top-k with ties to the lowest global index, and
    the directed edges are gathered on rank :obj:`dst`. Duplicated rows are
    found from integer hashes of their exact bits gathered on every rank
    (equal hashes are taken as equal rows: a 64-bit collision between two
    different rows is the one way this can differ), and share
    one computed similarity as in the single-process version; weights are
    recomputed per pair (:func:`~pyg_dnnmod.utils.neighbour_similarity`),
    so the result equals :func:`~pyg_dnnmod.utils.knn_graph` edge for edge and
    weight for weight, up to neighbour choices between similarities closer
    than float32 rounding.

    Memory per rank: its rows, one broadcast block, and :math:`O(n k)`.

    Args:
        x (torch.Tensor): This rank's rows :math:`[n_r, D]` (:math:`n_r` may
            be 0).
        k (int, optional): Neighbours per node. (default: :obj:`3`)
        index (torch.Tensor, optional): Global indices of the rows; together
            the ranks' indices must be :math:`0, \ldots, N-1` once each.
            (default: :obj:`None`, consecutive shards in rank order)
        metric (str, optional): As in :func:`~pyg_dnnmod.utils.knn_graph`.
            (default: :obj:`"cosine"`)
        loop (bool, optional): Allow self-loops. (default: :obj:`False`)
        symmetrize (str, optional): As in :func:`~pyg_dnnmod.utils.knn_graph`.
            (default: :obj:`"half"`)
        block_size (int, optional): Rows per broadcast block.
            (default: :obj:`1024`)
        eps (float, optional): The norm clamp. (default: :obj:`1e-8`)
        dst (int, optional): The rank that receives the graph.
            (default: :obj:`0`)
        group (optional): The process group. (default: the world)

    Returns:
        :obj:`(edge_index, edge_weight)` on rank :obj:`dst` (global node
        indices, on the CPU), :obj:`None` on the other ranks.
    """
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError("'distributed_knn_graph' needs an initialised "
                           "torch.distributed process group (e.g. run under "
                           "torchrun and call dist.init_process_group)")
    check_knn_modes(metric, symmetrize)
    rank = dist.get_rank(group)
    world = dist.get_world_size(group)
    x = check_features(x) if x.numel() > 0 else \
        x.reshape(x.size(0), -1).float()
    x = x.cpu() if dist.get_backend(group) == 'gloo' else x
    device = x.device

    dims = _all_gather_1d(torch.tensor([x.size(1)]), group)
    if len({int(d) for d in dims}) != 1:
        raise ValueError(f"every rank's 'x' must have the same number of "
                         f"features (got {[int(d) for d in dims]})")
    sizes = [int(s) for s in _all_gather_1d(torch.tensor([x.size(0)]),
                                              group)]
    num_nodes = sum(sizes)
    if index is None:
        start = sum(sizes[:rank])
        index = torch.arange(start, start + x.size(0))
    index = index.long().cpu()
    if index.numel() != x.size(0):
        raise ValueError(f"'index' must hold one global index per row "
                         f"(got {index.numel()} for {x.size(0)} rows)")
    all_index = torch.cat(_all_gather_1d(index, group))
    if not torch.equal(all_index.sort().values, torch.arange(num_nodes)):
        raise ValueError("the ranks' 'index' must together hold 0 .. N-1 "
                         "once each")
    max_k = num_nodes if loop else num_nodes - 1
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_k:
        raise ValueError(f"'k' must be an int in [1, {max_k}] "
                         f"(got k={k} for N={num_nodes} nodes)")

    # Local rows in ascending global index, so that positions in a block
    # break ties as indices do.
    index, order = index.sort()
    z = prepare_features(x[order.to(device)], metric, eps)
    dim = x.size(1)

    # Duplicates: exact hashes of every row, gathered everywhere; the
    # representative of a group is its lowest global index.
    bits = z.contiguous().view(torch.int32)
    h = row_hash(bits, seed=1).cpu() if z.numel() else \
        torch.zeros(0, dtype=torch.long)
    all_h = torch.cat(_all_gather_1d(h, group))
    _, inv, counts = torch.unique(all_h, return_inverse=True,
                                  return_counts=True)
    first = torch.full((num_nodes, ), -1, dtype=torch.long)
    dup = counts[inv] > 1
    if bool(dup.any()):
        group_min = torch.full((counts.numel(), ), num_nodes,
                               dtype=torch.long)
        group_min.scatter_reduce_(0, inv[dup], all_index[dup], 'amin')
        first[all_index[dup]] = group_min[inv[dup]]
    members = (first >= 0).nonzero().view(-1)  # global ids, ascending
    reps, rep_pos = torch.unique(first[members], return_inverse=True)
    # Every rank needs the representatives' rows: their owners fill them in.
    rep_rows = torch.zeros(reps.numel(), dim, dtype=z.dtype, device=device)
    if reps.numel() > 0:
        local_pos = torch.searchsorted(index, reps)
        mine = (local_pos < index.numel()) & \
            (index[local_pos.clamp(max=max(index.numel() - 1, 0))] == reps) \
            if index.numel() else torch.zeros_like(reps, dtype=torch.bool)
        rep_rows[mine.to(device)] = z[local_pos[mine].to(device)]
        dist.all_reduce(rep_rows, group=group)
    sq = (z * z).sum(dim=1) if metric == 'euclidean' else None
    sq_rep = (rep_rows * rep_rows).sum(dim=1) if metric == 'euclidean' \
        else None

    shared = block_similarity(z, rep_rows, metric, sq, sq_rep)  # [n_r, reps]

    n_local = z.size(0)
    best_val = torch.full((n_local, k), float('-inf'), dtype=z.dtype,
                          device=device)
    best_idx = torch.full((n_local, k), -1, dtype=torch.long, device=device)
    own = index.to(device)
    for owner in range(world):
        owner_index = all_index[sum(sizes[:owner]):sum(sizes[:owner + 1])]
        owner_index = owner_index.sort().values
        for a in range(0, sizes[owner], block_size):
            cols = owner_index[a:a + block_size].to(device)
            block = torch.empty(cols.numel(), dim, dtype=z.dtype,
                                device=device)
            if owner == rank:
                block.copy_(z[a:a + block_size])
            dist.broadcast(block, src=dist.get_global_rank(group, owner)
                           if group is not None else owner, group=group)
            if n_local == 0:
                continue
            sq_b = (block * block).sum(dim=1) if metric == 'euclidean' \
                else None
            sim = block_similarity(z, block, metric, sq, sq_b)
            is_member = first[cols.cpu()] >= 0
            if bool(is_member.any()):
                pos = torch.searchsorted(members, cols.cpu()[is_member])
                sim[:, is_member.to(device)] = \
                    shared[:, rep_pos[pos].to(device)]
            if not loop:
                sim[own.unsqueeze(1) == cols.unsqueeze(0)] = float('-inf')
            val, pos = topk_lowest_index(sim, min(k, cols.numel()))
            best_val, best_idx = _merge(best_val, best_idx, val,
                                        cols.gather(0, pos.view(-1))
                                        .view_as(pos), k)

    # Gather the directed edges (global ids) on dst.
    rows = own.repeat_interleave(k).cpu()
    cols = best_idx.reshape(-1).cpu()
    gathered_rows = _all_gather_1d(rows, group)
    gathered_cols = _all_gather_1d(cols, group)
    # Weights need both endpoints' rows; each rank computes those of its own
    # rows' edges against its neighbours, fetched from their owners.
    weights = _edge_weights(z, index, cols, metric, all_index, sizes,
                            block_size, group)
    gathered_w = _all_gather_1d(weights, group)
    if rank != dst:
        return None
    row = torch.cat(gathered_rows)
    col = torch.cat(gathered_cols)
    weight = torch.cat(gathered_w).to(z.dtype)
    return symmetrize_edges(row, col, weight, num_nodes, symmetrize)


def _edge_weights(z: Tensor, index: Tensor, cols: Tensor, metric: str,
                  all_index: Tensor, sizes: List[int], block_size: int,
                  group) -> Tensor:
    r"""Per-pair weights (:func:`~pyg_dnnmod.utils.neighbour_similarity`,
    as in the single-process version) of this rank's edges
    :obj:`(index[i], cols[i * k + j])`. The neighbour rows some rank needs
    are broadcast once more, block by block, by their owners."""
    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    num_nodes = all_index.numel()
    k = cols.numel() // max(1, z.size(0))
    needed = torch.zeros(num_nodes, dtype=torch.int32)
    if cols.numel():
        needed[cols] = 1
    dist.all_reduce(needed, group=group)
    # Neighbour rows some rank needs, gathered block by block into a local
    # table, then one product per row against its k neighbours as in the
    # single-process version.
    table = torch.zeros(0, z.size(1), dtype=z.dtype, device=z.device)
    table_ids = []
    for owner in range(world):
        owned = all_index[sum(sizes[:owner]):sum(sizes[:owner + 1])]
        owned = owned[needed[owned] > 0].sort().values
        for a in range(0, owned.numel(), block_size):
            ids = owned[a:a + block_size]
            block = torch.empty(ids.numel(), z.size(1), dtype=z.dtype,
                                device=z.device)
            if owner == rank:
                block.copy_(z[torch.searchsorted(index, ids).to(z.device)])
            dist.broadcast(block, src=dist.get_global_rank(group, owner)
                           if group is not None else owner, group=group)
            hit = torch.isin(ids, cols)
            table = torch.cat([table, block[hit.to(z.device)]])
            table_ids.append(ids[hit])
    if cols.numel() == 0:
        return torch.zeros(0, dtype=z.dtype)
    table_ids = torch.cat(table_ids)
    order = table_ids.argsort()
    pos = order[torch.searchsorted(table_ids[order], cols)]
    both = torch.cat([z, table])
    nbrs = (z.size(0) + pos).view(-1, k).to(z.device)
    weights = neighbour_similarity(both, None, nbrs, metric).reshape(-1).cpu()
    return weights
