r"""Trained networks that ship with the installation, by name: the models a
researcher can analyse on real data without training anything
(``pyg-dnnmod curve --dataset fashion-mnist --model
resnet20a-fashion-mnist``).

* :obj:`"resnet20a-fashion-mnist"`: the paper's CIFAR ResNet20 with
  option-A shortcuts and a one-channel stem
  (:func:`~pyg_dnnmod.models.resnet20a`), trained on Fashion-MNIST (92.68 %
  test accuracy), reproduced by ``pyg-dnnmod train --model resnet20a
  --dataset fashion-mnist --recipe fashion --threads 1 --seed 0``;
* :obj:`"vgg16-fashion-mnist"`: a plain VGG16 with batch normalisation at a
  quarter of the channels (:obj:`"vgg16@0.25"`), trained on Fashion-MNIST
  (91.30 %), reproduced by ``pyg-dnnmod train --model vgg16@0.25 --dataset
  fashion-mnist --recipe fashion --threads 1 --seed 0``;
* :obj:`"vit-fashion-mnist"`: a small vision transformer in timm's layout
  (:func:`~pyg_dnnmod.models.vit_tiny`: 8 blocks of width 64, 4 heads,
  patches of 7, 0.27 M parameters), trained on Fashion-MNIST (83.10 %),
  reproduced by ``pyg-dnnmod train --model vit_tiny --dataset
  fashion-mnist --recipe fashion-vit --threads 1 --seed 0`` (AdamW, 15
  epochs); the model of the block-removal comparison
  (``pyg-dnnmod redundancy``);
* :obj:`"lenet5-mnist-clean"` / :obj:`"lenet5-mnist-advtrained"`:
  AdverTorch's MNIST LeNet-5 (:class:`~pyg_dnnmod.models.MnistLeNet5`),
  trained on clean images and adversarially (PGD), read from the package
  ``advertorch``.

Every file's SHA-256 is checked before it is read (with
:obj:`weights_only=True`); a damaged file raises
:class:`~pyg_dnnmod.io.DamagedFileError` naming it. Every model takes
images as the data source yields them (pixels in :math:`[0, 1]`, shape
:obj:`[N, 1, 28, 28]`) and normalises them itself. The Fashion-MNIST
models are reproduced by the command in their :obj:`command` field (the
recipe :data:`~pyg_dnnmod.pretrained.FASHION_RECIPE` on one CPU thread, 10
epochs: 45 and 24 minutes on these CPUs;
:data:`~pyg_dnnmod.pretrained.VIT_FASHION_RECIPE`, 15 epochs: 25 minutes);
the weights are the last epoch's, :obj:`epoch_010.pt` (:obj:`epoch_015.pt`
for the ViT).
"""
import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from torch import nn

from pyg_dnnmod.datasets.registry import DataSource
from pyg_dnnmod.io import DamagedFileError, file_digest, load_tensors
from pyg_dnnmod.models import build_model

__all__ = ['PretrainedEntry', 'PRETRAINED', 'list_pretrained',
           'describe_pretrained', 'pretrained_entry', 'pretrained_path',
           'load_pretrained', 'architecture_of', 'pretrained_of_digest']

_WEIGHTS = Path(__file__).with_name('weights')
_FASHION = ((0.2860, ), (0.3530, ))


@dataclass(frozen=True)
class PretrainedEntry:
    r"""One shipped network: what it is, where its weights are, and how it
    was made.

    Args:
        name (str): The name :func:`load_pretrained` takes.
        architecture (str): The spec of
            :func:`~pyg_dnnmod.models.build_model` it is built from.
        datasets (tuple): The data sets (names of
            :func:`~pyg_dnnmod.datasets.list_datasets`) it reads, the one it
            was trained on (:attr:`dataset`) first.
        source (str): :obj:`"pyg_dnnmod"` (a file of this package) or
            :obj:`"advertorch"` (a file of the package ``advertorch``).
        file (str): The file name.
        sha256 (str): The SHA-256 of the file.
        test_acc (float): Its test accuracy as measured when it was made, on
            the test split of :obj:`test_data` (the tests measure it again).
        test_data (str): The data set :obj:`test_acc` is measured on.
        command (str): The command that reproduces it (empty for a foreign
            file).
        mean (tuple): The normalisation mean inside the model.
        std (tuple): The normalisation standard deviation.
        description (str): One line for tables.
    """
    name: str
    architecture: str
    datasets: Tuple[str, ...]
    source: str
    file: str
    sha256: str
    test_acc: float
    test_data: str
    command: str
    mean: Optional[Tuple[float, ...]]
    std: Optional[Tuple[float, ...]]
    description: str

    @property
    def dataset(self) -> str:
        r"""The data set it was trained on."""
        return self.datasets[0]


