"""Input normalisation that lives inside the model.

Every model of :mod:`pyg_dnnmod.models` takes inputs in pixel space
:math:`[0, 1]` and normalises them itself, as its first operation. Adversarial
attacks (FGSM, PGD, ...) then clip and perturb in pixel space, and a feature
extractor sees the same tensor the classifier sees. :class:`NormalizedModel`
gives an external model (e.g. a torchvision network) the same contract.
"""
from collections.abc import Sequence
from typing import Optional, Union

import torch
from torch import Tensor, nn

Stats = Optional[Union[float, Sequence[float], Tensor]]


def _as_stats(value: Stats, name: str) -> Optional[Tensor]:
    if value is None:
        return None
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"'{name}' must be a float, a sequence of floats or "
                        f"a tensor (got {value!r})")
    try:
        out = torch.as_tensor(value, dtype=torch.float).detach().clone()
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f"'{name}' must be a float, a sequence of floats or "
                        f"a tensor (got {value!r})") from e
    out = out.flatten()
    if out.numel() == 0:
        raise ValueError(f"'{name}' must not be empty (got {value!r})")
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"'{name}' must be finite (got {value!r})")
    return out


class Normalize(nn.Module):
    r"""Per-channel input normalisation as a module.

    .. math::
        \mathbf{y}_{b, c} = \frac{\mathbf{x}_{b, c} - \mu_c}{\sigma_c}

    With :obj:`mean=None` and :obj:`std=None` the module is the identity. A
    missing :obj:`mean` counts as :math:`0`, a missing :obj:`std` as
    :math:`1`; a scalar applies to every channel. The statistics are
    non-persistent buffers: they move with :meth:`~torch.nn.Module.to` but
    are not part of the :obj:`state_dict`, so checkpoints stay
    interchangeable between normalised and unnormalised models.

    Args:
        mean (float or [float] or torch.Tensor, optional): Per-channel mean.
            (default: :obj:`None`)
        std (float or [float] or torch.Tensor, optional): Per-channel
            standard deviation, every entry :math:`> 0`.
            (default: :obj:`None`)

    Example:
        >>> norm = Normalize(mean=[0.5, 0.0], std=[0.5, 2.0])
        >>> norm(torch.ones(1, 2, 1, 1)).flatten().tolist()
        [1.0, 0.5]
        >>> Normalize().is_identity
        True
    """
    mean: Optional[Tensor]
    std: Optional[Tensor]

    def __init__(self, mean: Stats = None, std: Stats = None) -> None:
        super().__init__()
        mean_t = _as_stats(mean, 'mean')
        std_t = _as_stats(std, 'std')
        if std_t is not None and bool((std_t <= 0).any()):
            raise ValueError(f"'std' must be > 0 everywhere (got {std!r})")
        if (mean_t is not None and std_t is not None
                and mean_t.numel() != std_t.numel() and mean_t.numel() != 1
                and std_t.numel() != 1):
            raise ValueError(f"'mean' and 'std' must have the same length "
                             f"(got {mean_t.numel()} and {std_t.numel()})")
        self.register_buffer(
            'mean', None if mean_t is None else mean_t.view(1, -1, 1, 1),
            persistent=False)
        self.register_buffer(
            'std', None if std_t is None else std_t.view(1, -1, 1, 1),
            persistent=False)

    @property
    def is_identity(self) -> bool:
        r"""Whether the module returns its input unchanged."""
        return self.mean is None and self.std is None

    @property
    def num_channels(self) -> Optional[int]:
        r"""The number of channels the statistics fix, or :obj:`None` when
        they are scalars or absent."""
        sizes = [t.size(1) for t in (self.mean, self.std)
                 if t is not None and t.size(1) > 1]
        return sizes[0] if sizes else None

    def forward(self, x: Tensor) -> Tensor:
        if self.is_identity:
            return x
        if x.dim() < 2:
            raise ValueError(f"Normalize expects inputs of shape [B, C, ...] "
                             f"(got shape {tuple(x.shape)})")
        channels = self.num_channels
        if channels is not None and x.size(1) != channels:
            shape = tuple(x.shape)
            raise ValueError(f"Normalize expects inputs with {channels} "
                             f"channels in dimension 1 (got shape {shape})")
        # Statistics broadcast over [B, C, H, W]; trim the trailing singleton
        # dimensions for inputs of lower rank such as [B, C].
        extra = x.dim() - 2
        if self.mean is not None:
            x = x - self.mean.view(1, -1, *([1] * extra)).to(x.dtype)
        if self.std is not None:
            x = x / self.std.view(1, -1, *([1] * extra)).to(x.dtype)
        return x

    def extra_repr(self) -> str:
        def fmt(t: Optional[Tensor]) -> str:
            if t is None:
                return 'None'
            return '[' + ', '.join(f'{v:.4g}' for v in t.flatten().tolist()) \
                + ']'

        return f'mean={fmt(self.mean)}, std={fmt(self.std)}'


class NormalizedModel(nn.Module):
    r"""Wraps any model so that it takes pixel-space inputs in :math:`[0, 1]`
    and normalises them first, like every model of
    :mod:`pyg_dnnmod.models` does.

    The wrapped model is the child :obj:`model`, so its sub-modules are named
    :obj:`model.<name>` (e.g. :obj:`model.layer1.0` for a torchvision
    ResNet).

    Args:
        model (torch.nn.Module): The model to wrap, e.g. a torchvision
            network trained on normalised inputs.
        mean (float or [float] or torch.Tensor, optional): Per-channel mean.
            (default: :obj:`None`)
        std (float or [float] or torch.Tensor, optional): Per-channel
            standard deviation. (default: :obj:`None`)

    Example:
        >>> net = NormalizedModel(nn.Flatten(), mean=[0.5], std=[0.25])
        >>> net(torch.ones(1, 1, 1, 2)).tolist()
        [[2.0, 2.0]]
    """
    def __init__(self, model: nn.Module, mean: Stats = None,
                 std: Stats = None) -> None:
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"'model' must be a torch.nn.Module "
                            f"(got {type(model).__name__})")
        self.normalize = Normalize(mean, std)
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(self.normalize(x))
