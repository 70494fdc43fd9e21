import copy
import math
import warnings

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pyg_dnnmod.adversarial import attacks as attacks_module
from pyg_dnnmod.adversarial import import_advertorch
from pyg_dnnmod.adversarial.attacks import (
    ATTACKS,
    TARGET_RULE,
    AdversarialSet,
    adversarial_examples,
    attack_params,
    attack_summary,
)
from pyg_dnnmod.datasets import load_digits_images
from pyg_dnnmod.datasets._digits import (
    TRANSLATED_DIGITS_MEAN,
    TRANSLATED_DIGITS_STD,
)
from pyg_dnnmod.models import get_model
from pyg_dnnmod.training import TrainConfig, evaluate, train

torch.set_num_threads(1)


@pytest.fixture(scope='session')
def digits():
    return load_digits_images(translated=True, split='test')


@pytest.fixture(scope='session')
def trained(digits):
    torch.manual_seed(0)
    model = get_model('digits_cnn', mean=TRANSLATED_DIGITS_MEAN,
                      std=TRANSLATED_DIGITS_STD)
    train_data = load_digits_images(translated=True, split='train')
    train(model, train_data, None,
          TrainConfig(epochs=5, lr=0.05, batch_size=64, milestones=()),
          device='cpu', progress=False)
    model.eval()
    assert evaluate(model, digits)[1] > 0.8
    return model


def constant_model(num_pixels=64):
    # Always predicts class 0, whatever the input: no attack can succeed.
    model = nn.Sequential(nn.Flatten(), nn.Linear(num_pixels, 2))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([1.0, 0.0]))
    return model


def predict(model, x):
    with torch.no_grad():
        return model(x).argmax(dim=1)


def check_set(adv, model, x, y, attack):
    r"""Invariants of every non-empty set, checked independently."""
    assert isinstance(adv, AdversarialSet) and adv.attack == attack
    n = len(adv)
    assert n >= 1
    assert adv.x_adv.shape == (n, ) + tuple(x.shape[1:])
    assert torch.equal(adv.x_clean, x[adv.index])
    assert torch.equal(adv.y, y[adv.index])
    assert adv.index.unique().numel() == n
    # Only correctly classified samples are attacked ...
    assert torch.equal(predict(model, adv.x_clean), adv.y)
    # ... and only successful ones kept.
    pred_adv = predict(model, adv.x_adv)
    assert torch.equal(pred_adv, adv.pred)
    assert bool((pred_adv != adv.y).all())
    assert float(adv.x_adv.min()) >= 0.0 and float(adv.x_adv.max()) <= 1.0
    assert adv.num_attacked >= n
    assert 0.0 < adv.success_rate <= 1.0
    assert adv.seconds > 0 and not adv.cached and adv.note == ''


def test_attacks_are_the_papers():
    assert ATTACKS == {
        'fgsm': 'GradientSignAttack',
        'pgd': 'LinfPGDAttack',
        'jsma': 'JacobianSaliencyMapAttack',
        'cw': 'CarliniWagnerL2Attack',
        'single_pixel': 'SinglePixelAttack',
        'local_search': 'LocalSearchAttack',
    }
    module = import_advertorch()
    assert all(hasattr(module, name) for name in ATTACKS.values())


def test_attack_params_defaults_and_overrides():
    fgsm = attack_params('fgsm')
    assert fgsm == {'loss_fn': None, 'eps': 0.3, 'clip_min': 0.0,
                    'clip_max': 1.0, 'targeted': False}
    pgd = attack_params('PGD', eps=0.1, nb_iter=5)
    assert (pgd['eps'], pgd['nb_iter'], pgd['eps_iter']) == (0.1, 5, 0.01)
    cw = attack_params('cw', num_classes=10)
    assert cw['max_iterations'] == 200  # the paper's code, not 10000
    assert cw['num_classes'] == 10 and cw['binary_search_steps'] == 9
    assert attack_params('cw', max_iterations=7)['max_iterations'] == 7
    # AdverTorch raises a bare TypeError for an integer eps.
    assert isinstance(attack_params('pgd', eps=1, eps_iter=1)['eps_iter'],
                      float)
    assert attack_params('jsma', num_classes=3)['num_classes'] == 3
    assert attack_params('single_pixel', (3, 32, 32))['max_pixels'] == 100
    assert attack_params('single_pixel', (1, 8, 8))['max_pixels'] == 64
    with pytest.warns(UserWarning, match="'max_pixels' capped at the 64"):
        capped = attack_params('single_pixel', (1, 8, 8), max_pixels=500)
    assert capped['max_pixels'] == 64


