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


def _two_threads():
    if get_num_threads() < 2:
        pytest.skip("needs 2 Numba threads")


def test_run_parts_keeps_its_threads_between_calls():
    # one pool per thread count, created once: repeated calls start no new threads
    import threading

    _two_threads()
    hits = np.zeros(50, dtype=np.int64)
    run_parts(_mark, 50, hits)
    threads = threading.active_count()
    for _ in range(20):
        run_parts(_mark, 50, hits)
    assert threading.active_count() == threads and np.all(hits == 21)


def test_run_parts_from_several_threads_and_nested():
    # concurrent callers share the pool; a run_parts inside a part (here a Python kernel
    # running on a pool thread) runs inline instead of waiting on the pool
    from concurrent.futures import ThreadPoolExecutor

    _two_threads()

    def outer(start, stop, hits):
        for i in range(start, stop):
            run_parts(_mark, hits.shape[1], hits[i])

    grids = [np.zeros((9, 31), dtype=np.int64) for _ in range(4)]
    with ThreadPoolExecutor(4) as callers:
        list(callers.map(lambda h: run_parts(outer, 9, h), grids))
    assert all(np.all(h == 1) for h in grids)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="no os.fork")
def test_run_parts_in_a_forked_child():
    # the parent's pool threads do not exist in a forked child: it must start its own
    import os
    import warnings

    _two_threads()
    run_parts(_mark, 10, np.zeros(10, dtype=np.int64))  # parent pool exists
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # child: exit status 0 only if every row was hit once, on two threads
        code = 1
        try:
            import threading
            import time

            hits = np.zeros(100, dtype=np.int64)
            idents = set()

            def slow_mark(start, stop, hits):
                time.sleep(0.02)  # gives the pool thread time to take parts too
                idents.add(threading.get_ident())
                _mark(start, stop, hits)

            run_parts(slow_mark, 100, hits)
            code = 0 if np.all(hits == 1) and len(idents) == 2 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
