import pandas as pd
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from pyg_dnnmod import layer_graphs
from pyg_dnnmod.experiments import (
    CURVE_COLUMNS,
    modularity_curves,
    summarize,
    take_samples,
)


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3),
                         nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 3))


@pytest.fixture(scope='module')
def data():
    gen = torch.Generator().manual_seed(1)
    y = torch.arange(90) % 3
    # Class-dependent mean so that the curves are not all noise.
    x = torch.randn(90, 1, 8, 8, generator=gen) + y.view(-1, 1, 1, 1) * 0.7
    return x, y


def test_equals_layer_graphs_per_repeat_and_k(data):
    x, y = data
    model = _model()
    df = modularity_curves(model, x, y, k=[3, 5], num_samples=30, repeats=3,
                           seed=7)
    assert df.columns.tolist() == list(CURVE_COLUMNS)
    assert len(df) == 2 * 3 * 2  # k values x repeats x layers
    for kk in (3, 5):
        for r in range(3):
            graphs = layer_graphs(model, x, y, k=kk, num_samples=30,
                                  seed=7 + r)
            rows = df[(df['k'] == kk) & (df['repeat'] == r)]
            assert rows['layer'].tolist() == graphs.layer_names
            assert rows['seed'].unique().tolist() == [7 + r]
            assert rows['modularity'].tolist() == pytest.approx(
                graphs.modularity().tolist(), abs=1e-6)
            assert rows['num_edges'].tolist() == [
                g.num_edges for g in graphs]
    # Different draws give different values.
    first = df[(df['k'] == 3) & (df['layer_index'] == 0)]['modularity']
    assert first.nunique() == 3


def test_row_order_and_attrs(data):
    x, y = data
    df = modularity_curves({'trained': _model(0), 'random': _model(1)}, x, y,
                           metric=['pearson', 'cosine'], num_samples=30,
                           repeats=2)
    assert df.attrs['ablation'] == 'metric'
    # Curves in the given order, then repeats, then depth.
    assert df['init'].tolist() == ['trained'] * 8 + ['random'] * 8
    assert df['metric'].tolist()[:8] == ['pearson'] * 4 + ['cosine'] * 4
    assert df['repeat'].tolist()[:4] == [0, 0, 1, 1]
    assert df['layer_index'].tolist()[:4] == [0, 1, 0, 1]
    plain = modularity_curves(_model(0), x, y, num_samples=30, repeats=1)
    assert plain.attrs['ablation'] is None
    assert plain['init'].unique().tolist() == ['trained']


def test_num_samples_ablation_and_all_samples(data):
    x, y = data
    df = modularity_curves(_model(), x, y, num_samples=[30, 60], repeats=1)
    assert df.groupby('num_samples').size().to_dict() == {30: 2, 60: 2}
    assert df.attrs['ablation'] == 'num_samples'
    # All samples: every repeat is the same graph.
    full = modularity_curves(_model(), x, y, num_samples=None, repeats=2)
    assert full['num_samples'].unique().tolist() == [90]
    by_repeat = full.pivot(index='layer_index', columns='repeat',
                           values='modularity')
    assert by_repeat[0].tolist() == by_repeat[1].tolist()
    graphs = layer_graphs(_model(), x, y)
    assert by_repeat[0].tolist() == pytest.approx(
        graphs.modularity().tolist(), abs=1e-6)


class _Pairs(Dataset):
    def __init__(self, x, y, with_targets: bool) -> None:
        self.x, self.y = x, y
        if with_targets:
            self.targets = y
        self.reads = 0

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        self.reads += 1
        return self.x[i], int(self.y[i])


@pytest.mark.parametrize('with_targets', [True, False])
def test_dataset_inputs_match_tensor_inputs(data, with_targets):
    x, y = data
    dataset = _Pairs(x, y, with_targets)
    a = modularity_curves(_model(), dataset, num_samples=30, repeats=2)
    b = modularity_curves(_model(), x, y, num_samples=30, repeats=2)
    assert a['modularity'].tolist() == b['modularity'].tolist()
    if with_targets:
        # Only the drawn samples are read.
        assert dataset.reads == 2 * 30


def test_take_samples(data):
    x, y = data
    index = torch.tensor([5, 0, 89])
    assert torch.equal(take_samples(x, index), x[index])
    assert torch.equal(take_samples(_Pairs(x, y, True), index), x[index])


