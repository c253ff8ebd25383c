"""Numba kernels of the sketching area (CPU twin of :mod:`nla_gpu.sketching`).

Every kernel applies the columns ``row0 .. row0 + X.shape[0]`` of a sketch to a row block
``X``; the random quantities of data row ``j`` are hashes of the *global* index
``row0 + j`` (see :mod:`nla._random`), so summing the results of any row chunking gives the
sketch of the whole matrix. Dense sketches are applied blockwise: no kernel ever holds an
``m x n`` matrix.
"""


from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numba import get_num_threads, njit, prange

from .._blas import syrk_upper, trmm_t
from .._jit import run_parts
from .._random import below_jit, gaussian_block_jit, gaussian_jit, hash_jit, sign_jit
from .._threads import one_blas_thread
from ._hashing import permute_index, permute_params

xp = np

_U64 = np.uint64
#: Cache sizes the FWHT blocks for (bytes): an L1 and a safe share of an L2.
_L1_BYTES = 32768
_L2_BYTES = 1 << 20
#: Bytes of the padded work array of the Hadamard sketches; wider X is done in column chunks.
_WORK_BYTES = 1 << 29
#: Bytes of the per-chunk partial sums of the row-parallel reductions.
_PARTIALS_BYTES = 1 << 26

_permute_jit = njit(inline="always", cache=True)(permute_index)


# --- fast Walsh-Hadamard transform -----------------------------------------------------------
#
# H_N = H_M (x) H_B with N = M B: level 1 transforms contiguous blocks of B rows (B k numbers
# fit in L2), level 2 the M-point transforms across blocks, on rows o, o + B, ... gathered into
# a buffer one offset at a time. Each level streams the array once (read and write), so
# the whole transform moves about 4 N k numbers through memory; the butterflies run in cache.

@njit(cache=True)
def _fwht_stages(Y, h):
    # Butterfly stages h, 2h, ... < len(Y) along axis 0 of a C-contiguous block. Rows
    # [i, i + h) form one contiguous run of h * k numbers, so each butterfly group is an
    # elementwise operation on 2 (radix 2) or 4 (radix 4: two stages per sweep) long
    # contiguous runs, which vectorises whatever the number of columns k.
    n, k = Y.shape
    y = Y.reshape(n * k)
    total = n * k
    while h < n:
        L = h * k
        if 4 * h > n:  # one radix-2 stage left
            for i in range(0, total, 2 * L):
                a = y[i:i + L]
                b = y[i + L:i + 2 * L]
                for t in range(L):
                    u = a[t]
                    v = b[t]
                    a[t] = u + v
                    b[t] = u - v
            h *= 2
            continue
        if L < 16:  # short runs (first stages of few columns): index directly, no views
            for i in range(0, total, 4 * L):
                for t in range(i, i + L):
                    s0 = y[t] + y[t + L]
                    d0 = y[t] - y[t + L]
                    s1 = y[t + 2 * L] + y[t + 3 * L]
                    d1 = y[t + 2 * L] - y[t + 3 * L]
                    y[t] = s0 + s1
                    y[t + L] = d0 + d1
                    y[t + 2 * L] = s0 - s1
                    y[t + 3 * L] = d0 - d1
            h *= 4
            continue
        for i in range(0, total, 4 * L):
            a = y[i:i + L]
            b = y[i + L:i + 2 * L]
            e = y[i + 2 * L:i + 3 * L]
            f = y[i + 3 * L:i + 4 * L]
            for t in range(L):
                s0 = a[t] + b[t]
                d0 = a[t] - b[t]
                s1 = e[t] + f[t]
                d1 = e[t] - f[t]
                a[t] = s0 + s1
                b[t] = d0 + d1
                e[t] = s0 - s1
                f[t] = d0 - d1
        h *= 4


