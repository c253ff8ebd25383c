"""Sketch operators on row-chunked dask arrays, on the session LocalCluster (dask_client)."""

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
sp = pytest.importorskip("scipy.sparse")

from nla.sketching import sketch  # noqa: E402

CHUNKINGS = [(400,), (100, 100, 100, 100), (1, 250, 149)]


@pytest.mark.parametrize("kind", ["gaussian", "sparse_sign", "countsketch"])
def test_sketch_of_dask_equals_in_core(dask_client, kind):
    A = np.random.default_rng(1).standard_normal((400, 6))
    S = sketch(kind, 60, 400, random_state=7)
    ref = S @ A
    # Per-chunk sums reorder the additions only: rounding of the sum, 1e-12 relative.
    for chunks in CHUNKINGS:
        out = S @ da.from_array(A, chunks=(chunks, 6))
        assert isinstance(out, np.ndarray) and out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    out = S.apply(da.from_array(sp.csr_matrix(A), chunks=((150, 250), 6)))
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("kind", ["srht", "linf"])
def test_hadamard_sketches_refuse_dask(kind):
    S = sketch(kind, 16, 64, random_state=0)
    with pytest.raises(TypeError, match="sparse_sign"):
        S @ da.ones((64, 3), chunks=(32, 3))


def test_sketch_of_dask_bad_input(dask_client):
    S = sketch("sparse_sign", 20, 100, random_state=0)
    A = np.random.default_rng(2).standard_normal((100, 3))
    A[57, 1] = np.nan
    with pytest.raises(ValueError, match="A"):
        S @ da.from_array(A, chunks=(25, 3))
    with pytest.raises(ValueError, match="n=100"):
        S @ da.ones((90, 3), chunks=(30, 3))
    x = da.ones((100, 4), chunks=(50, 2))
    with pytest.warns(UserWarning, match="rechunking"):
        S @ x
    y = da.ones((100, 3), chunks=(50, 3))[da.ones(100, chunks=50) > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        S @ y


def test_sketch_of_a_dask_row_block_at_an_offset(dask_client, rng, seed):
    # an explicit row0 (0 included) sketches a block of rows of the n-row matrix
    A = rng.standard_normal((300, 4))
    S = sketch("sparse_sign", 40, 300, random_state=seed)
    for row0 in (0, 120):
        block = A[row0:row0 + 100]
        got = S.apply(da.from_array(block, chunks=(33, -1)), row0=row0)
        np.testing.assert_allclose(got, S.apply(block, row0=row0), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------ leverage_scores

class _Counter:
    """A dask source counting how often each chunk is produced (synchronous scheduler)."""

    def __init__(self, X, chunks):
        self.calls = []
        self.array = da.from_array(X, chunks=(chunks, -1)).map_blocks(self._read,
                                                                     dtype=X.dtype)

    def _read(self, block, block_info=None):
        self.calls.append(block_info[0]["chunk-location"][0])
        return block


def _lev_input(rng, n=400, d=6):
    A = rng.standard_normal((n, d)) * np.array([1.0, 3.0, 0.5, 10.0, 1.0, 2.0])[:d]
    A[[5, 311]] = 0.0                       # zero rows: score exactly 0
    A[rng.choice(n, 4, replace=False)] *= 20.0   # heavy rows
    return A


def _lev_case(rng, seed, method):
    # (A, leverage_scores keywords, in-core (tau, rank))
    from nla.sampling import leverage_scores

    A = _lev_input(rng)
    kw = dict(method=method, random_state=seed, return_rank=True)
    kw.update(sketch="sparse_sign", sketch_size=60) if method == "sketch" else None
    return A, kw, leverage_scores(A, **kw)


@pytest.mark.parametrize("method", ["exact", "sketch"])
def test_leverage_of_dask_equals_in_core(dask_client, rng, seed, method):
    from nla.sampling import leverage_scores

    A, kw, (ref, rank) = _lev_case(rng, seed, method)
    for chunks in CHUNKINGS:
        tau, r = leverage_scores(da.from_array(A, chunks=(chunks, -1)), **kw)
        assert isinstance(tau, da.Array) and tau.chunks[0] == chunks and r == rank == 6
        out = tau.compute()
        # cond(A) ~ 1e2: the bases agree to ~eps cond^2; summation order differs only
        np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-15)
        assert out[5] == out[311] == 0.0
    if method == "exact":
        np.testing.assert_allclose(ref.sum(), 6.0, rtol=1e-12)


def test_leverage_of_dask_rank_deficient_and_scaled(dask_client, rng):
    from nla.sampling import leverage_scores

    A = _lev_input(rng)
    A[:, 4] = A[:, 0] - 2.0 * A[:, 1]       # rank 5: the TSQR + SVD route, as in core
    ref, rank = leverage_scores(A, return_rank=True)
    for scale in (1.0, 1e250, 1e-250):
        tau, r = leverage_scores(da.from_array(A * scale, chunks=((1, 250, 149), -1)),
                                 return_rank=True)
        assert r == rank == 5
        np.testing.assert_allclose(tau.compute(), ref, rtol=1e-10, atol=1e-13)
    B = _lev_input(rng).astype(np.float32)   # full rank: float32 chunks, float64 scores
    tau32 = leverage_scores(da.from_array(B, chunks=(100, -1)))
    assert tau32.dtype == np.float64
    np.testing.assert_allclose(tau32.compute(), leverage_scores(B), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("method", ["exact", "sketch"])
def test_leverage_of_dask_is_lazy_and_reads_each_chunk_once_per_pass(rng, seed, method):
    import dask

    from nla.sampling import leverage_scores

    A = _lev_input(rng)
    source = _Counter(A, 100)
    with dask.config.set(scheduler="sync"):
        tau = leverage_scores(source.array, method=method, random_state=seed,
                              sketch_size=60)
        # exact: the scale pass and two Gram passes (CholeskyQR2); sketch: the S A pass
        passes = 3 if method == "exact" else 1
        assert sorted(source.calls) == sorted(list(range(4)) * passes)
        source.calls.clear()
        out = tau.compute()
        assert sorted(source.calls) == list(range(4))   # the scores: one more pass
    np.testing.assert_allclose(out, leverage_scores(A, method=method, random_state=seed,
                                                    sketch_size=60), rtol=1e-12, atol=1e-15)


def test_leverage_of_dask_bad_input(dask_client, rng):
    from nla.sampling import leverage_scores

    A = _lev_input(rng)
    Ab = A.copy()
    Ab[250, 2] = np.inf
    for method in ("exact", "sketch"):
        with pytest.raises(ValueError, match="A contains NaN or infinity"):
            leverage_scores(da.from_array(Ab, chunks=(100, -1)), method=method,
                            sketch_size=60).compute()
    with pytest.warns(UserWarning, match="rechunking"):
        leverage_scores(da.from_array(A, chunks=(100, 3)))
    D = da.from_array(A, chunks=(100, -1))
    with pytest.raises(ValueError, match="A has unknown chunk sizes"):
        leverage_scores(D[D[:, 0] > -100])
    with pytest.raises(TypeError, match="sparse_sign"):
        leverage_scores(D, method="sketch", sketch="srht", sketch_size=60)
    with pytest.raises(ValueError, match="A must be 2-D"):
        leverage_scores(D[:, 0])


# ------------------------------------------------------------------------ lp_regression

@pytest.mark.parametrize("p", [1.0, 1.5])
def test_lp_regression_on_dask_gathers_the_sample(dask_client, rng, seed, p):
    from nla.sampling import lp_regression, sensitivity_sample

    A = rng.standard_normal((400, 3))
    b = A @ np.array([1.0, -2.0, 0.5]) + rng.standard_cauchy(400)
    S = sensitivity_sample(np.column_stack([A, b]), p, 150, random_state=seed)
    ref = lp_regression(A, b, p, sample=S)
    for chunks in CHUNKINGS:
        got = lp_regression(da.from_array(A, chunks=(chunks, -1)),
                            da.from_array(b, chunks=chunks), p, sample=S)
        # the same small problem on the same rows: x equal to rounding
        np.testing.assert_allclose(got.x, ref.x, rtol=1e-9, atol=1e-12)
        assert isinstance(got.x, np.ndarray) and got.sample is S
        assert abs(got.objective - ref.objective) <= 1e-10 * ref.objective
    got = lp_regression(da.from_array(A, chunks=(100, -1)), b, p, sample=S)  # NumPy b
    np.testing.assert_allclose(got.x, ref.x, rtol=1e-9, atol=1e-12)
    got = lp_regression(A, da.from_array(b, chunks=(150, 50, 200)), p, sample=S)  # NumPy A
    np.testing.assert_allclose(got.x, ref.x, rtol=1e-9, atol=1e-12)
    assert abs(got.objective - ref.objective) <= 1e-10 * ref.objective


def test_lp_regression_on_dask_bad_input(dask_client, rng, seed):
    from nla.sampling import lp_regression, sensitivity_sample

    A = rng.standard_normal((300, 3))
    b = rng.standard_normal(300)
    S = sensitivity_sample(np.column_stack([A, b]), 1.0, 100, random_state=seed)
    D, c = da.from_array(A, chunks=(100, -1)), da.from_array(b, chunks=100)
    with pytest.raises(TypeError, match="sample=None"):
        lp_regression(D, c, 1.0)
    with pytest.raises(ValueError, match="sample must be"):
        lp_regression(D, c, 1.0, sample=3)
    with pytest.raises(ValueError, match="scheme"):
        lp_regression(D, c, 1.0, sample=S, scheme="nope")
    with pytest.raises(ValueError, match="b must have 300"):
        lp_regression(D, c[:299], 1.0, sample=S)
    with pytest.raises(ValueError, match="rows"):
        lp_regression(D[:200], c[:200], 1.0, sample=S)
    bb = b.copy()
    bb[S.indices[3]] = np.nan
    with pytest.raises(ValueError, match="b contains NaN"):
        lp_regression(D, da.from_array(bb, chunks=100), 1.0, sample=S)
    with pytest.raises(ValueError, match="A has unknown chunk sizes"):
        lp_regression(D[D[:, 0] > -100], c, 1.0, sample=S)


# ------------------------------------------------------------------------ lewis_weights

def _lewis_input(rng, n=400, d=5):
    A = rng.standard_normal((n, d)) * np.exp(rng.standard_normal((n, 1)))  # lognormal rows
    A[[5, 311]] = 0.0                       # zero rows: weight exactly 0
    return A


def _same_weights(got, ref, chunks):
    # The dask run is the in-core iteration with its sums taken in another order: every
    # leverage evaluation differs by ~n eps (1e-13 here), and the iteration contracts, so the
    # weights agree far below the fixed-point tolerance (measured 1e-14).
    assert isinstance(got.weights, da.Array) and got.weights.chunks[0] == chunks
    w = got.weights.compute()
    np.testing.assert_allclose(w, ref.weights, rtol=1e-12, atol=0)
    assert w[5] == w[311] == 0.0
    assert (got.n_iter, got.converged, got.rank) == (ref.n_iter, ref.converged, ref.rank)
    return w


def test_lewis_of_dask_equals_in_core(dask_client, rng):
    import dask

    from nla.sampling import lewis_weights

    A = _lewis_input(rng)
    ref = lewis_weights(A, 1.0)
    for chunks in CHUNKINGS:
        # the uneven chunking on the cluster (~2 round trips per pass), the others in process
        with dask.config.set(scheduler=None if chunks == CHUNKINGS[-1] else "sync"):
            got = lewis_weights(da.from_array(A, chunks=(chunks, -1)), 1.0)
            w = _same_weights(got, ref, chunks)
        np.testing.assert_allclose(w.sum(), 5.0, rtol=1e-7)   # sum = rank at the fixed point
        assert got.residual <= 1e-8


@pytest.mark.parametrize("p", [1.5, 3.0, 6.0])
def test_lewis_of_dask_equals_in_core_for_p(rng, p):
    import dask

    from nla.sampling import lewis_weights

    A = _lewis_input(rng)
    with dask.config.set(scheduler="sync"):   # the cluster is exercised above; same graphs
        for kw in (dict(), dict(anderson=0, init="ones", tol=1e-6)):
            ref = lewis_weights(A, p, **kw)
            _same_weights(lewis_weights(da.from_array(A, chunks=((1, 250, 149), -1)), p, **kw),
                          ref, (1, 250, 149))


def test_lewis_of_dask_special_inputs(rng, monkeypatch):
    import dask

    import nla.sampling._lewis as core
    import nla.sampling._lewis_dask as on_dask
    from nla.sampling import leverage_scores, lewis_weights

    A = _lewis_input(rng)
    with dask.config.set(scheduler="sync"):
        D = da.from_array(A, chunks=(100, -1))
        res = lewis_weights(D, 2.0)   # p = 2: the leverage scores, lazily
        assert isinstance(res.weights, da.Array) and res.n_iter == 0
        np.testing.assert_allclose(res.weights.compute(), leverage_scores(A), rtol=1e-12,
                                   atol=1e-15)
        B = A.copy()
        B[:, 4] = B[:, 0] - B[:, 1]     # rank 4 (TSQR basis), extreme scales, float32
        for X in (B, B * 1e250, B * 1e-250, A.astype(np.float32)):
            ref = lewis_weights(X, 1.0)
            _same_weights(lewis_weights(da.from_array(X, chunks=((1, 250, 149), -1)), 1.0),
                          ref, (1, 250, 149))
        zero = lewis_weights(da.zeros((50, 3), chunks=(20, 3)), 1.0)
        assert zero.rank == 0 and not zero.weights.compute().any()
        # the QR route taken when the weighted Gram matrix is too ill-conditioned, both sides
        monkeypatch.setattr(core, "_GRAM_COND_MAX", 1.0)
        monkeypatch.setattr(on_dask, "_GRAM_COND_MAX", 1.0)
        ref = lewis_weights(A, 3.0)
        _same_weights(lewis_weights(D, 3.0), ref, (100,) * 4)


def test_lewis_of_dask_reads_each_chunk_once_per_pass(rng):
    import dask

    from nla.sampling import lewis_weights

    A = _lewis_input(rng)
    source = _Counter(A, 100)
    seen = []
    with dask.config.set(scheduler="sync"):
        res = lewis_weights(source.array, 1.5, callback=lambda it, w, r: seen.append(w))
        # scale and one Gram pass (CholeskyQR, cond(A) <= 1e4), the start, and per
        # iteration a Gram pass and a step pass
        passes = 2 + 1 + 2 * res.n_iter
        assert sorted(source.calls) == sorted(list(range(4)) * passes)
        source.calls.clear()
        # persisted iterates: the graph of the weights does not grow with the iterations
        assert len(res.weights.__dask_graph__()) <= 8 * 4
        w = res.weights.compute()
        assert source.calls == []            # the weights live in memory: no more passes
    assert all(isinstance(x, da.Array) for x in seen) and len(seen) == res.n_iter
    np.testing.assert_allclose(w, lewis_weights(A, 1.5).weights, rtol=1e-12)


def test_lewis_of_dask_bad_input(dask_client, rng):
    from nla.sampling import lewis_weights

    A = _lewis_input(rng)
    A[250, 2] = np.nan
    with pytest.raises(ValueError, match="A contains NaN or infinity"):
        lewis_weights(da.from_array(A, chunks=(100, -1)), 1.0)
    D = da.from_array(_lewis_input(rng), chunks=(100, -1))
    with pytest.raises(ValueError, match="A has unknown chunk sizes"):
        lewis_weights(D[D[:, 0] > -100], 1.0)
    with pytest.warns(UserWarning, match="rechunking"):
        lewis_weights(da.from_array(_lewis_input(rng), chunks=(100, 2)), 1.0, tol=1e-2)
    with pytest.raises(ValueError, match="p must be"):
        lewis_weights(D, 0.5)


# ------------------------------------------------------------------------ lp_sensitivities

def test_sensitivities_of_dask_equal_in_core(rng):
    import dask

    from nla.sampling import lp_sensitivities

    A = _lewis_input(rng)
    with dask.config.set(scheduler="sync"):
        for p, method in ((1.0, "lewis"), (3.0, "lewis"), (1.5, "root_leverage")):
            ref = lp_sensitivities(A, p, method=method)
            got = lp_sensitivities(da.from_array(A, chunks=((1, 250, 149), -1)), p,
                                   method=method)
            assert isinstance(got, da.Array) and got.chunks[0] == (1, 250, 149)
            # elementwise on weights / leverage scores that agree to 1e-14 (see above)
            np.testing.assert_allclose(got.compute(), ref, rtol=1e-12, atol=0)
        D = da.from_array(A, chunks=(100, -1))
        for method in ("wcb", "exact"):
            with pytest.raises(ValueError, match=f"method='{method}' is not available"):
                lp_sensitivities(D, 1.0, method=method)


# ------------------------------------------------------------------------ sensitivity_sample

SCHEMES = ["lewis", "sensitivity", "root_leverage", "leverage", "uniform", "combined", "custom"]


def _same_sample(got, ref):
    # equal scores up to rounding: the same uniforms select the same rows (see
    # nla/sampling/_sample_dask.py for the measure-zero case where one could flip)
    for name in ("indices", "weights", "row_scale", "probabilities"):
        assert isinstance(got[name], np.ndarray)
    np.testing.assert_array_equal(got.indices, ref.indices)
    np.testing.assert_allclose(got.weights, ref.weights, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.probabilities, ref.probabilities, rtol=1e-12, atol=0)
    assert (got.scheme, got.replace, got.n_rows) == (ref.scheme, ref.replace, ref.n_rows)


@pytest.mark.parametrize("replace", [False, True])
def test_sample_of_dask_equals_in_core(dask_client, rng, seed, replace):
    from nla.sampling import sensitivity_sample

    A = _lewis_input(rng)
    ref = sensitivity_sample(A, 1.0, 100, scheme="leverage", replace=replace,
                             random_state=seed)
    for chunks in CHUNKINGS:
        _same_sample(sensitivity_sample(da.from_array(A, chunks=(chunks, -1)), 1.0, 100,
                                        scheme="leverage", replace=replace,
                                        random_state=seed), ref)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_sample_of_dask_every_scheme(rng, seed, scheme):
    import dask

    from nla.sampling import sensitivity_sample

    A = _lewis_input(rng)
    p = 1.5 if scheme == "root_leverage" else 3.0
    scores = rng.random(400) if scheme == "custom" else scheme
    with dask.config.set(scheduler="sync"):
        for replace in (False, True):
            ref = sensitivity_sample(A, p, 120, scheme=scores, replace=replace,
                                     random_state=seed)
            for chunks in ((100,) * 4, (1, 250, 149)):
                sc = da.from_array(scores, chunks=70) if scheme == "custom" else scores
                got = sensitivity_sample(da.from_array(A, chunks=(chunks, -1)), p, 120,
                                         scheme=sc, replace=replace, random_state=seed)
                _same_sample(got, ref)
                assert not np.isin([5, 311], got.indices).any()   # zero rows never drawn


def test_sample_of_dask_edge_cases(rng, seed):
    import dask

    from nla.sampling import sensitivity_sample

    A = _lewis_input(rng)
    s = rng.random(400)
    s[rng.choice(400, 30, replace=False)] = 7.0   # ties at the capping threshold
    with dask.config.set(scheduler="sync"):
        D = da.from_array(A, chunks=(100, -1))
        for m in (20, 60, 398, 400):   # capped rows; every positive row kept
            ref = sensitivity_sample(A, 1.0, m, scheme=s, random_state=seed)
            _same_sample(sensitivity_sample(D, 1.0, m, scheme=s, random_state=seed), ref)
        ref = sensitivity_sample(A, 1.0, 60, scheme=s, random_state=seed)   # NumPy A
        _same_sample(sensitivity_sample(A, 1.0, 60, scheme=da.from_array(s, chunks=150),
                                        random_state=seed), ref)
        Z = sensitivity_sample(da.zeros((50, 3), chunks=(20, 3)), 1.0, 10, replace=True,
                               scheme="uniform", random_state=seed)
        assert Z.indices.size == 0


def test_sample_of_dask_bad_input(dask_client, rng):
    from nla.sampling import sensitivity_sample

    A = _lewis_input(rng)
    D = da.from_array(A, chunks=(100, -1))
    bad = A.copy()
    bad[250, 1] = np.inf
    for scheme in ("uniform", "leverage", rng.random(400)):
        with pytest.raises(ValueError, match="A contains NaN or infinity"):
            sensitivity_sample(da.from_array(bad, chunks=(100, -1)), 1.0, 50, scheme=scheme)
    s = rng.random(400)
    s[3] = -1.0
    with pytest.raises(ValueError, match="nonnegative"):
        sensitivity_sample(D, 1.0, 50, scheme=da.from_array(s, chunks=100))
    s[3] = np.nan
    with pytest.raises(ValueError, match="scheme contains NaN"):
        sensitivity_sample(D, 1.0, 50, scheme=da.from_array(s, chunks=100))
    with pytest.raises(ValueError, match="scheme scores must have 400"):
        sensitivity_sample(D, 1.0, 50, scheme=np.ones(399))
    with pytest.raises(ValueError, match="zero on every nonzero row"):
        sensitivity_sample(D, 1.0, 50, scheme=da.zeros(400, chunks=100))
    with pytest.raises(ValueError, match="m must be"):
        sensitivity_sample(D, 1.0, 401)
    with pytest.raises(ValueError, match="A has unknown chunk sizes"):
        sensitivity_sample(D[D[:, 0] > -100], 1.0, 50)


def test_sample_of_dask_reads_each_chunk_once_per_pass(rng, seed):
    import dask

    from nla.sampling import sensitivity_sample

    A = _lewis_input(rng)
    source = _Counter(A, 100)
    with dask.config.set(scheduler="sync"):
        for replace in (False, True):
            source.calls.clear()
            got = sensitivity_sample(source.array, 1.0, 80, scheme="leverage",
                                     replace=replace, random_state=seed)
            # the leverage factor's three passes, then the scores (persisted) once: the
            # sampler's passes read the scores, not A
            assert sorted(source.calls) == sorted(list(range(4)) * 4)
            _same_sample(got, sensitivity_sample(A, 1.0, 80, scheme="leverage",
                                                 replace=replace, random_state=seed))


@pytest.mark.parametrize("replace", [False, True])
def test_lp_regression_on_dask_draws_the_in_core_sample(dask_client, rng, seed, replace):
    from nla.sampling import lp_regression

    A = rng.standard_normal((400, 3))
    b = A @ np.array([1.0, -2.0, 0.5]) + rng.standard_cauchy(400)
    import dask

    ref = lp_regression(A, b, 1.0, sample=150, replace=replace, random_state=seed)
    for chunks in CHUNKINGS:
        # the Lewis scores' passes: the uneven chunking on the cluster, the others in process
        with dask.config.set(scheduler=None if chunks == CHUNKINGS[-1] else "sync"):
            got = lp_regression(da.from_array(A, chunks=(chunks, -1)),
                                da.from_array(b, chunks=CHUNKINGS[1] if chunks != CHUNKINGS[1]
                                              else CHUNKINGS[2]),   # b on other chunks
                                1.0, sample=150, replace=replace, random_state=seed)
        _same_sample(got.sample, ref.sample)
        # the same small problem on the same rows: x equal to rounding
        np.testing.assert_allclose(got.x, ref.x, rtol=1e-9, atol=1e-12)
        assert abs(got.objective - ref.objective) <= 1e-10 * ref.objective


# ------------------------------------------------------------------------ dask of CuPy chunks

@pytest.fixture
def on_device(gpu_twin, monkeypatch):
    """Call it to make every array report device data and 'gpu' sampling kernels the twin.

    ``nla_gpu.sampling`` runs on NumPy (the ``gpu_twin`` fixture), so dask chunks go through
    the GPU module's array code; its calls are counted by name, and asking for the Numba
    sampling kernels fails the test. Other areas (the sketch of ``method='sketch'``) keep
    their CPU kernels. In process (scheduler 'sync'): a cluster cannot unpickle the patches.
    """
    import collections
    import types

    import nla._array
    import nla.sampling._regression as regression

    twin, real, calls = gpu_twin("sampling"), nla._array.kernels, collections.Counter()

    def counted(name):
        def call(*args, **kwargs):
            calls[name] += 1
            return getattr(twin, name)(*args, **kwargs)
        return call

    proxy = types.SimpleNamespace(**{name: counted(name) for name in twin.__all__})

    def kernels(area, engine):
        if area != "sampling":
            return real(area, "cpu")
        assert engine == "gpu", "the CPU (Numba) sampling kernels were asked for"
        return proxy

    def start():
        monkeypatch.setattr(nla._array, "kernels", kernels)
        monkeypatch.setattr(regression, "kernels", kernels)   # imported by name there
        monkeypatch.setattr(nla._array, "on_gpu", lambda x: True)
        return calls

    with dask.config.set(scheduler="sync"):
        yield start


def _device_chunkings(A):
    return [da.from_array(A, chunks=(c, -1)) for c in CHUNKINGS]


@pytest.mark.parametrize("method", ["exact", "sketch"])
def test_leverage_of_device_chunks(on_device, rng, seed, method):
    from nla.sampling import leverage_scores

    A, kw, (ref, rank) = _lev_case(rng, seed, method)
    calls = on_device()
    for D in _device_chunkings(A):
        tau, r = leverage_scores(D, **kw)
        assert isinstance(tau, da.Array) and tau.chunks == D.chunks[:1] and r == rank
        np.testing.assert_allclose(tau.compute(), ref, rtol=1e-12, atol=1e-15)
    assert calls["row_sq_norms"] == sum(len(c) for c in CHUNKINGS)
    assert calls["gram"] >= (2 * sum(len(c) for c in CHUNKINGS) if method == "exact" else 0)


def test_lewis_of_device_chunks(on_device, rng, monkeypatch):
    import nla.sampling._lewis as core
    import nla.sampling._lewis_dask as on_dask
    from nla.sampling import lewis_weights

    A = _lewis_input(rng)
    B = A.copy()
    B[:, 4] = B[:, 0] - B[:, 1]     # rank 4: the TSQR basis (r_factor per chunk)
    refs = [(X, p, lewis_weights(X, p)) for X, p in ((A, 1.0), (A, 3.0), (B, 1.0), (A, 2.0))]
    with monkeypatch.context() as patch:   # the scaled-QR step, both sides
        patch.setattr(core, "_GRAM_COND_MAX", 1.0)
        qr_ref = lewis_weights(A, 3.0)
    calls = on_device()
    for D in _device_chunkings(A):
        for X, p, ref in refs:
            _same_weights(lewis_weights(D if X is A else da.from_array(X, chunks=D.chunks), p),
                          ref, D.chunks[0])
        with monkeypatch.context() as patch:
            patch.setattr(on_dask, "_GRAM_COND_MAX", 1.0)
            _same_weights(lewis_weights(D, 3.0), qr_ref, D.chunks[0])
    for name in ("gram", "row_sq_norms", "row_quadratic_forms", "r_factor"):
        assert calls[name] >= sum(len(c) for c in CHUNKINGS), name
    zero = lewis_weights(da.zeros((50, 3), chunks=(20, 3)), 1.0)
    assert zero.rank == 0 and not zero.weights.compute().any()


def test_sensitivities_of_device_chunks(on_device, rng):
    from nla.sampling import lp_sensitivities

    A = _lewis_input(rng)
    cases = ((1.0, "lewis"), (1.5, "root_leverage"))
    refs = [lp_sensitivities(A, p, method=method) for p, method in cases]
    calls = on_device()
    for D in _device_chunkings(A):
        for (p, method), ref in zip(cases, refs):
            got = lp_sensitivities(D, p, method=method)
            assert isinstance(got, da.Array) and got.chunks == D.chunks[:1]
            np.testing.assert_allclose(got.compute(), ref, rtol=1e-12, atol=0)
    assert calls["row_sq_norms"] >= 2 * sum(len(c) for c in CHUNKINGS)


@pytest.mark.parametrize("replace", [False, True])
def test_sample_of_device_chunks(on_device, rng, seed, replace):
    from nla.sampling import sensitivity_sample

    A = _lewis_input(rng)
    s = rng.random(400)
    s[rng.choice(400, 30, replace=False)] = 7.0   # ties at the capping threshold
    cases = [(1.0, "lewis", 100), (1.0, "uniform", 60), (1.0, s, 60), (1.0, s, 20)]
    refs = [sensitivity_sample(A, p, m, scheme=scheme, replace=replace, random_state=seed)
            for p, scheme, m in cases]
    calls = on_device()
    for D in _device_chunkings(A):
        for (p, scheme, m), ref in zip(cases, refs):
            sc = scheme if isinstance(scheme, str) else da.from_array(scheme, chunks=70)
            _same_sample(sensitivity_sample(D, p, m, scheme=sc, replace=replace,
                                            random_state=seed), ref)
    assert calls["row_sq_norms"] > 0   # the Lewis scores
    assert calls["bernoulli_mask"] == (0 if replace else 4 * sum(len(c) for c in CHUNKINGS))


@pytest.mark.parametrize("p", [1.0, 1.5])
def test_lp_regression_of_device_chunks(on_device, rng, seed, p, monkeypatch):
    from nla.sampling import lp_regression, sensitivity_sample

    A = rng.standard_normal((400, 3))
    b = A @ np.array([1.0, -2.0, 0.5]) + rng.standard_cauchy(400)
    S = sensitivity_sample(np.column_stack([A, b]), p, 150, random_state=seed)
    drawn = lp_regression(A, b, p, sample=120, random_state=seed).sample
    calls = on_device()
    # the in-core CuPy path (the twin kernels) on the same rows: the reference of x
    ref = lp_regression(A, b, p, sample=S)
    ref_m = lp_regression(A, b, p, sample=120, random_state=seed)
    _same_sample(ref_m.sample, drawn)
    for D in _device_chunkings(A):
        Db = da.from_array(b, chunks=D.chunks[0])
        for sample, want in ((S, ref), (120, ref_m)):
            got = lp_regression(D, Db, p, sample=sample, random_state=seed)
            _same_sample(got.sample, want.sample)
            np.testing.assert_allclose(got.x, want.x, rtol=1e-12, atol=0)
            assert abs(got.objective - want.objective) <= 1e-12 * want.objective
    assert calls["row_sq_norms"] > 0 and calls["lp_norm"] > 0
    import nla._array

    host = da.from_array(b, chunks=70)   # NumPy chunks beside device ones: refused, named
    monkeypatch.setattr(nla._array, "on_gpu", lambda x: isinstance(x, da.Array) and
                        x.name != host.name)
    for B in (host, b):   # a dask or an in-memory NumPy b
        with pytest.raises(ValueError, match="A and b must live on one device"):
            lp_regression(D, B, p, sample=S)


def test_distortion_of_device_chunks(on_device, rng, seed):
    # host work in core too: the chunks are copied to the host lazily, then as for NumPy chunks
    from nla.sampling import embedding_distortion, sensitivity_sample

    A = _lewis_input(rng)
    S = sensitivity_sample(A, 1.0, 150, random_state=seed)
    refs = [embedding_distortion(A, S, 1.0, refine=r, random_state=seed).distortion
            for r in (0, 3)]
    on_device()
    D = da.from_array(A, chunks=(100, -1))
    got = [embedding_distortion(D, S, 1.0, refine=r, random_state=seed).distortion
           for r in (0, 3)]
    # The sampled directions' ratios agree to rounding. The refined ones come from three BFGS
    # steps (not run to convergence) on objectives that differ in the last bits between the
    # engines' kernels, so the iterates part slightly: measured up to 3.3e-8 relative
    # (NLA_TEST_SEED=2099943329), bounded here by 1e-6.
    assert abs(got[0] - refs[0]) <= 1e-10 * max(refs[0], 1e-300)
    assert abs(got[1] - refs[1]) <= 1e-6 * max(refs[1], 1e-300)


def test_r_factor_kernels(gpu_twin, rng):
    # the TSQR blocks' R on both engines: R^T R = A^T A, upper triangular, host arrays
    from nla.sampling import _kernels as K

    G = gpu_twin("sampling")
    for n in (40, 3):   # tall and wide blocks: min(n, d) rows
        A = rng.standard_normal((n, 5)) * np.array([1.0, 1e3, 1e-3, 1.0, 10.0])
        for M in (G, K):
            R = M.r_factor(A)
            assert isinstance(R, np.ndarray) and R.shape == (min(n, 5), 5)
            assert not np.tril(R, -1).any()
            # backward stable QR: R^T R = A^T A to eps ||A||^2 (entrywise, any conditioning)
            np.testing.assert_allclose(R.T @ R, A.T @ A, rtol=0,
                                       atol=1e-13 * np.linalg.norm(A, 2) ** 2)
