"""Numba kernels of the sketching area (CPU twin of :mod:`nla_gpu.sketching`).

Every kernel applies the columns ``row0 .. row0 + X.shape[0]`` of a sketch to a row block
``X``; the random quantities of data row ``j`` are hashes of the *global* index
``row0 + j`` (see :mod:`nla._random`), so summing the results of any row chunking gives the
sketch of the whole matrix. Dense sketches are applied blockwise: no kernel ever holds an
``m x n`` matrix.
"""

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numba import get_num_threads, njit, prange

from .._random import below_jit, gaussian_block_jit, gaussian_jit, hash_jit, sign_jit
from ._hashing import permute_index, permute_params

xp = np

_U64 = np.uint64
#: Rows per cache block of the FWHT (2**10 rows x 64 float64 columns = 512 KiB, an L2).
_FWHT_BLOCK = 1024
#: Bytes of the padded work array of the Hadamard sketches; wider X is done in column chunks.
_WORK_BYTES = 1 << 29


_permute_jit = njit(inline="always", cache=True)(permute_index)


# --- fast Walsh-Hadamard transform -----------------------------------------------------------

@njit(cache=True)
def _fwht_local(Y):
    # Unnormalised radix-2 FWHT along axis 0 of a small (cache-resident) C-contiguous block.
    n, k = Y.shape
    h = 1
    while h < n:
        for i in range(0, n, 2 * h):
            for j in range(i, i + h):
                a = Y[j]
                b = Y[j + h]
                for c in range(k):
                    u = a[c]
                    v = b[c]
                    a[c] = u + v
                    b[c] = u - v
        h *= 2


