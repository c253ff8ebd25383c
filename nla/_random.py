"""Counter-based random numbers.

Every random number in ``nla`` is a pure function of ``(seed, stream, row, counter)``: a
SplitMix64-style hash of the counters, never the state of a sequential generator. The same
seed therefore gives bit-identical integers (and so identical sparse supports and signs) on
any number of threads, in any row chunking, and on the CPU and GPU. Floating-point draws
built from them (uniforms, Gaussians) agree to the last bit for uniforms and up to libm
rounding for Gaussians.

Each primitive is written once as plain array code. :func:`numba.njit` compiles the scalar
form for kernels (the ``*_jit`` names); the same Python function applied to NumPy or CuPy
``uint64`` arrays is the vectorised form (the ``xp`` argument of the helpers below).
"""

import numpy as np
from numba import njit, prange

from ._jit import run_parts

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_ROW = _U64(0xD1B54A32D192ED03)
_COUNTER = _U64(0xAEF17502108EF2D9)
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11, _S32, _S63 = (_U64(v) for v in (30, 27, 31, 11, 32, 63))
_TWO53_INV = 1.0 / 9007199254740992.0

#: Named streams, so that one seed drives independent random objects.
STREAM_SUPPORT = 1
STREAM_SIGN = 2
STREAM_GAUSS = 3
STREAM_INDEX = 4


def _mix64(z):
    # SplitMix64 finaliser: a bijection on uint64 with full avalanche.
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _hash(key, row, counter):
    return _mix64(_mix64(key + row * _ROW) + counter * _COUNTER)


def below_xp(bits, n):
    """Uniform integers in ``[0, n)`` from hash bits (arrays or scalars, n < 2**32), exact."""
    return ((bits >> _S32) * n) >> _S32


mix64_jit = njit(inline="always", cache=True)(_mix64)


@njit(inline="always", cache=True)
def hash_jit(key, row, counter):
    """Hash of ``(key, row, counter)`` (all uint64), the source of every random bit."""
    return mix64_jit(mix64_jit(key + row * _ROW) + counter * _COUNTER)


@njit(inline="always", cache=True)
def uniform_jit(bits):
    return np.float64(bits >> _S11) * _TWO53_INV


@njit(inline="always", cache=True)
def below_jit(bits, n):
    return ((bits >> _S32) * _U64(n)) >> _S32


@njit(inline="always", cache=True)
def sign_jit(bits):
    """+1.0 or -1.0 from the top bit."""
    return 1.0 - 2.0 * np.float64(bits >> _S63)


def stream_key(seed, stream):
    """Key of one named random stream of ``seed`` (a Python int in ``[0, 2**64)``)."""
    with np.errstate(over="ignore"):
        return int(_mix64(np.array(seed, dtype=_U64) + _U64(stream) * _GOLDEN))


def hash_xp(xp, key, rows, counters):
    """Vectorised hash of ``(key, rows, counters)`` as ``uint64`` in namespace ``xp``."""
    rows = xp.asarray(rows, dtype=xp.uint64)
    counters = xp.asarray(counters, dtype=xp.uint64)
    return _hash(xp.asarray(key, dtype=xp.uint64), rows, counters)


def uniform_xp(xp, key, rows, counters):
    """Uniforms in ``[0, 1)``, bit-identical to :func:`uniform_jit` of :func:`hash_jit`."""
    bits = hash_xp(xp, key, rows, counters)
    return (bits >> _S11).astype(xp.float64) * _TWO53_INV


def sign_xp(xp, key, rows, counters, dtype):
    """Random signs ``+-1`` in ``dtype``, equal to :func:`sign_jit` of :func:`hash_jit`."""
    bits = hash_xp(xp, key, rows, counters)
    return (1 - 2 * (bits >> _S63).astype(xp.int8)).astype(dtype)


@njit(cache=True, inline="always")
def gaussian_jit(key, row, col):
    """Standard normal at entry ``(row, col)`` of an endless matrix (Box-Muller)."""
    c = _U64(2) * _U64(col)
    u1 = (np.float64(hash_jit(key, _U64(row), c) >> _S11) + 1.0) * _TWO53_INV
    u2 = np.float64(hash_jit(key, _U64(row), c + _U64(1)) >> _S11) * _TWO53_INV
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def gaussian_xp(xp, key, rows, cols):
    """Vectorised :func:`gaussian_jit` (agrees up to libm rounding)."""
    c = xp.asarray(cols, dtype=xp.uint64) * _U64(2)
    u1 = (uniform_xp(xp, key, rows, c) + _TWO53_INV)
    u2 = uniform_xp(xp, key, rows, c + _U64(1))
    return xp.sqrt(-2.0 * xp.log(u1)) * xp.cos(2.0 * np.pi * u2)


