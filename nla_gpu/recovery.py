"""CuPy kernels of the recovery area (GPU twin of ``nla.recovery._kernels``).

Same names and arguments as the Numba module. Dense measurements use two cuBLAS GEMVs per
pass (``A x`` then ``A^T w``); Gaussian measurements are regenerated block by block from the
counter-based RNG (never stored whole); entry sampling gathers ``<u_j, v_k>`` (SDDMM) and
multiplies by the sparse weight matrix with cuSPARSE (SpMM).
"""

import cupy
import cupyx.scipy.sparse as csp

from nla._random import gaussian_xp
from nla.recovery._kernels import MODE_ADJOINT, MODE_L1, MODE_L2  # noqa: F401

#: Rows of regenerated Gaussian measurements held at once (bounded memory).
_BLOCK_ENTRIES = 1 << 24


def _weights(res, mode):
    return cupy.sign(res) if mode == MODE_L1 else res


def dense_pass(A, x, y, mode, res):
    """Residuals into ``res`` and ``G = sum_i w_i A_i`` for stored measurements ``A``."""
    if mode == MODE_ADJOINT:
        return y @ A
    res[...] = A @ x - y
    return _weights(res, mode) @ A


def gaussian_matrix(key, n_rows, n_cols, dtype):
    """The stored Gaussian measurement matrix (same entries as the CPU, up to libm rounding)."""
    rows = cupy.arange(n_rows, dtype=cupy.uint64)[:, None]
    cols = cupy.arange(n_cols, dtype=cupy.uint64)[None, :]
    return gaussian_xp(cupy, key, rows, cols).astype(dtype, copy=False)


def _blocks(ids, D):
    step = max(1, _BLOCK_ENTRIES // max(D, 1))
    cols = cupy.arange(D, dtype=cupy.uint64)[None, :]
    for lo in range(0, ids.shape[0], step):
        yield lo, min(lo + step, ids.shape[0]), cols


def gaussian_pass(key, ids, D, x, y, mode, res):
    """:func:`dense_pass` with the rows ``ids`` of the Gaussian matrix regenerated on the fly."""
    G = cupy.zeros(D, dtype=cupy.float64)
    for lo, hi, cols in _blocks(ids, D):
        A = gaussian_xp(cupy, key, ids[lo:hi, None].astype(cupy.uint64), cols)
        if mode == MODE_ADJOINT:
            w = y[lo:hi]
        else:
            res[lo:hi] = A @ x - y[lo:hi]
            w = _weights(res[lo:hi], mode)
        G += w @ A
    return G.astype(x.dtype, copy=False)


def gaussian_forward(key, ids, D, x):
    """``<A_i, X>`` for regenerated Gaussian measurements, ``x = vec(X)``."""
    out = cupy.empty(ids.shape[0], dtype=x.dtype)
    for lo, hi, cols in _blocks(ids, D):
        out[lo:hi] = gaussian_xp(cupy, key, ids[lo:hi, None].astype(cupy.uint64), cols) @ x
    return out


def rowdot_pass(P, Q, y, mode):
    """Residuals ``sum_k P_ik Q_ik - y_i`` and their weights."""
    res = (P * Q).sum(axis=1) - y
    return res, _weights(res, mode)


def entry_forward(rows, cols, U, V):
    """``(U V^T)[rows[t], cols[t]]`` (a sampled dense-dense product)."""
    return (U[rows] * V[cols]).sum(axis=1)


def entry_rows_pass(indptr, cols, y, U, V, mode):
    """Row-sorted observations: residuals, weights and ``G V`` (cuSPARSE SpMM)."""
    d1 = indptr.shape[0] - 1
    if mode == MODE_ADJOINT:
        res, w = None, y
    else:
        rows = _rows_of(indptr, cols.shape[0])
        res = (U[rows] * V[cols]).sum(axis=1) - y
        w = _weights(res, mode)
    G = csp.csr_matrix((w, cols, indptr), shape=(d1, V.shape[0]))
    return res, w, G @ V


def _rows_of(indptr, n):
    return cupy.searchsorted(indptr[1:], cupy.arange(n), side="right")


def entry_cols_pass(cptr, rows_c, w_c, U):
    """``G^T U`` from the column-sorted observations (cuSPARSE SpMM)."""
    d2 = cptr.shape[0] - 1
    return csp.csr_matrix((w_c, rows_c, cptr), shape=(d2, U.shape[0])) @ U