def _fashion(name: str, architecture: str, sha256: str, test_acc: float,
             description: str, recipe: str = 'fashion') -> PretrainedEntry:
    command = (f"pyg-dnnmod train --model {architecture} --dataset "
               f"fashion-mnist --recipe {recipe} --threads 1 --seed 0")
    return PretrainedEntry(name, architecture, ('fashion-mnist', ),
                           'pyg_dnnmod', f'{name}.pt',
                           sha256, test_acc, 'fashion-mnist', command,
                           *_FASHION, description)


def _advertorch(kind: str, sha256: str, test_acc: float,
                description: str) -> PretrainedEntry:
    file = f"mnist_lenet5_{'clntrained' if kind == 'clean' else kind}.pt"
    return PretrainedEntry(f'lenet5-mnist-{kind}', 'mnist_lenet5',
                           ('mnist', 'mnist-5k'), 'advertorch', file, sha256,
                           test_acc, 'mnist-5k', '', None, None, description)


#: The shipped networks by name.
PRETRAINED: Dict[str, PretrainedEntry] = {e.name: e for e in (
    _fashion('resnet20a-fashion-mnist', 'resnet20a',
             '3649fe6551f32c8a807166044b310060'
             '8295ab796f0701fb911b5864c5651731', 0.9268,
             "the paper's CIFAR ResNet20 (option A), one-channel stem"),
    _fashion('vgg16-fashion-mnist', 'vgg16@0.25',
             '011333b2cf023af9eb7eeecf2c82b52e'
             '6972853dc8560cdfbb4c34d70afac92c', 0.913,
             'VGG16 with batch norm, a quarter of the channels'),
    _fashion('vit-fashion-mnist', 'vit_tiny',
             'ec638e9e5b7474d6970af58e43bf7d6f'
             'a833f1b0920e8061a9b8a211f0a58e53', 0.831,
             'a vision transformer of 8 blocks (width 64, patches of 7)',
             recipe='fashion-vit'),
    _advertorch('clean', '551a11267982991fb0c9f74e9094de19'
                'e54b51455eff9bd1c19c77a69d85156a', 0.9948,
                "AdverTorch's LeNet-5, trained on clean MNIST"),
    _advertorch('advtrained', 'b89abfcfe8b33235fe8f8e964188d82a'
                '97c56a12ffe25132eaba197e40ac7658', 0.992,
                "AdverTorch's LeNet-5, trained on PGD examples"),
)}


def list_pretrained() -> List[str]:
    r"""The names :func:`load_pretrained` takes.

    Example:
        >>> list_pretrained()  # doctest: +NORMALIZE_WHITESPACE
        ['resnet20a-fashion-mnist', 'vgg16-fashion-mnist',
         'vit-fashion-mnist', 'lenet5-mnist-clean',
         'lenet5-mnist-advtrained']
    """
    return list(PRETRAINED)


def pretrained_entry(name: str) -> PretrainedEntry:
    r"""The :class:`PretrainedEntry` of :obj:`name`.

    Example:
        >>> pretrained_entry('lenet5-mnist-clean').architecture
        'mnist_lenet5'
        >>> pretrained_entry('resnet20')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: 'name' must be one of resnet20a-fashion-mnist, ...
    """
    if not isinstance(name, str):
        raise TypeError(f"'name' must be a str (got {type(name).__name__})")
    key = name.strip().lower()
    if key not in PRETRAINED:
        raise ValueError(f"'name' must be one of {', '.join(PRETRAINED)} "
                         f"(got {name!r})")
    return PRETRAINED[key]


def architecture_of(spec: str) -> str:
    r"""The model spec to build for :obj:`spec`: the architecture of a
    shipped network, any other spec as it is.

    Example:
        >>> architecture_of('vgg16-fashion-mnist'), architecture_of('vgg16')
        ('vgg16@0.25', 'vgg16')
    """
    key = spec.strip().lower() if isinstance(spec, str) else spec
    return PRETRAINED[key].architecture if key in PRETRAINED else spec


def pretrained_of_digest(digest: str) -> Optional[PretrainedEntry]:
    r"""The shipped network whose file has the SHA-256 :obj:`digest` (see
    :func:`~pyg_dnnmod.io.file_digest`), or :obj:`None`: how a copy of a
    shipped file passed as a checkpoint is recognised, with the data it
    was trained on.

    Example:
        >>> entry = pretrained_of_digest(PRETRAINED['vgg16-fashion-mnist']
        ...                              .sha256)
        >>> entry.name, entry.dataset
        ('vgg16-fashion-mnist', 'fashion-mnist')
        >>> pretrained_of_digest('0' * 64) is None
        True
    """
    return next((e for e in PRETRAINED.values() if e.sha256 == digest), None)


