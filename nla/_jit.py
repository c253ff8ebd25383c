"""Numba helpers shared by the kernels, written to keep first-call compile time down.

Numba compiles an error path for every array-to-array slice assignment (``x[:] = y`` checks
the shapes and formats a message with Unicode operations): about 0.2-0.8 s of compilation per
kernel that uses one, for a check the kernels' own bookkeeping already guarantees. The loop
below does the same copy without it.
"""

from concurrent.futures import ThreadPoolExecutor

from numba import get_num_threads, njit


@njit(cache=True)
def copy_jit(dst, src):
    """``dst[:] = src`` for 1-d arrays of equal length, without the shape-error path."""
    for t in range(dst.shape[0]):
        dst[t] = src[t]


def run_parts(kernel, n, *args, parts_per_thread=4):
    """Run ``kernel(start, stop, *args)`` over ``[0, n)`` in contiguous parts on Numba's
    thread count of Python threads; ``kernel`` is compiled with ``nogil=True``.

    The alternative to ``prange`` for kernels whose parts are independent (each part writes its
    own rows): Numba's parallel compilation re-optimizes the whole loop body, 2-3 s of extra
    compile time on every first call, while releasing the GIL costs nothing at compile time.
    Results do not depend on the thread count (every row is computed the same way). Threads
    follow :func:`numba.get_num_threads`, so ``numba.set_num_threads`` and
    :func:`nla._threads.threads_for` apply here too.

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
    if threads <= 1:
        kernel(0, n, *args)
        return
    bounds = [n * p // (threads * parts_per_thread) for p in range(threads * parts_per_thread + 1)]
    with ThreadPoolExecutor(threads) as pool:
        done = [pool.submit(kernel, a, b, *args) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        for future in done:
            future.result()  # re-raises a kernel's exception
