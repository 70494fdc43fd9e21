r"""Trained results do not depend on who trained them: the default model
and the train command's resume are fixed to a thread count."""
import pytest
import torch

from pyg_dnnmod.training import fixed_threads, read_checkpoint


@pytest.mark.slow
def test_default_model_whatever_the_thread_count(tmp_path):
    from pyg_dnnmod.pretrained import pretrained_digits_cnn, recipe_key
    with fixed_threads(1):
        one, info_one = pretrained_digits_cnn(cache=tmp_path / 'one')
    with fixed_threads(2):
        two, info_two = pretrained_digits_cnn(cache=tmp_path / 'two')
        # Trained with the count in force, the model is kept apart.
        assert recipe_key(None) != recipe_key()
    assert info_one['key'] == info_two['key']
    assert info_one['threads'] == info_two['threads'] == 1
    assert info_one['test_acc'] == info_two['test_acc']
    for key, value in one.state_dict().items():
        assert torch.equal(two.state_dict()[key], value), key
    with fixed_threads(1):
        assert recipe_key(None) == recipe_key()


def _train(out, *extra):
    from pyg_dnnmod.cli import main
    return main(['train', '--dataset', 'synthetic', '--model', 'digits_cnn',
                 '--out', str(out), '--no-progress', *extra])


@pytest.mark.slow
def test_train_resume_keeps_the_thread_count(tmp_path, capsys):
    assert _train(tmp_path / 'full', '--epochs', '2', '--threads', '2') == 0
    assert _train(tmp_path / 'cut', '--epochs', '1', '--threads', '2') == 0
    first = read_checkpoint(tmp_path / 'cut' / 'epoch_001.pt')
    assert first['environment'] == {'device': 'cpu', 'threads': 2}
    with fixed_threads(1):  # another machine: the resume takes the stored 2
        assert _train(tmp_path / 'cut', '--epochs', '2', '--resume') == 0
    full = read_checkpoint(tmp_path / 'full' / 'epoch_002.pt')['model']
    cut = read_checkpoint(tmp_path / 'cut' / 'epoch_002.pt')['model']
    for key, value in full.items():
        assert torch.equal(cut[key], value), key


def test_library_resume_warns_on_another_thread_count(tmp_path):
    from pyg_dnnmod.training import TrainConfig, train
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.arange(64) % 2
    model = torch.nn.Linear(4, 2)
    config = TrainConfig(epochs=1, batch_size=16, lr=0.1, weight_decay=0.0)
    with fixed_threads(2):
        train(model, (x, y), None, config, checkpoint_dir=tmp_path,
              progress=False, device='cpu')
    config = TrainConfig(epochs=2, batch_size=16, lr=0.1, weight_decay=0.0)
    with fixed_threads(1), pytest.warns(UserWarning,
                                        match="threads=2 in checkpoint vs 1 "
                                              "now"):
        train(model, (x, y), None, config, checkpoint_dir=tmp_path,
              resume=True, progress=False, device='cpu')
