r"""The cells of notebooks/05_weight_graphs_and_accuracy_prediction.ipynb (see ../make_notebooks.py)."""
NAME = '05_weight_graphs_and_accuracy_prediction.ipynb'

CELLS = [
    ('md', """\
# 05: Weight graphs over training, and the final accuracy from the first \
epochs

Vahedian et al. (2021, "Convolutional Neural Network Dynamics: A Graph
Perspective") read a network's weights as a graph: in the *rolled*
representation a convolution channel or a neuron is a node, a convolution
links output channel $i$ to input channel $j$ with the L2 norm of its kernel
slice $\\|W[i, j]\\|_2$, and a linear layer links neurons with $|w|$.
Every training epoch gives a snapshot of this graph; summaries of simple
node statistics (weighted degree, eigenvector centrality) over the first
epochs predict the network's final accuracy (the paper's bin-classification
and regression results). This notebook builds the graph of one network,
trains a small population ("zoo") on the embedded digits, summarises its
snapshots over time, and predicts the final accuracy beside graph-free
baselines, as `pyg-dnnmod zoo` and `pyg-dnnmod predict` do."""),
    ('code', """\
import tempfile

import pandas as pd

from pyg_dnnmod.experiments import accuracy_prediction
from pyg_dnnmod.plotting import plot_confusion, plot_predicted_vs_true
from pyg_dnnmod.weights import (WeightGraphDataset, ZooSpace,
                                aggregate_statistics, generate_zoo,
                                node_statistics, temporal_summary,
                                weight_graph, zoo_model)"""),
    ('md', """\
## One network's rolled weight graph

A LeNet-5 at half width on the 1 x 16 x 16 digits: one node per input
channel, per convolution channel and per neuron (the paper's LeNet-5 on
32 x 32 RGB images has 3 + 6 + 16 + 120 + 84 + 10 = 239 nodes). The first
linear layer after the flatten is rolled over the spatial positions too:
one edge per (neuron, channel), weighted by the L2 norm over the
positions."""),
    ('code', """\
net = zoo_model('lenet5', width=0.5)
graph = weight_graph(net, input_shape=(1, 16, 16))
print(graph)
pd.DataFrame({'layer': graph.layer_names,
              'nodes': graph.layer.bincount().tolist()})"""),
    ('code', """\
nodes = node_statistics(graph, ['weighted_degree', 'eigenvector_centrality'])
nodes.head()"""),
    ('code', """\
aggregate_statistics(nodes).round(4)   # per layer, and over the graph"""),
    ('md', """\
## A small zoo

18 LeNet-5s at half width, trained for 3 epochs on the digits (centred on
the canvas), each with its own learning rate (log-uniform in 0.003-0.1,
SGD with momentum) and weight decay; the weights of epochs 0 (the
initialisation), 1 and 2 are kept. Every network is written to its own
record as soon as it is done, so a larger run (`pyg-dnnmod zoo
--num-networks 100`) resumes where it stopped. The learning rate is the
one knob with a large effect here, which keeps so small a zoo readable."""),
    ('code', """\
root = tempfile.mkdtemp()
space = ZooSpace(architectures=['lenet5'], widths=(0.5, ),
                 optimizers=('momentum', ), lr=(0.003, 0.1),
                 dropout=(0.0, 0.0), weight_decay=(1e-5, 1e-4))
zoo = generate_zoo(root, 18, epochs=3, snapshot_epochs=2, space=space)
zoo[['index', 'lr', 'weight_decay', 'final_test_acc']].sort_values(
    'lr').round(4)"""),
    ('md', """\
`WeightGraphDataset` holds one PyG `Data` per network: the fixed edge set
of its weight graph with one edge-weight column per kept epoch, its final
accuracy as `y` and its whole training history."""),
    ('code', """\
dataset = WeightGraphDataset(root)
print(dataset)
dataset[0]"""),
    ('md', """\
## Node statistics over time, and temporal summaries

`epoch_aggregates` summarises every snapshot by the per-layer median, mean,
standard deviation, skewness and kurtosis of each node statistic (the
paper's two). For the best network, the mean strength (weighted degree) of
every layer per epoch:"""),
    ('code', """\
aggregates = dataset.epoch_aggregates()
final = pd.Series([float(d.y) for d in dataset], name='final_test_acc')
best = int(final.idxmax())
aggregates.loc[best].filter(like='/weighted_degree/mean').round(3)"""),
    ('md', """\
`temporal_summary` turns the first $T$ epochs into one feature vector: the
aggregates of epochs $1, \\ldots, T$ and their changes from the epoch
before. Over the zoo, how the change of the whole graph's mean strength in
epoch 1 ranks the final accuracy (Spearman), beside the learning rate, the
knob behind both:"""),
    ('code', """\
features = temporal_summary(aggregates.loc[best], T=2)
print(len(features), 'features, among them')
print(features.filter(like='all/weighted_degree/mean').round(4))
change = (aggregates.xs(1, level='epoch')
          - aggregates.xs(0, level='epoch'))['all/weighted_degree/mean']
pd.Series({
    'strength change in epoch 1': change.reset_index(drop=True).corr(
        final, method='spearman'),
    'learning rate': dataset.hparams['lr'].corr(final, method='spearman'),
}, name='Spearman with final accuracy').round(3)"""),
    ('md', """\
## Predicting the final accuracy from the first T = 2 epochs

Cross-validated over 6 folds by a linear model (ridge regression of the
accuracy, logistic regression of its tercile bin): the graph features
beside graph-free baselines on the same two epochs (the test accuracy and
loss at epoch 2, the hyperparameters) and the majority / mean predictor.
Each is scored over all networks and over the networks that learned (final
accuracy above chance + 5 points)."""),
    ('code', """\
metrics, predictions = accuracy_prediction(
    dataset, T=2, model='linear', folds=6,
    feature_sets=['graph', 'accuracy', 'hyperparameters', 'majority / mean'])
metrics[['subset', 'features', 'n', 'bin_accuracy', 'r2', 'mae',
         'kendall_tau']].round(3)"""),
    ('md', """\
**The warning is part of the lesson.** A prediction says nothing when a
training fold holds fewer than five networks per bin, when ties empty a bin
(networks stuck at chance), or when a model predicts one value everywhere;
`accuracy_prediction` then warns and lists the reasons, also kept in
`metrics.attrs['degenerate']`. 18 networks in 6 folds leave 15 per training
fold, 5 per bin: just enough over all networks. The second subset keeps only
the networks that learned; with fewer than 18 of them it falls under the
limit, and its rows mean nothing. Read the `all` rows against the majority /
mean row: a score near it, or an $R^2$ at or below 0, is no evidence. The
cure is a larger zoo (`pyg-dnnmod zoo --num-networks 100`, minutes on a
CPU), not a lower threshold. At this size the learning rate explains most
of the spread, so the hyperparameters are a hard baseline: the graph
features show the signal, not that they add to the hyperparameters."""),
    ('code', """\
for reason in metrics.attrs['degenerate']:
    print('-', reason)"""),
    ('code', """\
plot_predicted_vs_true(
    predictions, subset='all',
    feature_sets=['graph', 'accuracy', 'hyperparameters'])"""),
    ('code', """\
plot_confusion(predictions[predictions['subset'] == 'all'],
               feature_sets=['graph', 'hyperparameters'])"""),
]
