r"""Training and fine-tuning recipes by name: how a network is trained
(``pyg-dnnmod train --recipe``, :data:`TRAIN_RECIPES`) and how a pruned
network is repaired after the cut (``pyg-dnnmod prune --recipe``,
:data:`FINETUNE_RECIPES`).

* :data:`DIGITS_FINETUNE` (:obj:`"digits"`): the short repair of the
  digits models, their training recipe continued at its final learning
  rate;
* :data:`DIGITS_FULL_FINETUNE` (:obj:`"digits-full"`): their whole
  training recipe;
* :obj:`"paper"`: the paper's CIFAR recipe, the defaults of
  :class:`~pyg_dnnmod.training.TrainConfig`.
"""
import dataclasses
from typing import Any, Dict, Sequence, Tuple

from pyg_dnnmod.names import (
    FINETUNE_RECIPE_NAMES,
    TRAIN_RECIPE_NAMES,
    check_registry,
)
from pyg_dnnmod.pretrained.digits import DIGITS_RECIPE, recipe_config
from pyg_dnnmod.training import TrainConfig

#: The recipe of the shipped Fashion-MNIST models
#: (:func:`~pyg_dnnmod.pretrained.load_pretrained`): 10 epochs of batch
#: 128, SGD with lr 0.05, momentum 0.9 and weight decay 5e-4, lr / 10 after
#: epochs 5 and 8, random crops (padding 4) and horizontal flips. It fits
#: the CPU: 2.5 to 8 minutes per epoch for ResNet20 on one thread,
#: depending on the load (45 minutes for the ten epochs of the shipped one).
FASHION_RECIPE = dict(epochs=10, batch_size=128, lr=0.05, momentum=0.9,
                      weight_decay=5e-4, milestones=(5, 8), gamma=0.1, seed=0)

#: The recipe of the shipped vision transformer (:obj:`"vit-fashion-mnist"`,
#: :func:`~pyg_dnnmod.models.vit_tiny`): :data:`FASHION_RECIPE` with AdamW
#: (lr 0.001, decoupled weight decay 0.05) for 15 epochs, lr / 10 after
#: epochs 10 and 13, crops and flips. SGD at the CNNs' recipe reached 78.7 %
#: after the same 15 epochs (measured); AdamW is how transformers train.
VIT_FASHION_RECIPE = dict(FASHION_RECIPE, epochs=15, lr=0.001,
                          weight_decay=0.05, milestones=(10, 13),
                          optimizer='adamw')

#: The training recipes by name, as recipe dicts whose fields of
#: :class:`~pyg_dnnmod.training.TrainConfig` count (other keys, such as a
#: recipe's :obj:`model`, are ignored; see
#: :func:`~pyg_dnnmod.pretrained.recipe_config`): :obj:`"paper"` (its
#: defaults, the paper's CIFAR recipe: 150 epochs of batch 256, lr / 10
#: after epochs 50 and 100), :obj:`"digits"` (the default model's,
#: :data:`~pyg_dnnmod.pretrained.DIGITS_RECIPE`), :obj:`"fashion"`
#: (:data:`FASHION_RECIPE`) and :obj:`"fashion-vit"`
#: (:data:`VIT_FASHION_RECIPE`).
TRAIN_RECIPES: Dict[str, Dict[str, Any]] = {
    'paper': {},
    'digits': DIGITS_RECIPE,
    'fashion': FASHION_RECIPE,
    'fashion-vit': VIT_FASHION_RECIPE,
}
check_registry(TRAIN_RECIPES, TRAIN_RECIPE_NAMES, 'TRAIN_RECIPES')
#: The data sets trained with :data:`FASHION_RECIPE` by default.
FASHION_RECIPE_DATASETS = ('fashion-mnist', 'mnist', 'mnist-5k')
#: The data sets trained with random crops and flips by default (digits
#: flipped are other digits).
AUGMENTED_DATASETS = ('cifar10', 'cifar100', 'imagenet50', 'fashion-mnist',
                      'folder')

