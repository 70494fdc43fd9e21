r"""The paper's experiments as functions returning pandas DataFrames: the
Python twins of the ``pyg-dnnmod`` commands (the command line is a thin layer
over them; figures come from :mod:`pyg_dnnmod.plotting`).

* :func:`modularity_curves` and :func:`summarize`: ``pyg-dnnmod curve``
* :func:`tsne_panels`: ``pyg-dnnmod tsne``
* :func:`train_model`: ``pyg-dnnmod train``
* :func:`cka_comparison`: ``pyg-dnnmod cka`` (:math:`|Q_i - Q_j|` beside
  linear CKA)
* :func:`adversarial_curves`: ``pyg-dnnmod attack``
* :func:`training_dynamics`: ``pyg-dnnmod dynamics``
* :func:`linear_probes`: ``pyg-dnnmod probe``
* :func:`pruning_experiment` and :func:`layer_removal_sweep`:
  ``pyg-dnnmod prune``
* :func:`gnn_on_snapshots`: GNNs on the snapshot sequence
* :func:`accuracy_prediction`, :func:`width_transfer`, :func:`time_savings`
  and :func:`metric_vs_T`: ``pyg-dnnmod predict`` (the final accuracy of a
  zoo's networks from their first epochs)
* :func:`run_benchmark` and :func:`leaderboard`: ``pyg-dnnmod benchmark``
  (the population benchmark of
  :class:`~pyg_dnnmod.weights.DNNDynamicsDataset`)
* :func:`block_removal_comparison`: ``pyg-dnnmod redundancy --compare``
  (transformer blocks removed as each redundancy score chooses, healed)
"""
from pyg_dnnmod.experiments._curves import (
    CURVE_COLUMNS,
    SETTING_COLUMNS,
    modularity_curves,
    summarize,
    take_samples,
)
from pyg_dnnmod.experiments._training import (
    HISTORY_FILE,
    train_model,
    write_csv_atomic,
)
from pyg_dnnmod.experiments.adversarial import (
    ADVERSARIAL_COLUMNS,
    adversarial_curves,
)
from pyg_dnnmod.experiments.cka import (
    CKA_COLUMNS,
    cka_comparison,
    cka_matrices,
)
from pyg_dnnmod.experiments.dynamics import (
    DYNAMICS_COLUMNS,
    dynamics_from_checkpoints,
    training_dynamics,
)
from pyg_dnnmod.experiments.gnn import gnn_on_snapshots
from pyg_dnnmod.experiments.block_removal import (
    BLOCK_REMOVAL_COLUMNS,
    block_removal_comparison,
    summarize_block_removal,
)
from pyg_dnnmod.experiments.probes import (
    PROBE_COLUMNS,
    linear_probes,
    probe_accuracy,
)
from pyg_dnnmod.experiments.pruning import (
    PRUNING_COLUMNS,
    PruningResult,
    gain_accuracy_correlation,
    largest_gain_layers,
    layer_removal_sweep,
    pruning_experiment,
    removal_order,
)
from pyg_dnnmod.experiments.final_accuracy import (
    FEATURE_SETS,
    accuracy_features,
    accuracy_prediction,
    cross_validate,
    feature_table,
    graph_features,
    hyperparameter_features,
    metric_vs_T,
    non_degenerate,
    parameter_statistics,
    prediction_metrics,
    quantile_bins,
    time_savings,
    weight_statistics_features,
    width_transfer,
)
from pyg_dnnmod.experiments.benchmark import (
    BASELINES,
    benchmark_features,
    leaderboard,
    leaderboard_markdown,
    predict_baseline,
    run_benchmark,
)
from pyg_dnnmod.experiments._tsne import (
    TSNE_COLUMNS,
    tsne_embedding,
    tsne_panels,
)

__all__ = [
    'modularity_curves',
    'summarize',
    'tsne_panels',
    'tsne_embedding',
    'train_model',
    'take_samples',
    'write_csv_atomic',
    'CURVE_COLUMNS',
    'SETTING_COLUMNS',
    'TSNE_COLUMNS',
    'HISTORY_FILE',
    'cka_comparison',
    'cka_matrices',
    'CKA_COLUMNS',
    'adversarial_curves',
    'ADVERSARIAL_COLUMNS',
    'training_dynamics',
    'dynamics_from_checkpoints',
    'DYNAMICS_COLUMNS',
    'linear_probes',
    'probe_accuracy',
    'PROBE_COLUMNS',
    'pruning_experiment',
    'layer_removal_sweep',
    'PruningResult',
    'removal_order',
    'largest_gain_layers',
    'gain_accuracy_correlation',
    'PRUNING_COLUMNS',
    'gnn_on_snapshots',
    'block_removal_comparison',
    'summarize_block_removal',
    'BLOCK_REMOVAL_COLUMNS',
    'accuracy_prediction',
    'width_transfer',
    'time_savings',
    'metric_vs_T',
    'non_degenerate',
    'feature_table',
    'graph_features',
    'accuracy_features',
    'hyperparameter_features',
    'weight_statistics_features',
    'parameter_statistics',
    'cross_validate',
    'quantile_bins',
    'prediction_metrics',
    'FEATURE_SETS',
    'BASELINES',
    'benchmark_features',
    'predict_baseline',
    'run_benchmark',
    'leaderboard',
    'leaderboard_markdown',
]
