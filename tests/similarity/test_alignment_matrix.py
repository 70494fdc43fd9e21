import math

import pandas as pd
import pytest
import torch
from torch import nn

from pyg_dnnmod.similarity import (
    ALIGNMENT_METRICS,
    alignment_graph,
    alignment_matrix,
    alignment_matrix_from_features,
    alignment_null_from_indices,
    alignment_table,
    cknna,
    cycle_knn,
    knn_indices,
    knn_jaccard,
    mutual_knn,
)
from pyg_dnnmod.similarity import _alignment
from pyg_dnnmod.snapshots import SnapshotConfig
from pyg_dnnmod.testing import toy_problem

torch.set_num_threads(1)

PAIR_FUNCTIONS = dict(mutual_knn=mutual_knn, cycle_knn=cycle_knn,
                      knn_jaccard=knn_jaccard, cknna=cknna)


def mlp(seed, widths=(6, 12, 10, 8)):
    torch.manual_seed(seed)
    layers = []
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(d_in, d_out), nn.Tanh()]
    return nn.Sequential(*layers)


def layer_features(model, x):
    return [(name, f.double()) for name, f in
            SnapshotConfig().layer_features(model, x)]


@pytest.mark.parametrize('metric', ALIGNMENT_METRICS)
def test_every_pair_equals_the_pair_function(metric):
    model, x, y = toy_problem(40, num_classes=2)
    df = alignment_matrix(model, x, y, metric=metric, k=5)
    features = dict((name, f) for name, f in layer_features(model, x))
    assert len(df) == len(features) ** 2
    for row in df.itertuples():
        expected = PAIR_FUNCTIONS[metric](features[row.layer_a],
                                          features[row.layer_b], 5)
        if metric == 'cknna':  # float32 features: the sums differ by order
            assert row.score == pytest.approx(expected, abs=1e-6)
        else:
            assert row.score == expected


def test_within_model_symmetric_with_unit_diagonal():
    model = mlp(0)
    x = torch.randn(60, 6, generator=torch.Generator().manual_seed(1))
    for metric in ('mutual_knn', 'knn_jaccard'):
        table = alignment_table(alignment_matrix(model, x, metric=metric,
                                                 k=6))
        assert list(table.index) == ['0', '2', '4']
        assert list(table.columns) == ['0', '2', '4']
        assert (table.to_numpy() == table.to_numpy().T).all()
        assert (table.to_numpy().diagonal() == 1.0).all()
        assert ((table.to_numpy() > 0) & (table.to_numpy() <= 1)).all()
    # CKNNA's masked kernels are not symmetric (platonic-rep's neither):
    # close to symmetric, not exactly; the diagonal is h / (h + 1e-6).
    table = alignment_table(alignment_matrix(model, x, metric='cknna', k=6))
    values = torch.tensor(table.to_numpy())
    assert torch.allclose(values, values.t(), atol=0.01)
    assert not torch.equal(values, values.t())
    assert ((values.diagonal() > 0.9999) & (values.diagonal() < 1)).all()


def test_cross_model_with_itself_equals_within_model():
    model, x, y = toy_problem(40, num_classes=2)
    for metric in ('mutual_knn', 'cycle_knn', 'cknna'):
        within = alignment_matrix(model, x, y, metric=metric, k=4,
                                  calibrate=True, num_permutations=20)
        across = alignment_matrix(model, x, y, model, metric=metric, k=4,
                                  calibrate=True, num_permutations=20)
        pd.testing.assert_frame_equal(within, across)


def test_two_models_and_calibration_columns():
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(2))
    model_a, model_b = mlp(0), mlp(1, widths=(6, 9, 7))
    df = alignment_matrix(model_a, x, None, model_b, k=5, calibrate=True,
                          num_permutations=30, seed=4)
    assert list(df.columns) == ['layer_a', 'layer_b', 'layer_index_a',
                                'layer_index_b', 'score', 'null_mean',
                                'null_std', 'z', 'p']
    assert len(df) == 3 * 2
    assert df['layer_index_a'].tolist() == [0, 0, 1, 1, 2, 2]
    assert df['layer_b'].tolist() == ['0', '2'] * 3
    assert ((df['p'] > 0) & (df['p'] <= 1)).all()
    assert df.attrs['chance_level'] == 5 / 49
    assert df.attrs['num_permutations'] == 30
    # Each pair's null is alignment_null_from_indices with the same seed.
    fa = dict(layer_features(model_a, x))
    fb = dict(layer_features(model_b, x))
    row = df.iloc[3]
    expected = alignment_null_from_indices(
        knn_indices(fa[row.layer_a], 5), knn_indices(fb[row.layer_b], 5),
        'mutual_knn', 30, 4)
    assert tuple(row[['score', 'null_mean', 'null_std', 'z', 'p']]) == \
        pytest.approx(tuple(expected), abs=1e-12)


def test_layers_b_selects_layers_of_model_b():
    x = torch.randn(30, 6, generator=torch.Generator().manual_seed(6))
    model_a, model_b = mlp(0), mlp(1, widths=(6, 9, 7))
    df = alignment_matrix(model_a, x, None, model_b, k=4, layers=['0', '4'],
                          layers_b=['2'])
    assert df['layer_a'].tolist() == ['0', '4']
    assert df['layer_b'].tolist() == ['2', '2']
    expected = mutual_knn(dict(layer_features(model_a, x))['4'],
                          dict(layer_features(model_b, x))['2'], 4)
    assert df['score'].iloc[1] == expected
    with pytest.raises(ValueError, match="'layers_b' selects layers of "
                       "'model_b'"):
        alignment_matrix(model_a, x, layers_b=['2'])


