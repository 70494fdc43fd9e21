r"""Which blocks to remove from a vision transformer: the same number of
blocks chosen by the modularity gain of the class partition (Lu et al.,
ECCV 2022), by Block Influence (ShortGPT), by the angular distance of a
run (Gromov et al.), from the back (the reverse order of Lu et al.'s LLM
study) and at random, each removed and then healed, on one model and the
same data (``pyg-dnnmod redundancy --compare``)."""
from collections.abc import Sequence
from typing import Any, Optional

import pandas as pd
import torch
from torch import Tensor, nn

from pyg_dnnmod.features import transformer_blocks
from pyg_dnnmod.redundancy import (
    BASELINE_CHOICES,
    REDUNDANCY_SCORES,
    blocks_to_remove,
    heal_blocks,
    remove_blocks,
    report_from_scan,
    scan_blocks,
)
from pyg_dnnmod.training import evaluate
from pyg_dnnmod.utils import check_labels, sample_indices
from pyg_dnnmod.utils.threads import fixed_threads

#: The choices compared by default.
DEFAULT_CHOICES = ('modularity_gain', 'block_influence', 'angular_distance',
                   'reverse', 'random')
#: The columns of :func:`block_removal_comparison`'s table.
BLOCK_REMOVAL_COLUMNS = ('choice', 'seed', 'blocks', 'acc_full',
                         'acc_removed', 'acc_healed')


def _check_choices(choices: Sequence[str]) -> list[str]:
    valid = list(REDUNDANCY_SCORES) + list(BASELINE_CHOICES)
    choices = list(choices)
    bad = [c for c in choices if c not in valid]
    if bad or not choices:
        raise ValueError(f"'choices' must be a non-empty list of {valid} "
                         f"(got {bad or choices!r})")
    return choices


def block_removal_comparison(
    model: nn.Module,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    budget: int = 2,
    choices: Sequence[str] = DEFAULT_CHOICES,
    seeds: Sequence[int] = (0, 1, 2),
    num_samples: int = 500,
    k: int = 3,
    heal_samples: int = 10000,
    heal_epochs: int = 1,
    heal_lr: float = 1e-3,
    last_blocks: int = 1,
    batch_size: int = 256,
    num_threads: Optional[int] = None,
    progress: bool = True,
) -> pd.DataFrame:
    r"""Removes :obj:`budget` blocks of a classifying transformer as each
    choice picks them, and measures the test accuracy right after the
    removal and after healing (:func:`~pyg_dnnmod.redundancy.heal_blocks`:
    the last :obj:`last_blocks` blocks and the head trained for
    :obj:`heal_epochs` passes over :obj:`heal_samples` training samples).

    For every seed, the scores are measured on :obj:`num_samples`
    class-balanced training samples drawn with that seed
    (:func:`~pyg_dnnmod.redundancy.scan_blocks`, tokens mean-pooled for the
    per-sample scores), the random choice is drawn with it, and the
    healing samples and their order follow it; so the deterministic
    choices vary with the seed only through the samples they read.

    Args:
        model (torch.nn.Module): A trained classifying transformer (e.g.
            :obj:`load_pretrained('vit-fashion-mnist')`), not changed.
        train ((torch.Tensor, torch.Tensor)): Training images and labels
            (the scores' samples and the healing data).
        test ((torch.Tensor, torch.Tensor)): Test images and labels.
        budget (int, optional): Blocks removed. (default: :obj:`2`)
        choices (list[str], optional): Keys of
            :data:`~pyg_dnnmod.redundancy.REDUNDANCY_SCORES` or
            :data:`~pyg_dnnmod.redundancy.BASELINE_CHOICES`.
            (default: :data:`DEFAULT_CHOICES`)
        seeds (list[int], optional): The seeds. (default: :obj:`(0, 1, 2)`)
        num_samples (int, optional): Samples the scores read.
            (default: :obj:`500`)
        k (int, optional): Neighbours of the k-NN scores.
            (default: :obj:`3`)
        heal_samples (int, optional): Training samples of the healing
            fine-tune (0: no healing, :obj:`acc_healed` is NaN).
            (default: :obj:`10000`)
        heal_epochs (int, optional): Its passes. (default: :obj:`1`)
        heal_lr (float, optional): Its AdamW learning rate.
            (default: :obj:`1e-3`)
        last_blocks (int, optional): Blocks it trains, from the end.
            (default: :obj:`1`)
        batch_size (int, optional): Evaluation and scan batch size; the
            healing uses 64. (default: :obj:`256`)
        num_threads (int, optional): CPU threads for the whole run,
            restored afterwards (the healing's sums depend on the count).
            (default: unchanged)
        progress (bool, optional): Show a progress bar.
            (default: :obj:`True`)

    Returns:
        pandas.DataFrame: One row per choice and seed with the columns
        :data:`BLOCK_REMOVAL_COLUMNS` (:obj:`blocks` the removed indices as
        :obj:`"i,j"`); :obj:`attrs` holds the budget and the block count.

    Example:
        >>> from pyg_dnnmod.models import vit_tiny
        >>> x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 4
        >>> table = block_removal_comparison(
        ...     vit_tiny(depth=3, num_classes=4), (x, y), (x, y), budget=1,
        ...     seeds=[0], num_samples=20, heal_samples=8, progress=False)
        >>> table['choice'].tolist()  # doctest: +NORMALIZE_WHITESPACE
        ['modularity_gain', 'block_influence', 'angular_distance',
         'reverse', 'random']
        >>> table.loc[table['choice'] == 'reverse', 'blocks'].item()
        '2'
    """
    with fixed_threads(num_threads):
        return _compare(model, train, test, budget, _check_choices(choices),
                        list(seeds), num_samples, k, heal_samples,
                        heal_epochs, heal_lr, last_blocks, batch_size,
                        progress)


