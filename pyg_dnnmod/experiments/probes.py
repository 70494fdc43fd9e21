r"""Per-layer linear-probe accuracy beside the modularity curve: the Python
twin of ``pyg-dnnmod probe``.

Lu et al. (ECCV 2022) set their modularity curve against the linear
classifier probes of Alain and Bengio (`"Understanding intermediate layers
using linear classifier probes" <https://arxiv.org/abs/1610.01644>`_): both
ask how separable the classes are at each depth, one without training
anything.
"""
import time
import warnings
from typing import Any, Optional, Union

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from pyg_dnnmod.experiments._draw import (
    check_model,
    drawn_features,
    labels_of,
    snapshot_config,
)
from pyg_dnnmod.snapshots import SnapshotConfig

#: The columns of :func:`linear_probes`, in order.
PROBE_COLUMNS = ('layer_index', 'layer', 'num_features', 'modularity',
                 'probe_train_acc', 'probe_test_acc', 'converged',
                 'spearman')


def _span_coordinates(a: Tensor, b: Tensor) -> tuple:
    r"""Coordinates of the training rows :obj:`a` :math:`[n, D]` and the
    test rows :obj:`b` in an orthonormal basis :math:`\mathbf{V}` of the
    span of the training rows: :math:`\mathbf{a}\mathbf{V}` and
    :math:`\mathbf{b}\mathbf{V}`, computed from :math:`n \times n`
    products only (:math:`\mathbf{a}\mathbf{a}^{\top} = \mathbf{U}
    \Lambda \mathbf{U}^{\top}`, :math:`\mathbf{V} = \mathbf{a}^{\top}
    \mathbf{U} \Lambda^{-1/2}`).

    An L2-penalised linear model's weights lie in that span (a component
    orthogonal to every training row changes no training prediction and
    only adds to the penalty), so fitting it on these coordinates is
    exactly the same problem with at most :math:`n` instead of :math:`D`
    features."""
    if a.size(1) <= a.size(0):
        return a.numpy(), b.numpy()
    eigval, eigvec = torch.linalg.eigh(a @ a.t())
    keep = eigval > eigval.max().clamp_min(0) * 1e-12
    eigval, eigvec = eigval[keep], eigvec[:, keep]
    root = eigval.sqrt()
    return (eigvec * root).numpy(), ((b @ a.t()) @ eigvec / root).numpy()


