r"""A GNN on the dynamic graph: node classification over a model's layer
snapshots, beside the modularity curve.

The snapshots of :func:`~pyg_dnnmod.layer_graphs` are a node-classification
benchmark as they are: the nodes are labelled samples, the edges their
k-NN graph at one depth, the features (with :obj:`keep_features=True`) the
layer's activations. :func:`gnn_on_snapshots` trains a GCN on every snapshot
and a recurrent graph model (:class:`~pyg_dnnmod.nn.GCNGRU`) over the depth
sequence, and sets their test accuracy beside the modularity of the class
partition, the quantity the paper reads the same graphs with.
"""
import math
from typing import Dict, List, Sequence, Union

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.nn import GCN, LabelPropagation
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from pyg_dnnmod.nn import GCNGRU
from pyg_dnnmod.utils import modularity


def _check_snapshots(graphs: Sequence[Data]) -> List[Data]:
    if isinstance(graphs, (Data, Tensor)) or not hasattr(graphs, '__iter__'):
        raise TypeError(f"'graphs' must be a sequence of PyG Data snapshots "
                        f"(got {type(graphs).__name__})")
    graphs = list(graphs)
    if len(graphs) == 0:
        raise ValueError("'graphs' must hold at least one snapshot (got 0)")
    first = graphs[0]
    for t, data in enumerate(graphs):
        name = f"snapshot {t} ({data.get('layer', '')!r})"
        if not isinstance(data, Data):
            raise TypeError(f"'graphs' must hold PyG Data objects "
                            f"(got {type(data).__name__} at {t})")
        if data.get('x') is None:
            raise ValueError(f"{name} has no node features 'x'; build the "
                             f"snapshots with keep_features=True")
        if data.get('y') is None:
            raise ValueError(f"{name} has no node labels 'y'")
        if data.x.dim() != 2 or data.x.size(0) != data.y.numel():
            raise ValueError(f"{name}: 'x' must have shape [num_nodes, "
                             f"features] = [{data.y.numel()}, ...] (got "
                             f"{list(data.x.shape)})")
        if not bool(torch.isfinite(data.x).all()):
            raise ValueError(f"{name}: 'x' contains NaN or Inf values")
        if t > 0 and not torch.equal(data.y.view(-1).cpu(),
                                     first.y.view(-1).cpu()):
            raise ValueError(f"{name} has other nodes or labels than "
                             f"snapshot 0; the snapshots of one sequence "
                             f"share their nodes")
    return graphs


