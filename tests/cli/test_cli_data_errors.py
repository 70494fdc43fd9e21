import os
import sys

import numpy as np
import pytest

from pyg_dnnmod.datasets import imagenet50_classes

FACTORY = '''from torch import nn


def build():
    return nn.Sequential(nn.Conv2d(3, 2, 3, stride=8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(8, 50))
'''


def _save_png(path, size, seed):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    if seed is None:  # one colour, a small file
        Image.new('RGB', size, (10, 20, 30)).save(path)
        return
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(array).save(path)


@pytest.fixture
def bomb_folder(tmp_path, monkeypatch):
    r"""An ImageNet50 folder (train and val) of small PNGs in two classes,
    where one image declares more pixels than PIL accepts."""
    from PIL import Image
    wnids = [w for w, _ in imagenet50_classes()][:2]
    root = tmp_path / 'imagenet'
    for split in ('train', 'val'):
        for label, wnid in enumerate(wnids):
            for i in range(3):
                _save_png(root / split / wnid / f'{i}.png', (16, 16),
                          seed=10 * label + i)
    # PIL refuses more than twice the limit; the 224 x 224 crops are within.
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 70_000)
    (tmp_path / 'tiny_nets.py').write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    return root, wnids


def _check_one_line(err, bomb):
    assert 'Traceback' not in err
    assert err.count('\n') == 1
    assert f"error: ImageNet50: refusing image '{bomb}' (Image size (160000 " \
           f"pixels) exceeds limit of 140000 pixels" in err
    assert '; remove the file' in err


def test_decompression_bomb_is_one_line(bomb_folder, tmp_path, run_cli):
    root, wnids = bomb_folder
    bomb = root / 'val' / wnids[0] / '0.png'
    _save_png(bomb, (400, 400), seed=None)
    out = tmp_path / 'out'
    with pytest.warns(UserWarning, match='48 of the 50 class folders'):
        code, stdout, err = run_cli(
            'curve', '--dataset', 'imagenet50', '--data-root', root,
            '--model', 'tiny_nets:build', '--num-samples', 4, '--k', 1,
            '--repeats', 1, '--out', out)
    assert code == 2 and stdout == ''
    _check_one_line(err, bomb)
    assert not out.exists()


def test_decompression_bomb_in_train(bomb_folder, tmp_path, run_cli):
    root, wnids = bomb_folder
    bomb = root / 'train' / wnids[1] / '2.png'
    _save_png(bomb, (400, 400), seed=None)
    out = tmp_path / 'out'
    with pytest.warns(UserWarning, match='48 of the 50 class folders'):
        code, _, err = run_cli(
            'train', '--dataset', 'imagenet50', '--data-root', root,
            '--model', 'tiny_nets:build', '--epochs', 1, '--batch-size', 6,
            '--no-augment', '--out', out)
    assert code == 2
    _check_one_line(err, bomb)


LOAD_COMMAND = '''
import torch
from torch.utils.data import DataLoader


def add_parser(subparsers):
    parser = subparsers.add_parser('load-images')
    parser.add_argument('root')
    return parser


def run(args):
    from pyg_dnnmod.datasets import ImageNet50
    loader = DataLoader(ImageNet50(args.root), batch_size=2, num_workers=1,
                        multiprocessing_context='fork')
    for _ in loader:
        pass
    return 0
'''


@pytest.fixture
def load_command(tmp_path, monkeypatch):
    from pyg_dnnmod.cli import commands
    folder = tmp_path / 'commands'
    folder.mkdir()
    (folder / 'load_images.py').write_text(LOAD_COMMAND)
    monkeypatch.setattr(commands, '__path__',
                        list(commands.__path__) + [str(folder)])
    yield
    sys.modules.pop('pyg_dnnmod.cli.commands.load_images', None)


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='the worker must see '
                    'the patched PIL limit')
def test_bomb_in_a_data_loader_worker_is_one_line(bomb_folder, load_command,
                                                  run_cli):
    # A DataLoader worker re-raises the error with its traceback in the
    # message; only the error line is shown.
    root, wnids = bomb_folder
    bomb = root / 'val' / wnids[1] / '2.png'
    _save_png(bomb, (400, 400), seed=None)
    with pytest.warns(UserWarning, match='48 of the 50 class folders'):
        code, _, err = run_cli('load-images', root)
    assert code == 2
    _check_one_line(err, bomb)
