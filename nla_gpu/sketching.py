"""CuPy kernels of the sketching area (GPU twin of :mod:`nla.sketching._kernels`).

Same function names and arguments as the Numba module. Random quantities come from the same
hashes (:mod:`nla._random`, :mod:`nla.sketching._hashing`) evaluated as CuPy array code, so
a sketch is the same matrix on both engines. Gaussian blocks go through cuBLAS GEMM, sparse
sketches and the Gaussian pooling through cuSPARSE (``cupyx.scipy.sparse``), the FWHT is a
custom CUDA kernel doing ten butterfly levels per pass in shared memory.
"""

import functools

import cupy
import cupyx.scipy.sparse as csp
import numpy as np

from nla._random import gaussian_xp
from nla.sketching._hashing import permute_index, permute_params, sparse_sign_entries

xp = cupy

_WORK_BYTES = 1 << 30


#: Shared-memory FWHT pass: each block transforms ``R = 2**L`` elements spaced ``h`` rows apart
#: (``L`` butterfly levels at once) for ``W`` adjacent columns of the ``(N, k)`` array, which
#: is read as ``(N / (h R), R, h k)``. ``W`` columns of one row are 32 bytes, a whole DRAM
#: sector, so every load and store is fully used whatever ``k`` and ``h`` are.
_FWHT_SOURCE = r"""
template <typename T>
__global__ void fwht_pass(T* __restrict__ Y, long long hk, int levels, int width,
                          long long chunks) {
    extern __shared__ unsigned char smem_raw[];
    T* s = reinterpret_cast<T*>(smem_raw);
    const int R = 1 << levels;
    const long long group = blockIdx.x / chunks;
    const long long q0 = (blockIdx.x % chunks) * width;
    const int w = (int)min((long long)width, hk - q0);
    T* base = Y + group * (long long)R * hk + q0;
    const int n = R * w;
    for (int e = threadIdx.x; e < n; e += blockDim.x) {
        s[e] = base[(long long)(e / w) * hk + (e % w)];
    }
    __syncthreads();
    const int half = n / 2;
    for (int t = 1; t < R; t <<= 1) {
        for (int b = threadIdx.x; b < half; b += blockDim.x) {
            const int c = b % w;
            const int p = b / w;
            const int j0 = (p / t) * 2 * t + (p % t);
            const T a = s[j0 * w + c];
            const T d = s[(j0 + t) * w + c];
            s[j0 * w + c] = a + d;
            s[(j0 + t) * w + c] = a - d;
        }
        __syncthreads();
    }
    for (int e = threadIdx.x; e < n; e += blockDim.x) {
        base[(long long)(e / w) * hk + (e % w)] = s[e];
    }
}
"""
_FWHT_LEVELS = 10       # 1024 elements a pass: 2**20 rows take two passes over memory
_FWHT_THREADS = 256
_SECTOR = 32


@functools.cache
def _fwht_kernel(dtype):
    name = f"fwht_pass<{'double' if dtype == np.float64 else 'float'}>"
    module = cupy.RawModule(code=_FWHT_SOURCE, options=("-std=c++17",), name_expressions=[name])
    return module.get_function(name)


