import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from pyg_dnnmod.training import TrainConfig, train
from pyg_dnnmod.weights import aggregate_statistics, weight_graph
from pyg_dnnmod.weights.dataset import (
    WeightGraphDataset,
    epoch_aggregates,
    layer_keys,
    snapshot,
    temporal_summary,
    weight_graph_sequence,
)
from pyg_dnnmod.weights.zoo import (
    ZooSpace,
    generate_zoo,
    read_record,
    zoo_model,
)

# Seed 1 draws both architectures among the first four networks.
TINY = dict(epochs=3, snapshot_epochs=2, max_train_samples=96, seed=1,
            space=ZooSpace(architectures=['lenet5', 'small_vgg'],
                           widths=[0.5]))


@pytest.fixture(scope='module')
def zoo(tmp_path_factory):
    root = tmp_path_factory.mktemp('zoo')
    generate_zoo(root, 4, **TINY)
    return root


def _small_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU(),
                               torch.nn.Flatten(), torch.nn.Linear(12, 2))


def test_sequence_from_state_dicts_matches_weight_graph():
    model = _small_model()
    states = []
    for step in range(3):
        states.append(copy.deepcopy(model.state_dict()))
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1.5).add_(0.1 * step)
    data = weight_graph_sequence(model, states, input_shape=(1, 4, 4))
    assert data.edge_weight.shape == (data.edge_index.size(1), 3)
    assert data.epoch.tolist() == [[0, 1, 2]]
    for e, state in enumerate(states):
        work = _small_model()
        work.load_state_dict(state)
        ref = weight_graph(work, input_shape=(1, 4, 4))
        assert torch.equal(ref.edge_index, data.edge_index)
        assert torch.equal(ref.edge_weight, data.edge_weight[:, e])
        assert torch.equal(snapshot(data, e).edge_weight, ref.edge_weight)
    # The caller's model keeps its own weights.
    assert torch.equal(model[0].weight, model.state_dict()['0.weight'])
    assert not torch.equal(model[0].weight, states[0]['0.weight'])


def test_sequence_from_checkpoint_folder(tmp_path):
    model = _small_model()
    x, y = torch.rand(16, 1, 4, 4), torch.arange(16) % 2
    seen = {}
    train(model, (x, y), config=TrainConfig(epochs=2, batch_size=8,
                                            lr=0.1, milestones=()),
          checkpoint_dir=tmp_path, progress=False, device='cpu',
          callback=lambda e, m: seen.update(
              {e: weight_graph(m, input_shape=(1, 4, 4)).edge_weight}))
    data = weight_graph_sequence(_small_model(), tmp_path,
                                 input_shape=(1, 4, 4))
    assert data.epoch.tolist() == [[0, 1, 2]]
    for e in range(3):
        assert torch.equal(data.edge_weight[:, e], seen[e])
    paths = sorted(tmp_path.glob('epoch_*.pt'))[1:]
    data = weight_graph_sequence(_small_model(), paths, input_shape=(1, 4, 4))
    assert torch.equal(data.edge_weight[:, 0], seen[1])


def test_sequence_rejects_bad_input(tmp_path):
    model = _small_model()
    with pytest.raises(ValueError, match="'snapshots' is empty"):
        weight_graph_sequence(model, [], input_shape=(1, 4, 4))
    with pytest.raises(ValueError, match='holds no checkpoint'):
        weight_graph_sequence(model, tmp_path, input_shape=(1, 4, 4))
    with pytest.raises(ValueError, match='epoch 0 does not fit'):
        weight_graph_sequence(model, [torch.nn.Linear(2, 2).state_dict()],
                              input_shape=(1, 4, 4))
    with pytest.raises(TypeError, match="'snapshots' must be"):
        weight_graph_sequence(model, model.state_dict())
    with pytest.raises(TypeError, match="'model' must be a torch.nn.Module"):
        weight_graph_sequence('model', [model.state_dict()])
    data = weight_graph_sequence(model, [model.state_dict()],
                                 input_shape=(1, 4, 4))
    with pytest.raises(ValueError, match=r"stored epochs \[0\] \(got 3\)"):
        snapshot(data, 3)


