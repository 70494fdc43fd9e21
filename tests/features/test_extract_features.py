import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pyg_dnnmod.features import extract_features, iter_layer_features


def tiny_cnn(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(),  # 0-2: [2, 6, 6]
        nn.Conv2d(2, 4, 3), nn.ReLU(),                      # 3-4: [4, 4, 4]
        nn.Flatten(), nn.Linear(64, 3),                     # 5-6
    )
    bn = model[1]
    bn.running_mean.copy_(torch.tensor([0.3, -0.2]))
    bn.running_var.copy_(torch.tensor([2.0, 0.5]))
    bn.weight.data.copy_(torch.tensor([1.5, -0.7]))
    bn.bias.data.copy_(torch.tensor([0.1, 0.2]))
    return model


def by_hand(model: nn.Sequential, x: torch.Tensor) -> dict:
    conv1, bn, _, conv2 = model[0], model[1], model[2], model[3]
    c1 = F.conv2d(x, conv1.weight, conv1.bias)
    a1 = F.relu((c1 - bn.running_mean[:, None, None])
                / torch.sqrt(bn.running_var[:, None, None] + bn.eps)
                * bn.weight[:, None, None] + bn.bias[:, None, None])
    c2 = F.conv2d(a1, conv2.weight, conv2.bias)
    return {'0': c1.flatten(1), '2': a1.flatten(1), '3': c2.flatten(1),
            '4': F.relu(c2).flatten(1)}


def no_hooks(model: nn.Module) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks
               for m in model.modules())


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(10, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def test_conv_outputs_equal_conv2d_by_hand(x):
    model = tiny_cnn()
    features = extract_features(model, x, batch_size=4)
    expected = by_hand(model, x)
    assert list(features) == ['0', '3']
    for name in ('0', '3'):
        assert features[name].dtype == torch.float32
        assert features[name].shape == expected[name].shape
        torch.testing.assert_close(features[name], expected[name])


def test_post_activation_equals_relu_of_batch_norm_by_hand(x):
    model = tiny_cnn()
    features = extract_features(model, x, post_activation=True)
    expected = by_hand(model, x)
    assert list(features) == ['2', '4']
    torch.testing.assert_close(features['2'], expected['2'])
    torch.testing.assert_close(features['4'], expected['4'])
    assert (features['2'] >= 0).all()


def test_linear_features_equal_matmul():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 2))
    x = torch.randn(7, 5)
    features = extract_features(model, x, batch_size=3)
    h = x @ model[0].weight.T + model[0].bias
    torch.testing.assert_close(features['0'], h)
    torch.testing.assert_close(
        features['2'], torch.tanh(h) @ model[2].weight.T + model[2].bias)


def test_model_runs_in_eval_mode_and_modes_are_restored(x):
    model = tiny_cnn().train()
    model[3].eval()  # a mixed state must come back exactly
    seen = []
    model[0].register_forward_pre_hook(
        lambda m, args: seen.append(m.training))
    features = extract_features(model, x)
    assert seen and not any(seen)
    # BatchNorm used its running statistics, not the batch's.
    torch.testing.assert_close(features['3'], by_hand(model, x)['3'])
    assert [m.training for m in model] == [True, True, True, False, True,
                                           True, True]
    assert model[1].num_batches_tracked.item() == 0


def test_hooks_removed_and_mode_restored_when_forward_raises(x):
    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError('boom')

    model = nn.Sequential(nn.Conv2d(1, 2, 3), Boom(), nn.Conv2d(2, 2, 3))
    model.train()
    model[2].eval()
    with pytest.raises(RuntimeError, match='boom'):
        extract_features(model, x)
    assert no_hooks(model)
    assert [m.training for m in model] == [True, True, False]


def test_hooks_removed_after_success_and_between_yields(x):
    model = tiny_cnn().train()
    it = iter_layer_features(model, x, max_bytes=10 * 72 * 4)
    name, _ = next(it)
    assert name == '0'
    # Between two layers the model is as the caller left it.
    assert no_hooks(model) and model.training
    assert [n for n, _ in it] == ['3']
    assert no_hooks(model) and model.training


def test_grouping_without_spill_gives_identical_features(x):
    model = tiny_cnn()
    names = ['0', '2', '3', '4']
    one_pass = extract_features(model, x, names, batch_size=4)

    calls = []
    for name in names:
        model.get_submodule(name).register_forward_hook(
            lambda m, a, o, name=name: calls.append(name))
    # 10 samples: layers of 72, 72, 64, 64 floats take 2880, 2880, 2560 and
    # 2560 bytes, so a budget of 5760 gives the groups [0, 2] and [3, 4].
    grouped = dict(iter_layer_features(model, x, names, batch_size=4,
                                       max_bytes=5760, spill=False))
    assert list(grouped) == names
    for name in names:
        assert torch.equal(grouped[name], one_pass[name])
    # The probe runs every layer once; the first group's 3 batches stop
    # after layer 2, the second group's 3 batches run everything.
    assert calls.count('0') == 1 + 3 + 3
    assert calls.count('3') == 1 + 3