def test_bad_input(data):
    x, y = data
    model = _model()
    with pytest.raises(ValueError, match=r"only one of 'k', 'num_samples' "
                       r"and 'metric'.*k=\[3, 5\], metric=\['cosine', "
                       r"'pearson'\]"):
        modularity_curves(model, x, y, k=[3, 5],
                          metric=['cosine', 'pearson'], num_samples=30)
    with pytest.raises(ValueError, match=r"'k' must be smaller than the "
                       r"number of samples \(got k=30 for N=30\)"):
        modularity_curves(model, x, y, k=30, num_samples=30)
    with pytest.raises(ValueError, match=r"'repeats' must be >= 1 \(got 0\)"):
        modularity_curves(model, x, y, num_samples=30, repeats=0)
    with pytest.raises(ValueError, match=r"'num_samples' \(100\) exceeds"):
        modularity_curves(model, x, y, num_samples=100)
    with pytest.raises(ValueError, match=r"'labels' must be given"):
        modularity_curves(model, x)
    with pytest.raises(ValueError, match=r"one label per sample \(got 3 "):
        modularity_curves(model, x, y[:3])
    with pytest.raises(TypeError, match=r"'model' must be a torch.nn.Module"):
        modularity_curves('vgg', x, y)
    with pytest.raises(TypeError, match=r"'k' must be an integer"):
        modularity_curves(model, x, y, k=3.5, num_samples=30)
    with pytest.raises(ValueError, match=r"'k' lists a value more than once"):
        modularity_curves(model, x, y, k=[3, 3], num_samples=30)


def test_bad_layer_fails_before_any_forward_pass(data):
    x, y = data

    class Exploding(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            raise AssertionError('no forward pass expected')

    with pytest.raises(ValueError, match=r"unknown layer name.*'nope'"):
        modularity_curves(Exploding(), x, y, layers=['nope'], num_samples=30)


def test_summarize_mean_std_count():
    df = pd.DataFrame({
        'layer_index': [0, 1, 0, 1, 0, 1],
        'layer': ['a', 'b'] * 3,
        'repeat': [0, 0, 1, 1, 2, 2],
        'modularity': [0.1, 0.5, 0.2, 0.7, 0.3, 0.9],
        'k': [3] * 6,
        'init': ['trained'] * 6,
    })
    out = summarize(df)
    assert out.columns.tolist() == ['init', 'k', 'layer_index', 'layer',
                                    'mean', 'std', 'count', 'low', 'high']
    assert out['mean'].tolist() == pytest.approx([0.2, 0.7])
    assert out['std'].tolist() == pytest.approx([0.1, 0.2])  # ddof=1
    assert out['count'].tolist() == [3, 3]
    # 2.5 and 97.5 percentiles, linear interpolation: 0.1 + 0.05 * 0.1 ...
    assert out['low'].tolist() == pytest.approx([0.105, 0.51])
    assert out['high'].tolist() == pytest.approx([0.295, 0.89])


def test_calibrated_curves_equal_the_null_per_snapshot(data):
    from pyg_dnnmod.snapshots import layer_graphs
    from pyg_dnnmod.utils import modularity_null

    x, y = data
    model = _model()
    df = modularity_curves(model, x, y, num_samples=30, k=3, repeats=2,
                           calibrate=True, num_permutations=200)
    plain = modularity_curves(model, x, y, num_samples=30, k=3, repeats=2)
    assert df.columns.tolist()[-4:] == ['q_null_mean', 'q_null_std', 'z',
                                        'p']
    assert df['modularity'].tolist() == pytest.approx(
        plain['modularity'].tolist(), abs=1e-6)
    assert df.attrs['num_permutations'] == 200
    for r in range(2):
        graphs = layer_graphs(model, x, y, num_samples=30, k=3, seed=r)
        for t, data_t in enumerate(graphs):
            null = modularity_null(data_t.edge_index, data_t.y,
                                   data_t.edge_weight, num_permutations=200,
                                   seed=r)
            row = df[(df['repeat'] == r) & (df['layer_index'] == t)]
            assert row['q_null_mean'].item() == pytest.approx(
                null.expected, abs=1e-9)
            assert row['q_null_std'].item() == pytest.approx(null.std,
                                                             rel=1e-6)
            assert row['p'].item() == null.p
    out = summarize(df)
    for column in ('null_mean', 'null_std', 'z_mean', 'z_low', 'z_high',
                   'p_max'):
        assert column in out.columns
    first = df[df['layer_index'] == 0]
    assert out['z_mean'].iloc[0] == pytest.approx(first['z'].mean())
    assert out['p_max'].iloc[0] == first['p'].max()
    with pytest.raises(ValueError, match="'num_permutations' must be an "
                                         "integer >= 2"):
        modularity_curves(model, x, y, num_samples=30, calibrate=True,
                          num_permutations=1)


def test_summarize_keeps_curve_order_and_single_repeat(data):
    x, y = data
    df = modularity_curves(_model(), x, y, k=[5, 3], num_samples=30,
                           repeats=1)
    out = summarize(df)
    assert out['k'].tolist() == [5, 5, 3, 3]
    assert out['mean'].tolist() == df['modularity'].tolist()
    assert out['std'].isna().all()
    with pytest.raises(ValueError, match=r"lacks the column\(s\) "
                       r"\['modularity'\]"):
        summarize(df.drop(columns='modularity'))
    with pytest.raises(TypeError, match=r"'df' must be a pandas.DataFrame"):
        summarize([1, 2])
