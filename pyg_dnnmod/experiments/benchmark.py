r"""The baselines of the population benchmark
(:class:`~pyg_dnnmod.weights.DNNDynamicsDataset`, ``pyg-dnnmod
benchmark``): every baseline on every split and seed, scored by the
dataset's :class:`~pyg_dnnmod.datasets.Evaluator`, and the leaderboard.

The baselines (:data:`BASELINES`) predict a network's final test accuracy
from what is known after its first :math:`T` epochs:

* :obj:`'mean'`: the mean final accuracy of the training part (the floor);
* :obj:`'hyperparameters'`: the hyperparameters (width, learning rate,
  dropout, weight decay, batch size, architecture, optimizer), with
  gradient-boosted trees;
* :obj:`'weight_statistics'`: the per-layer weight statistics at epoch
  :math:`T` of Unterthiner et al. (2020, `"Predicting Neural Network
  Accuracy from Weights" <https://arxiv.org/abs/2002.11448>`_), with
  gradient-boosted trees, as they do;
* :obj:`'graph_statistics'`: the temporal summary of the weight graphs'
  node statistics (weighted degree, eigenvector centrality) of Vahedian et
  al. (2021, `"Convolutional Neural Network Dynamics: A Graph Perspective"
  <https://arxiv.org/abs/2111.05410>`_), with gradient-boosted trees;
* :obj:`'gcn_gru'`: :class:`~pyg_dnnmod.nn.GraphGCNGRU` on the dynamic
  graph itself (:data:`GCN_GRU_SETTINGS`).

Every model is fitted on the split's training part only (the validation
part is scored too, for whoever tunes a model; these baselines have fixed
settings and do not read it). The trees are scikit-learn's histogram
gradient boosting with the settings of
:func:`~pyg_dnnmod.experiments.cross_validate`.
"""
import math
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Data

from pyg_dnnmod.weights.dynamics_dataset import SPLITS, DNNDynamicsDataset
from pyg_dnnmod.datasets.evaluator import EVALUATOR_METRICS
from pyg_dnnmod.experiments.final_accuracy_cv import _clean, _fit_predict
from pyg_dnnmod.experiments.final_accuracy_features import (
    graph_features,
    hyperparameter_features,
    weight_statistics_features,
)
from pyg_dnnmod.names import BENCHMARK_BASELINES

__all__ = ['BASELINES', 'BASELINE_TITLES', 'GCN_GRU_SETTINGS',
           'benchmark_features', 'predict_baseline', 'run_benchmark',
           'leaderboard', 'leaderboard_markdown']

#: The baselines of :func:`run_benchmark`, in table order.
BASELINES = BENCHMARK_BASELINES

#: What each baseline is, for tables and figures.
BASELINE_TITLES = {
    'mean': 'train mean',
    'hyperparameters': 'hyperparameters + GBT',
    'weight_statistics': 'weight statistics + GBT (Unterthiner et al.)',
    'graph_statistics': 'graph statistics + GBT (Vahedian et al.)',
    'gcn_gru': 'GCN-GRU on the dynamic graph',
}

#: The settings of the :obj:`'gcn_gru'` baseline: a one-layer
#: :class:`~pyg_dnnmod.nn.GraphGCNGRU` of :obj:`hidden_channels`, trained
#: with Adam (:obj:`lr`, :obj:`weight_decay`) on the mean squared error of
#: the standardised accuracy for a fixed :obj:`epochs` over the training
#: part in shuffled mini-batches of :obj:`batch_size` graphs; node features
#: standardised with the training part's mean and deviation.
GCN_GRU_SETTINGS = dict(hidden_channels=16, epochs=60, batch_size=16,
                        lr=1e-2, weight_decay=1e-4)

_PARTS = ('valid', 'test')


def _check_names(values: Sequence[str], allowed: Sequence[str],
                 name: str) -> List[str]:
    if isinstance(values, str) or not hasattr(values, '__iter__'):
        raise TypeError(f"'{name}' must be a sequence of names "
                        f"(got {values!r})")
    values = list(values)
    if not values:
        raise ValueError(f"'{name}' must not be empty (got {values!r})")
    for value in values:
        if value not in allowed:
            raise ValueError(f"'{name}' holds {value!r}; choose from "
                             f"{tuple(allowed)}")
    return values


