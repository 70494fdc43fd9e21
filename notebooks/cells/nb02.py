r"""The cells of notebooks/02_snapshots_as_pyg_dataset.ipynb (see ../make_notebooks.py)."""
NAME = '02_snapshots_as_pyg_dataset.ipynb'

CELLS = [
    ('md', '''# 02: Layer snapshots as a PyG dataset, and a GNN on them

Every layer of a network, read over N labelled samples, becomes a k-NN graph
of the samples (a PyG `Data` snapshot). Over depth the snapshots form an
edge-dynamic graph on a fixed node set. This notebook loads them as a PyG
dataset, batches them with PyG's `DataLoader`, computes modularity inside
that pipeline, and trains GNNs on them: does a GNN classify the samples
better on the layers where modularity is high?'''),
    ('code', '''import tempfile

import torch
from torch_geometric.loader import DataLoader

from pyg_dnnmod import LayerGraphDataset, layer_graphs, modularity
from pyg_dnnmod.pretrained import digits_data, pretrained_digits_cnn

model, info = pretrained_digits_cnn()   # trained once (about 20 s), then cached
x, y = digits_data('test')              # translated digits, offline
print(f"test accuracy {info['test_acc']:.3f}, {len(x)} samples")'''),
    ('code', '''graphs = layer_graphs(model, x, y, k=3, num_samples=500, seed=0)
graphs.to_dataframe()'''),
    ('md', '''`LayerGraphs` is a sequence of `Data`: slicing gives another
`LayerGraphs`, and a time-ordered split is two slices.'''),
    ('code', '''early, late = graphs.split(2)
print(early.layer_names, late.layer_names)
graphs[-1]'''),
    ('md', '''## On disk: `LayerGraphDataset`

An `InMemoryDataset` cached under `root`, keyed by a hash of the model's
weights, the inputs and every parameter: a second call loads the file, a
changed parameter builds a new one.'''),
    ('code', '''root = tempfile.mkdtemp()
dataset = LayerGraphDataset(root, model, x, y, k=3, num_samples=500, seed=0)
print(dataset, dataset.layer_names)
loader = DataLoader(dataset, batch_size=2)
for batch in loader:
    print(batch.num_graphs, modularity(batch.edge_index, batch.y,
                                       batch.edge_weight, batch=batch.batch))
torch.allclose(dataset.modularity(), graphs.modularity())'''),
    ('md', '''## Modularity as a differentiable loss

`modularity` also takes soft assignments `S` (`[N, C]` probabilities) and
is differentiable in `S` and in `edge_weight`: a DMoN-style clustering of
the last layer's graph, without labels.'''),
    ('code', '''from torch_geometric.nn import GCNConv

from pyg_dnnmod.nn import ModularityLoss
from pyg_dnnmod.experiments.gnn import project_features

data = graphs[-1]
torch.manual_seed(0)
feats = torch.eye(data.num_nodes)
conv1, conv2 = GCNConv(data.num_nodes, 64), GCNConv(64, 10)
opt = torch.optim.Adam([*conv1.parameters(), *conv2.parameters()], lr=0.01)
loss_fn = ModularityLoss()
for step in range(100):
    h = conv1(feats, data.edge_index, data.edge_weight).relu()
    s = conv2(h, data.edge_index, data.edge_weight).softmax(dim=-1)
    loss = loss_fn(s, data.edge_index, data.edge_weight)
    opt.zero_grad(); loss.backward(); opt.step()
found = s.argmax(dim=-1)
print('Q of the found clusters', modularity(data.edge_index, found, data.edge_weight))
print('Q of the classes      ', modularity(data.edge_index, data.y, data.edge_weight))'''),
    ('md', '''## A GNN on the dynamic graph

A GCN per snapshot classifies the samples (half of them labelled), label
propagation does the same without learning, and a GCN-GRU reads the depth
sequence up to each layer. Their accuracy follows the modularity curve.'''),
    ('code', '''from pyg_dnnmod.experiments.gnn import gnn_on_snapshots

graphs_x = layer_graphs(model, x, y, k=3, num_samples=500, seed=0,
                        keep_features=True)
table = gnn_on_snapshots(graphs_x, epochs=100)
print(table.attrs['spearman'])
table'''),
    ('code', '''import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(table['layer'], table['modularity'], 'o-', label='modularity')
for col in ('gcn_acc', 'label_prop_acc', 'gru_acc'):
    ax.plot(table['layer'], table[col], 's--', label=col)
ax.set_xlabel('layer'); ax.set_ylabel('value'); ax.legend(); fig.tight_layout()'''),
]
