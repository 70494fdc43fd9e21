import json

import pandas as pd
import pytest


def test_small_run(tmp_path, run_cli):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('redundancy', '--model', 'vit_tiny',
                                '--random-init', '--num-samples', 60,
                                '--budget', 3, '--k', 2, '--pooling', 'cls',
                                '--out', out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        'agreement.csv', 'redundancy.png', 'report.csv', 'run.json']
    report = pd.read_csv(out / 'report.csv')
    assert report['name'].tolist() == [f'blocks.{i}' for i in range(8)]
    removal = [c for c in report.columns if c.startswith('remove_')]
    assert len(removal) == 8
    assert (report[removal].sum() == 3).all()
    assert report['remove_reverse'].tolist() == [False] * 5 + [True] * 3
    # The angular-distance choice is a run of 3 consecutive blocks.
    run = report.index[report['remove_angular_distance']].tolist()
    assert run == list(range(run[0], run[0] + 3))
    agreement = pd.read_csv(out / 'agreement.csv', index_col=0)
    assert agreement.shape == (6, 6)
    assert agreement.to_numpy().diagonal().tolist() == [1.0] * 6
    record = json.loads((out / 'run.json').read_text())
    assert record['num_blocks'] == 8 and record['budget'] == 3
    assert record['pooling'] == 'cls'
    assert 'blocks each would remove:' in stdout
    assert (out / 'redundancy.png').read_bytes()[:4] == b'\x89PNG'


def test_compare_small(tmp_path, run_cli):
    out = tmp_path / 'out'
    code, stdout, err = run_cli(
        'redundancy', '--model', 'vit_tiny', '--random-init',
        '--dataset', 'mnist-5k', '--num-samples', 40, '--compare',
        '--seeds', 2,
        '--heal-samples', 64, '--choices', 'reverse,random,block_influence',
        '--out', out)
    assert code == 0, err
    table = pd.read_csv(out / 'block_removal.csv', dtype={'blocks': str})
    assert table['choice'].tolist() == ['reverse', 'random',
                                        'block_influence'] * 2
    assert table['seed'].tolist() == [0, 0, 0, 1, 1, 1]
    assert table.loc[table['choice'] == 'reverse', 'blocks'].tolist() == \
        ['6,7', '6,7']
    assert table['acc_full'].nunique() == 1
    assert table[['acc_removed', 'acc_healed']].notna().all().all()
    summary = pd.read_csv(out / 'block_removal_summary.csv')
    assert summary['choice'].tolist() == ['reverse', 'random',
                                          'block_influence']
    assert (out / 'block_removal.png').is_file()
    assert 'accuracy after removal and after healing' in stdout


@pytest.mark.parametrize('argv, message', [
    (['--model', 'digits_cnn', '--dataset', 'translated-digits',
      '--random-init'], "has no list of transformer blocks"),
    (['--model', 'vit_tiny', '--random-init', '--budget', '8'],
     "--budget must be below the model's 8 blocks"),
    (['--model', 'vit_tiny', '--random-init', '--choices', 'entropy'],
     "--choices must name some of"),
    (['--model', 'vit_tiny', '--random-init', '--heal-samples', '-1'],
     "--heal-samples must be >= 0"),
])
def test_errors(tmp_path, run_cli, argv, message):
    code, _, err = run_cli('redundancy', *argv, '--num-samples', 20,
                           '--out', tmp_path / 'out')
    assert code != 0
    assert message in err
    assert not (tmp_path / 'out').exists()
