import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    r"""Small GNN and GRU workloads run ~25x slower with two threads on a
    loaded two-core machine (the threads spin against each other)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
