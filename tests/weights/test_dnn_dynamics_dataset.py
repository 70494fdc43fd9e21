import math
import shutil
import warnings

import numpy as np
import pytest
import torch

from pyg_dnnmod import names
from pyg_dnnmod.datasets import Evaluator, resize_images
from pyg_dnnmod.weights import (
    SPLITS,
    DNNDynamicsDataset,
    dynamics_node_features,
)
from pyg_dnnmod.datasets.images import FASHION_MNIST_MEAN, FASHION_MNIST_STD
from pyg_dnnmod.weights import weight_graph_sequence
from pyg_dnnmod.weights import zoo as zoo_module
from pyg_dnnmod.weights.zoo import (
    ZOO_DATA,
    read_record,
    tiny_zoo,
    zoo_model,
    zoo_spec,
)

#: The zoo of the benchmark tests: 12 tiny LeNets, 8 of width 0.5 and 4 of
#: width 1.0 for seed 3; shared by the test files of the session (a
#: resumed zoo trains nothing).
ZOO = dict(num_networks=12, widths=(0.5, 1.0), seed=3)


@pytest.fixture(scope='module')
def zoo(tmp_path_factory):
    return tiny_zoo(tmp_path_factory.getbasetemp() / 'benchmark-zoo', **ZOO)


@pytest.fixture(scope='module')
def dataset(zoo):
    return DNNDynamicsDataset(zoo, T=1, narrow_max=0.5)


def test_items_hold_the_records(zoo, dataset):
    assert len(dataset) == 12 and dataset.T == 1
    y = np.array([read_record(zoo, i)['final_test_acc'] for i in range(12)])
    # Terciles of all final accuracies (numpy's linear rule), merged when
    # equal; a value on an edge goes up, as in the Evaluator.
    edges = np.unique(np.quantile(y, [1 / 3, 2 / 3]))
    assert dataset.bin_edges == edges.tolist()
    for i in range(12):
        record, item = read_record(zoo, i), dataset[i]
        assert float(item.y) == record['final_test_acc']
        assert int(item.y_bin) == int((edges <= y[i]).sum())
        assert int(item.net_index) == i
        assert float(item.width) == record['hparams']['width']
        for name in ('test_acc', 'test_loss', 'train_acc', 'train_loss'):
            # Epochs 0..T only: nothing later is in an item but y.
            assert item[name].tolist() == [record['history'][name][:2]]
        assert item.epoch.tolist() == [[0, 1]]
    true_bins = [int(d.y_bin) for d in dataset]
    assert true_bins == np.searchsorted(
        dataset.evaluator().edges(y), y, side='right').tolist()

    # The weight graphs of epochs 0 and 1 of network 5, built anew.
    record, item = read_record(zoo, 5), dataset[5]
    hp = record['hparams']
    model = zoo_model(hp['architecture'], hp['width'], hp['dropout'])
    reference = weight_graph_sequence(model, record['state_dicts'][:2],
                                      input_shape=(1, 16, 16))
    assert torch.equal(item.edge_index, reference.edge_index)
    assert torch.equal(item.edge_weight, reference.edge_weight)
    assert item.x.shape == (item.num_nodes, 2, 6)
    assert torch.equal(item.x, dynamics_node_features(
        item.edge_index, item.edge_weight, item.layer))
    assert dataset.hparams['index'].tolist() == list(range(12))


