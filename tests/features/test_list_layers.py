import pandas as pd
import pytest
import torch
from torch import nn

from pyg_dnnmod.features import list_layers, select_layers


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)          # [3, 4, 4] on 6x6 inputs
        self.relu = nn.ReLU()                   # runs twice
        self.conv2 = nn.Conv2d(3, 2, 3)         # [2, 2, 2]
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8, 5))
        self.unused = nn.Linear(2, 2)

    def forward(self, x):
        x = self.relu(self.conv2(self.relu(self.conv(x))))
        return self.head(x)


def test_table_without_example_input():
    df = list_layers(Net())
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ['name', 'type', 'default', 'index']
    assert df['name'].tolist() == ['conv', 'relu', 'conv2', 'head', 'head.0',
                                   'head.1', 'unused']
    assert df['type'].tolist() == ['Conv2d', 'ReLU', 'Conv2d', 'Sequential',
                                   'Flatten', 'Linear', 'Linear']
    assert df['default'].tolist() == [True, False, True, False, False, False,
                                      False]
    assert df['index'].tolist() == [0, pd.NA, 1, pd.NA, pd.NA, pd.NA, pd.NA]
    assert df.attrs['rule'] == 'conv'
    # The default rows are what select_layers returns.
    assert df.loc[df['default'], 'name'].tolist() == select_layers(Net())


def test_table_with_example_input_shapes_dims_calls():
    model = Net().train()
    df = list_layers(model, torch.randn(2, 1, 6, 6)).set_index('name')
    assert df.loc['conv', 'shape'] == (3, 4, 4)
    assert df.loc['conv', 'dim'] == 48
    assert df.loc['relu', 'shape'] == (3, 4, 4)  # the first call
    assert df.loc['conv2', 'dim'] == 8
    assert df.loc['head.0', 'shape'] == (8, )
    assert df.loc['head', 'dim'] == 5
    assert df['calls'].to_dict() == {'conv': 1, 'relu': 2, 'conv2': 1,
                                     'head': 1, 'head.0': 1, 'head.1': 1,
                                     'unused': 0}
    assert df.loc['unused', 'shape'] is None
    assert df.loc['unused', 'dim'] is pd.NA
    # Hooks removed, mode restored.
    assert all(not m._forward_hooks for m in model.modules())
    assert all(m.training for m in model.modules())


def test_resnet_like_rule_and_index():
    class Block(nn.Module):
        is_residual_block = True

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            return x + self.conv(x)

    model = nn.Sequential(nn.Conv2d(1, 2, 1), Block(), Block())
    df = list_layers(model)
    assert df.attrs['rule'] == 'resnet'
    assert df.loc[df['default'], 'name'].tolist() == ['0', '1', '2']
    assert df.loc[df['name'] == '2', 'index'].item() == 2
    assert not df.loc[df['name'] == '1.conv', 'default'].item()


def test_bad_arguments():
    with pytest.raises(TypeError, match="'model' must be a torch.nn.Module "
                       r"\(got function\)"):
        list_layers(lambda x: x)
    with pytest.raises(TypeError, match=r"'example_input' must be a Tensor "
                       r"\(got list\)"):
        list_layers(Net(), [1, 2])
    with pytest.raises(ValueError, match=r"B >= 1 \(got shape \(0, 1, 6, 6\)"
                       r"\)"):
        list_layers(Net(), torch.randn(0, 1, 6, 6))
