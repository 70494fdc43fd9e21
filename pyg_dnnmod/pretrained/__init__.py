r"""Trained models and the recipes that reproduce them.

* :mod:`pyg_dnnmod.pretrained.digits`: the embedded default, a small CNN
  trained once on scikit-learn's translated digits with a fixed recipe and
  cached under the user cache folder (:func:`pretrained_digits_cnn`).
* :mod:`pyg_dnnmod.pretrained.digits_models`: any registry model that takes
  the digits, trained and cached the same way
  (:func:`pretrained_digits_model`).
* :mod:`pyg_dnnmod.pretrained.shipped`: the networks shipped with the
  installation, trained on Fashion-MNIST and MNIST (:func:`list_pretrained`,
  :func:`load_pretrained`).
* :mod:`pyg_dnnmod.pretrained.load`: a model by spec with its weights (a
  checkpoint, the embedded default, a random init) (:func:`load_model`),
  and the model of a checkpoint file of any format this package writes,
  checked against the data it was trained on
  (:func:`load_model_checkpoint`).
* :mod:`pyg_dnnmod.pretrained.recipes`: training and fine-tuning recipes
  by name (:data:`TRAIN_RECIPES`, :func:`train_config`,
  :data:`FINETUNE_RECIPES`, :func:`finetune_config`).
"""
from pyg_dnnmod.pretrained.digits import (
    DIGITS_DATA,
    DIGITS_RECIPE,
    TRAIN_THREADS,
    cache_dir,
    digits_data,
    digits_model,
    pretrained_digits_cnn,
    recipe_config,
    recipe_key,
    train_cached,
    training_environment,
)
from pyg_dnnmod.pretrained.digits_models import (
    DIGITS_MODEL_RECIPES,
    pretrained_digits_model,
    takes_digits,
)
from pyg_dnnmod.pretrained.shipped import (
    PRETRAINED,
    PretrainedEntry,
    architecture_of,
    describe_pretrained,
    list_pretrained,
    load_pretrained,
    pretrained_entry,
    pretrained_of_digest,
    pretrained_path,
)
from pyg_dnnmod.pretrained.load import (
    DEFAULT_MODEL,
    RANDOM_INIT_HINT,
    SAME_IMAGES,
    checkpoint_record,
    is_default_model,
    load_model,
    load_model_checkpoint,
    load_weights,
    trained_on_data,
)
from pyg_dnnmod.pretrained.recipes import (
    DIGITS_FINETUNE,
    DIGITS_FULL_FINETUNE,
    DIGITS_RECIPE_DATASETS,
    FASHION_RECIPE,
    FASHION_RECIPE_DATASETS,
    VIT_FASHION_RECIPE,
    FINETUNE_RECIPES,
    TRAIN_RECIPES,
    default_augment,
    default_finetune_recipe,
    default_train_recipe,
    digits_finetune_config,
    finetune_config,
    scaled_milestones,
    train_config,
)

__all__ = [
    'DIGITS_DATA',
    'DIGITS_RECIPE',
    'TRAIN_THREADS',
    'cache_dir',
    'digits_data',
    'digits_model',
    'pretrained_digits_cnn',
    'recipe_config',
    'recipe_key',
    'train_cached',
    'training_environment',
    'DIGITS_MODEL_RECIPES',
    'pretrained_digits_model',
    'takes_digits',
    'PRETRAINED',
    'PretrainedEntry',
    'architecture_of',
    'describe_pretrained',
    'list_pretrained',
    'load_pretrained',
    'pretrained_entry',
    'pretrained_path',
    'pretrained_of_digest',
    'DEFAULT_MODEL',
    'is_default_model',
    'load_model',
    'load_model_checkpoint',
    'load_weights',
    'checkpoint_record',
    'trained_on_data',
    'SAME_IMAGES',
    'RANDOM_INIT_HINT',
    'DIGITS_FINETUNE',
    'DIGITS_FULL_FINETUNE',
    'DIGITS_RECIPE_DATASETS',
    'FINETUNE_RECIPES',
    'default_finetune_recipe',
    'digits_finetune_config',
    'finetune_config',
    'FASHION_RECIPE',
    'FASHION_RECIPE_DATASETS',
    'VIT_FASHION_RECIPE',
    'TRAIN_RECIPES',
    'default_augment',
    'default_train_recipe',
    'train_config',
    'scaled_milestones',
]
