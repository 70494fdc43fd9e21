import pytest
import torch

# The folders of tests/ are not packages, so every conftest.py is the module
# 'conftest'; collected again for doctests (--doctest-modules), two of them
# would clash. They hold fixtures, not doctests.
collect_ignore_glob = ['conftest.py', '*/conftest.py']

DEVICES = [pytest.param('cpu', id='cpu'),
           pytest.param('cuda', id='cuda', marks=pytest.mark.skipif(
               not torch.cuda.is_available(), reason='no CUDA device'))]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(scope='session')
def default_cache(tmp_path_factory):
    r"""A session-wide cache folder for the default model, shared with CLI
    subprocesses through the environment, so it is trained once per run."""
    import os
    folder = tmp_path_factory.mktemp('cache')
    old = os.environ.get('PYG_DNNMOD_CACHE')
    os.environ['PYG_DNNMOD_CACHE'] = str(folder)
    yield folder
    if old is None:
        os.environ.pop('PYG_DNNMOD_CACHE', None)
    else:
        os.environ['PYG_DNNMOD_CACHE'] = old


@pytest.fixture(scope='session')
def trained_digits(default_cache):
    r"""The default DigitsCNN trained with the default recipe."""
    from pyg_dnnmod.pretrained import pretrained_digits_cnn
    model, info = pretrained_digits_cnn()
    return model, info