def test_layer_over_budget_is_extracted_alone_with_warning(x):
    with pytest.warns(UserWarning, match="layer '0' alone take 2880 bytes"):
        features = dict(iter_layer_features(tiny_cnn(), x, max_bytes=2600,
                                            spill=False))
    assert list(features) == ['0', '3']


def test_extract_features_warns_when_result_exceeds_budget(x):
    with pytest.warns(UserWarning, match='iter_layer_features yields one '
                      'layer at a time'):
        extract_features(tiny_cnn(), x, max_bytes=3000, spill=False)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        list(iter_layer_features(tiny_cnn(), x, max_bytes=3000, spill=False))


def test_warnings_point_at_the_caller(x):
    with pytest.warns(UserWarning) as record:
        extract_features(tiny_cnn(), x, max_bytes=2600, spill=False)
        list(iter_layer_features(tiny_cnn(), x, max_bytes=2600, spill=False))
    # Layer '0' over the budget (both calls) and the whole result (one).
    assert len(record) == 3
    assert {w.filename for w in record} == {__file__}


def test_extract_features_takes_the_options_of_iter_layer_features(x):
    model = tiny_cnn()
    features = extract_features(model, x, [0], post_activation=True,
                                batch_size=3, keep_on_device=True)
    expected = dict(iter_layer_features(model, x, [0], post_activation=True,
                                        batch_size=3, keep_on_device=True))
    assert list(features) == list(expected) == ['2']
    assert torch.equal(features['2'], expected['2'])
    with pytest.raises(TypeError, match=r"extract_features\(\) got "
                       r"unexpected keyword argument\(s\) \['batchsize'\]; "
                       r"its options are those of iter_layer_features: "
                       r"\['post_activation', 'batch_size', "):
        extract_features(model, x, batchsize=3)


def test_dataloader_list_and_tensor_inputs_agree(x):
    model = tiny_cnn()
    expected = extract_features(model, x, batch_size=4)
    y = torch.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    for inputs in (loader, [x[:4], x[4:]], [(x[:6], y[:6]), (x[6:], y[6:])]):
        features = extract_features(model, inputs)
        for name in expected:
            torch.testing.assert_close(features[name], expected[name])


def test_dataloader_drop_last_and_generic_iterable_count():
    model = tiny_cnn()
    x = torch.randn(10, 1, 8, 8)
    loader = DataLoader(TensorDataset(x), batch_size=4, drop_last=True)
    assert extract_features(model, loader)['0'].shape == (8, 72)

    class Batches:  # sized only by iterating
        def __iter__(self):
            yield x[:3]
            yield x[3:5]

    assert extract_features(model, Batches())['3'].shape == (5, 64)


def test_inputs_that_change_between_passes_are_rejected():
    class Growing:
        def __init__(self):
            self.passes = 0

        def __iter__(self):
            self.passes += 1
            yield torch.randn(2 + self.passes, 1, 8, 8)

    with pytest.raises(ValueError, match='yielded more than the 4 samples'):
        extract_features(tiny_cnn(), Growing())


def test_bad_inputs():
    model = tiny_cnn()
    x = torch.randn(4, 1, 8, 8)
    loader = DataLoader(TensorDataset(x), batch_size=2, shuffle=True)
    with pytest.raises(ValueError, match='DataLoader that shuffles'):
        extract_features(model, loader)
    with pytest.raises(TypeError, match='must be re-iterable'):
        extract_features(model, (b for b in [x]))
    with pytest.raises(TypeError, match=r"must be a Tensor x or a tuple "
                       r"\(x, y, \.\.\.\) \(got str\)"):
        extract_features(model, ['abc'])
    with pytest.raises(TypeError, match=r"'inputs' must be a Tensor.*\(got "
                       r"int\)"):
        extract_features(model, 5)
    with pytest.raises(ValueError, match=r"at least one sample \(got shape "
                       r"\(0, 1, 8, 8\)\)"):
        extract_features(model, x[:0])
    with pytest.raises(ValueError, match=r"'batch_size' must be an int >= 1 "
                       r"\(got 0\)"):
        extract_features(model, x, batch_size=0)
    with pytest.raises(ValueError, match=r"'max_bytes' must be None or an "
                       r"int >= 1 \(got -1\)"):
        extract_features(model, x, max_bytes=-1)
    with pytest.raises(ValueError, match=r"'method' must be one of .*\(got "
                       r"'jit'\)"):
        extract_features(model, x, method='jit')
    with pytest.raises(TypeError, match="'model' must be a torch.nn.Module"):
        extract_features(lambda t: t, x)
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) \['9'\]"):
        extract_features(model, x, ['9'])