def _check_dataset(dataset: Any) -> None:
    if not isinstance(dataset, DNNDynamicsDataset):
        raise TypeError(f"'dataset' must be a DNNDynamicsDataset "
                        f"(got {type(dataset).__name__})")


def _gcn_gru_inputs(dataset: DNNDynamicsDataset) -> List[Data]:
    r"""The propagated node features of every item (the first GCN layer's
    propagation, :func:`~pyg_dnnmod.nn.propagate_features`), computed once;
    a non-finite weight (a diverged network) counts as 0, as in the node
    features."""
    from pyg_dnnmod.nn import propagate_features
    inputs = []
    for i in range(len(dataset)):
        item = dataset[i]
        weight = torch.nan_to_num(item.edge_weight.float(), nan=0.0,
                                  posinf=0.0, neginf=0.0)
        x = propagate_features(item.x, item.edge_index, weight)
        inputs.append(Data(x=x, num_nodes=item.num_nodes))
    return inputs


def benchmark_features(dataset: DNNDynamicsDataset,
                       baselines: Sequence[str] = BASELINES,
                       progress: bool = False) -> Dict[str, Any]:
    r"""What each baseline reads, one entry per network: a
    :class:`pandas.DataFrame` of features (:obj:`None` for :obj:`'mean'`),
    or for :obj:`'gcn_gru'` a list of graphs with the propagated node
    features. They do not depend on the split, so :func:`run_benchmark`
    computes them once.

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = DNNDynamicsDataset(tiny_zoo(num_networks=8), T=1)
        >>> features = benchmark_features(dataset, ['mean', 'hyperparameters'])
        >>> features['mean'], features['hyperparameters'].shape
        (None, (8, 9))
    """
    _check_dataset(dataset)
    baselines = _check_names(baselines, BASELINES, 'baselines')
    graphs, T = dataset.weight_graphs, dataset.T
    out: Dict[str, Any] = {}
    for name in baselines:
        if name == 'mean':
            out[name] = None
        elif name == 'hyperparameters':
            out[name] = hyperparameter_features(graphs)
        elif name == 'weight_statistics':
            out[name] = weight_statistics_features(graphs, T)
        elif name == 'graph_statistics':
            out[name] = graph_features(graphs, T, progress=progress)
        else:
            out[name] = _gcn_gru_inputs(dataset)
    return out


def _fit_predict_gcn_gru(inputs: List[Data], y: np.ndarray,
                         train: np.ndarray, evaluate: np.ndarray,
                         seed: int, settings: Dict[str, Any]) -> np.ndarray:
    from torch_geometric.data import Batch
    from torch_geometric.loader import DataLoader

    from pyg_dnnmod.nn import GraphGCNGRU
    from pyg_dnnmod.training import fixed_threads

    stacked = torch.cat([inputs[i].x for i in train]).flatten(0, 1)
    x_mean, x_std = stacked.mean(0), stacked.std(0).clamp_min(1e-6)
    y_mean, y_std = float(y[train].mean()), float(y[train].std()) or 1.0

    def item(i: int) -> Data:
        return Data(x=(inputs[i].x - x_mean) / x_std,
                    y=torch.tensor([(y[i] - y_mean) / y_std],
                                   dtype=torch.float),
                    num_nodes=inputs[i].num_nodes)

    no_edges = torch.empty(2, 0, dtype=torch.long)
    # One thread: the result does not depend on the machine's cores.
    with fixed_threads(1), torch.random.fork_rng():
        torch.manual_seed(seed)
        model = GraphGCNGRU(stacked.size(-1), settings['hidden_channels'])
        optimizer = torch.optim.Adam(model.parameters(), lr=settings['lr'],
                                     weight_decay=settings['weight_decay'])
        loader = DataLoader([item(i) for i in train],
                            batch_size=settings['batch_size'], shuffle=True,
                            generator=torch.Generator().manual_seed(seed))
        model.train()
        for _ in range(settings['epochs']):
            for batch in loader:
                optimizer.zero_grad()
                out = model(batch.x, no_edges, batch=batch.batch,
                            propagated=True).view(-1)
                torch.nn.functional.mse_loss(out, batch.y).backward()
                optimizer.step()
        model.eval()
        batch = Batch.from_data_list([item(i) for i in evaluate])
        with torch.no_grad():
            pred = model(batch.x, no_edges, batch=batch.batch,
                         propagated=True).view(-1)
    return pred.double().numpy() * y_std + y_mean


