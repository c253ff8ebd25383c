"""Counter-based random numbers: determinism, chunking, engine twins, distributions."""

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


def test_gaussian_block_matches_twin_and_is_normal(seed):
    key = R.stream_key(seed, R.STREAM_GAUSS)
    block = R.gaussian_block_jit(np.uint64(key), 100, 3, np.empty((400, 250)))
    twin = R.gaussian_xp(np, key, np.arange(100, 500)[:, None], np.arange(3, 253)[None, :])
    np.testing.assert_allclose(block, twin, rtol=1e-13, atol=1e-13)
    assert stats.kstest(block.ravel(), "norm").pvalue > 1e-4
    # Different streams and seeds give unrelated numbers.
    other = R.gaussian_block_jit(np.uint64(R.stream_key(seed + 1, R.STREAM_GAUSS)), 100, 3,
                                 np.empty((400, 250)))
    assert abs(np.corrcoef(block.ravel(), other.ravel())[0, 1]) < 5 / np.sqrt(block.size)


def test_uniform_twin_bits(seed):
    key = R.stream_key(seed, R.STREAM_INDEX)
    rows, cols = np.arange(1000), np.arange(1000) * 7
    u = R.uniform_xp(np, key, rows, cols)
    assert np.all((u >= 0) & (u < 1))
    assert stats.kstest(u, "uniform").pvalue > 1e-4
