r"""The cells of notebooks/04_adversarial_and_training_dynamics.ipynb (see ../make_notebooks.py)."""
NAME = '04_adversarial_and_training_dynamics.ipynb'

CELLS = [
    ('md', """\
# 04: Adversarial inputs, and the curve over training epochs

Two readings of the modularity curve from Lu et al. (ECCV 2022, section 4):
adversarial inputs (section 4.2, Fig. 6a), whose curves peak lower than the
clean one because the deep layers no longer group them by their true class;
and the curve over training (section 4.3, Fig. 6b), where the deep layers'
modularity rises with the accuracy while the first layer's hardly moves.
Both run on the embedded default (the small CNN on the translated digits,
no download), as `pyg-dnnmod attack` and `pyg-dnnmod dynamics` do. The
attacks are AdverTorch's; `pyg-dnnmod attack --dataset mnist-5k --model
lenet5-mnist-clean` runs them on AdverTorch's own MNIST LeNet-5 (see the
README)."""),
    ('code', """\
import pandas as pd

from pyg_dnnmod.experiments import adversarial_curves, training_dynamics
from pyg_dnnmod.plotting import plot_adversarial_curves, plot_training_dynamics
from pyg_dnnmod.pretrained import (digits_data, digits_model,
                                   pretrained_digits_cnn, train_config)

model, info = pretrained_digits_cnn()   # trained once (about 20 s), cached
train_data, test_data = digits_data('train'), digits_data('test')
x, y = test_data            # pixels in [0, 1], normalised inside the model
print(f"test accuracy {info['test_acc']:.3f}")"""),
    ('md', """\
## Adversarial inputs (Fig. 6a)

FGSM and PGD within an $L_\\infty$ budget of 0.1, run on the correctly
classified test digits until N = 300 attacks have succeeded; PGD takes 10
steps of 0.025 (AdverTorch's default, 40 steps of 0.01 within 0.3, takes
longer than a notebook should). The snapshots of an adversarial set use the
true labels: the modularity says how well a layer still groups the true
classes. The summary gives each attack's success rate and perturbation
sizes."""),
    ('code', """\
params = {'fgsm': {'eps': 0.1},
          'pgd': {'eps': 0.1, 'nb_iter': 10, 'eps_iter': 0.025}}
curves, summary = adversarial_curves(model, x, y, attacks=['fgsm', 'pgd'],
                                     k=3, num_samples=300, params=params)
summary[['set', 'peak_modularity', 'peak_layer', 'success_rate',
         'num_collected', 'linf_mean', 'l2_mean']].round(3)"""),
    ('code', """\
plot_adversarial_curves(curves, summary, model='DigitsCNN',
                        data='translated digits')"""),
    ('code', """\
curves.pivot_table(index=['layer_index', 'layer'], columns='set',
                   values='modularity', sort=False).round(3)"""),
    ('md', """\
Both attacked curves stay far below the clean one in the deep layers, where
the clean digits separate best: a perturbation small in pixels moves the
deep features towards other classes.

## Training-time dynamics (Fig. 6b)

The same architecture from scratch, trained for 5 epochs with the default
recipe (SGD with momentum, lr 0.01, no schedule over so few epochs), its
snapshots taken on the same N = 300 test samples after every epoch (epoch 0
is the initialisation). Left, every layer's modularity per epoch; right,
the layers over the epochs with the test accuracy (dashed)."""),
    ('code', """\
dynamics = training_dynamics(digits_model(seed=0), train_data, test_data,
                             train_config('digits', epochs=5, milestones=()),
                             k=3, num_samples=300)
plot_training_dynamics(dynamics, model='DigitsCNN',
                       data='translated digits')"""),
    ('code', """\
table = dynamics.pivot_table(index='epoch', columns='layer',
                             values='modularity')
table = table[dynamics.drop_duplicates('layer_index')['layer']]
table['test_acc'] = dynamics.groupby('epoch')['test_acc'].first()
table.round(3)"""),
    ('md', """\
Per layer, the modularity at initialisation and after training, and how
closely it follows the test accuracy over the epochs (Pearson r). The deep
layers rise with the accuracy and track it; the first convolution stays
near the raw pixels' value, so its r only correlates noise."""),
    ('code', """\
rows = []
for (index, layer), g in dynamics.groupby(['layer_index', 'layer']):
    g = g.set_index('epoch')
    rows.append({'layer': layer,
                 'Q at init': g['modularity'].iloc[0],
                 'Q trained': g['modularity'].iloc[-1],
                 'r with test acc': g['modularity'].corr(g['test_acc'])})
pd.DataFrame(rows).round(3)"""),
]