@njit(cache=True)
def _fwht_local(Y):
    # Full unnormalised FWHT of a C-contiguous (n, k) block, blocked for L1 then L2.
    n, k = Y.shape
    row_bytes = max(1, k * Y.itemsize)
    L1 = 1
    while L1 < n and 2 * L1 * row_bytes <= _L1_BYTES:
        L1 *= 2
    L2 = L1
    while L2 < n and 2 * L2 * row_bytes <= _L2_BYTES:
        L2 *= 2
    for s in range(0, n, L1):
        _fwht_stages(Y[s:s + L1], 1)
    for s in range(0, n, L2):
        _fwht_stages(Y[s:s + L2], L1)
    _fwht_stages(Y, L2)


def _block_rows(N, k, itemsize):
    # Level-1 block: rows filling about half an L2, and at most about sqrt(N) rows so that
    # level 2 also has long transforms (few columns would otherwise make it all overhead).
    B = 1
    while B < N and 2 * B * k * itemsize <= _L2_BYTES and B * B < N:
        B *= 2
    return B


@njit(parallel=True, cache=True)
def _fwht_two_level(Y, B):
    N, k = Y.shape
    M = N // B
    for b in prange(M):
        _fwht_local(Y[b * B:(b + 1) * B])
    if M == 1:
        return
    # Level 2, one offset at a time (measured faster than gathering several offsets per
    # buffer: the buffer stays in L1/L2 and the strided row reads are whole rows anyway).
    chunks = min(B, 256)
    for ch in prange(chunks):
        buf = np.empty((M, k), dtype=Y.dtype)
        for o in range(ch * B // chunks, (ch + 1) * B // chunks):
            for t in range(M):
                for c in range(k):
                    buf[t, c] = Y[t * B + o, c]
            _fwht_local(buf)
            for t in range(M):
                for c in range(k):
                    Y[t * B + o, c] = buf[t, c]


def fwht(Y):
    """In-place FWHT of a NumPy array (public entry: :func:`nla.sketching.fwht`).

    Cache-blocked in two levels, parallel over row blocks.
    """
    N = Y.shape[0]
    if N & (N - 1) or not Y.flags.c_contiguous:
        raise ValueError(f"Y must be C-contiguous with a power-of-two length, got shape "
                         f"{Y.shape}")
    Y2 = Y.reshape(N, -1)
    _fwht_two_level(Y2, _block_rows(N, Y2.shape[1], Y2.dtype.itemsize))
    return Y


# --- Hadamard sketches -----------------------------------------------------------------------

@njit(parallel=True, cache=True)
def _row_hashes(row0, sign_key, pkeys, mask, shift, permute, slots, signs):
    # Slot (keyed permutation, or identity = zero padding) and sign of each data row.
    for j in prange(slots.shape[0]):
        g = _U64(row0 + j)
        slots[j] = np.int64(_permute_jit(pkeys, mask, shift, g)) if permute else np.int64(g)
        signs[j] = sign_jit(hash_jit(sign_key, g, _U64(0)))


@njit(parallel=True, cache=True)
def _scatter_signed(X, c0, slots, signs, Y):
    # Y = D_sigma P X[:, c0:c0 + w], zero padded (the sketch's first two factors).
    w = Y.shape[1]
    if X.shape[0] < Y.shape[0]:  # otherwise the slots are a permutation of all rows
        for i in prange(Y.shape[0]):
            Y[i] = 0.0
    for j in prange(X.shape[0]):
        s = signs[j]
        src = X[j, c0:c0 + w]
        dst = Y[slots[j]]
        for c in range(w):
            dst[c] = s * src[c]


def _column_chunks(N, k, itemsize):
    width = max(1, min(k, _WORK_BYTES // (N * itemsize)))
    return [(c0, min(k, c0 + width)) for c0 in range(0, k, width)]


@njit(parallel=True, cache=True)
def _pool_weights(pkeys, mask, shift, gauss_key, m, scale, buckets, weights):
    # Slot t of the transform goes to output row bucket(perm(t)) with weight gamma(perm(t)).
    N = buckets.shape[0]
    for t in prange(N):
        p = _permute_jit(pkeys, mask, shift, _U64(t))
        buckets[t] = (np.int64(p) * m) // N
        weights[t] = scale * gaussian_jit(gauss_key, p, _U64(0))


@njit(parallel=True, cache=True)
def _pool(Y, buckets, weights, nt, out):
    # out[buckets[t]] += weights[t] * Y[t]; threads own column ranges (no races).
    k = Y.shape[1]
    for th in prange(nt):
        c0 = th * k // nt
        c1 = (th + 1) * k // nt
        for t in range(Y.shape[0]):
            dst = out[buckets[t], c0:c1]
            src = Y[t, c0:c1]
            wt = weights[t]
            for c in range(c1 - c0):
                dst[c] += wt * src[c]


def _hashes(sign_key, pkeys, bits, X, row0, permute):
    mask, shift = permute_params(bits)
    slots = np.empty(X.shape[0], dtype=np.int64)
    signs = np.empty(X.shape[0], dtype=X.dtype)
    _row_hashes(row0, _U64(sign_key), pkeys, mask, shift, permute, slots, signs)
    return slots, signs


def srht_apply(sign_key, pkeys, bits, rows, X, row0, scale):
    """SRHT columns ``row0 ..`` times ``X``: ``scale * (H D_sigma P X)[rows]``.

    Rows of ``X`` go with random signs to the slots of the keyed permutation ``pkeys`` in a
    zero-padded array of length ``2**bits``, are transformed by the FWHT and the sampled
    ``rows`` are kept (in column chunks when the padded array would be large).
    """
    slots, signs = _hashes(sign_key, pkeys, bits, X, row0, True)
    N = 1 << bits
    out = np.empty((rows.shape[0], X.shape[1]), dtype=X.dtype)
    for c0, c1 in _column_chunks(N, X.shape[1], X.dtype.itemsize):
        Y = np.empty((N, c1 - c0), dtype=X.dtype)
        _scatter_signed(X, c0, slots, signs, Y)
        fwht(Y)
        np.multiply(Y[rows], scale, out=out[:, c0:c1])
    return out


def hgp_apply(sign_key, pkeys, bits, gauss_key, m, X, row0):
    """Hadamard Gaussian-pooled sketch columns ``row0 ..`` times ``X``.

    ``S = B D_gamma Pi (H / sqrt(N)) D_sigma J``: zero padding ``J``, random signs, normalised
    FWHT, keyed permutation ``Pi``, iid N(0, 1) weights and sums ``B`` of ``m`` consecutive
    blocks of ``N / m`` rows.
    """
    N = 1 << bits
    slots, signs = _hashes(sign_key, pkeys, bits, X, row0, False)
    mask, shift = permute_params(bits)
    buckets = np.empty(N, dtype=np.int64)
    weights = np.empty(N, dtype=X.dtype)
    _pool_weights(pkeys, mask, shift, _U64(gauss_key), m, 1.0 / np.sqrt(N), buckets, weights)
    out = np.zeros((m, X.shape[1]), dtype=X.dtype)
    for c0, c1 in _column_chunks(N, X.shape[1], X.dtype.itemsize):
        Y = np.empty((N, c1 - c0), dtype=X.dtype)
        _scatter_signed(X, c0, slots, signs, Y)
        fwht(Y)
        part = np.zeros((m, c1 - c0), dtype=X.dtype)
        _pool(Y, buckets, weights, min(get_num_threads(), c1 - c0), part)
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
    with one_blas_thread():  # multi-threaded gemm rounds differently per thread count
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


@njit(parallel=True, cache=True)
def _sparse_sign_rows(X, row0, bucket_key, sign_key, m, nnz, scale, partial):
    # Row chunks: chunk c adds its rows' nnz signed copies into its own partial[c], so A is
    # read once (the column-task kernel above reads it nnz times). The chunk count is fixed by
    # the sizes, never by the thread count, so the ordered sum of the partials is the same
    # number on any number of threads.
    n, k = X.shape
    nc = partial.shape[0]
    for c in prange(nc):
        out = partial[c]
        for j in range(c * n // nc, (c + 1) * n // nc):
            g = _U64(row0 + j)
            x = X[j]
            for t in range(nnz):
                lo = t * m // nnz
                size = (t + 1) * m // nnz - lo
                i = lo + np.int64(below_jit(hash_jit(bucket_key, g, _U64(t)), size))
                s = scale * sign_jit(hash_jit(sign_key, g, _U64(t)))
                dst = out[i]
                for cc in range(k):
                    dst[cc] += s * x[cc]


def _row_chunks(n, partial_bytes, rows_per_chunk=8192, most=32):
    # Chunks of a row-parallel reduction: a function of the sizes only (see above), bounded
    # by the memory of the per-chunk partial results.
    return max(1, min(most, n // rows_per_chunk, _PARTIALS_BYTES // max(partial_bytes, 1)))


def sparse_sign_apply(bucket_key, sign_key, m, nnz, X, row0, scale):
    """Sparse sign sketch (``nnz`` entries of +-scale per column) times ``X``, from ``row0``."""
    n, k = X.shape
    nc = _row_chunks(n, m * k * X.itemsize)
    if nc >= 4:  # tall X: one read of X into per-chunk partial sketches
        partial = np.zeros((nc, m, k), dtype=X.dtype)
        _sparse_sign_rows(X, row0, _U64(bucket_key), _U64(sign_key), m, nnz, scale, partial)
        return partial.sum(axis=0)
    out = np.zeros((m, k), dtype=X.dtype)
    threads = get_num_threads()
    chunks = max(1, min(k, -(-threads // nnz)))
    _sparse_sign(X, row0, _U64(bucket_key), _U64(sign_key), m, nnz, scale, chunks, out)
    return out


@njit(parallel=True, cache=True)
def _sparse_sign_csr(indptr, indices, data, row0, bucket_key, sign_key, m, nnz, scale, out):
    # As _sparse_sign for a CSR X: task t owns output row block t, so no two tasks write the
    # same entry and each entry is summed in row order (any thread count, same numbers).
    # Work O(nnz * nnz(X)).
    for t in prange(nnz):
        lo = t * m // nnz
        size = (t + 1) * m // nnz - lo
        for j in range(indptr.shape[0] - 1):
            g = _U64(row0 + j)
            dst = out[lo + np.int64(below_jit(hash_jit(bucket_key, g, _U64(t)), size))]
            s = scale * sign_jit(hash_jit(sign_key, g, _U64(t)))
            for p in range(indptr[j], indptr[j + 1]):
                dst[indices[p]] += s * data[p]


def sparse_sign_apply_sparse(bucket_key, sign_key, m, nnz, X, row0, scale):
    """Sparse sign sketch times a sparse ``X`` (dense result), in ``O(nnz * nnz(X))``."""
    X = X.tocsr()
    out = np.zeros((m, X.shape[1]), dtype=X.dtype)
    _sparse_sign_csr(X.indptr, X.indices, X.data, row0, _U64(bucket_key), _U64(sign_key), m,
                     nnz, X.dtype.type(scale), out)
    return out


# --- small dense linear algebra and the fused normal-equation pass ----------------------------

def exact_lstsq(A, b):
    """Minimum-norm least-squares solution by LAPACK gelsd, with the numerical rank.

    Singular values below ``eps * max(n, d) * sigma_max`` count as zero (NumPy's and CuPy's
    default cutoff; SciPy's ``eps * sigma_max`` sits at the rounding level of exactly
    dependent columns).
    """
    cond = np.finfo(A.dtype).eps * max(A.shape)
    x, _, rank, _ = scipy.linalg.lstsq(A, b, cond=cond, lapack_driver="gelsd",
                                       check_finite=False)
    return x, int(rank)


@njit(cache=True, fastmath={"reassoc", "contract"})
def _row_dot(a, v):
    # reassociated so that it vectorises (its rounding is that of any dot product)
    s = 0.0
    for j in range(a.shape[0]):
        s += a[j] * v[j]
    return s


@njit(parallel=True, cache=True, fastmath={"contract"})
def _residual_rows(A, VT, B, has_b, partial, comp, rss):
    # partial[t] += sum over the rows a of chunk t of (b - a . v) a, and rss[t] += (b - a . v)**2,
    # row by row: the row is still in L1 for the second product, so A is read from memory
    # exactly once. The chunks are fixed by the sizes (see _row_chunks). The gradient sums
    # are compensated (Kahan; comp holds what each lost): at the solution A^T r is a sum of
    # n terms cancelling to almost nothing, and a plain running sum would add an error of
    # eps ||a_j|| ||r|| times about sqrt(n) (measured: refined x up to 40x less accurate
    # than gelsd at cond 1e5); no reassociation here, which would undo the compensation.
    n, d = A.shape
    q = VT.shape[0]
    nt = partial.shape[0]
    for t in prange(nt):
        acc = partial[t]
        lost = comp[t]
        for i in range(t * n // nt, (t + 1) * n // nt):
            a = A[i]
            for c in range(q):
                r = (B[i, c] if has_b else 0.0) - _row_dot(a, VT[c])
                rss[t, c] += r * r
                w = acc[c]
                e = lost[c]
                for j in range(d):
                    y = a[j] * r - e[j]
                    total = w[j] + y
                    e[j] = (total - w[j]) - y
                    w[j] = total


def residual_pass(A, V, B=None, T=None, block=4096):
    """``(Y.T @ (B - A @ V), ||B - A @ V||**2 per column)`` in one pass over ``A``.

    ``Y = A`` or, with ``T``, ``Y = A @ T`` formed block by block (the gradient in the
    preconditioned coordinates, whose rounding does not grow with cond(A)). ``B = 0`` if
    None. The passes that call this are memory-bound for tall ``A``: C-contiguous ``A`` goes
    through a row-by-row Numba kernel (each row used for both products while in
    cache); other layouts through BLAS on row blocks that stay in cache between the two
    products; sparse ``A`` through two sparse products.
    """
    dtype = np.result_type(A.dtype, V.dtype)
    if sp.issparse(A):
        r = -(A @ V) if B is None else B - A @ V
        g = np.asarray(A.T @ r)
        return (g if T is None else T.T @ g), (r * r).sum(axis=0)
    if T is not None:
        return _residual_blocks(A, V, B, T, block)
    if A.flags.c_contiguous and A.dtype == dtype:
        nt = _row_chunks(A.shape[0], V.shape[1] * A.shape[1] * A.itemsize, 4096, 64)
        partial = np.zeros((nt, V.shape[1], A.shape[1]), dtype=dtype)
        comp = np.zeros_like(partial)
        rss = np.zeros((nt, V.shape[1]), dtype=dtype)
        VT = np.ascontiguousarray(V.T, dtype=dtype)
        Bc = np.zeros((1, 1), dtype=dtype) if B is None else B.astype(dtype, copy=False)
        _residual_rows(A, VT, Bc, B is not None, partial, comp, rss)
        return (partial - comp).sum(axis=0).T, rss.sum(axis=0)
    return _residual_blocks(A, V, B, None, block)


def _fixed_chunks(n, block):
    # Row chunks of a blocked reduction over n rows: at least 4 blocks each, at most 16, a
    # function of the sizes only (chunk c is rows c n // chunks .. (c + 1) n // chunks).
    return max(1, min(16, -(-n // (4 * block))))


def _blocked_sum(func, n, block):
    """``sum(func(s, e) for row blocks [s, e))``: one-thread BLAS inside, threads across.

    Multi-threaded BLAS on cache-sized blocks spin-waits badly on a shared machine (measured
    4x slower than one thread under load), so each of a fixed set of row chunks (a function
    of ``n`` only, so the sum is the same on any number of threads) loops over its blocks on
    one thread with single-threaded BLAS, and the chunk sums are added in order.
    """
    n_chunks = _fixed_chunks(n, block)
    bounds = [(c * n // n_chunks, (c + 1) * n // n_chunks) for c in range(n_chunks)]

    def chunk(bound):
        lo, hi = bound
        total = None
        for s in range(lo, hi, block):
            part = func(s, min(hi, s + block))
            total = part if total is None else tuple(t + p for t, p in zip(total, part))
        return total

    with one_blas_thread():
        workers = min(get_num_threads(), n_chunks)
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                parts = list(pool.map(chunk, bounds))
        else:
            parts = [chunk(bound) for bound in bounds]
    total = parts[0]
    for part in parts[1:]:
        total = tuple(t + p for t, p in zip(total, part))
    return total


def _residual_blocks(A, V, B, T, block):
    # BLAS on row blocks that stay in cache between the products.
    def one(s, e):
        Ab = A[s:e]
        r = Ab @ V
        if B is None:
            np.negative(r, out=r)
        else:
            np.subtract(B[s:e], r, out=r)
        return (Ab if T is None else Ab @ T).T @ r, (r * r).sum(axis=0)

    return _blocked_sum(one, A.shape[0], block)


def normal_residual(A, V, B=None):
    """``A.T @ (B - A @ V)`` (``B = 0`` if None) in one pass over ``A`` (see residual_pass)."""
    return residual_pass(A, V, B)[0]


def gram_pass(A, B, T=None, block=4096):
    """``(Y.T @ Y, Y.T @ B)`` for ``Y = A`` or ``Y = A @ T``, never forming ``Y`` in full.

    With ``T`` the inverse of a sketched R factor, ``Y`` is well conditioned and its Gram
    matrix loses no accuracy to squaring. Row blocks of ``Y`` are formed by BLAS and used
    while they are in cache; sparse ``A`` uses sparse products.
    """
    if sp.issparse(A):
        if T is None:
            return _csr_gram(A.tocsr(), B)
        Y = A @ T
        return Y.T @ Y, Y.T @ B
    if T is None:
        return _plain_gram(A, B)
    if np.result_type(A.dtype, B.dtype, T.dtype) == np.float64:
        return _preconditioned_gram(A, B, T)

    def one(s, e):
        Y = A[s:e] @ T
        return Y.T @ Y, Y.T @ B[s:e]

    return _blocked_sum(one, A.shape[0], block)


def _preconditioned_gram(A, B, T):
    # Y = A T by float64 BLAS trmm on row blocks of about 512 KB, Y^T Y by float32 syrk,
    # summed in float64: half the flops of a product by a full T, and a float32 rank-k
    # update runs at about twice the float64 rate (measured at 2^18 x 500, 2 threads: 1.3 s
    # against 2.2 s for NumPy's gemm + syrk on the same blocks; about equal at 2^20 x 50,
    # where the copy of A's blocks costs as much as the products). Y must be formed in
    # float64 (T is as ill conditioned as A, so a rounding of A to float32 would move Y by
    # about eps32 cond(A)), but Y itself is well conditioned: its Gram matrix to float32
    # accuracy still factors it, and the driver's refinement on the float64 residual
    # removes that error (it contracts by about eps32 cond(Y)**2 a step). The row chunks
    # are _blocked_sum's, so the sum is the same on any thread count.
    n, d = A.shape
    rows = max(64, min(4096, (1 << 19) // (8 * d)))
    chunks = _fixed_chunks(n, rows)
    G = np.zeros((chunks, d, d))
    H = np.zeros((chunks, B.shape[1], d))  # transposed: the kernel's inner loop runs over d
    with one_blas_thread():
        run_parts(_preconditioned_gram_chunks, chunks, A, B.astype(np.float64, copy=False),
                  np.asfortranarray(T, dtype=np.float64), rows, G, H, parts_per_thread=4)
    return G.sum(axis=0), H.sum(axis=0).T


@njit(nogil=True, cache=True)
def _preconditioned_gram_chunks(start, stop, A, B, T, rows, G, H):
    # Chunks start..stop of _preconditioned_gram: G[c] += Y^T Y, H[c] += B^T Y over the row
    # blocks of chunk c.
    n, d = A.shape
    chunks = G.shape[0]
    Y = np.empty((rows, d))
    Y32 = np.empty((rows, d), dtype=np.float32)
    C = np.zeros((d, d), dtype=np.float32)
    for c in range(start, stop):
        g = G[c]
        h = H[c]
        for s in range(c * n // chunks, (c + 1) * n // chunks, rows):
            m = min(rows, (c + 1) * n // chunks - s)
            Yb = Y[:m]
            Yb[:] = A[s:s + m]
            trmm_t(T, Yb)
            Y32[:m] = Yb
            syrk_upper(Y32[:m], C)
            for j in range(d):  # C's lower triangle holds (Y^T Y)[i, j] at C[j, i], i <= j
                for i in range(j):
                    g[i, j] += C[j, i]
                    g[j, i] += C[j, i]
                g[j, j] += C[j, j]
            for i in range(m):
                for q in range(h.shape[0]):
                    b = B[s + i, q]
                    for j in range(d):
                        h[q, j] += Yb[i, j] * b


def _plain_gram(A, B):
    # [A | B]^T [A | B] by one-thread BLAS syrk on row blocks of about 512 KB copied side by
    # side (any layout of A): one read of A for G and H together, the blocks' products in
    # cache, a fixed blocking (the same sums on any thread count). Measured at 2^20 x 50 in
    # one process: 0.6-0.8x the time of A.T @ A and A.T @ B by multithreaded BLAS.
    d, k = A.shape[1], B.shape[1]
    dtype = np.result_type(A.dtype, B.dtype)
    block = max(256, min(4096, (1 << 19) // (dtype.itemsize * (d + k))))

    def one(s, e):
        C = np.empty((e - s, d + k), dtype=dtype)
        C[:, :d] = A[s:e]
        C[:, d:] = B[s:e]
        return (C.T @ C,)

    if A.shape[0] == 0:
        return np.zeros((d, d), dtype=dtype), np.zeros((d, k), dtype=dtype)
    W = _blocked_sum(one, A.shape[0], block)[0]
    return W[:d, :d], W[:d, d:]


def _csr_gram(A, B):
    # A^T A and A^T B for CSR A, O(sum of nnz(row)**2 / 2) work: the upper triangle of
    # A^T A by blocks of its rows of about 4 MB (512 rows at d = 1000). Each block scans
    # every row of A and adds each entry in its columns times the row's entries from that
    # column on (indices sorted); fewer, larger blocks scan A fewer times, smaller ones keep
    # their updates in cache. Where d is small the rows are split into chunks with partial
    # sums instead; the split depends on the sizes only, so the sums are the same on any
    # thread count. Measured at 1e6 x 1000 with 1e7 nonzeros: 0.10-0.17 s, against
    # 0.5-1.1 s (same process, load about 1) for the full square by row chunks it replaces.
    if not A.has_sorted_indices:
        A = A.sorted_indices()
    n, d = A.shape
    width = max(32, (1 << 22) // (A.dtype.itemsize * d))
    blocks = -(-d // width)
    chunks = max(1, min(8, 8 // blocks))
    G = np.zeros((chunks, d, d), dtype=A.dtype)
    H = np.zeros((chunks, d, B.shape[1]), dtype=A.dtype)
    run_parts(_csr_gram_blocks, blocks * chunks, A.indptr, A.indices, A.data,
              np.ascontiguousarray(B, dtype=A.dtype), width, G, H, parts_per_thread=2)
    G = G.sum(axis=0)
    return np.triu(G) + np.triu(G, 1).T, H.sum(axis=0)


@njit(nogil=True, cache=True)
def _csr_gram_blocks(start, stop, indptr, indices, data, B, width, G, H):
    # Tasks start..stop of _csr_gram: task t adds, over the rows of its row chunk, each entry
    # in columns [q0, q1) times the row's entries from it on (rows q0..q1 of G and H, which
    # no other task of the chunk writes). A repeated column gives G[c, c] its cross terms
    # once per order, as the product of the summed entries has them.
    n = indptr.shape[0] - 1
    d = G.shape[1]
    chunks = G.shape[0]
    for task in range(start, stop):
        q0 = (task // chunks) * width
        q1 = min(d, q0 + width)
        c = task % chunks
        g = G[c]
        h = H[c]
        for i in range(c * n // chunks, (c + 1) * n // chunks):
            a0 = indptr[i]
            a1 = indptr[i + 1]
            for p in range(a0, a1):
                col = indices[p]
                if col < q0 or col >= q1:
                    continue
                vp = data[p]
                row = g[col]
                row[col] += vp * vp
                for q in range(p + 1, a1):
                    w = vp * data[q]
                    row[indices[q]] += w
                    if indices[q] == col:  # a repeated column: (v_p + v_q)^2 needs 2 v_p v_q
                        row[col] += w
                hrow = h[col]
                for j in range(B.shape[1]):
                    hrow[j] += vp * B[i, j]