def test_node_features_by_hand():
    # Layers 0 - 1 - 2: node 0 | nodes 1, 2 | node 3; both directions.
    pairs = [(0, 1, 1.0), (0, 2, -2.0), (1, 3, 3.0), (2, 3, float('nan'))]
    src = [a for a, b, _ in pairs] + [b for a, b, _ in pairs]
    dst = [b for a, b, _ in pairs] + [a for a, b, _ in pairs]
    weight = torch.tensor([w for *_, w in pairs] * 2)
    x = dynamics_node_features(torch.tensor([src, dst]),
                               torch.stack([weight, 2 * weight], dim=1),
                               torch.tensor([0, 1, 1, 2]))
    assert x.shape == (4, 2, 6)
    log = math.log
    # Strengths toward the previous and next layer, their change since
    # the previous epoch, depth and the non-finite flag.
    expected_epoch0 = [[0, log(4), 0, 0, 0, 0],
                       [log(2), log(4), 0, 0, .5, 0],
                       [log(3), 0, 0, 0, .5, 1],
                       [log(4), 0, 0, 0, 1, 1]]
    expected_epoch1 = [[0, log(7), 0, log(7 / 4), 0, 0],
                       [log(3), log(7), log(3 / 2), log(7 / 4), .5, 0],
                       [log(5), 0, log(5 / 3), 0, .5, 1],
                       [log(7), 0, log(7 / 4), 0, 1, 1]]
    expected = torch.tensor([expected_epoch0, expected_epoch1]).transpose(0, 1)
    assert torch.allclose(x, expected.float(), atol=1e-6)
    with pytest.raises(ValueError, match=r"'edge_weight' must be a tensor "
                                         r"\[E\] or \[E, S\] with E = 8"):
        dynamics_node_features(torch.tensor([src, dst]), weight[:3],
                               torch.tensor([0, 1, 1, 2]))


def test_splits_are_fixed_disjoint_and_cover(zoo, dataset):
    assert SPLITS == ('seed', 'width') == names.BENCHMARK_SPLITS
    width = dataset.hparams['width'].to_numpy()
    for name in SPLITS:
        for seed in (0, 1):
            split = dataset.get_idx_split(name, seed)
            assert list(split) == ['train', 'valid', 'test']
            again = DNNDynamicsDataset(zoo, T=1, narrow_max=0.5)
            assert all(torch.equal(split[p], again.get_idx_split(
                name, seed)[p]) for p in split)
            every = torch.cat(list(split.values())).sort().values
            assert every.tolist() == list(range(12))  # disjoint, cover
            assert all(torch.equal(v, v.sort().values)
                       for v in split.values())
    seed_split = dataset.get_idx_split('seed', 0)
    # floor(0.2 * 12 + 0.5) = 2 held out twice.
    assert [len(seed_split[p]) for p in ('train', 'valid', 'test')] == \
        [8, 2, 2]
    assert not torch.equal(seed_split['test'],
                           dataset.get_idx_split('seed', 1)['test'])
    expected = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    assert seed_split['test'].tolist() == sorted(expected[:2].tolist())
    for seed in (0, 1, 2):
        split = dataset.get_idx_split('width', seed)
        assert width[split['train']].max() < width[split['test']].min()
        assert width[split['valid']].max() <= 0.5
        assert split['test'].tolist() == np.flatnonzero(width > 0.5).tolist()
        # 8 narrow networks: floor(0.2 * 8 + 0.5) = 2 validate.
        assert [len(split[p]) for p in ('train', 'valid', 'test')] == \
            [6, 2, 4]


def test_bad_input(zoo, dataset, tmp_path):
    with pytest.raises(ValueError, match="holds no zoo"):
        DNNDynamicsDataset(str(tmp_path))
    with pytest.raises(ValueError, match="'T' must be an integer >= 1 "
                                         r"\(got 0\)"):
        DNNDynamicsDataset(zoo, T=0)
    with pytest.raises(ValueError, match=r"'T' must be at most the 1 epochs "
                                         r"the zoo kept \(got 2\)"):
        DNNDynamicsDataset(zoo, T=2)
    with pytest.raises(ValueError, match="'num_bins' must be an integer >= 2"):
        DNNDynamicsDataset(zoo, T=1, num_bins=1)
    with pytest.raises(ValueError, match="'narrow_max' must be a number > 0 "
                                         r"\(got 0\)"):
        DNNDynamicsDataset(zoo, T=1, narrow_max=0)
    with pytest.raises(ValueError, match=r"'name' must be one of \('seed', "
                                         r"'width'\) \(got 'depth'\)"):
        dataset.get_idx_split('depth')
    with pytest.raises(ValueError, match=r"'seed' must be an integer >= 0 "
                                         r"\(got -1\)"):
        dataset.get_idx_split('seed', -1)
    everything_narrow = DNNDynamicsDataset(zoo, T=1, narrow_max=1.0)
    with pytest.raises(ValueError, match=r"leaves fewer than 2 networks in "
                                         r"\{'test': 0\}"):
        everything_narrow.get_idx_split('width')


