import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pyg_dnnmod.adversarial import runner as runner_module
from pyg_dnnmod.adversarial.cache import (
    UnstableParameterError,
    cache_key,
    load_cached_set,
    save_cached_set,
)
from pyg_dnnmod.adversarial.runner import adversarial_examples


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
        m.setattr(runner_module, '_collect', no_attack)
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


def test_stale_key_is_not_reused(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    x = torch.rand(8, 1, 2, 2)
    y = model(x).argmax(dim=1)
    adv = adversarial_examples(model, x, y, 'fgsm', num_samples=2, eps=0.5,
                               progress=False)
    path = tmp_path / 'fgsm-x.pt'
    save_cached_set(path, 'a' * 64, adv)
    assert load_cached_set(path, 'a' * 64, adv.params).cached
    with pytest.warns(UserWarning, match='unreadable adversarial cache.*'
                      'its key differs'):
        assert load_cached_set(path, 'b' * 64, adv.params) is None


def test_unstable_parameter_is_not_cached(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    x = torch.rand(20, 1, 2, 2)
    y = model(x).argmax(dim=1)

    def loss_fn(out, target):
        return F.cross_entropy(out, target, reduction='sum')

    args = (model, x, y, 'fgsm', {'loss_fn': loss_fn}, 0, None, 64,
            torch.device('cpu'))
    with pytest.raises(UnstableParameterError, match=r'<function .*loss_fn at 0x'):
        cache_key(*args)
    with pytest.warns(UserWarning, match="not caching the 'fgsm' set"):
        adv = adversarial_examples(model, x, y, 'fgsm', num_samples=2,
                                   eps=0.5, loss_fn=loss_fn,
                                   cache_dir=tmp_path, progress=False)
    assert len(adv) >= 1 and list(tmp_path.iterdir()) == []