def probe_accuracy(
    features: Tensor,
    labels: Tensor,
    train_index: np.ndarray,
    test_index: np.ndarray,
    C: float = 1.0,
    max_iter: int = 1000,
    seed: int = 0,
) -> dict:
    r"""Fits one linear probe: features standardised on the training part
    (as scikit-learn's :class:`StandardScaler`), then scikit-learn's
    multinomial :class:`LogisticRegression` (L2 penalty :obj:`C`, lbfgs);
    returns its training and test accuracy and whether the solver converged
    within :obj:`max_iter` iterations.

    With more features :math:`D` than training samples :math:`n` the probe
    is fitted on the coordinates of the samples in the span of the training
    samples (the optimum of an L2-penalised linear model lies there), the
    same optimisation problem with :math:`n` features, which costs
    :math:`O(n^2 D)` instead of :math:`O(n D)` per solver iteration.

    With :math:`D \geq n - 1` the :math:`n` training samples (in general
    position) are linearly separable whatever their labels, so the train
    accuracy is (close to) 1 for any moderate :obj:`C`: it says nothing
    about the features; the test accuracy does.

    Example:
        >>> x = torch.tensor([[0.], [1.], [2.], [10.], [11.], [12.]])
        >>> y = torch.tensor([0, 0, 0, 1, 1, 1])
        >>> out = probe_accuracy(x, y, np.array([0, 2, 3, 5]),
        ...                      np.array([1, 4]))
        >>> out['train_acc'], out['test_acc'], out['converged']
        (1.0, 1.0, True)
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    x = features.reshape(features.size(0), -1).double().cpu()
    y = labels.cpu().numpy()
    train = torch.as_tensor(train_index, dtype=torch.long)
    test = torch.as_tensor(test_index, dtype=torch.long)
    # StandardScaler's transform (population std, 1 for constant features).
    mean = x[train].mean(dim=0)
    std = x[train].std(dim=0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    a, b = (x[train] - mean) / std, (x[test] - mean) / std
    x_train, x_test = _span_coordinates(a, b)
    probe = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    # The problem has at most n features; BLAS threads on such small
    # products cost more than they save (ten times more on a busy machine),
    # as scikit-learn's KMeans also finds.
    with warnings.catch_warnings(record=True) as caught, \
            threadpool_limits(limits=1, user_api='blas'):
        warnings.simplefilter('always', ConvergenceWarning)
        probe.fit(x_train, y[train_index])
    converged = not any(issubclass(w.category, ConvergenceWarning)
                        for w in caught)
    return dict(train_acc=float(probe.score(x_train, y[train_index])),
                test_acc=float(probe.score(x_test, y[test_index])),
                converged=converged)


def linear_probes(
    model: nn.Module,
    inputs: Union[Tensor, torch.utils.data.Dataset],
    labels: Optional[Tensor] = None,
    config: Optional[SnapshotConfig] = None,
    *,
    device: Union[str, torch.device, None] = None,
    test_fraction: float = 0.5,
    C: float = 1.0,
    max_iter: int = 1000,
    **kwargs: Any,
) -> pd.DataFrame:
    r"""The accuracy of a linear probe at every layer beside that layer's
    modularity, on the same features of the same :math:`N` samples, with
    their rank correlation.

    For every selected layer :math:`\ell` the features of the :math:`N`
    samples (drawn with :obj:`seed`, as for
    :func:`~pyg_dnnmod.layer_graphs`) give the modularity :math:`Q_\ell` of
    the k-NN snapshot over all :math:`N`, and a multinomial logistic
    regression (:func:`probe_accuracy`) trained on a stratified
    :math:`1 - \text{test\_fraction}` of them and scored on the rest. The
    :obj:`spearman` column holds Spearman's :math:`\rho` between
    :math:`Q_\ell` and the probe's test accuracy over the layers.

    **Train accuracy.** A layer of a convolutional network easily has more
    features than the probe has training samples (:math:`D = 8192` against
    :math:`n = 250` for the default model and :math:`N = 500`). With
    :math:`D \geq n - 1` any labels of the training samples are linearly
    separable, so :obj:`probe_train_acc` is 1 there by construction and
    only :obj:`probe_test_acc` compares the layers;
    :obj:`df.attrs["separable_layers"]` lists those layers and
    :func:`~pyg_dnnmod.plotting.plot_linear_probes` notes it under its
    axes. The L2 penalty is kept weak (:obj:`C = 1` on standardised
    features) on purpose: on the default model, a penalty strong enough to
    bring the train accuracy below 1 (:obj:`C = 1 / D`: train accuracy 0.60
    to 0.99) lowers the test accuracy at every layer (e.g. from 0.76 to
    0.57 at :obj:`features.7`): it would measure the penalty, not the
    features.

    Args:
        model (torch.nn.Module): The model.
        inputs (torch.Tensor or torch.utils.data.Dataset): Samples
            :math:`[M, ...]`, or a dataset of :obj:`(x, label)` pairs.
        labels (torch.Tensor, optional): Integer labels :math:`[M]`;
            required for a tensor. (default: :obj:`None`)
        config (SnapshotConfig, optional): How the snapshots are taken;
            its :obj:`seed` also seeds the split and the solver.
            (default: :obj:`None`, the defaults with :obj:`num_samples=500`)
        device (str or torch.device, optional): Where the forward pass and
            the graphs run. (default: :obj:`None`, the model's device)
        test_fraction (float, optional): The share of the :math:`N`
            samples that scores the probes. (default: :obj:`0.5`)
        C (float, optional): The inverse L2 strength of the probes.
            (default: :obj:`1.0`)
        max_iter (int, optional): The solver's iteration limit; the
            :obj:`converged` column says whether it sufficed.
            (default: :obj:`1000`)
        **kwargs (optional): Fields of :class:`SnapshotConfig` on top of
            :obj:`config` (:obj:`k`, :obj:`num_samples`, :obj:`seed`, ...).

    Returns:
        pandas.DataFrame: One row per layer: :obj:`layer_index`,
        :obj:`layer`, :obj:`num_features`, :obj:`modularity`,
        :obj:`probe_train_acc`, :obj:`probe_test_acc`, :obj:`converged` and
        :obj:`spearman` (the same in every row; NaN for fewer than two
        layers or a constant column). :obj:`df.attrs` holds
        :obj:`spearman`, :obj:`k`, :obj:`num_samples`, :obj:`num_train`,
        :obj:`num_test`, :obj:`separable_layers` (the layers with
        :math:`D \geq n - 1`), :obj:`metric`, :obj:`seed` and
        :obj:`seconds`.

    Example:
        >>> from torch import nn
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(),
        ...                       nn.Linear(16, 16))
        >>> x, y = torch.randn(80, 6), torch.arange(80) % 2
        >>> df = linear_probes(model, x, y, num_samples=40)
        >>> df[['layer', 'num_features']].values.tolist()
        [['0', 16], ['2', 16]]
        >>> df.attrs['num_train'], df.attrs['num_test']
        (20, 20)
        >>> df.attrs['separable_layers']  # 16 features >= 20 - 1? no
        []
    """
    from scipy.stats import spearmanr
    from sklearn.model_selection import train_test_split

    from pyg_dnnmod.utils import knn_graph, modularity

    check_model(model)
    labels = labels_of(inputs, labels)
    config = snapshot_config(config, kwargs, num_samples=500)
    seed = config.seed
    if isinstance(test_fraction, bool) or not isinstance(
            test_fraction, (int, float)) or not 0.0 < test_fraction < 1.0:
        raise ValueError(f"'test_fraction' must lie strictly between 0 and "
                         f"1 (got {test_fraction!r})")
    if isinstance(C, bool) or not isinstance(C, (int, float)) or not C > 0:
        raise ValueError(f"'C' must be a positive number (got {C!r})")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or \
            max_iter < 1:
        raise ValueError(f"'max_iter' must be an integer >= 1 "
                         f"(got {max_iter!r})")
    index = config.draw(labels)
    n = index.numel()
    y = labels[index]
    counts = torch.bincount(y)
    counts = counts[counts > 0]
    num_test = int(np.ceil(test_fraction * n))
    num_classes = counts.numel()
    if int(counts.min()) < 2 or num_test < num_classes or \
            n - num_test < num_classes:
        raise ValueError(f"a stratified split needs at least 2 samples per "
                         f"class and at least one per class on each side "
                         f"(got N={n} with {num_classes} classes, smallest "
                         f"class {int(counts.min())}, test_fraction="
                         f"{test_fraction}); use a larger 'num_samples'")
    start = time.perf_counter()
    train_index, test_index = train_test_split(
        np.arange(n), test_size=num_test, random_state=seed,
        stratify=y.numpy())
    features, _, _ = drawn_features(model, inputs, labels, config, device)
    rows = []
    for t, (name, f) in enumerate(features):
        edge_index, edge_weight = knn_graph(f, **config.knn_arguments())
        q = modularity(edge_index, y.to(f.device), edge_weight.float(),
                       num_nodes=n, resolution=config.resolution)
        probe = probe_accuracy(f, y, train_index, test_index, C=C,
                               max_iter=max_iter, seed=seed)
        rows.append(dict(layer_index=t, layer=name,
                         num_features=int(f[0].numel()), modularity=float(q),
                         probe_train_acc=probe['train_acc'],
                         probe_test_acc=probe['test_acc'],
                         converged=probe['converged']))
        del f
    df = pd.DataFrame(rows, columns=list(PROBE_COLUMNS))
    rho = float('nan')
    if len(df) >= 2 and df['modularity'].nunique() > 1 and \
            df['probe_test_acc'].nunique() > 1:
        rho = float(spearmanr(df['modularity'], df['probe_test_acc'])[0])
    df['spearman'] = rho
    if not df['converged'].all():
        bad = df.loc[~df['converged'], 'layer'].tolist()
        warnings.warn(f"the linear probe did not converge within "
                      f"max_iter={max_iter} iterations at layer(s) {bad}; "
                      f"raise 'max_iter'", stacklevel=2)
    separable = df.loc[df['num_features'] >= len(train_index) - 1,
                       'layer'].astype(str).tolist()
    df.attrs.update(spearman=rho, k=config.k, num_samples=n,
                    num_train=len(train_index), num_test=len(test_index),
                    separable_layers=separable,
                    metric=config.metric, seed=seed,
                    seconds=time.perf_counter() - start)
    return df
