import networkx as nx
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pyg_dnnmod.models import DigitsCNN, digits_cnn


def test_param_count_and_layout():
    # conv 1*32*9 + 32 = 320, 32*32*9 + 32 = 9,248, 32*64*9 + 64 = 18,496,
    # 64*64*9 + 64 = 36,928; BN 2 * (32 + 32 + 64 + 64) = 384;
    # fc 64*10 + 10 = 650; total 66,026.
    model = DigitsCNN()
    assert sum(p.numel() for p in model.parameters()) == 66_026
    assert [type(m).__name__ for m in model.features] == [
        'Conv2d', 'BatchNorm2d', 'ReLU', 'Conv2d', 'BatchNorm2d', 'ReLU',
        'MaxPool2d', 'Conv2d', 'BatchNorm2d', 'ReLU', 'Conv2d',
        'BatchNorm2d', 'ReLU', 'MaxPool2d'
    ]
    assert model(torch.rand(3, 1, 16, 16)).shape == (3, 10)


def test_options_and_bad_input():
    model = digits_cnn(num_classes=4, width=0.5, in_channels=3)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 16, 32, 32]
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 4)
    assert DigitsCNN(channels=(4, 4, 8, 8)).fc.in_features == 8
    with pytest.raises(ValueError, match=r"'channels' must have 4 entries "
                       r"\(got \(4, 8\)\)"):
        DigitsCNN(channels=(4, 8))
    with pytest.raises(ValueError, match=r"'channels' must be >= 1"):
        DigitsCNN(channels=(4, 4, 0, 8))


def translated_digits(seed: int = 0):
    from sklearn.datasets import load_digits
    digits = load_digits()
    rng = np.random.default_rng(seed)
    n = len(digits.target)
    x = np.zeros((n, 1, 16, 16), dtype=np.float32)
    offsets = rng.integers(0, 9, size=(n, 2))
    for i, (r, c) in enumerate(offsets):
        x[i, 0, r:r + 8, c:c + 8] = digits.images[i] / 16.0
    return torch.from_numpy(x), torch.from_numpy(digits.target)


def knn_modularity(features, labels, k=3):
    # Reference pipeline of the paper's code: cosine similarity, top-k other
    # nodes, (A + A^T) / 2, networkx modularity of the class partition.
    f = features.flatten(1).double()
    f = f / f.norm(dim=1, keepdim=True).clamp_min(1e-8)
    sim = f @ f.t()
    sim.fill_diagonal_(-float('inf'))
    val, idx = sim.topk(k, dim=1)
    adj = torch.zeros_like(sim).scatter_(1, idx, val)
    adj = (adj + adj.t()) / 2
    graph = nx.from_numpy_array(adj.numpy())
    parts = [set(np.flatnonzero(labels.numpy() == c)) for c in range(10)]
    return nx.community.modularity(graph, parts)


@pytest.fixture
def one_thread():
    # Small convolutions train fastest on one thread; more threads only
    # contend on a shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_trains_in_seconds_and_modularity_rises(one_thread):
    torch.manual_seed(0)
    x, y = translated_digits()
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    train, test = perm[:1300], perm[1300:]
    model = DigitsCNN()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]

    def last_conv_modularity():
        out = []
        handle = convs[-1].register_forward_hook(
            lambda m, i, o: out.append(o.detach()))
        model.eval()
        with torch.no_grad():
            model(x[test])
        handle.remove()
        return knn_modularity(out[0], y[test])

    q_init = last_conv_modularity()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(4):
        model.train()
        order = train[torch.randperm(len(train))]
        for i in range(0, len(order), 64):
            batch = order[i:i + 64]
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x[test]).argmax(1) == y[test]).float().mean().item()
    q_trained = last_conv_modularity()
    assert acc >= 0.9
    assert q_init < 0.35
    assert q_trained > 0.75
