r"""Models by spec: a name of this package's registry, a torchvision or timm
architecture, or a factory function, always at random initialisation and
taking pixel-space inputs in :math:`[0, 1]` (nothing is downloaded).

The spec forms (:func:`model_kind`):

* :obj:`"vgg16"`: a name of :func:`~pyg_dnnmod.models.list_models`, built
  for the data's channels, image size, classes and normalisation;
* :obj:`"torchvision:resnet18"`: torchvision's architecture with
  :obj:`weights=None`, the normalisation inside
  (:class:`~pyg_dnnmod.models.NormalizedModel`);
* :obj:`"timm:resnet10t"`: :func:`timm.create_model` with
  :obj:`pretrained=False`, :obj:`num_classes` and :obj:`in_chans`, the
  normalisation inside;
* :obj:`"package.module:factory"`: an importable function called with no
  arguments that returns the model, called as it is.

Errors name the argument (:obj:`'spec'`, or :obj:`spec=vgg16` followed by
the problem), so that the command line can name its options instead.
"""
import copy
import difflib
import importlib
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from pyg_dnnmod.datasets.registry import DataSource
from pyg_dnnmod.models.normalize import NormalizedModel
from pyg_dnnmod.models.registry import get_model
from pyg_dnnmod.typing import WITH_TIMM, WITH_TORCHVISION

__all__ = ['SPEC_KINDS', 'model_kind', 'build_model', 'reinitialize',
           'check_model_input']

#: What :func:`model_kind` returns, one per spec form.
SPEC_KINDS = ('name', 'torchvision', 'timm', 'factory')
_FORMS = ("a registered name, 'torchvision:<name>', 'timm:<name>' or "
          "'package.module:factory'")

Stats = Optional[Sequence[float]]


def model_kind(spec: str) -> str:
    r"""The form of a model spec, one of :data:`SPEC_KINDS`.

    Example:
        >>> model_kind('vgg16'), model_kind('torchvision:resnet18')
        ('name', 'torchvision')
        >>> model_kind('timm:resnet10t'), model_kind('my_pkg.nets:build')
        ('timm', 'factory')
    """
    if not isinstance(spec, str):
        raise TypeError(f"'spec' must be a str (got {type(spec).__name__})")
    prefix, colon, _ = spec.strip().partition(':')
    if not colon:
        return 'name'
    return prefix if prefix in ('torchvision', 'timm') else 'factory'


def build_model(
    spec: str,
    num_classes: Optional[int] = None,
    *,
    data: Optional[DataSource] = None,
    input_shape: Optional[Sequence[int]] = None,
    mean: Stats = None,
    std: Stats = None,
    seed: int = 0,
) -> nn.Module:
    r"""A freshly initialised model of :obj:`spec` (see the module's forms),
    its random draw seeded by :obj:`seed` (the global random state is left
    as it was), taking inputs in :math:`[0, 1]` with the normalisation
    inside. A factory is called as it is.

    Args:
        spec (str): The model: :obj:`"vgg16"`, :obj:`"torchvision:<name>"`,
            :obj:`"timm:<name>"` or :obj:`"package.module:factory"`.
        num_classes (int, optional): The number of outputs.
            (default: the data's, else :obj:`10`)
        data (DataSource, optional): The data the model reads (see
            :func:`~pyg_dnnmod.datasets.load_dataset`): its classes, input
            shape and normalisation are the defaults of the other
            arguments. (default: :obj:`None`)
        input_shape (tuple, optional): :obj:`(channels, height, width)` of
            one input. (default: the data's, else the model's own)
        mean (tuple, optional): The per-channel mean to normalise with.
            (default: the data's)
        std (tuple, optional): The per-channel standard deviation.
            (default: the data's)
        seed (int, optional): The seed of the random initialisation.
            (default: :obj:`0`)

    Example:
        >>> build_model('digits_cnn').fc.out_features
        10
        >>> build_model('vgg11', num_classes=100).classifier[-1].out_features
        100
        >>> build_model('vgg99')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 'spec': Unknown model 'vgg99'. Did you mean ...
    """
    kind = model_kind(spec)
    spec = spec.strip()
    if data is not None and not isinstance(data, DataSource):
        raise TypeError(f"'data' must be a DataSource (see "
                        f"pyg_dnnmod.datasets.load_dataset) (got "
                        f"{type(data).__name__})")
    if num_classes is None:
        num_classes = data.num_classes if data is not None else 10
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"'num_classes' must be an integer (got "
                        f"{type(num_classes).__name__})")
    if num_classes < 1:
        raise ValueError(f"'num_classes' must be >= 1 (got {num_classes})")
    if data is not None:
        input_shape = input_shape or data.input_shape
        mean = data.mean if mean is None else mean
        std = data.std if std is None else std
    shape = None if input_shape is None else tuple(input_shape)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if kind == 'name':
            return _build_named(spec, num_classes, shape, mean, std, data)
        if kind == 'torchvision':
            return _build_torchvision(spec, num_classes, mean, std)
        if kind == 'timm':
            return _build_timm(spec, num_classes, shape, mean, std)
        return _build_factory(spec)