def test_labels_draw_balanced_or_uniform():
    model, x, y = toy_problem(40, num_classes=2)
    balanced = alignment_matrix(model, x, y, k=3, num_samples=20)
    assert balanced.attrs['num_samples'] == 20
    # Without labels any N can be drawn (uniformly).
    uniform = alignment_matrix(model, x, k=3, num_samples=21)
    assert uniform.attrs['num_samples'] == 21
    # config.k is used when k is not given; k overrides it.
    config = SnapshotConfig(k=7)
    assert alignment_matrix(model, x, y, config=config).attrs['k'] == 7
    assert alignment_matrix(model, x, y, k=2, config=config).attrs['k'] == 2
    assert alignment_matrix(model, x, y).attrs['k'] == 10


def test_from_features_dict_and_chunked_layers(monkeypatch):
    gen = torch.Generator().manual_seed(3)
    base = torch.randn(30, 5, generator=gen)
    feats = {f'l{i}': base + i * torch.randn(30, 5, generator=gen)
             for i in range(4)}
    for metric in ALIGNMENT_METRICS:
        full = alignment_matrix_from_features(feats, metric=metric, k=4,
                                              calibrate=True,
                                              num_permutations=10)
        monkeypatch.setattr(_alignment, 'QUERY_CHUNK', 1)  # one layer each
        small = alignment_matrix_from_features(list(feats.items()),
                                               metric=metric, k=4,
                                               calibrate=True,
                                               num_permutations=10)
        monkeypatch.undo()
        pd.testing.assert_frame_equal(full, small, check_exact=False,
                                      atol=1e-12, rtol=0)
        # Without lookup tables (large N): binary search over the keys.
        monkeypatch.setattr(_alignment, 'DENSE_BYTES', 0)
        searched = alignment_matrix_from_features(feats, metric=metric, k=4,
                                                  calibrate=True,
                                                  num_permutations=10)
        monkeypatch.undo()
        pd.testing.assert_frame_equal(full, searched, check_exact=False,
                                      atol=1e-12, rtol=0)


def test_alignment_graph():
    x = torch.randn(40, 6, generator=torch.Generator().manual_seed(5))
    df = alignment_matrix(mlp(0), x, None, mlp(1, widths=(6, 9, 7)), k=4,
                          calibrate=True, num_permutations=10)
    data = alignment_graph(df)
    assert data.num_nodes == 5
    assert data.edge_index.tolist() == [[0, 0, 1, 1, 2, 2],
                                        [3, 4, 3, 4, 3, 4]]
    assert data.edge_weight.tolist() == pytest.approx(df['score'].tolist())
    assert data.edge_z.shape == (6, )
    assert data.layer_names_a == ['0', '2', '4']
    assert data.layer_names_b == ['0', '2']
    plain = alignment_graph(df.drop(columns=['z']))
    assert 'edge_z' not in plain
    # Row order of the frame does not matter.
    shuffled = alignment_graph(df.iloc[::-1])
    assert torch.equal(shuffled.edge_weight, data.edge_weight)


def test_progress_bars(capsys):
    model, x, y = toy_problem(40, num_classes=2)
    alignment_matrix(model, x, y, k=3, progress=True)
    assert 'k-NN of features_a' in capsys.readouterr().err


def test_bad_input():
    model, x, y = toy_problem(40, num_classes=2)
    with pytest.raises(ValueError, match=r"'metric' must be one of "
                       r"\('mutual_knn', 'cycle_knn', 'knn_jaccard', "
                       r"'cknna'\) \(got 'cka'\)"):
        alignment_matrix(model, x, y, metric='cka')
    with pytest.raises(TypeError, match="'model_a' must be a torch.nn."
                       "Module \\(got Tensor\\)"):
        alignment_matrix(x, x, y)
    with pytest.raises(TypeError, match="'model_b' must be a torch.nn."
                       "Module or None \\(got str\\)"):
        alignment_matrix(model, x, y, 'model')
    with pytest.raises(ValueError, match=r"got k=40 for N=40"):
        alignment_matrix(model, x, y, k=40)
    with pytest.raises(ValueError, match="'similarity' must be one of"):
        alignment_matrix(model, x, y, metric='cknna', similarity='euclidean')
    with pytest.raises(ValueError, match="'num_permutations' must be"):
        alignment_matrix(model, x, y, calibrate=True, num_permutations=1)
    with pytest.raises(TypeError, match="unknown snapshot parameter"):
        alignment_matrix(model, x, y, topk=3)
    with pytest.raises(ValueError, match="'labels' must hold one label per "
                       "sample"):
        alignment_matrix(model, x, y[:10])
    bad = torch.randn(20, 3)
    bad[4, 1] = math.nan
    with pytest.raises(ValueError, match="'features_a layer b' contains "
                       "NaN"):
        alignment_matrix_from_features([('a', torch.randn(20, 3)),
                                        ('b', bad)], k=3)
    with pytest.raises(ValueError, match=r"layer 'b' of features_b has "
                       r"N=19, the first layer N=20"):
        alignment_matrix_from_features([('a', torch.randn(20, 3))],
                                       [('b', torch.randn(19, 3))], k=3)
    with pytest.raises(ValueError, match="'features_a' is empty"):
        alignment_matrix_from_features([], k=3)
    df = alignment_matrix_from_features({'a': torch.randn(20, 3),
                                         'b': torch.randn(20, 3)}, k=3)
    with pytest.raises(ValueError, match="every pair of layers once"):
        alignment_graph(df.iloc[:3])
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['z'\]"):
        alignment_table(df, values='z')
    with pytest.raises(TypeError, match="'df' must be a pandas.DataFrame"):
        alignment_graph(df.to_dict())
