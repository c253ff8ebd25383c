"""Numba kernels of the recovery area (CPU twin of ``nla_gpu.recovery``).

Every kernel works on the flattened problem: a model ``X = U V^T`` (``U = V`` in the
symmetric case), measurements ``<A_i, X>``, residuals ``r_i = <A_i, X> - y_i`` and weights
``w_i`` chosen by ``mode``:

* ``MODE_ADJOINT`` (0): ``w = y`` as given, no residuals (the plain adjoint ``sum_i y_i A_i``);
* ``MODE_L1`` (1): ``w_i = sign(r_i)`` (a sub-gradient of the l1 loss; ``sign(0) = 0``);
* ``MODE_L2`` (2): ``w_i = r_i`` (the gradient of the squared loss).

Parallel loops own their outputs (a thread-private accumulator that is reduced afterwards,
or one output row per iteration), so no atomics are needed and the result is deterministic
for a fixed thread count.
"""

import numpy as np
from numba import get_num_threads, njit, prange

from .._random import gaussian_block_jit, gaussian_jit
from .._threads import threads_for

MODE_ADJOINT, MODE_L1, MODE_L2 = 0, 1, 2

#: Passes with less work (multiply-adds) run on one thread: SubGM makes thousands of short
#: passes, and each parallel region costs a thread hand-off that dominates a pass this small
#: (by 10x when the cores are shared with other processes).
PARALLEL_WORK = 1 << 21


# Reassociation lets LLVM vectorise the long dot products and axpys; NaN/inf semantics are
# kept (no 'nnan'/'ninf'), so a diverging iterate is still detected by the driver.
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(inline="always", cache=True)
def _weight(r, mode):
    # Branch-free sign (sign(0) = 0); a NaN residual gives 0 here but still poisons the loss,
    # which the driver checks every iteration.
    sgn = np.float64(r > 0.0) - np.float64(r < 0.0)
    return r if mode == MODE_L2 else sgn


@njit(inline="always", cache=True)
def _chunk(c, n_chunks, n):
    return c * n // n_chunks, (c + 1) * n // n_chunks


@njit(parallel=True, cache=True)
def _reduce_rows(acc, out):
    for j in prange(out.shape[0]):
        s = 0.0
        for c in range(acc.shape[0]):
            s += acc[c, j]
        out[j] = s


@njit(inline="always", cache=True)
def _measure_row(a, i, x, y, mode, res, g):
    # Measurement i (row a of the flattened A_i): its residual into res[i] and its weight
    # times a added to the accumulator g. Inlined, so it takes the caller's fastmath flags.
    if mode == MODE_ADJOINT:
        w = y[i]
    else:
        s = 0.0
        for j in range(a.shape[0]):
            s += a[j] * x[j]
        r = s - y[i]
        res[i] = r
        w = _weight(r, mode)
    if w != 0.0:
        for j in range(a.shape[0]):
            g[j] += w * a[j]


@njit(parallel=True, cache=True, fastmath=_FAST)
def _dense_pass(A, x, y, mode, res, acc):
    m = A.shape[0]
    n_chunks = acc.shape[0]
    for c in prange(n_chunks):
        lo, hi = _chunk(c, n_chunks, m)
        g = acc[c]
        g[:] = 0.0
        for i in range(lo, hi):
            _measure_row(A[i], i, x, y, mode, res, g)


def _n_chunks(m):
    return max(1, min(get_num_threads(), m))


def dense_pass(A, x, y, mode, res):
    """One read of the stored measurements ``A`` (m x D): residuals into ``res`` and
    ``G = sum_i w_i A_i`` (length D), fused so that each row ``A_i`` is loaded once."""
    with threads_for(A.size, PARALLEL_WORK):
        acc = np.empty((_n_chunks(A.shape[0]), A.shape[1]), dtype=np.result_type(A, x))
        _dense_pass(A, x, y, mode, res, acc)
        G = np.empty(A.shape[1], dtype=acc.dtype)
        _reduce_rows(acc, G)
    return G


def gaussian_matrix(key, n_rows, n_cols, dtype):
    """The stored Gaussian measurement matrix: row ``i`` is ``gaussian_jit(key, i, .)``."""
    out = np.empty((n_rows, n_cols), dtype=np.float64)
    gaussian_block_jit(np.uint64(key), 0, 0, out)
    return out.astype(dtype, copy=False)


# No fastmath for the regenerating kernels: gaussian_jit is inlined, and contracting its
# Box-Muller arithmetic would make A_i differ (in the last bits) from the stored matrix.
@njit(parallel=True, cache=True)
def _gaussian_pass(key, ids, D, x, y, mode, res, acc, buf):
    m = ids.shape[0]
    n_chunks = acc.shape[0]
    for c in prange(n_chunks):
        lo, hi = _chunk(c, n_chunks, m)
        g = acc[c]
        a = buf[c]
        g[:] = 0.0
        for i in range(lo, hi):
            row = np.uint64(ids[i])
            # Regenerate A_i once into a thread-local buffer, then use it twice.
            for j in range(D):
                a[j] = gaussian_jit(key, row, np.uint64(j))
            _measure_row(a, i, x, y, mode, res, g)


