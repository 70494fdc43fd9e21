r"""Training with per-epoch checkpoints, the raw material of training
dynamics.

:func:`train` runs the paper's SGD recipe (:class:`TrainConfig`), saves the
untrained model as epoch 0 and every later epoch atomically, and resumes an
interrupted run bit for bit; :func:`evaluate` gives loss and accuracy;
:func:`load_checkpoint` restores a checkpoint with
:obj:`torch.load(weights_only=True)` after checking that it fits the model;
:func:`fixed_threads` runs a block on a fixed number of CPU threads, so that
a training run does not depend on the machine's thread count.
"""
from pyg_dnnmod.training._augment import random_crop_flip
from pyg_dnnmod.training._checkpoint import (
    check_state_dict,
    checkpoint_info,
    checkpoint_path,
    describe_checkpoint,
    list_checkpoints,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    save_model_checkpoint,
)
from pyg_dnnmod.training._config import (
    OPTIMIZERS,
    TRAJECTORY_FIELDS,
    TrainConfig,
    config_differences,
)
from pyg_dnnmod.training._threads import check_threads, fixed_threads
from pyg_dnnmod.training._train import evaluate, train

__all__ = [
    'TrainConfig',
    'TRAJECTORY_FIELDS',
    'OPTIMIZERS',
    'config_differences',
    'train',
    'evaluate',
    'load_checkpoint',
    'read_checkpoint',
    'save_checkpoint',
    'save_model_checkpoint',
    'checkpoint_info',
    'check_state_dict',
    'describe_checkpoint',
    'list_checkpoints',
    'checkpoint_path',
    'random_crop_flip',
    'fixed_threads',
    'check_threads',
]
