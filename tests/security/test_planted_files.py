r"""No file planted in a folder the package reads runs code: each load
either rebuilds the derived file with a warning naming it, or fails with a
clear error naming the file."""
import warnings

import pytest
import torch
from torch import nn

from pyg_dnnmod import LayerGraphDataset, WeightGraphDataset
from pyg_dnnmod.io import DamagedFileError, load_tensors
from pyg_dnnmod.weights.zoo import read_record, record_path


def _model_and_data():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8))
    return model, torch.randn(40, 5), torch.arange(40) % 4


def test_layer_graph_dataset(tmp_path, marker, plant):
    model, x, y = _model_and_data()
    clean = LayerGraphDataset(str(tmp_path), model, x, y, k=3)
    expected = clean.modularity()
    processed = tmp_path / 'processed'
    # PyG itself would unpickle these two with weights_only=False.
    plant(processed / 'pre_transform.pt', marker)
    plant(processed / 'pre_filter.pt', marker)
    plant(processed / f'layer_graphs_{clean.key}.pt', marker)
    with pytest.warns(UserWarning, match=rf"processed file '.*"
                      rf"layer_graphs_{clean.key}\.pt' cannot be read "
                      rf"safely.*rebuilding it"):
        again = LayerGraphDataset(str(tmp_path), model, x, y, k=3)
    assert torch.equal(again.modularity(), expected)
    # Rebuilt: the next load is clean and silent.
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        third = LayerGraphDataset(str(tmp_path), model, x, y, k=3)
    assert torch.equal(third.modularity(), expected)


def test_weight_graph_dataset(zoo, marker, plant):
    clean = WeightGraphDataset(str(zoo))
    expected = [d.edge_weight.clone() for d in clean]
    processed = zoo / 'processed'
    plant(processed / 'pre_transform.pt', marker)
    plant(processed / 'pre_filter.pt', marker)
    plant(processed / f'weight_graphs_{clean.key}.pt', marker)
    with pytest.warns(UserWarning, match=r"weight_graphs_.*\.pt' cannot be "
                                         r"read safely.*rebuilding it"):
        again = WeightGraphDataset(str(zoo))
    assert len(again) == 4
    for got, want in zip(again, expected):
        assert torch.equal(got.edge_weight, want)


def test_zoo_record_is_retrained(zoo, marker, plant):
    want = read_record(zoo, 1)
    plant(record_path(zoo, 1), marker)
    with pytest.raises(DamagedFileError, match=r"zoo record '.*net_00001\.pt'"
                                               r" cannot be read safely"):
        read_record(zoo, 1)
    with pytest.warns(UserWarning, match=r"net_00001\.pt' cannot be read "
                                         r"safely.*training network 1 again"):
        dataset = WeightGraphDataset(str(zoo))
    assert len(dataset) == 4
    got = read_record(zoo, 1)  # the same network, bit for bit
    for name in ('train_loss', 'train_acc', 'test_loss', 'test_acc'):
        assert got['history'][name] == want['history'][name]
    assert got['final_test_acc'] == want['final_test_acc']
    for a, b in zip(got['state_dicts'], want['state_dicts']):
        assert all(torch.equal(a[k], b[k]) for k in b)


@pytest.mark.slow
def test_predict_command(zoo, tmp_path, marker, capsys, plant):
    from pyg_dnnmod.cli import main
    clean = WeightGraphDataset(str(zoo))
    plant(zoo / 'processed' / 'pre_transform.pt', marker)
    plant(zoo / 'processed' / f'weight_graphs_{clean.key}.pt', marker)
    plant(record_path(zoo, 0), marker)
    with pytest.warns(UserWarning):
        code = main(['predict', '--zoo', str(zoo), '--T', '1', '--folds',
                     '2', '--out', str(tmp_path / 'out'), '--no-progress'])
    captured = capsys.readouterr()
    assert 'Traceback' not in captured.err
    assert code == 0, captured.err
    assert not marker.exists()


def test_checkpoint_is_refused(tmp_path, marker, capsys, plant):
    from pyg_dnnmod.cli import main
    from pyg_dnnmod.training import load_checkpoint
    path = tmp_path / 'epoch_001.pt'
    plant(path, marker)
    with pytest.raises(ValueError, match=str(path)):
        load_checkpoint(nn.Linear(2, 2), path)
    code = main(['curve', '--model', 'digits_cnn', '--dataset', 'synthetic',
                 '--checkpoint', str(path), '--num-samples', '40',
                 '--repeats', '1', '--out', str(tmp_path / 'out'),
                 '--no-progress'])
    captured = capsys.readouterr()
    assert code == 2
    assert str(path) in captured.err and 'Traceback' not in captured.err


def test_train_resume_checkpoint_is_refused(tmp_path, marker, capsys, plant):
    from pyg_dnnmod.cli import main
    out = tmp_path / 'run'
    argv = ['train', '--dataset', 'synthetic', '--model', 'digits_cnn',
            '--epochs', '1', '--out', str(out), '--no-progress']
    assert main(argv) == 0
    plant(out / 'epoch_001.pt', marker)
    code = main(argv[:-3] + ['--epochs', '2', '--out', str(out), '--resume',
                             '--no-progress'])
    captured = capsys.readouterr()
    assert code == 2
    assert 'epoch_001.pt' in captured.err and 'Traceback' not in captured.err


def test_caches_are_rebuilt(tmp_path, marker, monkeypatch, plant):
    from pyg_dnnmod import pretrained
    calls = []
    real_train = pretrained.digits_model

    def counting(*args, **kwargs):
        calls.append(1)
        return real_train(*args, **kwargs)

    path = tmp_path / 'model.pt'
    plant(path, marker)
    config = pretrained.recipe_config(dict(pretrained.DIGITS_RECIPE,
                                           epochs=1))
    with pytest.warns(UserWarning, match=r"cached model '.*model\.pt' is "
                                         r"unusable.*training again"):
        model, info = pretrained.train_cached(path, counting, config, {})
    assert info['cached'] is False and len(calls) == 2
    stored = load_tensors(path)  # replaced by a clean file
    assert set(stored) == {'state_dict', 'info'}


def test_adversarial_cache_is_rebuilt(tmp_path, marker, plant):
    from pyg_dnnmod.adversarial import adversarial_examples
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = torch.rand(30, 1, 4, 4)
    y = model(x).argmax(1)
    cache = tmp_path / 'adv'
    kwargs = dict(num_samples=5, eps=0.5, cache_dir=cache, progress=False)
    first = adversarial_examples(model, x, y, 'fgsm', **kwargs)
    files = list(cache.glob('*.pt'))
    assert len(files) == 1
    plant(files[0], marker)
    with pytest.warns(UserWarning, match='unreadable adversarial cache'):
        again = adversarial_examples(model, x, y, 'fgsm', **kwargs)
    assert torch.equal(again.x_adv, first.x_adv) and not again.cached
