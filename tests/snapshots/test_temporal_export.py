"""The snapshots in PyTorch Geometric Temporal and in PyG's TemporalData.

PyTorch Geometric Temporal 0.56.2 imports ``torch_sparse`` in one module
(``nn/recurrent/evolvegcno.py``); no wheel of it exists here, so it is
installed with ``--no-deps`` (README, Quick start) and this module
provides the one-line stand-in that the README tells users to create."""
import sys

import numpy as np
import pytest
import torch
import torch_geometric  # noqa: F401 - before the stand-in, see below

from pyg_dnnmod.snapshots import LayerGraphs


@pytest.fixture
def temporal(tmp_path, monkeypatch):
    # PyG decides at its own import whether torch_sparse exists, so the
    # stand-in (which imports PyG) only goes on the path after that.
    package = tmp_path / 'torch_sparse'
    package.mkdir()
    (package / '__init__.py').write_text(
        'from torch_geometric.typing import SparseTensor  # noqa: F401\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [n for n in sys.modules if n.startswith(
            ('torch_sparse', 'torch_geometric_temporal'))]:
        monkeypatch.delitem(sys.modules, name)
    import torch_geometric_temporal
    return torch_geometric_temporal


def separating_graphs(num_layers=5, n=60, dim=8, seed=0):
    # Three classes whose clusters separate with depth, same width in
    # every layer (a recurrent GNN needs one input size).
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    centres = torch.randn(3, dim, generator=gen)
    features = []
    for t in range(num_layers):
        noise = torch.randn(n, dim, generator=gen)
        features.append((f'layer{t}', noise + 0.6 * t * centres[y]))
    return LayerGraphs.from_features(features, y, k=4, keep_features=True)


def test_signal_snapshots_carry_what_pyg_reads(temporal):
    graphs = separating_graphs()
    signal = graphs.to_temporal_signal()
    assert signal.snapshot_count == len(graphs)
    for t, (snap, data) in enumerate(zip(signal, graphs)):
        assert torch.equal(snap.edge_index, data.edge_index)
        assert torch.equal(snap.edge_weight, data.edge_weight)
        assert torch.equal(snap.edge_attr, data.edge_weight)
        assert torch.equal(snap.x, data.x)
        assert torch.equal(snap.y, data.y)
        assert int(snap.layer_index) == t
        assert snap.num_nodes.tolist() == [60]
        assert snap.layer_index.tolist() == [t]
    # Slicing keeps the extra attributes (a time-ordered split).
    head = signal[1:3]
    assert head.snapshot_count == 2 and int(head[0].layer_index) == 1


def test_gconvgru_learns_over_the_snapshot_sequence(temporal):
    from torch_geometric_temporal.nn.recurrent import GConvGRU

    torch.manual_seed(0)
    graphs = separating_graphs()
    signal = graphs.to_temporal_signal()
    recurrent = GConvGRU(in_channels=8, out_channels=16, K=2)
    head = torch.nn.Linear(16, 3)
    params = list(recurrent.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=0.01)
    losses = []
    for _ in range(30):
        h = None
        for snap in signal:  # the depth sequence, one hidden state
            h = recurrent(snap.x, snap.edge_index, snap.edge_weight, h)
        loss = torch.nn.functional.cross_entropy(head(h), snap.y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        accuracy = (head(h).argmax(1) == snap.y).float().mean().item()
    assert losses[-1] < 0.5 * losses[0]
    assert accuracy > 0.9


def test_temporal_data_events():
    graphs = separating_graphs(num_layers=3)
    events = graphs.to_temporal_data()
    sizes = [d.num_edges for d in graphs]
    assert events.num_events == sum(sizes)
    assert events.t.tolist() == np.repeat([0, 1, 2], sizes).tolist()
    first = slice(0, sizes[0])
    assert torch.equal(events.src[first], graphs[0].edge_index[0])
    assert torch.equal(events.dst[first], graphs[0].edge_index[1])
    assert torch.equal(events.msg[first, 0], graphs[0].edge_weight)
    assert torch.equal(events.node_y, graphs[0].y)
    with pytest.raises(ValueError, match='no events'):
        graphs[3:].to_temporal_data()
