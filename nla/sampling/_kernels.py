"""Numba kernels of the sampling area (CPU twin of ``nla_gpu.sampling``).

The drivers in this package call these names on NumPy arrays; ``nla_gpu.sampling`` has the
same names on CuPy arrays. Row-wise loops run in parallel over rows (each thread owns its
output entries, so no atomics). Dense factorizations go to LAPACK/BLAS through NumPy/SciPy.
"""

import numpy as np
import scipy.linalg as sla
from numba import get_num_threads, njit, prange

from .._random import below_jit, hash_jit, sign_jit, uniform_jit
from .._threads import threads_for

# Reassociation and FMA contraction let the inner loops vectorise; no NaN/inf assumptions are
# made (inputs are checked finite by the drivers anyway).
_FAST = {"reassoc", "contract"}

#: Below this many flops a kernel runs on one thread: waking a parallel team costs ~10 us on an
#: idle machine but was measured at ~35 ms per launch on a loaded one (20x the work here).
PARALLEL_MIN_WORK = 5e7


def householder_qr(A):
    """Economic Householder QR ``A = Q R`` (LAPACK ``geqrf``/``orgqr``)."""
    return sla.qr(A, mode="economic", check_finite=False)


def r_factor(A):
    """``R`` of the QR of ``A`` alone, ``min(n, d) x d`` (host array; the blocks of a TSQR)."""
    return sla.qr(A, mode="r", check_finite=False)[0][:min(A.shape)]


@njit(parallel=True, cache=True, fastmath=_FAST)
def _gram_parts(U, g, parts):
    # Each thread sums the lower triangle of its own block of rows into its own d x d slab,
    # four rows at a time so every load/store of the accumulator serves four products.
    n, d = U.shape
    n_parts = parts.shape[0]
    chunk = (n + n_parts - 1) // n_parts
    for t in prange(n_parts):
        acc = parts[t]
        i, stop = t * chunk, min(n, (t + 1) * chunk)
        while i + 4 <= stop:
            u0, u1, u2, u3 = U[i], U[i + 1], U[i + 2], U[i + 3]
            g0, g1, g2, g3 = g[i], g[i + 1], g[i + 2], g[i + 3]
            for j in range(d):
                a0, a1, a2, a3 = u0[j] * g0, u1[j] * g1, u2[j] * g2, u3[j] * g3
                for k in range(j + 1):
                    acc[j, k] += a0 * u0[k] + a1 * u1[k] + a2 * u2[k] + a3 * u3[k]
            i += 4
        while i < stop:
            for j in range(d):
                a = U[i, j] * g[i]
                for k in range(j + 1):
                    acc[j, k] += a * U[i, k]
            i += 1


