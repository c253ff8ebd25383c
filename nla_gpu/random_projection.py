"""CuPy kernels of the random-projection area (GPU twin of ``nla.random_projection._kernels``).

The sparse sign matrix is generated on the device by the same counter-based hash as the CPU
(integer arithmetic only), so both engines use bit-identical matrices. Products go through
cuSPARSE (``cupyx.scipy.sparse``); row normalization is elementwise CuPy code.
"""

import cupy
import cupyx.scipy.sparse as csp

from nla._random import sparse_sign_rows_xp
from nla.random_projection._fastrp import add_normalized_rows


def generate(seed, n_rows, n_cols, density, scale, dtype):
    """The ``n_rows x n_cols`` very sparse sign matrix of ``seed`` as a cupyx CSR matrix."""
    indptr, indices, data = sparse_sign_rows_xp(cupy, seed, 0, n_rows, n_cols, density, scale,
                                                dtype)
    return csp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


def project_dense(X, components):
    """``(X @ components.T, finite)``: ``(components @ X.T).T`` (cuSPARSE SpMM) and whether
    ``X`` is free of NaN and inf (one more read of ``X``, cheap at device bandwidth)."""
    return cupy.ascontiguousarray((components @ X.T).T), bool(cupy.isfinite(X).all())


def project_sparse(X, R, dense_output):
    """``X @ R`` for CSR ``X`` and ``R`` (cuSPARSE SpGEMM), dense or CSR result."""
    out = X @ R.astype(X.dtype)
    return out.toarray() if dense_output else out.tocsr()


def propagate(A, N, out, acc, weight, normalize):
    """``out = A @ N`` (cuSPARSE SpMM), adding ``weight * rownorm(out)`` to ``acc``; returns out."""
    out[...] = A.astype(N.dtype) @ N
    if weight != 0.0:
        add_normalized_rows(acc, out, weight, normalize)
    return out


def scale_rows(M, factors, dtype):
    """``diag(factors) @ M`` for CSR ``M`` in ``dtype``."""
    return (csp.diags(factors) @ M).astype(dtype).tocsr()


def standardize(X):
    """Z-score the columns of ``X`` in place; constant columns become 0."""
    mean = X.mean(axis=0, dtype=cupy.float64)
    std = X.std(axis=0, dtype=cupy.float64)
    X -= mean.astype(X.dtype)
    X *= cupy.where(std > 0, 1.0 / cupy.where(std > 0, std, 1.0), 0.0).astype(X.dtype)
    return X
