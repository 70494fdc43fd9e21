r"""Every checkpoint format the package writes reads back, records the model
and the data it was trained on, and is checked against the data it is run
on (issue 20, point 4); a whole pickled model is refused in plain words.
The recipe's learning-rate milestones move with the epoch budget (issue
20, point 9)."""
import shutil
import warnings

import pytest
import torch
from torch import nn

from pyg_dnnmod.datasets import load_dataset
from pyg_dnnmod.pretrained import (
    checkpoint_record,
    digits_model,
    load_model,
    load_model_checkpoint,
    load_pretrained,
    pretrained_path,
    scaled_milestones,
    train_config,
    trained_on_data,
)
from pyg_dnnmod.training import (
    TrainConfig,
    checkpoint_info,
    describe_checkpoint,
    read_checkpoint,
    save_model_checkpoint,
    train,
)

DIGITS = {'model': 'digits_cnn', 'dataset': 'translated-digits'}


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_training_checkpoint_records_info_in_every_epoch(tmp_path):
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    config = TrainConfig(epochs=1, batch_size=16, lr=0.1, milestones=())
    info = {'model': 'linear', 'dataset': 'toy', 'num_classes': 2}
    train(nn.Linear(2, 2), (x, y), None, config, checkpoint_dir=tmp_path,
          progress=False, info=info)
    for epoch in (0, 1):
        stored = read_checkpoint(tmp_path / f'epoch_00{epoch}.pt')
        assert checkpoint_info(stored) == info
        assert describe_checkpoint(stored) == (
            f'a training checkpoint of epoch {epoch} (model linear, '
            f'trained on toy)')


def test_the_cached_default_model_reads_back(trained_digits):
    model, info = trained_digits
    path = info['path']
    record = checkpoint_record(path)
    assert (record['model'], record['dataset']) == ('digits_cnn',
                                                    'translated-digits')
    assert describe_checkpoint(read_checkpoint(path)) == (
        'a saved model (model digits_cnn, trained on translated-digits)')
    # No spec and no data: both from the record.
    loaded, loaded_info = load_model_checkpoint(path)
    assert same_weights(loaded, model)
    assert loaded_info['spec'] == 'digits_cnn'
    assert loaded_info['trained_on'] == 'translated-digits'
    assert loaded_info['test_acc'] == info['test_acc']
    # The path every command takes.
    data = load_dataset('translated-digits')
    loaded, _ = load_model('digits_cnn', data, checkpoint=path)
    assert same_weights(loaded, model)
    with pytest.raises(ValueError, match=r"was trained on "
                       r"data=translated-digits \(translated digits\), not "
                       r"on the digits: pass data=translated-digits \(got "
                       r"data=digits\)$"):
        load_model('digits_cnn', load_dataset('digits'), checkpoint=path)


def test_saved_model_and_bare_state_dict_read_back(tmp_path):
    net = digits_model(seed=3)
    data = load_dataset('translated-digits')
    saved = save_model_checkpoint(net, tmp_path / 'saved.pt', DIGITS,
                                  epoch=5)
    bare = tmp_path / 'bare.pt'
    torch.save(net.state_dict(), bare)
    for path, spec in ((saved, None), (bare, 'digits_cnn')):
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # an older file: no warning
            model, info = load_model_checkpoint(path, spec, data)
        assert same_weights(model, net) and not model.training
    assert 'trained_on' not in info  # the bare file records nothing
    assert checkpoint_record(bare) == {}
    assert load_model_checkpoint(saved)[1]['epoch'] == 5
    with pytest.raises(ValueError, match=r"^checkpoint='.*bare.pt' \(a "
                       r"state_dict\) records no model: pass the 'spec'"):
        load_model_checkpoint(bare, data=data)


def test_a_copy_of_a_shipped_file_knows_its_data(tmp_path):
    copy = tmp_path / 'r20.pt'
    shutil.copy(pretrained_path('resnet20a-fashion-mnist'), copy)
    assert checkpoint_record(copy) == dict(
        model='resnet20a-fashion-mnist', dataset='fashion-mnist',
        shipped='resnet20a-fashion-mnist')
    with pytest.raises(ValueError, match=r"^checkpoint='.*r20.pt' was "
                       r"trained on data=fashion-mnist \(Fashion-MNIST\), "
                       r"not on the translated digits"):
        load_model('resnet20a', load_dataset('translated-digits'),
                   checkpoint=copy)
    data = load_dataset('fashion-mnist')
    model, info = load_model('resnet20a', data, checkpoint=copy)
    shipped, _ = load_pretrained('resnet20a-fashion-mnist', data)
    x = data.take(torch.arange(4))
    assert torch.equal(model(x), shipped(x))
    assert (info['trained_on'], info['test_acc']) == ('fashion-mnist',
                                                      0.9268)


