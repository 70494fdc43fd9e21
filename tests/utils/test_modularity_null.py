import itertools
import math
import random

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data

from pyg_dnnmod.utils import (
    expected_modularity,
    knn_graph,
    modularity,
    modularity_null,
    permuted_modularity,
)

torch.set_num_threads(1)


def random_graph(n, p, seed, directed=False, loops=False, negative=False):
    r"""A weighted random graph as PyG edges (undirected: both directions,
    self-loops once)."""
    rng = random.Random(seed)
    rows, cols, weights = [], [], []
    for u in range(n):
        for v in range(n):
            if (u == v and not loops) or (not directed and v < u):
                continue
            if rng.random() < p:
                w = rng.uniform(-1.0 if negative else 0.1, 2.0)
                rows.append(u)
                cols.append(v)
                weights.append(w)
                if not directed and u != v:
                    rows.append(v)
                    cols.append(u)
                    weights.append(w)
    return (torch.tensor([rows, cols], dtype=torch.long),
            torch.tensor(weights, dtype=torch.float64))


def exhaustive_mean(edge_index, labels, weight, directed=False,
                    resolution=1.0):
    r"""The exact null mean: modularity averaged over every permutation of
    the labels (n! of them)."""
    values = [modularity(edge_index, labels[list(perm)], weight,
                         directed=directed, resolution=resolution)
              for perm in itertools.permutations(range(labels.numel()))]
    return sum(values) / len(values), values


def test_four_cycle_hand_computed():
    # Pairings of a 4-cycle into two classes of two: two adjacent (Q = 0),
    # one opposite (Q = -1/2), so E[Q] = -1/6.
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3, 3, 0],
                               [1, 0, 2, 1, 3, 2, 0, 3]])
    labels = torch.tensor([0, 0, 1, 1])
    assert expected_modularity(edge_index, labels) == pytest.approx(
        -1 / 6, abs=1e-15)
    q = permuted_modularity(edge_index, labels, num_permutations=300)
    assert sorted(set(q.tolist())) == [-0.5, 0.0]
    assert q.shape == (300, )


@pytest.mark.parametrize('case', [
    dict(directed=False, loops=False, negative=False, resolution=1.0),
    dict(directed=False, loops=True, negative=False, resolution=1.0),
    dict(directed=False, loops=True, negative=True, resolution=0.7),
    dict(directed=True, loops=False, negative=False, resolution=1.0),
    dict(directed=True, loops=True, negative=True, resolution=1.3),
])
def test_closed_form_equals_exhaustive_mean(case):
    # Seven nodes, unequal classes (3, 2, 1, 1): all 5040 permutations.
    edge_index, weight = random_graph(7, 0.5, seed=3, directed=case[
        'directed'], loops=case['loops'], negative=case['negative'])
    labels = torch.tensor([0, 0, 0, 5, 5, 2, 9])
    exact, values = exhaustive_mean(edge_index, labels, weight,
                                    case['directed'], case['resolution'])
    closed = expected_modularity(edge_index, labels, weight,
                                 directed=case['directed'],
                                 resolution=case['resolution'])
    assert closed == pytest.approx(exact, abs=1e-12)
    # Every permuted value is one of the exhaustive values.
    q = permuted_modularity(edge_index, labels, weight,
                            directed=case['directed'],
                            resolution=case['resolution'],
                            num_permutations=200)
    allowed = torch.tensor(values, dtype=torch.float64)
    gap = (q.unsqueeze(1) - allowed.unsqueeze(0)).abs().min(dim=1).values
    assert float(gap.max()) < 1e-12


@pytest.mark.parametrize('directed,loops', [(False, False), (False, True),
                                            (True, False), (True, True)])
def test_closed_form_within_three_standard_errors(directed, loops):
    # The acceptance check: 10,000 permutations on a larger graph with
    # unequal classes.
    edge_index, weight = random_graph(60, 0.15, seed=11, directed=directed,
                                      loops=loops)
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (60, ), generator=gen) ** 2  # unequal
    q = permuted_modularity(edge_index, labels, weight, directed=directed,
                            num_permutations=10000, seed=5)
    closed = expected_modularity(edge_index, labels, weight,
                                 directed=directed)
    se = float(q.std()) / math.sqrt(q.numel())
    assert abs(float(q.mean()) - closed) < 3 * se
    assert se > 0


def test_observed_equals_modularity_and_p_value_rule(device):
    edge_index, weight = random_graph(30, 0.2, seed=1, loops=True)
    labels = torch.arange(30) % 3
    null = modularity_null(edge_index.to(device), labels.to(device),
                           weight.to(device), num_permutations=500, seed=2)
    assert null.q == pytest.approx(modularity(edge_index, labels, weight),
                                   abs=1e-12)
    samples = permuted_modularity(edge_index, labels, weight,
                                  num_permutations=500, seed=2)
    hits = int((samples >= null.q - 1e-12).sum())
    assert null.p == pytest.approx((1 + hits) / 501, abs=1e-15)
    assert null.std == pytest.approx(float(samples.std()), rel=1e-12)
    assert null.z == pytest.approx(
        (null.q - null.expected) / null.std, rel=1e-12)
    assert null.expected == pytest.approx(
        expected_modularity(edge_index, labels, weight), abs=1e-15)


def test_same_values_on_every_device(device):
    edge_index, weight = random_graph(25, 0.3, seed=4)
    labels = torch.arange(25) % 4
    cpu = permuted_modularity(edge_index, labels, weight,
                              num_permutations=50, seed=9)
    other = permuted_modularity(edge_index.to(device), labels.to(device),
                                weight.to(device), num_permutations=50,
                                seed=9)
    assert torch.allclose(cpu, other.cpu(), atol=1e-12, rtol=0)


