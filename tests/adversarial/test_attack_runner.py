import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pyg_dnnmod.adversarial import import_advertorch
from pyg_dnnmod.adversarial.registry import TARGET_RULE
from pyg_dnnmod.adversarial.runner import adversarial_examples
from pyg_dnnmod.adversarial.sets import AdversarialSet, attack_summary
from pyg_dnnmod.datasets import load_digits_images
from pyg_dnnmod.models import get_model


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
