import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from pyg_dnnmod import layer_graphs, modularity
from pyg_dnnmod.distributed import (
    distributed_knn_graph,
    distributed_layer_graphs,
    shard_indices,
)
from pyg_dnnmod.utils import knn_graph

CASES = ['contiguous', 'interleaved', 'uneven', 'pearson', 'euclidean']


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _data():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(203) % 4
    x = (torch.randn(4, 48, generator=gen)[y] +
         1.5 * torch.randn(203, 48, generator=gen)).relu()
    x[10] = x[150]  # duplicates across shards
    x[11] = x[150]
    x[20] = 0.0
    return x, y


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(48, 32), nn.ReLU(), nn.Linear(32, 16))


def _worker(rank, world, port, out_dir):
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        x, y = _data()
        for case in CASES:
            kwargs = dict(k=4, block_size=37)
            if case == 'interleaved':  # a DistributedSampler's layout
                index = shard_indices(x.size(0))
            elif case == 'uneven':
                index = torch.arange(0, 170) if rank == 0 else \
                    torch.arange(170, x.size(0))
            else:
                index = torch.tensor_split(torch.arange(x.size(0)),
                                           world)[rank]
            if case in ('pearson', 'euclidean'):
                kwargs['metric'] = case
            out = distributed_knn_graph(x[index], index=index, **kwargs)
            if rank == 0:
                torch.save(out, os.path.join(out_dir, f'{case}.pt'))
            else:
                assert out is None
        graphs = distributed_layer_graphs(_model(), x, y, k=4)
        if rank == 0:
            torch.save([(d.edge_index, d.edge_weight) for d in graphs],
                       os.path.join(out_dir, 'layer_graphs.pt'))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope='module')
def two_process_results(tmp_path_factory):
    out = tmp_path_factory.mktemp('dist')
    mp.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    return out


@pytest.mark.slow
@pytest.mark.parametrize('case', CASES)
def test_two_gloo_processes_equal_single_process(two_process_results, case):
    edge_index, edge_weight = torch.load(two_process_results / f'{case}.pt',
                                         weights_only=True)
    x, y = _data()
    metric = case if case in ('pearson', 'euclidean') else 'cosine'
    ref_index, ref_weight = knn_graph(x, k=4, metric=metric)
    assert edge_index.tolist() == ref_index.tolist()
    assert torch.equal(edge_weight, ref_weight)
    assert modularity(edge_index, y, edge_weight) == \
        modularity(ref_index, y, ref_weight)


@pytest.mark.slow
def test_distributed_layer_graphs_equal_single_process(two_process_results):
    got = torch.load(two_process_results / 'layer_graphs.pt',
                     weights_only=True)
    x, y = _data()
    ref = layer_graphs(_model(), x, y, k=4)
    assert len(got) == len(ref) == 2
    for (edge_index, edge_weight), data in zip(got, ref):
        assert edge_index.tolist() == data.edge_index.tolist()
        assert torch.equal(edge_weight, data.edge_weight)


def test_needs_process_group():
    with pytest.raises(RuntimeError, match='initialised torch.distributed'):
        distributed_knn_graph(torch.randn(5, 3), k=2)
