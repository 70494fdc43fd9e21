import pytest

from pyg_dnnmod.models import DigitsDeepCNN, get_model
from pyg_dnnmod.pruning import removal_order, remove_layers


@pytest.mark.parametrize('name, steps, total', [('vgg11', 3, 3),
                                                 ('vgg19', 6, 11)])
def test_removal_order_gives_the_paper_variants(name, steps, total):
    # VGG19 goes on into blocks 3, 2 and 1 after the paper's six variants.
    model = get_model(name)
    order = removal_order(model, cumulative=True)
    assert len(order) == total
    for j in range(1, steps + 1):
        pruned = remove_layers(model, order[:j])
        assert str(pruned) == str(get_model(f'{name}_{j}'))


def test_removal_order_single():
    # Removed alone, each of VGG11's four removable convolutions leaves its
    # block a convolution; a block of one convolution is never emptied.
    assert removal_order(get_model('vgg11')) == [
        'features.25', 'features.22', 'features.18', 'features.11']
    # Block 2 of (1, 2) convolutions of 4 channels: both are removable, one
    # at a time, but not both together; block 3's single one never.
    model = DigitsDeepCNN(channels=(4, 4, 4), convs_per_block=(1, 2, 1))
    assert removal_order(model) == ['features.7', 'features.4']
    assert removal_order(model, cumulative=True) == ['features.7']
    # Residual blocks: every identity-shortcut block, from the back.
    assert removal_order(get_model('resnet20'), cumulative=True) == [
        'layer3.2', 'layer3.1', 'layer2.2', 'layer2.1', 'layer1.2',
        'layer1.1', 'layer1.0']
