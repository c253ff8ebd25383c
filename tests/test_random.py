"""Counter-based random numbers: determinism, chunking, engine twins, distributions."""

import types

import numba
import numpy as np
import pytest
from scipy import stats

from nla import _random as R


def test_sparse_rows_identical_under_chunking_and_threads(seed):
    whole = R.sparse_sign_rows(seed, 0, 3000, 200, 0.03, 0.5)
    for row0, n_rows in [(0, 1000), (1000, 1500), (2500, 500)]:
        part = R.sparse_sign_rows(seed, row0, n_rows, 200, 0.03, 0.5)
        a, b = whole[0][row0], whole[0][row0 + n_rows]
        np.testing.assert_array_equal(part[0], whole[0][row0:row0 + n_rows + 1] - a)
        np.testing.assert_array_equal(part[1], whole[1][a:b])
        np.testing.assert_array_equal(part[2], whole[2][a:b])
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = R.sparse_sign_rows(seed, 0, 3000, 200, 0.03, 0.5)
    finally:
        numba.set_num_threads(threads)
    for x, y in zip(whole, single):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_rows_array_twin_is_bit_identical(seed, dtype):
    # The vectorised twin is what the GPU runs (with CuPy as xp).
    jit = R.sparse_sign_rows(seed, 17, 2000, 300, 0.02, 0.25, dtype)
    xp = R.sparse_sign_rows_xp(np, seed, 17, 2000, 300, 0.02, 0.25, dtype)
    for a, b in zip(jit, xp):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_sparse_rows_distribution(seed):
    n_rows, n_cols, q = 20000, 64, 0.05
    indptr, indices, data = R.sparse_sign_rows(seed, 0, n_rows, n_cols, q, 2.0)
    counts = np.diff(indptr)
    # Row counts are Binomial(n_cols, q): chi-square goodness of fit on the first few bins.
    observed = np.bincount(counts, minlength=8)[:8].astype(float)
    expected = stats.binom.pmf(np.arange(8), n_cols, q) * n_rows
    observed[-1] += n_rows - observed.sum()
    expected[-1] += n_rows - expected.sum()
    assert stats.chisquare(observed, expected).pvalue > 1e-4
    # Supports are sorted, distinct, in range; columns are used uniformly; signs are fair.
    for i in range(0, n_rows, 997):
        row = indices[indptr[i]:indptr[i + 1]]
        assert np.all(np.diff(row) > 0) and (row.size == 0 or (row[0] >= 0 and row[-1] < n_cols))
    col_counts = np.bincount(indices, minlength=n_cols)
    assert stats.chisquare(col_counts).pvalue > 1e-4
    assert set(np.unique(data)) == {-2.0, 2.0}
    assert abs(np.mean(data > 0) - 0.5) < 5 * 0.5 / np.sqrt(data.size)


# --- Gaussians -------------------------------------------------------------------------------

U = 2.0 ** -53  # unit roundoff of float64


@numba.njit
def _entry_by_entry(key, row0, col0, out):
    # The per-entry function, as kernels that regenerate single entries call it.
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = R.gaussian_jit(key, np.uint64(row0 + i), np.uint64(col0 + j))
    return out


def _array_namespace():
    # Stands in for CuPy: a namespace that is not NumPy, so gaussian_xp takes its array path.
    xp = types.ModuleType("fake_cupy")
    xp.__getattr__ = lambda name: getattr(np, name)
    return xp


@pytest.mark.parametrize("row0, col0, shape", [(100, 3, (257, 251)), (0, 0, (64, 64)),
                                               (2**40 + 1, 2**33 + 1, (5, 2)), (7, 1, (3, 1)),
                                               (9, 4, (4, 1)), (2, 5, (0, 3))])
def test_gaussian_forms_are_bit_identical(seed, row0, col0, shape):
    # Block (vectorised pairs, unpaired ends), per-entry jit, NumPy entry path and the array
    # form the GPU runs: the same bits, including odd first columns and widths.
    key = R.stream_key(seed, R.STREAM_GAUSS)
    rows = np.arange(shape[0], dtype=np.uint64)[:, None] + np.uint64(row0)
    cols = np.arange(shape[1], dtype=np.uint64)[None, :] + np.uint64(col0)
    block = R.gaussian_block_jit(key, row0, col0, np.empty(shape))
    np.testing.assert_array_equal(block, _entry_by_entry(np.uint64(key), row0, col0,
                                                         np.empty(shape)))
    np.testing.assert_array_equal(block, R.gaussian_xp(np, key, rows, cols))
    np.testing.assert_array_equal(block, R.gaussian_array(np, key, rows, cols))
    np.testing.assert_array_equal(block, R.gaussian_xp(_array_namespace(), key, rows, cols))


