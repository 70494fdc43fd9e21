import pytest
import timm
import torch
from torch import nn
from transformers import (
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    ViTConfig,
    ViTForImageClassification,
)

from pyg_dnnmod.features import (
    iter_block_states,
    pool_tokens,
    transformer_blocks,
)
from pyg_dnnmod.models import vit_tiny


def gpt2():
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(
        n_layer=3, n_embd=32, n_head=2, vocab_size=100, n_positions=64,
        bos_token_id=0, eos_token_id=0)).eval()


def llama():
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=3,
        num_attention_heads=2, num_key_value_heads=1, vocab_size=100,
        bos_token_id=0, eos_token_id=0, pad_token_id=0)).eval()


def bert():
    torch.manual_seed(0)
    return BertModel(BertConfig(
        hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
        intermediate_size=64, vocab_size=100)).eval()


def hf_vit():
    torch.manual_seed(0)
    return ViTForImageClassification(ViTConfig(
        image_size=28, patch_size=7, num_channels=1, hidden_size=32,
        num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
        num_labels=10)).eval()


def timm_vit():
    torch.manual_seed(0)
    return timm.create_model('vit_tiny_patch16_224', pretrained=False,
                             img_size=28, patch_size=7, in_chans=1, depth=3,
                             embed_dim=32, num_heads=2, num_classes=10).eval()


TEXT = {'gpt2': gpt2, 'llama': llama, 'bert': bert}
IMAGES = {'hf_vit': hf_vit, 'timm_vit': timm_vit,
          'ours': lambda: vit_tiny(depth=3).eval()}


@pytest.mark.parametrize('name', list(TEXT) + list(IMAGES))
def test_block_list_found(name):
    model = {**TEXT, **IMAGES}[name]()
    found = transformer_blocks(model)
    expected = {'gpt2': 'transformer.h', 'llama': 'model.layers',
                'bert': 'encoder.layer', 'hf_vit': 'vit.layers',
                'timm_vit': 'blocks', 'ours': 'blocks'}[name]
    assert found.path == expected
    assert found.names == [f'{expected}.{i}' for i in range(3)]
    assert found.container is model.get_submodule(expected)


@pytest.mark.parametrize('name', list(TEXT))
def test_states_match_output_hidden_states(name):
    model = TEXT[name]()
    ids = torch.randint(1, 100, (4, 9), generator=torch.Generator()
                        .manual_seed(0))
    mask = torch.ones(4, 9, dtype=torch.long)
    mask[1, 6:] = 0
    states = list(iter_block_states(model, {'input_ids': ids,
                                            'attention_mask': mask},
                                    batch_size=3))
    assert [s.start for s in states] == [0, 3]
    hidden = [torch.cat([s.hidden[i] for s in states]) for i in range(4)]
    assert torch.equal(torch.cat([s.mask for s in states]), mask.bool())
    with torch.no_grad():
        reference = model(input_ids=ids, attention_mask=mask,
                          output_hidden_states=True).hidden_states
    for i in range(3):
        assert torch.allclose(hidden[i], reference[i], atol=1e-5)
    if name == 'bert':  # post-norm: the last state has no final norm
        assert torch.allclose(hidden[3], reference[3], atol=1e-5)
    else:  # Hugging Face's last entry has the final norm applied, ours not
        norm = model.transformer.ln_f if name == 'gpt2' else \
            model.model.norm
        assert not torch.allclose(hidden[3], reference[3], atol=1e-2)
        with torch.no_grad():
            assert torch.allclose(norm(hidden[3]), reference[3], atol=1e-5)


def test_stops_after_last_block_and_restores_mode():
    model = gpt2().train()
    calls = []
    model.lm_head.register_forward_hook(lambda *a: calls.append(1))
    states = next(iter_block_states(model, torch.randint(0, 100, (2, 5))))
    assert calls == [] and len(states.hidden) == 4
    assert model.training and all(m.training for m in model.modules())


@pytest.mark.parametrize('name', list(IMAGES))
def test_image_transformers(name):
    model = IMAGES[name]()
    x = torch.rand(5, 1, 28, 28)
    states = next(iter_block_states(model, x, batch_size=8))
    assert len(states.hidden) == 4
    assert tuple(states.hidden[0].shape[:2]) == (5, 17)
    assert bool(states.mask.all())


def test_pool_tokens_hand_computed():
    h = torch.arange(24, dtype=torch.float).view(2, 4, 3)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    assert pool_tokens(h, right).tolist() == [[1.5, 2.5, 3.5],
                                              [16.5, 17.5, 18.5]]
    assert pool_tokens(h, right, 'last').tolist() == [[3., 4., 5.],
                                                      [21., 22., 23.]]
    assert pool_tokens(h, left, 'last').tolist() == [[9., 10., 11.],
                                                     [21., 22., 23.]]
    assert pool_tokens(h, left, 'cls').tolist() == [[0., 1., 2.],
                                                    [12., 13., 14.]]
    assert pool_tokens(h).tolist() == h.mean(dim=1).tolist()


def test_bad_input():
    with pytest.raises(ValueError, match=r"'pooling' must be one of"):
        pool_tokens(torch.zeros(1, 2, 3), pooling='max')
    with pytest.raises(ValueError, match=r"no real token in sequence 1"):
        pool_tokens(torch.zeros(2, 2, 3), torch.tensor([[1, 0], [0, 0]]))
    with pytest.raises(ValueError, match=r"has no list of transformer "
                                         r"blocks"):
        transformer_blocks(nn.Sequential(nn.Linear(2, 2)))
    model = vit_tiny(depth=1)
    with pytest.raises(ValueError, match=r"'batch_size' must be a positive"):
        next(iter_block_states(model, torch.rand(2, 1, 28, 28),
                               batch_size=0))
    with pytest.raises(ValueError, match=r"same number \(> 0\) of samples"):
        next(iter_block_states(gpt2(), {'input_ids': torch.zeros(
            3, 4, dtype=torch.long), 'attention_mask': torch.ones(2, 4)}))
    with pytest.raises(ValueError, match=r"pass the mask once"):
        next(iter_block_states(gpt2(), {'input_ids': torch.zeros(
            3, 4, dtype=torch.long), 'attention_mask': torch.ones(3, 4)},
            attention_mask=torch.ones(3, 4)))
