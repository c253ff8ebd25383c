"""Numba kernels of the random-projection area (CPU twin of ``nla_gpu.random_projection``).

Every function takes and returns SciPy/NumPy objects; ``nla_gpu.random_projection`` has the
same names on CuPy objects. All loops are parallel over output rows, so no two threads write
the same memory and no atomics are needed. They run as ``nogil`` kernels over contiguous parts
(:func:`nla._jit.run_parts`) rather than ``prange``: the same parallelism for a fraction of
the compile time (``parallel=True`` cost fastrp's first call 6 of its 9 CPU s).
"""

import numpy as np
import scipy.sparse as sp
from numba import get_num_threads, njit

from .._jit import run_parts
from .._random import insertion_sort_jit, sparse_sign_rows


def generate(seed, n_rows, n_cols, density, scale, dtype):
    """The ``n_rows x n_cols`` very sparse sign matrix of ``seed`` as a CSR matrix."""
    indptr, indices, data = sparse_sign_rows(seed, 0, n_rows, n_cols, density, scale, dtype)
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


@njit(cache=True, nogil=True)
def _gather(start, stop, X, cols, cp, slot, cd, rest, out, n_chunks, sums):
    # out[i, c] = sum over the stored features of component c of cd * X[i, feature]. Blocks of
    # eight rows are first transposed, restricted to the features R touches, into buf (one
    # row of buf = the eight values of a feature), so that every stored entry of R costs one
    # contiguous 8-wide load and multiply-add instead of eight scattered loads.
    # sums[ch] adds up chunk ch's outputs and its entries of the features R leaves out
    # (`rest`): a NaN/inf anywhere in X makes some sum non-finite (R's stored values are
    # nonzero), so a finite total proves X finite without another pass over it.
    # Row chunks start..stop (of n_chunks) of the first 8 * (n // 8) rows; _gather_tail does
    # the rest.
    n, k = X.shape[0], cp.shape[0] - 1
    n_blocks = n // 8
    for ch in range(start, stop):
        buf = np.empty((cols.shape[0], 8), dtype=X.dtype)
        total = 0.0
        for b in range(ch * n_blocks // n_chunks, (ch + 1) * n_blocks // n_chunks):
            i = 8 * b
            x0, x1, x2, x3 = X[i], X[i + 1], X[i + 2], X[i + 3]
            x4, x5, x6, x7 = X[i + 4], X[i + 5], X[i + 6], X[i + 7]
            for q in range(cols.shape[0]):
                j, r = cols[q], buf[q]
                r[0], r[1], r[2], r[3] = x0[j], x1[j], x2[j], x3[j]
                r[4], r[5], r[6], r[7] = x4[j], x5[j], x6[j], x7[j]
            for q in range(rest.shape[0]):
                j = rest[q]
                total += ((x0[j] + x1[j]) + (x2[j] + x3[j])) + ((x4[j] + x5[j]) + (x6[j] + x7[j]))
            for c in range(k):
                a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
                for t in range(cp[c], cp[c + 1]):
                    v, r = cd[t], buf[slot[t]]
                    a0 += v * r[0]
                    a1 += v * r[1]
                    a2 += v * r[2]
                    a3 += v * r[3]
                    a4 += v * r[4]
                    a5 += v * r[5]
                    a6 += v * r[6]
                    a7 += v * r[7]
                out[i, c], out[i + 1, c], out[i + 2, c], out[i + 3, c] = a0, a1, a2, a3
                out[i + 4, c], out[i + 5, c], out[i + 6, c], out[i + 7, c] = a4, a5, a6, a7
                total += ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
        sums[ch] = total


@njit(cache=True)
def _gather_tail(X, cols, cp, slot, cd, rest, out):
    # The last n % 8 rows of _gather, one at a time; returns their sum (see sums above).
    n, k = X.shape[0], cp.shape[0] - 1
    tail = 0.0
    for i in range(n - n % 8, n):
        for c in range(k):
            a = 0.0
            for t in range(cp[c], cp[c + 1]):
                a += cd[t] * X[i, cols[slot[t]]]
            out[i, c] = a
            tail += a
        for q in range(rest.shape[0]):
            tail += X[i, rest[q]]
    return tail


def project_dense(X, components):
    """``(X @ components.T, finite)`` for dense ``X`` (n x D) and CSR ``components`` (k x D).

    ``finite`` is True when the pass proved ``X`` free of NaN and inf; False means that it may
    hold some (or that a sum overflowed): the caller then checks ``X`` exactly.
    """
    X = np.ascontiguousarray(X)
    cols, slot = np.unique(components.indices, return_inverse=True)  # features R touches
    rest = np.setdiff1d(np.arange(X.shape[1]), cols, assume_unique=True)
    out = np.empty((X.shape[0], components.shape[0]), dtype=X.dtype)
    chunks = max(1, min(X.shape[0] // 8, 4 * get_num_threads()))
    sums = np.empty(chunks + 1)
    args = (X, cols, components.indptr, slot, components.data.astype(X.dtype, copy=False),
            rest, out)
    run_parts(_gather, chunks, *args, chunks, sums, parts_per_thread=1)
    sums[chunks] = _gather_tail(*args)
    with np.errstate(over="ignore", invalid="ignore"):
        return out, bool(np.isfinite(sums.sum()))


@njit(cache=True, nogil=True)
def _scatter(start, stop, xp, xi, xd, rp, ri, rd, out):
    # Rows start..stop of out: out[i] = sum over stored (j, x) of row i of X of x * R[j];
    # each thread owns its rows and zeroes them first (in parallel, unlike np.zeros).
    for i in range(start, stop):
        for c in range(out.shape[1]):
            out[i, c] = 0.0
        for t in range(xp[i], xp[i + 1]):
            j = xi[t]
            x = xd[t]
            for u in range(rp[j], rp[j + 1]):
                out[i, ri[u]] += x * rd[u]


@njit(cache=True)
def _scatter_row(xp, xi, xd, rp, ri, rd, i, buf, mark, touched):
    # Row i of X @ R into the dense buffer `buf`; `mark[c] == i` flags columns already touched.
    m = 0
    for t in range(xp[i], xp[i + 1]):
        j = xi[t]
        x = xd[t]
        for u in range(rp[j], rp[j + 1]):
            c = ri[u]
            if mark[c] != i:
                mark[c] = i
                touched[m] = c
                m += 1
            buf[c] += x * rd[u]
    return m


@njit(cache=True, nogil=True)
def _spgemm(start, stop, xp, xi, xd, rp, ri, rd, k, n_chunks, counts, indptr, indices, data,
            fill):
    # Gustavson row-by-row product with a dense accumulator per chunk of rows (chunks
    # start..stop). Run twice: once to count the nonzeros of each row (fill=False), once to
    # write them (fill=True).
    n = xp.shape[0] - 1
    for ch in range(start, stop):
        buf = np.zeros(k, dtype=data.dtype)
        touched = np.empty(k, dtype=np.int64)
        mark = np.full(k, -1, dtype=np.int64)
        for i in range(ch * n // n_chunks, (ch + 1) * n // n_chunks):
            m = _scatter_row(xp, xi, xd, rp, ri, rd, i, buf, mark, touched)
            if m * m <= 4 * k:  # few columns: sort them; many: collect them in column order
                insertion_sort_jit(touched, m)
            else:
                m = 0
                for c in range(k):
                    if mark[c] == i:
                        touched[m] = c
                        m += 1
            pos = indptr[i] if fill else 0
            for q in range(m):
                c = touched[q]
                if buf[c] != 0.0:
                    if fill:
                        indices[pos] = c
                        data[pos] = buf[c]
                    pos += 1
                buf[c] = 0.0
            if not fill:
                counts[i] = pos


def project_sparse(X, R, dense_output):
    """``X @ R`` for CSR ``X`` (n x D) and CSR ``R`` (D x k), dense or CSR result."""
    n, k = X.shape[0], R.shape[1]
    args = (X.indptr, X.indices, X.data, R.indptr, R.indices, R.data.astype(X.dtype, copy=False))
    if dense_output:
        out = np.empty((n, k), dtype=X.dtype)
        run_parts(_scatter, n, *args, out)
        return out
    chunks = max(1, min(n, 8 * get_num_threads()))
    counts = np.zeros(n, dtype=np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    empty = np.empty(0, dtype=X.dtype)
    run_parts(_spgemm, chunks, *args, k, chunks, counts, indptr, empty.astype(np.int64), empty,
              False, parts_per_thread=1)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int64)
    data = np.empty(indptr[-1], dtype=X.dtype)
    run_parts(_spgemm, chunks, *args, k, chunks, counts, indptr, indices, data, True,
              parts_per_thread=1)
    return sp.csr_matrix((data, indices, indptr), shape=(n, k))


@njit(cache=True)
def _sparse_dense_row(ap, ai, ad, N, i, row):
    # row = (A @ N)[i]. Eight neighbours per sweep over the row: row is loaded and stored once
    # per eight products instead of once per product (1.7x on BlogCatalog at d = 512).
    d = N.shape[1]
    for c in range(d):
        row[c] = 0.0
    t, end = ap[i], ap[i + 1]
    while t + 8 <= end:
        a0, a1, a2, a3 = ad[t], ad[t + 1], ad[t + 2], ad[t + 3]
        a4, a5, a6, a7 = ad[t + 4], ad[t + 5], ad[t + 6], ad[t + 7]
        s0, s1, s2, s3 = N[ai[t]], N[ai[t + 1]], N[ai[t + 2]], N[ai[t + 3]]
        s4, s5, s6, s7 = N[ai[t + 4]], N[ai[t + 5]], N[ai[t + 6]], N[ai[t + 7]]
        for c in range(d):
            row[c] += ((a0 * s0[c] + a1 * s1[c]) + (a2 * s2[c] + a3 * s3[c])) + (
                (a4 * s4[c] + a5 * s5[c]) + (a6 * s6[c] + a7 * s7[c]))
        t += 8
    while t < end:
        a0, s0 = ad[t], N[ai[t]]
        for c in range(d):
            row[c] += a0 * s0[c]
        t += 1


@njit(cache=True, nogil=True)
def _propagate(start, stop, ap, ai, ad, N, out, acc, weight, normalize):
    # Rows start..stop of out = A @ N; while a row is hot, add weight * (row / ||row||) to acc.
    # A may be a block of rows (a dask chunk): out and acc have its rows, N all n.
    d = N.shape[1]
    for i in range(start, stop):
        row = out[i]
        _sparse_dense_row(ap, ai, ad, N, i, row)
        if weight != 0.0:
            scale = weight
            if normalize:
                norm = 0.0
                for c in range(d):
                    norm += np.float64(row[c]) * row[c]
                scale = weight / np.sqrt(norm) if norm > 0.0 else 0.0
            for c in range(d):
                acc[i, c] += scale * row[c]


def propagate(A, N, out, acc, weight, normalize):
    """``out = A @ N`` (CSR times dense), adding ``weight * rownorm(out)`` to ``acc``; returns out."""
    run_parts(_propagate, out.shape[0], A.indptr, A.indices, A.data.astype(N.dtype, copy=False),
              N, out, acc, float(weight), bool(normalize))
    return out


def scale_rows(M, factors, dtype):
    """``diag(factors) @ M`` for CSR ``M`` in ``dtype`` (same pattern, new data)."""
    data = (M.data * np.repeat(factors, np.diff(M.indptr))).astype(dtype, copy=False)
    return sp.csr_matrix((data, M.indices, M.indptr), shape=M.shape)


@njit(cache=True, nogil=True)
def _column_sums(start, stop, X, n_chunks, s1, s2):
    # Row chunks start..stop of X: s1[ch], s2[ch] = column sums of X and X^2 (float64).
    n, d = X.shape
    for ch in range(start, stop):
        for i in range(ch * n // n_chunks, (ch + 1) * n // n_chunks):
            for c in range(d):
                v = np.float64(X[i, c])
                s1[ch, c] += v
                s2[ch, c] += v * v


@njit(cache=True, nogil=True)
def _shift_scale(start, stop, X, mean, scale):
    # Rows start..stop of X: X[i, c] = (X[i, c] - mean[c]) * scale[c], in float64.
    for i in range(start, stop):
        for c in range(X.shape[1]):
            X[i, c] = (X[i, c] - mean[c]) * scale[c]


#: Row chunks of the column sums in ``standardize``: a constant, not the thread count, so the
#: summation order (and the result, bitwise) is the same with any number of threads.
_STANDARDIZE_CHUNKS = 64


def standardize(X):
    """Z-score the columns of ``X`` in place; constant columns become 0."""
    # Two nogil passes on run_parts, not one prange kernel: the same speed, and 0.3 s of
    # compilation instead of 5 s (parallel=True also compiled the NumPy reductions in it).
    n, d = X.shape
    chunks = max(1, min(n, _STANDARDIZE_CHUNKS))
    s1, s2 = np.zeros((chunks, d)), np.zeros((chunks, d))
    run_parts(_column_sums, chunks, X, chunks, s1, s2, parts_per_thread=1)
    mean = _sum_rows(s1) / n
    var = np.maximum(_sum_rows(s2) / n - mean * mean, 0.0)
    scale = np.where(var > 0.0, 1.0 / np.sqrt(np.where(var > 0.0, var, 1.0)), 0.0)
    run_parts(_shift_scale, n, X, mean, scale)
    return X


def _sum_rows(s):
    # s[0] + s[1] + ... in this order (NumPy's axis-0 sum may pair rows up differently).
    total = s[0].copy()
    for row in s[1:]:
        total += row
    return total
