"""Thread control shared by the CPU kernels.

Two hazards on small shared machines: BLAS threads nested inside Numba's threads (or woken
for tiny factorizations) oversubscribe the cores and spin-wait, and waking a Numba thread team
costs more than a short pass saves. Measured on the 2-core machine: 18x slower Gram products
with nested BLAS threads, 10-100x slower small QRs/SVDs when other processes share the cores,
and ~35 ms per parallel launch on a loaded machine against ~10 us on an idle one.
"""

import contextlib

# Numba's np.dot / np.linalg call SciPy's BLAS and LAPACK: load them now, so that
# threadpoolctl finds (and pins) that library too when it first scans the process.
import scipy.linalg.cython_lapack  # noqa: F401
from numba import get_num_threads, set_num_threads

_controller = []


def one_blas_thread():
    """Context in which BLAS and LAPACK run on one thread.

    Examples
    --------
    >>> import numpy as np
    >>> with one_blas_thread():
    ...     q, r = np.linalg.qr(np.ones((4, 2)))
    """
    if not _controller:  # scanning the loaded libraries costs milliseconds: do it once
        from threadpoolctl import ThreadpoolController

        _controller.append(ThreadpoolController())
    return _controller[0].limit(limits=1, user_api="blas")


@contextlib.contextmanager
def threads_for(work, minimum):
    """Run the enclosed Numba kernels on one thread when ``work < minimum``.

    Examples
    --------
    >>> from numba import get_num_threads
    >>> with threads_for(10, minimum=1000):
    ...     get_num_threads()
    1
    """
    if work >= minimum:
        yield
        return
    before = get_num_threads()
    set_num_threads(1)
    try:
        yield
    finally:
        set_num_threads(before)