@pytest.mark.parametrize('attack', ['fgsm', 'pgd'])
def test_linf_attacks_bounded_and_clipped(trained, digits, attack, device):
    x, y = digits
    model = trained.to(device)
    adv = adversarial_examples(model, x, y, attack, num_samples=6, eps=0.2,
                               device=device, progress=False)
    model.cpu()
    check_set(adv, model, x, y, attack)
    assert len(adv) == 6 and adv.params['eps'] == 0.2
    delta = (adv.x_adv - adv.x_clean).abs()
    assert float(delta.max()) <= 0.2 + 1e-6
    assert float(delta.max()) >= 0.2 - 1e-6
    if attack == 'fgsm':
        # Independent FGSM: one signed gradient step of the summed
        # cross-entropy, clipped to [0, 1].
        x0 = adv.x_clean.clone().requires_grad_()
        loss = F.cross_entropy(model(x0), adv.y, reduction='sum')
        grad, = torch.autograd.grad(loss, x0)
        expected = (adv.x_clean + 0.2 * grad.sign()).clamp(0, 1)
        assert torch.allclose(adv.x_adv, expected, atol=1e-6)


def test_jsma_is_targeted_and_changes_inputs(trained, digits):
    x, y = digits
    adv = adversarial_examples(trained, x, y, 'jsma', num_samples=3,
                               progress=False)
    check_set(adv, trained, x, y, 'jsma')
    assert adv.target_rule == TARGET_RULE == '(y + 1) mod C'
    assert adv.params['num_classes'] == 10
    delta = (adv.x_adv - adv.x_clean).abs().flatten(1).amax(dim=1)
    assert bool((delta > 0).all())
    # The trap: AdverTorch's JSMA given the true label as its "target" stops
    # at once and perturbs nothing.
    jsma = import_advertorch().JacobianSaliencyMapAttack(trained, 10)
    untouched = jsma.perturb(adv.x_clean, adv.y)
    assert float((untouched - adv.x_clean).abs().max()) == 0.0


def test_cw_with_200_iterations(trained, digits):
    x, y = digits
    adv = adversarial_examples(trained, x, y, 'cw', num_samples=2,
                               progress=False)
    check_set(adv, trained, x, y, 'cw')
    assert adv.params['max_iterations'] == 200
    assert adv.params['num_classes'] == 10
    assert adv.target_rule is None


def test_single_pixel_changes_one_pixel(trained, digits):
    x, y = digits
    adv = adversarial_examples(trained, x, y, 'single_pixel', num_samples=2,
                               progress=False)
    check_set(adv, trained, x, y, 'single_pixel')
    changed = (adv.x_adv != adv.x_clean).flatten(1).sum(dim=1)
    assert changed.tolist() == [1, 1]
    assert adv.params['max_pixels'] == 100


def test_local_search(trained, digits):
    x, y = digits
    adv = adversarial_examples(trained, x, y, 'local_search', num_samples=1,
                               progress=False)
    check_set(adv, trained, x, y, 'local_search')
    successes = adv.success_rate * adv.num_attacked
    assert successes == pytest.approx(round(successes)) and successes >= 1


def test_single_pixel_cap_on_small_images():
    x, _ = load_digits_images(translated=False)  # 8x8: fewer than 100 pixels
    x = x[:3]
    y = torch.zeros(3, dtype=torch.long)
    model = constant_model(64)
    # The trap: AdverTorch's default max_pixels=100 indexes past 64 pixels.
    attack = import_advertorch().SinglePixelAttack(model)
    with pytest.raises(IndexError):
        attack.perturb(x[:1], y[:1])
    with pytest.warns(UserWarning, match='failed on every one of the 3'):
        adv = adversarial_examples(model, x, y, 'single_pixel',
                                   progress=False)
    assert adv.params['max_pixels'] == 64
    assert len(adv) == 0 and adv.num_attacked == 3
    assert adv.success_rate == 0.0


def test_square_only_attacks_refuse_other_shapes():
    model = constant_model(128)
    x, y = torch.rand(2, 1, 8, 16), torch.zeros(2, dtype=torch.long)
    for attack in ('single_pixel', 'local_search'):
        with pytest.raises(ValueError, match=r'square images.*\[1, 8, 16\]'):
            adversarial_examples(model, x, y, attack, progress=False)


def test_failure_is_reported_not_raised():
    model = constant_model(4)
    x = torch.rand(5, 1, 2, 2)
    with pytest.warns(UserWarning, match='fgsm: the attack failed on every '
                      'one of the 5 correctly classified'):
        adv = adversarial_examples(model, x, torch.zeros(5, dtype=torch.long),
                                   'fgsm', num_samples=2, progress=False)
    assert len(adv) == 0 and adv.x_adv.shape == (0, 1, 2, 2)
    assert adv.success_rate == 0.0 and adv.num_attacked == 5
    assert 'failed on every one' in adv.note
    row = attack_summary([adv]).iloc[0]
    assert row['num_collected'] == 0 and math.isnan(row['linf_max'])

    with pytest.warns(UserWarning, match='nothing was attacked'):
        adv = adversarial_examples(model, x, torch.ones(5, dtype=torch.long),
                                   'fgsm', progress=False)
    assert adv.num_attacked == 0 and math.isnan(adv.success_rate)


