"""Numba helpers shared by the kernels, written to keep first-call compile time down.

Numba compiles an error path for every array-to-array slice assignment (``x[:] = y`` checks
the shapes and formats a message with Unicode operations): about 0.2-0.8 s of compilation per
kernel that uses one, for a check the kernels' own bookkeeping already guarantees. The loop
below does the same copy without it.
"""

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from numba import get_num_threads, njit


@njit(cache=True)
def copy_jit(dst, src):
    """``dst[:] = src`` for 1-d arrays of equal length, without the shape-error path."""
    for t in range(dst.shape[0]):
        dst[t] = src[t]


# One thread pool per thread count, created on first use and kept: a new pool per call cost
# 0.42 ms (thread start and join; 0.06 ms now), more than a small kernel's whole run.
_pools = {}
_pools_lock = threading.Lock()
_worker = threading.local()  # set in the pools' threads: run_parts from a part runs inline


def _mark_worker():
    _worker.active = True


def _pool(threads):
    with _pools_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(
                threads, thread_name_prefix="nla-run-parts", initializer=_mark_worker)
        return pool


def _forget_pools():
    # A forked child has none of its parent's threads: it starts its own pools.
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def run_parts(kernel, n, *args, parts_per_thread=4):
    """Run ``kernel(start, stop, *args)`` over ``[0, n)`` in contiguous parts on Numba's
    thread count of Python threads; ``kernel`` is compiled with ``nogil=True``.

    The alternative to ``prange`` for kernels whose parts are independent (each part writes its
    own rows): Numba's parallel compilation re-optimizes the whole loop body, 2-3 s of extra
    compile time on every first call, while releasing the GIL costs nothing at compile time.
    Results do not depend on the thread count (every row is computed the same way). Threads
    follow :func:`numba.get_num_threads`, so ``numba.set_num_threads`` and
    :func:`nla._threads.threads_for` apply here too. The threads are kept between calls (one
    pool per thread count); a ``run_parts`` reached from inside a part runs inline.

    Examples
    --------
    >>> import numpy as np
    >>> @njit(nogil=True)
    ... def square(start, stop, x, out):
    ...     for i in range(start, stop):
    ...         out[i] = x[i] * x[i]
    >>> x, out = np.arange(5.0), np.empty(5)
    >>> run_parts(square, 5, x, out)
    >>> out
    array([ 0.,  1.,  4.,  9., 16.])
    """
    threads = min(get_num_threads(), n)
    if threads <= 1 or getattr(_worker, "active", False):
        kernel(0, n, *args)
        return
    bounds = [n * p // (threads * parts_per_thread) for p in range(threads * parts_per_thread + 1)]
    parts = [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    ticket = itertools.count()  # shared; next() on it is atomic under the GIL

    def drain():  # run parts until none is left, each part taken by one thread
        for i in ticket:
            if i >= len(parts):
                return
            kernel(parts[i][0], parts[i][1], *args)

    # The caller drains too, beside threads - 1 pool threads: fewer wake-ups than one task
    # per part, which is most of the cost of a call on a small input.
    pool = _pool(threads - 1)
    helpers = [pool.submit(drain) for _ in range(threads - 1)]
    try:
        drain()
    finally:  # every part has finished before run_parts returns or raises; a helper that
        # has not started (the pool busy with another caller's) is cancelled, not waited for
        errors = [f.exception() for f in helpers if not f.cancel()]
    for error in errors:
        if error is not None:
            raise error
