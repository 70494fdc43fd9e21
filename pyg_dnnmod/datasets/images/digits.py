r"""Translated handwritten digits: the offline default data.

scikit-learn ships 1,797 real 8x8 handwritten digits with the package, so they
are available on a machine without internet. In raw pixels they are already
almost perfectly clustered (k=3 cosine k-NN modularity of the class partition
about 0.86), so no modularity curve could rise through a network. Placing each
digit at a random offset in a larger canvas destroys that pixel-level
alignment (raw-pixel modularity about 0.2) while keeping the classes: a small
CNN has to learn translation-invariant features, and its layer-wise modularity
rises with depth as in the paper.
"""
import functools
from typing import Tuple

import numpy as np
import torch
from torch import Tensor

#: Per-channel mean of the plain 8x8 digits scaled to :obj:`[0, 1]`.
DIGITS_MEAN: Tuple[float] = (0.30526028624095713, )
#: Per-channel standard deviation of the plain 8x8 digits.
DIGITS_STD: Tuple[float] = (0.3760492217920148, )
#: Per-channel mean of the digits translated into a 16x16 canvas. It does not
#: depend on the offsets: every digit keeps all its pixels, so the mean is
#: :obj:`DIGITS_MEAN * 64 / 256`.
TRANSLATED_DIGITS_MEAN: Tuple[float] = (0.07631507156023928, )
#: Per-channel standard deviation of the digits translated into a 16x16 canvas
#: (also independent of the offsets).
TRANSLATED_DIGITS_STD: Tuple[float] = (0.22983738761204262, )

_SPLITS = ('all', 'train', 'test')


@functools.lru_cache(maxsize=1)
def _digits_tensors() -> Tuple[Tensor, Tensor]:
    # Parsing scikit-learn's CSV takes a noticeable fraction of a second; the
    # callers clone, so the cached tensors are never modified.
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    return images, labels


def digits_split_indices(
    labels: Tensor,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Tuple[Tensor, Tensor]:
    r"""Splits sample indices into disjoint stratified train and test sets.

    Every class contributes :math:`\mathrm{round}(n_c \cdot f)` random samples
    to the test set and the rest to the training set, so both sets keep the
    class proportions.

    Args:
        labels (torch.Tensor): Integer class labels :obj:`[N]`.
        test_fraction (float, optional): The fraction :math:`f` of every class
            that goes to the test set, in :math:`(0, 1)`.
            (default: :obj:`0.2`)
        seed (int, optional): The random seed. (default: :obj:`0`)

    Returns:
        (torch.Tensor, torch.Tensor): The sorted training and test indices.

    Example:
        >>> labels = torch.tensor([0] * 10 + [1] * 5)
        >>> train_idx, test_idx = digits_split_indices(labels, 0.2)
        >>> labels[test_idx].tolist()
        [0, 0, 1]
        >>> len(train_idx) + len(test_idx)
        15
    """
    test_fraction = float(test_fraction)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"'test_fraction' must lie in (0, 1) "
                         f"(got {test_fraction})")
    labels = torch.as_tensor(labels).long()
    gen = torch.Generator().manual_seed(int(seed))
    is_test = torch.zeros(labels.numel(), dtype=torch.bool)
    for c in labels.unique().tolist():
        idx = (labels == c).nonzero().view(-1)
        num_test = int(round(idx.numel() * test_fraction))
        perm = torch.randperm(idx.numel(), generator=gen)
        is_test[idx[perm[:num_test]]] = True
    return (~is_test).nonzero().view(-1), is_test.nonzero().view(-1)


def load_digits_images(
    translated: bool = True,
    canvas: int = 16,
    seed: int = 0,
    split: str = 'all',
    test_fraction: float = 0.2,
) -> Tuple[Tensor, Tensor]:
    r"""Loads scikit-learn's 1,797 handwritten digits as images in
    :obj:`[0, 1]`, optionally translated into a larger canvas.

    The 8x8 digits (integer intensities :obj:`0..16`) are divided by 16. With
    :obj:`translated=True`, digit :math:`i` is pasted at offset
    :math:`(r_i, c_i)`, drawn uniformly from
    :math:`\{0, \ldots, \mathrm{canvas} - 8\}^2`, into an otherwise zero
    canvas. The offsets are drawn for all 1,797 digits from :obj:`seed` before
    splitting, so a sample looks the same in every split.

    The stratified :obj:`"train"` / :obj:`"test"` split (see
    :func:`digits_split_indices`) is also drawn from :obj:`seed`, so that a
    model can be trained on one part and analysed on the other, disjoint one.
    Normalisation constants: :obj:`DIGITS_MEAN` / :obj:`DIGITS_STD` for plain
    digits and :obj:`TRANSLATED_DIGITS_MEAN` / :obj:`TRANSLATED_DIGITS_STD`
    for a 16x16 canvas (for another canvas size :math:`s` the mean is
    :math:`\mu_8 \cdot 64 / s^2`).

    Args:
        translated (bool, optional): If set to :obj:`False`, returns the plain
            8x8 digits and ignores :obj:`canvas`. (default: :obj:`True`)
        canvas (int, optional): The side length of the canvas, at least 8.
            (default: :obj:`16`)
        seed (int, optional): The random seed of the offsets and of the split.
            (default: :obj:`0`)
        split (str, optional): :obj:`"all"`, :obj:`"train"` or
            :obj:`"test"`. (default: :obj:`"all"`)
        test_fraction (float, optional): The fraction of every class in the
            test split. (default: :obj:`0.2`)

    Returns:
        (torch.Tensor, torch.Tensor): Images :obj:`[N, 1, H, W]`
        (:obj:`torch.float32`) and labels :obj:`[N]` (:obj:`torch.long`).

    Example:
        >>> x, y = load_digits_images(split='train')
        >>> x.shape, y.shape
        (torch.Size([1438, 1, 16, 16]), torch.Size([1438]))
        >>> x.dtype, y.dtype
        (torch.float32, torch.int64)
        >>> x, y = load_digits_images(translated=False)
        >>> x.shape, float(x.max())
        (torch.Size([1797, 1, 8, 8]), 1.0)
    """
    if split not in _SPLITS:
        raise ValueError(f"'split' must be one of {_SPLITS} (got {split!r})")
    if isinstance(canvas, bool) or not isinstance(canvas, int):
        raise TypeError(f"'canvas' must be an integer (got {canvas!r})")
    if translated and canvas < 8:
        raise ValueError(f"'canvas' must be >= 8, the size of a digit "
                         f"(got {canvas})")

    images, labels = _digits_tensors()
    images, labels = images.clone(), labels.clone()
    num_images = images.size(0)

    if translated:
        gen = torch.Generator().manual_seed(int(seed))
        offsets = torch.randint(0, canvas - 8 + 1, (num_images, 2),
                                generator=gen)
        out = images.new_zeros(num_images, canvas, canvas)
        for i, (r, c) in enumerate(offsets.tolist()):
            out[i, r:r + 8, c:c + 8] = images[i]
        images = out
    images = images.unsqueeze(1).contiguous()

    if split != 'all':
        train_idx, test_idx = digits_split_indices(labels, test_fraction,
                                                   seed)
        idx = train_idx if split == 'train' else test_idx
        images, labels = images[idx], labels[idx]
    return images, labels
