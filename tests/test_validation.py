"""Shared validation: messages name the argument; nothing is modified."""

import numpy as np
import pytest
import scipy.sparse as sp

from nla._validation import check_array, check_choice, check_int, check_scalar, check_seed


@pytest.mark.parametrize("bad, error, match", [
    ([[1.0, np.nan]], ValueError, "X contains NaN"),
    ([[1.0, np.inf]], ValueError, "X contains NaN or infinity"),
    (np.ones(3), ValueError, "X must be 2-D"),
    (np.ones((0, 3)), ValueError, r"X has 0 sample\(s\)"),
    (np.ones((2, 2), complex), ValueError, "X must be real"),
    (np.array([["a", "b"]]), TypeError, "X must hold real numbers"),
    (np.array([[object()]]), TypeError, "X must hold real numbers"),
])
def test_check_array_errors(bad, error, match):
    with pytest.raises(error, match=match):
        check_array(bad, "X")


def test_check_array_large_finite_values_pass():
    # The fast path sums the data; an overflowing sum must not be mistaken for infinity.
    x = np.full((3, 3), 1e308)
    assert check_array(x, "X") is x


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_array_large_arrays_use_the_parallel_sum(rng, order, dtype):
    # Above 2**20 entries the sum runs on all cores; it must still catch one bad entry.
    x = np.asarray(rng.standard_normal((1100, 1000)), dtype=dtype, order=order)
    assert check_array(x, "X") is x
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy(order=order)
        y[rng.integers(1100), rng.integers(1000)] = bad
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            check_array(y, "X")
    big = np.full((1100, 1000), np.finfo(dtype).max / 2, dtype=dtype, order=order)
    assert check_array(big, "X") is big  # the overflowing sum falls through to the exact test


def test_check_array_dtypes_and_sparse(rng):
    x32 = rng.standard_normal((4, 3)).astype(np.float32)
    assert check_array(x32, "X") is x32  # no copy
    assert check_array(np.arange(6).reshape(2, 3), "X").dtype == np.float64
    with pytest.raises(TypeError, match="X must be a dense array"):
        check_array(sp.eye(3), "X")
    coo = sp.coo_matrix((np.ones(3), ([0, 0, 1], [1, 1, 2])), shape=(2, 3))
    before = coo.copy()
    out = check_array(coo, "X", sparse=True)
    assert out.format == "csr" and out.has_canonical_format and out[0, 1] == 2.0
    assert (coo != before).nnz == 0
    bad = sp.csr_matrix(np.array([[0, np.nan]]))
    with pytest.raises(ValueError, match="X contains NaN"):
        check_array(bad, "X", sparse=True)


def test_scalar_checks():
    assert check_int(np.int64(3), "k", low=1) == 3
    for bad, err in [(1.5, TypeError), (True, TypeError), ("3", TypeError), (0, ValueError)]:
        with pytest.raises(err, match="k"):
            check_int(bad, "k", low=1)
    with pytest.raises(ValueError, match=r"density must be in \(0, 1\]"):
        check_scalar(0.0, "density", low=0, high=1, low_open=True)
    with pytest.raises(ValueError, match="beta must be finite"):
        check_scalar(np.nan, "beta")
    with pytest.raises(ValueError, match="solver must be one of"):
        check_choice("qr", "solver", {"cg", "cholesky"})


def test_check_seed():
    assert check_seed(5) == 5
    a, b = check_seed(None), check_seed(None)
    assert a != b and 0 <= a < 2**64
    assert check_seed(np.random.RandomState(0)) == check_seed(np.random.RandomState(0))
    assert check_seed(np.random.default_rng(1)) == check_seed(np.random.default_rng(1))
    with pytest.raises(ValueError, match="random_state"):
        check_seed(-1)
    with pytest.raises(TypeError, match="random_state"):
        check_seed("seed")
