r"""CPU thread counts for a block of work: a fixed count, and one thread for
small tensor work.

torch runs every CPU op on more than about 32,000 values on all of its
intra-op threads, and each such op ends with the threads waiting for one
another. On a machine whose other cores are busy (a shared node, a second
job) one of them is often not scheduled, and every such op then costs
milliseconds instead of microseconds: a k-NN symmetrisation of 1,500 edges
took 16 ms with two threads and a busy second core, 0.9 ms with one. The
package's small ops (merging a block's top-k, symmetrising, sorting edges)
therefore run on one thread; its large ones (matrix products, whole-layer
passes) keep every thread. Results never depend on the thread count.

:func:`fixed_threads` is also what training uses for a repeatable count
(see :mod:`pyg_dnnmod.training`).
"""
import contextlib
from typing import ContextManager, Iterator, Optional

import torch

__all__ = ['check_threads', 'fixed_threads', 'small_work', 'SMALL_WORK']


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


#: Work on fewer values than this runs on one intra-op thread.
SMALL_WORK = 2**20


def small_work(numel: int = 0) -> ContextManager[None]:
    r"""Runs the block on one intra-op thread (:func:`fixed_threads`) when
    :obj:`numel` (the values the block works on) is below
    :obj:`SMALL_WORK`; otherwise changes nothing. Setting the thread count
    costs well under a microsecond.

    Example:
        >>> before = torch.get_num_threads()
        >>> with small_work(1000):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    return fixed_threads(1 if numel < SMALL_WORK else None)
