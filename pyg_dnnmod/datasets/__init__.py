r"""Data: offline sources of labelled images (scikit-learn's digits, CIFAR
pickles, an ImageNet50 folder, synthetic clusters), samplers, the same
sources by name (:func:`load_dataset`), and the on-disk dataset of a
model's layer snapshots."""
from pyg_dnnmod.datasets.sources import *  # noqa: F401,F403
from pyg_dnnmod.datasets.sources import __all__ as _sources_all
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

__all__ = list(_sources_all) + [
    'DataSource',
    'load_dataset',
    'list_datasets',
    'DEFAULT_DATASET',
    'TRANSLATED_DIGITS',
    'LayerGraphDataset',
    'cache_key',
]