def predict_baseline(dataset: DNNDynamicsDataset, baseline: str,
                     split: str = 'seed', seed: int = 0,
                     features: Optional[Dict[str, Any]] = None,
                     gcn_gru: Optional[Dict[str, Any]] = None
                     ) -> pd.DataFrame:
    r"""The predictions of one baseline, fitted on the training part of
    one split, for the networks of its validation and test parts.

    Args:
        dataset (DNNDynamicsDataset): The benchmark.
        baseline (str): One of :data:`BASELINES`.
        split (str, optional): One of
            :data:`~pyg_dnnmod.datasets.SPLITS`. (default: :obj:`'seed'`)
        seed (int, optional): The seed of the split's random parts (see
            :meth:`~pyg_dnnmod.weights.DNNDynamicsDataset.get_idx_split`)
            and of the model. (default: :obj:`0`)
        features (dict, optional): :func:`benchmark_features`, computed
            once for many calls. (default: :obj:`None`, computed here)
        gcn_gru (dict, optional): Settings of the :obj:`'gcn_gru'`
            baseline over :data:`GCN_GRU_SETTINGS`. (default: :obj:`None`)

    Returns:
        pandas.DataFrame: One row per predicted network: :obj:`item`,
        :obj:`part` (:obj:`'valid'` or :obj:`'test'`), :obj:`net_index`,
        :obj:`width`, :obj:`y_true`, :obj:`y_pred`, and their bins at the
        dataset's edges, :obj:`bin_true` (the item's :obj:`y_bin`) and
        :obj:`bin_pred`.

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = DNNDynamicsDataset(tiny_zoo(num_networks=8), T=1)
        >>> pred = predict_baseline(dataset, 'mean')
        >>> pred['part'].tolist()
        ['valid', 'valid', 'test', 'test']
        >>> bool((pred['y_pred'] == pred['y_pred'][0]).all())
        True
    """
    _check_dataset(dataset)
    _check_names([baseline], BASELINES, 'baseline')
    settings = dict(GCN_GRU_SETTINGS, **(gcn_gru or {}))
    unknown = sorted(set(settings) - set(GCN_GRU_SETTINGS))
    if unknown:
        raise ValueError(f"'gcn_gru' holds unknown settings {unknown}; "
                         f"choose from {sorted(GCN_GRU_SETTINGS)}")
    if features is None or baseline not in features:
        features = benchmark_features(dataset, [baseline])
    parts = dataset.get_idx_split(split, seed)
    train = parts['train'].numpy()
    evaluate = np.concatenate([parts[p].numpy() for p in _PARTS])
    hp = dataset.hparams
    y = hp['final_test_acc'].to_numpy(dtype=np.float64)
    if baseline == 'mean':
        y_pred = np.full(len(evaluate), y[train].mean())
    elif baseline == 'gcn_gru':
        y_pred = _fit_predict_gcn_gru(features[baseline], y, train,
                                      evaluate, seed, settings)
    else:
        x = _clean(features[baseline])
        y_pred = _fit_predict('gbt', 'regression', seed, x[train], y[train],
                              x[evaluate])
    edges = np.asarray(dataset.bin_edges)
    return pd.DataFrame(dict(
        item=evaluate,
        part=np.repeat(list(_PARTS), [len(parts[p]) for p in _PARTS]),
        net_index=hp['index'].to_numpy()[evaluate],
        width=hp['width'].to_numpy(dtype=np.float64)[evaluate],
        y_true=y[evaluate], y_pred=y_pred,
        bin_true=np.searchsorted(edges, y[evaluate], side='right'),
        bin_pred=np.searchsorted(edges, y_pred, side='right')))


