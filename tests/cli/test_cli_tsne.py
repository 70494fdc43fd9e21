import json

import pandas as pd
import pytest



def test_tsne_files_and_values(trained_digits, tmp_path, run_cli):
    out = tmp_path / 'tsne'
    code, stdout, err = run_cli('tsne', '--num-samples', 60,
                                '--perplexity', 10, '--seed', 2,
                                '--include-input', '--out', out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        'modularity.csv', 'run.json', 'tsne.csv', 'tsne.png']
    points = pd.read_csv(out / 'tsne.csv')
    assert points.columns.tolist() == ['layer_index', 'layer', 'sample',
                                       'sample_index', 'label', 'x', 'y',
                                       'modularity']
    assert points.groupby('layer_index').size().tolist() == [60] * 5
    per_layer = pd.read_csv(out / 'modularity.csv')
    assert per_layer['layer'].tolist() == ['input', 'features.0',
                                           'features.3', 'features.7',
                                           'features.10']
    assert per_layer['modularity'].tolist() == pytest.approx(
        points.groupby('layer_index')['modularity'].first().tolist())
    # The same draw through 'curve' gives the same modularity per layer.
    code, _, err = run_cli('curve', '--num-samples', 60, '--repeats',
                           1, '--seed', 2, '--out', tmp_path / 'curve')
    assert code == 0, err
    curve = pd.read_csv(tmp_path / 'curve' / 'modularity.csv')
    assert per_layer['modularity'].tolist()[1:] == pytest.approx(
        curve['modularity'].tolist(), abs=1e-6)
    assert json.loads((out / 'run.json').read_text())['command'] == 'tsne'
    assert (out / 'tsne.png').read_bytes()[:4] == b'\x89PNG'
    assert 'features.10' in stdout


@pytest.mark.parametrize('argv,message', [
    (['--perplexity', '60'], "--perplexity must lie between 0 and "
                             "--num-samples 60 (got 60.0)"),
    (['--k', '60'], "--k 60 must be smaller than --num-samples 60"),
    (['--layers', 'fc9'], "--layers fc9: unknown layer name(s) ['fc9']"),
])
def test_tsne_errors(trained_digits, tmp_path, run_cli, argv, message):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('tsne', '--num-samples', 60, *argv,
                                '--out', out)
    assert code == 2 and stdout == ''
    assert message in err and err.count('\n') == 1
    assert not out.exists()


def test_layers_command(run_cli):
    code, stdout, _ = run_cli('layers')
    assert code == 0
    lines = stdout.splitlines()
    defaults = [line.split()[0] for line in lines if ' True ' in line]
    assert defaults == ['features.0', 'features.3', 'features.7',
                        'features.10']
    assert lines[-1] == '4 default layers (rule: conv)'
