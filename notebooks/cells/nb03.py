r"""The cells of notebooks/03_pruning.ipynb (see ../make_notebooks.py)."""
NAME = '03_pruning.ipynb'

CELLS = [
    ('md', """\
# 03: Modularity-guided layer pruning: curve, selection, surgery, \
fine-tuning, table

Lu et al. (ECCV 2022, section 5.2) read the modularity curve as a map of
which layers work: a layer whose modularity hardly rises above the previous
one's (a plateau) or falls below it (a drop) adds little to the separation
of the classes, so it is a candidate for removal. This notebook walks the
five steps on the embedded default network (the small CNN of notebook 01):
the curve, the layers a selector picks on it, the surgery that cuts them
(parameters and FLOPs counted by thop), a short fine-tuning, and the
comparison table beside a control that removes the layers the curve says
matter most. It mirrors the paper's Fig. 9 (the curves of the pruned
networks), Fig. 10b (accuracy change against modularity gain) and Table 1,
and `pyg-dnnmod prune`; and it shows where the reading needs care."""),
    ('code', """\
import pandas as pd
import torch

from pyg_dnnmod.experiments import (modularity_curves, pruning_experiment,
                                    summarize)
from pyg_dnnmod.plotting import plot_modularity_curve, plot_pruning_report
from pyg_dnnmod.pretrained import digits_data, pretrained_digits_cnn
from pyg_dnnmod.pruning import (GainThreshold, ModularityCurve, PlateauRun,
                                complexity_table, largest_gain_layers,
                                layers_to_remove, modularity_gain,
                                removable_layers, remove_layers)

model, info = pretrained_digits_cnn()   # trained once (about 20 s), cached
train_data, test_data = digits_data('train'), digits_data('test')
x, y = test_data
print(f"test accuracy {info['test_acc']:.3f}")"""),
    ('md', """\
## 1. The curve: 3 draws of N = 500 test samples, k = 3

The curve reads the four convolutions (their outputs before batch norm and
ReLU, where the paper's code reads a VGG)."""),
    ('code', """\
curves = modularity_curves(model, x, y, k=3, num_samples=500, repeats=3)
summary = summarize(curves)
plot_modularity_curve(summary, model='DigitsCNN',
                      data='translated digits')"""),
    ('md', """\
## 2. Selection: the plateaus and drops of the curve

The gain of layer $i$ is $Q_i - Q_{i-1}$ on the mean curve. A selector picks
among the layers that can be cut at all: `removable_layers` lists the
convolutions whose removal keeps every channel count and spatial size (here
the second convolution of each block). `GainThreshold(tau)` picks the
removable layers whose gain is at most `tau`; `PlateauRun(eps)` the tail
after the curve first comes within `eps` of its maximum; the control,
`largest_gain_layers`, as many layers with the largest gains."""),
    ('code', """\
draws = curves.pivot(index='repeat', columns='layer_index',
                     values='modularity')
names = curves.drop_duplicates('layer_index').sort_values('layer_index')
curve = ModularityCurve(torch.tensor(draws.to_numpy()), list(names['layer']))
removable = removable_layers(model)
pd.DataFrame({'layer': curve.layer_names,
              'mean Q': curve.mean().modularity().numpy(),
              'gain': modularity_gain(curve.mean()).numpy(),
              'removable': [n in removable for n in curve.layer_names]
              }).round(4)"""),
    ('md', """\
This curve keeps rising to its last layer, so it has no plateau at the end:
`PlateauRun` picks nothing. Its one flat stretch is the first block, whose
second convolution adds about 0.02. With three draws a gain is known to
about 0.01, hence `tau = 0.05` (the command line's default is 0.01)."""),
    ('code', """\
print('plateau run picks', PlateauRun(0.01)(curve.mean(), removable))
selector = GainThreshold(tau=0.05)
selected = layers_to_remove(selector, curve, removable)
control = [curve.layer_names[i] for i in
           largest_gain_layers(curve.mean(), len(selected), removable)]
print('selected by', selector, selected)
print('control (largest gain)', control)"""),
    ('md', """\
## 3. Surgery

`remove_layers` cuts the layers from a copy (the trained network is not
changed): a convolution goes together with its batch norm and ReLU. The
counts come from thop (FLOPs = 2 x MACs). The two cuts save the same FLOPs
(a 32-channel convolution at 16 x 16 costs as much as a 64-channel one at
8 x 8), but the control four times the parameters."""),
    ('code', """\
pruned = remove_layers(model, selected)
print(pruned.features)
complexity_table({'original': model, 'selected removed': pruned,
                  'control removed': remove_layers(model, control)},
                 input_shape=(1, 16, 16)).round(1)"""),
    ('md', """\
## 4. Fine-tuning and the comparison table

`pruning_experiment` runs the whole chain in one call, as `pyg-dnnmod prune`
does: the curve, the selection, the cut and a short repair of the selected
layers and of the control (the digits fine-tuning recipe: 2 epochs at the
training's final learning rate, 0.001). `finetune_original=True` adds the
unpruned network fine-tuned the same way, so that the extra training is not
mistaken for an effect of the cut; the pruned networks' curves are read on
the same draws."""),
    ('code', """\
result = pruning_experiment(model, train_data, test_data, selector=selector,
                            control=True, finetune_original=True,
                            k=3, num_samples=500, repeats=3)
columns = ['model', 'removed', 'modularity_gain', 'params_reduction_%',
           'FLOPs_reduction_%', 'acc_before_%', 'acc_after_%',
           'acc_change_%']
result.table[columns].round(2)"""),
    ('md', """\
Left, the curves of the original and of the fine-tuned pruned networks over
the original's layers (a cross marks a removed layer; Fig. 9); right, the
accuracy change against the modularity gain of what was removed (Fig. 10b;
the dotted line is the fine-tuned original). The curve of the selected cut
already shows the damage: its deep layers stay far below the original's."""),
    ('code', """\
plot_pruning_report(result.summary(), result.table, result.correlation,
                    model='DigitsCNN', data='translated digits')"""),
    ('code', """\
result.histories['pruned'].round(3)   # the repair of the selected cut"""),
    ('md', """\
## What the table says

On this network the layer of small gain is not the cheap one: after the
same short repair, cutting it costs about as much accuracy as cutting the
layer of the largest gain, while the fine-tuning alone hardly changes the
unpruned network. The paper's reading assumes that a flat stretch comes
after the classes have separated. Here it is in the first block, where the
modularity is still near the raw pixels' value whatever the layer does: a
small gain there does not make the layer idle, the next block needs its
features. On a deeper network whose curve flattens at its end (the residual
`digits_deep_resnet`, the default of `pyg-dnnmod prune`, a few minutes to
train) the reading holds: removing its layers of gain at most 0.01 costs
nothing, removing as many of the largest gain several points (see the
README). Look at where a plateau lies before cutting it, and keep the
control and the fine-tuned original in the table."""),
]
