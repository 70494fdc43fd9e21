r"""Discovery of the layers a model offers for feature extraction, in the
spirit of torchvision's :obj:`get_graph_node_names`: a table of every module
with its type, whether it is read by default, and its output size."""
import math
from typing import Any, Optional

import pandas as pd
import torch
from torch import Tensor, nn

from pyg_dnnmod.features._readers import model_state
from pyg_dnnmod.features._select import default_layers


def list_layers(model: nn.Module,
                example_input: Optional[Tensor] = None) -> pd.DataFrame:
    r"""Returns a table of the modules of :obj:`model` that can be read as
    layers, one row per module (every named module but the model itself),
    in module order.

    Columns: :obj:`name` (the name to pass to :func:`select_layers`),
    :obj:`type` (class name), :obj:`default` (whether it is read by
    default) and :obj:`index` (its position among the default layers, the
    index to use in :obj:`layers`, or :obj:`<NA>`). With an
    :obj:`example_input`, one forward pass (under :func:`torch.no_grad`, in
    eval mode, hooks removed and modes restored afterwards) adds
    :obj:`shape` (the output shape of one sample, :obj:`None` for a module
    that did not run or returned no tensor), :obj:`dim` (the feature
    dimension :math:`D`, the product of :obj:`shape`) and :obj:`calls` (how
    often the module ran; a module that runs more than once cannot be read
    by a hook). The rule that chose the default layers (see
    :func:`default_layers`) is in :obj:`df.attrs['rule']`.

    Args:
        model (torch.nn.Module): The model.
        example_input (Tensor, optional): A batch :obj:`[B, ...]` to run
            through the model, on its device. (default: :obj:`None`)

    Returns:
        pandas.DataFrame: The table.

    Example:
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(),
        ...                       nn.Flatten(), nn.Linear(72, 3))
        >>> df = list_layers(model, torch.randn(1, 1, 8, 8))
        >>> df['type'].tolist()
        ['Conv2d', 'ReLU', 'Flatten', 'Linear']
        >>> df['default'].tolist(), df['dim'].tolist()
        ([True, False, False, False], [72, 72, 72, 3])
        >>> df.attrs['rule']
        'conv'
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module (got "
                        f"{type(model).__name__})")
    if example_input is not None and not isinstance(example_input, Tensor):
        raise TypeError(f"'example_input' must be a Tensor (got "
                        f"{type(example_input).__name__})")
    if example_input is not None and (example_input.dim() == 0
                                      or example_input.size(0) == 0):
        raise ValueError(f"'example_input' must be a batch [B, ...] with "
                         f"B >= 1 (got shape {tuple(example_input.shape)})")

    modules = [(name, m) for name, m in model.named_modules() if name]
    defaults, rule = default_layers(model)
    position = {name: i for i, name in enumerate(defaults)}
    df = pd.DataFrame({
        'name': [name for name, _ in modules],
        'type': [type(m).__name__ for _, m in modules],
        'default': [name in position for name, _ in modules],
        'index': pd.array([position.get(name) for name, _ in modules],
                          dtype='Int64'),
    })

    if example_input is not None:
        shapes: dict[str, Any] = {}
        calls = {name: 0 for name, _ in modules}

        def make_hook(name: str):
            def hook(module: nn.Module, args: Any, output: Any) -> None:
                calls[name] += 1
                if calls[name] == 1 and isinstance(output, Tensor) and \
                        output.dim() > 0:
                    shapes[name] = tuple(output.shape[1:])
            return hook

        handles = []
        with model_state(model) as device, torch.no_grad():
            try:
                for name, m in modules:
                    handles.append(m.register_forward_hook(make_hook(name)))
                model(example_input.to(device))
            finally:
                for handle in handles:
                    handle.remove()

        df['shape'] = [shapes.get(name) for name, _ in modules]
        df['dim'] = pd.array([
            math.prod(shapes[name]) if name in shapes else None
            for name, _ in modules
        ], dtype='Int64')
        df['calls'] = [calls[name] for name, _ in modules]
    df.attrs['rule'] = rule
    return df
