r"""Modularity curve of the default model with the samples split over the
processes of ``torchrun``.

``torchrun --nproc_per_node 2 -m pyg_dnnmod.cli.torchrun --num-samples 500``
(gloo on CPUs; NCCL when every process has a GPU). Rank 0 prints the curve
and checks it against the single-process one.
"""
import argparse

import torch
import torch.distributed as dist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=500)
    parser.add_argument('--k', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--check', action='store_true',
                        help='compare with the single-process result')
    args = parser.parse_args()
    backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    dist.init_process_group(backend)
    try:
        from pyg_dnnmod.datasets import sample_indices
        from pyg_dnnmod.distributed.layer_graphs import (
            distributed_layer_graphs, )
        from pyg_dnnmod.pretrained import digits_data, pretrained_digits_cnn
        from pyg_dnnmod.snapshots import layer_graphs
        device = None
        if backend == 'nccl':
            device = torch.device('cuda', dist.get_rank() %
                                  torch.cuda.device_count())
        # Rank 0 trains (or loads) the cached model first, so that the
        # others only read the cache.
        if dist.get_rank() == 0:
            pretrained_digits_cnn()
        dist.barrier()
        model, _ = pretrained_digits_cnn()
        x, y = digits_data('test')
        index = sample_indices(y, args.num_samples, seed=args.seed)
        x, y = x[index], y[index]
        graphs = distributed_layer_graphs(model, x, y, k=args.k,
                                          device=device)
        if graphs is not None:
            table = graphs.to_dataframe()
            print(f'world size {dist.get_world_size()} ({backend}), '
                  f'N={args.num_samples}, k={args.k}')
            print(table.to_string(index=False))
            if args.check:
                ref = layer_graphs(model, x, y, k=args.k).modularity()
                same = torch.equal(ref, graphs.modularity())
                print(f'equal to the single-process curve: {same}')
    finally:
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
