import math

import pytest
import torch
import torch.nn.functional as F

from pyg_dnnmod.similarity import (
    AlignmentScore,
    alignment_null_from_indices,
    cknna,
    cknna_from_indices,
    cycle_knn,
    cycle_knn_from_indices,
    knn_alignment,
    knn_chance_level,
    knn_indices,
    knn_jaccard,
    knn_jaccard_from_indices,
    mutual_knn,
    mutual_knn_from_indices,
)
from pyg_dnnmod.similarity import _alignment

torch.set_num_threads(1)

# ---------------------------------------------------------------------------
# The references, re-typed from their definitions as written:
# minyoungg/platonic-rep, metrics.py (on features L2-normalised first, as
# its measure_alignment.compute_score does), and mklabunde/resi,
# repsim/measures/nearest_neighbor.py.
# ---------------------------------------------------------------------------


def ref_compute_nearest_neighbors(feats, topk=1):
    assert feats.ndim == 2, f"Expected feats to be 2D, got {feats.ndim}"
    knn = ((feats @ feats.T).fill_diagonal_(-1e8)
           .argsort(dim=1, descending=True)[:, :topk])
    return knn


def ref_compute_knn_accuracy(knn):
    n = knn.shape[0]
    acc = knn == torch.arange(n, device=knn.device).view(-1, 1, 1)
    acc = acc.float().view(n, -1).max(dim=1).values.mean()
    return acc


def ref_mutual_knn(feats_A, feats_B, topk):
    knn_A = ref_compute_nearest_neighbors(feats_A, topk)
    knn_B = ref_compute_nearest_neighbors(feats_B, topk)
    n = knn_A.shape[0]
    topk = knn_A.shape[1]
    range_tensor = torch.arange(n, device=knn_A.device).unsqueeze(1)
    lvm_mask = torch.zeros(n, n, device=knn_A.device)
    llm_mask = torch.zeros(n, n, device=knn_A.device)
    lvm_mask[range_tensor, knn_A] = 1.0
    llm_mask[range_tensor, knn_B] = 1.0
    acc = (lvm_mask * llm_mask).sum(dim=1) / topk
    return acc.mean().item()


def ref_cycle_knn(feats_A, feats_B, topk):
    knn_A = ref_compute_nearest_neighbors(feats_A, topk)
    knn_B = ref_compute_nearest_neighbors(feats_B, topk)
    return ref_compute_knn_accuracy(knn_A[knn_B]).item()


def ref_hsic_unbiased(K, L):
    m = K.shape[0]
    K_tilde = K.clone().fill_diagonal_(0)
    L_tilde = L.clone().fill_diagonal_(0)
    HSIC_value = (
        (torch.sum(K_tilde * L_tilde.T))
        + (torch.sum(K_tilde) * torch.sum(L_tilde) / ((m - 1) * (m - 2)))
        - (2 * torch.sum(torch.mm(K_tilde, L_tilde)) / (m - 2))
    )
    HSIC_value /= m * (m - 3)
    return HSIC_value


def ref_cknna(feats_A, feats_B, topk=None, unbiased=True):
    n = feats_A.shape[0]
    if topk < 2:
        raise ValueError("CKNNA requires topk >= 2")
    K = feats_A @ feats_A.T
    L = feats_B @ feats_B.T
    device = feats_A.device

    def similarity(K, L, topk):
        K_hat = K.clone().fill_diagonal_(float("-inf"))
        L_hat = L.clone().fill_diagonal_(float("-inf"))
        _, topk_K_indices = torch.topk(K_hat, topk, dim=1)
        _, topk_L_indices = torch.topk(L_hat, topk, dim=1)
        mask_K = torch.zeros(n, n, device=device).scatter_(
            1, topk_K_indices, 1)
        mask_L = torch.zeros(n, n, device=device).scatter_(
            1, topk_L_indices, 1)
        mask = mask_K * mask_L
        return ref_hsic_unbiased(mask * K, mask * L)

    sim_kl = similarity(K, L, topk)
    sim_kk = similarity(K, K, topk)
    sim_ll = similarity(L, L, topk)
    return sim_kl.item() / (torch.sqrt(sim_kk * sim_ll) + 1e-6).item()


