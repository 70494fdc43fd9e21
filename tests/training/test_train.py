import math
import os

import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from pyg_dnnmod.datasets.images import make_gaussian_clusters
from pyg_dnnmod.training import (
    TrainConfig,
    checkpoint_path,
    evaluate,
    list_checkpoints,
    load_checkpoint,
    random_crop_flip,
    read_checkpoint,
    save_checkpoint,
    train,
)

torch.set_num_threads(1)


def make_model(seed=0, hidden=8):
    torch.manual_seed(seed)
    # Dropout makes every epoch consume random numbers, which resuming must
    # reproduce.
    return nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(hidden, 3))


def make_data(num_samples=48, seed=0):
    x, y = make_gaussian_clusters(num_samples, 3, dim=4, separation=2.0,
                                  seed=seed)
    return x, y


CONFIG = TrainConfig(epochs=4, batch_size=16, lr=0.05, weight_decay=0.005,
                     milestones=(2, ), gamma=0.5, seed=7)


def assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_history_and_checkpoints(tmp_path):
    train_data, test_data = make_data(), make_data(30, seed=1)
    model = make_model()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    init_train = evaluate(model, train_data)
    init_test = evaluate(model, test_data)
    seen = []

    def callback(epoch, m):
        assert m is model and not m.training
        seen.append(epoch)

    history = train(model, train_data, test_data, CONFIG, tmp_path,
                    callback=callback, progress=False)
    assert isinstance(history, pd.DataFrame)
    assert list(history.columns) == ['epoch', 'train_loss', 'train_acc',
                                     'test_loss', 'test_acc', 'lr', 'seconds']
    assert history['epoch'].tolist() == [0, 1, 2, 3, 4]
    assert seen == [0, 1, 2, 3, 4]
    # Epoch 0 is the untrained model.
    row = history.iloc[0]
    assert (row.train_loss, row.train_acc) == pytest.approx(init_train)
    assert (row.test_loss, row.test_acc) == pytest.approx(init_test)
    # lr is divided by 2 after epoch 2.
    assert history['lr'].tolist() == pytest.approx(
        [0.05, 0.05, 0.05, 0.025, 0.025])
    # The last row's test metrics are those of the returned model.
    assert (history.iloc[-1].test_loss,
            history.iloc[-1].test_acc) == pytest.approx(
                evaluate(model, test_data))
    assert history.iloc[-1].train_loss < history.iloc[0].train_loss
    assert model.training  # the caller's mode is restored

    found = list_checkpoints(tmp_path)
    assert [e for e, _ in found] == [0, 1, 2, 3, 4]
    assert [p.name for _, p in found] == [f'epoch_00{i}.pt' for i in range(5)]
    assert sorted(os.listdir(tmp_path)) == [p.name for _, p in found]
    ckpt0 = torch.load(found[0][1], weights_only=True)
    for key, value in initial.items():
        assert torch.equal(ckpt0['model'][key], value)
    ckpt4 = torch.load(found[-1][1], weights_only=True)
    assert ckpt4['epoch'] == 4
    assert ckpt4['config'] == CONFIG.to_dict()
    assert pd.DataFrame(ckpt4['history']).drop(columns='seconds').equals(
        history.drop(columns='seconds'))
    fresh = make_model(seed=123)
    out = load_checkpoint(fresh, found[-1][1])
    assert out['epoch'] == 4
    assert_same_state(fresh, model)


