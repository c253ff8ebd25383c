"""The shared Numba helpers of nla._jit: parallel parts and the copy loop."""

import numpy as np
import pytest
import scipy.sparse as sp
from numba import get_num_threads, njit, set_num_threads

from nla._jit import copy_jit, run_parts


@njit(nogil=True)
def _mark(start, stop, hits):
    for i in range(start, stop):
        hits[i] += 1


@njit(nogil=True)
def _fail(start, stop, x):
    if start <= 3 < stop:
        raise ValueError("row 3")


@pytest.mark.parametrize("n", [0, 1, 2, 7, 100, 1001])
@pytest.mark.parametrize("threads", [1, 2])
def test_run_parts_covers_each_row_once(n, threads):
    before = get_num_threads()
    set_num_threads(min(threads, before))
    try:
        hits = np.zeros(n, dtype=np.int64)
        run_parts(_mark, n, hits)
    finally:
        set_num_threads(before)
    assert np.all(hits == 1)


def test_run_parts_raises_the_kernels_error():
    with pytest.raises(ValueError, match="row 3"):
        run_parts(_fail, 10, np.zeros(10))


def test_copy_jit_copies_and_leaves_source(rng):
    src = rng.standard_normal(9)
    keep = src.copy()
    dst = np.empty(9)
    copy_jit(dst, src)
    assert np.array_equal(dst, src) and np.array_equal(src, keep)


def test_solve_rows_independent_of_thread_count(rng):
    # each row is solved by the same code whichever part holds it: bitwise equal results
    from nla.completion import _kernels

    M = sp.random(200, 150, density=0.1, random_state=1, format="csr")
    F = rng.standard_normal((150, 5))
    out = []
    before = get_num_threads()
    for threads in (1, min(2, before)):
        set_num_threads(threads)
        try:
            X = np.zeros((200, 5))
            _kernels.solve_rows(M.indptr.astype(np.int64), M.indices.astype(np.int64), M.data,
                                F, X, "cg", eta=1e-6)
            out.append((X, _kernels.observed_sse(M.indptr.astype(np.int64),
                                                 M.indices.astype(np.int64), M.data, X, F)))
        finally:
            set_num_threads(before)
    assert np.array_equal(out[0][0], out[1][0]) and out[0][1] == out[1][1]
