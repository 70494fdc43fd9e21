import copy
from typing import Any, Callable, NamedTuple

import numpy as np
import pandas as pd
import pytest
import timm
import torch
from torch import Tensor, nn
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    ViTConfig,
    ViTForImageClassification,
)

from pyg_dnnmod.features import transformer_blocks
from pyg_dnnmod.models import vit_tiny
from pyg_dnnmod.redundancy import block_layout, remove_blocks

INDEX_SETS = [[1], [0, 2], [-1], [1, 2, 3]]
CAUSAL = ['gpt2', 'llama', 'qwen2']
HF = CAUSAL + ['bert', 'hf_vit']


class Case(NamedTuple):
    build: Callable[[], nn.Module]
    inputs: Callable[[], Any]
    path: str
    layer_idx: bool  # whether its blocks hold a layer_idx


def _gpt2() -> nn.Module:
    return GPT2LMHeadModel(GPT2Config(
        n_layer=4, n_embd=32, n_head=2, vocab_size=100, n_positions=64,
        bos_token_id=0, eos_token_id=0))


def _llama() -> nn.Module:
    return LlamaForCausalLM(LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=4,
        num_attention_heads=2, num_key_value_heads=1, vocab_size=100,
        bos_token_id=0, eos_token_id=0, pad_token_id=0))


def _qwen2() -> nn.Module:
    # Layers 2 and 3 attend through a sliding window of 4 tokens, so the
    # per-layer `layer_types` decides masks and the KV cache's layer kinds.
    return Qwen2ForCausalLM(Qwen2Config(
        hidden_size=32, intermediate_size=64, num_hidden_layers=4,
        num_attention_heads=2, num_key_value_heads=1, vocab_size=100,
        use_sliding_window=True, sliding_window=4, max_window_layers=2,
        bos_token_id=0, eos_token_id=0, pad_token_id=0))


def _bert() -> nn.Module:
    return BertForSequenceClassification(BertConfig(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
        intermediate_size=64, vocab_size=100, num_labels=3))


def _hf_vit() -> nn.Module:
    return ViTForImageClassification(ViTConfig(
        image_size=28, patch_size=7, num_channels=1, hidden_size=32,
        num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
        num_labels=10))


def _timm_vit() -> nn.Module:
    return timm.create_model(
        'vit_tiny_patch16_224', pretrained=False, img_size=32, patch_size=8,
        depth=4, embed_dim=32, num_heads=2, num_classes=10)


def _tokens() -> dict[str, Tensor]:
    torch.manual_seed(1)
    return {'input_ids': torch.randint(1, 100, (2, 7))}


def _causal_tokens() -> dict[str, Any]:
    return dict(_tokens(), use_cache=False)


def _image(*shape: int) -> Callable[[], Tensor]:
    def draw() -> Tensor:
        torch.manual_seed(1)
        return torch.rand(*shape)
    return draw


CASES = {
    'gpt2': Case(_gpt2, _causal_tokens, 'transformer.h', True),
    'llama': Case(_llama, _causal_tokens, 'model.layers', True),
    'qwen2': Case(_qwen2, _causal_tokens, 'model.layers', True),
    'bert': Case(_bert, _tokens, 'bert.encoder.layer', True),
    'hf_vit': Case(_hf_vit, lambda: {'pixel_values': _image(2, 1, 28, 28)()},
                   'vit.layers', False),
    'timm_vit': Case(_timm_vit, _image(2, 3, 32, 32), 'blocks', False),
    'vit_tiny': Case(lambda: vit_tiny(depth=4), _image(2, 1, 28, 28),
                     'blocks', False),
}


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = CASES[name].build()
    # Larger random weights than the init's, so that every block changes
    # the outputs clearly (and greedy decoding does not repeat one token).
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                param.normal_(0, 0.3)
    return model.eval()


_BUILT: dict[str, nn.Module] = {}


def built(name: str) -> nn.Module:
    r"""One model per case for the tests that do not change it."""
    if name not in _BUILT:
        _BUILT[name] = build(name)
    return _BUILT[name]


def run(model: nn.Module, inputs: Any) -> Tensor:
    with torch.no_grad():
        if isinstance(inputs, Tensor):
            return model(inputs)
        return model(**inputs).logits


