import json
import subprocess
import sys

import pandas as pd
import pytest

from pyg_dnnmod.cli.commands.attack import parse_attacks, parse_params
from pyg_dnnmod.cli._common import CLIError

RUN_NAME = 'attack-digits_cnn-translated-digits-N500-k3-fgsm-pgd'


@pytest.mark.slow
def test_default_run_without_arguments(trained_digits, tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'pyg_dnnmod', 'attack'],
                          capture_output=True, text=True, cwd=tmp_path,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / 'pyg_dnnmod_out' / RUN_NAME
    assert sorted(p.name for p in folder.iterdir()) == [
        'adversarial_curves.png', 'attacks.csv', 'modularity.csv',
        'run.json']
    curves = pd.read_csv(folder / 'modularity.csv')
    peak = curves.groupby('set')['modularity'].max()
    # The paper's finding on the default at N = 500.
    assert peak['fgsm'] < peak['clean'] and peak['pgd'] < peak['clean']
    summary = pd.read_csv(folder / 'attacks.csv')
    assert summary['num_collected'].tolist() == [500, 500, 500]
    record = json.loads((folder / 'run.json').read_text())
    assert sorted(record['attacks']) == ['fgsm', 'pgd']
    assert record['attacks']['pgd']['params']['nb_iter'] == 40


def test_fgsm_with_a_parameter_and_the_cache(trained_digits, tmp_path,
                                             run_cli):
    cache = tmp_path / 'cache'
    argv = ['attack', '--attacks', 'fgsm', '--param', 'fgsm.eps=0.2',
            '--num-samples', 50, '--cache-dir', cache]
    code, stdout, err = run_cli(*argv, '--out', tmp_path / 'a')
    assert code == 0, err
    summary = pd.read_csv(tmp_path / 'a' / 'attacks.csv')
    assert summary['set'].tolist() == ['clean', 'fgsm']
    fgsm = summary.set_index('set').loc['fgsm']
    assert fgsm['linf_max'] == pytest.approx(0.2)
    assert fgsm['num_collected'] == 50
    assert json.loads(fgsm['params'])['eps'] == 0.2
    curves = pd.read_csv(tmp_path / 'a' / 'modularity.csv')
    assert curves.columns.tolist() == ['set', 'layer_index', 'layer',
                                       'modularity', 'num_samples', 'k',
                                       'metric']
    assert len(curves) == 2 * 4
    assert len(list(cache.iterdir())) == 1
    # The second run reads the cached set: the same curves and timings.
    code, _, err = run_cli(*argv, '--out', tmp_path / 'b')
    assert code == 0, err
    pd.testing.assert_frame_equal(
        curves, pd.read_csv(tmp_path / 'b' / 'modularity.csv'))
    again = pd.read_csv(tmp_path / 'b' / 'attacks.csv').set_index('set')
    assert again.loc['fgsm', 'seconds'] == fgsm['seconds']
    record = json.loads((tmp_path / 'b' / 'run.json').read_text())
    assert record['cache_dir'] == str(cache)
    assert 'fgsm' in stdout and 'peak_modularity' in stdout


def test_jsma_is_targeted_and_reported(trained_digits, tmp_path, run_cli):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('attack', '--attacks', 'jsma',
                                '--num-samples', 20, '--no-cache', '--out',
                                out)
    assert code == 0, err
    summary = pd.read_csv(out / 'attacks.csv').set_index('set')
    assert summary.loc['jsma', 'target_rule'] == '(y + 1) mod C'
    assert summary.loc['jsma', 'linf_max'] > 0  # inputs were changed
    assert 'note: jsma is targeted at class (y + 1) mod C' in stdout


@pytest.mark.slow
def test_all_six_attacks(trained_digits, tmp_path, run_cli):
    out = tmp_path / 'out'
    code, stdout, err = run_cli(
        'attack', '--attacks', 'all', '--num-samples', 10,
        '--param', 'cw.max_iterations=20', '--param',
        'local_search.max_nb_seeds=32', '--no-cache', '--out', out)
    assert code == 0, err
    summary = pd.read_csv(out / 'attacks.csv')
    assert summary['set'].tolist() == ['clean', 'fgsm', 'pgd', 'jsma', 'cw',
                                       'single_pixel', 'local_search']
    curves = pd.read_csv(out / 'modularity.csv')
    for _, row in summary.iterrows():
        # A curve, or a note saying why there is none.
        has_curve = row['set'] in set(curves['set'])
        assert has_curve or 'no curve' in str(row['note'])
        assert has_curve == (row['num_collected'] > 3)


def test_parsers():
    assert parse_attacks('all') == ['fgsm', 'pgd', 'jsma', 'cw',
                                    'single_pixel', 'local_search']
    assert parse_params(['pgd.nb_iter=5', 'pgd.rand_init=false',
                         'fgsm.loss_fn=null', 'cw.note=text'],
                        ['fgsm', 'pgd', 'cw']) == {
        'pgd': {'nb_iter': 5, 'rand_init': False},
        'fgsm': {'loss_fn': None}, 'cw': {'note': 'text'}}
    with pytest.raises(CLIError, match='must look like ATTACK.NAME=VALUE'):
        parse_params(['eps=0.1'], ['fgsm'])


ERRORS = [
    (['--attacks', 'deepfool'], "--attacks must be one or more of fgsm, "
                                "pgd"),
    (['--param', 'pgd.eps=0.1'], "--param pgd.eps=0.1: attack 'pgd' is not "
                                 "run; add it to --attacks"),
    (['--param', 'fgsm.epsilon=0.1'], "--param: Unknown parameter 'epsilon' "
                                      "of attack 'fgsm'"),
    (['--param', 'fgsm'], "--param must look like ATTACK.NAME=VALUE"),
    (['--k', '20', '--num-samples', '20'],
     "--k 20 must be smaller than --num-samples 20"),
    (['--attack-batch-size', '0'], "--attack-batch-size must be >= 1"),
    (['--dataset', 'synthetic', '--model', 'digits_cnn', '--random-init',
      '--num-samples', '20', '--param', 'fgsm.clip_max=0.5'],
     "must lie in [clip_min, clip_max] = [0.0, 0.5] for attack 'fgsm'"),
]


@pytest.mark.parametrize('argv,message', ERRORS,
                         ids=[' '.join(a) for a, _ in ERRORS])
def test_errors_exit_2_and_write_nothing(trained_digits, tmp_path, run_cli,
                                         argv, message):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('attack', '--attacks', 'fgsm', *argv,
                                '--no-cache', '--out', out)
    assert code == 2
    assert stdout == ''
    assert err.startswith('pyg-dnnmod attack: error: ')
    assert err.count('\n') == 1
    assert message in err
    assert list(tmp_path.iterdir()) == []


def test_calibrated_attack_curves(trained_digits, tmp_path, run_cli,
                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run_cli('attack', '--attacks', 'fgsm',
                                '--num-samples', 50, '--no-cache',
                                '--calibrate', '--permutations', 100)
    assert code == 0, err
    folder = tmp_path / 'pyg_dnnmod_out' / \
        'attack-digits_cnn-translated-digits-N50-k3-fgsm-calibrated'
    curves = pd.read_csv(folder / 'modularity.csv')
    assert curves.columns.tolist()[-4:] == ['q_null_mean', 'q_null_std',
                                            'z', 'p']
    assert curves['z'].notna().all()
    clean = curves[curves['set'] == 'clean']
    assert clean['z'].iloc[-1] > 10
