import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import global_max_pool, global_mean_pool

from pyg_dnnmod.nn import GraphGCNGRU, propagate_features


def ring(num_nodes: int, steps: int, generator: torch.Generator,
         features: int = 3) -> Data:
    r"""A ring with a chord, undirected (both directions), random node
    features and positive edge weights for every step."""
    src = list(range(num_nodes)) + [0]
    dst = [(i + 1) % num_nodes for i in range(num_nodes)] + [num_nodes // 2]
    edge_index = torch.tensor([src + dst, dst + src])
    half = torch.rand(len(src), steps, generator=generator) + 0.1
    return Data(x=torch.randn(num_nodes, steps, features, generator=generator),
                edge_index=edge_index, edge_weight=torch.cat([half, half]),
                num_nodes=num_nodes)


@pytest.fixture
def graphs():
    generator = torch.Generator().manual_seed(0)
    return [ring(n, 3, generator) for n in (4, 7, 5)]


def test_shapes(graphs):
    torch.manual_seed(0)
    batch = Batch.from_data_list(graphs)
    model = GraphGCNGRU(3, 8, out_channels=2, num_layers=2)
    out = model(batch.x, batch.edge_index, batch.edge_weight, batch.batch)
    assert out.shape == (3, 2)
    one = graphs[0]
    # One snapshot as [N, F]; one weight column for every snapshot.
    assert model(one.x[:, 0], one.edge_index).shape == (1, 2)
    assert model(one.x, one.edge_index, one.edge_weight[:, 0]).shape == \
        (1, 2)
    assert repr(model) == 'GraphGCNGRU(3, 8, 2, num_layers=2)'


def test_batch_equals_one_by_one(graphs):
    torch.manual_seed(1)
    model = GraphGCNGRU(3, 8, num_layers=2).eval()
    batch = Batch.from_data_list(graphs)
    together = model(batch.x, batch.edge_index, batch.edge_weight,
                     batch.batch)
    alone = torch.cat([model(g.x, g.edge_index, g.edge_weight)
                       for g in graphs])
    assert torch.allclose(together, alone, atol=1e-6)


def test_equals_pyg_gcn_pooling_and_gru(graphs):
    # The reference: PyG's own GCNConv forward, pooling and nn.GRU.
    torch.manual_seed(2)
    model = GraphGCNGRU(3, 8, out_channels=2, num_layers=2).eval()
    for conv in model.convs:  # a non-zero bias, so that it is checked
        torch.nn.init.normal_(conv.bias)
    batch = Batch.from_data_list(graphs)
    pooled = []
    for t in range(3):
        h = batch.x[:, t]
        for conv in model.convs:
            h = conv(h, batch.edge_index, batch.edge_weight[:, t]).relu()
        pooled.append(torch.cat([global_mean_pool(h, batch.batch),
                                 global_max_pool(h, batch.batch)], dim=-1))
    states, _ = model.gru(torch.stack(pooled))
    expected = model.head(states[-1])
    out = model(batch.x, batch.edge_index, batch.edge_weight, batch.batch)
    assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize('num_layers', [1, 2])
def test_propagated_input_gives_the_same_output(graphs, num_layers):
    torch.manual_seed(3)
    model = GraphGCNGRU(3, 8, num_layers=num_layers).eval()
    batch = Batch.from_data_list(graphs)
    plain = model(batch.x, batch.edge_index, batch.edge_weight, batch.batch)
    x_hat = propagate_features(batch.x, batch.edge_index, batch.edge_weight)
    # Graph by graph equals the batch: no edge crosses two graphs.
    assert torch.allclose(x_hat, torch.cat([propagate_features(
        g.x, g.edge_index, g.edge_weight) for g in graphs]), atol=1e-6)
    if num_layers > 1:
        fast = model(x_hat, batch.edge_index, batch.edge_weight, batch.batch,
                     propagated=True)
    else:  # one layer reads no edges
        fast = model(x_hat, torch.empty(2, 0, dtype=torch.long),
                     batch=batch.batch, propagated=True)
    assert torch.allclose(plain, fast, atol=1e-5)


def test_learns_a_target_of_the_edge_weights():
    # y = the largest (A_hat x)_i at the last step: a function of the edge
    # weights that the largest x_i (what a model without edges sees)
    # misses by far.
    generator = torch.Generator().manual_seed(0)
    data = []
    for i in range(64):
        g = ring(6 + i % 5, 2, generator, features=1)
        g.y = propagate_features(g.x, g.edge_index,
                                 g.edge_weight)[:, -1, 0].max().view(1)
        data.append(g)
    train, test = Batch.from_data_list(data[:48]), \
        Batch.from_data_list(data[48:])
    torch.manual_seed(0)
    model = GraphGCNGRU(1, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(100):
        optimizer.zero_grad()
        out = model(train.x, train.edge_index, train.edge_weight,
                    train.batch).view(-1)
        torch.nn.functional.mse_loss(out, train.y).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        pred = model(test.x, test.edge_index, test.edge_weight,
                     test.batch).view(-1)
    mse = float(((pred - test.y) ** 2).mean())
    mean_mse = float(((train.y.mean() - test.y) ** 2).mean())
    no_edges = float(((global_max_pool(test.x[:, -1], test.batch).view(-1)
                       - test.y) ** 2).mean())
    assert mse < 0.05 * mean_mse
    assert mse < 0.05 * no_edges


def test_bad_input(graphs):
    g = graphs[0]
    model = GraphGCNGRU(3, 4)
    with pytest.raises(ValueError, match=r"'x' must be a tensor \[N, S, 3\] "
                                         r"\(got torch.Size\(\[4, 3, 2\]\)\)"):
        model(g.x[..., :2], g.edge_index)
    with pytest.raises(ValueError, match="'x' holds NaN or Inf"):
        model(g.x.clone().fill_(float('nan')), g.edge_index)
    with pytest.raises(ValueError, match=r"'edge_weight' must be \[E\] or "
                                         r"\[E, S\] with E = 10, S = 3 "
                                         r"\(got \[10, 2\]\)"):
        model(g.x, g.edge_index, g.edge_weight[:, :2])
    with pytest.raises(ValueError, match="'edge_weight' holds NaN or Inf"):
        model(g.x, g.edge_index, torch.full((10, 3), float('inf')))
    with pytest.raises(ValueError, match=r"'edge_index' must be a tensor "
                                         r"\[2, E\]"):
        model(g.x, g.edge_index[0])
    with pytest.raises(ValueError, match=r"'batch' must be a tensor \[N\] "
                                         r"with N = 4 \(got \[3\]\)"):
        model(g.x, g.edge_index, batch=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"'num_layers' must be an integer "
                                         r">= 1 \(got 0\)"):
        GraphGCNGRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"'dropout' must lie in \[0, 1\)"):
        GraphGCNGRU(3, 4, dropout=1.0)
