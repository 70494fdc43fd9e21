r"""Every derived file, truncated, filled with random bytes or emptied, is
rebuilt with a warning naming it, and the results equal a clean run's."""
import pandas as pd
import pytest
import torch
from torch import nn

from pyg_dnnmod import LayerGraphDataset, WeightGraphDataset
from pyg_dnnmod.weights.zoo import generate_zoo, read_record, record_path

DAMAGE = ('truncate', 'random', 'empty')


@pytest.mark.parametrize('suffix', ['pt', 'json'])
@pytest.mark.parametrize('how', DAMAGE)
def test_layer_graph_dataset(tmp_path, damage, suffix, how):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8))
    x, y = torch.randn(40, 5), torch.arange(40) % 4
    clean = LayerGraphDataset(str(tmp_path), model, x, y, k=3)
    expected = clean.modularity()
    path = tmp_path / 'processed' / f'layer_graphs_{clean.key}.{suffix}'
    damage(path, how)
    with pytest.warns(UserWarning, match=rf"layer_graphs_{clean.key}\."
                                         rf"{suffix}'.*rebuilding it"):
        again = LayerGraphDataset(str(tmp_path), model, x, y, k=3)
    assert torch.equal(again.modularity(), expected)
    assert again.layer_names == clean.layer_names
    assert [d.edge_index.tolist() for d in again] == \
        [d.edge_index.tolist() for d in clean]


@pytest.mark.parametrize('suffix', ['pt', 'json'])
@pytest.mark.parametrize('how', DAMAGE)
def test_weight_graph_dataset(zoo, damage, suffix, how):
    clean = WeightGraphDataset(str(zoo))
    expected = [d.edge_weight.clone() for d in clean]
    damage(zoo / 'processed' / f'weight_graphs_{clean.key}.{suffix}', how)
    with pytest.warns(UserWarning, match=rf"weight_graphs_{clean.key}\."
                                         rf"{suffix}'.*rebuilding it"):
        again = WeightGraphDataset(str(zoo))
    assert again.hparams.equals(clean.hparams)
    for got, want in zip(again, expected):
        assert torch.equal(got.edge_weight, want)


@pytest.mark.parametrize('how', DAMAGE)
def test_epoch_aggregates(zoo, damage, how):
    dataset = WeightGraphDataset(str(zoo))
    expected = dataset.epoch_aggregates()
    [path] = (zoo / 'processed').glob('aggregates_*.csv')
    damage(path, how)
    with pytest.warns(UserWarning, match=r"aggregates_.*\.csv' are "
                                         r"unusable.*computing them again"):
        again = dataset.epoch_aggregates()
    # Every statistic equal; 'seconds' times the computation itself.
    pd.testing.assert_frame_equal(again.drop(columns='seconds'),
                                  expected.drop(columns='seconds'))


@pytest.mark.parametrize('how', DAMAGE)
def test_zoo_record_resume_and_dataset(zoo, damage, how, tiny_zoo_settings):
    want = read_record(zoo, 2)
    damage(record_path(zoo, 2), how)
    # Resuming the zoo trains the damaged network again, and goes on.
    with pytest.warns(UserWarning, match=r"net_00002\.pt'.*training "
                                         r"network 2 again"):
        summary = generate_zoo(zoo, 4, **tiny_zoo_settings)
    assert summary['index'].tolist() == [0, 1, 2, 3]
    got = read_record(zoo, 2)
    for a, b in zip(got['state_dicts'], want['state_dicts']):
        assert all(torch.equal(a[k], b[k]) for k in b)
    # The dataset does the same when it meets a damaged record.
    damage(record_path(zoo, 2), how)
    with pytest.warns(UserWarning, match='training network 2 again'):
        dataset = WeightGraphDataset(str(zoo))
    assert len(dataset) == 4


@pytest.mark.parametrize('how', DAMAGE)
def test_model_cache(tmp_path, damage, how):
    from pyg_dnnmod import pretrained
    config = pretrained.recipe_config(dict(pretrained.DIGITS_RECIPE,
                                           epochs=1))
    path = tmp_path / 'model.pt'
    clean, _ = pretrained.train_cached(path, pretrained.digits_model, config,
                                       {})
    damage(path, how)
    with pytest.warns(UserWarning, match=r"model\.pt' is unusable"):
        again, info = pretrained.train_cached(path, pretrained.digits_model,
                                              config, {})
    assert info['cached'] is False
    for key, value in clean.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)