def gaussian_pass(key, ids, D, x, y, mode, res):
    """:func:`dense_pass` for Gaussian measurements regenerated from ``(key, ids[i], j)``."""
    with threads_for(20 * ids.shape[0] * D, PARALLEL_WORK):  # ~20 flops per regenerated entry
        n_chunks = _n_chunks(ids.shape[0])
        acc = np.empty((n_chunks, D), dtype=np.float64)
        buf = np.empty((n_chunks, D), dtype=np.float64)
        _gaussian_pass(np.uint64(key), ids, D, x, y, mode, res, acc, buf)
        G = np.empty(D, dtype=np.float64)
        _reduce_rows(acc, G)
    return G.astype(x.dtype, copy=False)


@njit(parallel=True, cache=True)
def _gaussian_forward(key, ids, D, x, out):
    for i in prange(ids.shape[0]):
        row = np.uint64(ids[i])
        s = 0.0
        for j in range(D):
            s += gaussian_jit(key, row, np.uint64(j)) * x[j]
        out[i] = s


def gaussian_forward(key, ids, D, x):
    """``<A_i, X>`` for regenerated Gaussian measurements, ``x = vec(X)``."""
    out = np.empty(ids.shape[0], dtype=x.dtype)
    with threads_for(20 * ids.shape[0] * D, PARALLEL_WORK):
        _gaussian_forward(np.uint64(key), ids, D, x, out)
    return out


@njit(parallel=True, cache=True, fastmath=_FAST)
def _rowdot_pass(P, Q, y, mode, res, w):
    for i in prange(P.shape[0]):
        s = 0.0
        for k in range(P.shape[1]):
            s += P[i, k] * Q[i, k]
        r = s - y[i]
        res[i] = r
        w[i] = _weight(r, mode)


def rowdot_pass(P, Q, y, mode):
    """Residuals ``sum_k P_ik Q_ik - y_i`` of rank-one measurements and their weights."""
    res = np.empty(P.shape[0], dtype=P.dtype)
    w = np.empty_like(res)
    with threads_for(P.size, PARALLEL_WORK):
        _rowdot_pass(P, Q, y, mode, res, w)
    return res, w


@njit(parallel=True, cache=True, fastmath=_FAST)
def _entry_forward(rows, cols, U, V, out):
    for t in prange(rows.shape[0]):
        s = 0.0
        j, k = rows[t], cols[t]
        for q in range(U.shape[1]):
            s += U[j, q] * V[k, q]
        out[t] = s


def entry_forward(rows, cols, U, V):
    """``(U V^T)[rows[t], cols[t]]`` for every observation ``t``."""
    out = np.empty(rows.shape[0], dtype=U.dtype)
    with threads_for(rows.shape[0] * U.shape[1], PARALLEL_WORK):
        _entry_forward(rows, cols, U, V, out)
    return out


@njit(parallel=True, cache=True, fastmath=_FAST)
def _entry_rows_pass(indptr, cols, y, U, V, mode, res, w, QU):
    r_ = V.shape[1]
    for j in prange(indptr.shape[0] - 1):
        acc = np.zeros(r_, dtype=QU.dtype)  # the row of G V, kept out of QU (no aliasing)
        for t in range(indptr[j], indptr[j + 1]):
            k = cols[t]
            if mode == MODE_ADJOINT:
                wt = y[t]
            else:
                s = 0.0
                for q in range(r_):
                    s += U[j, q] * V[k, q]
                r = s - y[t]
                res[t] = r
                wt = _weight(r, mode)
                w[t] = wt
            if wt != 0.0:
                for q in range(r_):
                    acc[q] += wt * V[k, q]
        for q in range(r_):  # a loop, not QU[j] = acc: no shape-error path to compile
            QU[j, q] = acc[q]


def entry_rows_pass(indptr, cols, y, U, V, mode):
    """Observations sorted by row (CSR ``indptr``/``cols``): residuals, weights and
    ``G V`` with ``G = sum_t w_t e_{row_t} e_{col_t}^T``. Each row of ``G V`` belongs to one
    loop iteration, so the loop is race-free."""
    n = cols.shape[0]
    res = np.empty(n, dtype=U.dtype)
    w = np.empty(n, dtype=U.dtype) if mode != MODE_ADJOINT else y
    QU = np.empty((indptr.shape[0] - 1, V.shape[1]), dtype=np.result_type(U, V))
    with threads_for(2 * cols.shape[0] * V.shape[1], PARALLEL_WORK):
        _entry_rows_pass(indptr, cols, y, U, V, mode, res, w, QU)
    return res, w, QU


@njit(parallel=True, cache=True, fastmath=_FAST)
def _entry_cols_pass(cptr, rows_c, w_c, U, QV):
    r_ = U.shape[1]
    for k in prange(cptr.shape[0] - 1):
        acc = np.zeros(r_, dtype=QV.dtype)
        for t in range(cptr[k], cptr[k + 1]):
            wt = w_c[t]
            if wt != 0.0:
                j = rows_c[t]
                for q in range(r_):
                    acc[q] += wt * U[j, q]
        for q in range(r_):
            QV[k, q] = acc[q]


def entry_cols_pass(cptr, rows_c, w_c, U):
    """``G^T U`` from the observations sorted by column (CSC ``cptr``/``rows_c``) and their
    weights ``w_c`` in that order (again one output row per loop iteration)."""
    QV = np.empty((cptr.shape[0] - 1, U.shape[1]), dtype=U.dtype)
    with threads_for(rows_c.shape[0] * U.shape[1], PARALLEL_WORK):
        _entry_cols_pass(cptr, rows_c, w_c, U, QV)
    return QV