def _build_named(spec: str, num_classes: int,
                 shape: Optional[Tuple[int, ...]], mean: Stats, std: Stats,
                 data: Optional[DataSource]) -> nn.Module:
    kwargs: dict = dict(num_classes=num_classes, mean=mean, std=std)
    if shape is not None:
        kwargs['in_channels'] = shape[0]
    try:
        if shape is not None and len(shape) == 3 and shape[1] != 32:
            try:
                return get_model(spec, input_size=shape[1], **kwargs)
            except TypeError as e:
                if 'input_size' not in str(e):
                    raise
        return get_model(spec, **kwargs)
    except ValueError as e:
        if str(e).startswith(('Unknown model', 'The width after')):
            raise ValueError(f"'spec': {e}; or use 'torchvision:<name>', "
                             f"'timm:<name>' or 'package.module:factory'"
                             ) from e
        inputs = (f'the {data.title} inputs' if data is not None else
                  'inputs of shape')
        raise ValueError(f"spec={spec}: {e}; choose a model made for "
                         f"{inputs} {list(shape or ())}") from e


def _unknown(spec: str, name: str, library: str,
             available: Sequence[str]) -> ValueError:
    close = difflib.get_close_matches(name, available, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ''
    return ValueError(f"spec={spec}: {library} has no model '{name}'.{hint} "
                      f"Its models: {', '.join(sorted(available)[:40])}, ...")


def _build_torchvision(spec: str, num_classes: int, mean: Stats,
                       std: Stats) -> nn.Module:
    if not WITH_TORCHVISION:
        raise ImportError(f"spec={spec} needs a working torchvision; install "
                          f"the 'vision' extra (pip install "
                          f"'pyg_dnnmod[vision]')")
    import torchvision

    name = spec.split(':', 1)[1]
    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        raise _unknown(spec, name, 'torchvision', available)
    try:
        net = torchvision.models.get_model(name, weights=None,
                                           num_classes=num_classes)
    except (TypeError, ValueError) as e:
        raise ValueError(f"spec={spec}: {e}") from e
    return NormalizedModel(net, mean, std)


def _build_timm(spec: str, num_classes: int,
                shape: Optional[Tuple[int, ...]], mean: Stats,
                std: Stats) -> nn.Module:
    try:
        if not WITH_TIMM:
            raise ImportError('timm is not installed')
        import timm
    except Exception as e:  # noqa: BLE001 - a broken torchvision too
        raise ImportError(f"spec={spec} needs a working timm ({e}); pip "
                          f"install timm") from e

    name = spec.split(':', 1)[1]
    if not timm.is_model(name):
        raise _unknown(spec, name, 'timm', timm.list_models())
    try:
        net = timm.create_model(name, pretrained=False,
                                num_classes=num_classes,
                                in_chans=shape[0] if shape else 3)
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"spec={spec}: {e}") from e
    return NormalizedModel(net, mean, std)


def _build_factory(spec: str) -> nn.Module:
    module_name, _, attr = spec.partition(':')
    if not module_name or not attr:
        raise ValueError(f"'spec' must be {_FORMS} (got {spec!r})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"spec={spec}: cannot import '{module_name}' ({e}); "
                         f"put it on PYTHONPATH or run from the folder that "
                         f"holds it") from e
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"spec={spec}: '{module_name}' has no callable "
                         f"'{attr}'; name a function that returns the model")
    model = factory()
    if not isinstance(model, nn.Module):
        raise TypeError(f"spec={spec}: '{attr}()' returned a "
                        f"{type(model).__name__}, not a torch.nn.Module")
    return model


def reinitialize(model: nn.Module, seed: int = 0) -> nn.Module:
    r"""A copy of :obj:`model` with every module that has
    :meth:`reset_parameters` reset, seeded by :obj:`seed`: the random init
    of a factory's model (custom initialisations of the factory are not
    repeated). The model itself is not changed.

    Example:
        >>> model = nn.Linear(3, 2)
        >>> again = reinitialize(model, seed=1)
        >>> torch.equal(again.weight, reinitialize(model, seed=1).weight)
        True
        >>> torch.equal(again.weight, model.weight)
        False
    """
    model = copy.deepcopy(model)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for module in model.modules():
            if hasattr(module, 'reset_parameters'):
                module.reset_parameters()
    return model


def check_model_input(model: nn.Module, data: Union[DataSource, Tensor],
                      spec: Optional[str] = None) -> None:
    r"""Runs two samples of :obj:`data` through :obj:`model` (in eval mode,
    without gradients, its mode restored), so that a model that cannot take
    the data fails here, with a :class:`ValueError` naming the data, and
    not deep inside an experiment.

    Args:
        model (torch.nn.Module): The model.
        data (DataSource or torch.Tensor): The data, or a batch of inputs.
        spec (str, optional): The model's spec, to name it in the error
            message. (default: :obj:`None`)

    Example:
        >>> check_model_input(nn.Linear(4, 2), torch.ones(2, 4))
        >>> check_model_input(nn.Linear(3, 2), torch.ones(2, 4))
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 'model' cannot take the inputs of shape [4] (...
    """
    if isinstance(data, DataSource):
        x = data.take(torch.arange(min(2, data.labels.numel())))
        what = f'the {data.title} inputs of shape {list(data.input_shape)}'
    elif isinstance(data, Tensor):
        x, what = data[:2], f'the inputs of shape {list(data.shape[1:])}'
    else:
        raise TypeError(f"'data' must be a DataSource or a torch.Tensor "
                        f"(got {type(data).__name__})")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    except Exception as e:  # noqa: BLE001 - any failure of a foreign model
        lines = str(e).splitlines()
        reason = ' '.join(lines[0].split()) if lines else ''
        subject = "'model'" if spec is None else f'spec={spec.strip()}'
        raise ValueError(f"{subject} cannot take {what} ({type(e).__name__}: "
                         f"{reason}); choose a model made for that input"
                         ) from e
    finally:
        model.train(was_training)
