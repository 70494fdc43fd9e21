import numpy as np
import pytest
import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from pyg_dnnmod import LayerGraphs, layer_graphs, modularity
from pyg_dnnmod.utils import knn_graph
from pyg_dnnmod.pretrained import digits_data, digits_model


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3),
                          nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 3))
    x = torch.randn(60, 1, 8, 8)
    y = torch.arange(60) % 3
    return model, x, y


def test_snapshots_equal_knn_of_layer_outputs(tiny):
    model, x, y = tiny
    graphs = layer_graphs(model, x, y, k=4)
    assert graphs.layer_names == ['0', '2']
    with torch.no_grad():
        outs = [model[0](x), model[2](model[1](model[0](x)))]
    for t, (data, out) in enumerate(zip(graphs, outs)):
        edge_index, edge_weight = knn_graph(out.flatten(1), 4)
        assert data.edge_index.tolist() == edge_index.tolist()
        assert torch.equal(data.edge_weight, edge_weight)
        assert data.y.tolist() == y.tolist()
        assert data.t == t and data.num_nodes == 60
        assert data.layer == graphs.layer_names[t]
    expected = [modularity(d.edge_index, d.y, d.edge_weight) for d in graphs]
    assert graphs.modularity().tolist() == pytest.approx(expected, abs=1e-12)


def test_sequence_protocol(tiny):
    model, x, y = tiny
    graphs = layer_graphs(model, x, y, k=3, layers=[0, 1])
    assert len(graphs) == 2
    assert isinstance(graphs[0], Data)
    part = graphs[1:]
    assert isinstance(part, LayerGraphs) and part.layer_names == ['2']
    first, rest = graphs.split(1)
    assert first.layer_names == ['0'] and rest.layer_names == ['2']
    assert graphs.split(0.5)[0].layer_names == ['0']
    # Iteration holds no state: two iterators run side by side.
    a, b = iter(graphs), iter(graphs)
    assert next(a) is next(b)
    assert [d.t for d in graphs] == [0, 1] == [d.t for d in graphs]
    df = graphs.to_dataframe()
    assert list(df.columns) == ['layer_index', 'layer', 'num_nodes',
                                'num_edges', 'modularity']
    assert df['layer'].tolist() == ['0', '2']
    with pytest.raises(TypeError, match=r"'idx' must be an int or a slice"):
        graphs['0']


def test_dataloader_batches_equal_per_snapshot(tiny):
    model, x, y = tiny
    graphs = layer_graphs(model, x, y, k=3, layers=None)
    graphs = LayerGraphs(list(graphs) * 3)  # six snapshots
    expected = graphs.modularity()
    got = []
    for batch in DataLoader(graphs, batch_size=4, shuffle=False):
        got.append(modularity(batch.edge_index, batch.y, batch.edge_weight,
                              batch=batch.batch))
    assert torch.cat(got).tolist() == pytest.approx(expected.tolist(),
                                                    abs=1e-12)
    per = [modularity(d.edge_index, d.y, d.edge_weight) for d in graphs]
    assert expected.tolist() == pytest.approx(per, abs=1e-12)


def test_temporal_signal_arguments_follow_documented_constructor(tiny):
    # PyTorch Geometric Temporal's DynamicGraphTemporalSignal(edge_indices,
    # edge_weights, features, targets) takes equal-length sequences of
    # numpy arrays (or None) and yields Data(x, edge_index, edge_attr, y,
    # **additional); the signal itself is tested in test_temporal_export.py.
    model, x, y = tiny
    graphs = layer_graphs(model, x, y, k=3, keep_features=True)
    # Layers of different widths keep their own x; modularity still batches.
    assert graphs[0].x.shape == (60, 4 * 6 * 6)
    assert graphs[1].x.shape == (60, 6 * 4 * 4)
    assert len(graphs.modularity()) == 2
    args = graphs.temporal_signal_arguments()
    assert set(args) == {'edge_indices', 'edge_weights', 'features',
                         'targets', 'edge_weight', 'num_nodes',
                         'layer_index'}
    assert all(len(v) == len(graphs) for v in args.values())
    for t, data in enumerate(graphs):
        assert isinstance(args['edge_indices'][t], np.ndarray)
        assert args['edge_indices'][t].shape == (2, data.num_edges)
        assert np.array_equal(torch.LongTensor(args['edge_indices'][t]),
                              data.edge_index)
        assert np.allclose(args['edge_weights'][t], data.edge_weight)
        assert args['features'][t].shape == (60, data.x.size(1))
        assert np.array_equal(args['targets'][t], y.numpy())
    assert [n.tolist() for n in args['num_nodes']] == [[60], [60]]
    assert [t.tolist() for t in args['layer_index']] == [[0], [1]]