@njit(parallel=True, cache=True)
def gaussian_block_jit(key, row0, col0, out):
    """Fill ``out[i, j]`` with the Gaussian at ``(row0 + i, col0 + j)`` (parallel over rows)."""
    for i in prange(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = gaussian_jit(key, row0 + i, col0 + j)
    return out


# --- sparse supports: rows with a Binomial(k, q) number of distinct columns -------------------

def binomial_cdf(k, q):
    """CDF table of Binomial(k, q), computed once on the host in float64.

    Both engines turn an exact uniform ``u`` into a count by ``searchsorted(cdf, u, 'right')``
    on this same table, so the count is identical everywhere.
    """
    c = np.arange(k + 1)
    from scipy.stats import binom  # local: scipy.stats is slow to import

    cdf = binom.cdf(c, k, q)
    cdf[-1] = 1.0
    return np.ascontiguousarray(cdf, dtype=np.float64)


@njit(inline="always", cache=True)
def _count_jit(u, cdf):
    lo, hi = 0, cdf.shape[0] - 1
    while lo < hi:  # first index with cdf > u
        mid = (lo + hi) // 2
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(inline="always", cache=True)
def insertion_sort_jit(a, m):
    """Sort ``a[:m]`` in place (short runs: random supports, touched columns)."""
    for s in range(1, m):
        v = a[s]
        q = s - 1
        while q >= 0 and a[q] > v:
            a[q + 1] = a[q]
            q -= 1
        a[q + 1] = v


@njit(inline="always", cache=True)
def _floyd_jit(key, row, count, n, out):
    # Floyd's algorithm: `count` distinct values of [0, n), then insertion sort.
    for s in range(count):
        t = n - count + s
        v = np.int64(below_jit(hash_jit(key, _U64(row), _U64(1 + s)), t + 1))
        for q in range(s):
            if out[q] == v:
                v = t
                break
        out[s] = v
    insertion_sort_jit(out, count)


# The two support kernels run rows start..stop as nogil kernels on nla._jit.run_parts: the
# same 2-thread speed as prange on large supports (1.7-1.9x over one thread at 10^4-10^6 rows),
# for half the compile time of parallel=True (1.6-1.9 -> 0.7-0.9 s in fastrp's first call).
@njit(cache=True, nogil=True)
def _support_counts_jit(start, stop, support_key, row0, cdf, counts):
    for i in range(start, stop):
        u = uniform_jit(hash_jit(support_key, _U64(row0 + i), _U64(0)))
        counts[i] = _count_jit(u, cdf)


@njit(cache=True, nogil=True)
def _support_fill_jit(start, stop, support_key, sign_key, row0, n_cols, scale, indptr, indices,
                      data):
    for i in range(start, stop):
        a, b = indptr[i], indptr[i + 1]
        _floyd_jit(support_key, row0 + i, b - a, n_cols, indices[a:b])
        for t in range(a, b):
            data[t] = scale * sign_jit(hash_jit(sign_key, _U64(row0 + i), _U64(indices[t])))


def sparse_sign_rows(seed, row0, n_rows, n_cols, density, scale, dtype=np.float64):
    """Rows of the very sparse sign matrix of ``seed`` as CSR arrays (CPU, Numba).

    Entry ``(j, c)`` is nonzero with probability ``density``, independently, with value
    ``+-scale``. The arrays depend only on ``(seed, j, n_cols, density, scale)``: any
    ``row0``/``n_rows`` chunking concatenates to the same matrix.

    Returns
    -------
    indptr, indices, data : ndarray
        CSR arrays (int64, int64, ``dtype``) for ``n_rows`` rows.
    """
    support = _U64(stream_key(seed, STREAM_SUPPORT))
    counts = np.empty(n_rows, dtype=np.int64)
    run_parts(_support_counts_jit, n_rows, support, row0, binomial_cdf(n_cols, density),
              counts)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(indptr[-1], dtype=np.int64)
    data = np.empty(indptr[-1], dtype=dtype)
    run_parts(_support_fill_jit, n_rows, support, _U64(stream_key(seed, STREAM_SIGN)), row0,
              n_cols, float(np.dtype(dtype).type(scale)), indptr, indices, data)
    return indptr, indices, data


def sparse_sign_rows_xp(xp, seed, row0, n_rows, n_cols, density, scale, dtype):
    """Array-code twin of :func:`sparse_sign_rows` for NumPy or CuPy namespaces ``xp``.

    Vectorised over rows; Floyd's steps run in lock-step with masks. Integer-exact, so the
    result equals the Numba one bit for bit.
    """
    support = stream_key(seed, STREAM_SUPPORT)
    rows = xp.arange(row0, row0 + n_rows, dtype=xp.uint64)
    cdf = xp.asarray(binomial_cdf(n_cols, density))
    u = uniform_xp(xp, support, rows, xp.zeros(n_rows, dtype=xp.uint64))
    counts = xp.searchsorted(cdf, u, side="right").astype(xp.int64)
    cmax = int(counts.max()) if n_rows else 0
    chosen = xp.full((n_rows, max(cmax, 1)), n_cols, dtype=xp.int64)
    for s in range(cmax):
        active = counts > s
        t = n_cols - counts + s
        bits = hash_xp(xp, support, rows, xp.full(n_rows, 1 + s, dtype=xp.uint64))
        v = below_xp(bits, (t + 1).astype(xp.uint64)).astype(xp.int64)
        taken = (chosen[:, :s] == v[:, None]).any(axis=1) if s else xp.zeros(n_rows, dtype=bool)
        v = xp.where(taken, t, v)
        chosen[:, s] = xp.where(active, v, n_cols)
    chosen = xp.sort(chosen, axis=1)
    mask = chosen < n_cols
    indices = chosen[mask]
    indptr = xp.concatenate([xp.zeros(1, dtype=xp.int64), xp.cumsum(counts)])
    row_of = xp.searchsorted(indptr[1:], xp.arange(indices.shape[0]), side="right") + row0
    signs = sign_xp(xp, stream_key(seed, STREAM_SIGN), row_of, indices, dtype)
    return indptr, indices, signs * xp.asarray(scale, dtype=dtype)
