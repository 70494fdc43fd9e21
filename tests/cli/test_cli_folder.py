import json
import math

import numpy as np
import pandas as pd
import pytest


def _image_folder(root, classes=('cat', 'dog', 'emu'), per_class=8,
                  size=(40, 30)):
    r"""Class sub-folders of random RGB PNGs of :obj:`size` under
    :obj:`root`."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            array = rng.integers(0, 256, (size[1], size[0], 3),
                                 dtype=np.uint8)
            Image.fromarray(array).save(root / name / f'{i:03d}.png')
    return root


def _check_curve(out, shape, image_size):
    df = pd.read_csv(out / 'modularity.csv')
    record = json.loads((out / 'run.json').read_text())
    # One row per layer (one repeat), every value a real modularity.
    assert df['layer'].tolist() == record['layers']
    assert df['layer_index'].tolist() == list(range(len(df)))
    assert len(df) >= 2 and set(df['repeat']) == {0}
    assert all(math.isfinite(q) and -0.5 <= q <= 1
               for q in df['modularity'])
    assert record['data']['input_shape'] == list(shape)
    assert record['data']['image_size'] == image_size
    assert record['params']['image_size'] == image_size
    return df, record


def test_curve_on_an_image_folder(tmp_path, run_cli):
    root = _image_folder(tmp_path / 'pictures')
    out = tmp_path / 'out'
    code, stdout, err = run_cli(
        'curve', '--dataset', 'folder', '--data-root', root,
        '--model', 'torchvision:resnet18', '--random-init',
        '--image-size', 64, '--num-samples', 12, '--k', 3, '--repeats', 1,
        '--out', out)
    assert code == 0, err
    df, record = _check_curve(out, (3, 64, 64), 64)
    assert df['layer'].iloc[0] == 'model.conv1'
    data = record['data']
    assert (data['name'], data['num_samples'], data['num_classes']) == (
        'folder', 24, 3)
    assert data['classes'] == ['cat', 'dog', 'emu']
    assert data['split_folders'] is False and data['stats_images'] == 24
    assert 'on image folder (test)' in stdout


@pytest.mark.slow
def test_vit_reads_small_images_through_image_size(tmp_path, run_cli):
    pytest.importorskip('timm')
    out = tmp_path / 'out'
    args = ['curve', '--dataset', 'digits', '--model',
            'timm:vit_tiny_patch16_224', '--random-init', '--num-samples', 40,
            '--k', 3, '--repeats', 1]
    code, _, err = run_cli(*args, '--out', tmp_path / 'small')
    assert code == 2
    assert "Input height (8) doesn't match model (224)" in err
    code, stdout, err = run_cli(*args, '--image-size', 224, '--out', out)
    assert code == 0, err
    df, record = _check_curve(out, (1, 224, 224), 224)
    assert df['layer'].tolist() == [f'model.blocks.{i}' for i in range(12)]
    assert set(df['num_samples']) == {40} and set(df['k']) == {3}


def test_folder_needs_data_root(tmp_path, run_cli):
    code, stdout, err = run_cli('curve', '--dataset', 'folder',
                                '--out', tmp_path / 'out')
    assert code == 2 and stdout == ''
    assert err.startswith('pyg-dnnmod curve: error: --dataset folder reads '
                          'a folder of images: pass --data-root DIR, the '
                          'folder holding one sub-folder of images per '
                          'class')
    missing = tmp_path / 'missing'
    code, _, err = run_cli('curve', '--dataset', 'folder', '--data-root',
                           missing, '--out', tmp_path / 'out')
    assert code == 2
    assert f"error: --data-root '{missing}' is not a folder" in err
    assert not (tmp_path / 'out').exists()


def test_image_size_must_be_positive(tmp_path, run_cli):
    code, _, err = run_cli('curve', '--dataset', 'digits', '--image-size', 0,
                           '--out', tmp_path / 'out')
    assert code == 2
    assert 'error: --image-size must be a positive integer (got 0)' in err
    code, _, err = run_cli('curve', '--image-size', 'big')
    assert code == 2 and "argument --image-size: invalid int value: 'big'" \
        in err


def test_mixed_sizes_ask_for_image_size(tmp_path, run_cli):
    root = _image_folder(tmp_path / 'pictures', classes=('a', 'b'),
                         per_class=2)
    _image_folder(root / 'b' / 'large', classes=('x',), per_class=1,
                  size=(50, 50))
    code, _, err = run_cli('curve', '--dataset', 'folder', '--data-root',
                           root, '--model', 'torchvision:resnet18',
                           '--random-init', '--out', tmp_path / 'out')
    assert code == 2 and err.count('\n') == 1
    assert (f"image '{root / 'b' / 'large' / 'x' / '000.png'}' is 50x50 "
            f"pixels but the first image '{root / 'a' / '000.png'}' is "
            f"40x30; pass image_size (--image-size)") in err