def test_nan_features_name_the_layer_and_sample():
    class PoisonMarked(nn.Module):
        def forward(self, x):  # NaN where the input is marked
            return torch.where(x > 100, float('nan'), x)

    model = nn.Sequential(nn.Identity(), PoisonMarked(), nn.Linear(4, 2))
    x = torch.randn(8, 4)
    x[5, 1] = x[6, 0] = 1000.0
    for batch_size in (256, 2, 3):
        with pytest.raises(ValueError, match=r"features of layer '1' contain "
                           r"NaN or Inf values \(first in sample 5\)"):
            extract_features(model, x, ['0', '1'], batch_size=batch_size)
    features = extract_features(model, x, ['1'], check_finite=False)
    assert features['1'].isnan().nonzero().tolist() == [[5, 1], [6, 0]]
    x[0, 0] = float('inf')  # caught in the two-sample probe
    with pytest.raises(ValueError, match=r"layer '0' contain NaN or Inf "
                       r"values \(first in sample 0\)"):
        extract_features(model, x, ['0'])


def test_in_place_activation_does_not_overwrite_read_features(x):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True))
    features = extract_features(model, x)
    expected = F.conv2d(x, model[0].weight, model[0].bias).flatten(1)
    assert (features['0'] < 0).any()
    torch.testing.assert_close(features['0'], expected)


def test_shared_module_is_rejected(x):
    relu = nn.ReLU()
    model = nn.Sequential(nn.Conv2d(1, 2, 3), relu, nn.Conv2d(2, 2, 3), relu)
    with pytest.raises(ValueError, match=r"layer '1' runs 2 or more times "
                       r"per forward pass"):
        extract_features(model, x, ['1'])
    assert no_hooks(model)


def test_non_tensor_output_unused_layer_and_batch_not_first():
    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    model = nn.Sequential(nn.Linear(3, 3), Pair())
    with pytest.raises(TypeError, match="layer '1' returned a tuple, not a "
                       "Tensor"):
        extract_features(model, torch.randn(4, 3), ['1'])

    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(3, 3)
            self.unused = nn.Linear(3, 3)

        def forward(self, x):
            return self.used(x)

    model = Unused()
    with pytest.raises(ValueError, match=r"layer\(s\) \['unused'\] did not "
                       r"run"):
        extract_features(model, torch.randn(4, 3), ['used', 'unused'])

    class SequenceFirst(nn.Module):
        def forward(self, x):  # [B, S, E] -> [S, B, E]
            return x.transpose(0, 1)

    with pytest.raises(ValueError, match=r"returned shape \(3, 2, 4\) for a "
                       r"batch of 2 samples.*batch must come first"):
        extract_features(nn.Sequential(SequenceFirst()), torch.randn(2, 3, 4),
                         ['0'])


def test_float64_model_gives_float32_features():
    model = nn.Sequential(nn.Linear(3, 2)).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    features = extract_features(model, x)
    assert features['0'].dtype == torch.float32
    torch.testing.assert_close(features['0'], model(x).float())


def test_device_and_keep_on_device(device, x):
    model = tiny_cnn()
    expected = by_hand(model, x)
    features = extract_features(model, x, device=device, keep_on_device=True)
    assert features['0'].device.type == device.type
    torch.testing.assert_close(features['3'].cpu(), expected['3'],
                               rtol=1e-4, atol=1e-4)
    # The model was moved for the extraction and moved back.
    assert next(model.parameters()).device.type == 'cpu'
    features = extract_features(model, x, device=device)
    assert features['0'].device.type == 'cpu'


def test_iterator_is_lazy_but_checks_arguments_at_once(x):
    model = tiny_cnn()
    with pytest.raises(ValueError, match='unknown layer'):
        iter_layer_features(model, x, ['nope'])
    it = iter_layer_features(model, x, 1)
    assert [(n, tuple(f.shape)) for n, f in it] == [('3', (10, 64))]


def test_model_on_several_devices_cannot_be_moved(x):
    model = tiny_cnn()
    model[6].to('meta')  # the head on another device
    model.train()
    with pytest.raises(ValueError, match=r"several devices \(\['cpu', "
                       r"'meta'\]\), so it cannot be moved to 'device' "
                       r"'cpu'"):
        extract_features(model, x, device='cpu')
    assert all(m.training for m in model.modules())
    assert model[0].weight.device.type == 'cpu'
