"""``--layers`` with glob patterns, module classes (``type:CLASS``) and the
names of a torchvision or timm network without the ``model.`` of its
normalisation wrapper."""
import json

import pandas as pd
import pytest

from pyg_dnnmod.typing import WITH_TIMM, WITH_TORCHVISION

needs_torchvision = pytest.mark.skipif(not WITH_TORCHVISION,
                                       reason='torchvision unusable')

RESNET18 = ['curve', '--model', 'torchvision:resnet18', '--random-init',
            '--dataset', 'synthetic', '--num-samples', 20, '--repeats', 1]


def _layers(out) -> list:
    return pd.read_csv(out / 'modularity.csv')['layer'].tolist()


@needs_torchvision
def test_layer_of_a_torchvision_model_without_the_model_prefix(tmp_path,
                                                               run_cli):
    out = tmp_path / 'out'
    code, _, err = run_cli(*RESNET18, '--layers', 'layer1.0', '--out', out)
    assert code == 0, err
    assert _layers(out) == ['model.layer1.0']
    record = json.loads((out / 'run.json').read_text())
    assert record['layers'] == ['model.layer1.0']
    assert record['params']['layers'] == ['layer1.0']  # as it was written


@needs_torchvision
def test_glob_patterns_select_the_blocks(tmp_path, run_cli):
    out = tmp_path / 'out'
    code, _, err = run_cli(*RESNET18, '--layers', 'conv1,layer[34].?',
                           '--out', out)
    assert code == 0, err
    # '?' stays within one part: no 'model.layer3.0.downsample.0'.
    assert _layers(out) == ['model.conv1', 'model.layer3.0',
                            'model.layer3.1', 'model.layer4.0',
                            'model.layer4.1']


def test_module_class_selects_every_module_of_it(tmp_path, run_cli):
    out = tmp_path / 'out'
    code, _, err = run_cli('curve', '--model', 'digits_cnn', '--random-init',
                           '--num-samples', 20, '--repeats', 1, '--layers',
                           'type:ReLU', '--out', out)
    assert code == 0, err
    assert _layers(out) == ['features.2', 'features.5', 'features.9',
                            'features.12']


@pytest.mark.parametrize('layers, message', [
    ('features.9?', "--layers features.9?: pattern 'features.9?' in "
                    "'layers' matches no layer name ('*', '?' and '[...]' "
                    "stay within one part of a dotted name, '**' spans "
                    "parts); close names: ['features.5', 'features.6', "
                    "'features.7', 'features.8', 'features.9']; valid names: "
                    "['normalize', 'features', "),
    ('type:Conv3d', "--layers type:Conv3d: no module of type 'Conv3d' in the "
                    "model ('type:Conv3d' in 'layers'); close types: "
                    "['Conv2d']; module types: ['AdaptiveAvgPool2d', "
                    "'BatchNorm2d', 'Conv2d', "),
    ('features.0,type:Conv2d', "--layers features.0,type:Conv2d: 'layers' "
                               "selects ['features.0'] more than once"),
])
def test_bad_patterns_and_types_are_one_line_errors(tmp_path, run_cli,
                                                    layers, message):
    code, _, err = run_cli('curve', '--model', 'digits_cnn', '--random-init',
                           '--num-samples', 20, '--repeats', 1, '--layers',
                           layers, '--out', tmp_path / 'out')
    assert code == 2
    assert message in err
    assert "'pyg-dnnmod layers --model digits_cnn" in err
    assert not (tmp_path / 'out').exists()


def test_help_text_names_the_syntax(run_cli):
    code, out, _ = run_cli('curve', '--help')
    assert code == 0
    text = ' '.join(out.split())
    for part in ("glob patterns ('layer*.?', 'features.*'",
                 '** spans parts', 'module classes as type:CLASS',
                 "tried under 'model.'", '(layer1.0 is model.layer1.0)'):
        assert part in text


@pytest.mark.skipif(not WITH_TIMM, reason='timm unusable')
def test_layers_command_reads_convnext_by_blocks(run_cli):
    code, out, err = run_cli('layers', '--model', 'timm:convnext_atto',
                             '--dataset', 'synthetic')
    assert code == 0, err
    assert '13 default layers (rule: block)' in out
