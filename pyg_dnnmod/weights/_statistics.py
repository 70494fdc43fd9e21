r"""Per-node statistics of a weight graph and their per-layer summaries.

Vahedian et al. (2021) describe every weight-graph snapshot by the
distribution of simple node statistics (weighted degree, eigenvector
centrality) and summarise it by its median, mean, standard deviation,
skewness and kurtosis, per layer and for the whole network; the summaries of
the first few epochs are the features that predict the final accuracy.
:func:`node_statistics` gives the per-node table, :func:`aggregate_statistics`
the summaries.
"""
from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import Data

from pyg_dnnmod.names import NODE_STATISTICS
from pyg_dnnmod.weights._centrality import (
    EIGENVECTOR_METHODS,
    eigenvector_centrality,
    pagerank,
    weighted_degree,
)

# NODE_STATISTICS, the statistics node_statistics knows, comes from
# pyg_dnnmod.names (the command line offers them without torch).

#: The summaries :func:`aggregate_statistics` computes, in column order.
AGGREGATES = ('median', 'mean', 'std', 'skewness', 'kurtosis')


def node_statistics(data: Data,
                    statistics: Sequence[str] = NODE_STATISTICS,
                    max_iter: int = 1000,
                    tol: float = 1e-6,
                    method: str = 'auto') -> pd.DataFrame:
    r"""One row per node of a (weight) graph with its statistics.

    :obj:`'weighted_degree'` is :func:`weighted_degree` on the edge weights
    as they are (a signed graph gives signed strengths);
    :obj:`'eigenvector_centrality'` and :obj:`'pagerank'` are
    :func:`eigenvector_centrality` and :func:`pagerank` with networkx's
    defaults except :obj:`max_iter`, computed on the weight magnitudes
    :math:`|w|` (they need non-negative weights), so a signed and an
    unsigned graph of one model give the same centralities. The
    eigenvector centrality is solved exactly by default
    (:obj:`method='auto'`): networkx's power iteration
    (:obj:`method='power'`) converges too slowly on the weight graphs of
    deep ResNets (ResNet-56, ResNet-110), and where its loose stopping rule
    is met it can still be :math:`10^{-4}` away from the eigenvector.

    Args:
        data (torch_geometric.data.Data): The graph, with :obj:`edge_index`
            stored in both directions and optionally :obj:`edge_weight`; the
            :obj:`layer`, :obj:`pos_in_layer` and :obj:`layer_names` of
            :func:`weight_graph`, when present, become columns.
        statistics (Sequence[str], optional): Which of
            :obj:`'weighted_degree'`, :obj:`'eigenvector_centrality'` and
            :obj:`'pagerank'` to compute. (default: all three)
        max_iter (int, optional): The most power iterations of PageRank
            and of the eigenvector centrality with :obj:`method='power'`.
            (default: :obj:`1000`)
        tol (float, optional): Their tolerance per node.
            (default: :obj:`1e-6`)
        method (str, optional): The solver of the eigenvector centrality,
            :obj:`'auto'`, :obj:`'arpack'` or :obj:`'power'` (see
            :func:`eigenvector_centrality`). (default: :obj:`'auto'`)

    Returns:
        pandas.DataFrame: Indexed by node id (name :obj:`'node'`), with
        columns :obj:`layer`, :obj:`layer_name` and :obj:`pos_in_layer`
        where the graph has them, then one float64 column per statistic.

    Example:
        >>> data = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]),
        ...             edge_weight=torch.tensor([2., 2., 1., 1.]),
        ...             layer=torch.tensor([0, 1, 2]), num_nodes=3,
        ...             layer_names=['a', 'b', 'c'])
        >>> table = node_statistics(data)
        >>> list(table.columns)  # doctest: +NORMALIZE_WHITESPACE
        ['layer', 'layer_name', 'weighted_degree', 'eigenvector_centrality',
         'pagerank']
        >>> table['weighted_degree'].tolist()
        [2.0, 3.0, 1.0]
    """
    if not isinstance(data, Data):
        raise TypeError(f"'data' must be a torch_geometric.data.Data "
                        f"(got {type(data).__name__})")
    if isinstance(statistics, str):
        statistics = [statistics]
    statistics = list(statistics)
    for stat in statistics:
        if stat not in NODE_STATISTICS:
            raise ValueError(f"unknown statistic {stat!r} in 'statistics' "
                             f"(choose from {list(NODE_STATISTICS)})")
    if not statistics:
        raise ValueError("'statistics' must name at least one statistic "
                         "(got an empty selection)")
    if method not in EIGENVECTOR_METHODS:
        raise ValueError(f"'method' must be one of "
                         f"{list(EIGENVECTOR_METHODS)} (got {method!r})")
    if data.edge_index is None:
        raise ValueError("'data' has no 'edge_index'")
    num_nodes = data.num_nodes
    edge_index = data.edge_index.cpu()
    edge_weight = getattr(data, 'edge_weight', None)
    if edge_weight is not None:
        edge_weight = edge_weight.detach().cpu().double()
    magnitude = None if edge_weight is None else edge_weight.abs()

    frame = {}
    layer = getattr(data, 'layer', None)
    if isinstance(layer, torch.Tensor) and layer.numel() == num_nodes:
        frame['layer'] = layer.cpu().numpy()
        names = getattr(data, 'layer_names', None)
        if names is not None:
            frame['layer_name'] = np.asarray(names, dtype=object)[
                frame['layer']]
    pos = getattr(data, 'pos_in_layer', None)
    if isinstance(pos, torch.Tensor) and pos.numel() == num_nodes:
        frame['pos_in_layer'] = pos.cpu().numpy()
    for stat in statistics:
        if stat == 'weighted_degree':
            value = weighted_degree(edge_index, edge_weight, num_nodes)
        elif stat == 'eigenvector_centrality':
            value = eigenvector_centrality(edge_index, magnitude, num_nodes,
                                           max_iter=max_iter, tol=tol,
                                           method=method)
        else:
            value = pagerank(edge_index, magnitude, num_nodes,
                             max_iter=max_iter, tol=tol)
        frame[stat] = value.double().numpy()
    out = pd.DataFrame(frame, index=pd.RangeIndex(num_nodes, name='node'))
    return out


