r"""The report of the pruning experiments
(:func:`~pyg_dnnmod.experiments.pruning_experiment`,
:func:`~pyg_dnnmod.experiments.layer_removal_sweep`): the table of
:data:`PRUNING_COLUMNS`, one row per model, the curves of the original and
the pruned models on the original's layer axis, and the correlation between
the modularity gain of the removed layers and the accuracy change (Lu et
al., ECCV 2022, Table 1, Fig. 9 and Fig. 10b)."""
import dataclasses
import math
from typing import Any, Dict, List, Tuple

import pandas as pd
from torch import nn

from pyg_dnnmod.experiments._curves import modularity_curves, summarize
from pyg_dnnmod.pruning import complexity

#: The columns of the pruning table, in order.
PRUNING_COLUMNS = (
    'model', 'selection', 'removed', 'num_removed', 'modularity_gain',
    'params', 'MACs', 'FLOPs', 'params_reduction_%', 'FLOPs_reduction_%',
    'conv_linear_MACs', 'flop_counter_FLOPs', 'acc_original_%',
    'acc_before_%', 'acc_after_%', 'acc_change_%', 'epochs',
    'acc_change_std_%', 'num_seeds')

#: The label of the unpruned model's row and curve.
ORIGINAL = 'original'
#: The label of the control row: the unpruned model fine-tuned the same way.
FINETUNED_ORIGINAL = 'original_finetuned'

# The integer columns of the table.
_COUNTS = ('num_removed', 'params', 'MACs', 'FLOPs', 'conv_linear_MACs',
           'epochs', 'num_seeds')


@dataclasses.dataclass
class PruningResult:
    r"""What :func:`~pyg_dnnmod.experiments.pruning_experiment` and
    :func:`~pyg_dnnmod.experiments.layer_removal_sweep` return.

    Attributes:
        table (pandas.DataFrame): One row per model, the original first,
            columns :data:`PRUNING_COLUMNS`.
        curves (pandas.DataFrame): The modularity curves of every model
            (the output of :func:`~pyg_dnnmod.experiments.modularity_curves`
            with the model's label in :obj:`init`) plus
            :obj:`original_layer_index`, the position of each layer in the
            original model's curve.
        models (dict): The fine-tuned pruned models by label.
        histories (dict): Their fine-tuning histories by label.
        correlation (dict): :func:`gain_accuracy_correlation` of
            :obj:`table`.
    """
    table: pd.DataFrame
    curves: pd.DataFrame
    models: Dict[str, nn.Module]
    histories: Dict[str, pd.DataFrame]
    correlation: Dict[str, float]

    def summary(self) -> pd.DataFrame:
        r"""Mean, standard deviation and count of :obj:`curves` per model
        and layer (:func:`~pyg_dnnmod.experiments.summarize`), with
        :obj:`original_layer_index`."""
        out = summarize(self.curves)
        index = self.curves.drop_duplicates(['init', 'layer_index']).set_index(
            ['init', 'layer_index'])['original_layer_index']
        out['original_layer_index'] = [
            int(index.loc[(i, j)])
            for i, j in zip(out['init'], out['layer_index'])]
        return out