def _passthrough(hidden_states: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    return hidden_states


def skipping(model: nn.Module, indices: list[int]) -> nn.Module:
    r"""The reference: a copy of :obj:`model` whose blocks at
    :obj:`indices` return their input (timm and our ViT: replaced by
    :class:`~torch.nn.Identity`; Hugging Face blocks, called with many
    arguments, return their first, the hidden states, as the Tensor that
    their callers in transformers 5 expect)."""
    reference = copy.deepcopy(model)
    container = transformer_blocks(reference).container
    for i in indices:
        if isinstance(container, nn.Sequential):
            container[i] = nn.Identity()
        else:
            container[i].forward = _passthrough
    return reference


def kept(indices: list[int], num_blocks: int = 4) -> list[int]:
    removed = {i % num_blocks for i in indices}
    return [i for i in range(num_blocks) if i not in removed]


@pytest.mark.parametrize('indices', INDEX_SETS, ids=str)
@pytest.mark.parametrize('name', list(CASES))
def test_output_equals_skipping_the_blocks(name, indices):
    model = built(name)
    inputs = CASES[name].inputs()
    pruned = remove_blocks(model, indices)
    out = run(pruned, inputs)
    expected = run(skipping(model, indices), inputs)
    assert out.shape == expected.shape
    assert torch.equal(out, expected)  # the same operations, bit for bit
    # The reference is not the full model: removing the blocks matters.
    assert not torch.allclose(out, run(model, inputs), atol=1e-3)


@pytest.mark.parametrize('indices', [[0, 2], [-1]], ids=str)
@pytest.mark.parametrize('name', list(CASES))
def test_model_passed_in_is_unchanged(name, indices):
    model = build(name)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    names = transformer_blocks(model).names
    config = copy.deepcopy(getattr(model, 'config', None))
    out = run(model, CASES[name].inputs())
    pruned = remove_blocks(model, indices)
    assert pruned is not model
    assert transformer_blocks(model).names == names
    assert len(names) == 4
    assert model.state_dict().keys() == state.keys()
    assert all(torch.equal(v, state[k])
               for k, v in model.state_dict().items())
    assert not any(p is q for p in model.parameters()
                   for q in pruned.parameters())
    assert getattr(model, 'config', None) == config
    assert torch.equal(run(model, CASES[name].inputs()), out)


@pytest.mark.parametrize('indices', INDEX_SETS, ids=str)
@pytest.mark.parametrize('name', list(CASES))
def test_blocks_and_indices_consistent(name, indices):
    model = built(name)
    case = CASES[name]
    pruned = remove_blocks(model, indices)
    keep = kept(indices)
    found = transformer_blocks(pruned)
    assert found.path == case.path
    assert type(found.container) is type(transformer_blocks(model).container)
    assert found.names == [f'{case.path}.{i}' for i in range(len(keep))]
    old = transformer_blocks(model).container
    # The kept blocks, in order, with their own parameters (copies).
    assert all(torch.equal(dict(found.container[new].named_parameters())[k],
                           p)
               for new, i in enumerate(keep)
               for k, p in old[i].named_parameters())
    for new, block in enumerate(found.container):
        found_idx = {m.layer_idx for m in block.modules()
                     if hasattr(m, 'layer_idx')}
        assert found_idx == ({new} if case.layer_idx else set())
    assert len(pruned.state_dict()) == len(model.state_dict()) - \
        (4 - len(keep)) * len(old[0].state_dict())


@pytest.mark.parametrize('indices', INDEX_SETS, ids=str)
@pytest.mark.parametrize('name', HF)
def test_hugging_face_config_consistent(name, indices):
    model = built(name)
    pruned = remove_blocks(model, indices)
    config = pruned.config
    count = len(kept(indices))
    assert len(transformer_blocks(pruned).container) == count
    assert config.num_hidden_layers == count
    assert model.config.num_hidden_layers == 4
    assert config is not model.config
    # Every module holding a config holds the copy's one.
    holders = [m for m in pruned.modules() if hasattr(m, 'config')]
    assert len(holders) > 1
    assert all(m.config is config for m in holders)
    config.validate()  # transformers' strict checks, e.g. layer_types
    assert config.to_dict()['num_hidden_layers' if name != 'gpt2'
                            else 'n_layer'] == count


@pytest.mark.parametrize('indices', INDEX_SETS, ids=str)
def test_gpt2_n_layer_follows(indices):
    pruned = remove_blocks(built('gpt2'), indices)
    assert pruned.config.n_layer == len(kept(indices))
    assert 'num_hidden_layers' not in vars(pruned.config)


@pytest.mark.parametrize('indices,expected', [
    ([1], ['full_attention', 'sliding_attention', 'sliding_attention']),
    ([0, 2], ['full_attention', 'sliding_attention']),
    ([-1], ['full_attention', 'full_attention', 'sliding_attention']),
    ([1, 2, 3], ['full_attention']),
], ids=str)
def test_qwen2_layer_types_trimmed(indices, expected):
    model = built('qwen2')
    assert model.config.layer_types == ['full_attention'] * 2 + \
        ['sliding_attention'] * 2
    pruned = remove_blocks(model, indices)
    assert pruned.config.layer_types == expected
    assert [b.self_attn.sliding_window
            for b in pruned.model.layers] == \
        [4 if t == 'sliding_attention' else None for t in expected]
    # The KV cache is built from the config: one layer per kept block, of
    # the kind of its attention.
    with torch.no_grad():
        cache = pruned(**_tokens(), use_cache=True).cache
    assert [type(layer).__name__ for layer in cache.layers] == [
        'DynamicSlidingWindowLayer' if t == 'sliding_attention'
        else 'DynamicLayer' for t in expected]


def test_llama_config_has_no_layer_types():
    # transformers 5.24's LlamaConfig has no per-layer list to trim.
    pruned = remove_blocks(built('llama'), [1])
    assert 'layer_types' not in vars(pruned.config)
    assert pruned.config.num_hidden_layers == 3


@pytest.mark.parametrize('indices,expected', [
    ([0], {0: 1e-3, 1: 1e-4, 2: 1e-3}),
    ([1], {1: 1e-4, 2: 1e-3}),
    ([0, 2], {0: 1e-3, 1: 1e-3}),
    ([-3, -1], {1: 1e-4}),
], ids=str)
def test_heterogeneous_config_renumbered(indices, expected):
    # transformers 5's per-layer overrides (config only: no 5.24 model
    # builds heterogeneous layers yet), keyed by layer index.
    model = build('gpt2')
    model.config.per_layer_config = {1: {'layer_norm_epsilon': 1e-3},
                                     2: {'layer_norm_epsilon': 1e-4},
                                     3: {'layer_norm_epsilon': 1e-3}}
    pruned = remove_blocks(model, indices)
    overrides = pruned.config.to_dict()['per_layer_config']
    assert overrides == {str(i): {'layer_norm_epsilon': eps}
                         for i, eps in expected.items()}
    assert len(pruned.config.per_layer_config) == 4 - len(indices)
    pruned.config.validate()
    assert sorted(model.config.to_dict()['per_layer_config']) == \
        ['1', '2', '3']


@pytest.mark.parametrize('indices', INDEX_SETS, ids=str)
@pytest.mark.parametrize('name', CAUSAL)
def test_causal_lm_generates_with_kv_cache(name, indices):
    model = built(name)
    pruned = remove_blocks(model, indices)
    torch.manual_seed(2)
    input_ids = torch.randint(1, 100, (2, 5))
    kwargs = dict(attention_mask=torch.ones_like(input_ids),
                  max_new_tokens=4, do_sample=False, pad_token_id=0)
    with torch.no_grad():
        cached = pruned.generate(input_ids, use_cache=True, **kwargs)
        uncached = pruned.generate(input_ids, use_cache=False, **kwargs)
        reference = skipping(model, indices).generate(
            input_ids, use_cache=False, **kwargs)
        cache = pruned(input_ids, use_cache=True).cache
    assert cached.shape == (2, 9)
    assert torch.equal(cached, uncached)
    assert torch.equal(cached, reference)
    assert len(cache.layers) == len(kept(indices))
    assert cache.get_seq_length() == 5


@pytest.mark.parametrize('name', HF)
def test_hugging_face_save_and_reload(name, tmp_path):
    pruned = remove_blocks(built(name), [0, 2])
    pruned.save_pretrained(tmp_path)
    loaded, info = type(pruned).from_pretrained(tmp_path,
                                                output_loading_info=True)
    assert loaded.config.num_hidden_layers == 2
    assert len(transformer_blocks(loaded).container) == 2
    assert all(not keys for keys in info.values())
    inputs = CASES[name].inputs()
    assert torch.equal(run(loaded.eval(), inputs), run(pruned, inputs))


@pytest.mark.parametrize('indices,modules', [
    ([1], ['blocks.0', 'blocks.1', 'blocks.2']),
    ([0, 2], ['blocks.0', 'blocks.1']),
    ([1, 2, 3], ['blocks.0']),
], ids=str)
def test_timm_feature_info_renumbered(indices, modules):
    model = build('timm_vit')
    model.feature_info[3]['tag'] = 'last'
    assert [e['module'] for e in model.feature_info] == [
        f'blocks.{i}' for i in range(4)]
    pruned = remove_blocks(model, indices)
    entries = [dict(module=f'blocks.{new}', num_chs=32, reduction=8)
               for new in range(len(modules))]
    entries[-1].update({'tag': 'last'} if 3 not in indices else {})
    assert pruned.feature_info == entries
    assert [e['module'] for e in pruned.feature_info] == modules
    assert len(model.feature_info) == 4
    # timm's intermediate features read the kept blocks.
    x = _image(2, 3, 32, 32)()
    with torch.no_grad():
        _, inter = pruned.forward_intermediates(
            x, indices=list(range(len(modules))))
    assert len(inter) == len(modules)
    assert inter[0].shape == (2, 32, 4, 4)


def test_empty_indices_copy():
    model = built('gpt2')
    pruned = remove_blocks(model, [])
    assert pruned is not model
    assert pruned.config.n_layer == 4
    inputs = _causal_tokens()
    assert torch.equal(run(pruned, inputs), run(model, inputs))
    assert remove_blocks(model, np.array([], dtype=int)).config.n_layer == 4


def test_integer_like_indices():
    model = vit_tiny(depth=4)
    pruned = remove_blocks(model, np.array([3, 0]))
    assert len(pruned.blocks) == 2
    assert len(remove_blocks(model, range(1, 3)).blocks) == 2
    assert len(remove_blocks(model, (np.int64(-2),)).blocks) == 3


@pytest.mark.parametrize('indices,error,match', [
    ([4], ValueError, r"'indices' must be in \[-4, 4\) for a model with 4 "
                      r"blocks \(got 4\)"),
    ([0, -5], ValueError, r"'indices' must be in \[-4, 4\) .*\(got -5\)"),
    ([1, 1], ValueError, r"'indices' must name every block once \(got 1 "
                         r"and 1, both block 1\)"),
    ([1, -3], ValueError, r"'indices' must name every block once \(got 1 "
                          r"and -3, both block 1\)"),
    ([0, 1, 2, 3], ValueError, r"'indices' must keep at least one of the 4 "
                               r"blocks \(got \[0, 1, 2, 3\]\)"),
    ([3, -2, 1, 0], ValueError, r"'indices' must keep at least one of the "
                                r"4 blocks \(got \[3, -2, 1, 0\]\)"),
    ([True], TypeError, r"'indices' must hold ints \(got bool True\)"),
    ([1, 2.0], TypeError, r"'indices' must hold ints \(got float 2.0\)"),
    ([torch.tensor(1)], TypeError, r"'indices' must hold ints \(got "
                                   r"Tensor tensor\(1\)\)"),
    (1, TypeError, r"'indices' must be a sequence of ints \(got int 1\)"),
    ('12', TypeError, r"'indices' must be a sequence of ints \(got str "
                      r"'12'\)"),
    (None, TypeError, r"'indices' must be a sequence of ints \(got "
                      r"NoneType None\)"),
], ids=repr)
def test_bad_indices(indices, error, match):
    model = vit_tiny(depth=4)
    with pytest.raises(error, match=match):
        remove_blocks(model, indices)
    assert len(model.blocks) == 4


def test_bad_model():
    with pytest.raises(ValueError, match=r"'model' \(Linear\) has no list of "
                                         r"transformer blocks"):
        remove_blocks(nn.Linear(3, 3), [0])
    with pytest.raises(TypeError, match=r"'model' must be a torch.nn.Module "
                                        r"\(got str\)"):
        remove_blocks('gpt2', [0])
    with pytest.raises(ValueError, match=r"'model' \(Sequential\) has no "
                                         r"list of transformer blocks"):
        block_layout(nn.Sequential(nn.Linear(3, 3), nn.ReLU()))


def test_block_layout_vit_tiny():
    model = vit_tiny(depth=2)
    layout = block_layout(model)
    assert list(layout.columns) == ['index', 'name', 'params']
    assert layout['index'].tolist() == [0, 1]
    assert layout['name'].tolist() == ['blocks.0', 'blocks.1']
    # LN 2*64, qkv 64*192+192, proj 64*64+64, MLP 64*128+128 + 128*64+64.
    assert layout['params'].tolist() == [33472, 33472]
    assert 2 * 33472 + sum(p.numel() for n, p in model.named_parameters()
                           if not n.startswith('blocks.')) == \
        sum(p.numel() for p in model.parameters())
    pruned = block_layout(remove_blocks(vit_tiny(depth=3), [0]))
    assert pruned['name'].tolist() == ['blocks.0', 'blocks.1']


def test_block_layout_gpt2():
    model = built('gpt2')
    layout = block_layout(model)
    assert list(layout.columns) == ['index', 'name', 'params', 'layer_idx']
    assert layout['name'].tolist() == [f'transformer.h.{i}'
                                       for i in range(4)]
    # LN 2*2*32, c_attn 32*96+96, c_proj 32*32+32, MLP 32*128+128+128*32+32.
    assert layout['params'].tolist() == [12704] * 4
    assert layout['layer_idx'].tolist() == [0, 1, 2, 3]
    assert str(layout['layer_idx'].dtype) == 'Int64'
    pruned = block_layout(remove_blocks(model, [0, 2]))
    assert pruned['layer_idx'].tolist() == [0, 1]
    assert pruned['name'].tolist() == ['transformer.h.0', 'transformer.h.1']


def test_block_layout_hugging_face_without_layer_idx():
    layout = block_layout(built('hf_vit'))
    assert layout['name'].tolist() == [f'vit.layers.{i}' for i in range(4)]
    assert layout['layer_idx'].isna().tolist() == [True] * 4
    assert isinstance(layout, pd.DataFrame)