def _compare(model: nn.Module, train: tuple[Tensor, Tensor],
             test: tuple[Tensor, Tensor], budget: int, choices: list[str],
             seeds: list[int], num_samples: int, k: int, heal_samples: int,
             heal_epochs: int, heal_lr: float, last_blocks: int,
             batch_size: int, progress: bool) -> pd.DataFrame:
    x_train, y_train = train[0], check_labels(train[1], train[0].size(0),
                                              'train[1]')
    x_test, y_test = test[0], check_labels(test[1], test[0].size(0),
                                           'test[1]')
    num_blocks = len(transformer_blocks(model).names)
    if isinstance(heal_samples, bool) or not isinstance(heal_samples, int) \
            or heal_samples < 0:
        raise ValueError(f"'heal_samples' must be an int >= 0 (got "
                         f"{heal_samples!r})")
    heal_samples = min(heal_samples, x_train.size(0))
    _, acc_full = evaluate(model, (x_test, y_test), batch_size)
    rows: list[dict[str, Any]] = []
    todo = [(s, c) for s in seeds for c in choices]
    bar: Optional[Any] = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(todo), desc='block removal', unit='model')
    try:
        for seed in seeds:
            idx = sample_indices(y_train, num_samples, balanced=True,
                                 seed=seed)
            scan = scan_blocks(model, x_train[idx], batch_size=batch_size)
            report = report_from_scan(scan, y_train[idx], budget, k, seed)
            gen = torch.Generator().manual_seed(seed)
            heal_idx = torch.randperm(x_train.size(0),
                                      generator=gen)[:heal_samples]
            for choice in choices:
                blocks = blocks_to_remove(report, choice, budget, seed)
                pruned = remove_blocks(model, blocks)
                _, acc_removed = evaluate(pruned, (x_test, y_test),
                                          batch_size)
                acc_healed = float('nan')
                if heal_samples:
                    healed = heal_blocks(
                        pruned, x_train[heal_idx], y_train[heal_idx],
                        last_blocks=min(last_blocks, num_blocks - budget),
                        epochs=heal_epochs, lr=heal_lr, seed=seed)
                    _, acc_healed = evaluate(healed, (x_test, y_test),
                                             batch_size)
                rows.append(dict(choice=choice, seed=seed,
                                 blocks=','.join(map(str, blocks)),
                                 acc_full=acc_full, acc_removed=acc_removed,
                                 acc_healed=acc_healed))
                if bar is not None:
                    bar.update()
    finally:
        if bar is not None:
            bar.close()
    table = pd.DataFrame(rows, columns=list(BLOCK_REMOVAL_COLUMNS))
    table.attrs.update(budget=budget, num_blocks=num_blocks,
                       num_samples=num_samples, k=k,
                       heal_samples=heal_samples, heal_epochs=heal_epochs)
    return table


def summarize_block_removal(table: pd.DataFrame) -> pd.DataFrame:
    r"""Mean and std (over seeds, :obj:`ddof=0`) of the accuracies of a
    :func:`block_removal_comparison` per choice, in the table's order,
    with the blocks each seed removed.

    Example:
        >>> table = pd.DataFrame({'choice': ['a', 'a'], 'seed': [0, 1],
        ...                       'blocks': ['1', '2'], 'acc_full': [.9, .9],
        ...                       'acc_removed': [.5, .7],
        ...                       'acc_healed': [.8, .8]})
        >>> summarize_block_removal(table).round(2).values.tolist()
        [['a', 0.6, 0.1, 0.8, 0.0, '1 / 2']]
    """
    grouped = table.groupby('choice', sort=False)
    out = grouped.agg(removed_mean=('acc_removed', 'mean'),
                      removed_std=('acc_removed', lambda s: s.std(ddof=0)),
                      healed_mean=('acc_healed', 'mean'),
                      healed_std=('acc_healed', lambda s: s.std(ddof=0)),
                      blocks=('blocks', lambda s: ' / '.join(s)))
    return out.reset_index()
