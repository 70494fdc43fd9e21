import pytest
import torch

from pyg_dnnmod import modularity
from pyg_dnnmod.utils import (
    knn_graph,
    neighbour_similarity,
    prepare_features,
    random_projection,
)


def clustered(n=400, d=2048, num_classes=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % num_classes
    x = (torch.randn(num_classes, d, generator=gen)[y] +
         1.5 * torch.randn(n, d, generator=gen)).relu()
    return x, y


def test_random_projection_is_seeded_and_device_independent(device):
    x = torch.randn(20, 5000)
    a = random_projection(x, 64, seed=1)
    assert torch.equal(a, random_projection(x, 64, seed=1))
    assert not torch.equal(a, random_projection(x, 64, seed=2))
    b = random_projection(x.to(device), 64, seed=1).cpu()
    assert torch.allclose(a, b, atol=1e-4)
    # The chunked product equals one product with the same matrix.
    gen = torch.Generator().manual_seed(1)
    r = torch.cat([torch.randn(4096, 64, generator=gen),
                   torch.randn(5000 - 4096, 64, generator=gen)])
    assert torch.allclose(a, x @ r / 8.0, atol=1e-4)


def test_random_projection_preserves_norms_on_average():
    x = torch.randn(500, 3000, generator=torch.Generator().manual_seed(0))
    ratio = (random_projection(x, 1024).norm(dim=1) / x.norm(dim=1))**2
    # E[ratio^2] = 1 and std(ratio^2) = sqrt(2 / d) = 0.044.
    assert abs(float(ratio.mean()) - 1) < 0.01
    assert 0.03 < float(ratio.std()) < 0.06


def test_random_projection_narrow_input_unchanged_and_bad_width():
    x = torch.randn(4, 3, 2)
    assert torch.equal(random_projection(x, 6), x.view(4, 6))
    with pytest.raises(ValueError, match=r"'out_channels' must be .* \(got 0\)"):
        random_projection(x, 0)


def test_knn_projection_keeps_exact_weights_and_modularity():
    x, y = clustered()
    index, weight = knn_graph(x, k=5)
    p_index, p_weight = knn_graph(x, k=5, projection=256, symmetrize='none')
    z = prepare_features(x, 'cosine', 1e-8)
    # Weights are the similarities of the original rows.
    exact = neighbour_similarity(z, p_index[1], p_index[0].view(-1, 1),
                                 'cosine').view(-1)
    assert torch.equal(p_weight, exact)
    # Within a class the similarities are nearly equal, so the projected
    # neighbours are other members of the class (measured overlap with the
    # exact ones: 15 %, 24 %, 39 % at d = 64, 256, 1024) and the modularity
    # holds at d = 256 (measured 0.79997 against 0.79998).
    p_index, p_weight = knn_graph(x, k=5, projection=256)
    assert abs(modularity(index, y, weight) -
               modularity(p_index, y, p_weight)) < 0.005
    assert bool((y[p_index[0]] == y[p_index[1]]).all())
    overlap = []
    for d in (64, 256, 1024):
        p_index, _ = knn_graph(x, k=5, projection=d)
        pairs = set(map(tuple, p_index.t().tolist()))
        overlap.append(len(pairs & set(map(tuple, index.t().tolist()))))
    assert overlap == sorted(overlap) and overlap[0] < overlap[-1]


def test_knn_projection_wider_than_input_is_exact_and_duplicates_tie():
    x, _ = clustered(n=60, d=32)
    x[10] = x[3]
    ref = knn_graph(x, k=3)
    out = knn_graph(x, k=3, projection=64)
    assert torch.equal(ref[0], out[0]) and torch.equal(ref[1], out[1])
    index, weight = knn_graph(x, k=3, projection=8, symmetrize='none')
    # Copies find each other (similarity 1) whatever the projection does.
    for node, copy in ((10, 3), (3, 10)):
        mask = index[1] == node
        assert copy in index[0, mask].tolist()
        assert float(weight[mask][index[0, mask] == copy]) == \
            pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize('bad', [0, -3, 2.5, True])
def test_knn_projection_bad_value(bad):
    with pytest.raises(ValueError, match=r"'projection' must be None or"):
        knn_graph(torch.randn(5, 4), k=1, projection=bad)
