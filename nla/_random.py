"""Counter-based random numbers.

Every random number in ``nla`` is a pure function of ``(seed, stream, row, counter)``: a
SplitMix64-style hash of the counters, never the state of a sequential generator. The same
seed therefore gives bit-identical numbers (integers, hence sparse supports and signs, and
the uniforms and Gaussians built from them) on any number of threads, in any row chunking,
and on the CPU and GPU.

Each primitive is written once as plain array code. :func:`numba.njit` compiles the scalar
form for kernels (the ``*_jit`` names); the same Python function applied to NumPy or CuPy
``uint64`` arrays is the vectorised form (the ``xp`` argument of the helpers below).
"""

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

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


# --- Gaussians: Box-Muller in plain arithmetic ----------------------------------------------
#
# Entries (row, 2p) and (row, 2p + 1) are the pair r (cos t, sin t) of Box-Muller from the
# hashes at counters 2p and 2p + 1: r = sqrt(-2 log u1), u1 = (k1 + 1) 2**-53 in (0, 1], and
# t = 2 pi k2 2**-53, with k1, k2 the top 53 bits of the two hashes. log, sin and cos are
# polynomials in IEEE arithmetic (no libm, no branches, no fused multiply-add), so that the
# loop vectorises and the NumPy/CuPy form, one array operation per step, rounds every step
# the same way: the three forms agree bit for bit. The polynomials were fitted in 50-digit
# arithmetic (least squares at 400 Chebyshev nodes, reweighted toward minimax); their
# approximation errors, relative, are below 0.1 ulp (sin), 0.01 ulp (cos, log).

_S51, _S52 = _U64(51), _U64(52)
_ONE = _U64(1)
_MANT = _U64((1 << 52) - 1)
_SQRT_HALF = _U64(0x3FE6A09E667F3BCD)          # bits of sqrt(1/2)
_LOG_SHIFT = _U64(0x3FF0000000000000 - 0x3FE6A09E667F3BCD)
_LN2_HI = 0.6931471526622772                    # ln 2 to 25 bits: e * _LN2_HI is exact
_LN2_LO = 2.7897668087737545e-08                # ln 2 - _LN2_HI
_HALF_QUADRANT = _U64(1 << 50)
_QUADRANT_BITS = _U64((1 << 51) - 1)
_PI_2M52 = 6.975736996017264e-16                # pi / 2**52
# Polynomial coefficients, highest degree first (for _horner).
# log(1 + f) = f - s (f - z P(z)), s = f / (2 + f), z = s^2 <= ((sqrt 2 - 1) / (sqrt 2 + 1))^2,
# where z P(z) ~ 2 (z/3 + z^2/5 + ...) = 2 atanh(s) / s - 2
_LOG_P = (0.14795955222252594, 0.15314049955297418, 0.18183564351682233, 0.22222198572635768,
          0.28571428742393745, 0.3999999999941465, 0.6666666666666734)
# sin(x) = x + x^3 S(x^2), cos(x) = 1 - x^2/2 + x^4 C(x^2) on |x| <= pi/4
_SIN_S = (1.589622922382361e-10, -2.5050747744886762e-08, 2.7557313621255042e-06,
          -0.00019841269829589097, 0.008333333333322118, -0.1666666666666663)
_COS_C = (-1.1358535216884137e-11, 2.08757008145203e-09, -2.755731417907392e-07,
          2.480158728885084e-05, -0.0013888888888873056, 0.041666666666666595)


def _horner(z, coefficients):
    p = coefficients[0]
    for c in coefficients[1:]:
        p = c + z * p
    return p


@overload(_horner)  # inlined by LLVM; inlining the loop in Numba IR warns
def _horner_jit(z, coefficients):
    return _horner


# Bit reinterpretation and exact integer-to-float conversion. As written these act on NumPy or
# CuPy arrays; the overloads below give Numba's scalar forms (an LLVM bitcast).
def _float_bits(x):
    return x.view(np.uint64)


def _bits_float(b):
    return b.view(np.float64)


def _to_float(n):
    return n.astype(np.float64)


def _bitcast_intrinsic(to):
    @intrinsic
    def cast(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(to))
        return to(x), codegen
    return cast


_float_bits_scalar = _bitcast_intrinsic(types.uint64)
_bits_float_scalar = _bitcast_intrinsic(types.float64)


@overload(_float_bits, inline="always")
def _float_bits_jit(x):
    if isinstance(x, types.Float):
        return lambda x: _float_bits_scalar(x)


@overload(_bits_float, inline="always")
def _bits_float_jit(b):
    if isinstance(b, types.Integer):
        return lambda b: _bits_float_scalar(b)


@overload(_to_float, inline="always")
def _to_float_jit(n):
    if isinstance(n, types.Integer):
        return lambda n: np.float64(n)


