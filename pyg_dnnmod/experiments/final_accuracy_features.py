r"""The features of the accuracy-prediction experiment (see
:mod:`pyg_dnnmod.experiments.final_accuracy`): what is known of every
network of a zoo after its first :math:`T` epochs, one row per network.

The weight-graph features of Vahedian et al. (2021, `"Convolutional Neural
Network Dynamics: A Graph Perspective" <https://arxiv.org/abs/2111.05410>`_)
beside graph-free baselines: the test accuracy and loss at epoch :math:`T`,
the hyperparameters, and the per-layer weight statistics of Unterthiner et
al. (2020, `"Predicting Neural Network Accuracy from Weights"
<https://arxiv.org/abs/2002.11448>`_).
"""
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from pyg_dnnmod.weights.dataset import SUMMARY_STATISTICS, WeightGraphDataset

#: The feature sets :func:`accuracy_prediction` compares, in table order.
#: :obj:`'graph'`: the temporal summary of the weight graphs;
#: :obj:`'accuracy'`: test accuracy and loss at epoch :math:`T`;
#: :obj:`'hyperparameters'`; :obj:`'weight_statistics'` (Unterthiner et
#: al.); :obj:`'combined'`: all four; :obj:`'majority / mean'`: no
#: features (the majority bin and the mean accuracy of the training fold).
FEATURE_SETS = ('graph', 'accuracy', 'hyperparameters', 'weight_statistics',
                'combined', 'majority / mean')

_QUANTILES = (0, 25, 50, 75, 100)