def test_gaussian_any_chunking_and_thread_count(seed, rng):
    key = R.stream_key(seed, R.STREAM_GAUSS)
    row0, col0 = (int(v) for v in rng.integers(0, 2**40, size=2))
    whole = R.gaussian_block_jit(key, row0, col0, np.empty((301, 203)))
    r_cuts = np.r_[0, np.sort(rng.choice(np.arange(1, 301), 4, replace=False)), 301]
    c_cuts = np.r_[0, np.sort(rng.choice(np.arange(1, 203), 5, replace=False)), 203]
    for r0, r1 in zip(r_cuts[:-1], r_cuts[1:]):
        for c0, c1 in zip(c_cuts[:-1], c_cuts[1:]):
            part = R.gaussian_block_jit(key, row0 + r0, col0 + c0, np.empty((r1 - r0, c1 - c0)))
            np.testing.assert_array_equal(part, whole[r0:r1, c0:c1])
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = R.gaussian_block_jit(key, row0, col0, np.empty((301, 203)))
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(single, whole)


def _reference_pair(h1, h2):
    """Box-Muller of the hashes in long double (64-bit significand), with libm's logl/sinl/cosl.

    The angle 2 pi k2 2**-53 is reduced exactly in integers to (pi / 2) (j + x'), |x'| <= 1/2,
    so that entries near a zero of cos or sin keep their relative accuracy (2**-63).
    """
    L = np.longdouble
    pi = L("3.14159265358979323846264338327950288")
    k1, k2 = h1 >> np.uint64(11), h2 >> np.uint64(11)
    r = np.sqrt(-2 * np.log((k1.astype(L) + 1) * L(2.0**-53)))
    a = k2 + np.uint64(2**50)
    j = ((a >> np.uint64(51)) & np.uint64(3)).astype(np.int64)
    x = ((a & np.uint64(2**51 - 1)).astype(L) - L(2.0**50)) * (pi / L(2.0**52))
    c, s = np.cos(x), np.sin(x)
    return r * np.choose(j, [c, -s, -c, s]), r * np.choose(j, [s, c, -s, -c]), r


long_double = pytest.mark.skipif(np.finfo(np.longdouble).nmant < 63,
                                 reason="needs an 80-bit long double for the reference")

# Error budget, relative, in units of U, from the operations of nla._random._normal_pair
# (each rounding <= U; polynomial errors from their fits, <= 0.1 U):
#   log(1 + f) = f - s (f - T): f exact, s <= 2U, s (f - T) <= 4.1U on a term <= 0.21 |f|,
#     final rounding U, |log(1 + f)| >= 0.83 |f|: <= 1.9U
#   log u1 = e ln2_hi (exact) + (e ln2_lo + log(1 + f)), two roundings: <= (1.9U + U)
#     |log(1 + f)| / |log u1| + U <= 3.9U, as |log(1 + f)| <= 0.35 <= |log u1| when e != 0
#   r = sqrt(-2 log u1): 3.9U / 2 + U <= 3U
#   x = (integer) * fl(pi / 2**52): 2U; sin x: 2U (from x, x cot x <= 1) + 2.2U <= 4.2U;
#     cos x: 1.6U (from x, x tan x <= pi/4) + 2U <= 3.6U
#   z = r * trig: 3U + 4.2U + U = 8.2U
GAUSS_REL_BOUND = 8.2 * U


@long_double
def test_gaussian_accuracy_against_long_double(seed):
    key = R.stream_key(seed, R.STREAM_GAUSS)
    cols = np.arange(2**20, dtype=np.uint64)
    even = cols & ~np.uint64(1)
    rows = np.full_like(cols, 5)
    h1, h2 = R.hash_xp(np, key, rows, even), R.hash_xp(np, key, rows, even + np.uint64(1))
    z = R.gaussian_xp(np, key, rows, cols)
    ref_c, ref_s, _ = _reference_pair(h1, h2)
    ref = np.where(cols % 2 == 1, ref_s, ref_c)
    rel = np.abs(z - ref) / np.abs(ref)
    assert rel.max() <= GAUSS_REL_BOUND, rel.max() / U