def test_batched_matches_graph_by_graph():
    graphs = []
    for seed, n in ((0, 12), (1, 20), (2, 7)):
        edge_index, weight = random_graph(n, 0.3, seed=seed, loops=True)
        graphs.append(Data(edge_index=edge_index, edge_weight=weight,
                           y=torch.arange(n) % 3, num_nodes=n))
    batch = Batch.from_data_list(graphs)
    null = modularity_null(batch.edge_index, batch.y, batch.edge_weight,
                           num_permutations=4000, seed=0, batch=batch.batch)
    assert null.q.shape == (3, ) and null.p.shape == (3, )
    samples = permuted_modularity(batch.edge_index, batch.y,
                                  batch.edge_weight, num_permutations=4000,
                                  batch=batch.batch)
    assert samples.shape == (3, 4000)
    for i, data in enumerate(graphs):
        one = modularity_null(data.edge_index, data.y, data.edge_weight,
                              num_permutations=4000, seed=1)
        assert float(null.q[i]) == pytest.approx(one.q, abs=1e-12)
        assert float(null.expected[i]) == pytest.approx(one.expected,
                                                        abs=1e-12)
        # Different permutations, the same distribution.
        assert float(null.std[i]) == pytest.approx(one.std, rel=0.1)
        se = one.std / math.sqrt(4000)
        assert abs(float(samples[i].mean()) - one.expected) < 4 * se
    # Permutations stay within their graph: class sizes per graph kept,
    # so a graph of one class has no spread at all.
    single = Batch.from_data_list([
        Data(edge_index=graphs[0].edge_index, y=torch.zeros(12).long(),
             num_nodes=12), graphs[1]])
    null = modularity_null(single.edge_index, single.y,
                           num_permutations=100, batch=single.batch)
    assert float(null.std[0]) == 0.0 and math.isnan(float(null.z[0]))
    assert float(null.p[0]) == 1.0
    assert not math.isnan(float(null.z[1]))


def test_graph_without_edges_and_single_node():
    null = modularity_null(torch.zeros(2, 0, dtype=torch.long),
                           torch.tensor([0, 1, 0]), num_permutations=10)
    assert (null.q, null.expected, null.std, null.p) == (0.0, 0.0, 0.0, 1.0)
    assert math.isnan(null.z)
    assert expected_modularity(torch.tensor([[0], [0]]),
                               torch.tensor([3])) == 0.0  # 1 - 1


def test_chunks_give_the_same_values(monkeypatch):
    from pyg_dnnmod.utils import _modularity_null as module

    edge_index, weight = random_graph(20, 0.3, seed=8)
    labels = torch.arange(20) % 2
    whole = permuted_modularity(edge_index, labels, weight,
                                num_permutations=37, seed=4)
    monkeypatch.setattr(module, '_CHUNK_ELEMENTS', 200)  # 2 rows per chunk
    chunked = permuted_modularity(edge_index, labels, weight,
                                  num_permutations=37, seed=4)
    assert torch.equal(whole, chunked)


def test_bad_input():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    labels = torch.tensor([0, 1])
    with pytest.raises(TypeError, match="soft assignment of shape"):
        modularity_null(edge_index, torch.eye(2))
    with pytest.raises(ValueError, match=r"'num_permutations' must be >= 2"
                                         r".*\(got 1\)"):
        modularity_null(edge_index, labels, num_permutations=1)
    with pytest.raises(TypeError, match="'num_permutations' must be an "
                                        "integer"):
        permuted_modularity(edge_index, labels, num_permutations=True)
    with pytest.raises(TypeError, match="'seed' must be an integer"):
        modularity_null(edge_index, labels, seed=0.5)
    with pytest.raises(ValueError, match="'resolution' must be finite"):
        expected_modularity(edge_index, labels, resolution=math.inf)
    with pytest.raises(ValueError, match="one label per node"):
        modularity_null(edge_index, labels, num_nodes=3)


def test_exact_against_networkx_for_observed():
    graph = nx.karate_club_graph()
    edge_index = torch.tensor(list(graph.edges)).t()
    edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    clubs = torch.tensor([int(graph.nodes[v]['club'] == 'Officer')
                          for v in graph.nodes])
    null = modularity_null(edge_index, clubs, num_permutations=2000)
    groups = [set((clubs == c).nonzero().view(-1).tolist()) for c in (0, 1)]
    assert null.q == pytest.approx(
        nx.community.modularity(graph, groups, weight=None), abs=1e-12)
    assert null.z > 5 and null.p == 1 / 2001  # far above chance


@pytest.mark.slow
def test_calibrated_on_real_graph(trained_digits):
    r"""The acceptance check: on the default model's last layer, labels
    drawn from the null itself give z ~ N(0, 1) and uniform p-values."""
    from scipy.stats import kstest

    from pyg_dnnmod.features import extract_features
    from pyg_dnnmod.pretrained import digits_data

    model, _ = trained_digits
    x, y = digits_data('test')
    x, y = x[:500], y[:500]
    last = list(extract_features(model, x).values())[-1]
    edge_index, edge_weight = knn_graph(last, k=3)
    true = modularity_null(edge_index, y, edge_weight, num_permutations=1000)
    assert true.z > 20 and true.p == 1 / 1001
    gen = torch.Generator().manual_seed(123)
    z, p = [], []
    for draw in range(200):
        labels = y[torch.randperm(y.numel(), generator=gen)]
        null = modularity_null(edge_index, labels, edge_weight,
                               num_permutations=1000, seed=10_000 + draw)
        z.append(null.z)
        p.append(null.p)
    z = torch.tensor(z)
    assert abs(float(z.mean())) < 0.2
    assert 0.8 <= float(z.std()) <= 1.2
    assert kstest(p, 'uniform').pvalue > 0.01
