import builtins
import os
import pathlib
import pickle
import re

import numpy as np
import pytest

from pyg_dnnmod.datasets import load_cifar10


class _Payload:
    # Unpickling calls :obj:`function` with :obj:`args`: each creates the
    # marker file, the harmless stand-in for running any code.
    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _payloads(marker):
    return {
        'open': _Payload(builtins.open, str(marker), 'w'),
        'touch': _Payload(pathlib.Path.touch, pathlib.Path(marker)),
        'system': _Payload(os.system, f"touch '{marker}'"),
    }


def _cifar_folder(root, batch):
    folder = root / 'cifar-10-batches-py'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        batch_i = batch if i == 1 else {
            'data': rng.integers(0, 256, (2, 3072), dtype=np.uint8),
            'labels': [0, 1]}
        with open(folder / f'data_batch_{i}', 'wb') as f:
            pickle.dump(batch_i, f, protocol=2)
    return folder


@pytest.mark.parametrize('kind', ['open', 'touch', 'system'])
@pytest.mark.parametrize('where', ['data', 'labels', 'nested'])
def test_cifar_batch_cannot_run_code(tmp_path, kind, where):
    marker = tmp_path / 'marker'
    payload = _payloads(marker)[kind]
    batch = {'data': np.zeros((2, 3072), np.uint8), 'labels': [0, 1]}
    if where == 'nested':
        batch['batch_label'] = [{'x': (1, payload)}]
    else:
        batch[where] = payload
    folder = _cifar_folder(tmp_path / 'root', batch)
    with pytest.raises(ValueError, match=(
            rf"'{re.escape(str(folder / 'data_batch_1'))}' is not a CIFAR "
            rf"python pickle \(refusing to load the global ")):
        load_cifar10(tmp_path / 'root')
    assert not marker.exists()
