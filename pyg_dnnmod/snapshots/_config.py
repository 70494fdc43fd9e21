r"""How a snapshot is taken: one object, validated once.

:class:`SnapshotConfig` is the twin of
:class:`~pyg_dnnmod.training.TrainConfig`: every function that turns a
model's layers into k-NN snapshots (:func:`~pyg_dnnmod.layer_graphs`, the
experiments, the commands) takes one, so the parameters, their checks, the
"k < N" rule and the sample draw live here only.
"""
import dataclasses
import math
import os
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from pyg_dnnmod.names import METRICS
from pyg_dnnmod.utils.sampling import check_labels, sample_indices

# METRICS, the similarity metrics of pyg_dnnmod.utils.knn_graph, comes from
# pyg_dnnmod.names.
#: The symmetrisations of :func:`~pyg_dnnmod.utils.knn_graph`.
SYMMETRIZE = ('half', 'max', 'sum', 'none')


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"'{name}' must be an integer (got {value!r})")
    if value < low:
        raise ValueError(f"'{name}' must be >= {low} (got {value})")


@dataclasses.dataclass(frozen=True)
class SnapshotConfig:
    r"""How the k-NN snapshot of a layer is taken (Lu et al., ECCV 2022):
    :math:`N` samples are drawn from the labelled inputs, every selected
    layer's features over them become the k-NN graph of their
    :obj:`metric` similarity, symmetrised, and the modularity of the class
    partition is read with resolution :math:`\gamma`.

    The fields are checked when the object is made; :meth:`validate` adds
    the one rule that needs the data, :math:`k < N`, and :meth:`draw`
    is the one sample draw. Make variants with :meth:`replace`.

    Args:
        k (int, optional): Neighbours per sample. (default: :obj:`3`)
        metric (str, optional): :obj:`"cosine"`, :obj:`"pearson"`,
            :obj:`"euclidean"` or :obj:`"dot"`. (default: :obj:`"cosine"`)
        symmetrize (str, optional): :obj:`"half"` (the paper's
            :math:`(A + A^\top) / 2`), :obj:`"max"`, :obj:`"sum"` or
            :obj:`"none"`. (default: :obj:`"half"`)
        num_samples (int, optional): :math:`N`, drawn with
            :func:`~pyg_dnnmod.utils.sample_indices`; :obj:`None` takes
            every sample. (default: :obj:`None`)
        balanced (bool, optional): Draw equally many samples per class.
            (default: :obj:`True`)
        seed (int, optional): The seed of the draw; repeat :math:`r` uses
            :obj:`seed + r`. (default: :obj:`0`)
        layers (optional): The layers to read, see
            :func:`~pyg_dnnmod.features.select_layers`.
            (default: :obj:`None`, the automatic choice)
        post_activation (bool, optional): Read after each layer's
            activation. (default: :obj:`False`)
        batch_size (int, optional): Samples per forward pass.
            (default: :obj:`256`)
        resolution (float, optional): The modularity resolution
            :math:`\gamma`. (default: :obj:`1.0`)
        knn_kwargs (dict, optional): Further arguments of
            :func:`~pyg_dnnmod.utils.knn_graph` (e.g.
            :obj:`{'precision': 'bf16'}`). (default: :obj:`None`)
        progress (bool, optional): Show progress bars.
            (default: :obj:`False`)

    Example:
        >>> config = SnapshotConfig(k=5, num_samples=100)
        >>> config.replace(k=10).k
        10
        >>> config.validate(num_available=1000)
        100
        >>> SnapshotConfig(k=5).validate(num_available=5)
        Traceback (most recent call last):
        ...
        ValueError: 'k' must be smaller than the number of samples (got k=5 for N=5)
        >>> SnapshotConfig(metric='l2')
        Traceback (most recent call last):
        ...
        ValueError: 'metric' must be one of ('cosine', 'pearson', 'euclidean', 'dot') (got 'l2')
    """
    k: int = 3
    metric: str = 'cosine'
    symmetrize: str = 'half'
    num_samples: Optional[int] = None
    balanced: bool = True
    seed: int = 0
    layers: Any = None
    post_activation: bool = False
    batch_size: int = 256
    resolution: float = 1.0
    knn_kwargs: Optional[Mapping[str, Any]] = None
    progress: bool = False

    def __post_init__(self) -> None:
        _check_int('k', self.k, 1)
        if self.metric not in METRICS:
            raise ValueError(f"'metric' must be one of {METRICS} "
                             f"(got {self.metric!r})")
        if self.symmetrize not in SYMMETRIZE:
            raise ValueError(f"'symmetrize' must be one of {SYMMETRIZE} "
                             f"(got {self.symmetrize!r})")
        if self.num_samples is not None:
            _check_int('num_samples', self.num_samples, 1)
        _check_int('seed', self.seed, 0)
        _check_int('batch_size', self.batch_size, 1)
        for name in ('balanced', 'post_activation', 'progress'):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"'{name}' must be a bool "
                                f"(got {getattr(self, name)!r})")
        if isinstance(self.resolution, bool) or not isinstance(
                self.resolution, (int, float)) or \
                not math.isfinite(self.resolution):
            raise ValueError(f"'resolution' must be a finite number "
                             f"(got {self.resolution!r})")
        if self.knn_kwargs is not None:
            if not isinstance(self.knn_kwargs, Mapping):
                raise TypeError(f"'knn_kwargs' must be a dict or None "
                                f"(got {type(self.knn_kwargs).__name__})")
            object.__setattr__(self, 'knn_kwargs', dict(self.knn_kwargs))

    @classmethod
    def resolve(cls, config: Optional['SnapshotConfig'] = None,
                **changes: Any) -> 'SnapshotConfig':
        r""":obj:`config` (or the defaults) with :obj:`changes` on top; a
        key that is not a field is a :class:`TypeError` naming it.

        Example:
            >>> SnapshotConfig.resolve(None, k=7).k
            7
        """
        if config is not None and not isinstance(config, cls):
            raise TypeError(f"'config' must be a SnapshotConfig or None "
                            f"(got {type(config).__name__})")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"unknown snapshot parameter(s) {unknown}; a "
                            f"SnapshotConfig has {sorted(names)}")
        base = config if config is not None else cls()
        return dataclasses.replace(base, **changes) if changes else base

    def replace(self, **changes: Any) -> 'SnapshotConfig':
        r"""A copy with :obj:`changes` (checked like a new object)."""
        return self.resolve(self, **changes)

    def validate(self, num_available: int) -> int:
        r"""Checks the configuration against :obj:`num_available` samples
        and returns :math:`N`: :obj:`num_samples` must not exceed them, and
        :math:`k < N` (the one place of this rule)."""
        n = num_available if self.num_samples is None else self.num_samples
        if n > num_available:
            raise ValueError(f"'num_samples' ({n}) exceeds the number of "
                             f"available samples ({num_available})")
        if self.k >= n:
            raise ValueError(f"'k' must be smaller than the number of "
                             f"samples (got k={self.k} for N={n})")
        return n

    def draw(self, labels: Any, repeat: int = 0) -> Tensor:
        r"""The indices of the :math:`N` samples of repeat :obj:`repeat`
        (seed :obj:`seed + repeat`, see
        :func:`~pyg_dnnmod.utils.sample_indices`), all samples in order
        when :obj:`num_samples` is :obj:`None`; checks the labels and
        :meth:`validate` first, so errors come before any forward pass.

        Example:
            >>> SnapshotConfig(k=1, num_samples=2).draw([0, 0, 1, 1])
            tensor([0, 3])
        """
        labels = check_labels(labels).cpu()
        self.validate(labels.numel())
        if self.num_samples is None:
            return torch.arange(labels.numel())
        return sample_indices(labels, self.num_samples,
                              balanced=self.balanced, seed=self.seed + repeat)

    def layer_features(self, model: nn.Module, inputs: Tensor,
                       device: Union[str, torch.device, None] = None,
                       max_bytes: Optional[int] = None, *,
                       spill: bool = True,
                       spill_dir: Union[str, os.PathLike, None] = None,
                       ) -> Iterator[Tuple[str, Tensor]]:
        r"""The features of the layers this configuration reads
        (:obj:`layers`, :obj:`post_activation`, :obj:`batch_size`) over
        :obj:`inputs`, one layer at a time, in one forward pass, see
        :func:`~pyg_dnnmod.features.iter_layer_features`; on a GPU
        :obj:`device` they stay there. :obj:`max_bytes` (:obj:`None`: the
        :func:`~pyg_dnnmod.features.memory_budget` of the device they are
        held on), :obj:`spill` and :obj:`spill_dir` are its memory budget
        and where the layers beyond it go; they do not change the features.

        Example:
            >>> from torch import nn
            >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
            >>> [(name, tuple(f.shape)) for name, f in
            ...  SnapshotConfig().layer_features(model, torch.ones(5, 3))]
            [('0', (5, 4))]
        """
        from pyg_dnnmod.features import iter_layer_features

        device = torch.device(device) if device is not None else None
        return iter_layer_features(
            model, inputs, self.layers, post_activation=self.post_activation,
            batch_size=self.batch_size, device=device, max_bytes=max_bytes,
            spill=spill, spill_dir=spill_dir,
            keep_on_device=device is not None and device.type != 'cpu')

    def knn_arguments(self) -> Dict[str, Any]:
        r"""The keyword arguments of :func:`~pyg_dnnmod.utils.knn_graph`.

        Example:
            >>> SnapshotConfig(k=4).knn_arguments()
            {'k': 4, 'metric': 'cosine', 'symmetrize': 'half'}
        """
        return dict(k=self.k, metric=self.metric, symmetrize=self.symmetrize,
                    **(self.knn_kwargs or {}))

    def to_dict(self) -> Dict[str, Any]:
        r"""The fields as plain values, for :obj:`run.json` and metadata.

        Example:
            >>> SnapshotConfig().to_dict()['k']
            3
        """
        out = dataclasses.asdict(self)
        layers = out['layers']
        if isinstance(layers, (tuple, set)):
            out['layers'] = list(layers)
        elif layers is not None and not isinstance(layers, (int, str, list)):
            out['layers'] = repr(layers)
        return out