def _normal_pair(h1, h2):
    # Box-Muller pair (r cos t, r sin t) from two hashes; scalars in Numba, arrays in xp.
    # Radius: u1 = 2**e m with m in [sqrt(1/2), sqrt(2)) by integer operations on the bits
    # (e exact, f = m - 1 exact), log u1 = e ln 2 + log(1 + f).
    t = _float_bits(_to_float((h1 >> _S11) + _ONE) * _TWO53_INV) + _LOG_SHIFT
    e = _to_float(t >> _S52) - 1023.0
    f = _bits_float((t & _MANT) + _SQRT_HALF) - 1.0
    s = np.divide(f, 2.0 + f)   # a ufunc: no zero-division branch in Numba
    z = s * s
    T = z * _horner(z, _LOG_P)
    log_u1 = e * _LN2_HI + (e * _LN2_LO + (f - s * (f - T)))
    r = np.sqrt(-2.0 * log_u1)
    # Angle: t = (pi / 2) (q + x / (pi / 2)), quadrant q and |x| <= pi / 4 exact from k2.
    a = (h2 >> _S11) + _HALF_QUADRANT
    q = a >> _S51
    x = (_to_float(a & _QUADRANT_BITS) - 1125899906842624.0) * _PI_2M52
    z = x * x
    sin_x = x + x * z * _horner(z, _SIN_S)
    cos_x = 1.0 - (0.5 * z - z * z * _horner(z, _COS_C))
    # cos t, sin t = (cos x, sin x), (-sin x, cos x), (-cos x, -sin x), (sin x, -cos x) for
    # q = 0, 1, 2, 3 (mod 4): a swap on odd q and sign bits, by bit operations.
    cb, sb = _float_bits(cos_x), _float_bits(sin_x)
    swap = (cb ^ sb) & (_U64(0) - (q & _ONE))
    cos_t = _bits_float((cb ^ swap) ^ ((((q + _ONE) >> _ONE) & _ONE) << _S63))
    sin_t = _bits_float((sb ^ swap) ^ (((q >> _ONE) & _ONE) << _S63))
    return r * cos_t, r * sin_t


normal_pair_jit = njit(inline="always", cache=True)(_normal_pair)


@njit(cache=True, inline="always")
def gaussian_jit(key, row, col):
    """Standard normal at entry ``(row, col)`` of an endless matrix (one of a Box-Muller pair)."""
    c = _U64(col)
    even = c & ~_ONE
    x, y = normal_pair_jit(hash_jit(key, _U64(row), even), hash_jit(key, _U64(row), even + _ONE))
    return y if c & _ONE else x


def gaussian_array(xp, key, rows, cols):
    """:func:`gaussian_jit` at ``(rows, cols)`` (broadcast) as array code in namespace ``xp``.

    The GPU form (``xp`` = CuPy): equal to :func:`gaussian_jit` bit for bit, one array
    operation per arithmetic step.
    """
    cols = xp.asarray(cols, dtype=xp.uint64)
    even = cols & ~_ONE
    x, y = _normal_pair(hash_xp(xp, key, rows, even), hash_xp(xp, key, rows, even + _ONE))
    return xp.where((cols & _ONE) == _ONE, y, x)


@njit(cache=True, nogil=True)
def _gaussian_entries_jit(start, stop, key, rows, cols, out):
    for t in range(start, stop):
        out[t] = gaussian_jit(key, rows[t], cols[t])


def gaussian_xp(xp, key, rows, cols):
    """Standard normals at entries ``(rows, cols)`` (broadcast), equal to :func:`gaussian_jit`.

    NumPy inputs run the jitted form entry by entry (the ~40 array operations of
    :func:`gaussian_array` cost ~25x more on the CPU); other namespaces run the array form.

    Examples
    --------
    >>> import numpy as np
    >>> G = gaussian_xp(np, stream_key(7, STREAM_GAUSS), np.arange(3)[:, None], np.arange(4))
    >>> G.shape
    (3, 4)
    >>> bool(np.all(G == gaussian_block_jit(stream_key(7, STREAM_GAUSS), 0, 0, np.empty((3, 4)))))
    True
    """
    if xp is not np:
        return gaussian_array(xp, key, rows, cols)
    rows, cols = np.broadcast_arrays(np.asarray(rows, dtype=_U64), np.asarray(cols, dtype=_U64))
    out = np.empty(rows.shape)
    run_parts(_gaussian_entries_jit, out.size, _U64(key), rows.ravel(), cols.ravel(),
              out.reshape(-1))
    return out


# Not inlined: a row's two unpaired ends share one compiled copy (compile time).
_gaussian_end_jit = njit(cache=True)(gaussian_jit.py_func)


@njit(inline="always", cache=True)
def gaussian_row_jit(key, row, col0, out):
    """Fill ``out[j]`` with the Gaussian at ``(row, col0 + j)``: whole pairs, vectorised."""
    row, c0, n = _U64(row), _U64(col0), out.shape[0]
    j0 = np.int64(c0 & _ONE)   # an odd first column is the second of its pair
    if j0 and n:
        out[0] = _gaussian_end_jit(key, row, c0)
    for p in range((n - j0) // 2):
        c = c0 + _U64(j0 + 2 * p)
        x, y = normal_pair_jit(hash_jit(key, row, c), hash_jit(key, row, c + _ONE))
        out[j0 + 2 * p] = x
        out[j0 + 2 * p + 1] = y
    if n > j0 and (n - j0) % 2:
        out[n - 1] = _gaussian_end_jit(key, row, c0 + _U64(n - 1))
    return out


@njit(cache=True, nogil=True)
def _gaussian_rows_jit(start, stop, key, row0, col0, out):
    for i in range(start, stop):
        gaussian_row_jit(key, _U64(row0) + _U64(i), col0, out[i])


def gaussian_block_jit(key, row0, col0, out):
    """Fill ``out[i, j]`` with the Gaussian at ``(row0 + i, col0 + j)`` and return ``out``.

    Rows run in parallel on :func:`nla._jit.run_parts` (Numba's thread count), each a
    vectorised :func:`gaussian_row_jit`; called from Python, not from kernels.
    """
    run_parts(_gaussian_rows_jit, out.shape[0], _U64(key), _U64(row0), _U64(col0), out)
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
