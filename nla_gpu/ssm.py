"""CuPy kernels of the ssm area (PTD, HiPPO, transfer functions) (GPU twin of ``nla.ssm._kernels``, same function names).

Transfer functions are evaluated in chunks of frequencies as dense complex GEMMs with the
Cauchy matrix ``1 / (s - lam)``; dense systems use batched solves, pseudospectra batched SVDs where cuSOLVER
batches them (``N <= 32``) and the host's inverse Lanczos above. The Schur form is
always computed on the host (CuPy has none); the eigendecomposition uses ``cupy.linalg.eig``
when the installed CuPy provides it (CuPy >= 14 with a recent CUDA 12 cuSOLVER) and otherwise
NumPy on the host.
"""

import cupy
import numpy as np
import scipy.linalg

#: Array namespace of this engine, for the drivers' elementwise code.
xp = cupy

#: Bytes of complex workspace per chunk (Cauchy blocks, stacks of shifted matrices).
_CHUNK_BYTES = 1 << 28


def _host(x):
    get = getattr(x, "get", None)
    return get() if get is not None else np.asarray(x)


def eig(M):
    """Eigenvalues and eigenvectors of a dense matrix, on the device where CuPy can."""
    if hasattr(cupy.linalg, "eig"):
        return cupy.linalg.eig(M)
    lam, V = np.linalg.eig(_host(M))
    return cupy.asarray(lam), cupy.asarray(V)


def schur(A):
    """Complex Schur form ``(T, Z)`` as host arrays (computed by SciPy/LAPACK)."""
    return scipy.linalg.schur(np.asarray(_host(A), dtype=complex), output="complex")


def diagonal_tf(lam, W, s, d):
    """``G[m, j] = sum_n W[j, n] / (s[m] - lam[n]) + d[j]``: chunked Cauchy matrix times W^T."""
    M, N = s.shape[0], lam.shape[0]
    out = cupy.empty((M, W.shape[0]), dtype=cupy.complex128)
    step = max(1, _CHUNK_BYTES // (16 * N))
    Wt = W.T
    for m0 in range(0, M, step):
        cauchy = 1.0 / (s[m0:m0 + step, None] - lam[None, :])
        out[m0:m0 + step] = cauchy @ Wt + d[None, :]
    return out


def _shifted(A, z):
    # Stack of z_g I - A, shape (len(z), N, N).
    N = A.shape[0]
    eye = cupy.eye(N, dtype=cupy.complex128)
    return z[:, None, None] * eye[None] - A[None].astype(cupy.complex128)


def dense_tf(A, B, C, s):
    """``G[m] = C (s[m] I - A)^-1 B`` by batched dense solves; shape (M, Q, P)."""
    N = A.shape[0]
    out = cupy.empty((s.shape[0], C.shape[0], B.shape[1]), dtype=cupy.complex128)
    step = max(1, _CHUNK_BYTES // (16 * N * N))
    for m0 in range(0, s.shape[0], step):
        R = _shifted(A, s[m0:m0 + step])
        X = cupy.linalg.solve(R, cupy.broadcast_to(B, (R.shape[0],) + B.shape).copy())
        out[m0:m0 + step] = C[None] @ X
    return out


def sigma_min_svd(A, z):
    """``sigma_min(z_g I - A)`` by batched dense SVDs on the device."""
    N = A.shape[0]
    out = cupy.empty(z.shape[0], dtype=cupy.float64)
    step = max(1, _CHUNK_BYTES // (16 * N * N))
    for g0 in range(0, z.shape[0], step):
        out[g0:g0 + step] = cupy.linalg.svd(_shifted(A, z[g0:g0 + step]), compute_uv=False)[:, -1]
    return out


#: Largest N for which cuSOLVER has a batched SVD (gesvdjBatched); CuPy loops over the batch
#: above it, which measured 5x slower than the host's parallel inverse Lanczos at N = 64.
_BATCHED_SVD_MAX_N = 32


def sigma_min_grid(T, z, tol, max_steps):
    """``(sigma_min, steps)`` of ``z I - T`` over the points ``z`` (``T`` the Schur form, unitarily
    similar to ``A``, so the singular values are the same).

    Batched SVDs on the device up to ``N = 32`` (``steps`` 0); beyond, the host's Numba inverse
    Lanczos on the Schur form, its results copied to the device.
    """
    if T.shape[0] <= _BATCHED_SVD_MAX_N:
        return sigma_min_svd(T, z), cupy.zeros(z.shape[0], dtype=cupy.int64)
    from nla.ssm import _kernels

    smin, steps = _kernels.sigma_min_grid(_host(T), _host(z), tol, max_steps)
    return cupy.asarray(smin), cupy.asarray(steps)