def pretrained_path(name: str) -> Path:
    r"""Where the weights of :obj:`name` are.

    Raises:
        FileNotFoundError: If the file is not installed (the message says
            how to get it).

    Example:
        >>> pretrained_path('lenet5-mnist-clean').name
        'mnist_lenet5_clntrained.pt'
    """
    entry = pretrained_entry(name)
    if entry.source == 'advertorch':
        spec = importlib.util.find_spec('advertorch_examples')
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"name={entry.name} reads its weights from the package "
                f"advertorch: pip install advertorch (the 'attacks' extra of "
                f"pyg_dnnmod)")
        path = Path(list(spec.submodule_search_locations)[0]) / \
            'trained_models' / entry.file
    else:
        path = _WEIGHTS / entry.file
    if not path.is_file():
        raise FileNotFoundError(f"name={entry.name}: its weights '{path}' "
                                f"are not installed; reinstall "
                                f"{entry.source}")
    return path


def describe_pretrained() -> Any:
    r"""The shipped networks as a :class:`pandas.DataFrame`, one row each:
    name, architecture, data, test accuracy when made, source, parameters
    and the reproducing command.

    Example:
        >>> table = describe_pretrained()
        >>> table.loc['lenet5-mnist-clean', ['architecture', 'parameters']]
        ... # doctest: +NORMALIZE_WHITESPACE
        architecture    mnist_lenet5
        parameters            648226
        Name: lenet5-mnist-clean, dtype: object
    """
    import pandas as pd

    rows = []
    for entry in PRETRAINED.values():
        row = asdict(entry)
        model = build_model(entry.architecture, 10, input_shape=(1, 28, 28))
        row['parameters'] = sum(p.numel() for p in model.parameters())
        row['dataset'] = entry.dataset
        rows.append(row)
    columns = ['name', 'architecture', 'dataset', 'test_acc', 'test_data',
               'parameters', 'source', 'description', 'command']
    return pd.DataFrame(rows)[columns].set_index('name')


def load_pretrained(name: str,
                    data: Optional[DataSource] = None
                    ) -> Tuple[nn.Module, Dict[str, Any]]:
    r"""A shipped network with its weights, in eval mode, after its file's
    SHA-256 is checked; and what it is.

    Args:
        name (str): One of :func:`list_pretrained`.
        data (DataSource, optional): The data it will read; must be one of
            the entry's :obj:`datasets` (a :class:`ValueError` says which
            it takes). (default: :obj:`None`)

    Returns:
        (torch.nn.Module, dict): The model, and :obj:`name`,
        :obj:`architecture`, :obj:`dataset`, :obj:`path`, :obj:`sha256`,
        :obj:`test_acc` and :obj:`command`.

    Raises:
        DamagedFileError: If the file's SHA-256 is not the recorded one or
            it cannot be read safely.

    Example:
        >>> import torch
        >>> model, info = load_pretrained('lenet5-mnist-clean')
        >>> model(torch.zeros(1, 1, 28, 28)).shape, info['dataset']
        (torch.Size([1, 10]), 'mnist')
    """
    entry = pretrained_entry(name)
    if data is not None and data.name not in entry.datasets:
        raise ValueError(
            f"name={entry.name} was trained on {entry.dataset}; it reads "
            f"data={' or '.join(entry.datasets)} (got data={data.name}; "
            f"--dataset {entry.dataset} on the command line)")
    path = pretrained_path(entry.name)
    digest = file_digest(path)
    if digest != entry.sha256:
        raise DamagedFileError(
            f"pretrained weights '{path}' of {entry.name} are damaged: their "
            f"SHA-256 is {digest}, expected {entry.sha256}; reinstall "
            f"{entry.source}")
    state = load_tensors(path, what='pretrained weights')
    model = build_model(entry.architecture, 10, input_shape=(1, 28, 28),
                        mean=entry.mean, std=entry.std)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        raise DamagedFileError(f"pretrained weights '{path}' do not fit "
                               f"{entry.architecture} ({e})") from e
    info = dict(name=entry.name, architecture=entry.architecture,
                dataset=entry.dataset, path=str(path), sha256=digest,
                test_acc=entry.test_acc, test_data=entry.test_data,
                command=entry.command)
    return model.eval(), info
