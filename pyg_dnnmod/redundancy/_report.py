r"""One table of every block's redundancy scores, label-free and
label-aware, side by side: which blocks of a transformer each score would
remove, and how far the scores agree.

A block :math:`\ell` turns the residual stream :math:`\mathbf{h}_\ell`
into :math:`\mathbf{h}_{\ell + 1}` (:func:`scan_blocks` reads all
:math:`L + 1` states in one pass per batch). Per block:

* label-free, per token: Block Influence and the angular distance
  (:mod:`~pyg_dnnmod.redundancy.block_influence`,
  :func:`~pyg_dnnmod.redundancy.angular_distance`), and the angular
  distance of the run of :obj:`budget` blocks starting there (Gromov et
  al.'s choice of what to remove);
* label-free, per sample (tokens pooled, :func:`~pyg_dnnmod.features.
  pool_tokens`): the mutual k-NN alignment and linear CKA between the
  pooled states before and after;
* label-aware, per sample: the modularity of the class partition of the
  k-NN snapshot before and after (Lu et al., ECCV 2022) and its gain, and
  the k-NN label overlap (the fraction of each sample's :math:`k`
  neighbours of its own class) and its gain.

:data:`REDUNDANCY_SCORES` says which end of each score is redundant; the
report's :obj:`remove_<score>` columns mark the :obj:`budget` blocks each
would remove, and :func:`score_agreement` ranks the scores against each
other (Spearman).
"""
import math
from typing import Any, NamedTuple, Optional, Union

import pandas as pd
import torch
from torch import Tensor, nn

from pyg_dnnmod.features import (
    TOKEN_POOLINGS,
    TokenInputs,
    iter_block_states,
    pool_tokens,
    transformer_blocks,
)
from pyg_dnnmod.names import (
    BASELINE_CHOICES,
    REDUNDANCY_SCORE_NAMES,
    check_registry,
)
from pyg_dnnmod.redundancy._scores import token_cosine
from pyg_dnnmod.similarity import knn_indices, linear_cka, mutual_knn
from pyg_dnnmod.snapshots import LayerGraphs
from pyg_dnnmod.utils import check_labels

#: Every block score of the report: its column and the sign that makes
#: larger values more redundant (a block that changes little: low Block
#: Influence, low angular distance, high alignment, low label gain).
REDUNDANCY_SCORES: dict[str, tuple[str, int]] = {
    'block_influence': ('block_influence', -1),
    'angular_distance': ('run_angular_distance', -1),
    'mutual_knn': ('mutual_knn', 1),
    'cka': ('cka', 1),
    'modularity_gain': ('modularity_gain', -1),
    'knn_overlap_gain': ('knn_overlap_gain', -1),
}
check_registry(REDUNDANCY_SCORES, REDUNDANCY_SCORE_NAMES,
               'REDUNDANCY_SCORES')
#: Scores that need labels.
LABEL_SCORES = ('modularity_gain', 'knn_overlap_gain')
# BASELINE_CHOICES (from pyg_dnnmod.names): the last blocks (the reverse
# order of Lu et al.'s LLM pruning study) and a seeded random draw.


class BlockScan(NamedTuple):
    r"""What one pass over the data says about every block: the names of
    the :math:`L` blocks and of their container, the mean token cosine and
    the mean angular distance between every two of the :math:`L + 1`
    states (:math:`[L + 1, L + 1]`, float64), the :math:`L + 1` pooled
    states :math:`[N, D]`, the pooling and the number of real tokens."""
    path: str
    names: list[str]
    cosine: Tensor
    angle: Tensor
    pooled: list[Tensor]
    pooling: str
    num_tokens: int

    @property
    def state_names(self) -> list[str]:
        r"""The names of the states: :obj:`"embeddings"`, then each
        block's (its output)."""
        return ['embeddings'] + list(self.names)

    def layer_graphs(self, labels: Tensor, k: int = 3,
                     **kwargs: Any) -> LayerGraphs:
        r"""The k-NN snapshots of the pooled states, one per state, as
        :class:`~pyg_dnnmod.snapshots.LayerGraphs` (further arguments go to
        :meth:`~pyg_dnnmod.snapshots.LayerGraphs.from_features`)."""
        return LayerGraphs.from_features(
            list(zip(self.state_names, self.pooled)), labels, k=k,
            meta={'path': self.path, 'pooling': self.pooling}, **kwargs)


