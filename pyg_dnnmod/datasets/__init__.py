r"""Data: offline sources of labelled images (scikit-learn's digits, CIFAR
pickles, an ImageNet50 folder, synthetic clusters), samplers, and the
on-disk dataset of a model's layer snapshots."""
from pyg_dnnmod.datasets.sources import *  # noqa: F401,F403
from pyg_dnnmod.datasets.sources import __all__ as _sources_all
from pyg_dnnmod.datasets.layer_graph_dataset import (
    LayerGraphDataset,
    cache_key,
)

__all__ = list(_sources_all) + ['LayerGraphDataset', 'cache_key']
