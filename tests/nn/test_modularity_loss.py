import pytest
import torch
from torch_geometric.nn import GCN
from torch_geometric.utils import stochastic_blockmodel_graph

from pyg_dnnmod import modularity
from pyg_dnnmod.nn import ModularityLoss
from pyg_dnnmod.utils._modularity import collapse_regularization


def planted_partition(seed=0):
    r"""4 planted communities of 25 nodes, p_in = 0.3, p_out = 0.02."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        probs = torch.full((4, 4), 0.02).fill_diagonal_(0.3)
        edge_index = stochastic_blockmodel_graph([25] * 4, probs)
    return edge_index, torch.arange(4).repeat_interleave(25)


def test_dmon_style_clustering_raises_modularity():
    edge_index, y = planted_partition()
    assert modularity(edge_index, y) > 0.5  # what there is to find
    g = torch.Generator().manual_seed(0)
    random_labels = torch.randint(0, 4, (100, ), generator=g)
    random_soft = torch.randn(100, 4, generator=g).softmax(dim=-1)
    assert abs(modularity(edge_index, random_labels)) < 0.05
    assert abs(modularity(edge_index, random_soft).item()) < 0.05

    x = torch.randn(100, 16, generator=g)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = GCN(16, 32, num_layers=2, out_channels=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = ModularityLoss(collapse_weight=1.0)
    with torch.no_grad():
        before = modularity(edge_index, model(x, edge_index).softmax(-1))
    for _ in range(100):
        optimizer.zero_grad()
        loss = loss_fn(model(x, edge_index).softmax(dim=-1), edge_index)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        s = model(x, edge_index).softmax(dim=-1)
    assert before.item() < 0.05
    assert modularity(edge_index, s).item() > 0.3
    assert modularity(edge_index, s.argmax(dim=-1)) > 0.3


def test_loss_is_minus_q_plus_collapse():
    edge_index, _ = planted_partition(seed=1)
    s = torch.randn(100, 3, generator=torch.Generator().manual_seed(1),
                    dtype=torch.float64).softmax(dim=-1)
    batch = torch.arange(100) // 50
    q = modularity(edge_index, s, resolution=0.5)
    collapse = collapse_regularization(s)
    assert ModularityLoss(0.5, collapse_weight=0.0)(s, edge_index).item() \
        == pytest.approx(-q.item(), abs=1e-12)
    assert ModularityLoss(0.5, collapse_weight=2.0)(s, edge_index).item() \
        == pytest.approx(-q.item() + 2 * collapse.item(), abs=1e-12)
    # Batched: the mean over the graphs of both terms.
    loss = ModularityLoss()(s, edge_index[:, (edge_index < 50).all(0)],
                            batch=batch)
    kept = edge_index[:, (edge_index < 50).all(0)]
    q = modularity(kept, s, batch=batch)
    assert loss.item() == pytest.approx(
        -q.mean().item() + collapse_regularization(s, batch).mean().item(),
        abs=1e-12)
    assert loss.dtype == torch.float64


def test_loss_dtype_and_repr_and_bad_input():
    edge_index, _ = planted_partition()
    s = torch.full((100, 2), 0.5, requires_grad=True)
    loss = ModularityLoss()(s, edge_index)
    assert loss.dtype == torch.float32 and loss.requires_grad
    assert repr(ModularityLoss()) == \
        'ModularityLoss(resolution=1.0, collapse_weight=1.0)'
    with pytest.raises(ValueError, match=r"'collapse_weight' must be >= 0 "
                       r"\(got -1.0\)"):
        ModularityLoss(collapse_weight=-1.0)
    with pytest.raises(ValueError, match=r"'s' must be a floating soft "
                       r"assignment .*\(got \[100\]\)"):
        ModularityLoss()(torch.zeros(100), edge_index)
