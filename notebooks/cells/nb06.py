r"""The cells of notebooks/06_population_benchmark_and_gnn_baseline.ipynb (see ../make_notebooks.py)."""
NAME = '06_population_benchmark_and_gnn_baseline.ipynb'

CELLS = [
    ('md', """\
# 06: The population benchmark: a network's final accuracy from its \
dynamic weight graph, with a GNN baseline

The task: a population ("zoo") of trained networks, and for each network
the dynamic graph of its first $T$ epochs, the rolled weight graph of
notebook 05 (a node per channel or neuron, an edge weighted by the absolute
weight or a kernel slice's L2 norm) at epochs $0, \\ldots, T$: the edges are
the architecture's, the weights move. Predict the network's final test
accuracy. Like an OGB dataset, the benchmark fixes what a fair comparison
needs: the items (`DNNDynamicsDataset`, one PyG `Data` per network), the
splits (`get_idx_split`) and the scores (`Evaluator`). This notebook builds
a small zoo, looks at one item, feeds the items to a PyG `DataLoader`,
trains a GNN on them in an explicit loop (where your own model goes), and
runs the benchmark's baselines into a leaderboard, as `pyg-dnnmod
benchmark` does."""),
    ('code', """\
import tempfile

import pandas as pd
import torch
import torch.nn.functional as F
from torch_geometric.loader import DataLoader

from pyg_dnnmod.experiments import (leaderboard, leaderboard_markdown,
                                    run_benchmark)
from pyg_dnnmod.experiments.benchmark import GCN_GRU_SETTINGS
from pyg_dnnmod.nn import GraphGCNGRU
from pyg_dnnmod.plotting import plot_benchmark
from pyg_dnnmod.weights import (SPLITS, DNNDynamicsDataset, ZooSpace,
                                generate_zoo)
from pyg_dnnmod.weights.dynamics_dataset import NODE_FEATURES"""),
    ('md', """\
## A small zoo

20 LeNet-5s trained for 3 epochs on the digits with the recipe of notebook
05 (SGD with momentum, a log-uniform learning rate in 0.003-0.1, a small
weight decay, no dropout), at three widths (0.5, 0.75, 1.0) so that a split
can train on narrow networks and test on wide ones. The weights of epochs
0 (the initialisation), 1 and 2 are kept; the target is the test accuracy
after epoch 3. About 10 s on one core."""),
    ('code', """\
workdir = tempfile.TemporaryDirectory()  # removed when the kernel stops
root = workdir.name
space = ZooSpace(architectures=['lenet5'], widths=(0.5, 0.75, 1.0),
                 optimizers=('momentum', ), lr=(0.003, 0.1),
                 dropout=(0.0, 0.0), weight_decay=(1e-5, 1e-4))
zoo = generate_zoo(root, 20, epochs=3, snapshot_epochs=2, space=space)
zoo.groupby('width')['final_test_acc'].describe().round(3)"""),
    ('md', """\
## The dataset: one dynamic graph per network

`DNNDynamicsDataset(root, T=2)` reads the zoo (its processed file is cached
under `root`). `num_bins=3` cuts the final accuracies of all networks at
their tertiles into the bins of `y_bin`; `narrow_max=0.75` sets the width
split (below). An item is a PyG `Data` with

* `edge_index` `[2, E]`: the weight graph's edges, both directions, the
  same at every epoch;
* `edge_weight` `[E, T + 1]`: one column per epoch $0, \\ldots, T$, the
  absolute weight (for a convolution, the L2 norm of its kernel slice);
* `x` `[N, T + 1, 6]`: the node features of every epoch
  (`NODE_FEATURES`): the log strength toward the previous and toward the
  next layer, their changes since the epoch before, the depth, and a flag
  for non-finite weights;
* `y` and `y_bin` `[1]`: the final test accuracy (the target) and its bin;
* `layer` and `pos_in_layer` `[N]`: the layer of a node and its place in
  it;
* `test_acc`, `test_loss`, `train_acc`, `train_loss` `[1, T + 1]`: the
  history of epochs $0, \\ldots, T$;
* `width` and `net_index` `[1]`: the width multiplier and the index in the
  zoo.

Nothing after epoch $T$ is in an item but `y` and `y_bin`."""),
    ('code', """\
dataset = DNNDynamicsDataset(root, T=2, num_bins=3, narrow_max=0.75)
print(dataset)
data = dataset[0]
data"""),
    ('code', """\
print('nodes per layer',
      dict(zip(data.layer_names, data.layer.bincount().tolist())))
print(f'final accuracy {float(data.y):.3f} in bin {int(data.y_bin)}; '
      f'bin edges {[round(e, 3) for e in dataset.bin_edges]}')"""),
    ('md', """\
The mean node features of the most and of the least accurate network at
every epoch: the strengths of the network that learns move from epoch to
epoch, those of the network that stays near chance hardly do."""),
    ('code', """\
final = dataset.hparams['final_test_acc']
tables = {}
for i in (int(final.idxmax()), int(final.idxmin())):
    tables[f'item {i}, final accuracy {final[i]:.3f}'] = pd.DataFrame(
        dataset[i].x.mean(dim=0).numpy(), columns=NODE_FEATURES)
pd.concat(tables, names=['network', 'epoch']).drop(
    columns=['depth', 'nonfinite']).round(3)"""),
    ('md', """\
PyG's `DataLoader` batches the items the usual way: the graphs of a batch
become one disconnected graph, `x` and `edge_weight` stack their nodes and
edges (the epochs stay a dimension), `y` holds one value per graph and
`batch` names the graph of every node."""),
    ('code', """\
batch = next(iter(DataLoader(dataset, batch_size=4)))
print(batch)
print('nodes per graph', batch.batch.bincount().tolist())
batch.y"""),
    ('md', """\
## The splits

`get_idx_split(name, seed)` gives the sorted indices of the `train`,
`valid` and `test` parts. `'seed'`: a random 60/20/20 split drawn by the
seed. `'width'`: the networks wider than `narrow_max` are the test part and
the others train (a random fifth of them validate): does a predictor carry
over to wider networks than it has seen? The bins are the dataset's, so a
test part's bins do not depend on the test part."""),
    ('code', """\
widths = dataset.hparams['width']
rows = []
for name in SPLITS:
    for part, idx in dataset.get_idx_split(name, seed=0).items():
        rows.append({'split': name, 'part': part, 'networks': len(idx),
                     'widths': sorted(set(widths[idx.numpy()]))})
pd.DataFrame(rows)"""),
    ('md', """\
## Your model on the benchmark: a GCN-GRU in an explicit loop

`GraphGCNGRU` is the benchmark's GNN baseline: a GCN on the snapshot of
every epoch (with that epoch's edge weights), mean and max pooling per
graph, a GRU across the epochs and a linear head, one value per graph. Any
model that maps `(x, edge_index, edge_weight, batch)` to one value per
graph goes in at the marked line. The node features and the target are
standardised with the training part's mean and deviation; the model sees
the training part only (the validation part is for choosing settings, the
test part for the score)."""),
    ('code', """\
split = dataset.get_idx_split('seed', seed=0)
train_set = dataset[split['train']]
# The node features of every training node and epoch, [nodes * epochs, 6]
x_train = torch.cat([d.x for d in train_set]).flatten(0, 1)
x_mean, x_std = x_train.mean(dim=0), x_train.std(dim=0).clamp_min(1e-6)
y_train = torch.cat([d.y for d in train_set]).float()
y_mean, y_std = y_train.mean(), y_train.std()

torch.manual_seed(0)
model = GraphGCNGRU(len(NODE_FEATURES), hidden_channels=16)  # <- your model
optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4)


def forward(batch):
    # A diverged network's weights are not finite: they count as 0, as in
    # the node features (this zoo has none).
    edge_weight = torch.nan_to_num(batch.edge_weight, nan=0.0, posinf=0.0,
                                   neginf=0.0)
    x = (batch.x - x_mean) / x_std
    return model(x, batch.edge_index, edge_weight, batch.batch).view(-1)"""),
    ('code', """\
loader = DataLoader(train_set, batch_size=7, shuffle=True)
for epoch in range(1, 21):
    model.train()
    for batch in loader:
        optimizer.zero_grad()
        loss = F.mse_loss(forward(batch), (batch.y.float() - y_mean) / y_std)
        loss.backward()
        optimizer.step()
    if epoch % 10 == 0:
        print(f'epoch {epoch}: training loss {loss.item():.3f} '
              f'(standardised)')"""),
    ('md', """\
## Scores from the Evaluator

`dataset.evaluator()` is the one `Evaluator` every method is scored by:
$R^2$ (the regression), Kendall's $\\tau$ (the ranking), the bin accuracy
at the dataset's bin edges, and the top-10 % recall (of the best tenth of
the networks, the share predicted among the best tenth: what a search over
hyperparameters needs)."""),
    ('code', """\
evaluator = dataset.evaluator()
model.eval()
scores = {}
for part in ('valid', 'test'):
    batch = next(iter(DataLoader(dataset[split[part]], batch_size=100)))
    with torch.no_grad():
        y_pred = forward(batch) * y_std + y_mean
    scores[part] = evaluator.eval(batch.y, y_pred)
pd.DataFrame(scores).T.round(3)"""),
    ('md', """\
With 4 networks in a part, one network predicted well or badly moves $R^2$
by tenths, and the top-10 % recall is whether the single best network is
predicted best: the validation and the test part of one model can tell
different stories, and one split says little. Hence the benchmark's
several seeds, and its mean and spread over them."""),
    ('md', """\
## Every baseline: `run_benchmark` and the leaderboard

`run_benchmark` fits every baseline on the training part of every split
and seed and scores its test part: the training part's mean (the floor);
gradient-boosted trees on the hyperparameters, on the per-layer weight
statistics of Unterthiner et al. (2020), and on the temporal summary of the
graph statistics of Vahedian et al. (2021, notebook 05); and the GCN-GRU
above with `GCN_GRU_SETTINGS` (60 epochs; its first propagation has no
parameters, so it is computed once per graph). Seed $s$ draws the split's
random parts and seeds the models, so the spread over seeds is that of
both. Two seeds here; the command's default is three."""),
    ('code', """\
print(GCN_GRU_SETTINGS)
results = run_benchmark(dataset, seeds=[0, 1])
results[['baseline', 'split', 'seed', 'n_train', 'n_test', 'r2',
         'kendall_tau', 'bin_accuracy', 'top_recall']].round(3)"""),
    ('code', """\
board = leaderboard(results)   # mean and std over the seeds
print(leaderboard_markdown(board, digits=2))"""),
    ('code', """\
plot_benchmark(results)"""),
    ('md', """\
Bars are the means over the two seeds, error bars the spread over them.
The train mean is the floor: its $R^2$ is at most 0 on any test part (a
constant is no better than the test part's own mean) and its Kendall
$\\tau$ is undefined. With 4 to 7 test networks per part the spread is as
wide as the gaps between the baselines, and their order changes with the
seed and the split: on a zoo this small no baseline can be said to beat
another.

## From this zoo to the leaderboard

This zoo is for teaching: it runs in well under a minute, and its numbers
depend on which few networks land in a test part. The leaderboard in the
README comes from the same code on 100 networks, made by the command
below (a new zoo has the default settings there: two architectures, five
widths, three optimizers, 15 epochs; and $T = 3$):

```
pyg-dnnmod benchmark --zoo DIR --num-networks 100
```

It trains the zoo (resumable), runs every baseline on both splits and
three seeds, and writes `results.csv`, `leaderboard.csv`, `leaderboard.md`
(the table above, ready for a README) and `benchmark.png`. To put your own
model beside the baselines, train it as above on
`dataset.get_idx_split(split, seed)` of the same zoo, splits and seeds,
score each test part with `dataset.evaluator()`, and compare the mean and
the spread over the seeds."""),
]
