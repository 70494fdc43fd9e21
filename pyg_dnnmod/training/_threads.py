r"""A fixed CPU thread count for a block of work.

Training on the CPU sums in an order that depends on the number of torch
threads, so the same seed gives a slightly different network with another
count. Everything the package trains and caches (the default model, the
pruning models, the zoo) trains under :func:`fixed_threads` and keeps the
count in its key, so a cached result never depends on who filled the cache.
"""
from pyg_dnnmod.utils.threads import check_threads, fixed_threads

__all__ = ['check_threads', 'fixed_threads']
