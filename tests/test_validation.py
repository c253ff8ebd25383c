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


# --- issue 19 regressions: parameters checked up front, sizes against a memory estimate -------

def _small_problem():
    # Built inside each case (fresh data), small enough that only validation costs anything.
    rng = np.random.default_rng()
    A = rng.standard_normal((60, 3))
    return rng, A, A @ rng.standard_normal(3) + rng.standard_normal(60)


def _cases():
    import nla

    def f(x, y):
        return np.cos(x + y)

    def graph():
        return sp.random(40, 40, density=0.1, format="csr") + sp.eye(40, format="csr")

    def funbat(**kw):
        rng, _, _ = _small_problem()
        return nla.FunBaT(n_epochs=1, **kw).fit(rng.random((30, 2)), rng.standard_normal(30))

    def sample(A):
        return nla.sensitivity_sample(A, 1.0, 30, random_state=0)

    # (label, call given (A, b), error, the argument the message must name)
    return [
        # item 13: unvalidated parameters
        ("lewis rcond str", lambda A, b: nla.lewis_weights(A, 1.5, rcond="0.1"), TypeError, "rcond"),
        ("lewis rcond nan", lambda A, b: nla.lewis_weights(A, 1.5, rcond=np.nan), ValueError, "rcond"),
        ("lewis rcond inf", lambda A, b: nla.lewis_weights(A, 1.5, rcond=np.inf), ValueError, "rcond"),
        ("lewis rcond -1", lambda A, b: nla.lewis_weights(A, 1.5, rcond=-1), ValueError, "rcond"),
        ("lewis rcond 1j", lambda A, b: nla.lewis_weights(A, 1.5, rcond=1j), TypeError, "rcond"),
        ("lewis rcond list", lambda A, b: nla.lewis_weights(A, 1.5, rcond=[0.1]), TypeError, "rcond"),
        ("lewis callback", lambda A, b: nla.lewis_weights(A, 1.5, callback=3), TypeError, "callback"),
        ("jl eps str", lambda A, b: nla.johnson_lindenstrauss_min_dim(1000, eps="0.1"), TypeError, "eps"),
        ("discretize dt bool", lambda A, b: nla.discretize(-np.ones(4), np.ones(4), True), TypeError, "dt"),
        ("lstsq exact seed", lambda A, b: nla.lstsq(A, b, method="exact", random_state="abc"),
         TypeError, "random_state"),
        ("lp_regression seed", lambda A, b: nla.lp_regression(A, b, 1.5, random_state="abc"),
         TypeError, "random_state"),
        ("ptd eps unused", lambda A, b: nla.ptd(nla.hippo(8).A, method="optimize", eps="x"),
         TypeError, "eps"),
        ("ptd init_scale unused", lambda A, b: nla.ptd(nla.hippo(8).A, method="random", eps=0.1,
                                                       init_scale="x"), TypeError, "init_scale"),
        ("srp bool flag", lambda A, b: nla.SparseRandomProjection(2, dense_output="yes").fit(A),
         TypeError, "dense_output"),
        ("funbat bool flag", lambda A, b: funbat(cp="yes"), TypeError, "cp"),
        # item 15: huge sizes are range errors, checked before anything is allocated
        ("srp n_components", lambda A, b: nla.SparseRandomProjection(10**12).fit(A.T), ValueError,
         "n_components"),
        ("fastrp dim", lambda A, b: nla.fastrp(graph(), dim=10**12), ValueError, "dim"),
        ("hippo N", lambda A, b: nla.hippo(10**12), ValueError, "N"),
        ("hippo_diagonal N", lambda A, b: nla.hippo_diagonal(10**12), ValueError, "N"),
        ("funbat rank", lambda A, b: funbat(rank=10**12), ValueError, "rank"),
        ("funbat lengthscale", lambda A, b: funbat(lengthscale=1e300), ValueError, "lengthscale"),
        ("lp_sensitivities p", lambda A, b: nla.lp_sensitivities(A, 1e300), ValueError, "p"),
        ("leverage sketch_size", lambda A, b: nla.leverage_scores(A, method="sketch",
                                                                  sketch_size=10**12),
         ValueError, "sketch_size"),
        ("lstsq sketch_size", lambda A, b: nla.lstsq(A, b, method="sketch", sketch_size=10**12),
         ValueError, "sketch_size"),
        ("measurements", lambda A, b: nla.GaussianMeasurements(10**12, (5, 5)), ValueError,
         "n_measurements"),
        ("measurements shape", lambda A, b: nla.GaussianMeasurements(5, (10**6, 10**6)),
         ValueError, "shape"),
        ("distortion directions", lambda A, b: nla.embedding_distortion(
            A, sample(A), 1.0, n_directions=10**12), ValueError, "n_directions"),
        ("sample m", lambda A, b: nla.sensitivity_sample(A, 1.0, 10**12), ValueError, "m"),
        ("subgm rank", lambda A, b: nla.SubGMRecovery(10**12).fit(
            nla.GaussianMeasurements(40, (6, 6), random_state=0), b[:40]), ValueError, "rank"),
        ("chebtucker degree", lambda A, b: nla.ChebTucker.fit(f, [[-1, 1]] * 2, degree=10**12),
         ValueError, "max_samples"),
        # found by tests/test_fuzz.py's 200-example runs: messages that named another thing
        ("leverage sketch_size < d", lambda A, b: nla.leverage_scores(A, method="sketch",
                                                                      sketch_size=2),
         ValueError, "sketch_size"),
        ("sample of other rows", lambda A, b: nla.embedding_distortion(A[:-1], sample(A), 1.0),
         ValueError, "A"),
        ("funbat coords rows", lambda A, b: nla.FunBaT(n_epochs=1).fit(A[:-1, :2], b),
         ValueError, "coords"),
        ("funbat predict columns", lambda A, b: nla.FunBaT(n_epochs=1).fit(A[:, :2], b).predict(
            A[:, :1]), ValueError, "coords"),
        ("funbat 2-column y", lambda A, b: nla.FunBaT(n_epochs=1).fit(A[:, :2], np.c_[b, b]),
         ValueError, "y"),
    ] + [
        (f"sketch {kind}", lambda A, b, kind=kind: nla.sketch(kind, 10**12, 100), ValueError,
         "sketch_size")
        for kind in ("gaussian", "srht", "countsketch", "sparse_sign", "hgp", "linf")
    ]