@njit(parallel=True, cache=True)
def _fwht_blocked(Y, block):
    # H_N = H_M (x) H_B with N = M * B: first the B-point transforms of contiguous row blocks,
    # then the M-point transforms of rows o, o + B, o + 2B, ... gathered into a buffer. Each
    # level streams Y once; the butterflies run in cache.
    N, k = Y.shape
    B = min(block, N)
    M = N // B
    for b in prange(M):
        _fwht_local(Y[b * B:(b + 1) * B])
    if M == 1:
        return
    tile = 8 if B >= 8 else B  # offsets per gather: whole cache lines when k is small
    for g in prange(B // tile):
        buf = np.empty((tile, M, k), dtype=Y.dtype)
        for o in range(tile):
            for t in range(M):
                buf[o, t] = Y[g * tile + o + t * B]
        for o in range(tile):
            _fwht_local(buf[o])
        for o in range(tile):
            for t in range(M):
                Y[g * tile + o + t * B] = buf[o, t]


def fwht(Y):
    """Unnormalised fast Walsh-Hadamard transform of ``Y`` along axis 0, in place.

    ``Y`` is a C-contiguous float array of shape ``(N, k)`` (or ``(N,)``) with ``N`` a power of
    two; on return it holds ``H_N @ Y`` with ``H_N`` the Sylvester-ordered Hadamard matrix.
    """
    Y2 = Y.reshape(Y.shape[0], -1)
    block = _FWHT_BLOCK
    while block * block < Y2.shape[0]:  # keep the second level's gathers short
        block *= 2
    _fwht_blocked(Y2, block)
    return Y


# --- Hadamard sketches -----------------------------------------------------------------------

@njit(parallel=True, cache=True)
def _scatter_signed(X, c0, row0, sign_key, pkeys, mask, shift, permute, Y):
    # Y[slot(j)] = sign(j) * X[j, c0:c0 + k] with slot a keyed bijection (or the identity).
    k = Y.shape[1]
    for i in prange(Y.shape[0]):
        Y[i] = 0.0
    for j in prange(X.shape[0]):
        g = _U64(row0 + j)
        p = _permute_jit(pkeys, mask, shift, g) if permute else g
        s = sign_jit(hash_jit(sign_key, g, _U64(0)))
        dst = Y[p]
        for c in range(k):
            dst[c] = s * X[j, c0 + c]


def _column_chunks(N, k, itemsize):
    width = max(1, min(k, _WORK_BYTES // (N * itemsize)))
    return [(c0, min(k, c0 + width)) for c0 in range(0, k, width)]


def srht_apply(sign_key, pkeys, bits, rows, X, row0, scale):
    """SRHT columns ``row0 ..`` times ``X``: ``scale * (H D_sigma P X)[rows]``.

    The rows of ``X`` go to slots of a zero-padded array of length ``2**bits`` through the keyed
    permutation ``pkeys`` with random signs, are transformed by the FWHT, and the sampled
    ``rows`` are kept.
    """
    N = 1 << bits
    mask, shift = permute_params(bits)
    out = np.empty((rows.shape[0], X.shape[1]), dtype=X.dtype)
    for c0, c1 in _column_chunks(N, X.shape[1], X.dtype.itemsize):
        Y = np.empty((N, c1 - c0), dtype=X.dtype)
        _scatter_signed(X, c0, row0, _U64(sign_key), pkeys, mask, shift, True, Y)
        fwht(Y)
        np.multiply(Y[rows], scale, out=out[:, c0:c1])
    return out


@njit(parallel=True, cache=True)
def _pool(Y, pkeys, mask, shift, gauss_key, m, N, scale, nt, out):
    # out[bucket(perm(t))] += gamma(perm(t)) * Y[t]: permutation, Gaussian weights and the
    # sum of consecutive blocks of the permuted rows. Threads own column ranges (no races).
    k = Y.shape[1]
    for th in prange(nt):
        c0 = th * k // nt
        c1 = (th + 1) * k // nt
        for t in range(N):
            p = _permute_jit(pkeys, mask, shift, _U64(t))
            i = (np.int64(p) * m) // N
            w = scale * gaussian_jit(gauss_key, p, 0)
            for c in range(c0, c1):
                out[i, c] += w * Y[t, c]


def hgp_apply(sign_key, pkeys, bits, gauss_key, m, X, row0):
    """Hadamard Gaussian-pooled sketch columns ``row0 ..`` times ``X``.

    ``S = B D_gamma Pi (H / sqrt(N)) D_sigma J``: zero padding ``J``, random signs, normalised
    FWHT, keyed permutation ``Pi``, iid N(0, 1) weights and sums ``B`` of ``m`` consecutive
    blocks of ``N / m`` rows.
    """
    N = 1 << bits
    mask, shift = permute_params(bits)
    out = np.zeros((m, X.shape[1]), dtype=X.dtype)
    for c0, c1 in _column_chunks(N, X.shape[1], X.dtype.itemsize):
        Y = np.empty((N, c1 - c0), dtype=X.dtype)
        _scatter_signed(X, c0, row0, _U64(sign_key), pkeys, mask, shift, False, Y)
        fwht(Y)
        part = np.zeros((m, c1 - c0), dtype=X.dtype)
        _pool(Y, pkeys, mask, shift, _U64(gauss_key), m, N, 1.0 / np.sqrt(N),
              min(get_num_threads(), c1 - c0), part)
        out[:, c0:c1] = part
    return out


# --- Gaussian --------------------------------------------------------------------------------

def gaussian_apply(key, m, X, row0, scale):
    """``scale * G[:, row0:row0 + r] @ X`` with ``G[i, j]`` the Gaussian at ``(j, i)`` of ``key``.

    The block of ``G`` for a range of data rows is generated on the fly (rows of the generated
    block are data rows, so a block depends only on its row range) and multiplied by BLAS.
    """
    r = X.shape[0]
    step = max(64, min(8192, (1 << 24) // max(m, 1)))
    out = np.zeros((m, X.shape[1]), dtype=X.dtype)
    buf = np.empty((min(step, r), m), dtype=np.float64)
    for s in range(0, r, step):
        e = min(r, s + step)
        G = gaussian_block_jit(_U64(key), _U64(row0 + s), _U64(0), buf[:e - s])
        out += G.T.astype(X.dtype, copy=False) @ X[s:e]
    out *= scale
    return out


# --- sparse sign / CountSketch ---------------------------------------------------------------

@njit(parallel=True, cache=True)
def _sparse_sign(X, row0, bucket_key, sign_key, m, nnz, scale, n_col_chunks, out):
    # Partitioned construction: nonzero t of column j sits in row block t of the output, so a
    # task (t, column chunk) owns its output rows and columns: no two tasks write the same entry.
    k = X.shape[1]
    for task in prange(nnz * n_col_chunks):
        t = task // n_col_chunks
        cc = task % n_col_chunks
        c0 = cc * k // n_col_chunks
        c1 = (cc + 1) * k // n_col_chunks
        lo = t * m // nnz
        size = (t + 1) * m // nnz - lo
        for j in range(X.shape[0]):
            g = _U64(row0 + j)
            i = lo + np.int64(below_jit(hash_jit(bucket_key, g, _U64(t)), size))
            s = scale * sign_jit(hash_jit(sign_key, g, _U64(t)))
            for c in range(c0, c1):
                out[i, c] += s * X[j, c]


def sparse_sign_apply(bucket_key, sign_key, m, nnz, X, row0, scale):
    """Sparse sign sketch (``nnz`` nonzeros ``+-scale`` per column) columns ``row0 ..`` times ``X``."""
    out = np.zeros((m, X.shape[1]), dtype=X.dtype)
    threads = get_num_threads()
    chunks = max(1, min(X.shape[1], -(-threads // nnz)))
    _sparse_sign(X, row0, _U64(bucket_key), _U64(sign_key), m, nnz, scale, chunks, out)
    return out


def csr_matrix(data, rows, cols, shape):
    """A CSR matrix from COO triplets (duplicates summed)."""
    return sp.csr_matrix((data, (rows, cols)), shape=shape)


# --- small dense linear algebra and the fused normal-equation pass ----------------------------

def exact_lstsq(A, b):
    """Minimum-norm least-squares solution by LAPACK gelsd, with the numerical rank."""
    x, _, rank, _ = scipy.linalg.lstsq(A, b, lapack_driver="gelsd", check_finite=False)
    return x, int(rank)


def normal_residual(A, V, B=None, block=2048):
    """``A.T @ (B - A @ V)`` (``B = 0`` if None) in one pass over ``A``.

    Row blocks of ``A`` stay in cache between the two products, so ``A`` is read from memory
    once instead of twice (the iteration is memory-bound for tall ``A``).
    """
    out = np.zeros((A.shape[1], V.shape[1]), dtype=np.result_type(A.dtype, V.dtype))
    for s in range(0, A.shape[0], block):
        Ab = A[s:s + block]
        r = Ab @ V
        if B is None:
            np.negative(r, out=r)
        else:
            np.subtract(B[s:s + block], r, out=r)
        out += Ab.T @ r
    return out