def test_sampling_and_errors(tiny):
    model, x, y = tiny
    graphs = layer_graphs(model, x, y, k=3, num_samples=30, seed=1)
    assert graphs[0].num_nodes == 30
    assert torch.bincount(graphs[0].y).tolist() == [10, 10, 10]
    again = layer_graphs(model, x, y, k=3, num_samples=30, seed=1)
    assert graphs[0].edge_index.tolist() == again[0].edge_index.tolist()
    with pytest.raises(ValueError, match=r"one label per sample .*\[59\]"):
        layer_graphs(model, x, y[:59], k=3)
    with pytest.raises(TypeError, match=r"'labels' must be integer"):
        layer_graphs(model, x, y.float(), k=3)
    with pytest.raises(ValueError, match=r"got k=60 for N=60"):
        layer_graphs(model, x, y, k=60)
    with pytest.raises(ValueError, match=r"nope"):
        layer_graphs(model, x, y, layers=['nope'])
    with pytest.raises(ValueError):
        layer_graphs(model, x, y, layers=[])


@pytest.mark.slow
def test_trained_digits_curve_rises_and_random_init_stays_flat(
        trained_digits):
    # The paper's phenomenon on the embedded default (DESIGN.md section 5).
    model, info = trained_digits
    assert info['test_acc'] >= 0.90
    x, y = digits_data('test')
    q = layer_graphs(model, x, y, k=3, num_samples=500).modularity()
    assert len(q) == 4
    assert float(q[0]) < 0.35
    assert float(q[-1]) > 0.75
    q_rand = layer_graphs(digits_model(random_init=True), x, y, k=3,
                          num_samples=500).modularity()
    assert float(q_rand.max()) < 0.35


def test_knn_kwargs_reach_knn_graph():
    from torch import nn

    from pyg_dnnmod import layer_graphs
    from pyg_dnnmod.utils import knn_graph
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    x, y = torch.randn(60, 1, 8, 8), torch.arange(60) % 3
    plain = layer_graphs(model, x, y, k=3)
    exact_bf16 = layer_graphs(model, x, y, k=3,
                              knn_kwargs={'precision': 'bf16'})
    projected = layer_graphs(model, x, y, k=3, knn_kwargs={'projection': 8},
                             keep_features=True)
    assert exact_bf16.meta['knn_kwargs'] == {'precision': 'bf16'}
    for a, b, c in zip(plain, exact_bf16, projected):
        assert torch.equal(a.edge_index, b.edge_index)
        assert torch.equal(a.edge_weight, b.edge_weight)
        ref = knn_graph(c.x, k=3, projection=8)
        assert torch.equal(c.edge_index, ref[0])
    assert not all(torch.equal(a.edge_index, c.edge_index)
                   for a, c in zip(plain, projected))


@pytest.mark.parametrize('bad,match', [
    (lambda x: x.long(), r"'inputs' of shape \[60, 1, 8, 8\] and dtype "
     r"torch.int64 do not fit the model"),
    (lambda x: x.flatten(), r"'inputs' of shape \[3840\] and dtype "
     r"torch.float32 do not fit"),
    (lambda x: x.expand(60, 3, 8, 8), r"'inputs' of shape \[60, 3, 8, 8\] .* "
     r"to have 1 channels"),
    (lambda x: x[:, :, :4, :4], r"'inputs' of shape \[60, 1, 4, 4\] .*"
     r"do not fit the model"),
])
def test_inputs_the_model_rejects(tiny, bad, match):
    model, x, y = tiny
    inputs = bad(x)
    labels = y if inputs.dim() > 1 else torch.arange(inputs.size(0)) % 3
    with pytest.raises(ValueError, match=match) as info:
        layer_graphs(model, inputs, labels, k=3)
    # The model's own error is chained and quoted.
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value.__cause__) in str(info.value)