@pytest.mark.filterwarnings("ignore::nla.DataDimensionalityWarning")
@pytest.mark.parametrize("label, call, error, name", _cases(), ids=[c[0] for c in _cases()])
def test_issue19_parameters_and_sizes_are_named(label, call, error, name):
    _, A, b = _small_problem()
    before = (A.copy(), b.copy())
    with pytest.raises(error, match=rf"\b{name}\b"):
        call(A, b)
    np.testing.assert_array_equal(A, before[0])
    np.testing.assert_array_equal(b, before[1])


def test_sketch_sizes_checked_at_every_allocation():
    import nla

    # n is not limited (a dask A of any length is sketched chunk by chunk), but S.T @ y has
    # n rows and S @ A has sketch_size x k entries: both refused before allocating.
    S = nla.sketch("gaussian", 10, 10**12, random_state=0)
    with pytest.raises(ValueError, match=r"\bn is too large"):
        S.rapply(np.ones(10))
    S = nla.sketch("countsketch", 2**20, 2**20, random_state=0)
    with pytest.raises(ValueError, match="sketch_size is too large"):
        S.apply(sp.csr_matrix((np.ones(3), ([0, 5, 9], [1, 2**23, 2**24 - 1])),
                              shape=(2**20, 2**24)))


@pytest.mark.parametrize("c", [1e-300, 1e-100, 1e100, 1e300])
def test_pseudospectrum_and_random_ptd_at_extreme_scales(rng, c):
    import nla

    # sigma_min(c z I - c A) = c sigma_min(z I - A): Lanczos on (R^H R)^-1 overflowed at 1e-300
    # (sigma_min 0). ptd's random E = eps ||A|| G / ||G|| scales with A, but an absolute
    # 'is it real' tolerance and sort key reordered (and merged) the eigenpairs at 1e-100.
    # Tolerances: Lanczos tol 1e-10 (a scaled run may stop a step apart); eigenvalues move by
    # the rounding of c A times their condition (kappa(V) <= 1e3 here).
    A = nla.hippo(6).A + 0.01 * rng.standard_normal((6, 6))
    grid = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    for method in ("lanczos", "svd"):
        ref = nla.pseudospectrum(A, grid, method=method).sigma_min
        got = nla.pseudospectrum(A * c, grid * c, method=method).sigma_min
        np.testing.assert_allclose(got / c, ref, rtol=1e-8)
    ref = nla.ptd(A, method="random", eps=0.1, random_state=1)
    got = nla.ptd(A * c, method="random", eps=0.1, random_state=1)
    assert ref.info.kappa < 1e3
    np.testing.assert_allclose(got.eigenvalues / c, ref.eigenvalues, rtol=1e-10,
                               atol=1e-10 * np.abs(ref.eigenvalues).max())
    np.testing.assert_allclose(got.V, ref.V, atol=1e-10 * ref.info.kappa)
    assert np.isclose(got.info.norm_E_fro / c, ref.info.norm_E_fro, rtol=1e-12)  # no overflow