def gram(U, g=None):
    """``U^T diag(g) U`` (``U^T U`` when ``g`` is None) as a small host array.

    A Numba reduction rather than BLAS: on a loaded machine, handing small products to
    OpenBLAS's own thread pool next to Numba's was measured 10-100x slower.
    """
    n, d = U.shape
    g = np.ones(n) if g is None else np.ascontiguousarray(g, dtype=np.float64)
    with threads_for(n * d * d / 2, PARALLEL_MIN_WORK):
        parts = np.zeros((max(1, min(get_num_threads(), n // 64)), d, d))
        _gram_parts(np.ascontiguousarray(U), g, parts)
    G = parts.sum(axis=0)
    return np.tril(G) + np.tril(G, -1).T


@njit(parallel=True, cache=True, fastmath=_FAST)
def _times_upper(A, L, out):
    # out[i, k] = sum_{j <= k} A[i, j] L[k, j] with L = T^T lower triangular: a dot product
    # over a contiguous row of L, four rows of A per pass over L (the loop order of
    # _row_tri_sq_norms). The earlier row-axpy form ran 5x slower at d = 50.
    n, d = A.shape
    for b in prange((n + 3) // 4):
        i = 4 * b
        if i + 4 <= n:
            a0, a1, a2, a3 = A[i], A[i + 1], A[i + 2], A[i + 3]
            o0, o1, o2, o3 = out[i], out[i + 1], out[i + 2], out[i + 3]
            for k in range(d):
                t0 = t1 = t2 = t3 = 0.0
                for j in range(k + 1):
                    c = L[k, j]
                    t0 += c * a0[j]
                    t1 += c * a1[j]
                    t2 += c * a2[j]
                    t3 += c * a3[j]
                o0[k], o1[k], o2[k], o3[k] = t0, t1, t2, t3
        else:
            for r in range(i, n):
                for k in range(d):
                    t = 0.0
                    for j in range(k + 1):
                        t += L[k, j] * A[r, j]
                    out[r, k] = t


def times_upper(A, T):
    """``A @ T`` for an upper-triangular square ``T`` (a Numba loop over rows, half a GEMM)."""
    out = np.empty((A.shape[0], T.shape[1]), dtype=np.float64)
    with threads_for(A.shape[0] * T.shape[0] ** 2 / 2, PARALLEL_MIN_WORK):
        _times_upper(np.ascontiguousarray(A), np.ascontiguousarray(T.T, dtype=np.float64), out)
    return out


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
    with threads_for(Y.size, PARALLEL_MIN_WORK):
        _row_sq_norms(np.ascontiguousarray(Y), out)
    return out


@njit(parallel=True, cache=True, fastmath=_FAST)
def _row_tri_sq_norms(A, T, out):
    # ||T a_i||^2 with T lower triangular: half the flops of a_i^T M a_i and a sum of squares,
    # so the result can never come out negative. Four rows share each pass over T.
    n, d = A.shape
    for b in prange((n + 3) // 4):
        i = 4 * b
        if i + 4 <= n:
            a0, a1, a2, a3 = A[i], A[i + 1], A[i + 2], A[i + 3]
            s0 = s1 = s2 = s3 = 0.0
            for j in range(d):
                t0 = t1 = t2 = t3 = 0.0
                for k in range(j + 1):
                    c = T[j, k]
                    t0 += c * a0[k]
                    t1 += c * a1[k]
                    t2 += c * a2[k]
                    t3 += c * a3[k]
                s0 += t0 * t0
                s1 += t1 * t1
                s2 += t2 * t2
                s3 += t3 * t3
            out[i], out[i + 1], out[i + 2], out[i + 3] = s0, s1, s2, s3
        else:
            for r in range(i, n):
                s = 0.0
                for j in range(d):
                    t = 0.0
                    for k in range(j + 1):
                        t += T[j, k] * A[r, k]
                    s += t * t
                out[r] = s


def row_quadratic_forms(A, T):
    """``a_i^T M a_i`` for every row ``a_i`` of ``A``, with ``M = T^T T``, ``T`` lower triangular.

    Callers pass ``T = L^{-1}`` for the Cholesky factor ``L`` of ``M^{-1}`` (or of any Gram
    matrix whose inverse is ``M``): this is the leverage-score formula without forming ``A T^T``.
    """
    out = np.empty(A.shape[0], dtype=np.float64)
    with threads_for(A.shape[0] * A.shape[1] ** 2 / 2, PARALLEL_MIN_WORK):
        _row_tri_sq_norms(np.ascontiguousarray(A), np.ascontiguousarray(T, dtype=np.float64),
                          out)
    return out


@njit(parallel=True, cache=True)
def _bernoulli(key, q, keep, row0):
    for i in prange(q.shape[0]):
        keep[i] = uniform_jit(hash_jit(key, np.uint64(row0 + i), np.uint64(0))) < q[i]


def bernoulli_mask(key, q, row0=0):
    """Keep row ``i`` when the counter-based uniform ``U(key, row0 + i, 0)`` is below ``q[i]``.

    ``row0`` is the global index of ``q[0]``: a row block of ``q`` draws the same uniforms
    as the whole vector, so a sample does not depend on the chunking.
    """
    keep = np.empty(q.shape[0], dtype=np.bool_)
    with threads_for(20 * q.shape[0], PARALLEL_MIN_WORK):
        _bernoulli(np.uint64(key), np.ascontiguousarray(q, dtype=np.float64), keep,
                   np.uint64(row0))
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
    with threads_for(20 * m * np.log2(cdf.shape[0] + 1), PARALLEL_MIN_WORK):
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
    with threads_for(20 * r.shape[0], PARALLEL_MIN_WORK):
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
    with threads_for(20 * r.shape[0], PARALLEL_MIN_WORK):
        total = _lp_sum(r, float(p), omega, scale)
    return scale * total ** (1.0 / p)


# --- well-conditioned l_p basis (method='wcb') -------------------------------------------

@njit(inline="always", cache=True)
def _open_uniform(bits):
    # (0, 1): the 53-bit uniform shifted by half a step, so -log never sees 0 or 1
    return (np.float64(bits >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(parallel=True, cache=True, fastmath=_FAST)
def _lp_countsketch(A, key, p, parts):
    # Row i goes to bucket h(i) with weight sign(i) * E_i^(-1/p), E_i standard exponential.
    n, d = A.shape
    n_parts, k = parts.shape[0], parts.shape[1]
    chunk = (n + n_parts - 1) // n_parts
    inv_p = 1.0 / p
    for t in prange(n_parts):
        acc = parts[t]
        for i in range(t * chunk, min(n, (t + 1) * chunk)):
            row = np.uint64(i)
            bucket = below_jit(hash_jit(key, row, np.uint64(0)), k)
            e = -np.log(_open_uniform(hash_jit(key, row, np.uint64(2))))
            c = sign_jit(hash_jit(key, row, np.uint64(1))) * e ** (-inv_p)
            for j in range(d):
                acc[bucket, j] += c * A[i, j]


def lp_countsketch(A, key, k, p):
    """``S A`` for the ``k x n`` sparse ``l_p`` embedding ``S = H diag(sign_i E_i^(-1/p))``.

    ``H`` hashes row ``i`` into bucket ``below(hash(key, i, 0), k)``; ``sign_i`` and the
    standard exponential ``E_i`` come from counters 1 and 2 (Meng-Mahoney / Woodruff-Zhang:
    ``max_i |y_i| / E_i^(1/p)`` is distributed like ``||y||_p / E^(1/p)``, so the sketch keeps
    ``l_p`` norms up to poly(d) factors). Same bits as the CuPy twin.
    """
    n, d = A.shape
    with threads_for(4 * n * d, PARALLEL_MIN_WORK):
        parts = np.zeros((max(1, min(get_num_threads(), n // 256)), k, d))
        _lp_countsketch(np.ascontiguousarray(A), np.uint64(key), float(p), parts)
    return parts.sum(axis=0)


@njit(parallel=True, cache=True)
def _col_abs_max(U, parts):
    n, d = U.shape
    n_parts = parts.shape[0]
    chunk = (n + n_parts - 1) // n_parts
    for t in prange(n_parts):
        acc = parts[t]
        for i in range(t * chunk, min(n, (t + 1) * chunk)):
            for j in range(d):
                acc[j] = max(acc[j], abs(U[i, j]))


@njit(parallel=True, cache=True)
def _col_scaled_pow_sums(U, p, inv_scale, parts):
    n, d = U.shape
    n_parts = parts.shape[0]
    chunk = (n + n_parts - 1) // n_parts
    for t in prange(n_parts):
        acc = parts[t]
        for i in range(t * chunk, min(n, (t + 1) * chunk)):
            for j in range(d):
                acc[j] += (abs(U[i, j]) * inv_scale[j]) ** p


def col_lp_norms(U, p):
    """``||U[:, j]||_p`` for every column, summed on ``|U| / max|U[:, j]|`` (no overflow)."""
    n, d = U.shape
    U = np.ascontiguousarray(U)
    with threads_for(20 * n * d, PARALLEL_MIN_WORK):
        n_parts = max(1, min(get_num_threads(), n // 256))
        parts = np.zeros((n_parts, d))
        _col_abs_max(U, parts)
        scale = parts.max(axis=0)
        inv = np.where(scale > 0, 1.0 / np.where(scale > 0, scale, 1.0), 0.0)
        parts = np.zeros((n_parts, d))
        _col_scaled_pow_sums(U, float(p), inv, parts)
    return scale * parts.sum(axis=0) ** (1.0 / p)


@njit(parallel=True, cache=True, fastmath=_FAST)
def _row_weighted_l1_pow(U, c, p, out):
    for i in prange(U.shape[0]):
        s = 0.0
        for j in range(U.shape[1]):
            s += abs(U[i, j]) * c[j]
        out[i] = 1.0 if s >= 1.0 else s ** p


def row_weighted_l1_pow(U, c, p):
    """``min(1, (sum_j |U_ij| c_j)^p)`` for every row (``c >= 0``)."""
    out = np.empty(U.shape[0], dtype=np.float64)
    with threads_for(2 * U.size, PARALLEL_MIN_WORK):
        _row_weighted_l1_pow(np.ascontiguousarray(U), np.ascontiguousarray(c, dtype=np.float64),
                             float(p), out)
    return out
