r"""Data: where a dataset is loaded by name (:func:`load_dataset`,
:mod:`~pyg_dnnmod.datasets.registry`), the offline sources of labelled
images behind it (:mod:`pyg_dnnmod.datasets.images`: scikit-learn's digits,
CIFAR pickles, an ImageNet50 folder, synthetic clusters), and the graph
dataset of a model's layer snapshots (:class:`LayerGraphDataset`; a zoo's
weight graphs are :class:`pyg_dnnmod.weights.WeightGraphDataset`)."""
from pyg_dnnmod.datasets.images import *  # noqa: F401,F403
from pyg_dnnmod.datasets.images import __all__ as _images_all
from pyg_dnnmod.datasets.registry import (
    DEFAULT_DATASET,
    TRANSLATED_DIGITS,
    DataSource,
    list_datasets,
    load_dataset,
)
from pyg_dnnmod.datasets.layer_graph_dataset import (
    LayerGraphDataset,
    cache_key,
)

__all__ = list(_images_all) + [
    'DataSource',
    'load_dataset',
    'list_datasets',
    'DEFAULT_DATASET',
    'TRANSLATED_DIGITS',
    'LayerGraphDataset',
    'cache_key',
]
