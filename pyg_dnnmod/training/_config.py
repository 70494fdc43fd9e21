r"""The training recipe as one validated, serialisable configuration."""
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Tuple

# Fields that change the sequence of weights; a resumed run must agree on
# them with the checkpoint it resumes from. `epochs` may grow, and the others
# only change speed, evaluation batching or what epoch 0 reports
# (`eval_train_at_start`).
TRAJECTORY_FIELDS = ('batch_size', 'lr', 'momentum', 'weight_decay',
                     'nesterov', 'milestones', 'gamma', 'seed', 'optimizer')
#: The optimizers of :class:`TrainConfig`.
OPTIMIZERS = ('sgd', 'adamw')


@dataclass
class TrainConfig:
    r"""The training recipe: SGD with momentum (or AdamW) and a step
    learning rate.

    The defaults are the paper's CIFAR recipe (Lu et al., ECCV 2022): SGD with
    learning rate :obj:`0.01`, momentum :obj:`0.9`, weight decay
    :obj:`0.005`, batch size :obj:`256`, :obj:`150` epochs, and (as in the
    command of the paper's code) the learning rate divided by 10 after epochs
    50 and 100. The paper's code steps its scheduler at the start of every
    epoch, which in current PyTorch lowers the rate one epoch early; here the
    rate of epoch :math:`e` is :math:`\mathrm{lr} \cdot
    \gamma^{|\{m \in \mathrm{milestones} : m < e\}|}`.

    Args:
        epochs (int, optional): The number of training epochs.
            (default: :obj:`150`)
        batch_size (int, optional): The training batch size.
            (default: :obj:`256`)
        lr (float, optional): The initial learning rate.
            (default: :obj:`0.01`)
        momentum (float, optional): The SGD momentum. (default: :obj:`0.9`)
        weight_decay (float, optional): The L2 weight decay.
            (default: :obj:`0.005`)
        nesterov (bool, optional): Use Nesterov momentum.
            (default: :obj:`False`)
        milestones (Tuple[int, ...], optional): The epochs after which the
            learning rate is multiplied by :obj:`gamma`; empty for a constant
            rate. (default: :obj:`(50, 100)`)
        gamma (float, optional): The learning-rate factor at each milestone.
            (default: :obj:`0.1`)
        seed (int, optional): The seed of the shuffling and of every other
            random draw during training. (default: :obj:`0`)
        eval_batch_size (int, optional): The batch size of evaluation.
            (default: :obj:`1024`)
        num_workers (int, optional): Data loader workers when the data is a
            :class:`torch.utils.data.Dataset`. (default: :obj:`0`)
        optimizer (str, optional): :obj:`"sgd"` (SGD with :obj:`momentum`,
            the paper's) or :obj:`"adamw"` (AdamW with betas
            :obj:`(0.9, 0.999)` and decoupled :obj:`weight_decay`, as
            transformers are trained; :obj:`momentum` and :obj:`nesterov`
            are not used). (default: :obj:`"sgd"`)
        eval_train_at_start (bool, optional): Evaluate the untrained model
            (epoch 0) on the whole training set; with :obj:`False` its
            :obj:`train_loss` and :obj:`train_acc` are NaN, which saves a
            pass over the training data (a fifth of a 5-epoch run on
            Fashion-MNIST). The test set is evaluated either way. Changes
            no weight, so a run may resume with another value.
            (default: :obj:`True`)

    Example:
        >>> TrainConfig(epochs=5, milestones=[3]).milestones
        (3,)
        >>> TrainConfig(lr=0)
        Traceback (most recent call last):
        ...
        ValueError: 'lr' must be > 0 (got 0)
    """
    epochs: int = 150
    batch_size: int = 256
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.005
    nesterov: bool = False
    milestones: Tuple[int, ...] = (50, 100)
    gamma: float = 0.1
    seed: int = 0
    eval_batch_size: int = 1024
    num_workers: int = 0
    optimizer: str = 'sgd'
    eval_train_at_start: bool = True

    def __post_init__(self) -> None:
        for name, low in (('epochs', 0), ('batch_size', 1), ('seed', 0),
                          ('eval_batch_size', 1), ('num_workers', 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"'{name}' must be an integer "
                                f"(got {value!r})")
            if value < low:
                raise ValueError(f"'{name}' must be >= {low} (got {value})")
        for name in ('lr', 'momentum', 'weight_decay', 'gamma'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"'{name}' must be a number (got {value!r})")
            if value != value or value in (float('inf'), float('-inf')):
                raise ValueError(f"'{name}' must be finite (got {value})")
        if self.lr <= 0:
            raise ValueError(f"'lr' must be > 0 (got {self.lr})")
        if self.momentum < 0 or self.weight_decay < 0:
            name = 'momentum' if self.momentum < 0 else 'weight_decay'
            raise ValueError(f"'{name}' must be >= 0 "
                             f"(got {getattr(self, name)})")
        if not isinstance(self.eval_train_at_start, bool):
            raise TypeError(f"'eval_train_at_start' must be a bool (got "
                            f"{self.eval_train_at_start!r})")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"'optimizer' must be one of {OPTIMIZERS} (got "
                             f"{self.optimizer!r})")
        if self.gamma <= 0:
            raise ValueError(f"'gamma' must be > 0 (got {self.gamma})")
        if self.nesterov and self.momentum == 0:
            raise ValueError("'nesterov' needs a 'momentum' > 0 (got 0)")
        milestones = tuple(self.milestones)
        if any(isinstance(m, bool) or not isinstance(m, int) or m < 1
               for m in milestones) or list(milestones) != sorted(
                   set(milestones)):
            raise ValueError(f"'milestones' must be strictly increasing "
                             f"positive integers (got {self.milestones!r})")
        self.milestones = milestones

    def to_dict(self) -> Dict[str, Any]:
        r"""Returns the configuration as a dict of plain values, as stored in
        the checkpoints."""
        out = asdict(self)
        out['milestones'] = list(self.milestones)
        return out


def config_differences(config: TrainConfig, stored: Dict[str, Any]
                       ) -> List[Tuple[str, Any, Any]]:
    r"""The fields of :data:`TRAJECTORY_FIELDS` in which :obj:`config`
    differs from a checkpoint's stored configuration, as :obj:`(name,
    stored, current)`; a field the checkpoint predates counts as its
    default.

    Example:
        >>> stored = TrainConfig(lr=0.1).to_dict()
        >>> del stored['optimizer']  # written before the field existed
        >>> config_differences(TrainConfig(lr=0.1), stored)
        []
        >>> config_differences(TrainConfig(optimizer='adamw'), stored)
        [('lr', 0.1, 0.01), ('optimizer', 'sgd', 'adamw')]
        >>> # What epoch 0 reports changes no weight: never a difference.
        >>> config_differences(TrainConfig(lr=0.1, eval_train_at_start=False),
        ...                    stored)
        []
    """
    defaults = TrainConfig().to_dict()
    current = config.to_dict()
    return [(name, stored.get(name, defaults[name]), current[name])
            for name in TRAJECTORY_FIELDS
            if stored.get(name, defaults[name]) != current[name]]
