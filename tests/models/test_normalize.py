import pytest
import torch
from torch import nn

from pyg_dnnmod.models import Normalize, NormalizedModel


def test_normalize_per_channel_values():
    norm = Normalize(mean=[0.5, 0.25, 0.0], std=[0.5, 0.25, 2.0])
    x = torch.tensor([1.0, 0.5, 3.0]).view(1, 3, 1, 1).expand(2, 3, 2, 2)
    out = norm(x)
    # (1 - .5) / .5 = 1, (.5 - .25) / .25 = 1, (3 - 0) / 2 = 1.5
    assert out.shape == (2, 3, 2, 2)
    assert out[:, 0].unique().tolist() == [1.0]
    assert out[:, 1].unique().tolist() == [1.0]
    assert out[:, 2].unique().tolist() == [1.5]


def test_normalize_identity_and_partial():
    x = torch.rand(2, 3, 4, 4)
    norm = Normalize()
    assert norm.is_identity
    assert norm(x) is x
    assert torch.equal(Normalize(mean=0.5)(x), x - 0.5)
    assert torch.equal(Normalize(std=[2.0, 4.0, 8.0])(x)[:, 2], x[:, 2] / 8)
    # A scalar mean broadcasts against a per-channel std.
    out = Normalize(mean=1.0, std=[1.0, 2.0, 4.0])(torch.full((1, 3, 1, 1),
                                                              3.0))
    assert out.flatten().tolist() == [2.0, 1.0, 0.5]


def test_normalize_two_dimensional_input():
    norm = Normalize(mean=[1.0, 2.0], std=[1.0, 4.0])
    assert norm(torch.tensor([[3.0, 6.0]])).tolist() == [[2.0, 1.0]]


def test_normalize_buffers_not_in_state_dict_and_follow_dtype():
    norm = Normalize(mean=[0.5], std=[0.5])
    assert dict(norm.state_dict()) == {}
    norm = norm.double()
    assert norm.mean.dtype == torch.float64
    out = norm(torch.ones(1, 1, 1, 1, dtype=torch.float64))
    assert out.dtype == torch.float64 and out.item() == 1.0


def test_normalize_accepts_numpy():
    import numpy as np
    norm = Normalize(mean=np.array([0.5, 0.5]), std=(0.25, 0.5))
    assert norm.mean.flatten().tolist() == [0.5, 0.5]
    assert norm.std.flatten().tolist() == [0.25, 0.5]


def test_normalize_tensor_input_is_copied():
    mean = torch.tensor([0.5])
    norm = Normalize(mean=mean)
    mean += 1
    assert norm.mean.item() == 0.5


def test_normalize_bad_input():
    with pytest.raises(ValueError, match=r"'std' must be > 0"):
        Normalize(std=[1.0, 0.0])
    with pytest.raises(ValueError, match=r"'mean' must be finite"):
        Normalize(mean=[float('nan')])
    with pytest.raises(ValueError, match=r"same length \(got 3 and 2\)"):
        Normalize(mean=[0.0, 0.0, 0.0], std=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"'mean' must not be empty"):
        Normalize(mean=[])
    with pytest.raises(TypeError, match=r"'mean' must be a float.*got '0.5'"):
        Normalize(mean='0.5')
    with pytest.raises(TypeError, match=r"'std' must be a float"):
        Normalize(std=[[1.0, 2.0], [3.0]])
    norm = Normalize(mean=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"3 channels .*got shape \(1, 1, 2, "
                       r"2\)"):
        norm(torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        norm(torch.zeros(3))


def test_normalized_model():
    lin = nn.Linear(2, 1)
    model = NormalizedModel(lin, mean=[0.5, 1.0], std=[0.5, 2.0])
    x = torch.tensor([[1.0, 3.0]])
    expected = lin(torch.tensor([[1.0, 1.0]]))
    assert torch.equal(model(x), expected)
    assert [name for name, _ in model.named_children()] == [
        'normalize', 'model'
    ]
    # Attacks take gradients in pixel space: d/dx (w * (x - m) / s) = w / s.
    x.requires_grad_(True)
    model(x).sum().backward()
    assert torch.allclose(x.grad, lin.weight / torch.tensor([0.5, 2.0]))
    with pytest.raises(TypeError, match=r"'model' must be a torch.nn.Module "
                       r"\(got function\)"):
        NormalizedModel(lambda x: x)