def ref_resi_jaccard(R, Rp, k=10, inner='cosine'):
    import numpy as np
    import sklearn.neighbors

    def top_k_neighbors(R):
        nns = sklearn.neighbors.NearestNeighbors(n_neighbors=k + 1,
                                                 metric=inner, n_jobs=1)
        nns.fit(R)
        _, nns = nns.kneighbors(R)
        return nns[:, 1:]

    sets_R = [set(idx) for idx in top_k_neighbors(R.numpy())]
    sets_Rp = [set(idx) for idx in top_k_neighbors(Rp.numpy())]
    return float(np.mean([len(a & b) / len(a | b)
                          for a, b in zip(sets_R, sets_Rp)]))


def platonic(fn, x_a, x_b, k):
    return fn(F.normalize(x_a, p=2, dim=-1), F.normalize(x_b, p=2, dim=-1),
              k)


def related_pair(n, d_a, d_b, seed, noise=1.0):
    r"""Two float64 representations sharing a signal, so that the scores
    are neither 0 nor 1."""
    gen = torch.Generator().manual_seed(seed)
    x_a = torch.randn(n, d_a, generator=gen, dtype=torch.float64)
    w = torch.randn(d_a, d_b, generator=gen, dtype=torch.float64)
    x_b = x_a @ w + noise * torch.randn(n, d_b, generator=gen,
                                        dtype=torch.float64) * math.sqrt(d_a)
    return x_a, x_b


CASES = [(0, 40, 3), (1, 60, 5), (2, 100, 10), (3, 25, 2), (4, 80, 20)]


# --------------------------------------------------------------- knn_indices

def test_knn_indices_nearest_first_and_ties_to_lowest_index():
    x = torch.tensor([[1., 0.], [1., 0.], [1., 0.], [0., 1.], [.6, .8]])
    idx, sim = knn_indices(x, 2, return_similarity=True)
    assert idx.tolist() == [[1, 2], [0, 2], [0, 1], [4, 0], [3, 0]]
    assert torch.allclose(sim, torch.tensor(
        [[1., 1.], [1., 1.], [1., 1.], [.8, 0.], [.8, .6]]))
    assert idx.dtype == torch.long


def test_knn_indices_equal_dense_argsort():
    for seed, n, k in CASES:
        x = torch.randn(n, 7, generator=torch.Generator().manual_seed(seed),
                        dtype=torch.float64)
        expected = ref_compute_nearest_neighbors(F.normalize(x, dim=-1), k)
        assert torch.equal(knn_indices(x, k), expected)
        dot = ref_compute_nearest_neighbors(x, k)
        assert torch.equal(knn_indices(x, k, metric='dot'), dot)


def test_knn_indices_errors():
    with pytest.raises(ValueError, match="'k' must be smaller than the "
                       "number of nodes"):
        knn_indices(torch.randn(5, 3), 5)
    with pytest.raises(ValueError, match="'x' must be at least two-"):
        knn_indices(torch.randn(5), 2)
    with pytest.raises(TypeError, match="fixes 'symmetrize'"):
        knn_indices(torch.randn(5, 3), 2, symmetrize='half')


# ------------------------------------------------- scores against references

@pytest.mark.parametrize('seed,n,k', CASES)
def test_scores_equal_platonic_rep_and_resi(seed, n, k):
    x_a, x_b = related_pair(n, 6, 9, seed)
    # Their masks and accuracies are float32.
    assert mutual_knn(x_a, x_b, k) == pytest.approx(
        platonic(ref_mutual_knn, x_a, x_b, k), abs=1e-6)
    assert cycle_knn(x_a, x_b, k) == pytest.approx(
        platonic(ref_cycle_knn, x_a, x_b, k), abs=1e-6)
    assert cycle_knn(x_b, x_a, k) == pytest.approx(
        platonic(ref_cycle_knn, x_b, x_a, k), abs=1e-6)
    assert cknna(x_a, x_b, k) == pytest.approx(
        platonic(ref_cknna, x_a, x_b, k), abs=1e-10)
    assert cknna(x_b, x_a, k) == pytest.approx(  # not symmetric
        platonic(ref_cknna, x_b, x_a, k), abs=1e-10)
    assert knn_jaccard(x_a, x_b, k) == pytest.approx(
        ref_resi_jaccard(x_a, x_b, k), abs=1e-12)
    # normalize=False in platonic-rep is the 'dot' similarity here.
    assert cknna(x_a, x_b, k, similarity='dot') == pytest.approx(
        ref_cknna(x_a, x_b, k), abs=1e-10)
    assert mutual_knn(x_a, x_b, k, similarity='dot') == pytest.approx(
        ref_mutual_knn(x_a, x_b, k), abs=1e-6)


