r"""The names the library's registries are keyed by, as plain constants.

A registry's entries need torch (a data loader, a model, a recipe's
:class:`~pyg_dnnmod.training.TrainConfig`, a selector class); its names do
not. They are defined here, and the registries take them from here, so that
the ``pyg-dnnmod`` command line offers them as choices and defaults without
importing torch or PyG (``pyg-dnnmod --help`` stays fast). This module
imports nothing; it is internal: users read the registries
(:func:`pyg_dnnmod.datasets.list_datasets`,
:data:`pyg_dnnmod.pretrained.TRAIN_RECIPES`, ...).

A registry that maps these names to heavy entries checks its keys against
them when it is built (:func:`check_registry`).

Example:
    >>> DATASET_NAMES[:2], DEFAULT_DATASET, DEFAULT_MODEL
    (('translated-digits', 'digits'), 'translated-digits', 'digits_cnn')
"""
from typing import Iterable, Tuple

__all__ = [
    'DATASET_TITLES',
    'DATASET_NAMES',
    'DEFAULT_DATASET',
    'DEFAULT_MODEL',
    'METRICS',
    'TRAIN_RECIPE_NAMES',
    'FINETUNE_RECIPE_NAMES',
    'SELECTOR_NAMES',
    'NODE_STATISTICS',
    'ZOO_ARCHITECTURES',
    'ZOO_OPTIMIZERS',
    'ZOO_DATA',
    'BENCHMARK_SPLITS',
    'BENCHMARK_BASELINES',
    'TOKEN_POOLINGS',
    'REDUNDANCY_SCORE_NAMES',
    'BASELINE_CHOICES',
    'check_registry',
]

# -- datasets (pyg_dnnmod.datasets.registry) ---------------------------------

#: The names :func:`~pyg_dnnmod.datasets.load_dataset` accepts, with their
#: titles, in the order :func:`~pyg_dnnmod.datasets.list_datasets` lists
#: them.
DATASET_TITLES = {
    'translated-digits': 'translated digits',
    'digits': 'digits',
    'cifar10': 'CIFAR-10',
    'cifar100': 'CIFAR-100',
    'imagenet50': 'ImageNet50',
    'fashion-mnist': 'Fashion-MNIST',
    'mnist': 'MNIST',
    'mnist-5k': 'MNIST (5k)',
    'synthetic': 'synthetic clusters',
    'folder': 'image folder',
}
#: The names of :data:`DATASET_TITLES`.
DATASET_NAMES: Tuple[str, ...] = tuple(DATASET_TITLES)
#: The default data: the translated digits of the embedded default model.
DEFAULT_DATASET = 'translated-digits'

# -- models (pyg_dnnmod.pretrained) ------------------------------------------

#: The embedded default model, trained once on :data:`DEFAULT_DATASET`
#: (the :obj:`model` of :data:`~pyg_dnnmod.pretrained.DIGITS_RECIPE`).
DEFAULT_MODEL = 'digits_cnn'

# -- snapshots (pyg_dnnmod.utils.knn_kernel, pyg_dnnmod.snapshots) -----------

#: The similarity metrics of the k-NN builders and of a
#: :class:`~pyg_dnnmod.SnapshotConfig`.
METRICS = ('cosine', 'pearson', 'euclidean', 'dot')

# -- recipes (pyg_dnnmod.pretrained.recipes) ---------------------------------

#: The names of :data:`pyg_dnnmod.pretrained.TRAIN_RECIPES`.
TRAIN_RECIPE_NAMES = ('paper', 'digits', 'fashion', 'fashion-vit')
#: The names of :data:`pyg_dnnmod.pretrained.FINETUNE_RECIPES`.
FINETUNE_RECIPE_NAMES = ('digits', 'digits-full', 'fashion', 'paper')

# -- pruning (pyg_dnnmod.pruning.selection) ----------------------------------

#: The names of :data:`pyg_dnnmod.pruning.SELECTORS`.
SELECTOR_NAMES = ('gain', 'plateau', 'budget', 'mean-gain')

# -- weight graphs (pyg_dnnmod.weights) --------------------------------------

#: The statistics :func:`~pyg_dnnmod.weights.node_statistics` knows.
NODE_STATISTICS = ('weighted_degree', 'eigenvector_centrality', 'pagerank')
#: The architectures :func:`~pyg_dnnmod.weights.zoo.zoo_model` builds.
ZOO_ARCHITECTURES = ('lenet5', 'small_vgg')
#: The optimizers of the zoo: SGD without momentum, with heavy-ball momentum
#: 0.9, and with Nesterov momentum 0.9.
ZOO_OPTIMIZERS = ('sgd', 'momentum', 'nesterov')
#: The data a zoo trains on (:data:`~pyg_dnnmod.weights.zoo.ZOO_DATA`).
ZOO_DATA = ('translated-digits', 'centred-digits', 'fashion-mnist')

# -- the population benchmark (pyg_dnnmod.weights.DNNDynamicsDataset) -------

#: The splits of :meth:`~pyg_dnnmod.weights.DNNDynamicsDataset.get_idx_split`.
BENCHMARK_SPLITS = ('seed', 'width')
#: The baselines of :func:`~pyg_dnnmod.experiments.run_benchmark`.
BENCHMARK_BASELINES = ('mean', 'hyperparameters', 'weight_statistics',
                       'graph_statistics', 'gcn_gru')

# -- transformers (pyg_dnnmod.features, pyg_dnnmod.redundancy) ---------------

#: How the tokens of a sequence become one vector
#: (:func:`~pyg_dnnmod.features.pool_tokens`).
TOKEN_POOLINGS = ('mean', 'last', 'cls')
#: The keys of :data:`pyg_dnnmod.redundancy.REDUNDANCY_SCORES`.
REDUNDANCY_SCORE_NAMES = ('block_influence', 'angular_distance',
                          'mutual_knn', 'cka', 'modularity_gain',
                          'knn_overlap_gain')
#: Choices of blocks that read no score: the last blocks and a seeded
#: random draw (:func:`pyg_dnnmod.redundancy.blocks_to_remove`).
BASELINE_CHOICES = ('reverse', 'random')


def check_registry(registry: Iterable[str], names: Tuple[str, ...],
                   what: str) -> None:
    r"""Raises :class:`RuntimeError` unless :obj:`registry` (a dict) is
    keyed by exactly :obj:`names`, in order, so that the names the command
    line offers are the registry's.

    Example:
        >>> check_registry({'a': 1, 'b': 2}, ('a', 'b'), 'R')
        >>> check_registry({'a': 1}, ('a', 'b'), 'R')
        Traceback (most recent call last):
        ...
        RuntimeError: R is keyed ('a',), but pyg_dnnmod.names lists ('a', 'b')
    """
    keys = tuple(registry)
    if keys != tuple(names):
        raise RuntimeError(f"{what} is keyed {keys}, but pyg_dnnmod.names "
                           f"lists {tuple(names)}")
