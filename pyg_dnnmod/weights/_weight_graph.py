r"""The weights of a network as one undirected, layered PyG graph.

Vahedian et al. (2021, `"Convolutional Neural Network Dynamics: A Graph
Perspective" <https://arxiv.org/abs/2111.05410>`_) turn the weights of a CNN
at every training epoch into a graph snapshot and predict the final accuracy
from simple statistics of its nodes. :func:`weight_graph` builds one such
snapshot; calling it on every checkpoint gives the edge-dynamic graph (the
edge set depends only on the architecture, so every snapshot of one model
has the same :obj:`edge_index`).
"""
import math
import warnings
from typing import Optional, Sequence

import torch
from torch import nn
from torch_geometric.data import Data
from torch_geometric.utils import coalesce

from pyg_dnnmod.weights._trace import WeightTracer, run_trace


def _check_input_shape(model: nn.Module,
                       input_shape: Optional[Sequence[int]]) -> tuple:
    if input_shape is None:
        for module in model.modules():
            if isinstance(module, nn.Linear):
                return (module.in_features, )
            if isinstance(module, nn.modules.conv._ConvNd):
                break
        raise ValueError("'input_shape' is required (the shape of one "
                         "sample without the batch dimension, e.g. "
                         "input_shape=(3, 32, 32)) unless the model starts "
                         "with a Linear layer")
    if isinstance(input_shape, int):
        input_shape = (input_shape, )
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise TypeError(f"'input_shape' must be a sequence of integers "
                        f"(got {input_shape!r})") from None
    if not shape or any(s < 1 for s in shape) or \
            any(s != v for s, v in zip(shape, input_shape)):
        raise ValueError(f"'input_shape' must hold positive integers "
                         f"(got {tuple(input_shape)!r})")
    return shape


def _assemble(tracer: WeightTracer, signed: bool,
              dtype: torch.dtype) -> Data:
    layers = tracer.layers
    total = tracer.num_nodes
    alias = torch.arange(total)
    for layer in layers:
        if layer.merged_into is not None:
            keep = layers[layer.merged_into]
            alias[layer.start:layer.start + layer.size] = torch.arange(
                keep.start, keep.start + keep.size)
    while True:  # a merged layer may itself have been merged later
        nxt = alias[alias]
        if torch.equal(nxt, alias):
            break
        alias = nxt

    final = torch.full((total, ), -1, dtype=torch.long)
    names, shapes, layer_id, pos_in_layer = [], [], [], []
    offset = 0
    for layer in layers:
        if layer.merged_into is not None:
            continue
        final[layer.start:layer.start + layer.size] = torch.arange(
            offset, offset + layer.size)
        layer_id.append(torch.full((layer.size, ), len(names)))
        pos_in_layer.append(torch.arange(layer.size))
        names.append(layer.name)
        shapes.append(tuple(layer.shape))
        offset += layer.size
    num_nodes = offset

    node_map = final[alias]
    scale = None
    if tracer.scales:
        scale = torch.ones(total, dtype=torch.float64)
        for nodes, factor in tracer.scales:
            scale[nodes] *= factor
    outs, ins, sqs, sums = [], [], [], []
    for out, inp, sq, s, scalable in tracer.chunks:
        if scalable and scale is not None:
            factor = scale[out]
            sq, s = sq * factor * factor, s * factor
        outs.append(node_map[out])
        ins.append(node_map[inp])
        sqs.append(sq)
        sums.append(s)
    out = torch.cat(outs) if outs else torch.empty(0, dtype=torch.long)
    inp = torch.cat(ins) if ins else torch.empty(0, dtype=torch.long)
    attr = torch.stack([torch.cat(sqs), torch.cat(sums)], dim=1) if sqs \
        else torch.empty(0, 2, dtype=torch.float64)
    assert bool((out >= 0).all()) and bool((inp >= 0).all())

    # Both directions at once; several weights between one pair of nodes
    # (kernel taps, features of one channel, parallel branches) combine as
    # one L2 norm because their squares and sums add up.
    edge_index, attr = coalesce(
        torch.stack([torch.cat([out, inp]), torch.cat([inp, out])]),
        torch.cat([attr, attr]), num_nodes, reduce='sum')
    weight = attr[:, 0].sqrt()
    if signed:
        weight = torch.where(attr[:, 1] < 0, -weight, weight)

    return Data(
        edge_index=edge_index,
        edge_weight=weight.to(dtype),
        layer=torch.cat(layer_id) if layer_id else torch.empty(0).long(),
        pos_in_layer=torch.cat(pos_in_layer)
        if pos_in_layer else torch.empty(0).long(),
        num_nodes=num_nodes,
        layer_names=names,
        layer_shapes=shapes,
    )


