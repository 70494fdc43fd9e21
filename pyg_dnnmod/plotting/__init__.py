r"""Figures of the experiments as :class:`matplotlib.figure.Figure` objects
built without :mod:`matplotlib.pyplot`, so they need no display (the Agg
canvas renders them) and are not kept alive by pyplot's figure registry:
:func:`save_figure` writes a PNG, and a notebook shows the returned figure
as a PNG whatever the matplotlib backend (every figure is made by one
factory as a :class:`~matplotlib.figure.Figure` subclass with
:meth:`_repr_png_`, which IPython's display calls; a bare
:class:`~matplotlib.figure.Figure` without pyplot would show only its
text, :obj:`<Figure size 600x466 with 1 Axes>`).

* :func:`plot_modularity_curve`: the paper's Fig. 4 (and Fig. 7 ablations)
* :func:`plot_tsne_grid`: the paper's Fig. 1 (left)
* :func:`plot_training_history`: loss and accuracy per epoch
* :func:`plot_pruning_report`: layer pruning, the paper's Fig. 9 and
  Fig. 10b (:func:`plot_pruned_curves`, :func:`plot_accuracy_vs_gain`)
* :func:`plot_cka_comparison`: :math:`|Q_i - Q_j|` beside linear CKA (Fig. 8)
* :func:`plot_adversarial_curves`: clean vs adversarial curves (Fig. 6a)
* :func:`plot_alignment_matrix`: layer-by-layer k-NN alignment within a
  model or across two, with its z against chance
* :func:`plot_training_dynamics`: modularity per epoch and layer (Fig. 6b)
* :func:`plot_linear_probes`: linear-probe accuracy beside the curve
  (:func:`separable_note`: where its train accuracy means little)
* :func:`plot_predicted_vs_true`, :func:`plot_confusion` and
  :func:`plot_metric_vs_T`: predicting the final accuracy from the first
  epochs (Vahedian et al., 2021)
* :func:`plot_benchmark`: the population benchmark's metrics per baseline
  and split
* :func:`plot_redundancy_report` and :func:`plot_block_removal`: which
  transformer blocks each score would remove, and the accuracy after
  removing them
"""
from pyg_dnnmod.plotting._curve import (
    curve_label,
    curve_settings,
    curve_title,
    plot_modularity_curve,
)
from pyg_dnnmod.plotting._training import plot_training_history
from pyg_dnnmod.plotting._tsne import plot_tsne_grid
from pyg_dnnmod.plotting._pruning import (
    plot_accuracy_vs_gain,
    plot_pruned_curves,
    plot_pruning_report,
)
from pyg_dnnmod.plotting._heatmaps import cka_title, plot_cka_comparison
from pyg_dnnmod.plotting._adversarial import plot_adversarial_curves
from pyg_dnnmod.plotting._alignment import (
    alignment_title,
    plot_alignment_matrix,
)
from pyg_dnnmod.plotting._dynamics import (
    default_dynamics_layers,
    plot_training_dynamics,
)
from pyg_dnnmod.plotting._probes import (
    plot_linear_probes,
    separable_layers,
    separable_note,
)
from pyg_dnnmod.plotting._save import save_figure
from pyg_dnnmod.plotting._redundancy import (
    plot_block_removal,
    plot_redundancy_report,
)
from pyg_dnnmod.plotting._benchmark import plot_benchmark
from pyg_dnnmod.plotting._accuracy_prediction import (
    plot_confusion,
    plot_metric_vs_T,
    plot_predicted_vs_true,
)

__all__ = [
    'plot_modularity_curve',
    'plot_tsne_grid',
    'plot_training_history',
    'plot_pruned_curves',
    'plot_accuracy_vs_gain',
    'plot_pruning_report',
    'plot_cka_comparison',
    'plot_adversarial_curves',
    'plot_alignment_matrix',
    'alignment_title',
    'plot_training_dynamics',
    'plot_linear_probes',
    'separable_layers',
    'separable_note',
    'plot_predicted_vs_true',
    'plot_confusion',
    'plot_metric_vs_T',
    'plot_benchmark',
    'plot_redundancy_report',
    'plot_block_removal',
    'cka_title',
    'default_dynamics_layers',
    'curve_settings',
    'curve_label',
    'curve_title',
    'save_figure',
]