def test_fewer_than_requested_is_reported(trained, digits):
    x, y = digits[0][:10], digits[1][:10]
    num_correct = int((predict(trained, x) == y).sum())
    with pytest.warns(UserWarning, match='collected .* of the 50 requested'):
        adv = adversarial_examples(trained, x, y, 'fgsm', num_samples=50,
                                   progress=False)
    assert adv.num_attacked == num_correct
    assert len(adv) == round(adv.success_rate * num_correct)


def test_stops_early_and_is_reproducible(trained, digits):
    x, y = digits
    state = torch.get_rng_state()
    a = adversarial_examples(trained, x, y, 'pgd', num_samples=3,
                             batch_size=16, progress=False, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    # All successful at this eps: the first chunk asks for exactly 3.
    assert a.num_attacked == 3 and len(a) == 3
    b = adversarial_examples(trained, x, y, 'pgd', num_samples=3,
                             batch_size=16, progress=False, seed=1)
    assert torch.equal(a.index, b.index) and torch.equal(a.x_adv, b.x_adv)
    c = adversarial_examples(trained, x, y, 'pgd', num_samples=3,
                             batch_size=16, progress=False, seed=2)
    assert not torch.equal(a.index, c.index)
    # The order is the seeded permutation, restricted to correct samples.
    order = torch.randperm(x.size(0),
                           generator=torch.Generator().manual_seed(1))
    correct = order[predict(trained, x[order]) == y[order]]
    assert a.index.tolist() == correct[:3].tolist()


def test_model_state_is_restored(digits):
    x, y = digits
    torch.manual_seed(0)
    model = get_model('digits_cnn', width=0.25)
    model.train()
    model.fc.weight.requires_grad_(False)
    running = model.features[1].running_mean.clone()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # whether it succeeds is not tested
        adversarial_examples(model, x[:40], y[:40], 'fgsm', num_samples=1,
                             progress=False)
    assert model.training
    assert not model.fc.weight.requires_grad
    assert all(p.requires_grad for n, p in model.named_parameters()
               if n != 'fc.weight')
    assert all(p.grad is None for p in model.parameters())
    # Evaluation mode during the attack: batch statistics untouched.
    assert torch.equal(model.features[1].running_mean, running)


def test_cache(trained, digits, tmp_path, monkeypatch):
    x, y = digits[0][:120], digits[1][:120]
    kwargs = dict(num_samples=4, cache_dir=tmp_path, progress=False)
    first = adversarial_examples(trained, x, y, 'fgsm', eps=0.1, **kwargs)
    assert not first.cached
    files = sorted(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.startswith('fgsm-')
    first_file = files[0]
    stored = torch.load(first_file, weights_only=True)
    assert torch.equal(stored['x_adv'], first.x_adv)

    def no_attack(*args, **kwargs):
        raise AssertionError('recomputed instead of loading the cache')

    with monkeypatch.context() as m:
        m.setattr(attacks_module, '_collect', no_attack)
        second = adversarial_examples(trained, x, y, 'fgsm', eps=0.1,
                                      **kwargs)
    assert second.cached
    for name in ('x_adv', 'y', 'x_clean', 'index', 'pred'):
        assert torch.equal(getattr(second, name), getattr(first, name))
    assert (second.success_rate, second.num_attacked, second.seconds) == (
        first.success_rate, first.num_attacked, first.seconds)
    assert second.params == first.params

    # Anything that changes the result changes the key.
    changed = adversarial_examples(trained, x, y, 'fgsm', eps=0.2, **kwargs)
    assert not changed.cached
    assert not adversarial_examples(trained, x, y, 'fgsm', eps=0.1, seed=1,
                                    **kwargs).cached
    assert not adversarial_examples(trained, x[:100], y[:100], 'fgsm',
                                    eps=0.1, **kwargs).cached
    other = copy.deepcopy(trained)
    with torch.no_grad():
        other.fc.bias[0] += 1e-3
    assert not adversarial_examples(other, x, y, 'fgsm', eps=0.1,
                                    **kwargs).cached
    # The normalisation statistics are not in the state_dict.
    other = copy.deepcopy(trained)
    other.normalize.mean += 0.01
    assert 'normalize.mean' not in other.state_dict()
    assert not adversarial_examples(other, x, y, 'fgsm', eps=0.1,
                                    **kwargs).cached
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 6
    assert all(name.endswith('.pt') and not name.startswith('.')
               for name in files)

    # A damaged file is rebuilt, with a warning.
    first_file.write_bytes(b'not a torch file')
    with pytest.warns(UserWarning, match='unreadable adversarial cache'):
        again = adversarial_examples(trained, x, y, 'fgsm', eps=0.1,
                                     **kwargs)
    assert not again.cached and torch.equal(again.x_adv, first.x_adv)
    assert adversarial_examples(trained, x, y, 'fgsm', eps=0.1,
                                **kwargs).cached


def test_attack_summary(trained, digits):
    x, y = digits
    sets = {
        'fgsm 0.1': adversarial_examples(trained, x, y, 'fgsm', eps=0.1,
                                         num_samples=3, progress=False),
        'pgd': adversarial_examples(trained, x, y, 'pgd', num_samples=2,
                                    progress=False),
    }
    df = attack_summary(sets)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == [
        'name', 'attack', 'success_rate', 'num_collected', 'num_attacked',
        'linf_mean', 'linf_max', 'l2_mean', 'l2_max', 'seconds',
        'target_rule', 'note'
    ]
    assert df['name'].tolist() == ['fgsm 0.1', 'pgd']
    assert df['attack'].tolist() == ['fgsm', 'pgd']
    for row, adv in zip(df.itertuples(), sets.values()):
        delta = (adv.x_adv - adv.x_clean).double().flatten(1)
        l2 = delta.pow(2).sum(dim=1).sqrt()
        assert row.num_collected == len(adv)
        assert row.linf_max == pytest.approx(float(delta.abs().max()))
        assert row.linf_mean == pytest.approx(
            float(delta.abs().amax(dim=1).mean()))
        assert row.l2_mean == pytest.approx(float(l2.mean()))
        assert row.l2_max == pytest.approx(float(l2.max()))
        assert row.success_rate == adv.success_rate
        assert row.seconds == adv.seconds
    assert df['linf_max'].iloc[0] == pytest.approx(0.1, abs=1e-6)
    assert list(attack_summary(list(sets.values())).columns)[0] == 'attack'
    with pytest.raises(TypeError, match='wrap it in a list'):
        attack_summary(sets['pgd'])


def test_bad_input():
    model = constant_model(4)
    x, y = torch.rand(10, 1, 2, 2), torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match="Unknown attack 'deepfool'; valid "
                       'names: fgsm, pgd, jsma, cw, single_pixel, '
                       'local_search'):
        adversarial_examples(model, x, y, 'deepfool')
    with pytest.raises(ValueError, match="'x' has 10 inputs but 'y' has 9"):
        adversarial_examples(model, x, y[:9])
    with pytest.raises(TypeError, match="'y' must be a one-dimensional "
                       'integer tensor'):
        adversarial_examples(model, x, y.float())
    with pytest.raises(TypeError, match="'x' must be a floating-point"):
        adversarial_examples(model, x.long(), y)
    with pytest.raises(ValueError, match=r"'x' must lie in \[clip_min, "
                       r'clip_max\] = \[0.0, 1.0\].*pixel space'):
        adversarial_examples(model, x - 0.5, y)
    with pytest.raises(ValueError, match=r"'y' must hold labels in \[0, 1\]"):
        adversarial_examples(model, x, y + 2)
    with pytest.raises(ValueError, match="Unknown parameter 'epsilon' of "
                       "attack 'fgsm'.*valid parameters: .*eps"):
        adversarial_examples(model, x, y, 'fgsm', epsilon=0.1)
    with pytest.raises(ValueError, match="'predict' of attack 'pgd' is "
                       'supplied'):
        adversarial_examples(model, x, y, 'pgd', predict=model)
    with pytest.raises(ValueError, match="'num_classes' must match the "
                       "model's 2 outputs \\(got 10\\)"):
        adversarial_examples(model, x, y, 'cw', num_classes=10)
    with pytest.raises(ValueError, match="Unknown parameter 'num_classes' "
                       "of attack 'fgsm'"):
        adversarial_examples(model, x, y, 'fgsm', num_classes=2)
    with pytest.raises(ValueError, match="'num_samples' must be >= 1 "
                       r'\(got 0\)'):
        adversarial_examples(model, x, y, num_samples=0)
    with pytest.raises(ValueError, match="'batch_size' must be >= 1"):
        adversarial_examples(model, x, y, batch_size=0)
    with pytest.raises(TypeError, match="'model' must be a torch.nn.Module"):
        adversarial_examples(lambda t: t, x, y)
    with pytest.raises(ValueError, match='logits'):
        adversarial_examples(nn.Flatten(0), x, y)
