import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from pyg_dnnmod.experiments.dynamics import (
    DYNAMICS_COLUMNS,
    dynamics_from_checkpoints,
    training_dynamics,
)
from pyg_dnnmod.plotting import plot_training_dynamics
from pyg_dnnmod.training import TrainConfig

torch.set_num_threads(1)


def blobs(n=96, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(3, 6, generator=gen)[y] + 0.8 * torch.randn(
        n, 6, generator=gen)
    return x, y


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16),
                         nn.ReLU(), nn.Linear(16, 3))


CONFIG = TrainConfig(epochs=3, batch_size=16, lr=0.05, milestones=(),
                     weight_decay=0.0)


def test_grid_and_history_columns(tmp_path):
    x, y = blobs()
    df = training_dynamics(mlp(), (x, y), (x, y), CONFIG, num_samples=48,
                           layers=nn.Linear, checkpoint_dir=tmp_path)
    assert df.columns.tolist() == list(DYNAMICS_COLUMNS)
    assert df['epoch'].tolist() == [e for e in range(4) for _ in range(3)]
    assert df['layer'].tolist() == ['0', '2', '4'] * 4
    # The accuracy of an epoch is the same in each of its rows.
    assert (df.groupby('epoch')['test_acc'].nunique() == 1).all()
    assert df.attrs['num_samples'] == 48 and df.attrs['k'] == 3
    assert df.attrs['train_seconds'] > 0 and df.attrs['snapshot_seconds'] > 0
    # The same grid from the checkpoints the run wrote.
    again = dynamics_from_checkpoints(mlp(seed=5), tmp_path, x, y,
                                      num_samples=48, layers=nn.Linear)
    pd.testing.assert_frame_equal(df, again, check_like=False)
    # Only every second epoch (and epoch 0).
    sparse = training_dynamics(mlp(), (x, y), (x, y), CONFIG, every=2,
                               num_samples=48, layers=nn.Linear)
    assert sparse['epoch'].unique().tolist() == [0, 2]
    assert sparse['modularity'].tolist() == \
        df[df['epoch'].isin([0, 2])]['modularity'].tolist()


def test_calibrated_grid(tmp_path):
    from pyg_dnnmod.snapshots import CALIBRATION_COLUMNS

    x, y = blobs()
    df = training_dynamics(mlp(), (x, y), (x, y), CONFIG, num_samples=48,
                           layers=nn.Linear, checkpoint_dir=tmp_path,
                           calibrate=True, num_permutations=200)
    assert df.columns.tolist() == list(DYNAMICS_COLUMNS) + list(
        CALIBRATION_COLUMNS)
    plain = dynamics_from_checkpoints(mlp(seed=5), tmp_path, x, y,
                                      num_samples=48, layers=nn.Linear)
    assert df['modularity'].tolist() == pytest.approx(
        plain['modularity'].tolist(), abs=1e-9)
    again = dynamics_from_checkpoints(mlp(seed=5), tmp_path, x, y,
                                      num_samples=48, layers=nn.Linear,
                                      calibrate=True, num_permutations=200)
    pd.testing.assert_frame_equal(df, again)
    # Blobs are separable: the trained last layer is far above chance.
    last = df[(df['epoch'] == 3) & (df['layer'] == '4')].iloc[0]
    assert last['z'] > 5 and last['p'] == 1 / 201
    assert abs(last['q_null_mean']) < 0.05


def test_separate_snapshot_samples_and_no_test_data():
    x, y = blobs()
    probe_x, probe_y = blobs(n=60, seed=1)
    df = training_dynamics(mlp(), (x, y), None, CONFIG, inputs=probe_x,
                           labels=probe_y, num_samples=None,
                           layers=nn.Linear)
    assert df['test_acc'].isna().all() and df['train_acc'].notna().all()
    assert df.attrs['num_samples'] == 60


@pytest.mark.slow
def test_acceptance_on_the_default():
    r"""Issue 5: the deep layers' modularity rises with the accuracy, the
    first layer stays within 0.1 of its epoch-0 value."""
    from pyg_dnnmod.pretrained import digits_data, digits_model
    config = TrainConfig(epochs=4, batch_size=32, lr=0.01, momentum=0.9,
                         weight_decay=5e-4, milestones=(8, ), seed=0)
    df = training_dynamics(digits_model(), digits_data('train'),
                           digits_data('test'), config, num_samples=300,
                           device='cpu')
    grid = df.pivot(index='epoch', columns='layer_index', values='modularity')
    accuracy = df.groupby('epoch')['test_acc'].first()
    first, last = grid[0], grid[grid.columns[-1]]
    assert (first - first[0]).abs().max() < 0.1
    assert last.iloc[-1] > last[0] + 0.2
    assert accuracy.iloc[-1] > accuracy[0] + 0.5
    assert spearmanr(last, accuracy)[0] > 0.8
    # The third layer rises too, less than the last.
    third = grid[2]
    assert third.iloc[-1] > third[0] + 0.05
    assert last.iloc[-1] - last[0] > third.iloc[-1] - third[0]
    fig = plot_training_dynamics(df, model='digits_cnn')
    heat, lines = fig.axes[0], fig.axes[1]
    assert [t.get_text() for t in heat.get_xticklabels()] == [
        'features.0', 'features.3', 'features.7', 'features.10']
    # The accuracy on the second y axis.
    twin = fig.axes[3]
    assert np.allclose(twin.lines[0].get_ydata(), accuracy.to_numpy())
    assert len(lines.lines) == 4


def test_plot_layers_and_errors():
    df = pd.DataFrame({
        'epoch': [0, 0, 1, 1], 'layer_index': [0, 1, 0, 1],
        'layer': ['a', 'b'] * 2, 'modularity': [0.2, 0.2, 0.2, 0.6],
        'test_acc': [0.1, 0.1, 0.9, 0.9]})
    fig = plot_training_dynamics(df, layers=['b'])
    lines = fig.axes[1]
    assert [line.get_label() for line in lines.lines] == ['b']
    assert lines.lines[0].get_ydata().tolist() == [0.2, 0.6]
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['c'\]"):
        plot_training_dynamics(df, layers=['c'])
    with pytest.raises(ValueError, match='lacks the column'):
        plot_training_dynamics(df.drop(columns='epoch'))


def test_bad_input(tmp_path):
    x, y = blobs()
    with pytest.raises(ValueError, match=r"'every' must be an integer >= 1 "
                       r"\(got 0\)"):
        training_dynamics(mlp(), (x, y), (x, y), CONFIG, every=0)
    with pytest.raises(ValueError, match="'inputs' and 'labels' must be "
                       "given"):
        training_dynamics(mlp(), (x, y), None, CONFIG)
    with pytest.raises(ValueError, match='k=10 for N=10'):
        training_dynamics(mlp(), (x, y), (x, y), CONFIG, num_samples=10,
                          k=10)
    with pytest.raises(ValueError, match='holds no epoch_XXX.pt'):
        dynamics_from_checkpoints(mlp(), tmp_path, x, y, num_samples=48)