def _moments(values: np.ndarray) -> pd.Series:
    r"""Median, mean, population std, and scipy's default (biased, Fisher)
    skewness and kurtosis; NaN for the shape statistics of constant data."""
    x = np.asarray(values, dtype=np.float64)
    mean = x.mean()
    d = x - mean
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    # scipy's test for constant data: relative to the mean, not exactly 0.
    eps = np.finfo(np.float64).eps
    constant = m2 <= (eps * mean)**2
    skew = np.nan if constant else m3 / m2**1.5
    kurt = np.nan if constant else m4 / m2**2 - 3.0
    return pd.Series([np.median(x), mean, np.sqrt(m2), skew, kurt],
                     index=list(AGGREGATES))


def aggregate_statistics(data: Union[Data, pd.DataFrame],
                         by: Optional[str] = 'layer',
                         statistics: Sequence[str] = NODE_STATISTICS,
                         **kwargs) -> pd.DataFrame:
    r"""Median, mean, standard deviation, skewness and kurtosis of every
    node statistic, per layer and over the whole graph.

    For the :math:`n` values :math:`x_i` of a group, with mean
    :math:`\bar{x}` and central moments :math:`m_k = \frac{1}{n} \sum_i
    (x_i - \bar{x})^k`, the standard deviation is the population one
    :math:`\sqrt{m_2}` (:obj:`ddof=0`), the skewness :math:`m_3 /
    m_2^{3/2}` and the kurtosis the excess (Fisher) kurtosis :math:`m_4 /
    m_2^2 - 3`: the biased estimators, as :func:`scipy.stats.skew` and
    :func:`scipy.stats.kurtosis` compute them by default
    (:obj:`bias=True`). A group of identical values has NaN skewness and
    kurtosis, as in scipy.

    Args:
        data (torch_geometric.data.Data or pandas.DataFrame): A graph (its
            statistics are computed by :func:`node_statistics`) or the
            table :func:`node_statistics` returned.
        by (str, optional): The column to group the nodes by, or
            :obj:`None` for the whole graph only. (default: :obj:`'layer'`)
        statistics (Sequence[str], optional): The node statistics to
            compute when :obj:`data` is a graph. (default: all three)
        **kwargs: Passed on to :func:`node_statistics` (:obj:`max_iter`,
            :obj:`tol`, :obj:`method`).

    Returns:
        pandas.DataFrame: One row per group, labelled by the layer name when
        grouping by :obj:`'layer'` of a graph that has names, then a row
        :obj:`'all'` for the whole graph; columns are a
        :class:`~pandas.MultiIndex` of (statistic, summary).

    Example:
        >>> data = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]),
        ...             edge_weight=torch.tensor([2., 2., 1., 1.]),
        ...             layer=torch.tensor([0, 1, 1]), num_nodes=3,
        ...             layer_names=['in', 'out'])
        >>> agg = aggregate_statistics(data, statistics=['weighted_degree'])
        >>> agg['weighted_degree'][['median', 'mean', 'std']]
             median  mean       std
        in      2.0   2.0  0.000000
        out     2.0   2.0  1.000000
        all     2.0   2.0  0.816497
    """
    if isinstance(data, Data):
        table = node_statistics(data, statistics, **kwargs)
    elif isinstance(data, pd.DataFrame):
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)} for a "
                            f"DataFrame input")
        table = data
    else:
        raise TypeError(f"'data' must be a torch_geometric.data.Data or a "
                        f"pandas.DataFrame (got {type(data).__name__})")
    stats = [c for c in table.columns if c in NODE_STATISTICS]
    if not stats:
        raise ValueError(f"'data' has no statistic columns (expected some "
                         f"of {list(NODE_STATISTICS)})")
    if len(table) == 0:
        raise ValueError("'data' has no nodes")
    if by is not None and by not in table.columns:
        raise ValueError(f"'by' must be a column of the node table "
                         f"(got {by!r}; columns: {list(table.columns)})")

    def summarise(frame: pd.DataFrame) -> pd.Series:
        return pd.concat({s: _moments(frame[s].to_numpy()) for s in stats})

    rows, labels = [], []
    if by is not None:
        for key, group in table.groupby(by, sort=True):
            rows.append(summarise(group))
            if by == 'layer' and 'layer_name' in table.columns:
                labels.append(group['layer_name'].iloc[0])
            else:
                labels.append(key)
    rows.append(summarise(table))
    labels.append('all')
    return pd.DataFrame(rows, index=pd.Index(labels, dtype=object))