def stratified_split(y: Tensor, train_fraction: float = 0.5,
                     seed: int = 0) -> Tensor:
    r"""A seeded train mask that takes :obj:`train_fraction` of every class
    (rounded, at least one sample per class for training and, where a class
    has two or more, at least one left for testing).

    Args:
        y (torch.Tensor): Integer labels :math:`[N]`.
        train_fraction (float, optional): The share of every class used for
            training, in :math:`(0, 1)`. (default: :obj:`0.5`)
        seed (int, optional): The seed of the draw. (default: :obj:`0`)

    Returns:
        A boolean mask :math:`[N]`, :obj:`True` for training nodes.

    Example:
        >>> mask = stratified_split(torch.tensor([0, 0, 0, 0, 1, 1]), 0.5)
        >>> int(mask[:4].sum()), int(mask[4:].sum())
        (2, 1)
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"'train_fraction' must lie in (0, 1) "
                         f"(got {train_fraction})")
    y = y.view(-1).cpu()
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(y.numel(), dtype=torch.bool)
    for c in torch.unique(y).tolist():
        index = (y == c).nonzero().view(-1)
        index = index[torch.randperm(index.numel(), generator=g)]
        num = int(round(train_fraction * index.numel()))
        num = min(max(num, 1), max(index.numel() - 1, 1))
        mask[index[:num]] = True
    return mask


def project_features(x: Tensor, num_features: int = 64,
                     seed: int = 0) -> Tensor:
    r"""Node features for a GNN from a layer's flattened activations: a
    fixed Gaussian random projection to :obj:`num_features` dimensions
    (only if there are more), then every column standardised.

    .. math::
        \mathbf{Z} = \mathbf{X} \mathbf{R}, \quad
        R_{ij} \sim \mathcal{N}(0, 1 / F),

    which keeps inner products, and with them the cosine geometry of the
    k-NN graph, up to a relative error of about :math:`1 / \sqrt{F}`
    (Johnson-Lindenstrauss).

    Args:
        x (torch.Tensor): Features :math:`[N, D]`.
        num_features (int, optional): The size :math:`F` to project to.
            (default: :obj:`64`)
        seed (int, optional): The seed of :math:`\mathbf{R}`.
            (default: :obj:`0`)

    Returns:
        A float32 tensor :math:`[N, \min(D, F)]`.

    Example:
        >>> z = project_features(torch.rand(10, 300), num_features=16)
        >>> z.shape, bool(z.mean(dim=0).abs().max() < 1e-5)
        (torch.Size([10, 16]), True)
    """
    if not isinstance(num_features, int) or num_features < 1:
        raise ValueError(f"'num_features' must be an int >= 1 "
                         f"(got {num_features!r})")
    x = x.reshape(x.size(0), -1).float()
    if x.size(1) > num_features:
        g = torch.Generator().manual_seed(seed)
        r = torch.randn(x.size(1), num_features, generator=g)
        x = x @ r.to(x.device) / math.sqrt(num_features)
    # A constant column (a dead unit) would divide by zero.
    std = x.std(dim=0, unbiased=False).clamp(min=1e-8)
    return (x - x.mean(dim=0)) / std


def _gcn_inputs(data: Data, num_features: int, seed: int,
                device: torch.device):
    x = project_features(data.x.to(device), num_features, seed)
    edge_index = data.edge_index.to(device)
    edge_weight = data.get('edge_weight')
    if edge_weight is not None:
        # GCN's D^-1/2 A D^-1/2 needs non-negative degrees.
        edge_weight = edge_weight.to(device).float().clamp(min=0)
    return x, edge_index, edge_weight


def _accuracy(logits: Tensor, y: Tensor, mask: Tensor) -> float:
    return float((logits[mask].argmax(dim=-1) == y[mask]).float().mean())


def gnn_on_snapshots(
    graphs: Sequence[Data],
    num_features: int = 64,
    hidden_channels: int = 64,
    train_fraction: float = 0.5,
    epochs: int = 200,
    lr: float = 0.01,
    weight_decay: float = 5e-4,
    dropout: float = 0.5,
    recurrent: bool = True,
    label_propagation: bool = True,
    seed: int = 0,
    device: Union[str, torch.device, None] = None,
) -> pd.DataFrame:
    r"""Node classification on every snapshot of a layer sequence, beside
    its modularity: how well a GNN reads the classes from a layer's k-NN
    graph, and from the whole depth sequence up to that layer.

    For every snapshot :math:`t` (a :class:`~torch_geometric.data.Data` with
    :obj:`x`, :obj:`y`, :obj:`edge_index` and optionally
    :obj:`edge_weight`, e.g. from :func:`~pyg_dnnmod.layer_graphs` with
    :obj:`keep_features=True`), the node features are
    :func:`project_features` of :obj:`x` (seeded by :obj:`seed + t`) and
    negative edge weights are clipped to zero. On one stratified split of
    the nodes (:func:`stratified_split`, the same for every snapshot):

    * :obj:`gcn_acc`: a two-layer :class:`~torch_geometric.nn.models.GCN`
      trained on that snapshot alone (full batch, Adam, :obj:`epochs`
      steps), its test accuracy at the end;
    * :obj:`label_prop_acc` (if :obj:`label_propagation`): the test
      accuracy of :class:`~torch_geometric.nn.models.LabelPropagation`
      (10 steps, :math:`\alpha = 0.9`) over the symmetrically normalised
      graph, which uses the graph alone, no features;
    * :obj:`gru_acc` (if :obj:`recurrent`): a recurrent graph model
      (:class:`~pyg_dnnmod.nn.GCNGRU`) trained on the snapshots
      :math:`0, \ldots, t` (the depth sequence up to that layer), its test
      accuracy after the last of them; above :obj:`gcn_acc`, the earlier
      layers add something that layer :math:`t` has lost.

    The rank correlation of each accuracy column with :obj:`modularity`
    over the snapshots (Spearman; NaN with fewer than two snapshots or a
    constant column) is in :obj:`df.attrs["spearman"]`.

    Args:
        graphs ([torch_geometric.data.Data]): The snapshots, sharing nodes
            and labels (a :class:`~pyg_dnnmod.snapshots.LayerGraphs`).
        num_features (int, optional): Features per node after the random
            projection. (default: :obj:`64`)
        hidden_channels (int, optional): Hidden size of the GNNs.
            (default: :obj:`64`)
        train_fraction (float, optional): Share of every class used for
            training. (default: :obj:`0.5`)
        epochs (int, optional): Training steps of every GNN.
            (default: :obj:`200`)
        lr (float, optional): Adam's learning rate. (default: :obj:`0.01`)
        weight_decay (float, optional): Adam's weight decay.
            (default: :obj:`5e-4`)
        dropout (float, optional): Dropout of the GNNs. (default: :obj:`0.5`)
        recurrent (bool, optional): Also train the recurrent model.
            (default: :obj:`True`)
        label_propagation (bool, optional): Also run label propagation.
            (default: :obj:`True`)
        seed (int, optional): Seeds the split, the projections and the
            initialisation; the result is deterministic on the CPU.
            (default: :obj:`0`)
        device (str or torch.device, optional): Where to train.
            (default: :obj:`None`, the CPU)

    Returns:
        :class:`pandas.DataFrame`: one row per snapshot with
        :obj:`layer_index`, :obj:`layer`, :obj:`modularity`, :obj:`gcn_acc`,
        :obj:`label_prop_acc` and :obj:`gru_acc` (the last two if asked for);
        :obj:`attrs` holds :obj:`spearman` (dict column -> rho),
        :obj:`num_train` and :obj:`num_test`.

    Example:
        >>> from pyg_dnnmod.snapshots import LayerGraphs
        >>> g = torch.Generator().manual_seed(0)
        >>> y = torch.arange(60) % 3
        >>> centers = torch.randn(3, 8, generator=g)
        >>> noise = torch.randn(60, 8, generator=g)
        >>> graphs = LayerGraphs.from_features(
        ...     [('noise', noise), ('classes', 3 * centers[y] + noise)], y,
        ...     k=3, keep_features=True)
        >>> df = gnn_on_snapshots(graphs, epochs=20)
        >>> list(df.columns)
        ['layer_index', 'layer', 'modularity', 'gcn_acc', 'label_prop_acc', 'gru_acc']
        >>> rho = df.attrs['spearman']['gcn_acc']  # over the 2 snapshots
        >>> bool(df.gcn_acc[1] > df.gcn_acc[0]), round(rho, 6)
        (True, 1.0)
    """
    graphs = _check_snapshots(graphs)
    for name, value in (('hidden_channels', hidden_channels),
                        ('epochs', epochs)):
        if not isinstance(value, int) or isinstance(value, bool) \
                or value < 1:
            raise ValueError(f"'{name}' must be an int >= 1 (got {value!r})")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"'dropout' must lie in [0, 1) (got {dropout})")
    device = torch.device(device) if device is not None else \
        torch.device('cpu')

    y = graphs[0].y.view(-1).long().to(device)
    num_classes = int(y.max()) + 1
    train_mask = stratified_split(y, train_fraction, seed).to(device)
    test_mask = ~train_mask
    if not bool(test_mask.any()):
        raise ValueError(f"'train_fraction'={train_fraction} leaves no node "
                         f"for testing ({y.numel()} nodes)")
    inputs = [_gcn_inputs(data, num_features, seed + t, device)
              for t, data in enumerate(graphs)]

    rows: List[Dict] = []
    for t, (data, (x, edge_index, edge_weight)) in enumerate(
            zip(graphs, inputs)):
        q = modularity(data.edge_index, data.y.view(-1),
                       data.get('edge_weight'), num_nodes=y.numel())
        row = dict(layer_index=int(data.get('t', t)),
                   layer=str(data.get('layer', t)), modularity=q)
        with torch.random.fork_rng(devices=[] if device.type == 'cpu' else
                                   [device]):
            torch.manual_seed(seed + t)
            model = GCN(x.size(1), hidden_channels, num_layers=2,
                        out_channels=num_classes, dropout=dropout).to(device)
            _fit(model, lambda m: m(x, edge_index, edge_weight),
                 y, train_mask, epochs, lr, weight_decay)
        model.eval()
        with torch.no_grad():
            row['gcn_acc'] = _accuracy(model(x, edge_index, edge_weight), y,
                                       test_mask)
        if label_propagation:
            norm_index, norm_weight = gcn_norm(
                edge_index, edge_weight, num_nodes=y.numel(),
                add_self_loops=False)
            out = LabelPropagation(num_layers=10, alpha=0.9)(
                y, norm_index, mask=train_mask, edge_weight=norm_weight)
            row['label_prop_acc'] = _accuracy(out, y, test_mask)
        rows.append(row)

    if recurrent:
        xs = [x for x, _, _ in inputs]
        edge_indices = [e for _, e, _ in inputs]
        edge_weights = [w for _, _, w in inputs]
        for t, row in enumerate(rows):
            # One model per prefix, trained on its last step only: a loss on
            # every step lets the GRU memorise the training nodes from the
            # first, uninformative snapshots and carry that forward instead
            # of reading the later ones.
            prefix = slice(0, t + 1)
            with torch.random.fork_rng(devices=[] if device.type == 'cpu'
                                       else [device]):
                torch.manual_seed(seed + t)
                model = GCNGRU([x.size(1) for x in xs[prefix]],
                               hidden_channels, num_classes,
                               dropout=dropout).to(device)
                _fit(model, lambda m: m(xs[prefix], edge_indices[prefix],
                                        edge_weights[prefix])[-1],
                     y, train_mask, epochs, lr, weight_decay)
            model.eval()
            with torch.no_grad():
                logits = model(xs[prefix], edge_indices[prefix],
                               edge_weights[prefix])[-1]
            row['gru_acc'] = _accuracy(logits, y, test_mask)

    df = pd.DataFrame(rows)
    df.attrs['spearman'] = {
        col: _spearman(df['modularity'], df[col])
        for col in ('gcn_acc', 'label_prop_acc', 'gru_acc') if col in df
    }
    df.attrs['num_train'] = int(train_mask.sum())
    df.attrs['num_test'] = int(test_mask.sum())
    return df


def _fit(model: torch.nn.Module, forward, y: Tensor, train_mask: Tensor,
         epochs: int, lr: float, weight_decay: float) -> None:
    r"""Full-batch training on the cross-entropy of the training nodes;
    :obj:`forward(model)` gives the logits :math:`[N, C]`."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr,
                                 weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = F.cross_entropy(forward(model)[train_mask], y[train_mask])
        loss.backward()
        optimizer.step()


def _spearman(a: pd.Series, b: pd.Series) -> float:
    if len(a) < 2 or a.nunique() < 2 or b.nunique() < 2:
        return float('nan')
    return float(a.rank().corr(b.rank()))