def gain_accuracy_correlation(table: pd.DataFrame) -> Dict[str, float]:
    r"""The correlation between the modularity gain of the removed layers
    and the accuracy change after fine-tuning, over the pruned models of a
    pruning table (the paper's Fig. 10b).

    Pearson's :math:`r` and Spearman's :math:`\rho` with their two-sided
    :math:`p`-values (:mod:`scipy.stats`); NaN with fewer than three pruned
    models or when either column is constant. The paper's claim is a
    negative correlation: the larger the gain of a removed layer, the more
    accuracy its removal costs.

    Args:
        table (pandas.DataFrame): A table of
            :func:`~pyg_dnnmod.experiments.pruning_experiment` or
            :func:`~pyg_dnnmod.experiments.layer_removal_sweep` (columns
            :obj:`modularity_gain` and :obj:`acc_change_%`); the row of the
            original is left out.

    Returns:
        dict: :obj:`pearson`, :obj:`pearson_p`, :obj:`spearman`,
        :obj:`spearman_p` and :obj:`n` (the number of pruned models).

    Example:
        >>> table = pd.DataFrame({'model': ['original', 'a', 'b', 'c'],
        ...                       'modularity_gain': [0.0, 0.01, 0.05, 0.1],
        ...                       'acc_change_%': [0.0, 0.1, -0.5, -2.0]})
        >>> c = gain_accuracy_correlation(table)
        >>> c['n'], round(c['spearman'], 3)
        (3, -1.0)
    """
    import numpy as np
    from scipy import stats

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"'table' must be a pandas.DataFrame "
                        f"(got {type(table).__name__})")
    missing = [c for c in ('modularity_gain', 'acc_change_%')
               if c not in table.columns]
    if missing:
        raise ValueError(f"'table' lacks the column(s) {missing} (got "
                         f"{table.columns.tolist()}); pass the table of "
                         f"pruning_experiment or layer_removal_sweep")
    rows = table
    if 'model' in rows.columns:
        rows = rows[~rows['model'].isin([ORIGINAL, FINETUNED_ORIGINAL])]
    if 'num_removed' in rows.columns:
        rows = rows[rows['num_removed'] > 0]
    rows = rows.dropna(subset=['modularity_gain', 'acc_change_%'])
    gain = rows['modularity_gain'].to_numpy(dtype=float)
    change = rows['acc_change_%'].to_numpy(dtype=float)
    out = dict(pearson=math.nan, pearson_p=math.nan, spearman=math.nan,
               spearman_p=math.nan, n=int(len(rows)))
    # max - min, since the std of equal floats can be a rounding error > 0.
    if len(rows) >= 3 and np.ptp(gain) > 0 and np.ptp(change) > 0:
        pearson = stats.pearsonr(gain, change)
        spearman = stats.spearmanr(gain, change)
        out.update(pearson=float(pearson[0]), pearson_p=float(pearson[1]),
                   spearman=float(spearman[0]),
                   spearman_p=float(spearman[1]))
    return out


def _seed_statistics(values: List[float]) -> Tuple[float, float]:
    r"""Mean and sample standard deviation (NaN for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, math.nan
    var = sum((v - mean)**2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(var)


def _seeds_row(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    r"""The first seed's row with the mean over the seeds' rows of
    :obj:`acc_after_%` and :obj:`acc_change_%`, and the spread of the
    latter."""
    row = dict(rows[0])
    mean, std = _seed_statistics([r['acc_change_%'] for r in rows])
    row['acc_after_%'] = sum(r['acc_after_%'] for r in rows) / len(rows)
    row.update({'acc_change_%': mean, 'acc_change_std_%': std},
               num_seeds=len(rows))
    return row


def _original_row(model: nn.Module, shape: Tuple[int, ...],
                  acc: float) -> Dict[str, Any]:
    r"""The row of the unpruned model, of test accuracy :obj:`acc`."""
    c = complexity(model, shape, cross_check=True)
    return dict(model=ORIGINAL, selection='', removed='', num_removed=0,
                modularity_gain=0.0, params=c['params'], MACs=c['MACs'],
                FLOPs=c['FLOPs'], **{'params_reduction_%': 0.0,
                                     'FLOPs_reduction_%': 0.0},
                conv_linear_MACs=c['conv_linear_MACs'],
                flop_counter_FLOPs=c['flop_counter_FLOPs'],
                **{'acc_original_%': acc, 'acc_before_%': acc,
                   'acc_after_%': acc, 'acc_change_%': 0.0,
                   'acc_change_std_%': 0.0}, epochs=0, num_seeds=0)


def _table(rows: List[Dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(PRUNING_COLUMNS))
    for column in _COUNTS:
        table[column] = table[column].astype('int64')
    return table


def _pruned_curves(models: Dict[str, nn.Module],
                   removed: Dict[str, List[str]], names: List[str],
                   original: pd.DataFrame,
                   curve_kwargs: Dict[str, Any]) -> pd.DataFrame:
    r"""The original's curves and those of :obj:`models` (computed with
    :obj:`curve_kwargs`), with :obj:`original_layer_index`."""
    frames = [original.assign(original_layer_index=original['layer_index'])]
    if models:
        df = modularity_curves(models, **curve_kwargs)
        position = {}
        for label, gone in removed.items():
            kept = [i for i, n in enumerate(names) if n not in set(gone)]
            position[label] = kept
        sizes = df.groupby('init')['layer_index'].max() + 1
        for label, size in sizes.items():
            assert size == len(position[label]), \
                'a pruned model keeps the order of its remaining layers'
        df['original_layer_index'] = [
            position[label][i]
            for label, i in zip(df['init'], df['layer_index'])]
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out.attrs = {}
    return out
