r"""Trained models and the recipes that reproduce them.

* :mod:`pyg_dnnmod.pretrained.digits`: the embedded default, a small CNN
  trained once on scikit-learn's translated digits with a fixed recipe and
  cached under the user cache folder (:func:`pretrained_digits_cnn`).
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
]