def scan_blocks(
    model: nn.Module,
    inputs: TokenInputs,
    attention_mask: Optional[Tensor] = None,
    pooling: str = 'mean',
    batch_size: int = 32,
    device: Optional[Union[str, torch.device]] = None,
    progress: bool = False,
) -> BlockScan:
    r"""Reads the residual stream around every block of a transformer
    (:func:`~pyg_dnnmod.features.iter_block_states`) and keeps what the
    scores need: the mean token cosine and angular distance between every
    two states over the real tokens, and every state pooled per sample.
    Memory: one batch's states plus :math:`N \cdot D \cdot (L + 1)`
    pooled floats; the token sums are :math:`O(L^2)`.

    Args:
        model (torch.nn.Module): A transformer (see
            :func:`~pyg_dnnmod.features.transformer_blocks`).
        inputs (torch.Tensor or dict): Token ids or images :math:`[N,
            ...]`, or a dict of tensors (e.g. a tokenizer's output).
        attention_mask (torch.Tensor, optional): :math:`[N, S]`, nonzero on
            real tokens. (default: every token is real)
        pooling (str, optional): How a sequence becomes one vector, one of
            :data:`~pyg_dnnmod.features.TOKEN_POOLINGS`.
            (default: :obj:`"mean"`)
        batch_size (int, optional): Samples per forward pass.
            (default: :obj:`32`)
        device (str or torch.device, optional): Where the model runs.
            (default: where it is)
        progress (bool, optional): Show a progress bar.
            (default: :obj:`False`)

    Example:
        >>> from pyg_dnnmod.models import vit_tiny
        >>> scan = scan_blocks(vit_tiny(depth=3), torch.rand(8, 1, 28, 28))
        >>> scan.state_names, tuple(scan.cosine.shape), scan.num_tokens
        (['embeddings', 'blocks.0', 'blocks.1', 'blocks.2'], (4, 4), 136)
    """
    if pooling not in TOKEN_POOLINGS:
        raise ValueError(f"'pooling' must be one of {TOKEN_POOLINGS} (got "
                         f"{pooling!r})")
    blocks = transformer_blocks(model)
    num_states = len(blocks.names) + 1
    cos_sum = torch.zeros(num_states, num_states, dtype=torch.float64)
    angle_sum = torch.zeros_like(cos_sum)
    pooled: list[list[Tensor]] = [[] for _ in range(num_states)]
    num_tokens = 0
    states = iter_block_states(model, inputs, attention_mask, batch_size,
                               device)
    if progress:
        from tqdm.auto import tqdm
        states = tqdm(states, desc='blocks', unit='batch')
    for batch in states:
        num_tokens += int(batch.mask.sum())
        for i, h in enumerate(batch.hidden):
            pooled[i].append(pool_tokens(h, batch.mask, pooling).cpu())
            for j in range(i + 1, num_states):
                cos = token_cosine(h, batch.hidden[j], batch.mask).double()
                cos_sum[i, j] += float(cos.sum())
                angle_sum[i, j] += float((torch.arccos(cos) / math.pi).sum())
    cosine = cos_sum / num_tokens
    angle = angle_sum / num_tokens
    cosine = cosine + cosine.t()
    cosine.fill_diagonal_(1.0)
    angle = angle + angle.t()
    return BlockScan(blocks.path, list(blocks.names), cosine, angle,
                     [torch.cat(p) for p in pooled], pooling, num_tokens)


def _knn_overlap(x: Tensor, labels: Tensor, k: int) -> float:
    idx = knn_indices(x, k)
    return float((labels[idx] == labels.view(-1, 1)).double().mean())


def _choose(values: pd.Series, sign: int, budget: int) -> list[int]:
    # The `budget` most redundant blocks, ties to the lowest index.
    order = sorted(range(len(values)),
                   key=lambda i: (-sign * values.iloc[i], i))
    return sorted(order[:budget])


def _check_budget(budget: Any, num_blocks: int) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int) \
            or not 1 <= budget < max(num_blocks, 2):
        raise ValueError(f"'budget' must be an int between 1 and "
                         f"{num_blocks - 1} (got {budget!r})")
    return budget


