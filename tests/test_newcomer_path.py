r"""The newcomer's path of issue 20, replayed: the steps a new user took
that got in the way, each now working the way the user expected.

1. their own cached model goes back in through ``--checkpoint``;
2. a torchvision model answers ``--layers layer1.0``;
3. a ConvNeXt is read at its blocks by default;
4. two models in one curve figure can be told apart, and a figure over
   different layer lists is refused;
5. a degenerate ``predict`` says so.
"""
import json
import warnings

import pandas as pd
import pytest
import torch

from pyg_dnnmod.cli import main
from pyg_dnnmod.typing import WITH_TIMM, WITH_TORCHVISION


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_own_cached_model_back_through_checkpoint(trained_digits, tmp_path,
                                                  capsys):
    # The default `curve` reads the cached model; the same file given back
    # with --checkpoint (and nothing else) gives the very same curve.
    _, info = trained_digits
    common = ['--num-samples', 100, '--repeats', 1, '--no-progress']
    code, _, err = run_cli(capsys, 'curve', *common, '--out',
                           tmp_path / 'default')
    assert code == 0, err
    code, _, err = run_cli(capsys, 'curve', '--checkpoint', info['path'],
                           *common, '--out', tmp_path / 'own')
    assert code == 0, err
    default = pd.read_csv(tmp_path / 'default' / 'modularity.csv')
    own = pd.read_csv(tmp_path / 'own' / 'modularity.csv')
    assert len(own) == 4  # the default layers of DigitsCNN
    pd.testing.assert_frame_equal(own, default)
    record = json.loads((tmp_path / 'own' / 'run.json').read_text())
    assert record['model']['trained_on'] == 'translated-digits'


@pytest.mark.skipif(not WITH_TORCHVISION, reason='torchvision unusable')
def test_torchvision_model_with_its_own_layer_name(tmp_path, capsys):
    code, _, err = run_cli(capsys, 'curve', '--model', 'torchvision:resnet18',
                           '--random-init', '--dataset', 'synthetic',
                           '--num-samples', 20, '--repeats', 1, '--layers',
                           'layer1.0', '--out', tmp_path / 'out',
                           '--no-progress')
    assert code == 0, err
    curve = pd.read_csv(tmp_path / 'out' / 'modularity.csv')
    assert curve['layer'].tolist() == ['model.layer1.0']


@pytest.mark.skipif(not WITH_TIMM, reason='timm unusable')
def test_convnext_default_layers_are_its_blocks(capsys):
    import timm
    code, out, err = run_cli(capsys, 'layers', '--model',
                             'timm:convnext_atto', '--dataset', 'synthetic')
    assert code == 0, err
    blocks = sum(len(stage.blocks) for stage in
                 timm.create_model('convnext_atto').stages)
    assert blocks == 12  # depths (2, 2, 6, 2)
    # The stem and every block, nothing inside a block.
    assert f'\n{1 + blocks} default layers (rule: block)' in out


def test_two_models_in_one_curve_figure(trained_digits):
    from pyg_dnnmod.experiments import modularity_curves, summarize
    from pyg_dnnmod.plotting import plot_modularity_curve
    from pyg_dnnmod.pretrained import digits_data, digits_model

    model, _ = trained_digits
    x, y = digits_data('test')
    torch.manual_seed(0)
    curves = modularity_curves({'trained': model, 'random': digits_model()},
                               x, y, k=3, num_samples=100, repeats=2)
    ax = plot_modularity_curve(summarize(curves)).axes[0]
    styles = [(line.get_color(), line.get_linestyle(), line.get_marker())
              for line in ax.lines]
    assert len(styles) == 2
    # Colour, line style and marker all differ, and so do the legend
    # entries.
    assert all(a != b for a, b in zip(*styles))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ['trained', 'random init']

    # A curve over other layers on the same axis is refused, not drawn
    # over the first one's layer names.
    other = summarize(curves)
    other = other[other['init'] == 'random'].assign(
        init='other', layer=lambda df: 'blocks.' + df['layer_index'].astype(
            str))
    mixed = pd.concat([summarize(curves), other])
    with pytest.raises(ValueError, match='holds curves over different layers'):
        plot_modularity_curve(mixed)


@pytest.mark.slow
def test_degenerate_predict_warns(tmp_path, capsys):
    # The zoo in miniature: networks that learn nothing in two
    # epochs on 64 translated digits; `predict` must say its numbers mean
    # nothing rather than print them as results.
    from pyg_dnnmod.weights.zoo import ZooSpace, generate_zoo
    root = tmp_path / 'zoo'
    generate_zoo(root, 10, epochs=2, snapshot_epochs=1, max_train_samples=64,
                 data='translated-digits',
                 space=ZooSpace(architectures=['lenet5'], widths=[0.5]))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the CLI prints it itself
        code, out, err = run_cli(capsys, 'predict', '--zoo', root, '--T', 1,
                                 '--folds', 5, '--repeats', 1, '--out',
                                 tmp_path / 'out')
    assert code == 0, err
    # Said on the console, next to the table it qualifies, and kept in the
    # run's record.
    assert '\nwarning: degenerate accuracy prediction: ' in out
    assert 'every feature set scores the bin accuracy of the majority bin' \
        in out
    record = json.loads((tmp_path / 'out' / 'run.json').read_text())
    assert record['non_degenerate'] == 0
    assert record['degenerate'][0] == (
        "'all': about 2.7 per bin in a training fold (10 networks, 5 folds, "
        "3 bins), fewer than 5")