def weight_graph(model: nn.Module, conv: str = 'rolled',
                 input_shape: Optional[Sequence[int]] = None,
                 signed: bool = False, bn: str = 'ignore',
                 max_nodes: int = 200_000) -> Data:
    r"""The weights of :obj:`model` as one undirected layered graph, from
    `"Convolutional Neural Network Dynamics: A Graph Perspective"
    <https://arxiv.org/abs/2111.05410>`_ (Vahedian et al., 2021).

    The model runs once, in eval mode and without gradients, on a zero input
    of shape :obj:`[2, *input_shape]`; every tensor operation is followed,
    so the graph has the model's real data flow. Nodes come in forward
    order: layer 0 holds the input channels, then every convolution
    (:class:`~torch.nn.Conv1d`, :class:`~torch.nn.Conv2d`,
    :class:`~torch.nn.Conv3d`) and :class:`~torch.nn.Linear` layer adds one
    layer of nodes in the order it runs.

    With :obj:`conv='rolled'` (the paper's representation) a node is a
    channel of a convolution or a neuron of a linear layer. A convolution
    links output channel :math:`i` to input channel :math:`j` with the L2
    norm of its kernel slice,

    .. math::
        w_{ij} = \| \mathbf{W}[i, j, :, :] \|_2,

    a grouped or depthwise convolution only within its groups, and a linear
    layer links neurons with :math:`|w_{ij}|`. The first linear layer after
    a flatten is rolled over the spatial positions: with its weight viewed
    as :obj:`[out, C, H * W]`, neuron :math:`i` and channel :math:`j` are
    linked by :math:`\| \mathbf{W}[i, j, :] \|_2`. Pooling, activations,
    dropout and reshapes add no nodes. Biases are not edges.

    Residual shortcuts become edges. An identity shortcut adds an edge of
    weight 1 from channel :math:`i` of the block input to channel :math:`i`
    of the block output (the nodes of the block's last convolution). A
    projection shortcut (a 1x1 convolution) links the block input to those
    same nodes by its kernel-slice norms: the two branches that are summed
    share one set of nodes, named like ``'conv2+shortcut.0'`` in
    :obj:`layer_names` (the branch that ran first named first). Whenever several weights connect the same two
    nodes, they combine into one L2 norm.

    BatchNorm adds no nodes. With :obj:`bn='ignore'` it is skipped; with
    :obj:`bn='fold'`, a BatchNorm directly after a convolution or linear
    layer scales the in-edges of its output channel :math:`i` by
    :math:`|\gamma_i| / \sqrt{\sigma^2_i + \epsilon}` (its running
    statistics), the factor by which it multiplies that channel (its shift
    is a bias and ignored); any other BatchNorm is left unfolded with a
    warning.

    With :obj:`conv='unrolled'` a node is one scalar entry: every spatial
    position of every input and convolution channel, and every neuron. A
    convolution links each output position to each input position under its
    receptive field with the kernel entry between them (several entries,
    e.g. through an overlapping pooling window, combine into an L2 norm);
    pooling layers map each pooled position to its window. Only
    :class:`~torch.nn.Conv2d` is supported. A node count above
    :obj:`max_nodes` raises a :class:`ValueError` before any edge is built;
    the number of edges is roughly the number of nodes times the fan-in.

    With :obj:`signed=True` a convolution edge keeps the sign of the sum of
    its kernel slice (:math:`\mathrm{sign}(\sum \mathbf{W}[i, j]) \cdot
    \| \mathbf{W}[i, j] \|_2`, a zero sum counting as positive), which for a
    linear layer is the raw weight :math:`w_{ij}`.

    Args:
        model (torch.nn.Module): The network (left unchanged, its train/eval
            mode restored).
        conv (str, optional): :obj:`'rolled'` (a node per channel) or
            :obj:`'unrolled'` (a node per position). (default:
            :obj:`'rolled'`)
        input_shape (Sequence[int], optional): The shape of one input sample
            without the batch dimension, e.g. :obj:`(3, 32, 32)`. May be
            omitted when the model starts with a Linear layer.
            (default: :obj:`None`)
        signed (bool, optional): Whether edges keep a sign.
            (default: :obj:`False`)
        bn (str, optional): :obj:`'ignore'` or :obj:`'fold'`.
            (default: :obj:`'ignore'`)
        max_nodes (int, optional): The largest unrolled graph to build.
            (default: :obj:`200000`)

    Returns:
        torch_geometric.data.Data: On the CPU, with :obj:`edge_index`
        (every edge in both directions, sorted), :obj:`edge_weight` (in the
        dtype of the model's parameters), :obj:`layer` (the layer id of each
        node, 0 for the input), :obj:`pos_in_layer` (the channel or neuron
        index; the flat index into the layer's output in unrolled form),
        :obj:`num_nodes`, :obj:`layer_names` (module names, :obj:`'input'`
        first) and :obj:`layer_shapes` (each layer's output shape for one
        sample). NaN or Inf weights (a diverged network) give NaN or Inf
        edge weights and a :class:`UserWarning` naming the parameters.

    Example:
        >>> model = torch.nn.Sequential(
        ...     torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
        ...     torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(),
        ...     torch.nn.Linear(16, 5))
        >>> data = weight_graph(model, input_shape=(3, 8, 8))
        >>> data.num_nodes, data.num_edges  # 3 + 4 + 5; 2 * (12 + 20)
        (12, 64)
        >>> data.layer_names
        ['input', '0', '4']
        >>> data.layer.tolist()
        [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]
        >>> w = model[0].weight  # the edge (channel 1 of '0', input 2)
        >>> mask = (data.edge_index[0] == 4) & (data.edge_index[1] == 2)
        >>> torch.allclose(data.edge_weight[mask], w[1, 2].norm())
        True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module "
                        f"(got {type(model).__name__})")
    if conv not in ('rolled', 'unrolled'):
        raise ValueError(f"'conv' must be 'rolled' or 'unrolled' "
                         f"(got {conv!r})")
    if bn not in ('ignore', 'fold'):
        raise ValueError(f"'bn' must be 'ignore' or 'fold' (got {bn!r})")
    if not isinstance(signed, bool):
        raise TypeError(f"'signed' must be a bool (got {signed!r})")
    if not isinstance(max_nodes, int) or isinstance(max_nodes, bool) \
            or max_nodes < 1:
        raise ValueError(f"'max_nodes' must be a positive integer "
                         f"(got {max_nodes!r})")
    param = next(model.parameters(), None)
    if param is None:
        raise ValueError("'model' has no parameters, so no weight graph")
    shape = _check_input_shape(model, input_shape)
    dtype = param.dtype if param.is_floating_point() else \
        torch.get_default_dtype()
    example = torch.zeros((2, ) + shape, dtype=dtype, device=param.device)
    edge_dtype = dtype if dtype == torch.float64 else torch.float32

    if conv == 'unrolled':
        # The rolled trace is cheap and knows every layer's output shape.
        rolled = run_trace(model, example, unrolled=False, bn='ignore')
        count = sum(
            math.prod(layer.shape) for layer in rolled.layers
            if layer.merged_into is None)
        if count > max_nodes:
            raise ValueError(
                f"weight_graph(conv='unrolled') would have {count:,} nodes, "
                f"more than max_nodes={max_nodes:,}; pass "
                f"max_nodes={count} (or more) to build it anyway (edges grow "
                f"as nodes times fan-in), or use conv='rolled'")
    tracer = run_trace(model, example, unrolled=conv == 'unrolled', bn=bn)
    if len(tracer.layers) == 1:
        raise ValueError("'model' has no Conv or Linear layer on the path "
                         "from its input to its output")
    data = _assemble(tracer, signed, edge_dtype)
    if not bool(torch.isfinite(data.edge_weight).all()):
        # A diverged network is a legitimate member of a population (see
        # weights.zoo), so this warns instead of raising.
        bad = [name for name, t in [*model.named_parameters(),
                                    *model.named_buffers()]
               if t.is_floating_point() and not bool(t.isfinite().all())]
        warnings.warn(f"'model' holds NaN or Inf values in {bad!r}, so "
                      f"some edge weights of its weight graph are NaN or "
                      f"Inf", stacklevel=2)
    return data