def test_scores_are_not_trivial():
    x_a, x_b = related_pair(100, 6, 9, seed=2)
    for fn in (mutual_knn, cycle_knn, knn_jaccard, cknna):
        assert 0.05 < fn(x_a, x_b, 10) < 0.99


def test_index_twins_equal_feature_functions():
    x_a, x_b = related_pair(50, 5, 8, seed=7)
    idx_a, sim_a = knn_indices(x_a, 4, return_similarity=True)
    idx_b, sim_b = knn_indices(x_b, 4, return_similarity=True)
    assert mutual_knn_from_indices(idx_a, idx_b) == mutual_knn(x_a, x_b, 4)
    assert cycle_knn_from_indices(idx_a, idx_b) == cycle_knn(x_a, x_b, 4)
    assert knn_jaccard_from_indices(idx_a, idx_b) == knn_jaccard(x_a, x_b, 4)
    assert cknna_from_indices(idx_a, idx_b, sim_a, sim_b) == \
        cknna(x_a, x_b, 4)
    # The order of the neighbours in a row does not matter.
    flip = idx_b.flip(1)
    assert mutual_knn_from_indices(idx_a, flip) == \
        mutual_knn_from_indices(idx_a, idx_b)
    assert cknna_from_indices(idx_a, flip, sim_a, sim_b.flip(1)) == \
        pytest.approx(cknna_from_indices(idx_a, idx_b, sim_a, sim_b),
                      abs=1e-15)


def test_hand_computed_scores():
    idx_a = torch.tensor([[1, 2], [0, 2], [0, 1], [1, 2]])
    idx_b = torch.tensor([[2, 1], [2, 3], [0, 3], [0, 2]])
    # Intersections 2, 1, 1, 1; unions 2, 3, 3, 3; sample 3 cannot return.
    assert mutual_knn_from_indices(idx_a, idx_b) == 5 / 8
    assert knn_jaccard_from_indices(idx_a, idx_b) == pytest.approx(0.5)
    assert cycle_knn_from_indices(idx_a, idx_b) == 0.75
    assert cycle_knn_from_indices(idx_b, idx_a) == 1.0


@pytest.mark.slow
def test_scores_equal_references_on_trained_layers(trained_digits):
    from pyg_dnnmod.features import extract_features
    from pyg_dnnmod.pretrained import digits_data

    model, _ = trained_digits
    x, _ = digits_data('test')
    features = [f.reshape(300, -1).double() for f in
                extract_features(model, x[:300]).values()]
    k = 10
    for a, b in [(0, 1), (1, 2), (0, 3), (3, 2)]:
        x_a, x_b = features[a], features[b]
        assert mutual_knn(x_a, x_b, k) == pytest.approx(
            platonic(ref_mutual_knn, x_a, x_b, k), abs=1e-6)
        assert cycle_knn(x_a, x_b, k) == pytest.approx(
            platonic(ref_cycle_knn, x_a, x_b, k), abs=1e-6)
        assert cknna(x_a, x_b, k) == pytest.approx(
            platonic(ref_cknna, x_a, x_b, k), abs=1e-9)
        assert knn_jaccard(x_a, x_b, k) == pytest.approx(
            ref_resi_jaccard(x_a, x_b, k), abs=1e-12)
    assert 0.1 < mutual_knn(features[0], features[3], k) < 0.9


# ---------------------------------------------------------------- bad input

