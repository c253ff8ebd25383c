"""CuPy kernels of the sampling area (GPU twin of ``nla.sampling._kernels``).

QR goes to cuSOLVER (``cupy.linalg.qr``), Gram matrices and row-wise quadratic forms to
cuBLAS GEMMs plus a row reduction, samplers to the same counter-based hash as the CPU (integer
arithmetic, so the kept rows are identical on both engines). Small ``d x d`` results come back
to the host, where the drivers factor them.
"""

import cupy
import cupyx.scipy.sparse as cusparse

from nla._random import below_xp, hash_xp, sign_xp, uniform_xp


def householder_qr(A):
    """Economic QR ``A = Q R`` (cuSOLVER ``geqrf``/``orgqr``)."""
    return cupy.linalg.qr(A, mode="reduced")


def r_factor(A):
    """``R`` of the QR of ``A`` alone, ``min(n, d) x d``, as a host array (TSQR blocks)."""
    return cupy.asnumpy(cupy.linalg.qr(A, mode="r"))


def gram(U, g=None):
    """``U^T diag(g) U`` as a host array (one GEMM)."""
    G = U.T @ U if g is None else (U * g[:, None]).T @ U
    G = 0.5 * (G + G.T)
    return cupy.asnumpy(G)


def row_sq_norms(Y):
    """Squared Euclidean norm of every row of ``Y``."""
    Y = Y.astype(cupy.float64, copy=False)
    return cupy.sum(Y * Y, axis=1)


def times_upper(A, T):
    """``A @ T`` for an upper-triangular ``T``."""
    return A @ T


def row_quadratic_forms(A, T):
    """``||T a_i||^2 = a_i^T (T^T T) a_i`` for every row (one GEMM and a row reduction)."""
    Y = A @ T.T
    return cupy.sum(Y * Y, axis=1)


def bernoulli_mask(key, q, row0=0):
    """Keep row ``i`` when ``U(key, row0 + i, 0) < q[i]`` (same bits as the Numba sampler)."""
    n = q.shape[0]
    rows = cupy.arange(row0, row0 + n, dtype=cupy.uint64)
    return uniform_xp(cupy, key, rows, cupy.zeros(n, dtype=cupy.uint64)) < q


def iid_indices(key, cdf, m, last):
    """``m`` i.i.d. draws from the cumulative weights ``cdf`` (see the Numba twin)."""
    rows = cupy.arange(m, dtype=cupy.uint64)
    u = uniform_xp(cupy, key, rows, cupy.zeros(m, dtype=cupy.uint64)) * cdf[-1]
    return cupy.minimum(cupy.searchsorted(cdf, u, side="right"), last).astype(cupy.int64)


def irls_weights(r, p, omega, delta):
    """``omega_i max(|r_i|, delta)^(p-2)`` up to a common factor (residuals scaled by max)."""
    scale = max(float(cupy.max(cupy.abs(r))), delta)
    return omega * (cupy.maximum(cupy.abs(r), delta) / scale) ** (p - 2.0)


def lp_norm(r, p, omega):
    """``(sum omega |r|^p)^(1/p)`` on the max-scaled residual."""
    scale = float(cupy.max(cupy.abs(r))) if r.shape[0] else 0.0
    if scale == 0.0:
        return 0.0
    return scale * float(cupy.sum(omega * (cupy.abs(r) / scale) ** p)) ** (1.0 / p)


def lp_countsketch(A, key, k, p):
    """``S A`` for the sparse ``l_p`` embedding of the Numba twin (same hash bits)."""
    n = A.shape[0]
    rows = cupy.arange(n, dtype=cupy.uint64)
    bucket = below_xp(hash_xp(cupy, key, rows, cupy.zeros(n, dtype=cupy.uint64)),
                      cupy.uint64(k)).astype(cupy.int64)
    sign = sign_xp(cupy, key, rows, cupy.ones(n, dtype=cupy.uint64), cupy.float64)
    bits = hash_xp(cupy, key, rows, cupy.full(n, 2, dtype=cupy.uint64))
    u = ((bits >> cupy.uint64(11)).astype(cupy.float64) + 0.5) * (1.0 / 9007199254740992.0)
    weight = sign * (-cupy.log(u)) ** (-1.0 / p)
    S = cusparse.csr_matrix((weight, (bucket, cupy.arange(n))), shape=(k, n))
    return cupy.asnumpy(S @ A)


def col_lp_norms(U, p):
    """``||U[:, j]||_p`` per column, on ``|U| / max|U[:, j]|``."""
    scale = cupy.max(cupy.abs(U), axis=0)
    inv = cupy.where(scale > 0, 1.0 / cupy.where(scale > 0, scale, 1.0), 0.0)
    return cupy.asnumpy(scale * cupy.sum((cupy.abs(U) * inv) ** p, axis=0) ** (1.0 / p))


def row_weighted_l1_pow(U, c, p):
    """``min(1, (sum_j |U_ij| c_j)^p)`` per row."""
    s = cupy.abs(U) @ c
    return cupy.where(s >= 1.0, 1.0, cupy.minimum(s, 1.0) ** p)


__all__ = ["bernoulli_mask", "col_lp_norms", "gram", "householder_qr", "iid_indices",
           "irls_weights", "lp_countsketch", "lp_norm", "r_factor", "row_quadratic_forms",
           "row_sq_norms", "row_weighted_l1_pow", "times_upper"]