def fwht(Y):
    """Unnormalised Walsh-Hadamard transform along axis 0, in place (``N`` a power of 2).

    ``log2(N) / 10`` passes of a CUDA kernel over the C-contiguous ``(N, k)`` array, each
    doing up to ten butterfly levels in shared memory (see ``_FWHT_SOURCE``). The levels
    commute, so any grouping gives ``H_N Y`` exactly as the CPU's Sylvester ordering does.
    """
    N = Y.shape[0]
    if N & (N - 1) or not Y.flags.c_contiguous or Y.dtype not in (np.float32, np.float64):
        raise ValueError(f"Y must be C-contiguous float32/float64 with a power-of-two length, "
                         f"got shape {Y.shape} and dtype {Y.dtype}")
    k = Y.size // N if N else 0
    if N < 2 or k == 0:
        return Y
    kernel = _fwht_kernel(Y.dtype.type)
    width = max(1, _SECTOR // Y.dtype.itemsize)
    total = N.bit_length() - 1
    done = 0
    while done < total:
        levels = min(_FWHT_LEVELS, total - done)
        hk = (1 << done) * k
        chunks = -(-hk // width)
        groups = N >> (done + levels)
        shared = (1 << levels) * min(width, hk) * Y.dtype.itemsize
        kernel((groups * chunks,), (_FWHT_THREADS,),
               (Y, np.int64(hk), np.int32(levels), np.int32(width), np.int64(chunks)),
               shared_mem=shared)
        done += levels
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


def _sparse_sign_matrix(bucket_key, sign_key, m, nnz, row0, r, scale, dtype):
    rows, cols, values = sparse_sign_entries(cupy, bucket_key, sign_key, m, nnz, row0, r, scale)
    return csp.csr_matrix((values.astype(dtype), (rows, cols)), shape=(m, r))


def sparse_sign_apply(bucket_key, sign_key, m, nnz, X, row0, scale):
    """Sparse sign sketch columns ``row0 ..`` times ``X`` as one cuSPARSE SpMM."""
    return _sparse_sign_matrix(bucket_key, sign_key, m, nnz, row0, X.shape[0], scale,
                               X.dtype) @ X


def sparse_sign_apply_sparse(bucket_key, sign_key, m, nnz, X, row0, scale):
    """Sparse sign sketch times a sparse ``X`` (dense result): one cuSPARSE SpGEMM."""
    S = _sparse_sign_matrix(bucket_key, sign_key, m, nnz, row0, X.shape[0], scale, X.dtype)
    return (S @ X).toarray()


def exact_lstsq(A, b):
    """Least-squares solution on the device (``cupy.linalg.lstsq``, SVD based) and the rank."""
    x, _, rank, _ = cupy.linalg.lstsq(A, b, rcond=None)
    return x, int(rank)


def residual_pass(A, V, B=None, T=None, block=1 << 18):
    """``(Y.T @ (B - A @ V), ||B - A @ V||**2)``, ``Y = A`` or ``A @ T`` (see the Numba twin).

    GEMMs on row blocks (sparse ``A``: SpMV/SpMM on the whole), so ``A @ T`` is never held.
    """
    if csp.issparse(A) or T is None:
        r = -(A @ V) if B is None else B - A @ V
        g = A.T @ r
        return (g if T is None else T.T @ g), (r * r).sum(axis=0)
    out = cupy.zeros((T.shape[1], V.shape[1]), dtype=A.dtype)
    rss = cupy.zeros(V.shape[1], dtype=A.dtype)
    for s in range(0, A.shape[0], block):
        Ab = A[s:s + block]
        r = -(Ab @ V) if B is None else B[s:s + block] - Ab @ V
        out += (Ab @ T).T @ r
        rss += (r * r).sum(axis=0)
    return out, rss


def normal_residual(A, V, B=None):
    """``A.T @ (B - A @ V)`` (``B = 0`` if None): two GEMMs."""
    return residual_pass(A, V, B)[0]


def gram_pass(A, B, T=None, block=1 << 18):
    """``(Y.T @ Y, Y.T @ B)`` for ``Y = A`` or ``A @ T``, by row blocks (see the Numba twin)."""
    if T is None or csp.issparse(A):
        Y = A if T is None else A @ T
        G = Y.T @ Y
        return (G.toarray() if hasattr(G, "toarray") else G), Y.T @ B
    G = cupy.zeros((T.shape[1], T.shape[1]), dtype=A.dtype)
    H = cupy.zeros((T.shape[1], B.shape[1]), dtype=A.dtype)
    for s in range(0, A.shape[0], block):
        Y = A[s:s + block] @ T
        G += Y.T @ Y
        H += Y.T @ B[s:s + block]
    return G, H