def test_bad_inputs_labels_and_device(tiny):
    model, x, y = tiny
    with pytest.raises(ValueError, match=r"'inputs' must hold at least one "
                       r"sample \[M, ...\] \(got shape \[\]\)"):
        layer_graphs(model, torch.tensor(1.0), y)
    with pytest.raises(ValueError, match=r"'labels' must hold one label per "
                       r"sample \(got 60 labels of shape \[60, 1\] for 60 "
                       r"samples\)"):
        layer_graphs(model, x, y[:, None])
    with pytest.raises(TypeError, match=r"'labels' must be integer class "
                       r"labels \(got dtype torch.bool\)"):
        layer_graphs(model, x, y > 0)
    with pytest.raises(TypeError, match=r"'labels' must be integer class "
                       r"labels \(got str 'abc'\)"):
        layer_graphs(model, x, 'abc')
    for device in ('gpu0', 'cuda:x'):
        with pytest.raises(ValueError, match=rf"'device' must name a device "
                           rf".*\(got '{device}'\)") as info:
            layer_graphs(model, x, y, device=device)
        assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(TypeError, match=r"'device' must be a str, an int or "
                       r"a torch.device \(got float 1.5\)"):
        layer_graphs(model, x, y, device=1.5)
    # A torch.device and 'cpu' still work and give the same graphs.
    a = layer_graphs(model, x, y, device='cpu')
    b = layer_graphs(model, x, y, device=torch.device('cpu'))
    assert [d.edge_index.tolist() for d in a] == \
        [d.edge_index.tolist() for d in b]


def test_to_batch_of_empty_layer_graphs(tiny):
    model, x, y = tiny
    empty = layer_graphs(model, x, y, k=3)[2:]
    assert len(empty) == 0
    with pytest.raises(ValueError, match=r"'to_batch' needs at least one "
                       r"snapshot \(got an empty LayerGraphs\)"):
        empty.to_batch()
    with pytest.raises(ValueError, match=r"'to_batch'"):
        LayerGraphs([]).to_batch()
    assert empty.modularity().tolist() == []


def test_spilled_features_give_identical_graphs(tiny, tmp_path, monkeypatch):
    # A budget too small for any layer writes every layer to the disk-backed
    # float32 store (one forward pass): the same values, so the same graphs
    # bit for bit as the default (everything in memory) and as one pass per
    # layer without a store.
    from pyg_dnnmod.features._spill import SpillStore

    model, x, y = tiny
    spilled = []
    empty = SpillStore.empty

    def record(self, rows, cols):
        spilled.append((rows, cols))
        return empty(self, rows, cols)

    monkeypatch.setattr(SpillStore, 'empty', record)
    default = layer_graphs(model, x, y, k=3)
    assert spilled == []
    # Layers '0' (144 floats) and '2' (96 floats) over 60 samples.
    runs = {}
    for max_bytes, stored in ((1, [(60, 144), (60, 96)]),
                              (60 * 144 * 4, [(60, 96)])):
        spilled.clear()
        runs[max_bytes] = layer_graphs(model, x, y, k=3, max_bytes=max_bytes,
                                       spill_dir=tmp_path)
        assert spilled == stored
    spilled.clear()
    with pytest.warns(UserWarning, match=r"alone take \d+ bytes"):
        runs['passes'] = layer_graphs(model, x, y, k=3, max_bytes=1,
                                      spill=False)
    assert spilled == []
    assert list(tmp_path.iterdir()) == []
    for graphs in runs.values():
        assert graphs.layer_names == default.layer_names == ['0', '2']
        for a, b in zip(default, graphs):
            assert torch.equal(a.edge_index, b.edge_index)
            assert torch.equal(a.edge_weight, b.edge_weight)
        assert torch.equal(graphs.modularity(), default.modularity())
    with pytest.raises(ValueError, match=r"'spill_dir' does not exist"):
        layer_graphs(model, x, y, spill_dir=tmp_path / 'missing')