def test_layer_keys_of_lenet(lenet_graph):
    assert layer_keys(lenet_graph) == ['input', 'conv1', 'conv2', 'fc-3',
                                       'fc-2', 'fc-1']
    keys = layer_keys(weight_graph(zoo_model('small_vgg'),
                                   input_shape=(1, 16, 16)))
    assert keys == ['input', 'conv1', 'conv2', 'conv3', 'conv4', 'fc-3',
                    'fc-2', 'fc-1']


def test_epoch_aggregates_match_aggregate_statistics():
    model = _small_model()
    states = [copy.deepcopy(model.state_dict())]
    with torch.no_grad():
        model[0].weight.mul_(3)
    states.append(copy.deepcopy(model.state_dict()))
    with torch.no_grad():
        model[3].weight[0, 0] = float('nan')  # a diverged epoch
    states.append(model.state_dict())
    data = weight_graph_sequence(model, states, input_shape=(1, 4, 4))
    agg = epoch_aggregates(data)
    assert agg.index.tolist() == [0, 1, 2]
    for e in (0, 1):
        ref = aggregate_statistics(snapshot(data, e),
                                   statistics=['weighted_degree',
                                               'eigenvector_centrality'])
        for layer, key in zip(ref.index, ['input', 'conv1', 'fc-1', 'all']):
            for (stat, summary), value in ref.loc[layer].items():
                got = agg.loc[e, f'{key}/{stat}/{summary}']
                assert (math.isnan(value) and math.isnan(got)) or \
                    got == value
    values = agg.drop(columns='seconds')
    assert values.loc[2].isna().all()
    assert (agg['seconds'] > 0).all()
    # The weighted degree of conv1's channels tripled with their in-edges
    # (the out-edges to fc-1 are unchanged): check one hand-computable
    # number, the whole-graph mean degree = 2 * total weight / nodes.
    w = snapshot(data, 1).edge_weight
    assert agg.loc[1, 'all/weighted_degree/mean'] == pytest.approx(
        float(w.sum()) / data.num_nodes)


def test_temporal_summary_by_hand():
    agg = pd.DataFrame({'a': [1.0, 2.0, 4.0, 8.0], 'b': [0.0, -1.0, 1.0, 0.0],
                        'seconds': [9.0] * 4},
                       index=pd.Index([0, 1, 2, 3], name='epoch'))
    s = temporal_summary(agg, 2)
    assert s.to_dict() == {'a@e1': 2.0, 'b@e1': -1.0, 'a@e2': 4.0,
                           'b@e2': 1.0, 'a@d1': 1.0, 'b@d1': -1.0,
                           'a@d2': 2.0, 'b@d2': 2.0}
    assert len(temporal_summary(agg, 3)) == 12
    with pytest.raises(ValueError, match=r"epochs \[4\] are missing"):
        temporal_summary(agg, 4)
    with pytest.raises(ValueError, match="'T' must be an integer >= 1"):
        temporal_summary(agg, 0)


def test_dataset_items(zoo):
    dataset = WeightGraphDataset(str(zoo))
    assert len(dataset) == 4 and dataset.num_epochs == 3
    hp = dataset.hparams
    assert hp['index'].tolist() == [0, 1, 2, 3]
    for i in range(4):
        record = read_record(zoo, i)
        data = dataset[i]
        assert float(data.y) == record['final_test_acc']
        assert int(data.net_index) == i
        assert data.test_acc[0].tolist() == record['history']['test_acc']
        assert data.epoch.tolist() == [[0, 1, 2]]
        model = zoo_model(record['hparams']['architecture'], 0.5)
        for e in range(3):
            model.load_state_dict(record['state_dicts'][e])
            ref = weight_graph(model, input_shape=(1, 16, 16))
            assert torch.equal(data.edge_index, ref.edge_index)
            assert torch.equal(data.edge_weight[:, e], ref.edge_weight)
        assert hp.loc[i, 'architecture'] == record['hparams']['architecture']
    # Items of both architectures collate into batches.
    from torch_geometric.loader import DataLoader
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    assert batch.y.shape == (4, ) and batch.test_acc.shape == (4, 4)


