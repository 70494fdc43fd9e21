import pandas as pd
import pytest
import torch

from pyg_dnnmod.experiments import (
    BLOCK_REMOVAL_COLUMNS,
    block_removal_comparison,
    summarize_block_removal,
)
from pyg_dnnmod.models import vit_tiny
from pyg_dnnmod.plotting import plot_block_removal


def small_problem():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(80) % 4
    x = torch.rand(80, 1, 28, 28, generator=gen) * 0.3
    for c in range(4):  # a bright quadrant per class
        r, s = divmod(c, 2)
        x[y == c, :, 14 * r:14 * r + 14, 14 * s:14 * s + 14] += 0.7
    return x, y


def test_comparison_table_is_deterministic_and_leaves_the_model():
    model = vit_tiny(depth=4, num_classes=4)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, y = small_problem()
    kwargs = dict(budget=2, seeds=[0, 1], num_samples=40, heal_samples=40,
                  heal_epochs=2, progress=False)
    table = block_removal_comparison(model, (x, y), (x, y), **kwargs)
    assert list(table.columns) == list(BLOCK_REMOVAL_COLUMNS)
    assert table['choice'].tolist() == [
        'modularity_gain', 'block_influence', 'angular_distance', 'reverse',
        'random'] * 2
    assert table.loc[table['choice'] == 'reverse', 'blocks'].tolist() == \
        ['2,3', '2,3']
    run = table.loc[table['choice'] == 'angular_distance', 'blocks']
    for blocks in run:
        first, second = map(int, blocks.split(','))
        assert second == first + 1
    assert table['acc_full'].nunique() == 1
    # Healing trains the head and the last kept block: it changes the
    # predictions of every pruned model here.
    assert (table['acc_healed'] != table['acc_removed']).any()
    again = block_removal_comparison(model, (x, y), (x, y), **kwargs)
    pd.testing.assert_frame_equal(table, again)
    for name, p in model.named_parameters():
        assert torch.equal(p, before[name])
    assert table.attrs['budget'] == 2 and table.attrs['num_blocks'] == 4
    summary = summarize_block_removal(table)
    reverse = summary.set_index('choice').loc['reverse']
    rows = table[table['choice'] == 'reverse']
    assert reverse['removed_mean'] == pytest.approx(
        rows['acc_removed'].mean())
    assert reverse['healed_std'] == pytest.approx(
        rows['acc_healed'].std(ddof=0))
    fig = plot_block_removal(table)
    assert len(fig.axes[0].patches) == 10  # 5 choices, removed and healed


def test_bad_choices():
    x, y = small_problem()
    with pytest.raises(ValueError, match=r"'choices' must be a non-empty "
                                         r"list of .* \(got \['depth'\]\)"):
        block_removal_comparison(vit_tiny(depth=2, num_classes=4), (x, y),
                                 (x, y), budget=1, choices=['depth'])
    with pytest.raises(ValueError, match=r"'heal_samples' must be an int "
                                         r">= 0 \(got -1\)"):
        block_removal_comparison(vit_tiny(depth=2, num_classes=4), (x, y),
                                 (x, y), budget=1, heal_samples=-1)