@pytest.mark.parametrize('optimizer', ['sgd', 'adamw'])
def test_resume_equals_uninterrupted(tmp_path, optimizer):
    CONFIG = TrainConfig(**{**globals()['CONFIG'].to_dict(),
                            'optimizer': optimizer})
    train_data, test_data = make_data(), make_data(30, seed=1)
    full_model = make_model()
    full = train(full_model, train_data, test_data, CONFIG,
                 tmp_path / 'full', progress=False)

    class Crash(Exception):
        pass

    # Crash before the lr milestone, so that the scheduler state matters.
    def crash_after_one(epoch, model):
        if epoch == 1:
            raise Crash

    part_model = make_model()
    with pytest.raises(Crash):
        train(part_model, train_data, test_data, CONFIG, tmp_path / 'part',
              callback=crash_after_one, progress=False)
    assert [e for e, _ in list_checkpoints(tmp_path / 'part')] == [0, 1]

    # A new process: a fresh model object, whatever its initial weights.
    resumed_model = make_model(seed=99)
    calls = []
    resumed = train(resumed_model, train_data, test_data, CONFIG,
                    tmp_path / 'part', resume=True,
                    callback=lambda e, m: calls.append(e), progress=False)
    assert calls == [2, 3, 4]
    assert_same_state(resumed_model, full_model)
    assert resumed.drop(columns='seconds').equals(
        full.drop(columns='seconds'))
    state = read_checkpoint(checkpoint_path(tmp_path / 'full', 4))
    adam = 'exp_avg' in state['optimizer']['state'][0]
    assert adam == (optimizer == 'adamw')
    assert state['config']['optimizer'] == optimizer

    # Resuming a finished run trains nothing and returns its history.
    done = train(make_model(), train_data, test_data, CONFIG,
                 tmp_path / 'full', resume=True, progress=False)
    assert done.drop(columns='seconds').equals(full.drop(columns='seconds'))

    # Extending a finished run by more epochs is allowed.
    longer = TrainConfig(**{**CONFIG.to_dict(), 'epochs': 5})
    more = train(make_model(), train_data, test_data, longer,
                 tmp_path / 'full', resume=True, progress=False)
    assert more['epoch'].tolist() == [0, 1, 2, 3, 4, 5]


def test_resume_guards(tmp_path):
    data = make_data()
    train(make_model(), data, None, TrainConfig(epochs=1, batch_size=16),
          tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"already holds checkpoints \(up to "
                       r"epoch 1\).*resume=True"):
        train(make_model(), data, None, TrainConfig(epochs=2), tmp_path,
              progress=False)
    with pytest.raises(ValueError, match=r"configuration differs \(batch_size"
                       r"=16 in checkpoint vs 256 now, lr="):
        train(make_model(), data, None, TrainConfig(epochs=2, lr=0.1),
              tmp_path, resume=True, progress=False)
    with pytest.raises(ValueError, match=r"epoch_001.pt' does not fit the "
                       r"model"):
        train(make_model(hidden=5), data, None,
              TrainConfig(epochs=2, batch_size=16), tmp_path, resume=True,
              progress=False)
    with pytest.raises(ValueError, match=r"configuration differs \(optimizer"
                       r"='sgd' in checkpoint vs 'adamw' now\)"):
        train(make_model(), data, None,
              TrainConfig(epochs=2, batch_size=16, optimizer='adamw'),
              tmp_path, resume=True, progress=False)
    # A checkpoint written before the optimizer was a field resumes as SGD.
    path = checkpoint_path(tmp_path, 1)
    old = read_checkpoint(path)
    del old['config']['optimizer']
    save_checkpoint(old, path)
    history = train(make_model(), data, None,
                    TrainConfig(epochs=2, batch_size=16), tmp_path,
                    resume=True, progress=False)
    assert history['epoch'].tolist() == [0, 1, 2]
    # resume=True without any checkpoint starts from scratch.
    history = train(make_model(), data, None, TrainConfig(epochs=1),
                    tmp_path / 'new', resume=True, progress=False)
    assert history['epoch'].tolist() == [0, 1]
    assert history['test_acc'].isna().all()


