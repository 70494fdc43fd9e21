r"""Shared fixtures of the adversarial tests: the translated digits and a
small CNN trained on them once per session."""
import pytest
import torch

from pyg_dnnmod.datasets import load_digits_images
from pyg_dnnmod.datasets.images import (
    TRANSLATED_DIGITS_MEAN,
    TRANSLATED_DIGITS_STD,
)
from pyg_dnnmod.models import get_model
from pyg_dnnmod.training import TrainConfig, evaluate, train

torch.set_num_threads(1)

# Under --doctest-modules pytest would also import this file as a test
# module named 'conftest', which clashes with the conftest.py of other test
# folders in the same run.
collect_ignore = ['conftest.py']


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
