import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pyg_dnnmod.weights import weight_graph


class LeNet5(nn.Module):
    r"""LeNet-5 on 32x32 RGB, written out so the tests do not depend on
    :mod:`pyg_dnnmod.models`."""
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


@pytest.fixture
def lenet() -> LeNet5:
    torch.manual_seed(0)
    return LeNet5()


@pytest.fixture
def lenet_graph(lenet: LeNet5):
    return weight_graph(lenet, input_shape=(3, 32, 32))
