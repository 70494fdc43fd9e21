import gc
import os
import re
import sys
import types
import warnings

import pytest
import torch
from torch import nn

from pyg_dnnmod.features import (
    extract_features,
    iter_layer_features,
    memory_budget,
)
from pyg_dnnmod.features import _spill

NAMES = ['0', '2', '3', '4']
FILESYSTEM = _spill._filesystem  # before the fixture replaces it


def tiny_cnn() -> nn.Sequential:
    # 10 samples: layers '0', '2' (72 floats) take 2880 bytes each, layers
    # '3', '4' (64 floats) 2560 bytes each.
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(),
        nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(10, 1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture(autouse=True)
def on_disk(monkeypatch):
    # Wherever the tests' temporary folder lies, the store counts as on
    # disk, so no tmpfs warning depends on the machine.
    monkeypatch.setattr(_spill, '_filesystem', lambda path: 'ext4')


def mapped_file(tensor: torch.Tensor) -> str:
    # The file mapped at the tensor's data ('' for anonymous memory).
    address = tensor.data_ptr()
    with open('/proc/self/maps') as f:
        for line in f:
            fields = line.split(maxsplit=5)
            start, end = (int(v, 16) for v in fields[0].split('-'))
            if start <= address < end:
                return fields[5].strip() if len(fields) > 5 else ''
    raise AssertionError('address not mapped')


def spill_folders(path) -> list:
    return sorted(p.name for p in path.iterdir()
                  if p.name.startswith('pyg_dnnmod_spill_'))


def count_calls(model: nn.Module, names: list) -> list:
    calls = []
    for name in names:
        model.get_submodule(name).register_forward_hook(
            lambda m, a, o, name=name: calls.append(name))
    return calls


def test_one_pass_spills_the_layers_beyond_the_budget(x, tmp_path):
    model = tiny_cnn()
    in_memory = extract_features(model, x, NAMES, batch_size=4)
    calls = count_calls(model, ['0', '3', '6'])
    # In order, '0' and '2' fill the budget of 5760; '3' and '4' spill.
    features = dict(iter_layer_features(model, x, NAMES, batch_size=4,
                                        max_bytes=5760, spill_dir=tmp_path))
    assert list(features) == NAMES
    for name in NAMES:
        assert features[name].dtype == torch.float32
        assert features[name].device.type == 'cpu'
        assert torch.equal(features[name], in_memory[name])
    # The probe runs everything once; then one pass of 3 batches, which
    # stops after the last chosen layer '4', before the head '6'.
    assert calls.count('0') == calls.count('3') == 1 + 3
    assert calls.count('6') == 1
    # The folder is gone once the iterator is exhausted.
    assert spill_folders(tmp_path) == []


@pytest.mark.skipif(not os.path.exists('/proc/self/maps'),
                    reason='needs /proc/self/maps (Linux)')
def test_spilled_layers_are_maps_of_unlinked_files(x, tmp_path):
    it = iter_layer_features(tiny_cnn(), x, NAMES, max_bytes=5760,
                             spill_dir=tmp_path)
    features = dict(it)
    for name in ('0', '2'):
        assert str(tmp_path) not in mapped_file(features[name])
    for name in ('3', '4'):
        path = mapped_file(features[name])
        assert path.startswith(str(tmp_path / 'pyg_dnnmod_spill_'))
        assert path.endswith('.f32 (deleted)')


@pytest.mark.skipif(os.name == 'nt',
                    reason='Windows cannot unlink a mapped file')
def test_the_store_is_removed_when_exhausted_closed_collected_or_failed(
        x, tmp_path):
    model = tiny_cnn()
    expected = extract_features(model, x, NAMES)
    it = iter_layer_features(model, x, NAMES, max_bytes=1,
                             spill_dir=tmp_path)
    assert spill_folders(tmp_path) == []  # lazy: nothing before next()
    name, first = next(it)
    folders = spill_folders(tmp_path)
    assert len(folders) == 1
    # Every file was unlinked as soon as it was mapped.
    assert os.listdir(tmp_path / folders[0]) == []
    rest = dict(it)
    assert spill_folders(tmp_path) == []
    # The data outlives the folder, as long as the tensors do.
    assert torch.equal(first, expected[name])
    for other in rest:
        assert torch.equal(rest[other], expected[other])

    it = iter_layer_features(model, x, NAMES, max_bytes=1,
                             spill_dir=tmp_path)
    next(it)
    it.close()
    assert spill_folders(tmp_path) == []

    it = iter_layer_features(model, x, NAMES, max_bytes=1,
                             spill_dir=tmp_path)
    next(it)
    del it
    gc.collect()
    assert spill_folders(tmp_path) == []

    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError('boom')

    broken = nn.Sequential(nn.Conv2d(1, 2, 3), Boom())
    with pytest.raises(RuntimeError, match='boom'):
        list(iter_layer_features(broken, x, ['0'], max_bytes=1,
                                 spill_dir=tmp_path))
    assert spill_folders(tmp_path) == []


def test_nothing_goes_to_disk_when_the_layers_fit(x, tmp_path):
    it = iter_layer_features(tiny_cnn(), x, NAMES, max_bytes=10880,
                             spill_dir=tmp_path)
    next(it)
    assert spill_folders(tmp_path) == []


def test_spill_without_warnings_and_spill_false_makes_more_passes(
        x, tmp_path):
    model = tiny_cnn()
    calls = count_calls(model, ['0'])
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        spilled = extract_features(model, x, NAMES, max_bytes=2600,
                                   spill_dir=tmp_path)
    assert calls == ['0', '0']  # probe + one pass of one batch
    calls.clear()
    with pytest.warns(UserWarning) as record:
        passes = extract_features(model, x, NAMES, max_bytes=2600,
                                  spill=False)
    assert [str(w.message).split(';')[0] for w in record] == [
        "the features of all 4 layers take 10880 bytes, more than "
        "'max_bytes' (2600)",
        "the features of layer '0' alone take 2880 bytes, more than "
        "'max_bytes' (2600)",
        "the features of layer '2' alone take 2880 bytes, more than "
        "'max_bytes' (2600)"]
    # probe + one pass per layer (each alone over the budget); every pass
    # runs layer '0' on its way.
    assert calls == ['0'] * 5
    for name in NAMES:
        assert torch.equal(spilled[name], passes[name])


def test_default_budget_is_memory_budget(x, tmp_path, monkeypatch):
    meminfo = tmp_path / 'meminfo'
    # 8 kB available: half is 4096 bytes, which holds layer '0' (2880)
    # alone; the default max_bytes=None spills the other.
    meminfo.write_text('MemTotal: 100 kB\nMemAvailable: 8 kB\n')
    monkeypatch.setattr(_spill, '_MEMINFO', str(meminfo))
    monkeypatch.setattr(_spill, '_CGROUP', str(tmp_path / 'no_cgroup'))
    assert memory_budget() == 4096
    store = tmp_path / 'store'
    store.mkdir()
    it = iter_layer_features(tiny_cnn(), x, spill_dir=store)
    assert next(it)[0] == '0'
    assert len(spill_folders(store)) == 1
    assert [name for name, _ in it] == ['3']
    meminfo.write_text('MemAvailable: 1000 kB\n')
    it = iter_layer_features(tiny_cnn(), x, spill_dir=store)
    next(it)
    assert spill_folders(store) == []


def test_spilled_layers_are_moved_to_the_device(device, x, tmp_path):
    model = tiny_cnn()
    expected = extract_features(model, x, NAMES, device=device,
                                keep_on_device=True)
    features = extract_features(model, x, NAMES, device=device,
                                keep_on_device=True, max_bytes=1,
                                spill_dir=tmp_path)
    for name in NAMES:
        assert features[name].device.type == device.type
        assert torch.equal(features[name], expected[name])


def test_memory_budget_sources(tmp_path, monkeypatch):
    meminfo = tmp_path / 'meminfo'
    meminfo.write_text('MemTotal: 4000 kB\nMemFree: 100 kB\n'
                       'MemAvailable: 1000 kB\n')
    cgroup = tmp_path / 'cgroup'
    cgroup.mkdir()
    monkeypatch.setattr(_spill, '_MEMINFO', str(meminfo))
    monkeypatch.setattr(_spill, '_CGROUP', str(cgroup))
    # No cgroup files: MemAvailable.
    assert memory_budget() == 512000
    assert memory_budget('cpu', fraction=1.0) == 1024000
    assert memory_budget(fraction=0.25) == 256000
    # A container's limit: 800000 - 500000 in use + 100000 reclaimable.
    (cgroup / 'memory.max').write_text('800000\n')
    (cgroup / 'memory.current').write_text('500000\n')
    (cgroup / 'memory.stat').write_text('anon 300000\n'
                                        'inactive_file 100000\n')
    assert memory_budget() == 200000
    (cgroup / 'memory.max').write_text('max\n')
    assert memory_budget() == 512000

    # Without /proc/meminfo: psutil, then the fallback.
    monkeypatch.setattr(_spill, '_MEMINFO', str(tmp_path / 'nope'))
    monkeypatch.setattr(_spill, '_CGROUP', str(tmp_path / 'nope'))
    psutil = types.SimpleNamespace(
        virtual_memory=lambda: types.SimpleNamespace(available=4000))
    monkeypatch.setitem(sys.modules, 'psutil', psutil)
    assert memory_budget() == 2000
    monkeypatch.setitem(sys.modules, 'psutil', None)  # not importable
    assert memory_budget() == 2 * 1024**3

    # CUDA: the device's free memory.
    seen = []

    def mem_get_info(device=None):
        seen.append(device)
        return 6000, 10000

    monkeypatch.setattr(torch.cuda, 'mem_get_info', mem_get_info)
    assert memory_budget('cuda:0') == 3000
    assert seen == [torch.device('cuda:0')]
    # Other devices (MPS shares the CPU's memory): the CPU's.
    assert memory_budget('meta') == 2 * 1024**3


def test_memory_budget_bad_fraction():
    for fraction in (0, 0.0, 1.5, -0.1, True, '0.5', None):
        with pytest.raises(ValueError, match=r"'fraction' must be a number "
                           r"in \(0, 1\] \(got " + re.escape(repr(fraction))
                           + r"\)"):
            memory_budget(fraction=fraction)


def test_bad_spill_arguments(x, tmp_path, monkeypatch):
    model = tiny_cnn()
    missing = tmp_path / 'missing'
    with pytest.raises(ValueError, match=r"'spill_dir' does not exist \(got "
                       + re.escape(repr(str(missing))) + r"\)"):
        iter_layer_features(model, x, spill_dir=missing)
    a_file = tmp_path / 'file'
    a_file.write_text('')
    with pytest.raises(ValueError, match=r"'spill_dir' is not a folder "
                       r"\(got " + re.escape(repr(str(a_file))) + r"\)"):
        extract_features(model, x, spill_dir=str(a_file))
    with pytest.raises(TypeError, match=r"'spill_dir' must be a str or a "
                       r"path \(got int\)"):
        extract_features(model, x, spill_dir=3)
    with pytest.raises(TypeError, match=r"'spill' must be a bool \(got str "
                       r"'yes'\)"):
        extract_features(model, x, spill='yes')
    for bad in (0, 2.5, True, '1'):
        with pytest.raises(ValueError, match=r"'max_bytes' must be None or "
                           r"an int >= 1 \(got " + re.escape(repr(bad))
                           + r"\)"):
            extract_features(model, x, max_bytes=bad)

    # A folder too small for the spilled layers fails before the pass.
    monkeypatch.setattr(_spill.shutil, 'disk_usage',
                        lambda path: types.SimpleNamespace(free=1000))
    calls = count_calls(model, ['3'])
    with pytest.raises(ValueError, match=r"take 5440 bytes on disk, but "
                       r"'spill_dir' " + re.escape(repr(str(tmp_path)))
                       + r" has only 1000 bytes free"):
        iter_layer_features(model, x, max_bytes=1, spill_dir=tmp_path)
    assert calls == ['3']  # only the probe ran
    # Nothing to spill: no need for space.
    assert list(extract_features(model, x, max_bytes=5440,
                                 spill_dir=tmp_path)) == ['0', '3']


def test_spill_dir_in_memory_warns_at_the_caller(x, tmp_path, monkeypatch):
    monkeypatch.setattr(_spill, '_filesystem', lambda path: 'tmpfs')
    with pytest.warns(UserWarning, match=r"'spill_dir' "
                      + re.escape(repr(str(tmp_path)))
                      + r" is on tmpfs, which keeps files in memory, so "
                      r"the 2560 bytes of layers") as record:
        extract_features(tiny_cnn(), x, max_bytes=3000, spill_dir=tmp_path)
        iter_layer_features(tiny_cnn(), x, max_bytes=3000,
                            spill_dir=tmp_path)
    assert len(record) == 2
    assert {w.filename for w in record} == {__file__}


@pytest.mark.skipif(not os.path.exists('/proc/mounts'),
                    reason='needs /proc/mounts (Linux)')
def test_filesystem_of_a_path():
    assert FILESYSTEM('/proc') == 'proc'
    assert FILESYSTEM('/proc/self/fd') == 'proc'
