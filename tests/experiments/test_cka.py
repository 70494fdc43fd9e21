import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from pyg_dnnmod import layer_graphs
from pyg_dnnmod.experiments.cka import (
    CKA_COLUMNS,
    cka_comparison,
    cka_matrices,
)
from pyg_dnnmod.plotting import plot_cka_comparison

torch.set_num_threads(1)


def textbook_cka(x, y):
    x = x.reshape(x.size(0), -1).double()
    y = y.reshape(y.size(0), -1).double()
    x, y = x - x.mean(dim=0), y - y.mean(dim=0)
    return float(torch.linalg.matrix_norm(y.t() @ x) ** 2 /
                 (torch.linalg.matrix_norm(x.t() @ x) *
                  torch.linalg.matrix_norm(y.t() @ y)))


@pytest.fixture(scope='module')
def default_df(trained_digits):
    from pyg_dnnmod.pretrained import digits_data
    model, _ = trained_digits
    x, y = digits_data('test')
    return cka_comparison(model, x, y, num_samples=200, seed=3)


def test_table_on_the_default(trained_digits, default_df):
    from pyg_dnnmod.features import extract_features
    from pyg_dnnmod.datasets import sample_indices
    from pyg_dnnmod.pretrained import digits_data

    df = default_df
    assert df.columns.tolist() == list(CKA_COLUMNS)
    assert len(df) == 16
    model, _ = trained_digits
    x, y = digits_data('test')
    # The modularity is that of the usual snapshots of the same draw.
    reference = layer_graphs(model, x, y, k=3, num_samples=200, seed=3)
    q = df.drop_duplicates('layer_index_i')['modularity_i'].tolist()
    assert q == pytest.approx(reference.modularity().tolist(), abs=2e-3)
    assert (df['modularity_difference'] ==
            (df['modularity_i'] - df['modularity_j']).abs()).all()
    diff, cka = cka_matrices(df)
    assert diff.index.tolist() == reference.layer_names
    assert (cka.to_numpy() == cka.to_numpy().T).all()
    # CKA against the textbook form on the deepest pair (4096 features).
    index = sample_indices(y, 200, seed=3)
    a, b = extract_features(model, x[index], layers=2).values()
    assert cka.iloc[2, 3] == pytest.approx(textbook_cka(a, b), abs=1e-5)
    assert cka.iloc[3, 3] == pytest.approx(1.0, abs=1e-6)
    # The Spearman column, recomputed from the table.
    upper = df[df['layer_index_i'] < df['layer_index_j']]
    rho = spearmanr(upper['modularity_difference'], 1 - upper['cka'])[0]
    assert df['spearman'].unique().tolist() == pytest.approx([rho])
    assert df.attrs['spearman'] == pytest.approx(rho)
    # The paper's reading on the default: layers far apart in modularity
    # are far apart in CKA too.
    assert rho > 0.5
    assert df.attrs['num_samples'] == 200 and df.attrs['k'] == 3


def test_small_model_and_dataset_input():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8),
                          nn.ReLU(), nn.Linear(8, 3))
    x, y = torch.randn(60, 5), torch.arange(60) % 3
    df = cka_comparison(model, x, y, num_samples=None, layers=nn.Linear)
    assert df['layer_i'].unique().tolist() == ['0', '2', '4']
    dataset = torch.utils.data.TensorDataset(x, y)
    from_dataset = cka_comparison(model, dataset, num_samples=None,
                                  layers=nn.Linear)
    pd.testing.assert_frame_equal(df, from_dataset)


def test_plot(default_df):
    fig = plot_cka_comparison(default_df, 'cnn', 'digits')
    heat_diff, heat_cka = fig.axes[:2]
    names = ['features.0', 'features.3', 'features.7', 'features.10']
    for ax in (heat_diff, heat_cka):
        assert [t.get_text() for t in ax.get_xticklabels()] == names
        assert [t.get_text() for t in ax.get_yticklabels()] == names
    rho = default_df.attrs['spearman']
    assert f'{rho:.3f}' in fig._suptitle.get_text()
    # The cells carry the values.
    texts = [t.get_text() for t in heat_cka.texts]
    assert len(texts) == 16 and texts[0] == '1.00'


def test_bad_input(trained_digits):
    from pyg_dnnmod.pretrained import digits_data
    model, _ = trained_digits
    x, y = digits_data('test')
    with pytest.raises(ValueError, match='k=20 for N=20'):
        cka_comparison(model, x, y, k=20, num_samples=20)
    with pytest.raises(ValueError, match=r"'num_samples' \(5000\) exceeds"):
        cka_comparison(model, x, y, num_samples=5000)
    with pytest.raises(ValueError, match="'metric' must be one of"):
        cka_comparison(model, x, y, metric='cos')
    with pytest.raises(ValueError, match="'labels' must be given"):
        cka_comparison(model, x)
    with pytest.raises(ValueError, match='nope'):
        cka_comparison(model, x, y, layers=['nope'])
    with pytest.raises(ValueError, match="lacks the column"):
        cka_matrices(pd.DataFrame({'a': [1]}))


def test_debiased_estimator_from_the_same_grams():
    from pyg_dnnmod.features import extract_features
    from pyg_dnnmod.similarity import cka_matrix, gram_matrix

    _ = torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(),
                          nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3))
    x, y = torch.randn(60, 1, 8, 8), torch.arange(60) % 3
    biased = cka_comparison(model, x, y, num_samples=None)
    debiased = cka_comparison(model, x, y, num_samples=None, debiased=True)
    assert debiased.attrs['cka'] == 'debiased'
    assert biased.attrs['cka'] == 'biased'
    assert debiased['modularity_difference'].tolist() == \
        biased['modularity_difference'].tolist()
    features = list(extract_features(model, x).values())
    expected = cka_matrix([gram_matrix(f) for f in features], debiased=True)
    assert debiased['cka'].tolist() == pytest.approx(
        expected.view(-1).tolist(), abs=1e-6)
    # Debiasing lowers CKA between different layers on few samples.
    off = debiased['layer_index_i'] != debiased['layer_index_j']
    assert (debiased.loc[off, 'cka'] < biased.loc[off, 'cka']).all()
    with pytest.raises(TypeError, match="'debiased' must be a bool"):
        cka_comparison(model, x, y, num_samples=None, debiased=1)