def blocks_to_remove(report: pd.DataFrame, score: str,
                     budget: Optional[int] = None, seed: int = 0
                     ) -> list[int]:
    r"""The blocks one score of a report would remove: the :obj:`budget`
    most redundant by :data:`REDUNDANCY_SCORES` (ties to the lowest
    index); for :obj:`"angular_distance"` the run of :obj:`budget`
    consecutive blocks whose input and output are closest (Gromov et al.);
    for :obj:`"reverse"` the last :obj:`budget` blocks; for
    :obj:`"random"` a draw seeded by :obj:`seed`.

    Args:
        report (pandas.DataFrame): A :func:`layer_redundancy_report`.
        score (str): A key of :data:`REDUNDANCY_SCORES` or of
            :data:`BASELINE_CHOICES`.
        budget (int, optional): Blocks to remove; for
            :obj:`"angular_distance"` it must be the report's.
            (default: the report's)
        seed (int, optional): The seed of :obj:`"random"`.
            (default: :obj:`0`)

    Example:
        >>> report = pd.DataFrame({'block': [0, 1, 2],
        ...                        'block_influence': [.3, .1, .2]})
        >>> blocks_to_remove(report, 'block_influence', 2)
        [1, 2]
        >>> blocks_to_remove(report, 'reverse', 1)
        [2]
    """
    num_blocks = len(report)
    default = report.attrs.get('budget')
    budget = _check_budget(default if budget is None else budget,
                           num_blocks)
    if score == 'reverse':
        return list(range(num_blocks - budget, num_blocks))
    if score == 'random':
        gen = torch.Generator().manual_seed(seed)
        return sorted(torch.randperm(num_blocks, generator=gen)[:budget]
                      .tolist())
    if score not in REDUNDANCY_SCORES:
        raise ValueError(f"'score' must be one of "
                         f"{list(REDUNDANCY_SCORES) + list(BASELINE_CHOICES)}"
                         f" (got {score!r})")
    column, sign = REDUNDANCY_SCORES[score]
    if column not in report:
        need = ' (pass labels)' if score in LABEL_SCORES else ''
        raise ValueError(f"the report has no column {column!r}{need}")
    if score == 'angular_distance':
        if budget != default:
            raise ValueError(f"'budget' must be the report's ({default}) "
                             f"for 'angular_distance', whose runs were "
                             f"measured for it (got {budget})")
        runs = report[column].iloc[:num_blocks - budget + 1]
        start = _choose(runs, sign, 1)[0]
        return list(range(start, start + budget))
    return _choose(report[column], sign, budget)


def report_from_scan(scan: BlockScan, labels: Optional[Tensor] = None,
                     budget: int = 1, k: int = 3, seed: int = 0
                     ) -> pd.DataFrame:
    r"""The :func:`layer_redundancy_report` of a :class:`BlockScan` (see
    there for the columns), so that one pass serves several budgets."""
    num_blocks = len(scan.names)
    _check_budget(budget, num_blocks)
    num_samples = scan.pooled[0].size(0)
    if isinstance(k, bool) or not isinstance(k, int) \
            or not 1 <= k < num_samples:
        raise ValueError(f"'k' must be an int between 1 and "
                         f"{num_samples - 1} (got {k!r})")
    idx = range(num_blocks)
    table: dict[str, Any] = {
        'block': list(idx),
        'name': scan.names,
        'block_influence': [1.0 - float(scan.cosine[i, i + 1]) for i in idx],
        'angular_distance': [float(scan.angle[i, i + 1]) for i in idx],
        'run_angular_distance': [
            float(scan.angle[i, i + budget]) if i + budget <= num_blocks
            else math.nan for i in idx],
        'mutual_knn': [mutual_knn(scan.pooled[i], scan.pooled[i + 1], k=k)
                       for i in idx],
        'cka': [linear_cka(scan.pooled[i], scan.pooled[i + 1]) for i in idx],
    }
    if labels is not None:
        labels = check_labels(labels, num_samples).cpu()
        q = scan.layer_graphs(labels, k=k).modularity().tolist()
        overlap = [_knn_overlap(x, labels, k) for x in scan.pooled]
        for name, values in (('modularity', q), ('knn_overlap', overlap)):
            table[f'{name}_in'] = values[:-1]
            table[f'{name}_out'] = values[1:]
            table[f'{name}_gain'] = [b - a for a, b in
                                     zip(values[:-1], values[1:])]
    report = pd.DataFrame(table)
    report.attrs.update(budget=budget, k=k, pooling=scan.pooling,
                        path=scan.path, num_tokens=scan.num_tokens,
                        num_samples=num_samples, seed=seed)
    scores = [s for s in REDUNDANCY_SCORES
              if REDUNDANCY_SCORES[s][0] in report] + list(BASELINE_CHOICES)
    for score in scores:
        chosen = set(blocks_to_remove(report, score, budget, seed))
        report[f'remove_{score}'] = [i in chosen for i in idx]
    return report