#: The fine-tuning recipe of the pruned digits models: the training
#: recipe continued at its final learning rate (0.01 / 10 after the
#: milestone of :data:`~pyg_dnnmod.pretrained.DIGITS_RECIPE`) for two
#: epochs of batch 32, no schedule. A short repair at the final rate
#: measures what a removal breaks; restarting at 0.01 throws even the
#: unpruned network off its minimum (about -20 points after two epochs for
#: ``digits_deep_cnn``, measured), and the full 12-epoch recipe
#: (:data:`DIGITS_FULL_FINETUNE`) retrains the network so far that on the
#: translated digits every single removal comes back within about two
#: points, whatever the layer (no significant correlation with the gain).
DIGITS_FINETUNE = dict(epochs=2, batch_size=32, lr=0.001, momentum=0.9,
                       weight_decay=5e-4, milestones=(), gamma=0.1, seed=0)

#: The training recipe of the default digits model used as fine-tuning:
#: 12 epochs of batch 32, lr 0.01 divided by 10 after epoch 8 (``--recipe
#: digits-full`` of ``pyg-dnnmod prune``).
DIGITS_FULL_FINETUNE = dict(epochs=12, batch_size=32, lr=0.01, momentum=0.9,
                            weight_decay=5e-4, milestones=(8, ), gamma=0.1,
                            seed=0)

#: The fine-tuning recipe of the pruned Fashion-MNIST models: their
#: training recipe (:data:`FASHION_RECIPE`) continued at its final learning
#: rate (0.05 / 100) for one epoch of batch 128, no schedule.
FASHION_FINETUNE = dict(epochs=1, batch_size=128, lr=0.0005, momentum=0.9,
                        weight_decay=5e-4, milestones=(), gamma=0.1, seed=0)

#: The fine-tuning recipes by name, as fields of
#: :class:`~pyg_dnnmod.training.TrainConfig` (:obj:`"paper"`: its
#: defaults, 150 epochs of batch 256, lr / 10 after epochs 50 and 100).
FINETUNE_RECIPES: Dict[str, Dict[str, Any]] = {
    'digits': DIGITS_FINETUNE,
    'digits-full': DIGITS_FULL_FINETUNE,
    'fashion': FASHION_FINETUNE,
    'paper': {},
}
check_registry(FINETUNE_RECIPES, FINETUNE_RECIPE_NAMES, 'FINETUNE_RECIPES')

#: The data sets (by their ``--dataset`` names) that the digits recipe
#: fine-tunes by default: the digits and the small synthetic clusters.
DIGITS_RECIPE_DATASETS = ('translated-digits', 'digits', 'synthetic')


def default_finetune_recipe(dataset: str) -> str:
    r"""The name of the fine-tuning recipe for :obj:`dataset`:
    :obj:`"digits"` for :data:`DIGITS_RECIPE_DATASETS`, :obj:`"fashion"`
    for :data:`FASHION_RECIPE_DATASETS`, :obj:`"paper"` otherwise.

    Example:
        >>> [default_finetune_recipe(d) for d in ('digits', 'cifar10')]
        ['digits', 'paper']
        >>> default_finetune_recipe('fashion-mnist')
        'fashion'
    """
    if dataset in FASHION_RECIPE_DATASETS:
        return 'fashion'
    return 'digits' if dataset in DIGITS_RECIPE_DATASETS else 'paper'


def default_train_recipe(dataset: str) -> str:
    r"""The name of the training recipe for :obj:`dataset`, the same as its
    fine-tuning recipe's (:func:`default_finetune_recipe`).

    Example:
        >>> [default_train_recipe(d) for d in ('digits', 'mnist', 'cifar10')]
        ['digits', 'fashion', 'paper']
    """
    return default_finetune_recipe(dataset)


def default_augment(dataset: str) -> bool:
    r"""Whether :obj:`dataset` is trained with random crops and flips by
    default (:data:`AUGMENTED_DATASETS`).

    Example:
        >>> default_augment('fashion-mnist'), default_augment('mnist')
        (True, False)
    """
    return dataset in AUGMENTED_DATASETS


