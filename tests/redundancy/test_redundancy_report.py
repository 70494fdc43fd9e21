import math

import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel

from pyg_dnnmod.features import iter_block_states, pool_tokens
from pyg_dnnmod.models import vit_tiny
from pyg_dnnmod.redundancy import (
    blocks_to_remove,
    heal_blocks,
    layer_redundancy_report,
    scan_blocks,
    score_agreement,
    token_cosine,
)
from pyg_dnnmod.redundancy._heal import trainable_names
from pyg_dnnmod.similarity import knn_indices, linear_cka, mutual_knn
from pyg_dnnmod.snapshots import LayerGraphs


def gpt2(layers=4):
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(
        n_layer=layers, n_embd=32, n_head=2, vocab_size=100, n_positions=64,
        bos_token_id=0, eos_token_id=0)).eval()


def bert():
    torch.manual_seed(0)
    return BertModel(BertConfig(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
        intermediate_size=64, vocab_size=100)).eval()


def padded_batch(lengths, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 100, (len(lengths), max(lengths)), generator=gen)
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    return ids, mask


@pytest.mark.parametrize('make', [gpt2, bert], ids=['gpt2', 'bert'])
def test_padded_batch_scores_like_unpadded_sequences(make):
    model = make()
    lengths = [5, 9, 3, 7]
    ids, mask = padded_batch(lengths)
    scan = scan_blocks(model, {'input_ids': ids, 'attention_mask': mask},
                       batch_size=4)
    assert scan.num_tokens == sum(lengths)
    # Each sequence alone, unpadded: the per-token cosines, concatenated.
    alone = [next(iter_block_states(model, ids[i:i + 1, :n])).hidden
             for i, n in enumerate(lengths)]
    for a, b in [(0, 1), (1, 2), (3, 4), (0, 4)]:
        cos = torch.cat([token_cosine(h[a], h[b]) for h in alone]).double()
        assert float(scan.cosine[a, b]) == pytest.approx(float(cos.mean()),
                                                         abs=1e-5)
        angle = (torch.arccos(cos) / math.pi).mean()
        assert float(scan.angle[b, a]) == pytest.approx(float(angle),
                                                        abs=1e-5)
    pooled = torch.stack([h[4][0].mean(dim=0) for h in alone])
    assert torch.allclose(scan.pooled[4], pooled, atol=1e-5)


def test_report_columns_equal_direct_computation():
    model = gpt2()
    ids, mask = padded_batch([12] * 30, seed=1)
    mask[::3, 8:] = 0
    labels = torch.arange(30) % 3
    report = layer_redundancy_report(
        model, {'input_ids': ids, 'attention_mask': mask}, labels,
        budget=2, k=3, batch_size=8)
    states = next(iter_block_states(model, {'input_ids': ids,
                                            'attention_mask': mask},
                                    batch_size=30))
    h, m = states.hidden, states.mask
    pooled = [pool_tokens(x, m) for x in h]
    for i in range(4):
        cos = token_cosine(h[i], h[i + 1], m).double()
        row = report.iloc[i]
        assert row['block_influence'] == pytest.approx(
            1 - float(cos.mean()), abs=1e-6)
        assert row['angular_distance'] == pytest.approx(
            float((torch.arccos(cos) / math.pi).mean()), abs=1e-6)
        assert row['mutual_knn'] == mutual_knn(pooled[i], pooled[i + 1], 3)
        assert row['cka'] == pytest.approx(
            linear_cka(pooled[i], pooled[i + 1]), abs=1e-6)
    run = token_cosine(h[1], h[3], m).double()
    assert report['run_angular_distance'][1] == pytest.approx(
        float((torch.arccos(run) / math.pi).mean()), abs=1e-6)
    assert math.isnan(report['run_angular_distance'][3])
    q = LayerGraphs.from_features(
        [(str(i), x) for i, x in enumerate(pooled)], labels, k=3
    ).modularity().tolist()
    assert report['modularity_in'].tolist() == pytest.approx(q[:-1],
                                                             abs=1e-6)
    assert report['modularity_gain'].tolist() == pytest.approx(
        [b - a for a, b in zip(q[:-1], q[1:])], abs=1e-6)
    overlap = [float((labels[knn_indices(x, 3)] == labels.view(-1, 1))
                     .double().mean()) for x in pooled]
    assert report['knn_overlap_out'].tolist() == pytest.approx(overlap[1:],
                                                               abs=1e-6)
    for score in ('block_influence', 'modularity_gain', 'reverse',
                  'random', 'angular_distance'):
        chosen = report.index[report[f'remove_{score}']].tolist()
        assert chosen == blocks_to_remove(report, score)
        assert len(chosen) == 2
    assert report.attrs['num_tokens'] == int(mask.sum())