def run_benchmark(dataset: DNNDynamicsDataset,
                  splits: Sequence[str] = SPLITS,
                  baselines: Sequence[str] = BASELINES,
                  seeds: Sequence[int] = (0, 1, 2),
                  gcn_gru: Optional[Dict[str, Any]] = None,
                  progress: bool = False) -> pd.DataFrame:
    r"""Every baseline on every split and seed, scored by the dataset's
    :meth:`~pyg_dnnmod.weights.DNNDynamicsDataset.evaluator` (:math:`R^2`,
    Kendall's :math:`\tau`, bin accuracy at the dataset's bin edges, top-10
    % recall; :data:`~pyg_dnnmod.datasets.EVALUATOR_METRICS`).

    Seed :math:`s` draws the random parts of the split (the whole
    :obj:`'seed'` split; the validation part of the :obj:`'width'` split,
    whose test part is fixed) and seeds the model, so the spread over seeds
    is that of the split and of the model's randomness together. The
    :obj:`'mean'` baseline predicts one value: its Kendall :math:`\tau` is
    undefined (NaN) and its top recall is that of the items' order.

    Args:
        dataset (DNNDynamicsDataset): The benchmark.
        splits (Sequence[str], optional): Splits of
            :data:`~pyg_dnnmod.datasets.SPLITS`. (default: all)
        baselines (Sequence[str], optional): Of :data:`BASELINES`.
            (default: all)
        seeds (Sequence[int], optional): The seeds.
            (default: :obj:`(0, 1, 2)`)
        gcn_gru (dict, optional): Settings over :data:`GCN_GRU_SETTINGS`.
            (default: :obj:`None`)
        progress (bool, optional): Show progress. (default: :obj:`False`)

    Returns:
        pandas.DataFrame: One row per baseline, split and seed:
        :obj:`baseline`, :obj:`split`, :obj:`seed`, :obj:`n_train`,
        :obj:`n_valid`, :obj:`n_test`, the four metrics on the test part,
        the same on the validation part (:obj:`valid_r2`, ...), and
        :obj:`seconds` (fitting and predicting).

    Example:
        >>> from pyg_dnnmod.weights import tiny_zoo
        >>> dataset = DNNDynamicsDataset(tiny_zoo(num_networks=8), T=1)
        >>> results = run_benchmark(dataset, ['seed'], ['mean'], seeds=[0, 1])
        >>> results[['baseline', 'split', 'seed', 'n_test']].values.tolist()
        [['mean', 'seed', 0, 2], ['mean', 'seed', 1, 2]]
    """
    from tqdm import tqdm
    _check_dataset(dataset)
    splits = _check_names(splits, SPLITS, 'splits')
    baselines = _check_names(baselines, BASELINES, 'baselines')
    given = seeds
    seeds = [] if isinstance(seeds, (str, bytes)) or \
        not hasattr(seeds, '__iter__') else list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(
            s, (int, np.integer)) or s < 0 for s in seeds):
        raise ValueError(f"'seeds' must be a non-empty sequence of integers "
                         f">= 0 (got {given!r})")
    seeds = [int(s) for s in seeds]
    for split in splits:  # a split that cannot be made fails before work
        dataset.get_idx_split(split, seeds[0])
    features = benchmark_features(dataset, baselines, progress)
    evaluator = dataset.evaluator()
    rows = []
    total = len(splits) * len(seeds) * len(baselines)
    with tqdm(total=total, disable=not progress, desc='benchmark',
              unit='fit') as bar:
        for split in splits:
            for seed in seeds:
                for baseline in baselines:
                    start = time.perf_counter()
                    pred = predict_baseline(dataset, baseline, split, seed,
                                            features, gcn_gru)
                    seconds = time.perf_counter() - start
                    sizes = {p: len(v) for p, v in
                             dataset.get_idx_split(split, seed).items()}
                    row: Dict[str, Any] = dict(
                        baseline=baseline, split=split, seed=seed,
                        n_train=sizes['train'], n_valid=sizes['valid'],
                        n_test=sizes['test'])
                    for part, prefix in (('test', ''), ('valid', 'valid_')):
                        sel = pred[pred['part'] == part]
                        scores = evaluator.eval(sel['y_true'], sel['y_pred'])
                        row.update({prefix + k: v for k, v in scores.items()})
                    row['seconds'] = seconds
                    rows.append(row)
                    bar.update(1)
    return pd.DataFrame(rows)


