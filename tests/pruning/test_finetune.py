import math

import pytest
import torch

from pyg_dnnmod.datasets import load_digits_images
from pyg_dnnmod.models import DigitsCNN
from pyg_dnnmod.pruning import complexity, prune_and_finetune, remove_layers
from pyg_dnnmod.training import TrainConfig, evaluate, train

torch.set_num_threads(1)


class FakeCurve:
    def __init__(self, values, names):
        self.values = torch.tensor(values)
        self.layer_names = list(names)

    def modularity(self):
        return self.values


@pytest.fixture(scope='module')
def setting():
    x, y = load_digits_images(split='train')
    xt, yt = load_digits_images(split='test')
    train_data, test_data = (x[:96], y[:96]), (xt[:64], yt[:64])
    torch.manual_seed(0)
    model = DigitsCNN(width=0.25)  # channels 8, 8, 16, 16: 4,418 params
    # A short pre-training, so that the accuracies are not all chance.
    train(model, train_data, None, TrainConfig(epochs=2, batch_size=32,
                                               lr=0.05), device='cpu',
          progress=False)
    config = TrainConfig(epochs=1, batch_size=32, lr=0.05)
    return model, train_data, test_data, config


def test_row_matches_an_independent_run(setting):
    model, train_data, test_data, config = setting
    state = {k: v.clone() for k, v in model.state_dict().items()}
    curve = FakeCurve([0.25, 0.5, 0.75, 0.6875], ['features.0', 'features.3',
                                                  'features.7', 'features.10'])
    pruned, table = prune_and_finetune(model, ['features.10'], train_data,
                                       test_data, config, curve=curve,
                                       device='cpu')

    # The same steps by hand.
    reference = remove_layers(model, 'features.10')
    _, acc_original = evaluate(model, test_data)
    _, acc_before = evaluate(reference, test_data)
    history = train(reference, train_data, test_data, config, device='cpu',
                    progress=False)
    acc_after = history['test_acc'].iloc[-1]

    assert len(table) == 1
    row = table.iloc[0]
    assert row['removed'] == 'features.10' and row['num_removed'] == 1
    assert row['modularity_gain'] == -0.0625
    # 4,418 - (16 * 9 * 16 + 16) - 2 * 16 = 2,066 parameters.
    assert row['params'] == 2_066
    assert row['params_reduction_%'] == pytest.approx(100 * 2_352 / 4_418)
    before = complexity(model, (1, 16, 16))
    after = complexity(reference, (1, 16, 16))
    assert (row['MACs'], row['FLOPs']) == (after['MACs'], after['FLOPs'])
    assert row['FLOPs_reduction_%'] == pytest.approx(
        100 * (1 - after['MACs'] / before['MACs']))
    assert row['acc_original_%'] == pytest.approx(100 * acc_original)
    assert row['acc_before_%'] == pytest.approx(100 * acc_before)
    assert row['acc_after_%'] == pytest.approx(100 * acc_after)
    assert row['acc_change_%'] == pytest.approx(
        100 * (acc_after - acc_original))
    assert row['epochs'] == 1
    assert table.attrs['history']['epoch'].tolist() == [0, 1]
    # Same training run, same weights.
    for p, q in zip(pruned.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q)
    # The caller's model is untouched.
    assert all(torch.equal(v, model.state_dict()[k])
               for k, v in state.items())


def test_two_layers_and_a_plain_tensor_curve(setting):
    model, train_data, test_data, config = setting
    # A plain tensor follows select_layers(model): features 0, 3, 7, 10.
    curve = torch.tensor([0.25, 0.375, 0.75, 0.6875])
    _, table = prune_and_finetune(model, ['features.3', 'features.10'],
                                  train_data, test_data, config,
                                  curve=curve, device='cpu')
    row = table.iloc[0]
    assert row['removed'] == 'features.3, features.10'
    assert row['modularity_gain'] == 0.125 - 0.0625
    # Also removes 8 * 9 * 8 + 8 + 16 = 600 parameters.
    assert row['params'] == 2_066 - 600
    _, no_curve = prune_and_finetune(model, 'features.3', train_data,
                                     test_data, config, device='cpu')
    assert math.isnan(no_curve['modularity_gain'].iloc[0])


def test_bad_input(setting):
    model, train_data, test_data, config = setting
    with pytest.raises(ValueError, match="'features.0'.*the stem"):
        prune_and_finetune(model, 'features.0', train_data, test_data,
                           config, device='cpu')
    with pytest.raises(ValueError, match="'curve' has 3 values but the "
                       "model's curve has 4 layers"):
        prune_and_finetune(model, 'features.3', train_data, test_data,
                           config, curve=torch.zeros(3), device='cpu')
    with pytest.raises(TypeError, match="'config' must be a TrainConfig"):
        prune_and_finetune(model, 'features.3', train_data, test_data,
                           {'epochs': 1})