@long_double
def test_gaussian_accuracy_at_range_ends(rng):
    # Hashes whose top 53 bits k1 (radius) and k2 (angle) sit at the ends of the ranges and at
    # the boundaries of the reductions: u1 = (k1 + 1) 2**-53 at 2**-53, 1 and near powers of 2
    # and sqrt(2) 2**e; angles at and beside multiples of pi/4.
    powers = 2 ** np.arange(54, dtype=np.float64)
    k1 = np.r_[0, 1, 2, 2**53 - 1, 2**53 - 2, powers[:53] - 1, powers[1:53] - 2,
               np.floor(powers[:53] * np.sqrt(0.5)) - 1, np.floor(powers[:53] * np.sqrt(0.5))]
    k1 = np.unique(np.clip(k1, 0, 2**53 - 1)).astype(np.uint64)
    k2 = (np.arange(9, dtype=np.uint64) * np.uint64(2**50))[:, None] + np.array(
        [-2, -1, 0, 1, 2], dtype=np.int64).astype(np.uint64)
    k2 = np.r_[k2.ravel() & np.uint64(2**53 - 1), np.uint64(2**53 - 1)]
    low = lambda n: rng.integers(0, 2**11, size=n, dtype=np.uint64)  # noqa: E731
    h1 = (np.repeat(k1, k2.size) << np.uint64(11)) | low(k1.size * k2.size)
    h2 = (np.tile(k2, k1.size) << np.uint64(11)) | low(k1.size * k2.size)
    x, y = R._normal_pair(h1, h2)
    ref_x, ref_y, r = _reference_pair(h1, h2)
    for got, ref in [(x, ref_x), (y, ref_y)]:
        # Zeros of the reference (k2 a multiple of 2**51: x = +-0 exactly) and u1 = 1 (r = 0)
        # must come out as zeros; elsewhere the relative bound holds.
        zero = ref == 0
        assert np.all(got[zero] == 0)
        rel = np.abs(got[~zero] - ref[~zero]) / np.abs(ref[~zero])
        assert rel.max() <= GAUSS_REL_BOUND, rel.max() / U
    r_max = np.sqrt(106 * np.log(2))  # u1 = 2**-53
    assert np.all(np.isfinite(x)) and np.abs(x).max() <= r_max * (1 + GAUSS_REL_BOUND)


def test_gaussian_matches_libm_box_muller(seed):
    # The textbook formula with NumPy's log, sin and cos (its SIMD loops: within 4 ulp) on the
    # same uniforms. Its error, per unit radius: radius 5U, angle 2 pi u2 rounded twice
    # (4 pi U), trig 8U, product U: 27U; ours 8.2U: |difference| <= 36U r.
    key = R.stream_key(seed, R.STREAM_GAUSS)
    cols = np.arange(2**20, dtype=np.uint64)
    even = cols & ~np.uint64(1)
    rows = np.full_like(cols, 3)
    u1 = R.uniform_xp(np, key, rows, even) + U
    u2 = R.uniform_xp(np, key, rows, even + np.uint64(1))
    r = np.sqrt(-2.0 * np.log(u1))
    textbook = r * np.where(cols % 2 == 1, np.sin(2 * np.pi * u2), np.cos(2 * np.pi * u2))
    z = R.gaussian_xp(np, key, rows, cols)
    assert np.all(np.abs(z - textbook) <= 36 * U * r)


def test_gaussian_distribution(seed):
    key = R.stream_key(seed, R.STREAM_GAUSS)
    block = R.gaussian_block_jit(key, 0, 0, np.empty((2048, 2048)))
    z = block.ravel()
    n = z.size
    assert stats.kstest(z[:2**20], "norm").pvalue > 1e-6
    # Moments within 5 standard errors (false alarm ~1e-6 each).
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(z)) < 5 * np.sqrt(24 / n)
    # Tails: counts beyond 4 and 5 sigma within the central 1 - 1e-6 of their binomial laws.
    for t in (4.0, 5.0):
        lo, hi = stats.binom.interval(1 - 1e-6, n, 2 * stats.norm.sf(t))
        assert lo <= np.sum(np.abs(z) > t) <= hi, t
    # Neighbours are independent: the two of a Box-Muller pair (columns 2p, 2p + 1), across
    # pairs (2p + 1, 2p + 2) and down a column; also their squares (a shared radius or angle
    # would correlate them).
    bound = 5 / np.sqrt(block[:, 1:].size / 2)
    pairs = [(block[:, 0::2], block[:, 1::2]), (block[:, 1:-1:2], block[:, 2::2]),
             (block[:-1], block[1:])]
    for a, b in pairs:
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < bound
        assert abs(np.corrcoef(a.ravel() ** 2, b.ravel() ** 2)[0, 1]) < bound
    # Different seeds give unrelated numbers.
    other = R.gaussian_block_jit(R.stream_key(seed + 1, R.STREAM_GAUSS), 0, 0,
                                 np.empty((256, 256)))
    assert abs(np.corrcoef(block[:256, :256].ravel(), other.ravel())[0, 1]) < 5 / 256


def test_uniform_twin_bits(seed):
    key = R.stream_key(seed, R.STREAM_INDEX)
    rows, cols = np.arange(1000), np.arange(1000) * 7
    u = R.uniform_xp(np, key, rows, cols)
    assert np.all((u >= 0) & (u < 1))
    assert stats.kstest(u, "uniform").pvalue > 1e-4
