r"""The paper's experiments as functions returning pandas DataFrames: the
Python twins of the ``pyg-dnnmod`` commands (the command line is a thin layer
over them; figures come from :mod:`pyg_dnnmod.plotting`).

* :func:`modularity_curves` and :func:`summarize`: ``pyg-dnnmod curve``
* :func:`tsne_panels`: ``pyg-dnnmod tsne``
* :func:`train_model`: ``pyg-dnnmod train``
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
]
