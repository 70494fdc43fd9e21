import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from pyg_dnnmod.weights import weight_graph
from pyg_dnnmod.weights.zoo import (
    WeightRecorder,
    ZooSpace,
    finished_networks,
    generate_zoo,
    read_record,
    record_path,
    train_network,
    zoo_model,
    zoo_spec,
    zoo_summary,
)

# A zoo small enough for tests: LeNet-5 at half width, 2 epochs on 96
# images (about a second per network).
TINY = dict(epochs=2, snapshot_epochs=1, max_train_samples=96,
            space=ZooSpace(architectures=['lenet5'], widths=[0.5]))


def test_space_sample_is_a_function_of_seed_and_index():
    space = ZooSpace()
    assert space.sample(5, seed=1) == space.sample(5, seed=1)
    assert space.sample(5, seed=1) != space.sample(6, seed=1)
    assert space.sample(5, seed=1) != space.sample(5, seed=2)
    draws = [space.sample(i) for i in range(200)]
    for d in draws:
        assert d['architecture'] in space.architectures
        assert d['width'] in space.widths
        assert space.lr[0] <= d['lr'] <= space.lr[1]
        assert space.dropout[0] <= d['dropout'] <= space.dropout[1]
        assert space.weight_decay[0] <= d['weight_decay'] <= \
            space.weight_decay[1]
        assert d['optimizer'] in space.optimizers
    # Log-uniform: the median of the draws sits near the geometric mean of
    # the range (0.03), far below the arithmetic one (0.15).
    lrs = sorted(d['lr'] for d in draws)
    median = (lrs[99] + lrs[100]) / 2
    assert abs(math.log(median) - math.log(0.03)) < 0.5
    assert {d['optimizer'] for d in draws} == {'sgd', 'momentum', 'nesterov'}
    assert {d['architecture'] for d in draws} == {'lenet5', 'small_vgg'}


def test_space_rejects_bad_input():
    with pytest.raises(ValueError, match="'architectures' holds 'resnet'"):
        ZooSpace(architectures=['resnet'])
    with pytest.raises(ValueError, match="'lr' must satisfy 0 < low"):
        ZooSpace(lr=(0.0, 0.1))
    with pytest.raises(ValueError, match=r"'lr' must satisfy .*\(0\.3, 0\.1"):
        ZooSpace(lr=(0.3, 0.1))
    with pytest.raises(ValueError, match="'dropout' must stay below 1"):
        ZooSpace(dropout=(0.0, 1.0))
    with pytest.raises(ValueError, match="'widths' must not be empty"):
        ZooSpace(widths=[])
    with pytest.raises(ValueError, match="'widths' must hold numbers > 0"):
        ZooSpace(widths=[0.5, -1])
    with pytest.raises(TypeError, match="'optimizers' must be a sequence"):
        ZooSpace(optimizers='sgd')
    with pytest.raises(ValueError, match="'optimizers' holds 'adam'"):
        ZooSpace(optimizers=['adam'])


def test_spec_defaults_and_checks():
    spec = zoo_spec()
    assert spec['epochs'] == 15 and spec['snapshot_epochs'] == 5
    assert spec['milestones'] == [10]
    assert zoo_spec(epochs=1, snapshot_epochs=1)['milestones'] == []
    with pytest.raises(ValueError, match="'epochs' must be >= 1 \\(got 0\\)"):
        zoo_spec(epochs=0)
    with pytest.raises(ValueError, match="'max_train_samples'"):
        zoo_spec(max_train_samples=0)
    with pytest.raises(ValueError, match="'milestones' must be strictly"):
        zoo_spec(milestones=[5, 3])
    with pytest.raises(TypeError, match="'space' must be a ZooSpace"):
        zoo_spec(space={'lr': (0.1, 0.2)})


@pytest.mark.parametrize('architecture,width', [('lenet5', 1.0),
                                                ('lenet5', 2.0),
                                                ('small_vgg', 0.5)])
def test_zoo_model_graph_sizes(architecture, width):
    model = zoo_model(architecture, width)
    assert model(torch.rand(3, 1, 16, 16)).shape == (3, 10)
    data = weight_graph(model, input_shape=(1, 16, 16))
    if architecture == 'lenet5':
        sizes = [round(c * width) for c in (6, 16, 120, 84)]
    else:  # 3x3 convs 8, 16, 32, 32 and hidden FC 64, 64
        sizes = [round(c * width) for c in (8, 16, 32, 32, 64, 64)]
    assert data.num_nodes == 1 + sum(sizes) + 10
    with pytest.raises(ValueError, match="'architecture' must be one of"):
        zoo_model('vgg19')


