r"""Which blocks of a transformer are redundant, by label-free and
label-aware scores side by side, and their removal.

* :func:`block_influence`, :func:`angular_distance`, :func:`token_cosine`:
  the per-token, padding-masked scores of ShortGPT and Gromov et al.;
* :func:`scan_blocks`, :func:`layer_redundancy_report`,
  :func:`report_from_scan`, :func:`blocks_to_remove`,
  :func:`score_agreement`: every score per block in one table (with the
  modularity of the class partition and the k-NN label overlap when labels
  are given), the blocks each would remove, and how far they agree;
* :func:`remove_blocks`, :func:`block_layout`: the blocks removed from
  Hugging Face GPT-2, Llama-family, BERT and ViT models and timm ViTs,
  with the configuration kept consistent; :func:`heal_blocks`: a short
  fine-tune of the last blocks and the head afterwards.
"""
from pyg_dnnmod.redundancy._heal import heal_blocks
from pyg_dnnmod.redundancy._remove import block_layout, remove_blocks
from pyg_dnnmod.redundancy._report import (
    BASELINE_CHOICES,
    LABEL_SCORES,
    REDUNDANCY_SCORES,
    BlockScan,
    blocks_to_remove,
    layer_redundancy_report,
    report_from_scan,
    scan_blocks,
    score_agreement,
)
from pyg_dnnmod.redundancy._scores import (
    angular_distance,
    block_influence,
    token_cosine,
)

__all__ = [
    'block_influence',
    'angular_distance',
    'token_cosine',
    'scan_blocks',
    'BlockScan',
    'layer_redundancy_report',
    'report_from_scan',
    'blocks_to_remove',
    'score_agreement',
    'REDUNDANCY_SCORES',
    'LABEL_SCORES',
    'BASELINE_CHOICES',
    'remove_blocks',
    'block_layout',
    'heal_blocks',
]