def test_sparse_sign_default_nnz_fits_small_sketches():
    import nla

    # sketch_size = d is valid for leverage_scores; the sparse sign default of 8 nonzeros per
    # column made it an error about nnz, which the caller never passed.
    rng = np.random.default_rng()
    A = rng.standard_normal((40, 3))
    for m in (1, 3, 8, 20):
        S = nla.sketch("sparse_sign", m, 40, random_state=1)
        assert S.nnz == min(8, m)
        assert np.all(np.count_nonzero(S.todense(), axis=0) == min(8, m))
    tau = nla.leverage_scores(A, method="sketch", sketch_size=3, random_state=2)
    assert tau.shape == (40,) and np.all(np.isfinite(tau))
    with pytest.raises(ValueError, match=r"\bnnz\b"):
        nla.sketch("sparse_sign", 4, 40, nnz=5)


# --- issue 19 item 18: bitwise the same results on 1, 2 and 4 threads ------------------------

def _thread_workloads(seed):
    # Every randomized workload, at sizes where each parallel loop splits across 4 threads.
    import nla

    rng = np.random.default_rng(seed)
    n, d = 6000, 8
    A = rng.standard_normal((n, d)) * np.logspace(0, 2, d)
    b = A @ rng.standard_normal(d) + rng.standard_cauchy(n)
    As = sp.random(n, d, density=0.3, format="csr", random_state=rng, data_rvs=rng.standard_normal)
    G = sp.random(3000, 3000, density=0.002, format="csr", random_state=rng)
    G = (G + G.T).tocsr()
    X = rng.standard_normal((300, 2000))
    M = rng.standard_normal((400, 3)) @ rng.standard_normal((3, 300))
    Xm = np.where(rng.random(M.shape) < 0.3, M, np.nan)
    C = rng.uniform(size=(800, 2))
    yc = np.sin(3 * C[:, 0]) * np.exp(-C[:, 1])
    U = rng.standard_normal((30, 2))
    op = nla.GaussianMeasurements(1500, (30, 30), random_state=3)
    yr = op(U) + 10 * (rng.random(1500) < 0.1)
    Y = rng.standard_normal((64, 3))
    H = nla.hippo(64).A
    smp = nla.sensitivity_sample(A, 1.0, 600, random_state=4)
    work = {
        "fastrp float64": lambda: nla.fastrp(G, dim=32, dtype=np.float64, random_state=5),
        "fastrp float32": lambda: nla.fastrp(G, dim=32, random_state=5),
        "fastrp beta in": lambda: nla.fastrp(G, dim=16, beta=-0.5, dtype=np.float64,
                                             direction="in", random_state=5),
        "projection": lambda: nla.SparseRandomProjection(50, random_state=5).fit_transform(X),
        "projection sparse": lambda: nla.SparseRandomProjection(
            50, dense_output=True, random_state=5).fit_transform(sp.csr_matrix(X)),
        "lstsq sparse": lambda: nla.lstsq(As, b, random_state=5).x,
        "leverage": lambda: nla.leverage_scores(A),
        "leverage sketch": lambda: nla.leverage_scores(A, method="sketch", random_state=5),
        "lewis p=1": lambda: nla.lewis_weights(A, 1.0).weights,
        "lewis p=3": lambda: nla.lewis_weights(A, 3.0).weights,
        "sensitivities": lambda: nla.lp_sensitivities(A, 1.5, random_state=5),
        "sample": lambda: np.r_[nla.sensitivity_sample(A, 1.0, 600, random_state=4).indices,
                                smp.row_scale],
        "lp_regression": lambda: nla.lp_regression(A, b, 1.0, sample=smp).x,
        "lp_regression sampled": lambda: nla.lp_regression(A, b, 1.5, sample=500,
                                                           random_state=5).x,
        "distortion": lambda: nla.embedding_distortion(A, smp, 1.0, random_state=5).distortion,
        "altmin": lambda: nla.AltMinCompleter(3, max_iter=10, random_state=5).fit(Xm).to_dense(),
        "altmin sketch": lambda: nla.AltMinCompleter(3, max_iter=5, solver="cholesky",
                                                     sketch_size=50, random_state=5
                                                     ).fit(Xm).to_dense(),
        "subgm": lambda: nla.SubGMRecovery(3, max_iter=200, random_state=5).fit(op, yr).X_,
        "measurements on the fly": lambda: nla.GaussianMeasurements(
            1500, (30, 30), stored=False, random_state=3)(U),
        "funbat": lambda: nla.FunBaT(rank=2, n_epochs=5, random_state=5).fit(C, yc).predict(C),
        "chebtucker": lambda: nla.ChebTucker.fit(lambda x, y, z: np.exp(-(x * x + y * y + z)),
                                                 [[-1, 1]] * 3)(C[:, [0, 1, 0]]),
        "ptd": lambda: nla.ptd(H, max_iter=50, random_state=5).V,
        "pseudospectrum": lambda: nla.pseudospectrum(H, np.array([-1 + 1j, 0.5j, -3.0])).sigma_min,
    }
    for kind in ("gaussian", "srht", "countsketch", "sparse_sign", "hgp"):
        for name, data in (("dense", A), ("sparse", As)):
            work[f"sketch {kind} {name}"] = lambda k=kind, M=data: nla.sketch(
                k, 64, n, random_state=5) @ M
        work[f"sketch {kind} transposed"] = lambda k=kind: nla.sketch(
            k, 64, n, random_state=5).rapply(Y)
    for method in ("auto", "precondition", "sketch", "exact"):
        work[f"lstsq {method}"] = lambda m=method: nla.lstsq(A, b, method=m, random_state=5).x
    return work


def _print_thread_digests(seed):
    # Run in a fresh process that may use 4 Numba threads; one line per workload and count.
    import hashlib
    import warnings

    import numba
    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore")
    for threads in (1, 2, 4):
        numba.set_num_threads(threads)
        with threadpool_limits(threads):
            for name, run in _thread_workloads(seed).items():
                digest = hashlib.sha1(np.ascontiguousarray(run()).tobytes()).hexdigest()
                print(f"{name}\t{threads}\t{digest}")


def test_randomized_workloads_are_thread_count_invariant(seed):
    import os
    import subprocess
    import sys

    code = (f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
            f"import test_validation as t; t._print_thread_digests({seed})")
    env = dict(os.environ, NUMBA_NUM_THREADS="4")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=900)
    assert out.returncode == 0, out.stderr
    digests = {}
    for line in out.stdout.splitlines():
        name, threads, digest = line.split("\t")
        digests.setdefault(name, {})[threads] = digest
    assert len(digests) == 42 and all(len(d) == 3 for d in digests.values())
    differ = {name: d for name, d in digests.items() if len(set(d.values())) != 1}
    assert not differ, differ