def test_blocks_to_remove_hand_made():
    report = pd.DataFrame({
        'block': [0, 1, 2, 3, 4],
        'block_influence': [.30, .05, .20, .05, .40],
        'run_angular_distance': [.5, .4, .1, .3, float('nan')],
        'mutual_knn': [.1, .9, .5, .9, .2],
        'modularity_gain': [.2, -.1, .0, .3, .1]})
    report.attrs['budget'] = 2
    assert blocks_to_remove(report, 'block_influence') == [1, 3]
    assert blocks_to_remove(report, 'mutual_knn') == [1, 3]
    assert blocks_to_remove(report, 'modularity_gain') == [1, 2]
    assert blocks_to_remove(report, 'angular_distance') == [2, 3]
    assert blocks_to_remove(report, 'reverse') == [3, 4]
    assert blocks_to_remove(report, 'block_influence', 1) == [1]  # tie
    assert blocks_to_remove(report, 'random', seed=0) == \
        blocks_to_remove(report, 'random', seed=0)
    assert {tuple(blocks_to_remove(report, 'random', seed=s))
            for s in range(10)} != {(0, 1)}
    with pytest.raises(ValueError, match=r"'budget' must be the report's"):
        blocks_to_remove(report, 'angular_distance', 1)
    with pytest.raises(ValueError, match=r"no column 'cka'"):
        blocks_to_remove(report, 'cka')
    with pytest.raises(ValueError, match=r"'score' must be one of"):
        blocks_to_remove(report, 'entropy')
    with pytest.raises(ValueError, match=r"'budget' must be an int between "
                                         r"1 and 4 \(got 5\)"):
        blocks_to_remove(report, 'reverse', 5)
    no_labels = report.drop(columns=['modularity_gain'])
    with pytest.raises(ValueError, match=r"pass labels"):
        blocks_to_remove(no_labels, 'modularity_gain')


def test_score_agreement_orients_scores():
    report = pd.DataFrame({'block_influence': [.1, .2, .3, .4],
                           'cka': [.9, .8, .7, .6],
                           'modularity_gain': [.4, .1, .2, .3]})
    agreement = score_agreement(report)
    assert agreement.loc['block_influence', 'cka'] == pytest.approx(1.0)
    # oriented ranks (4, 3, 2, 1) and (1, 4, 3, 2): sum d^2 = 12,
    # rho = 1 - 6 * 12 / (4 * 15)
    assert agreement.loc['block_influence', 'modularity_gain'] == \
        pytest.approx(-0.2)


def test_report_without_labels_and_errors():
    model = vit_tiny(depth=3)
    x = torch.rand(12, 1, 28, 28)
    report = layer_redundancy_report(model, x, budget=1, k=2)
    assert 'modularity_gain' not in report
    assert [c for c in report.columns if c.startswith('remove_')] == [
        'remove_block_influence', 'remove_angular_distance',
        'remove_mutual_knn', 'remove_cka', 'remove_reverse', 'remove_random']
    with pytest.raises(ValueError, match=r"'budget' must be an int between "
                                         r"1 and 2 \(got 3\)"):
        layer_redundancy_report(model, x, budget=3)
    with pytest.raises(ValueError, match=r"'k' must be an int between 1 "
                                         r"and 11 \(got 12\)"):
        layer_redundancy_report(model, x, k=12)
    with pytest.raises(ValueError, match=r"'labels'"):
        layer_redundancy_report(model, x, torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"'pooling' must be one of"):
        scan_blocks(model, x, pooling='sum')


def test_heal_trains_only_the_last_blocks_and_head():
    model = vit_tiny(depth=3, num_classes=4)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, y = torch.rand(32, 1, 28, 28), torch.arange(32) % 4
    healed = heal_blocks(model, x, y, last_blocks=1, batch_size=8)
    train = set(trainable_names(model, 1))
    assert train == {n for n, _ in model.named_parameters()
                     if n.startswith(('blocks.2.', 'norm.', 'head.'))}
    for name, p in healed.named_parameters():
        assert torch.equal(p, before[name]) != (name in train), name
    for name, p in model.named_parameters():  # the caller's is unchanged
        assert torch.equal(p, before[name])
    assert not healed.training


def test_heal_causal_lm_lowers_the_loss():
    model = gpt2(layers=2)
    ids, mask = padded_batch([10] * 16, seed=3)
    mask[::2, 7:] = 0

    def loss(m):
        target = ids.masked_fill(mask == 0, -100)
        with torch.no_grad():
            return float(m(input_ids=ids, attention_mask=mask,
                           labels=target).loss)
    healed = heal_blocks(model, {'input_ids': ids, 'attention_mask': mask},
                         epochs=5, batch_size=4, lr=3e-3)
    assert loss(healed) < loss(model) - 0.1
    with pytest.raises(ValueError, match=r"'labels' are needed"):
        heal_blocks(vit_tiny(depth=1), torch.rand(2, 1, 28, 28))
