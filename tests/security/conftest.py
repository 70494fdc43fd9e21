r"""Hostile and damaged files for the security tests.

A payload is a pickle whose unpickling would run ``os.system('touch
MARKER')``: harmless, and its marker file in the test's tmp folder shows
whether it ran."""
import os
import shlex
from pathlib import Path

import pytest
import torch

from pyg_dnnmod.weights.zoo import ZooSpace, generate_zoo

# Four LeNets, one epoch kept: a zoo that trains in seconds.
TINY_ZOO = dict(epochs=2, snapshot_epochs=1, max_train_samples=64,
                space=ZooSpace(architectures=['lenet5'], widths=[0.5]))


class Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {shlex.quote(self.marker)}', )


def _plant(path: Path, marker: Path) -> None:
    r"""Replaces :obj:`path` by a torch file whose unpickling would touch
    :obj:`marker` (the shape of a real attack: a tuple, as PyG stores)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(({'x': Payload(marker)}, None), path)


DAMAGE = ('truncate', 'random', 'empty')


def _damage(path: Path, how: str) -> None:
    r"""Truncates :obj:`path` to half, fills it with random bytes of its
    size, or empties it."""
    data = path.read_bytes()
    if how == 'truncate':
        path.write_bytes(data[:len(data) // 2])
    elif how == 'random':
        path.write_bytes(os.urandom(max(len(data), 64)))
    elif how == 'empty':
        path.write_bytes(b'')
    else:  # pragma: no cover
        raise ValueError(how)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / 'PAYLOAD_RAN'
    yield path
    assert not path.exists(), 'a planted payload ran'


@pytest.fixture(scope='module')
def clean_zoo(tmp_path_factory) -> Path:
    r"""A finished tiny zoo, never modified: tests copy it."""
    root = tmp_path_factory.mktemp('clean_zoo')
    generate_zoo(root, 4, **TINY_ZOO)
    return root


@pytest.fixture
def zoo(clean_zoo: Path, tmp_path: Path) -> Path:
    import shutil
    root = tmp_path / 'zoo'
    shutil.copytree(clean_zoo, root)
    return root


@pytest.fixture
def plant():
    return _plant


@pytest.fixture
def damage():
    return _damage


@pytest.fixture
def tiny_zoo_settings():
    return dict(TINY_ZOO)