def test_dataset_cache_and_keys(zoo):
    first = WeightGraphDataset(str(zoo))
    path = first.processed_paths[0]
    stamp = (zoo / 'processed' / path.split('/')[-1]).stat().st_mtime_ns
    again = WeightGraphDataset(str(zoo))
    assert again.key == first.key
    assert (zoo / 'processed' / path.split('/')[-1]).stat().st_mtime_ns == \
        stamp  # reused, not rebuilt
    shorter = WeightGraphDataset(str(zoo), epochs=1)
    assert shorter.key != first.key
    assert shorter[0].edge_weight.shape[1] == 2
    assert torch.equal(shorter[0].edge_weight, first[0].edge_weight[:, :2])
    signed = WeightGraphDataset(str(zoo), signed=True)
    assert signed.key != first.key
    assert torch.equal(signed[0].edge_weight.abs(), first[0].edge_weight)
    with pytest.raises(ValueError, match=r"'epochs' must be an integer in "
                                         r"\[0, 2\]"):
        WeightGraphDataset(str(zoo), epochs=3)
    with pytest.raises(ValueError, match="'conv' must be"):
        WeightGraphDataset(str(zoo), conv='folded')


def test_dataset_key_follows_the_records(tmp_path):
    root = tmp_path / 'zoo'
    settings = dict(TINY, space=ZooSpace(architectures=['lenet5'],
                                         widths=[0.5]))
    generate_zoo(root, 1, **settings)
    one = WeightGraphDataset(str(root))
    generate_zoo(root, 2, **settings)
    two = WeightGraphDataset(str(root))
    assert one.key != two.key and len(one) == 1 and len(two) == 2
    with pytest.raises(ValueError, match='holds no zoo'):
        WeightGraphDataset(str(tmp_path / 'nothing'))


def test_dataset_summaries(zoo):
    dataset = WeightGraphDataset(str(zoo))
    agg = dataset.epoch_aggregates()
    assert agg.index.names == ['item', 'epoch']
    again = dataset.epoch_aggregates()  # from the cache file
    pd.testing.assert_frame_equal(agg, again)
    direct = epoch_aggregates(dataset[1]).drop(columns='seconds')
    np.testing.assert_allclose(
        agg.loc[1, direct.columns].to_numpy(dtype=float),
        direct.to_numpy(dtype=float), rtol=1e-12)
    # Columns of a layer item 1 lacks are NaN there.
    assert agg.loc[1].drop(columns=list(direct.columns) + ['seconds']
                           ).isna().all().all()
    table = dataset.summaries(2)
    assert len(table) == 4
    ref = temporal_summary(direct, 2)
    got = table.loc[1, ref.index]
    np.testing.assert_allclose(got.to_numpy(dtype=float),
                               ref.to_numpy(dtype=float), rtol=1e-12)
    # LeNet has no conv3; a small VGG does: NaN for the LeNets only.
    arch = dataset.hparams['architecture']
    assert set(arch) == {'lenet5', 'small_vgg'}
    column = 'conv3/weighted_degree/mean@e1'
    assert table[column].isna().tolist() == (arch == 'lenet5').tolist()
    with pytest.raises(ValueError, match=r"'T' must be an integer in "
                                         r"\[1, 2\]"):
        dataset.summaries(3)


def test_epoch_aggregates_keep_what_converged():
    model = _small_model()
    data = weight_graph_sequence(model, [model.state_dict()],
                                 input_shape=(1, 4, 4))
    with pytest.warns(UserWarning, match='epoch 0: eigenvector_centrality '
                                         'did not converge'):
        agg = epoch_aggregates(data, max_iter=1, method='power')
    eig = [c for c in agg.columns if 'eigenvector' in c]
    deg = [c for c in agg.columns if 'weighted_degree' in c]
    assert len(eig) == len(deg) == 4 * 5  # 3 layers and 'all'
    assert agg[eig].isna().all().all()
    full = epoch_aggregates(data)
    pd.testing.assert_frame_equal(agg[deg], full[deg])
