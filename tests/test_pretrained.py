import pytest
import torch

from pyg_dnnmod.pretrained import (
    DIGITS_RECIPE,
    digits_data,
    pretrained_digits_cnn,
    recipe_key,
)


def test_data_halves():
    x_tr, y_tr = digits_data('train')
    x_te, y_te = digits_data('test')
    assert x_tr.shape[1:] == x_te.shape[1:] == (1, 16, 16)
    assert len(x_tr) + len(x_te) == 1797
    assert float(x_te.min()) >= 0.0 and float(x_te.max()) <= 1.0
    assert torch.bincount(y_te).min() >= 50  # N=500 balanced fits


def test_cached_model_is_reused_and_a_bad_file_is_not(trained_digits,
                                                      default_cache):
    model, info = trained_digits
    again, info2 = pretrained_digits_cnn()
    assert info2['cached'] and info2['path'] == info['path']
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert recipe_key() in info['path']
    # A corrupted cache file is retrained, with a warning, never reused.
    other = default_cache / 'other'
    other.mkdir()
    path = other / f'digits_cnn_{recipe_key()}.pt'
    path.write_bytes(b'not a checkpoint')
    with pytest.warns(UserWarning, match='unusable'):
        fresh, info3 = pretrained_digits_cnn(cache=other)
    assert not info3['cached'] and info3['test_acc'] >= 0.9
    assert DIGITS_RECIPE['epochs'] == info3['epochs']
