r"""Layer snapshots of a model with the samples split over the ranks."""
from typing import Any, Optional, Union

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DistributedSampler

from pyg_dnnmod.distributed.knn import distributed_knn_graph
from pyg_dnnmod.snapshots import LayerGraphs, SnapshotConfig
from pyg_dnnmod.utils import check_labels


def shard_indices(num_samples: int, group=None) -> Tensor:
    r"""This rank's sample indices from a
    :class:`~torch.utils.data.DistributedSampler` (no shuffling), without
    the repeated samples it pads with to make the shards equal."""
    sampler = DistributedSampler(range(num_samples),
                                 num_replicas=dist.get_world_size(group),
                                 rank=dist.get_rank(group), shuffle=False,
                                 drop_last=False)
    index = torch.tensor(list(sampler), dtype=torch.long)
    # Padding repeats the first indices at the end of the global order; a
    # rank's entry at position p is global position rank + p * world.
    world, rank = dist.get_world_size(group), dist.get_rank(group)
    positions = rank + world * torch.arange(index.numel())
    return index[positions < num_samples]


def distributed_layer_graphs(
    model: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    config: Optional[SnapshotConfig] = None,
    *,
    device: Union[str, torch.device, None] = None,
    block_size: int = 1024,
    group=None,
    **kwargs: Any,
) -> Optional[LayerGraphs]:
    r""":func:`pyg_dnnmod.layer_graphs` over the ranks of a process group:
    every rank extracts the features of its share of the samples (a
    :class:`~torch.utils.data.DistributedSampler`'s), the k-NN of each layer
    is :func:`distributed_knn_graph`, and rank 0 returns the snapshots,
    equal to the single-process ones; other ranks return :obj:`None`.
    Every rank passes the same :obj:`inputs` and :obj:`labels` (or at least
    the same number of samples; only its own share is read).

    The snapshots are taken as :obj:`config` (with :obj:`kwargs`, fields
    of :class:`~pyg_dnnmod.SnapshotConfig`, on top) says, over all
    samples (:obj:`num_samples` must be :obj:`None`).

    Run it under :obj:`torchrun`, e.g. ``torchrun --nproc_per_node 2 -m
    pyg_dnnmod.cli.torchrun``.
    """
    from pyg_dnnmod.features import iter_layer_features
    from torch_geometric.data import Data

    config = SnapshotConfig.resolve(config, **kwargs)
    if config.num_samples is not None:
        raise ValueError(f"'num_samples' must be None: the distributed "
                         f"snapshots take every sample (got "
                         f"{config.num_samples}); draw them beforehand")
    config.validate(inputs.size(0))
    index = shard_indices(inputs.size(0), group)
    labels = check_labels(labels, inputs.size(0))
    snapshots = []
    for t, (name, feats) in enumerate(iter_layer_features(
            model, inputs[index], config.layers,
            post_activation=config.post_activation,
            batch_size=config.batch_size, device=device)):
        out = distributed_knn_graph(feats, config.k, index=index,
                                    metric=config.metric,
                                    symmetrize=config.symmetrize,
                                    block_size=block_size, group=group)
        if out is not None:
            data = Data(edge_index=out[0], y=labels,
                        num_nodes=inputs.size(0))
            data.edge_weight = out[1].float()
            data.t, data.layer = t, name
            snapshots.append(data)
    if dist.get_rank(group) != 0:
        return None
    return LayerGraphs(snapshots, dict(k=config.k, metric=config.metric,
                                       world_size=dist.get_world_size(group)))
