"""CuPy kernels of the sketching area (GPU twin of :mod:`nla.sketching._kernels`).

Same function names and arguments as the Numba module. Random quantities come from the same
hashes (:mod:`nla._random`, :mod:`nla.sketching._hashing`) evaluated as CuPy array code, so
a sketch is the same matrix on both engines. Gaussian blocks go through cuBLAS GEMM, sparse
sketches and the Gaussian pooling through cuSPARSE (``cupyx.scipy.sparse``), the FWHT is a
sequence of in-place butterfly passes over reshaped views.
"""


import cupy
import cupyx.scipy.sparse as csp
import numpy as np

from nla._random import gaussian_xp
from nla.sketching._hashing import permute_index, permute_params, sparse_sign_entries

xp = cupy

_WORK_BYTES = 1 << 30


def fwht(Y):
    """Unnormalised Walsh-Hadamard transform along axis 0, in place (``N`` a power of 2)."""
    N = Y.shape[0]
    Y2 = Y.reshape(N, -1)
    h = 1
    while h < N:
        V = Y2.reshape(N // (2 * h), 2, h, Y2.shape[1])
        a = V[:, 0].copy()
        V[:, 0] += V[:, 1]
        V[:, 1] *= -1
        V[:, 1] += a
        h *= 2
    return Y


def _column_chunks(N, k, itemsize):
    width = max(1, min(k, _WORK_BYTES // (N * itemsize)))
    return [(c0, min(k, c0 + width)) for c0 in range(0, k, width)]


def _signs(sign_key, row0, r, dtype):
    from nla._random import sign_xp

    rows = cupy.arange(row0, row0 + r, dtype=cupy.uint64)
    return sign_xp(cupy, sign_key, rows, cupy.zeros(r, dtype=cupy.uint64), dtype)


def _hadamard_work(sign_key, pkeys, bits, X, c0, c1, row0, permute):
    N = 1 << bits
    r = X.shape[0]
    slots = cupy.arange(row0, row0 + r, dtype=cupy.uint64)
    if permute:
        mask, shift = permute_params(bits)
        slots = permute_index(pkeys, mask, shift, slots)
    Y = cupy.zeros((N, c1 - c0), dtype=X.dtype)
    Y[slots.astype(cupy.int64)] = _signs(sign_key, row0, r, X.dtype)[:, None] * X[:, c0:c1]
    return fwht(Y)


def srht_apply(sign_key, pkeys, bits, rows, X, row0, scale):
    """SRHT columns ``row0 ..`` times ``X`` (see the Numba twin)."""
    out = cupy.empty((rows.shape[0], X.shape[1]), dtype=X.dtype)
    for c0, c1 in _column_chunks(1 << bits, X.shape[1], X.dtype.itemsize):
        Y = _hadamard_work(sign_key, pkeys, bits, X, c0, c1, row0, True)
        out[:, c0:c1] = Y[rows] * scale
    return out


def hgp_apply(sign_key, pkeys, bits, gauss_key, m, X, row0):
    """Hadamard Gaussian-pooled sketch columns ``row0 ..`` times ``X`` (see the Numba twin)."""
    N = 1 << bits
    mask, shift = permute_params(bits)
    t = cupy.arange(N, dtype=cupy.uint64)
    p = permute_index(pkeys, mask, shift, t)
    weights = gaussian_xp(cupy, gauss_key, p, cupy.zeros(N, dtype=cupy.uint64)) / np.sqrt(N)
    buckets = (p.astype(cupy.int64) * m) // N
    pool = csp.csr_matrix((weights.astype(X.dtype), (buckets, t.astype(cupy.int64))),
                          shape=(m, N))
    out = cupy.empty((m, X.shape[1]), dtype=X.dtype)
    for c0, c1 in _column_chunks(N, X.shape[1], X.dtype.itemsize):
        Y = _hadamard_work(sign_key, pkeys, bits, X, c0, c1, row0, False)
        out[:, c0:c1] = pool @ Y
    return out


def gaussian_apply(key, m, X, row0, scale):
    """``scale * G[:, row0:row0 + r] @ X``, Gaussian blocks generated on the device (GEMM)."""
    r = X.shape[0]
    step = max(64, min(65536, (1 << 26) // max(m, 1)))
    out = cupy.zeros((m, X.shape[1]), dtype=X.dtype)
    cols = cupy.arange(m, dtype=cupy.uint64)
    for s in range(0, r, step):
        e = min(r, s + step)
        rows = cupy.arange(row0 + s, row0 + e, dtype=cupy.uint64)
        G = gaussian_xp(cupy, key, rows[:, None], cols[None, :])
        out += G.T.astype(X.dtype) @ X[s:e]
    out *= scale
    return out


def sparse_sign_apply(bucket_key, sign_key, m, nnz, X, row0, scale):
    """Sparse sign sketch columns ``row0 ..`` times ``X`` as one cuSPARSE SpMM."""
    rows, cols, values = sparse_sign_entries(cupy, bucket_key, sign_key, m, nnz, row0,
                                             X.shape[0], scale)
    S = csp.csr_matrix((values.astype(X.dtype), (rows, cols)), shape=(m, X.shape[0]))
    return S @ X


def csr_matrix(data, rows, cols, shape):
    """A cupyx CSR matrix from COO triplets (duplicates summed)."""
    return csp.csr_matrix((data, (rows, cols)), shape=shape)


def exact_lstsq(A, b):
    """Least-squares solution on the device (``cupy.linalg.lstsq``, SVD based) and the rank."""
    x, _, rank, _ = cupy.linalg.lstsq(A, b, rcond=None)
    return x, int(rank)


def normal_residual(A, V, B=None):
    """``A.T @ (B - A @ V)`` (``B = 0`` if None): two GEMMs."""
    r = -(A @ V) if B is None else B - A @ V
    return A.T @ r