def layer_redundancy_report(
    model: nn.Module,
    inputs: TokenInputs,
    labels: Optional[Tensor] = None,
    attention_mask: Optional[Tensor] = None,
    *,
    budget: int = 1,
    k: int = 3,
    pooling: str = 'mean',
    batch_size: int = 32,
    device: Optional[Union[str, torch.device]] = None,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    r"""Every block's redundancy scores side by side, one row per block
    (see the module doc), and the :obj:`budget` blocks each score would
    remove.

    Columns: :obj:`block`, :obj:`name`, :obj:`block_influence`,
    :obj:`angular_distance` (block :math:`\ell`'s input to its output),
    :obj:`run_angular_distance` (:math:`\mathbf{h}_\ell` to
    :math:`\mathbf{h}_{\ell + \text{budget}}`, NaN past the end),
    :obj:`mutual_knn`, :obj:`cka`; with :obj:`labels` also
    :obj:`modularity_in`, :obj:`modularity_out`, :obj:`modularity_gain`,
    :obj:`knn_overlap_in`, :obj:`knn_overlap_out`,
    :obj:`knn_overlap_gain`; then one bool column :obj:`remove_<score>`
    per score of :data:`REDUNDANCY_SCORES` that the table has and per
    choice of :data:`BASELINE_CHOICES` (see :func:`blocks_to_remove`).
    :obj:`report.attrs` holds the budget, :math:`k`, the pooling, the
    blocks' container and the token and sample counts.

    Args:
        model (torch.nn.Module): A transformer: a Hugging Face model
            (GPT-2, Llama family, BERT, ViT, ...), a timm ViT or
            :class:`~pyg_dnnmod.models.VisionTransformer`.
        inputs (torch.Tensor or dict): :math:`N` samples: token ids,
            images, or a dict of tensors (e.g. a tokenizer's output).
        labels (torch.Tensor, optional): Class labels :math:`[N]` for the
            label-aware scores. (default: :obj:`None`)
        attention_mask (torch.Tensor, optional): :math:`[N, S]`, nonzero on
            real tokens. (default: every token is real)
        budget (int, optional): Blocks to remove. (default: :obj:`1`)
        k (int, optional): Neighbours of the k-NN scores.
            (default: :obj:`3`)
        pooling (str, optional): How tokens become one vector per sample
            for the per-sample scores, one of
            :data:`~pyg_dnnmod.features.TOKEN_POOLINGS`.
            (default: :obj:`"mean"`)
        batch_size (int, optional): Samples per forward pass.
            (default: :obj:`32`)
        device (str or torch.device, optional): Where the model runs.
            (default: where it is)
        seed (int, optional): The seed of the random choice.
            (default: :obj:`0`)
        progress (bool, optional): Show a progress bar.
            (default: :obj:`False`)

    Example:
        >>> from pyg_dnnmod.models import vit_tiny
        >>> x, y = torch.rand(30, 1, 28, 28), torch.arange(30) % 3
        >>> report = layer_redundancy_report(vit_tiny(depth=4), x, y,
        ...                                  budget=2)
        >>> report[['block', 'name']].values.tolist()
        [[0, 'blocks.0'], [1, 'blocks.1'], [2, 'blocks.2'], [3, 'blocks.3']]
        >>> int(report['remove_reverse'].sum()), report.attrs['budget']
        (2, 2)
    """
    scan = scan_blocks(model, inputs, attention_mask, pooling, batch_size,
                       device, progress)
    return report_from_scan(scan, labels, budget, k, seed)


def score_agreement(report: pd.DataFrame) -> pd.DataFrame:
    r"""The Spearman rank correlation between every two scores of a
    report, each oriented so that larger means more redundant (see
    :data:`REDUNDANCY_SCORES`; the angular distance of single blocks,
    not of runs): 1 where two scores rank the blocks alike.

    Example:
        >>> report = pd.DataFrame({'block_influence': [.3, .1, .2],
        ...                        'angular_distance': [.2, .1, .15],
        ...                        'cka': [.5, .6, .9]})
        >>> score_agreement(report).round(2).values.tolist()
        [[1.0, 1.0, 0.5], [1.0, 1.0, 0.5], [0.5, 0.5, 1.0]]
    """
    # The scores' columns and signs, single blocks for the angular distance.
    columns = {('angular_distance' if name == 'run_angular_distance'
                else name): sign for name, sign in REDUNDANCY_SCORES.values()}
    oriented = pd.DataFrame({name: sign * report[name]
                             for name, sign in columns.items()
                             if name in report})
    return oriented.corr(method='spearman')
