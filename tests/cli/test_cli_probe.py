import json
import subprocess
import sys

import pandas as pd
import pytest
from scipy.stats import spearmanr


RUN_NAME = 'probe-digits_cnn-translated-digits-N500-k3'


@pytest.mark.slow
def test_default_run_without_arguments(trained_digits, tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'pyg_dnnmod', 'probe'],
                          capture_output=True, text=True, cwd=tmp_path,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / 'pyg_dnnmod_out' / RUN_NAME
    assert sorted(p.name for p in folder.iterdir()) == [
        'linear_probes.png', 'probes.csv', 'run.json']
    df = pd.read_csv(folder / 'probes.csv')
    assert df['layer'].tolist() == ['features.0', 'features.3',
                                    'features.7', 'features.10']
    assert df['converged'].all()
    assert df['probe_test_acc'].iloc[-1] > 0.9
    rho = spearmanr(df['modularity'], df['probe_test_acc'])[0]
    assert df['spearman'].tolist() == pytest.approx([rho] * 4)
    record = json.loads((folder / 'run.json').read_text())
    assert record['num_train'] == 250 and record['num_test'] == 250
    assert record['spearman'] == pytest.approx(rho)
    assert 'Spearman rho(modularity, probe test accuracy)' in proc.stdout


def test_small_run(trained_digits, tmp_path, run_cli):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('probe', '--num-samples', 100,
                                '--layers', '2', '--test-fraction', 0.3,
                                '--out', out)
    assert code == 0, err
    df = pd.read_csv(out / 'probes.csv')
    assert df.columns.tolist() == [
        'layer_index', 'layer', 'num_features', 'modularity',
        'probe_train_acc', 'probe_test_acc', 'converged', 'spearman']
    assert df['layer'].tolist() == ['features.7', 'features.10']
    record = json.loads((out / 'run.json').read_text())
    assert (record['num_train'], record['num_test']) == (70, 30)
    assert sorted(p.name for p in out.iterdir()) == [
        'linear_probes.png', 'probes.csv', 'run.json']


ERRORS = [
    (['--test-fraction', '1'], "--test-fraction must lie strictly between 0 "
                               "and 1 (got 1.0)"),
    (['--C', '0'], "--C must be > 0 (got 0.0)"),
    (['--max-iter', '0'], "--max-iter must be >= 1 (got 0)"),
    (['--num-samples', '10', '--k', '2'],
     "a stratified split needs at least 2 samples per class"),
    (['--k', '0'], "--k must be >= 1 (got 0)"),
]


@pytest.mark.parametrize('argv,message', ERRORS,
                         ids=[' '.join(a) for a, _ in ERRORS])
def test_errors_exit_2_and_write_nothing(trained_digits, tmp_path, run_cli,
                                         argv, message):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('probe', *argv, '--out', out)
    assert code == 2
    assert stdout == ''
    assert err.startswith('pyg-dnnmod probe: error: ')
    assert err.count('\n') == 1
    assert message in err
    assert list(tmp_path.iterdir()) == []
