r"""Intra-op threads for small tensor work.

torch runs every CPU op on more than about 32,000 values on all of its
intra-op threads, and each such op ends with the threads waiting for one
another. On a machine whose other cores are busy (a shared node, a second
job) one of them is often not scheduled, and every such op then costs
milliseconds instead of microseconds: a k-NN symmetrisation of 1,500 edges
took 16 ms with two threads and a busy second core, 0.9 ms with one. The
package's small ops (merging a block's top-k, symmetrising, sorting edges)
therefore run on one thread; its large ones (matrix products, whole-layer
passes) keep every thread. Results never depend on the thread count.
"""
import contextlib
from typing import Iterator

import torch

#: Work on fewer values than this runs on one intra-op thread.
SMALL_WORK = 2**20


@contextlib.contextmanager
def small_work(numel: int = 0) -> Iterator[None]:
    r"""Runs the block on one intra-op thread when :obj:`numel` (the values
    the block works on) is below :obj:`SMALL_WORK`, and restores the
    caller's thread count afterwards; otherwise changes nothing. Setting
    the thread count costs well under a microsecond.

    Example:
        >>> before = torch.get_num_threads()
        >>> with small_work(1000):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    before = torch.get_num_threads()
    if numel >= SMALL_WORK or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
