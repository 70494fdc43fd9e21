import dataclasses

import pytest
import torch

from pyg_dnnmod import SnapshotConfig, layer_graphs
from pyg_dnnmod.features import iter_layer_features
from pyg_dnnmod.testing import toy_problem
from pyg_dnnmod.utils import sample_indices


def test_defaults_are_the_papers():
    config = SnapshotConfig()
    assert (config.k, config.metric, config.symmetrize) == (3, 'cosine',
                                                            'half')
    assert config.num_samples is None and config.balanced
    assert dataclasses.is_dataclass(config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.k = 5


@pytest.mark.parametrize('changes, error, message', [
    (dict(k=0), ValueError, r"'k' must be >= 1 \(got 0\)"),
    (dict(k=2.0), TypeError, r"'k' must be an integer \(got 2.0\)"),
    (dict(k=True), TypeError, r"'k' must be an integer \(got True\)"),
    (dict(metric='l2'), ValueError, r"'metric' must be one of"),
    (dict(symmetrize='mean'), ValueError, r"'symmetrize' must be one of"),
    (dict(num_samples=0), ValueError, r"'num_samples' must be >= 1"),
    (dict(seed=-1), ValueError, r"'seed' must be >= 0"),
    (dict(batch_size=0), ValueError, r"'batch_size' must be >= 1"),
    (dict(balanced=1), TypeError, r"'balanced' must be a bool"),
    (dict(resolution=float('nan')), ValueError, r"'resolution' must be a "
     r"finite number"),
    (dict(knn_kwargs=[1]), TypeError, r"'knn_kwargs' must be a dict"),
])
def test_bad_fields_name_the_field(changes, error, message):
    with pytest.raises(error, match=message):
        SnapshotConfig(**changes)
    with pytest.raises(error, match=message):
        SnapshotConfig().replace(**changes)


def test_resolve_replace_and_unknown_keys():
    base = SnapshotConfig(k=5, num_samples=100)
    assert SnapshotConfig.resolve(None) == SnapshotConfig()
    assert SnapshotConfig.resolve(base) is base
    assert SnapshotConfig.resolve(base, k=7) == SnapshotConfig(
        k=7, num_samples=100)
    assert base.replace(seed=3).seed == 3 and base.seed == 0
    with pytest.raises(TypeError, match=r"unknown snapshot parameter\(s\) "
                       r"\['kk'\]"):
        SnapshotConfig.resolve(base, kk=3)
    with pytest.raises(TypeError, match="'config' must be a SnapshotConfig"):
        SnapshotConfig.resolve({'k': 3})


def test_the_one_k_below_n_rule():
    assert SnapshotConfig(k=4).validate(5) == 5
    assert SnapshotConfig(k=4, num_samples=5).validate(100) == 5
    with pytest.raises(ValueError, match=r"'k' must be smaller than the "
                       r"number of samples \(got k=5 for N=5\)"):
        SnapshotConfig(k=5, num_samples=5).validate(100)
    with pytest.raises(ValueError, match=r"'num_samples' \(101\) exceeds "
                       r"the number of available samples \(100\)"):
        SnapshotConfig(num_samples=101).validate(100)


def test_draw_is_sample_indices_with_the_repeat_seed():
    labels = torch.arange(60) % 3
    config = SnapshotConfig(num_samples=30, seed=4)
    for repeat in range(3):
        assert torch.equal(config.draw(labels, repeat),
                           sample_indices(labels, 30, seed=4 + repeat))
    assert torch.equal(SnapshotConfig().draw(labels), torch.arange(60))
    unbalanced = SnapshotConfig(num_samples=31, balanced=False)
    assert torch.equal(unbalanced.draw(labels),
                       sample_indices(labels, 31, balanced=False))
    with pytest.raises(TypeError, match="'labels' must be integer class "
                       "labels"):
        config.draw(labels.float())


def test_layer_features_read_the_configured_layers():
    model, x, _ = toy_problem(10)
    config = SnapshotConfig(layers=[-1], post_activation=False,
                            batch_size=3)
    got = list(config.layer_features(model, x))
    want = list(iter_layer_features(model, x, [-1], batch_size=3))
    assert [name for name, _ in got] == [name for name, _ in want] == ['2']
    assert torch.equal(got[0][1], want[0][1])


def test_layer_graphs_with_a_config_equals_the_keywords():
    model, x, y = toy_problem(60, num_classes=3)
    config = SnapshotConfig(k=4, num_samples=30, seed=2, metric='pearson')
    a = layer_graphs(model, x, y, config)
    b = layer_graphs(model, x, y, k=4, num_samples=30, seed=2,
                     metric='pearson')
    c = layer_graphs(model, x, y, SnapshotConfig(k=4), num_samples=30,
                     seed=2, metric='pearson')
    for other in (b, c):
        assert torch.equal(a.modularity(), other.modularity())
        assert [d.edge_index.tolist() for d in a] == \
            [d.edge_index.tolist() for d in other]
    assert a.meta['sample_index'] == sample_indices(y, 30, seed=2).tolist()


def test_to_dict_is_plain():
    out = SnapshotConfig(layers=(1, 2), knn_kwargs={'block_size': 8}
                         ).to_dict()
    assert out['layers'] == [1, 2] and out['knn_kwargs'] == {'block_size': 8}
    assert set(out) == {f.name for f in dataclasses.fields(SnapshotConfig)}