def test_snapshot_recorder_copies():
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.zero_()  # exact arithmetic below
    recorder = WeightRecorder(max_epoch=1)
    for epoch in range(3):
        recorder(epoch, model)
        with torch.no_grad():
            model.weight.add_(1.0)
    assert sorted(recorder.state_dicts) == [0, 1]
    states = recorder.state_dicts
    assert torch.equal(states[1]['weight'] - states[0]['weight'],
                       torch.ones(2, 2))
    with pytest.raises(ValueError, match="'max_epoch' must be an integer"):
        WeightRecorder(-1)


def test_train_network_record_and_determinism():
    spec = zoo_spec(**TINY)
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a = train_network(3, spec)
        b = train_network(3, spec)
    finally:
        torch.set_num_threads(old)
    assert a['hparams'] == ZooSpace(**spec['space']).sample(3)
    assert len(a['state_dicts']) == 2  # epochs 0 and 1
    assert a['history']['epoch'] == [0.0, 1.0, 2.0]
    assert a['final_test_acc'] == a['history']['test_acc'][-1]
    assert a['config']['momentum'] == (0.0 if a['hparams']['optimizer'] ==
                                       'sgd' else 0.9)
    assert a['final_test_acc'] == b['final_test_acc']
    for sa, sb in zip(a['state_dicts'], b['state_dicts']):
        for key in sa:
            assert torch.equal(sa[key], sb[key])
    # The recorded epoch-0 weights are the seeded initialisation.
    with torch.random.fork_rng():
        torch.manual_seed(a['hparams']['seed'])
        init = zoo_model('lenet5', 0.5, a['hparams']['dropout'])
    for key, value in init.state_dict().items():
        assert torch.equal(a['state_dicts'][0][key], value)


def test_generate_zoo_extends_and_checks_settings(tmp_path):
    summary = generate_zoo(tmp_path, 2, **TINY)
    assert summary['index'].tolist() == [0, 1]
    first = record_path(tmp_path, 0).read_bytes()
    stamp = record_path(tmp_path, 0).stat().st_mtime_ns
    summary = generate_zoo(tmp_path, 3, **TINY)
    assert finished_networks(tmp_path) == [0, 1, 2]
    assert len(summary) == 3
    # Finished networks are not trained again.
    assert record_path(tmp_path, 0).stat().st_mtime_ns == stamp
    assert record_path(tmp_path, 0).read_bytes() == first
    with open(tmp_path / 'raw' / 'zoo.json') as f:
        stored = json.load(f)
    assert stored['epochs'] == 2 and 'version' in stored
    with pytest.raises(ValueError, match=r"other settings \(epochs=2 stored "
                                         r"vs 3 now"):
        generate_zoo(tmp_path, 3, **dict(TINY, epochs=3))
    with pytest.raises(ValueError, match="'num_networks' must be an integer"):
        generate_zoo(tmp_path, 0, **TINY)
    assert read_record(tmp_path, 2)['index'] == 2
    with pytest.raises(ValueError, match='network 7 is not in the zoo'):
        read_record(tmp_path, 7)


_GENERATOR = textwrap.dedent('''
    import sys
    from pyg_dnnmod.weights.zoo import ZooSpace, generate_zoo
    generate_zoo(sys.argv[1], 6, epochs=3, snapshot_epochs=1,
                 max_train_samples=200, num_workers=2,
                 space=ZooSpace(architectures=['lenet5'], widths=[0.5]))
''')