def test_damaged_processed_file_is_rebuilt(zoo, tmp_path):
    root = tmp_path / 'zoo'
    shutil.copytree(zoo, root)
    first = DNNDynamicsDataset(str(root), T=1)
    with open(first.processed_paths[0], 'wb') as f:
        f.write(b'not a torch file')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        again = DNNDynamicsDataset(str(root), T=1)
    assert any('rebuilding' in str(w.message) for w in caught)
    assert torch.equal(again[3].edge_weight, first[3].edge_weight)


def test_fashion_mnist_zoo_data(tmp_path, monkeypatch):
    # A small Fashion-MNIST in the IDX format, found through the data
    # environment variable; 4 images per class in each split.
    rng = np.random.default_rng(0)
    for prefix, count in (('train', 40), ('t10k', 40)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = np.arange(count, dtype=np.uint8) % 10
        (tmp_path / f'{prefix}-images-idx3-ubyte').write_bytes(
            bytes([0, 0, 8, 3]) + count.to_bytes(4, 'big')
            + (28).to_bytes(4, 'big') * 2 + images.tobytes())
        (tmp_path / f'{prefix}-labels-idx1-ubyte').write_bytes(
            bytes([0, 0, 8, 1]) + count.to_bytes(4, 'big') + labels.tobytes())
    monkeypatch.setenv('PYG_DNNMOD_DATA', str(tmp_path))
    monkeypatch.setitem(zoo_module.ZOO_FASHION_SUBSET, 'train', 20)
    monkeypatch.setitem(zoo_module.ZOO_FASHION_SUBSET, 'test', 10)
    monkeypatch.setattr(zoo_module, '_DATA_CACHE', {})
    (x, y), (x_test, y_test) = zoo_module._zoo_data('fashion-mnist', None)
    assert x.shape == (20, 1, 16, 16) and x_test.shape == (10, 1, 16, 16)
    assert y.bincount().tolist() == [2] * 10
    assert y_test.bincount().tolist() == [1] * 10
    # The images are the drawn ones, resized (bilinear, antialiased).
    first = (images_of(tmp_path, 'train')[labels_of(tmp_path, 'train') ==
                                          int(y[0])])
    resized = resize_images(torch.from_numpy(first / 255.0).float()
                            .unsqueeze(1), 16)
    assert any(torch.allclose(x[0], r) for r in resized)
    (x_few, _), _ = zoo_module._zoo_data('fashion-mnist', 5)
    assert x_few.shape[0] == 5

    assert ZOO_DATA == names.ZOO_DATA and 'fashion-mnist' in ZOO_DATA
    assert zoo_spec(data='fashion-mnist')['data'] == 'fashion-mnist'
    model = zoo_model('lenet5', 0.5, data='fashion-mnist')
    # The normalisation is Fashion-MNIST's: an input at its mean is 0.
    norm = next(m for m in model.modules() if type(m).__name__ ==
                'Normalize')
    out = norm(torch.full((1, 1, 16, 16), FASHION_MNIST_MEAN[0]))
    assert float(out.abs().max()) < 1e-6
    assert float(norm(torch.full((1, 1, 1, 1), FASHION_MNIST_MEAN[0] +
                                 FASHION_MNIST_STD[0]))) == \
        pytest.approx(1.0)
    with pytest.raises(ValueError, match="'data' must be one of"):
        zoo_model('lenet5', data='cifar10')


def images_of(folder, split):
    prefix = 'train' if split == 'train' else 't10k'
    raw = (folder / f'{prefix}-images-idx3-ubyte').read_bytes()
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 28, 28)


def labels_of(folder, split):
    prefix = 'train' if split == 'train' else 't10k'
    raw = (folder / f'{prefix}-labels-idx1-ubyte').read_bytes()
    return np.frombuffer(raw, dtype=np.uint8, offset=8)


def test_evaluator_of_the_dataset_uses_its_edges(dataset):
    evaluator = dataset.evaluator()
    assert isinstance(evaluator, Evaluator)
    assert evaluator.bin_edges == dataset.bin_edges
    assert evaluator.top_fraction == 0.1
