r"""What defines a zoo (see :mod:`pyg_dnnmod.weights.zoo`): its networks
(:func:`zoo_model`), the hyperparameters they are drawn from
(:class:`ZooSpace`) and the settings that fix every network's training
(:func:`zoo_spec`, stored in :obj:`raw/zoo.json`).
"""
import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
from torch import nn

from pyg_dnnmod.names import ZOO_ARCHITECTURES, ZOO_DATA, ZOO_OPTIMIZERS
from pyg_dnnmod.weights._zoo_records import ZOO_FORMAT

# ZOO_ARCHITECTURES (what zoo_model builds), ZOO_OPTIMIZERS and ZOO_DATA
# come from pyg_dnnmod.names (the command line offers them without torch).

#: The shape of one input sample (digits on a 16x16 canvas).
ZOO_INPUT_SHAPE = (1, 16, 16)

# ZOO_DATA, the data a zoo trains on (from pyg_dnnmod.names):
# :obj:`'translated-digits'` (the package default, see
# :func:`~pyg_dnnmod.pretrained.digits_data`), :obj:`'centred-digits'` (the
# same digits centred on the 16x16 canvas, same split, same
# normalisation) and :obj:`'fashion-mnist'` (the real Fashion-MNIST, read
# from its local IDX files by
# :func:`~pyg_dnnmod.datasets.images.load_fashion_mnist`, resized to
# 16x16, a fixed class-balanced subset: :data:`ZOO_FASHION_SUBSET`). A zoo
# trains on the centred digits by default: its small networks, without
# batch normalisation, barely learn the translated ones within the budget
# (median final accuracy 0.13 after 15 epochs and after 40).

#: The Fashion-MNIST subset of a zoo with :obj:`data='fashion-mnist'`, so
#: that a network trains in seconds: :obj:`train` images of the 60,000
#: training images and :obj:`test` of the 10,000 test images, each drawn
#: class-balanced (a tenth per class) with
#: :func:`~pyg_dnnmod.utils.sample_indices` and :obj:`seed`, then resized
#: from 28x28 to 16x16 by
#: :func:`~pyg_dnnmod.datasets.resize_images` (bilinear, antialiased).
#: :obj:`max_train_samples` cuts the training part further.
ZOO_FASHION_SUBSET = dict(train=2000, test=2000, seed=0)

#: The defaults of zoos written before they changed (issue 20): such a zoo
#: resumes only with these settings passed explicitly.
OLD_ZOO_DEFAULTS = dict(data='translated-digits', lr=(3e-3, 0.3))


def zoo_model(architecture: str, width: float = 1.0, dropout: float = 0.0,
              num_classes: int = 10,
              data: str = 'centred-digits') -> nn.Module:
    r"""Builds one network of the zoo for :math:`1 \times 16 \times 16`
    images, with the normalisation of :obj:`data` inside (the digits', or
    Fashion-MNIST's for :obj:`'fashion-mnist'`; it is no weight, so the
    weight graphs do not depend on it).

    :obj:`'lenet5'` is :class:`~pyg_dnnmod.models.LeNet5` (5x5 convolutions
    of 6 and 16 channels, FC 120 and 84, each times :obj:`width`);
    :obj:`'small_vgg'` is a three-block :class:`~pyg_dnnmod.models.VGG`
    without batch normalisation: 3x3 convolutions of 8, 16, 32 and 32
    channels (blocks of 1, 1 and 2) and two hidden FC layers of 64, each
    times :obj:`width`.

    Args:
        architecture (str): :obj:`'lenet5'` or :obj:`'small_vgg'`.
        width (float, optional): The width multiplier. (default: :obj:`1.0`)
        dropout (float, optional): The dropout probability of the hidden FC
            layers. (default: :obj:`0.0`)
        num_classes (int, optional): The number of classes.
            (default: :obj:`10`)
        data (str, optional): The data it trains on, one of
            :data:`ZOO_DATA`. (default: :obj:`'centred-digits'`)

    Returns:
        torch.nn.Module: The network, initialised from the current global
        random state.

    Example:
        >>> import torch
        >>> model = zoo_model('small_vgg', width=0.5)
        >>> model(torch.zeros(2, 1, 16, 16)).shape
        torch.Size([2, 10])
        >>> zoo_model('resnet')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 'architecture' must be one of (...) (got 'resnet')
    """
    from pyg_dnnmod.datasets.images import (
        FASHION_MNIST_MEAN,
        FASHION_MNIST_STD,
        TRANSLATED_DIGITS_MEAN,
        TRANSLATED_DIGITS_STD,
    )
    from pyg_dnnmod.models import VGG, LeNet5
    if data not in ZOO_DATA:
        raise ValueError(f"'data' must be one of {ZOO_DATA} (got {data!r})")
    norm = dict(mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD) \
        if data == 'fashion-mnist' else \
        dict(mean=TRANSLATED_DIGITS_MEAN, std=TRANSLATED_DIGITS_STD)
    if architecture == 'lenet5':
        return LeNet5(num_classes, width, in_channels=1, input_size=16,
                      dropout=dropout, **norm)
    if architecture == 'small_vgg':
        return VGG((1, 1, 2), num_classes, channels=(8, 16, 32), width=width,
                   in_channels=1, input_size=16, batch_norm=False,
                   dropout=dropout, hidden_channels=64, **norm)
    raise ValueError(f"'architecture' must be one of {ZOO_ARCHITECTURES} "
                     f"(got {architecture!r})")