def test_fashion_weights_on_the_digits_are_refused(tmp_path):
    path = save_model_checkpoint(
        digits_model(), tmp_path / 'fashion.pt',
        {'model': 'digits_cnn', 'dataset': 'fashion-mnist'})
    digits = load_dataset('translated-digits')
    with pytest.raises(ValueError, match=r"^checkpoint='.*fashion.pt' was "
                       r"trained on data=fashion-mnist \(Fashion-MNIST\), "
                       r"not on the translated digits: pass "
                       r"data=fashion-mnist \(got data=translated-digits\)$"):
        load_model_checkpoint(path, data=digits)
    # MNIST and its 5,000 digits are the same images.
    mnist_5k = load_dataset('mnist-5k')
    trained_on_data({'dataset': 'mnist'}, mnist_5k)
    with pytest.raises(ValueError, match=r"data=fashion-mnist"):
        trained_on_data({'dataset': 'fashion-mnist'}, mnist_5k)


def test_misfit_names_what_the_file_records(tmp_path):
    from pyg_dnnmod.models import get_model
    path = save_model_checkpoint(
        get_model('digits_deep_cnn'), tmp_path / 'deep.pt',
        {'model': 'digits_deep_cnn', 'dataset': 'translated-digits'})
    with pytest.raises(ValueError) as error:
        load_model('digits_cnn', load_dataset('translated-digits'),
                   checkpoint=path)
    message = str(error.value)
    assert message.startswith(f"'checkpoint': checkpoint '{path}' does not "
                              f"fit the model: missing keys: ")
    assert message.endswith(
        "(a saved model (model digits_deep_cnn, trained on "
        "translated-digits)). Pass the 'spec' (and 'data' or 'num_classes') "
        "it was trained with (the file records spec=digits_deep_cnn; got "
        "spec=digits_cnn)")


def test_recorded_class_count_is_the_default(tmp_path):
    from pyg_dnnmod.models import build_model
    data = load_dataset('translated-digits')
    net = build_model('digits_cnn', 4, data=data)
    path = save_model_checkpoint(net, tmp_path / 'four.pt',
                                 dict(DIGITS, num_classes=4))
    model, _ = load_model('digits_cnn', data, checkpoint=path)
    assert model(data.take(torch.arange(2))).shape == (2, 4)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)


def test_pickled_model_and_other_files_are_refused_in_plain_words(tmp_path):
    whole = tmp_path / 'whole.pt'
    torch.save(Net(), whole)
    with pytest.raises(ValueError) as error:
        read_checkpoint(whole)
    message = str(error.value)
    assert message == (
        f"'{whole}' is not a checkpoint that loads with weights_only=True: "
        f"it holds pickled Python objects (class "
        f"test_checkpoint_formats.Net), e.g. a whole model saved with "
        f"torch.save(model). Such a file is never unpickled here, since "
        f"unpickling can run code; where you trust it, load it and save "
        f"the weights alone: torch.save(model.state_dict(), "
        f"'whole_weights.pt')")
    other = tmp_path / 'other.pt'
    torch.save({'weights': [1, 2], 'step': 3}, other)
    with pytest.raises(ValueError, match=r"a dict with the keys 'weights', "
                       r"'step'; pass a state_dict file"):
        read_checkpoint(other)
    with pytest.raises(ValueError, match=r"^'checkpoint': '.*whole.pt' is "
                       r"not a checkpoint .* torch.save\(model.state_dict"):
        load_model_checkpoint(whole, 'digits_cnn')


@pytest.mark.parametrize('milestones, recipe_epochs, epochs, expected', [
    ((8, ), 12, 30, (20, )),   # the digits recipe: two thirds, as the zoo
    ((8, ), 12, 12, (8, )),
    ((8, ), 12, 3, (2, )),
    ((8, ), 12, 1, ()),        # round(2/3) = 1 is not inside (0, 1)
    ((5, 8), 10, 20, (10, 16)),
    ((50, 100), 150, 3, (1, 2)),
    ((5, 8), 10, 2, (1, )),    # round(1.0) and round(1.6) = 2: one kept
])
def test_scaled_milestones(milestones, recipe_epochs, epochs, expected):
    assert scaled_milestones(milestones, recipe_epochs, epochs) == expected


def test_train_config_scales_only_when_asked():
    assert train_config('digits', epochs=30).milestones == (8, )
    assert train_config('digits', scale_milestones=True,
                        epochs=30).milestones == (20, )
    assert train_config('digits', scale_milestones=True, epochs=30,
                        milestones=(9, )).milestones == (9, )
    assert train_config('digits', scale_milestones=True).milestones == (8, )
