import pytest
import torch
import torch.nn.functional as F

from pyg_dnnmod.nn import GCNGRU
from pyg_dnnmod.utils import knn_graph


def clusters(y, separation, seed, dim=8):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(int(y.max()) + 1, dim, generator=g)
    return separation * centers[y] + torch.randn(y.numel(), dim, generator=g)


def snapshot(x):
    edge_index, edge_weight = knn_graph(x, 3)
    return x, edge_index, edge_weight.float().clamp(min=0)


def train(model, seq, y, train_mask, epochs=150):
    xs, edge_indices, edge_weights = map(list, zip(*seq))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        out = model(xs, edge_indices, edge_weights)[-1]
        F.cross_entropy(out[train_mask], y[train_mask]).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        return model(xs, edge_indices, edge_weights)


def test_recurrence_carries_an_early_snapshot_forward():
    # The classes are visible in snapshot 0 only; snapshot 1 is noise. A
    # model that read only the last snapshot would be at chance (1/3); the
    # GRU state carries the first snapshot's evidence to the last step.
    torch.manual_seed(0)
    y = torch.arange(120) % 3
    train_mask = torch.arange(120) < 60
    seq = [snapshot(clusters(y, 3.0, seed=1)),
           snapshot(torch.randn(120, 8, generator=torch.Generator()
                                .manual_seed(2)))]
    model = GCNGRU(8, 32, 3, num_snapshots=2, dropout=0.2)
    out = train(model, seq, y, train_mask)
    test = ~train_mask
    acc = (out[-1, test].argmax(-1) == y[test]).float().mean()
    assert acc > 0.9


def test_shapes_and_per_snapshot_sizes():
    model = GCNGRU([5, 12, 3], 16, 4)
    assert model.num_snapshots == 3
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    xs = [torch.randn(4, c) for c in (5, 12, 3)]
    out = model(xs, [edge_index] * 3)
    assert out.shape == (3, 4, 4)
    # Edge weights per snapshot, None allowed; eval mode is deterministic.
    model.eval()
    weights = [torch.rand(6), None, torch.rand(6)]
    assert torch.equal(model(xs, [edge_index] * 3, weights),
                       model(xs, [edge_index] * 3, weights))
    model.reset_parameters()
    assert repr(model) == 'GCNGRU([5, 12, 3], 16, 4)'


def test_prefix_outputs_do_not_see_the_future():
    # Step t depends on snapshots 0..t only: changing the last snapshot
    # leaves the earlier steps' logits unchanged.
    model = GCNGRU(4, 8, 2, num_snapshots=3).eval()
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    xs = [torch.randn(3, 4) for _ in range(3)]
    a = model(xs, [edge_index] * 3)
    b = model(xs[:2] + [torch.randn(3, 4)], [edge_index] * 3)
    assert torch.equal(a[:2], b[:2]) and not torch.equal(a[2], b[2])


@pytest.mark.parametrize('args,kwargs,match', [
    ((8, 16, 3), {}, r"'num_snapshots' must be >= 1 when 'in_channels' is "
     r"an int \(got None\)"),
    (([], 16, 3), {}, r"'in_channels' must name at least one snapshot"),
    (([8, 8], 16, 3), dict(num_snapshots=3),
     r"'num_snapshots' must equal the length of 'in_channels' \(got 3 and "
     r"2\)"),
    ((8, 16, 3), dict(num_snapshots=2, dropout=1.0),
     r"'dropout' must lie in \[0, 1\) \(got 1.0\)"),
])
def test_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        GCNGRU(*args, **kwargs)


def test_wrong_sequence_length():
    model = GCNGRU(4, 8, 2, num_snapshots=2)
    edge_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"must hold 2 snapshots \(got 1 "
                       r"and 1\)"):
        model([torch.randn(2, 4)], [edge_index])