def _check_range(name: str, value: Any, positive: bool) -> Tuple[float, ...]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"'{name}' must be a (low, high) pair of numbers "
                        f"(got {value!r})") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low > high or \
            (positive and low <= 0) or low < 0:
        bound = '0 < low' if positive else '0 <= low'
        raise ValueError(f"'{name}' must satisfy {bound} <= high "
                         f"(got {value!r})")
    return low, high


def _check_choices(name: str, value: Any,
                   allowed: Optional[Sequence[Any]] = None) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, '__iter__'):
        raise TypeError(f"'{name}' must be a sequence (got {value!r})")
    value = tuple(value)
    if not value:
        raise ValueError(f"'{name}' must not be empty (got {value!r})")
    for v in value:
        if allowed is not None and v not in allowed:
            raise ValueError(f"'{name}' holds {v!r}; choose from "
                             f"{tuple(allowed)}")
    return value


@dataclass
class ZooSpace:
    r"""The hyperparameters a zoo draws from, one independent draw per
    network (see :meth:`sample`).

    Args:
        architectures (Tuple[str, ...], optional): Drawn uniformly; see
            :func:`zoo_model`. (default: :obj:`('lenet5', 'small_vgg')`)
        widths (Tuple[float, ...], optional): Width multipliers, drawn
            uniformly. (default: :obj:`(0.5, 0.75, 1.0, 1.5, 2.0)`)
        lr (Tuple[float, float], optional): The learning rate is
            log-uniform on this range. With momentum 0.9 the step is ten
            times larger: above about 0.1 most such networks diverge.
            (default: :obj:`(0.003, 0.1)`)
        dropout (Tuple[float, float], optional): Uniform.
            (default: :obj:`(0.0, 0.5)`)
        weight_decay (Tuple[float, float], optional): Log-uniform.
            (default: :obj:`(1e-5, 1e-2)`)
        optimizers (Tuple[str, ...], optional): Drawn uniformly from
            :obj:`ZOO_OPTIMIZERS`. (default: all three)
        batch_sizes (Tuple[int, ...], optional): Drawn uniformly.
            (default: :obj:`(32, )`)

    Example:
        >>> space = ZooSpace(architectures=['lenet5'])
        >>> space.sample(3) == space.sample(3)
        True
        >>> sorted(space.sample(3))  # doctest: +NORMALIZE_WHITESPACE
        ['architecture', 'batch_size', 'dropout', 'lr', 'optimizer', 'seed',
         'weight_decay', 'width']
    """
    architectures: Tuple[str, ...] = ZOO_ARCHITECTURES
    widths: Tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0)
    lr: Tuple[float, float] = (3e-3, 0.1)
    dropout: Tuple[float, float] = (0.0, 0.5)
    weight_decay: Tuple[float, float] = (1e-5, 1e-2)
    optimizers: Tuple[str, ...] = ZOO_OPTIMIZERS
    batch_sizes: Tuple[int, ...] = (32, )

    def __post_init__(self) -> None:
        self.architectures = _check_choices('architectures',
                                            self.architectures,
                                            ZOO_ARCHITECTURES)
        self.optimizers = _check_choices('optimizers', self.optimizers,
                                         ZOO_OPTIMIZERS)
        self.widths = _check_choices('widths', self.widths)
        for w in self.widths:
            if isinstance(w, bool) or not isinstance(w, (int, float)) or \
                    not math.isfinite(w) or w <= 0:
                raise ValueError(f"'widths' must hold numbers > 0 "
                                 f"(got {w!r})")
        self.widths = tuple(float(w) for w in self.widths)
        self.batch_sizes = _check_choices('batch_sizes', self.batch_sizes)
        for b in self.batch_sizes:
            if isinstance(b, bool) or not isinstance(b, int) or b < 1:
                raise ValueError(f"'batch_sizes' must hold integers >= 1 "
                                 f"(got {b!r})")
        self.lr = _check_range('lr', self.lr, positive=True)
        self.weight_decay = _check_range('weight_decay', self.weight_decay,
                                         positive=True)
        self.dropout = _check_range('dropout', self.dropout, positive=False)
        if self.dropout[1] >= 1:
            raise ValueError(f"'dropout' must stay below 1 "
                             f"(got {self.dropout!r})")

    def to_dict(self) -> Dict[str, Any]:
        r"""The space as plain lists, as stored in :obj:`zoo.json`."""
        return {k: list(v) for k, v in asdict(self).items()}

    def sample(self, index: int, seed: int = 0) -> Dict[str, Any]:
        r"""The hyperparameters of network :obj:`index` of the zoo with
        :obj:`seed`: a function of the two alone, whatever else is drawn.

        Args:
            index (int): The network's index.
            seed (int, optional): The zoo's seed. (default: :obj:`0`)

        Returns:
            dict: :obj:`architecture`, :obj:`width`, :obj:`lr`,
            :obj:`dropout`, :obj:`weight_decay`, :obj:`optimizer`,
            :obj:`batch_size` and :obj:`seed` (of its initialisation and
            training).
        """
        rng = np.random.default_rng([int(seed), int(index)])

        def log_uniform(low: float, high: float) -> float:
            return float(math.exp(rng.uniform(math.log(low), math.log(high))))

        # A fixed order of draws keeps old networks unchanged when a choice
        # list is edited elsewhere.
        return dict(
            architecture=str(self.architectures[rng.integers(
                len(self.architectures))]),
            width=float(self.widths[rng.integers(len(self.widths))]),
            lr=log_uniform(*self.lr),
            dropout=float(rng.uniform(*self.dropout)),
            weight_decay=log_uniform(*self.weight_decay),
            optimizer=str(self.optimizers[rng.integers(
                len(self.optimizers))]),
            batch_size=int(self.batch_sizes[rng.integers(
                len(self.batch_sizes))]),
            seed=int(rng.integers(2**31 - 1)),
        )


