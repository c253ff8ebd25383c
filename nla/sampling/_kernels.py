"""Numba kernels of the sampling area (CPU twin of ``nla_gpu.sampling``).

The drivers in this package call these names on NumPy arrays; ``nla_gpu.sampling`` has the
same names on CuPy arrays. Row-wise loops run in parallel over rows (each thread owns its
output entries, so no atomics). Dense factorizations go to LAPACK/BLAS through NumPy/SciPy.
"""

import numpy as np
import scipy.linalg as sla
from numba import njit, prange

from .._random import hash_jit, uniform_jit

# Reassociation and FMA contraction let the inner loops vectorise; no NaN/inf assumptions are
# made (inputs are checked finite by the drivers anyway).
_FAST = {"reassoc", "contract"}


def householder_qr(A):
    """Economic Householder QR ``A = Q R`` (LAPACK ``geqrf``/``orgqr``)."""
    return sla.qr(A, mode="economic", check_finite=False)


def gram(U, g=None):
    """``U^T diag(g) U`` (``U^T U`` when ``g`` is None) as a small host array; ``g >= 0``."""
    if g is None:
        return U.T @ U
    Y = U * np.sqrt(g)[:, None]
    return Y.T @ Y


@njit(parallel=True, cache=True, fastmath=_FAST)
def _row_sq_norms(Y, out):
    for i in prange(Y.shape[0]):
        s = 0.0
        for j in range(Y.shape[1]):
            s += Y[i, j] * Y[i, j]
        out[i] = s


def row_sq_norms(Y):
    """Squared Euclidean norm of every row of ``Y`` (float64)."""
    out = np.empty(Y.shape[0], dtype=np.float64)
    _row_sq_norms(np.ascontiguousarray(Y), out)
    return out


@njit(parallel=True, cache=True, fastmath=_FAST)
def _row_tri_sq_norms(A, T, out):
    # ||T a_i||^2 with T lower triangular: half the flops of a_i^T M a_i and a sum of squares,
    # so the result can never come out negative.
    d = A.shape[1]
    for i in prange(A.shape[0]):
        s = 0.0
        for j in range(d):
            t = 0.0
            for k in range(j + 1):
                t += T[j, k] * A[i, k]
            s += t * t
        out[i] = s


def row_quadratic_forms(A, T):
    """``a_i^T M a_i`` for every row ``a_i`` of ``A``, with ``M = T^T T``, ``T`` lower triangular.

    Callers pass ``T = L^{-1}`` for the Cholesky factor ``L`` of ``M^{-1}`` (or of any Gram
    matrix whose inverse is ``M``): this is the leverage-score formula without forming ``A T^T``.
    """
    out = np.empty(A.shape[0], dtype=np.float64)
    _row_tri_sq_norms(np.ascontiguousarray(A), np.ascontiguousarray(T, dtype=np.float64), out)
    return out


@njit(parallel=True, cache=True)
def _bernoulli(key, q, keep):
    for i in prange(q.shape[0]):
        keep[i] = uniform_jit(hash_jit(key, np.uint64(i), np.uint64(0))) < q[i]


def bernoulli_mask(key, q):
    """Keep row ``i`` when the counter-based uniform ``U(key, i, 0)`` is below ``q[i]``."""
    keep = np.empty(q.shape[0], dtype=np.bool_)
    _bernoulli(np.uint64(key), np.ascontiguousarray(q, dtype=np.float64), keep)
    return keep


@njit(parallel=True, cache=True)
def _iid(key, cdf, last, out):
    total = cdf[cdf.shape[0] - 1]
    for j in prange(out.shape[0]):
        u = uniform_jit(hash_jit(key, np.uint64(j), np.uint64(0))) * total
        out[j] = min(np.searchsorted(cdf, u, side="right"), last)


def iid_indices(key, cdf, m, last):
    """``m`` draws from the distribution with cumulative weights ``cdf`` (with replacement).

    Draw ``j`` is the row whose cdf interval holds ``U(key, j, 0) * cdf[-1]``; rows with zero
    weight have empty intervals and are never drawn. ``last`` (the last row with positive
    weight) guards the one rounding case ``u * total == total``.
    """
    out = np.empty(m, dtype=np.int64)
    _iid(np.uint64(key), np.ascontiguousarray(cdf, dtype=np.float64), last, out)
    return out


@njit(parallel=True, cache=True)
def _irls_weights(r, p, omega, delta, scale, out):
    e = p - 2.0
    for i in prange(r.shape[0]):
        a = max(abs(r[i]), delta) / scale
        out[i] = omega[i] * a**e


def irls_weights(r, p, omega, delta):
    """IRLS weights ``omega_i * max(|r_i|, delta)^(p - 2)``, up to one common positive factor.

    Residuals are divided by ``max|r|`` first so ``|r|^(p-2)`` neither overflows for large
    ``p`` nor underflows; a common factor does not change the weighted least-squares solution.
    """
    scale = max(float(np.max(np.abs(r))), delta)
    out = np.empty(r.shape[0], dtype=np.float64)
    _irls_weights(r, float(p), omega, float(delta), scale, out)
    return out


@njit(parallel=True, cache=True)
def _lp_sum(r, p, omega, scale):
    s = 0.0
    for i in prange(r.shape[0]):
        s += omega[i] * (abs(r[i]) / scale) ** p
    return s


def lp_norm(r, p, omega):
    """``(sum_i omega_i |r_i|^p)^(1/p)``, computed on ``r / max|r|`` so no power overflows."""
    scale = float(np.max(np.abs(r))) if r.shape[0] else 0.0
    if scale == 0.0:
        return 0.0
    return scale * _lp_sum(r, float(p), omega, scale) ** (1.0 / p)