def parameter_statistics(state_dict: Mapping[str, torch.Tensor]) -> pd.Series:
    r"""The weight statistics of Unterthiner et al. (2020): for the kernel
    and the bias of every layer, the 0, 25, 50, 75 and 100th percentiles,
    the mean and the standard deviation.

    A layer is a :obj:`'<name>.weight'` entry of two dimensions (linear) or
    more (convolution) and its :obj:`'<name>.bias'`; other entries (batch
    normalisation, buffers) are skipped. Layers are named as in
    :func:`~pyg_dnnmod.weights.dataset.layer_keys` so that they line up
    across architectures: convolutions counted from the input
    (:obj:`'conv1'`, ...), linear layers from the output (:obj:`'fc-1'` is
    the last), in the order of the state dict. The standard deviation is
    the population one.

    Args:
        state_dict (Mapping[str, torch.Tensor]): A model's
            :obj:`state_dict`.

    Returns:
        pandas.Series: Named :obj:`'{layer}/{kernel|bias}/{statistic}'`,
        statistics :obj:`p0`, :obj:`p25`, :obj:`p50`, :obj:`p75`,
        :obj:`p100`, :obj:`mean`, :obj:`std`; NaN for a layer without
        bias.

    Example:
        >>> lin = torch.nn.Linear(2, 2)
        >>> with torch.no_grad():
        ...     _ = lin.weight.copy_(torch.tensor([[1., 2.], [3., 4.]]))
        ...     _ = lin.bias.zero_()
        >>> stats = parameter_statistics(lin.state_dict())
        >>> float(stats['fc-1/kernel/p25']), float(stats['fc-1/kernel/mean'])
        (1.75, 2.5)
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"'state_dict' must be a mapping of tensors "
                        f"(got {type(state_dict).__name__})")
    layers = [(key[:-len('.weight')], value) for key, value in
              state_dict.items() if key.endswith('.weight')
              and isinstance(value, torch.Tensor) and value.dim() >= 2]
    if not layers and 'weight' in state_dict:
        layers = [('', state_dict['weight'])]
    num_linear = sum(w.dim() == 2 for _, w in layers)
    out: Dict[str, float] = {}
    conv = linear = 0
    for prefix, weight in layers:
        if weight.dim() == 2:
            name = f'fc-{num_linear - linear}'
            linear += 1
        else:
            conv += 1
            name = f'conv{conv}'
        bias = state_dict.get(f'{prefix}.bias' if prefix else 'bias')
        for part, tensor in (('kernel', weight), ('bias', bias)):
            if tensor is None:
                values = np.full(1, np.nan)
            else:
                values = tensor.detach().cpu().double().reshape(-1).numpy()
            if values.size == 0 or not np.isfinite(values).all():
                values = np.full(1, np.nan)
            for q, v in zip(_QUANTILES, np.percentile(values, _QUANTILES)):
                out[f'{name}/{part}/p{q}'] = float(v)
            out[f'{name}/{part}/mean'] = float(values.mean())
            out[f'{name}/{part}/std'] = float(values.std())
    return pd.Series(out, dtype=np.float64)


def _check_T(dataset: WeightGraphDataset, T: int) -> None:
    kept = dataset.params['epochs']
    if isinstance(T, bool) or not isinstance(T, int) or not 1 <= T <= kept:
        raise ValueError(f"'T' must be an integer in [1, {kept}] (the epochs "
                         f"the dataset kept; got {T!r})")


def graph_features(dataset: WeightGraphDataset, T: int,
                   statistics: Sequence[str] = SUMMARY_STATISTICS,
                   progress: bool = False) -> pd.DataFrame:
    r"""The temporal summaries of the weight graphs of the first :obj:`T`
    epochs, one row per network (see
    :meth:`~pyg_dnnmod.weights.WeightGraphDataset.summaries`).

    Args:
        dataset (WeightGraphDataset): The zoo's weight graphs.
        T (int): The number of epochs seen: the summaries cover epochs
            :math:`1, \ldots, T`.
        statistics (Sequence[str], optional): The node statistics.
            (default: weighted degree and eigenvector centrality)
        progress (bool, optional): Show progress. (default: :obj:`False`)

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = WeightGraphDataset(tiny_zoo(num_networks=2))
        >>> graph_features(dataset, 1, ['weighted_degree']).shape
        (2, 70)
    """
    _check_T(dataset, T)
    return dataset.summaries(T, statistics, progress)


def accuracy_features(dataset: WeightGraphDataset, T: int) -> pd.DataFrame:
    r"""The test accuracy and loss at epoch :obj:`T`, one row per network
    (an infinite loss of a diverged network becomes NaN).

    Args:
        dataset (WeightGraphDataset): The zoo's weight graphs.
        T (int): The epoch whose test accuracy and loss are read.

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = WeightGraphDataset(tiny_zoo(num_networks=2))
        >>> features = accuracy_features(dataset, 1)
        >>> features.columns.tolist(), len(features)
        (['test_acc', 'test_loss'], 2)
    """
    _check_T(dataset, T)
    rows = [dict(test_acc=float(d.test_acc[0, T]),
                 test_loss=float(d.test_loss[0, T])) for d in dataset]
    frame = pd.DataFrame(rows)
    # A diverged network's loss is inf or NaN; trees handle NaN only.
    return frame.replace([np.inf, -np.inf], np.nan)


def hyperparameter_features(dataset: WeightGraphDataset) -> pd.DataFrame:
    r"""The hyperparameters, one row per network: the width, the dropout,
    the batch size, :math:`\log_{10}` of the learning rate and of the weight
    decay, and one-hot architecture and optimizer (the seed is left
    out).

    Args:
        dataset (WeightGraphDataset): The zoo's weight graphs.

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = WeightGraphDataset(tiny_zoo(num_networks=2))
        >>> hyperparameter_features(dataset).columns.tolist()
        ... # doctest: +NORMALIZE_WHITESPACE
        ['width', 'log10_lr', 'dropout', 'log10_weight_decay', 'batch_size',
         'architecture=lenet5', 'optimizer=sgd', 'optimizer=momentum',
         'optimizer=nesterov']
    """
    hp = dataset.hparams
    frame = pd.DataFrame({
        'width': hp['width'].astype(float),
        'log10_lr': np.log10(hp['lr'].astype(float)),
        'dropout': hp['dropout'].astype(float),
        'log10_weight_decay': np.log10(hp['weight_decay'].astype(float)),
        'batch_size': hp['batch_size'].astype(float),
    })
    space = dataset.spec['space']
    for name, choices in (('architecture', space['architectures']),
                          ('optimizer', space['optimizers'])):
        for choice in choices:
            frame[f'{name}={choice}'] = (hp[name] == choice).astype(float)
    return frame


def weight_statistics_features(dataset: WeightGraphDataset,
                               T: int) -> pd.DataFrame:
    r"""The :func:`parameter_statistics` of every network's weights at
    epoch :obj:`T`, one row per network (NaN where an architecture lacks a
    layer).

    Args:
        dataset (WeightGraphDataset): The zoo's weight graphs.
        T (int): The epoch whose weights are read.

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = WeightGraphDataset(tiny_zoo(num_networks=2))
        >>> weight_statistics_features(dataset, 1).shape  # 5 layers x 2 x 7
        (2, 70)
    """
    _check_T(dataset, T)
    rows = [parameter_statistics(dataset.record(i)['state_dicts'][T])
            for i in range(len(dataset))]
    return pd.DataFrame(rows).reset_index(drop=True)


def feature_table(dataset: WeightGraphDataset, T: int,
                  feature_sets: Sequence[str] = FEATURE_SETS,
                  statistics: Sequence[str] = SUMMARY_STATISTICS,
                  progress: bool = False
                  ) -> Dict[str, Optional[pd.DataFrame]]:
    r"""The features of every set in :obj:`feature_sets` (see
    :data:`FEATURE_SETS`) at epoch :obj:`T`, one row per network;
    :obj:`None` for :obj:`'majority / mean'`. Column names of
    :obj:`'combined'` are prefixed by their set.

    Args:
        dataset (WeightGraphDataset): The zoo's weight graphs.
        T (int): The number of epochs seen.
        feature_sets (Sequence[str], optional): See :data:`FEATURE_SETS`.
            (default: all)
        statistics (Sequence[str], optional): The node statistics of the
            graph features. (default: weighted degree and eigenvector
            centrality)
        progress (bool, optional): Show progress. (default: :obj:`False`)

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = WeightGraphDataset(tiny_zoo(num_networks=2))
        >>> table = feature_table(dataset, 1, ['accuracy', 'majority / mean'])
        >>> {name: None if x is None else x.shape for name, x in table.items()}
        {'accuracy': (2, 2), 'majority / mean': None}
    """
    for name in feature_sets:
        if name not in FEATURE_SETS:
            raise ValueError(f"unknown feature set {name!r} in "
                             f"'feature_sets' (choose from "
                             f"{list(FEATURE_SETS)})")
    parts: Dict[str, Optional[pd.DataFrame]] = {}
    need = set(feature_sets)
    if 'combined' in need:
        need |= {'graph', 'accuracy', 'hyperparameters', 'weight_statistics'}
    if 'graph' in need:
        parts['graph'] = graph_features(dataset, T, statistics, progress)
    if 'accuracy' in need:
        parts['accuracy'] = accuracy_features(dataset, T)
    if 'hyperparameters' in need:
        parts['hyperparameters'] = hyperparameter_features(dataset)
    if 'weight_statistics' in need:
        parts['weight_statistics'] = weight_statistics_features(dataset, T)
    if 'combined' in need:
        parts['combined'] = pd.concat(
            [parts[k].add_prefix(f'{k}:') for k in
             ('graph', 'accuracy', 'hyperparameters', 'weight_statistics')],
            axis=1)
    parts['majority / mean'] = None
    return {name: parts[name] for name in feature_sets}