def network_train_config(hparams: Dict[str, Any], spec: Dict[str, Any]):
    r"""The :class:`~pyg_dnnmod.training.TrainConfig` of the network with
    the drawn :obj:`hparams` in the zoo with settings :obj:`spec`: SGD with
    the drawn momentum variant, the learning rate times :obj:`gamma` after
    each milestone.

    Example:
        >>> spec = zoo_spec(epochs=3, snapshot_epochs=1)
        >>> hparams = dict(ZooSpace().sample(0), optimizer='nesterov')
        >>> config = network_train_config(hparams, spec)
        >>> config.epochs, config.momentum, config.nesterov
        (3, 0.9, True)
    """
    from pyg_dnnmod.training import TrainConfig
    optimizer = hparams['optimizer']
    return TrainConfig(
        epochs=spec['epochs'], batch_size=hparams['batch_size'],
        lr=hparams['lr'], momentum=0.0 if optimizer == 'sgd' else 0.9,
        nesterov=optimizer == 'nesterov',
        weight_decay=hparams['weight_decay'],
        milestones=tuple(spec['milestones']), gamma=spec['gamma'],
        seed=hparams['seed'])


def zoo_spec(epochs: int = 15, snapshot_epochs: int = 5,
             milestones: Optional[Sequence[int]] = None, gamma: float = 0.1,
             space: Optional[ZooSpace] = None, seed: int = 0,
             max_train_samples: Optional[int] = None,
             num_classes: int = 10,
             data: str = 'centred-digits',
             threads: int = 1) -> Dict[str, Any]:
    r"""The settings that define a zoo, validated, as stored in
    :obj:`raw/zoo.json`; see :func:`~pyg_dnnmod.weights.generate_zoo` for
    the arguments
    (:obj:`threads` is its :obj:`threads_per_worker`: the CPU threads each
    network trains on, which change its weights).

    Example:
        >>> spec = zoo_spec(epochs=9, snapshot_epochs=3)
        >>> spec['milestones']  # two thirds of the budget by default
        [6]
        >>> zoo_spec(epochs=3, snapshot_epochs=5)
        Traceback (most recent call last):
        ...
        ValueError: 'snapshot_epochs' must be <= 'epochs' (got 5 > 3)
    """
    for name, value, low in (('epochs', epochs, 1),
                             ('snapshot_epochs', snapshot_epochs, 0),
                             ('seed', seed, 0), ('threads', threads, 1)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"'{name}' must be an integer (got {value!r})")
        if value < low:
            raise ValueError(f"'{name}' must be >= {low} (got {value})")
    if data not in ZOO_DATA:
        raise ValueError(f"'data' must be one of {ZOO_DATA} (got {data!r})")
    if snapshot_epochs > epochs:
        raise ValueError(f"'snapshot_epochs' must be <= 'epochs' "
                         f"(got {snapshot_epochs} > {epochs})")
    if max_train_samples is not None and (
            isinstance(max_train_samples, bool)
            or not isinstance(max_train_samples, int)
            or max_train_samples < 1):
        raise ValueError(f"'max_train_samples' must be None or an integer "
                         f">= 1 (got {max_train_samples!r})")
    if milestones is None:
        milestones = [m for m in (round(2 * epochs / 3), ) if 0 < m < epochs]
    space = ZooSpace() if space is None else space
    if not isinstance(space, ZooSpace):
        raise TypeError(f"'space' must be a ZooSpace "
                        f"(got {type(space).__name__})")
    spec = dict(format=ZOO_FORMAT, epochs=epochs,
                snapshot_epochs=snapshot_epochs,
                milestones=[int(m) for m in milestones], gamma=float(gamma),
                seed=seed, data=data, max_train_samples=max_train_samples,
                num_classes=int(num_classes), space=space.to_dict(),
                threads=threads)
    # TrainConfig checks milestones and gamma.
    network_train_config(space.sample(0, seed), spec)
    return spec
