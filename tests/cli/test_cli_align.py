import json

import pandas as pd
import pytest
import torch


def test_within_model_default(trained_digits, tmp_path, run_cli,
                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = run_cli('align', '--num-samples', 200)
    assert code == 0, err
    folder = tmp_path / 'pyg_dnnmod_out' / \
        'align-digits_cnn-translated-digits-N200-k10-mutual_knn'
    assert sorted(p.name for p in folder.iterdir()) == [
        'alignment.csv', 'alignment.png', 'alignment_matrix.csv', 'run.json']
    df = pd.read_csv(folder / 'alignment.csv')
    assert len(df) == 16  # 4 x 4 conv layers
    table = pd.read_csv(folder / 'alignment_matrix.csv', index_col=0)
    assert table.shape == (4, 4)
    # Within one model: symmetric, ones on the diagonal, neighbours
    # shared more between adjacent layers than between the ends.
    assert table.to_numpy().diagonal().tolist() == [1.0] * 4
    assert (table.to_numpy() == table.to_numpy().T).all()
    assert table.iloc[2, 3] > table.iloc[0, 3]
    record = json.loads((folder / 'run.json').read_text())
    assert record['score'] == 'mutual_knn' and record['model_b'] is None
    assert record['chance_level'] == pytest.approx(10 / 199)
    assert 'chance level' in stdout and 'features.10' in stdout


def test_two_checkpoints_calibrated(trained_digits, tmp_path, run_cli):
    run = tmp_path / 'run'
    code, _, err = run_cli('train', '--epochs', 1, '--out', run)
    assert code == 0, err
    out = tmp_path / 'out'
    code, stdout, err = run_cli(
        'align', '--num-samples', 100, '--checkpoint', run / 'epoch_000.pt',
        '--checkpoint-b', run / 'epoch_001.pt', '--calibrate',
        '--permutations', 100, '--out', out)
    assert code == 0, err
    df = pd.read_csv(out / 'alignment.csv')
    assert df.columns.tolist()[-4:] == ['null_mean', 'null_std', 'z', 'p']
    assert len(df) == 16
    # Random init and one epoch later share the first layer's neighbours
    # far beyond chance.
    first = df[(df['layer_index_a'] == 0) & (df['layer_index_b'] == 0)]
    assert first['z'].item() > 10
    assert df['null_mean'].max() < 0.2
    record = json.loads((out / 'run.json').read_text())
    assert record['model_b']['checkpoint'].endswith('epoch_001.pt')
    assert 'z against the permutation null' in stdout


def test_two_architectures(trained_digits, tmp_path, run_cli):
    out = tmp_path / 'out'
    code, stdout, err = run_cli(
        'align', '--num-samples', 60, '--model-b', 'digits_deep_cnn',
        '--random-init-b', '--score', 'knn_jaccard', '--k', 5, '--out', out)
    assert code == 0, err
    table = pd.read_csv(out / 'alignment_matrix.csv', index_col=0)
    assert table.shape[0] == 4 and table.shape[1] >= 1
    assert table.index.tolist()[0] == 'features.0'
    assert torch.tensor(table.to_numpy()).le(1.0).all()


ERRORS = [
    (['--permutations', '1', '--calibrate'],
     "--permutations must be at least 2 (got 1)"),
    (['--score', 'cknna', '--k', '1'], "--score cknna needs --k of at least "
                                       "2 (got 1)"),
    (['--checkpoint-b', 'x.pt', '--random-init-b'],
     "--checkpoint-b loads trained weights into B"),
    (['--score', 'cka'], "invalid choice: 'cka'"),
    (['--k', '200', '--num-samples', '100'],
     "--k 200 must be smaller than --num-samples 100"),
]


@pytest.mark.parametrize('argv,message', ERRORS,
                         ids=[' '.join(a) for a, _ in ERRORS])
def test_errors(tmp_path, run_cli, argv, message):
    out = tmp_path / 'out'
    code, stdout, err = run_cli('align', *argv, '--out', out)
    assert code == 2
    assert stdout == ''
    assert 'pyg-dnnmod align: error: ' in err
    assert message in err
    assert not out.exists()
