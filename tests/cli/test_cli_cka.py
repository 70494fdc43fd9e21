import json
import subprocess
import sys

import pandas as pd
import pytest
from scipy.stats import spearmanr


RUN_NAME = 'cka-digits_cnn-translated-digits-N500-k3'


@pytest.mark.slow
def test_default_run_without_arguments(trained_digits, tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'pyg_dnnmod', 'cka'],
                          capture_output=True, text=True, cwd=tmp_path,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / 'pyg_dnnmod_out' / RUN_NAME
    assert sorted(p.name for p in folder.iterdir()) == [
        'cka.csv', 'layer_difference_cka.png', 'run.json']
    df = pd.read_csv(folder / 'cka.csv')
    assert len(df) == 16
    upper = df[df['layer_index_i'] < df['layer_index_j']]
    rho = spearmanr(upper['modularity_difference'], 1 - upper['cka'])[0]
    assert df['spearman'].tolist() == pytest.approx([rho] * 16)
    record = json.loads((folder / 'run.json').read_text())
    assert record['command'] == 'cka' and record['argv'] == ['cka']
    assert record['spearman'] == pytest.approx(rho)
    assert record['model']['weights'] == 'pretrained default'
    assert set(record['timings']) == {'data', 'model', 'graphs_and_cka',
                                      'plot', 'total'}
    assert 'Spearman rho(|Q_i - Q_j|, 1 - CKA)' in proc.stdout
    assert (folder / 'layer_difference_cka.png').read_bytes()[:4] == \
        b'\x89PNG'


def test_small_run(trained_digits, tmp_path, run_cli):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('cka', '--num-samples', 100,
                                '--layers', '3', '--metric', 'pearson',
                                '--seed', 2, '--out', out)
    assert code == 0, err
    df = pd.read_csv(out / 'cka.csv')
    assert df['layer_i'].unique().tolist() == ['features.3', 'features.7',
                                               'features.10']
    # Every ordered pair, the matrices symmetric with a unit CKA diagonal.
    assert len(df) == 9
    diagonal = df[df['layer_index_i'] == df['layer_index_j']]
    assert diagonal['cka'].tolist() == pytest.approx([1.0] * 3)
    assert diagonal['modularity_difference'].tolist() == [0.0] * 3
    pivot = df.pivot(index='layer_index_i', columns='layer_index_j',
                     values='cka')
    assert (pivot.to_numpy() == pivot.to_numpy().T).all()
    record = json.loads((out / 'run.json').read_text())
    assert record['params']['metric'] == 'pearson'
    assert record['layers'] == ['features.3', 'features.7', 'features.10']
    assert f'wrote {out}/cka.csv' in stdout
    assert 'linear CKA:' in stdout
    # The same draw, debiased: the same modularity, lower CKA off the
    # diagonal (N = 100 samples against thousands of features).
    code, stdout, err = run_cli('cka', '--num-samples', 100,
                                '--layers', '3', '--metric', 'pearson',
                                '--seed', 2, '--debiased', '--out',
                                tmp_path / 'debiased')
    assert code == 0, err
    debiased = pd.read_csv(tmp_path / 'debiased' / 'cka.csv')
    assert debiased['modularity_difference'].tolist() == \
        df['modularity_difference'].tolist()
    off = df['layer_index_i'] != df['layer_index_j']
    assert (debiased.loc[off, 'cka'] < df.loc[off, 'cka']).all()
    assert 'linear CKA (debiased):' in stdout


ERRORS = [
    (['--k', '20', '--num-samples', '20'],
     "--k 20 must be smaller than --num-samples 20"),
    (['--num-samples', '55'], "--num-samples 55: 'num_samples' (55) is not a "
                              "multiple of the number of classes (10)"),
    (['--layers', 'conv9'], "--layers conv9: unknown layer name(s)"),
    (['--layers', '1'], "--layers selects 1 layer; comparing layers needs at "
                        "least 2"),
    (['--model', 'vgg99'], "--model: Unknown model 'vgg99'"),
    (['--dataset', 'cifar10'], "--dataset cifar10 reads a local copy"),
]


@pytest.mark.parametrize('argv,message', ERRORS,
                         ids=[' '.join(a) for a, _ in ERRORS])
def test_errors_exit_2_and_write_nothing(trained_digits, tmp_path, run_cli,
                                         argv, message):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('cka', *argv, '--out', out)
    assert code == 2
    assert stdout == ''
    assert err.startswith('pyg-dnnmod cka: error: ')
    assert err.count('\n') == 1
    assert message in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