@pytest.mark.slow
def test_killed_generator_resumes_without_loss_or_duplicates(tmp_path):
    root = tmp_path / 'zoo'
    settings = dict(epochs=3, snapshot_epochs=1, max_train_samples=200,
                    space=ZooSpace(architectures=['lenet5'], widths=[0.5]))
    proc = subprocess.Popen([sys.executable, '-c', _GENERATOR, str(root)],
                            start_new_session=True,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 300
        while not finished_networks(root):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, 'no network finished in 300 s'
            time.sleep(0.02)
        # While it runs, the folder is locked against a second generator.
        with pytest.raises(RuntimeError, match='another zoo generator'):
            generate_zoo(root, 6, **settings)
        os.killpg(proc.pid, signal.SIGKILL)  # the workers too
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stderr.close()

    survived = finished_networks(root)
    assert 1 <= len(survived) < 6, survived  # killed mid-run
    before = {i: record_path(root, i).read_bytes() for i in survived}
    for i in survived:  # every record on disk is complete
        assert read_record(root, i)['index'] == i

    summary = generate_zoo(root, 6, num_workers=1, **settings)
    assert summary['index'].tolist() == list(range(6))  # no duplicates
    assert sorted(p.name for p in (root / 'raw').iterdir()
                  if not p.name.startswith('.')) == \
        ['net_00000.pt', 'net_00001.pt', 'net_00002.pt', 'net_00003.pt',
         'net_00004.pt', 'net_00005.pt', 'zoo.json']
    assert not list((root / 'raw').glob('.*.tmp*'))
    for i in survived:  # nothing finished was redone
        assert record_path(root, i).read_bytes() == before[i]

    # Nothing lost: every network equals one trained without interruption.
    spec = zoo_spec(**settings)
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for i in range(6):
            reference = train_network(i, spec)
            record = read_record(root, i)
            assert record['final_test_acc'] == reference['final_test_acc']
            assert record['history']['test_loss'] == \
                reference['history']['test_loss']
            for got, want in zip(record['state_dicts'],
                                 reference['state_dicts']):
                for key in want:
                    assert torch.equal(got[key], want[key])
    finally:
        torch.set_num_threads(old)


def test_zoo_command(tmp_path, capsys):
    from pyg_dnnmod.cli import main
    root = tmp_path / 'zoo'
    argv = ['zoo', '--root', str(root), '--num-networks', '2', '--epochs',
            '2', '--snapshot-epochs', '1', '--max-train-samples', '96',
            '--architectures', 'lenet5', '--widths', '0.5', '--workers', '1',
            '--no-progress']
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert '2 networks (2 trained now, 0 already there)' in out
    assert finished_networks(root) == [0, 1]
    assert (root / 'zoo.csv').is_file()
    with open(root / 'run.json') as f:
        record = json.load(f)
    assert record['command'] == 'zoo' and record['networks'] == 2
    assert main(argv) == 0  # resumes: nothing to do
    assert '(0 trained now, 2 already there)' in capsys.readouterr().out
    assert zoo_summary(root)['index'].tolist() == [0, 1]

    assert main(argv[:-1] + ['--epochs', '3', '--no-progress']) == 2
    assert 'other settings' in capsys.readouterr().err
    assert main(['zoo', '--root', str(root), '--lr', '0.1']) == 2
    assert '--lr must be 2 comma-separated numbers' in \
        capsys.readouterr().err
    assert main(['zoo', '--root', str(root), '--optimizers', 'adam']) == 2
    assert "--optimizers must be one or more of" in capsys.readouterr().err


def test_centred_digits_data():
    from pyg_dnnmod.pretrained import digits_data
    from pyg_dnnmod.weights.zoo import _zoo_data
    (x, y), (xt, yt) = _zoo_data('centred-digits', None)
    tx, ty = digits_data('train')
    assert x.shape == tx.shape and torch.equal(y, ty)  # the same split
    assert xt.shape == digits_data('test')[0].shape
    border = x.clone()
    border[:, :, 4:12, 4:12] = 0
    assert float(border.abs().sum()) == 0.0
    # The same pixels, moved: per-image sums agree with the translated
    # digits.
    assert torch.allclose(x.sum(dim=(1, 2, 3)), tx.sum(dim=(1, 2, 3)))
    (x, y), _ = _zoo_data('centred-digits', 50)
    assert x.shape[0] == 50
    with pytest.raises(ValueError, match="'data' must be one of"):
        zoo_spec(data='mnist')


def test_spec_without_data_field_resumes(tmp_path):
    generate_zoo(tmp_path, 1, data='translated-digits', **TINY)
    path = tmp_path / 'raw' / 'zoo.json'
    stored = json.loads(path.read_text())
    del stored['data']  # a zoo written before the 'data' option
    path.write_text(json.dumps(stored))
    assert len(generate_zoo(tmp_path, 2, data='translated-digits',
                            **TINY)) == 2
    with pytest.raises(ValueError, match="data='translated-digits' stored "
                                         "vs 'centred-digits' now"):
        generate_zoo(tmp_path, 2, data='centred-digits', **TINY)


def test_snapshot_recorder_is_a_deprecated_name():
    import pyg_dnnmod.weights as weights
    with pytest.warns(DeprecationWarning, match='WeightRecorder'):
        assert weights.SnapshotRecorder is WeightRecorder
