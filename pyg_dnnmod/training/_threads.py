r"""A fixed CPU thread count for a block of work.

Training on the CPU sums in an order that depends on the number of torch
threads, so the same seed gives a slightly different network with another
count. Everything the package trains and caches (the default model, the
pruning models, the zoo) trains under :func:`fixed_threads` and keeps the
count in its key, so a cached result never depends on who filled the cache.
"""
import contextlib
from typing import Iterator, Optional

import torch

__all__ = ['check_threads', 'fixed_threads']


def check_threads(num_threads: Optional[int],
                  name: str = 'num_threads') -> Optional[int]:
    r"""Returns :obj:`num_threads` if it is :obj:`None` or an integer
    :math:`\geq 1`, else raises a :class:`ValueError` naming :obj:`name`.

    Example:
        >>> check_threads(2)
        2
        >>> check_threads(0)
        Traceback (most recent call last):
        ...
        ValueError: 'num_threads' must be None or an integer >= 1 (got 0)
    """
    if num_threads is not None and (isinstance(num_threads, bool)
                                    or not isinstance(num_threads, int)
                                    or num_threads < 1):
        raise ValueError(f"'{name}' must be None or an integer >= 1 "
                         f"(got {num_threads!r})")
    return num_threads


@contextlib.contextmanager
def fixed_threads(num_threads: Optional[int]) -> Iterator[None]:
    r"""Runs the block with :obj:`torch.set_num_threads(num_threads)` and
    restores the previous count afterwards; :obj:`None` changes nothing.

    A fixed count makes a CPU training run repeatable bit for bit on a
    machine, whatever its number of cores.

    Example:
        >>> before = torch.get_num_threads()
        >>> with fixed_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    num_threads = check_threads(num_threads)
    if num_threads is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)
