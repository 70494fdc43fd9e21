r"""Where a model lives: the device its tensors are on."""
import torch
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    r"""Returns the device of :obj:`model`: that of its first parameter, else
    of its first buffer, else the CPU (a model without tensors runs
    anywhere). Inputs sent there meet the model's first layer.

    Args:
        model (torch.nn.Module): The model.

    Example:
        >>> from torch import nn
        >>> model_device(nn.Linear(2, 3))
        device(type='cpu')
        >>> model_device(nn.ReLU())
        device(type='cpu')
    """
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device('cpu')
