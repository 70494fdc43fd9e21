r"""Data: offline sources of labelled images (scikit-learn's digits, CIFAR
pickles, an ImageNet50 folder, synthetic clusters) and samplers."""
from pyg_dnnmod.datasets.sources import *  # noqa: F401,F403
from pyg_dnnmod.datasets.sources import __all__ as _sources_all

__all__ = list(_sources_all)