def test_seeded_and_restores_global_rng():
    data = make_data()
    config = TrainConfig(epochs=2, batch_size=8, lr=0.05)
    a, b, c = make_model(), make_model(), make_model()
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    train(a, data, None, config, progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    train(b, data, None, config, progress=False)
    assert_same_state(a, b)
    train(c, data, None, TrainConfig(epochs=2, batch_size=8, lr=0.05, seed=1),
          progress=False)
    assert not torch.equal(a[0].weight, c[0].weight)


def test_dataset_input_and_progress_bar(capsys):
    x, y = make_data()
    model = make_model()
    history = train(model, TensorDataset(x, y), TensorDataset(x, y),
                    TrainConfig(epochs=2, batch_size=16), progress=True)
    assert history['epoch'].tolist() == [0, 1, 2]
    assert history.loc[2, ['test_loss', 'test_acc']].tolist() == \
        pytest.approx(list(evaluate(model, (x, y))))
    captured = capsys.readouterr()
    assert captured.out == ''
    assert 'train' in captured.err and '2/2' in captured.err


def test_evaluate_hand_computed():
    model = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
    x = torch.tensor([[2.0, 0.0], [0.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    y = torch.tensor([0, 2, 0, 1])
    # Logits: [2,0,0], [0,0,0], [0,3,0], [1,1,0].
    losses = [
        -math.log(math.exp(2) / (math.exp(2) + 2)),
        -math.log(1 / 3),
        -math.log(1 / (math.exp(3) + 2)),
        -math.log(math.e / (2 * math.e + 1)),
    ]
    loss, acc = evaluate(model, (x, y), batch_size=3)
    assert loss == pytest.approx(sum(losses) / 4, rel=1e-6)
    # argmax ties go to the first index: predictions 0, 0, 1, 0.
    assert acc == pytest.approx(1 / 4)
    model.train()
    evaluate(model, TensorDataset(x, y))
    assert model.training


def test_bad_input():
    x, y = make_data()
    model = make_model()
    with pytest.raises(ValueError, match=r"'train_data' has 48 inputs but 47 "
                       r"labels"):
        train(model, (x, y[:-1]), None, progress=False)
    with pytest.raises(TypeError, match=r"'train_data' labels must be a "
                       r"one-dimensional integer tensor"):
        train(model, (x, y.float()), None, progress=False)
    with pytest.raises(TypeError, match=r"'test_data' must be an \(x, y\) "
                       r"pair"):
        train(model, (x, y), (x, y, y), progress=False)
    with pytest.raises(ValueError, match=r"'data' is empty"):
        evaluate(model, (x[:0], y[:0]))
    with pytest.raises(TypeError, match=r"'config' must be a TrainConfig "
                       r"\(got dict\)"):
        train(model, (x, y), None, {'epochs': 1}, progress=False)
    with pytest.raises(ValueError, match=r"'batch_size' must be an integer "
                       r">= 1 \(got 0\)"):
        evaluate(model, (x, y), batch_size=0)


def test_config_validation():
    assert TrainConfig() == TrainConfig(150, 256, 0.01, 0.9, 0.005, False,
                                        (50, 100), 0.1, 0, 1024, 0, 'sgd')
    with pytest.raises(ValueError, match=r"'optimizer' must be one of "
                       r"\('sgd', 'adamw'\) \(got 'adam'\)"):
        TrainConfig(optimizer='adam')
    with pytest.raises(ValueError, match=r"'epochs' must be >= 0 \(got -1\)"):
        TrainConfig(epochs=-1)
    with pytest.raises(TypeError, match=r"'batch_size' must be an integer "
                       r"\(got 2.5\)"):
        TrainConfig(batch_size=2.5)
    with pytest.raises(ValueError, match=r"'milestones' must be strictly "
                       r"increasing .* \(got \[5, 3\]\)"):
        TrainConfig(milestones=[5, 3])
    with pytest.raises(ValueError, match=r"'weight_decay' must be >= 0"):
        TrainConfig(weight_decay=-0.1)
    with pytest.raises(ValueError, match=r"'lr' must be finite \(got nan\)"):
        TrainConfig(lr=float('nan'))


def test_load_checkpoint_mismatch(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3))
    path = save_checkpoint({'epoch': 3, 'model': model.state_dict()},
                           tmp_path / 'ckpt.pt')
    other = nn.Sequential(nn.Linear(4, 6), nn.Linear(6, 3), nn.Linear(3, 2))
    with pytest.raises(ValueError) as info:
        load_checkpoint(other, path)
    message = str(info.value)
    assert "checkpoint '" + str(path) + "' does not fit the model" in message
    assert 'missing keys: 2.weight, 2.bias' in message
    assert '0.weight [8, 4] in file vs [6, 4] in model' in message
    assert '1.weight [3, 8] in file vs [3, 6] in model' in message
    before = other.state_dict()['0.weight'].clone()
    assert torch.equal(other.state_dict()['0.weight'], before)  # untouched

    smaller = nn.Sequential(nn.Linear(4, 8))
    with pytest.raises(ValueError, match=r"unexpected keys: 1.weight, "
                       r"1.bias"):
        load_checkpoint(smaller, path)

    # A bare state_dict loads as well.
    bare = tmp_path / 'bare.pt'
    torch.save(model.state_dict(), bare)
    copy = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 3))
    out = load_checkpoint(copy, bare)
    assert list(out) == ['model']
    assert list(read_checkpoint(bare)) == ['model']
    assert_same_state(copy, model)


class _Payload:
    pass


def test_load_checkpoint_refuses_code_and_junk(tmp_path):
    model = nn.Linear(2, 2)
    unsafe = tmp_path / 'unsafe.pt'
    torch.save({'model': model.state_dict(), 'extra': _Payload()}, unsafe)
    with pytest.raises(ValueError, match=r"unsafe.pt' is not a checkpoint "
                       r"that loads with weights_only=True"):
        load_checkpoint(model, unsafe)
    junk = tmp_path / 'junk.pt'
    junk.write_text('hello')
    with pytest.raises(ValueError, match=r"junk.pt' is not a checkpoint"):
        load_checkpoint(model, junk)
    listing = tmp_path / 'list.pt'
    torch.save([1, 2], listing)
    with pytest.raises(ValueError, match=r"does not hold a dict \(got "
                       r"list\)"):
        load_checkpoint(model, listing)
    with pytest.raises(FileNotFoundError, match=r"missing.pt' does not "
                       r"exist"):
        load_checkpoint(model, tmp_path / 'missing.pt')


def test_save_checkpoint_is_atomic(tmp_path, monkeypatch):
    path = checkpoint_path(tmp_path, 3)
    assert path.name == 'epoch_003.pt'
    save_checkpoint({'epoch': 3, 'value': torch.ones(2)}, path)

    def broken_save(obj, f):
        with open(f, 'wb') as handle:
            handle.write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint({'epoch': 3, 'value': torch.zeros(2)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ['epoch_003.pt']  # no temporary left
    assert torch.equal(torch.load(path, weights_only=True)['value'],
                       torch.ones(2))


def test_random_crop_flip():
    torch.manual_seed(0)
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float).view(2, 3, 5, 5) + 1
    assert torch.equal(random_crop_flip(x, padding=0, flip=False), x)
    padded = nn.functional.pad(x, (2, 2, 2, 2))
    seen = set()
    for _ in range(20):
        out = random_crop_flip(x, padding=2)
        assert out.shape == x.shape
        for i in range(2):
            matches = [
                (r, c, f) for r in range(5) for c in range(5)
                for f in (False, True)
                if torch.equal(out[i], (padded[i, :, r:r + 5, c:c + 5].flip(-1)
                                        if f else
                                        padded[i, :, r:r + 5, c:c + 5]))
            ]
            assert len(matches) == 1
            seen.add(matches[0])
    assert any(f for _, _, f in seen) and any(not f for _, _, f in seen)
    assert len({(r, c) for r, c, _ in seen}) > 5
    torch.manual_seed(5)
    a = random_crop_flip(x)
    torch.manual_seed(5)
    assert torch.equal(a, random_crop_flip(x))
    with pytest.raises(ValueError, match=r"\[B, C, H, W\] \(got 3 "
                       r"dimensions\)"):
        random_crop_flip(x[0])


def test_train_with_augment_resumes(tmp_path):
    torch.manual_seed(0)
    x = torch.rand(24, 1, 6, 6)
    y = torch.arange(24) % 2

    def conv_model():
        torch.manual_seed(3)
        return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(),
                             nn.Linear(32, 2))

    config = TrainConfig(epochs=3, batch_size=8, lr=0.05)
    full = conv_model()
    train(full, (x, y), None, config, tmp_path / 'a', progress=False,
          augment=random_crop_flip)
    part = conv_model()
    train(part, (x, y), None, TrainConfig(**{**config.to_dict(),
                                              'epochs': 1}),
          tmp_path / 'b', progress=False, augment=random_crop_flip)
    resumed = conv_model()
    train(resumed, (x, y), None, config, tmp_path / 'b', resume=True,
          progress=False, augment=random_crop_flip)
    assert_same_state(resumed, full)
    plain = conv_model()
    train(plain, (x, y), None, config, progress=False)
    assert not torch.equal(plain[0].weight, full[0].weight)