def scaled_milestones(milestones: Sequence[int], recipe_epochs: int,
                      epochs: int) -> Tuple[int, ...]:
    r"""The learning-rate milestones of a recipe of :obj:`recipe_epochs`
    epochs moved to the same fractions of :obj:`epochs`: every milestone
    :math:`m` becomes :math:`\mathrm{round}(m \cdot E / E_0)`, and those
    outside :math:`(0, E)` are dropped. The weight zoo's rule
    (:func:`~pyg_dnnmod.weights.zoo.zoo_spec` puts its milestone at two thirds
    of the budget, where the digits recipe has its own: 8 of 12 epochs).

    Example:
        >>> scaled_milestones((8, ), 12, 30), scaled_milestones((8, ), 12, 12)
        ((20,), (8,))
        >>> scaled_milestones((5, 8), 10, 20), scaled_milestones((8, ), 12, 1)
        ((10, 16), ())
    """
    if recipe_epochs < 1:
        return tuple(m for m in milestones if 0 < m < epochs)
    moved = {int(round(m * epochs / recipe_epochs)) for m in milestones}
    return tuple(sorted(m for m in moved if 0 < m < epochs))


def train_config(name: str, scale_milestones: bool = False,
                 **overrides: Any) -> TrainConfig:
    r"""The training recipe :obj:`name` of :data:`TRAIN_RECIPES` as a
    :class:`~pyg_dnnmod.training.TrainConfig`, with fields replaced by
    :obj:`overrides`.

    With :obj:`scale_milestones`, an :obj:`epochs` override without a
    :obj:`milestones` one moves the recipe's milestones to the same
    fractions of the new budget (:func:`scaled_milestones`), so that a
    longer run drops the learning rate as late, relatively, as the recipe
    does. (``pyg-dnnmod train`` keeps them, so that ``--resume`` with more
    ``--epochs`` continues the same run.)

    Example:
        >>> config = train_config('fashion')
        >>> config.epochs, config.batch_size, config.milestones
        (10, 128, (5, 8))
        >>> train_config('digits', epochs=30).milestones
        (8,)
        >>> train_config('digits', scale_milestones=True, epochs=30).milestones
        (20,)
    """
    if name not in TRAIN_RECIPES:
        raise ValueError(f"unknown training recipe {name!r}; the recipes "
                         f"are {', '.join(map(repr, TRAIN_RECIPES))}")
    config = recipe_config(TRAIN_RECIPES[name])
    if scale_milestones and 'milestones' not in overrides and \
            isinstance(overrides.get('epochs'), int) and \
            not isinstance(overrides.get('epochs'), bool):
        overrides = dict(overrides, milestones=scaled_milestones(
            config.milestones, config.epochs, overrides['epochs']))
    return dataclasses.replace(config, **overrides)


def finetune_config(name: str, **overrides: Any) -> TrainConfig:
    r"""The fine-tuning recipe :obj:`name` of :data:`FINETUNE_RECIPES` as a
    :class:`~pyg_dnnmod.training.TrainConfig`, with fields replaced by
    :obj:`overrides`.

    Example:
        >>> config = finetune_config('digits-full', seed=3)
        >>> config.epochs, config.milestones, config.seed
        (12, (8,), 3)
    """
    if name not in FINETUNE_RECIPES:
        raise ValueError(f"unknown fine-tuning recipe {name!r}; the recipes "
                         f"are {', '.join(map(repr, FINETUNE_RECIPES))}")
    return TrainConfig(**dict(FINETUNE_RECIPES[name], **overrides))


def digits_finetune_config(**overrides: Any) -> TrainConfig:
    r"""The fine-tuning recipe :data:`DIGITS_FINETUNE` as a
    :class:`~pyg_dnnmod.training.TrainConfig`, with fields replaced by
    :obj:`overrides`.

    Example:
        >>> config = digits_finetune_config(epochs=1)
        >>> config.epochs, config.lr, config.batch_size, config.milestones
        (1, 0.001, 32, ())
    """
    return finetune_config('digits', **overrides)