def leaderboard(results: pd.DataFrame) -> pd.DataFrame:
    r"""The mean and the standard deviation over seeds (population,
    :math:`\sqrt{\frac{1}{n} \sum_s (m_s - \bar{m})^2}`) of every test
    metric, per baseline and split, in the order of :data:`BASELINES`;
    a metric undefined for a seed (NaN) is left out of its mean, and a
    metric undefined for every seed stays NaN.

    Args:
        results (pandas.DataFrame): :func:`run_benchmark`'s rows.

    Returns:
        pandas.DataFrame: :obj:`baseline`, :obj:`split`, :obj:`seeds`,
        :obj:`n_train`, :obj:`n_test` (means over seeds), and
        :obj:`{metric}_mean`, :obj:`{metric}_std` for every metric of
        :data:`~pyg_dnnmod.datasets.EVALUATOR_METRICS`.

    Example:
        >>> results = pd.DataFrame(dict(
        ...     baseline='mean', split='seed', seed=[0, 1], n_train=6,
        ...     n_test=2, r2=[0.1, 0.3], kendall_tau=float('nan'),
        ...     bin_accuracy=[0.5, 1.0], top_recall=[0.0, 1.0]))
        >>> board = leaderboard(results)
        >>> board[['r2_mean', 'r2_std', 'bin_accuracy_mean']].round(4
        ...     ).values.tolist()
        [[0.2, 0.1, 0.75]]
    """
    columns = ['baseline', 'split', 'seed', 'n_train', 'n_test',
               *EVALUATOR_METRICS]
    missing = [c for c in columns if c not in getattr(results, 'columns', ())]
    if not isinstance(results, pd.DataFrame) or missing or len(results) == 0:
        raise ValueError(f"'results' must be the non-empty rows of "
                         f"run_benchmark (missing columns {missing})")
    rows = []
    order = {name: i for i, name in enumerate(BASELINES)}
    for (baseline, split), group in results.groupby(['baseline', 'split'],
                                                    sort=False):
        row: Dict[str, Any] = dict(
            baseline=baseline, split=split, seeds=int(group['seed'].nunique()),
            n_train=float(group['n_train'].mean()),
            n_test=float(group['n_test'].mean()))
        for metric in EVALUATOR_METRICS:
            values = group[metric].to_numpy(dtype=np.float64)
            values = values[np.isfinite(values)]
            row[f'{metric}_mean'] = float(values.mean()) if values.size \
                else math.nan
            row[f'{metric}_std'] = float(values.std()) if values.size \
                else math.nan
        rows.append(row)
    board = pd.DataFrame(rows)
    board['_order'] = board['baseline'].map(order).fillna(len(order))
    board = board.sort_values(['split', '_order'], kind='stable')
    return board.drop(columns='_order').reset_index(drop=True)


_METRIC_TITLES = dict(r2='R²', kendall_tau='Kendall τ',
                      bin_accuracy='bin accuracy',
                      top_recall='top-10 % recall')


def leaderboard_markdown(board: pd.DataFrame, digits: int = 3) -> str:
    r"""The :func:`leaderboard` as a Markdown table, one row per split and
    baseline, every metric as :obj:`mean ± std` over seeds (:obj:`n/a`
    where undefined).

    Example:
        >>> board = pd.DataFrame(dict(
        ...     baseline=['mean'], split=['seed'], seeds=[3], n_train=[60.0],
        ...     n_test=[20.0], r2_mean=[-0.01], r2_std=[0.02],
        ...     kendall_tau_mean=[np.nan], kendall_tau_std=[np.nan],
        ...     bin_accuracy_mean=[0.4], bin_accuracy_std=[0.0],
        ...     top_recall_mean=[0.5], top_recall_std=[0.5]))
        >>> print(leaderboard_markdown(board, digits=2))
        ... # doctest: +NORMALIZE_WHITESPACE
        | split | baseline | train / test | R² | Kendall τ | bin accuracy |
          top-10 % recall |
        |---|---|---|---|---|---|---|
        | seed | train mean | 60 / 20 | -0.01 ± 0.02 | n/a | 0.40 ± 0.00 |
          0.50 ± 0.50 |
    """
    if not isinstance(board, pd.DataFrame):
        raise TypeError(f"'board' must be a pandas.DataFrame "
                        f"(got {type(board).__name__})")

    def cell(mean: float, std: float) -> str:
        if not np.isfinite(mean):
            return 'n/a'
        return f'{mean:.{digits}f} ± {std:.{digits}f}'

    head = ['split', 'baseline', 'train / test',
            *(_METRIC_TITLES[m] for m in EVALUATOR_METRICS)]
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '---|' * len(head)]
    for _, row in board.iterrows():
        cells = [str(row['split']),
                 BASELINE_TITLES.get(row['baseline'], str(row['baseline'])),
                 f"{row['n_train']:.0f} / {row['n_test']:.0f}"]
        cells += [cell(row[f'{m}_mean'], row[f'{m}_std'])
                  for m in EVALUATOR_METRICS]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