def test_bad_input():
    idx = torch.tensor([[1, 2], [0, 2], [0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"same shape \[N, k\] \(got "
                       r"\[4, 2\] and \[3, 2\]\)"):
        mutual_knn_from_indices(idx, idx[:3])
    with pytest.raises(ValueError, match=r"own neighbour \(row 1 lists 1\)"):
        mutual_knn_from_indices(idx, torch.tensor([[1, 2], [1, 2], [0, 1],
                                                   [1, 0]]))
    with pytest.raises(ValueError, match=r"distinct neighbours per row "
                       r"\(row 0 is \[1, 1\]\)"):
        cycle_knn_from_indices(idx, torch.tensor([[1, 1], [0, 2], [0, 1],
                                                  [1, 0]]))
    with pytest.raises(ValueError, match=r"indices in \[0, 4\) \(row 2 is "
                       r"\[0, 7\]\)"):
        knn_jaccard_from_indices(idx, torch.tensor([[1, 2], [0, 2], [0, 7],
                                                    [1, 0]]))
    with pytest.raises(TypeError, match="integer indices"):
        mutual_knn_from_indices(idx.float(), idx)
    with pytest.raises(ValueError, match="needs 'sim_a'"):
        alignment_null_from_indices(idx, idx, 'cknna')
    with pytest.raises(ValueError, match=r"'metric' must be one of "
                       r"\('mutual_knn', 'cycle_knn', 'knn_jaccard', "
                       r"'cknna'\) \(got 'cka'\)"):
        alignment_null_from_indices(idx, idx, 'cka')
    with pytest.raises(ValueError, match="'num_permutations' must be an int "
                       ">= 2 \\(got 1\\)"):
        alignment_null_from_indices(idx, idx, num_permutations=1)
    x = torch.randn(10, 3)
    with pytest.raises(ValueError, match=r"same samples \(got N=10 and N=9"):
        knn_alignment(x, x[:9])
    with pytest.raises(ValueError, match=r"got k=10 for N=10"):
        mutual_knn(x, x, k=10)
    with pytest.raises(ValueError, match="'x_b' must be at least two-"):
        cycle_knn(x, x[:, 0])
    with pytest.raises(ValueError, match=r"'x_a' contains NaN"):
        knn_jaccard(torch.full((10, 3), math.nan), x)
    with pytest.raises(ValueError, match=r"'cknna' needs k >= 2 \(got k=1\)"):
        cknna(x, x, k=1)
    with pytest.raises(ValueError, match=r"'cknna' needs N >= 4"):
        cknna_from_indices(idx[:3, :2] % 3, idx[:3, :2] % 3,
                           torch.ones(3, 2), torch.ones(3, 2))
    with pytest.raises(ValueError, match="'similarity' must be one of"):
        knn_alignment(x, x, k=3, metric='cknna', similarity='euclidean')
    with pytest.raises(ValueError, match="no closed-form chance level"):
        knn_chance_level('cknna', 10, 3)
    with pytest.raises(ValueError, match="needs 'idx_a'"):
        knn_chance_level('cycle_knn', 10, 3)


# ------------------------------------------------------------ the null

def test_aligned_features_score_one_with_large_z():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(120, 16, generator=gen, dtype=torch.float64)
    rotation = torch.linalg.qr(torch.randn(16, 16, generator=gen,
                                           dtype=torch.float64))[0]
    for metric in ('mutual_knn', 'cycle_knn', 'knn_jaccard', 'cknna'):
        result = knn_alignment(x, x @ rotation, k=5, metric=metric,
                               num_permutations=200)
        assert isinstance(result, AlignmentScore)
        if metric == 'cycle_knn':  # below 1 even for A = B: hubs
            assert result.score == cycle_knn(x, x, k=5) > 0.9
        elif metric == 'cknna':  # h / (h + 1e-6) for A = B
            assert result.score == pytest.approx(cknna(x, x, k=5),
                                                 abs=1e-12)
            assert result.score > 0.999
        else:
            assert result.score == 1.0
        assert result.z > 10
        assert result.p == 1 / 201


@pytest.mark.parametrize('metric', ['mutual_knn', 'knn_jaccard',
                                    'cycle_knn', 'cknna'])
def test_p_values_uniform_for_independent_features(metric):
    from scipy.stats import kstest

    gen = torch.Generator().manual_seed(1)
    p_values = []
    for draw in range(100):
        x_a = torch.randn(80, 5, generator=gen)
        x_b = torch.randn(80, 5, generator=gen)
        p_values.append(knn_alignment(x_a, x_b, k=10, metric=metric,
                                      num_permutations=99, seed=draw).p)
    assert kstest(p_values, 'uniform').pvalue > 0.01


@pytest.mark.parametrize('metric', ['mutual_knn', 'knn_jaccard',
                                    'cycle_knn'])
def test_null_mean_is_the_chance_level(metric):
    x_a, x_b = related_pair(150, 6, 9, seed=3, noise=0.3)
    k, num_permutations = 10, 2000
    idx_a, idx_b = knn_indices(x_a, k), knn_indices(x_b, k)
    result = alignment_null_from_indices(idx_a, idx_b, metric,
                                         num_permutations, seed=5)
    chance = knn_chance_level(metric, 150, k, idx_a)
    if metric == 'mutual_knn':
        assert chance == k / 149
    se = result.null_std / math.sqrt(num_permutations)
    assert abs(result.null_mean - chance) < 3 * se
    assert result.score > chance + 10 * result.null_std  # real alignment


def test_null_equals_knn_of_permuted_features():
    x_a, x_b = related_pair(60, 5, 7, seed=11)
    k, seed = 4, 3
    idx_a, sim_a = knn_indices(x_a, k, return_similarity=True)
    idx_b, sim_b = knn_indices(x_b, k, return_similarity=True)
    gen = torch.Generator().manual_seed(seed)
    perms = [torch.randperm(60, generator=gen) for _ in range(3)]
    for metric, fn in (('mutual_knn', mutual_knn), ('cycle_knn', cycle_knn),
                       ('knn_jaccard', knn_jaccard), ('cknna', cknna)):
        _, null = alignment_null_from_indices(
            idx_a, idx_b, metric, 3, seed, sim_a=sim_a, sim_b=sim_b,
            return_null=True)
        assert null.dtype == torch.float64 and null.shape == (3, )
        for p, perm in enumerate(perms):
            expected = fn(x_a, x_b[perm], k)
            if metric in ('cknna', 'knn_jaccard'):  # summed in B's order
                assert null[p].item() == pytest.approx(expected, abs=1e-12)
            else:
                assert null[p].item() == expected


def test_null_independent_of_chunk_size(monkeypatch, device):
    x_a, x_b = related_pair(50, 5, 7, seed=12)
    idx_a, sim_a = knn_indices(x_a, 5, return_similarity=True)
    idx_b, sim_b = knn_indices(x_b, 5, return_similarity=True)
    for metric in ('mutual_knn', 'cknna'):
        full, null = alignment_null_from_indices(
            idx_a, idx_b, metric, 50, 9, sim_a=sim_a, sim_b=sim_b,
            return_null=True)
        monkeypatch.setattr(_alignment, 'QUERY_CHUNK', 600)  # 2 per chunk
        small, null_small = alignment_null_from_indices(
            idx_a.to(device), idx_b.to(device), metric, 50, 9,
            sim_a=sim_a.to(device), sim_b=sim_b.to(device),
            return_null=True)
        monkeypatch.undo()
        assert torch.allclose(null, null_small, rtol=0, atol=1e-12)
        assert full.score == pytest.approx(small.score, abs=1e-12)
        assert full.p == small.p
        monkeypatch.setattr(_alignment, 'DENSE_BYTES', 0)  # binary search
        searched, null_searched = alignment_null_from_indices(
            idx_a.to(device), idx_b.to(device), metric, 50, 9,
            sim_a=sim_a.to(device), sim_b=sim_b.to(device),
            return_null=True)
        monkeypatch.undo()
        assert torch.allclose(null, null_searched, rtol=0, atol=1e-12)
        assert full.p == searched.p


def test_summary_statistics():
    x_a, x_b = related_pair(40, 4, 6, seed=13)
    idx_a, idx_b = knn_indices(x_a, 3), knn_indices(x_b, 3)
    result, null = alignment_null_from_indices(idx_a, idx_b,
                                               num_permutations=30,
                                               return_null=True)
    assert result.null_mean == pytest.approx(float(null.mean()))
    assert result.null_std == pytest.approx(float(null.std()))
    assert result.z == pytest.approx((result.score - result.null_mean) /
                                     result.null_std)
    assert result.p == (1 + int((null >= result.score).sum())) / 31
    # A constant null has no z.
    idx = torch.tensor([[1], [0]])
    degenerate = alignment_null_from_indices(idx, idx, num_permutations=5)
    assert degenerate.null_std == 0 and math.isnan(degenerate.z)
    assert degenerate.score == 1.0 and degenerate.p == 1.0


def test_chance_levels_closed_form():
    from scipy.stats import hypergeom

    c = torch.arange(11, dtype=torch.float64)
    pmf = torch.tensor(hypergeom(99, 10, 10).pmf(c.numpy()))
    assert knn_chance_level('knn_jaccard', 100, 10) == pytest.approx(
        float((pmf * c / (20 - c)).sum()), abs=1e-14)
    # Every sample in-degree k: cycle chance 1 - C(N-1-k, k) / C(N-1, k).
    idx = (torch.arange(20).unsqueeze(1) + torch.arange(1, 4)) % 20
    expected = 1 - math.comb(19 - 3, 3) / math.comb(19, 3)
    assert knn_chance_level('cycle_knn', 20, 3, idx) == pytest.approx(
        expected, abs=1e-14)
