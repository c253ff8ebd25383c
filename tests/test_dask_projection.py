"""Random projection, FastRP and embedding_distortion on row-chunked dask arrays, on the
session's real dask.distributed LocalCluster (2 worker processes): equal to the in-core
results for several chunkings (uneven ones included), lazy, each input chunk read once per
pass, bad input found (NaN/inf at compute time, naming the argument), and dask arrays of
CuPy chunks routed through the GPU kernels (their CPU twins here)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import nla
from nla._array import Origin, engine_of
from nla.random_projection import SparseRandomProjection

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
pytest.importorskip("dask.distributed")

# Chunk sizes (or explicit chunks) along the rows, for 300-row inputs: even, uneven, ragged.
CHUNKINGS = [100, (70, 130, 1, 99), 37]


@pytest.fixture
def client(dask_client):
    return dask_client  # the session's LocalCluster (tests/conftest.py)


def chunked(x, rows, sparse=False):
    out = da.from_array(x, chunks=(rows, -1) if x.ndim == 2 else (rows,))
    return out.map_blocks(sp.csr_matrix, dtype=x.dtype) if sparse else out


def _sparse_data(rng, n, D, density=0.3, dtype=np.float64):
    X = rng.standard_normal((n, D)).astype(dtype)
    X[rng.random(X.shape) >= density] = 0.0
    return X


def _graph(rng, n, p, directed=False):
    # Weighted, with an isolated node and (directed) sinks: the degree-0 rows are exercised.
    S = sp.random(n, n, density=p, random_state=int(rng.integers(2**31)), format="csr",
                  data_rvs=lambda k: rng.uniform(0.5, 2.0, k))
    S = S if directed else (sp.triu(S, 1) + sp.triu(S, 1).T).tocsr()
    S = S.tolil()
    S[7, :] = 0
    S[:, 7] = 0
    return S.tocsr()


class _Counter:
    """A dask source that counts how often each chunk is produced (synchronous scheduler)."""

    def __init__(self, X, rows, sparse=False):
        self.X, self.calls = X, []
        self.array = da.from_array(X, chunks=(rows, -1)).map_blocks(self._read, dtype=X.dtype)
        if sparse:
            self.array = self.array.map_blocks(sp.csr_matrix, dtype=X.dtype)

    def _read(self, block, block_info=None):
        self.calls.append(block_info[0]["chunk-location"][0])
        return block


# ---------------------------------------------------------------- SparseRandomProjection

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_projection_dense_chunks_equal_in_core(client, rng, seed, dtype):
    # Each output row is the same ordered sum in any chunking: equal bit for bit.
    X = _sparse_data(rng, 300, 700, 0.6, dtype)
    rp = SparseRandomProjection(48, random_state=seed).fit(X)
    ref = rp.transform(X)
    for rows in CHUNKINGS:
        D = chunked(X, rows)
        lazy = SparseRandomProjection(48, random_state=seed).fit(D)
        assert (lazy.components_ != rp.components_).nnz == 0 and lazy.n_features_in_ == 700
        Y = lazy.transform(D)
        assert isinstance(Y, da.Array) and Y.chunks[0] == D.chunks[0] and Y.dtype == dtype
        out = Y.compute()
        assert isinstance(out, np.ndarray) and out.dtype == dtype
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(lazy.fit_transform(D).compute(), ref)


def test_projection_sparse_chunks_equal_in_core(client, rng, seed):
    X = _sparse_data(rng, 300, 500, 0.1)
    rp = SparseRandomProjection(40, density=0.2, random_state=seed).fit(X)
    ref_sparse, ref_dense = rp.transform(sp.csr_matrix(X)), rp.transform(X)
    for rows in CHUNKINGS:
        D = chunked(X, rows, sparse=True)
        Y = rp.transform(D)
        assert sp.issparse(Y._meta) and Y.chunks[0] == D.chunks[0]
        out = Y.compute()
        assert sp.issparse(out) and out.format == "csr" and (out != ref_sparse).nnz == 0
        np.testing.assert_array_equal(out.toarray(), ref_sparse.toarray())
        dense = rp.set_params(dense_output=True).transform(D)
        rp.set_params(dense_output=False)
        assert isinstance(dense._meta, np.ndarray)
        np.testing.assert_array_equal(dense.compute(), ref_dense)


def test_inverse_transform_is_lazy_per_row(client, rng, seed):
    X = rng.standard_normal((300, 60))
    rp = SparseRandomProjection(20, density=0.5, random_state=seed).fit(X)
    Y = rp.transform(X)
    ref = rp.inverse_transform(Y)
    for rows in CHUNKINGS:
        back = rp.inverse_transform(chunked(Y, rows))
        assert isinstance(back, da.Array) and back.shape == (300, 60)
        assert back.chunks == (chunked(Y, rows).chunks[0], (60,))
        # BLAS may block a product differently for different row counts: 1e-12 relative
        np.testing.assert_allclose(back.compute(), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    Yb = Y.copy()
    Yb[5, 3] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        rp.inverse_transform(chunked(Yb, 100)).compute()
    with pytest.raises(ValueError, match="columns"):
        rp.inverse_transform(chunked(X, 100))


def test_projection_is_lazy_and_reads_each_chunk_once(rng, seed):
    # Synchronous scheduler: the counting source runs in this process.
    X = rng.standard_normal((300, 80))
    source = _Counter(X, 70)
    with dask.config.set(scheduler="sync"):
        rp = SparseRandomProjection(16, random_state=seed).fit(source.array)
        Y = rp.transform(source.array)
        Z = rp.fit_transform(source.array)
        assert source.calls == []    # fit, transform, fit_transform: nothing computed yet
        out = Y.compute()
        assert sorted(source.calls) == list(range(5))   # each of the 5 chunks read once
        source.calls.clear()
        Z.compute()
        assert sorted(source.calls) == list(range(5))
    np.testing.assert_array_equal(out, rp.transform(X))


def test_tasks_run_on_one_numba_thread(client, rng):
    # Dask runs one task per worker thread; a task starting Numba's thread team on top would
    # oversubscribe the cores (the workers' own Numba default is every core of the machine).
    from nla._dask import map_rows

    import numba

    X = da.from_array(rng.standard_normal((300, 4)), chunks=(100, -1))
    counts = map_rows(lambda row0, block: np.full(len(block), numba.get_num_threads()), X)
    assert set(counts.compute().tolist()) == {1}


def test_projection_bad_input(client, rng, seed):
    X = rng.standard_normal((300, 90))
    rp = SparseRandomProjection(12, random_state=seed).fit(X)
    ref = rp.transform(X)
    by_columns = da.from_array(X, chunks=(100, 30))
    with pytest.warns(UserWarning, match="X is chunked across columns"):
        Y = rp.transform(by_columns)
    np.testing.assert_array_equal(Y.compute(), ref)
    unknown = chunked(X, 100)[chunked(X[:, 0], 100) > -10.0]   # NaN chunk sizes
    for call in (rp.transform, rp.fit, rp.fit_transform):
        with pytest.raises(ValueError, match=r"X has unknown chunk sizes"):
            call(unknown)
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[rng.integers(300), rng.integers(90)] = bad
        lazy = rp.transform(chunked(Xb, 70))  # building the graph reads nothing
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            lazy.compute()
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            rp.transform(chunked(Xb, 70, sparse=True)).compute()
    np.testing.assert_array_equal(rp.transform(chunked(X, 70)).compute(), ref)  # workers live
    with pytest.raises(ValueError, match="X has 80 features"):
        rp.transform(chunked(X[:, :80], 100))
    with pytest.raises(ValueError, match="X must be 2-D"):
        rp.transform(chunked(X[:, 0], 100))
    with pytest.raises(ValueError, match="Complex"):
        rp.transform(chunked(X + 1j, 100))
    with pytest.raises(TypeError, match="real numbers"):
        rp.transform(chunked(X.astype(str), 100))
    ints = rng.integers(-5, 5, (300, 90))
    lazy = rp.transform(chunked(ints, 100))   # cast to float64 lazily, as check_array does
    assert lazy.dtype == np.float64
    np.testing.assert_array_equal(lazy.compute(), rp.transform(ints))


# --------------------------------------------------------------------------------- FastRP

@pytest.mark.parametrize("direction", ["out", "in", "symmetrize"])
def test_fastrp_chunkings_equal_in_core(client, rng, seed, direction):
    S = _graph(rng, 300, 0.03, directed=direction != "out")
    plain = dict(dim=16, weights=(0.5, 0.0, 1.0), beta=-0.4, self_weight=0.3,
                 direction=direction, random_state=seed, standardize=False, dtype=np.float64)
    ref = nla.fastrp(S, **plain)
    ref_z = nla.fastrp(S, **{**plain, "standardize": True})
    ref_32 = nla.fastrp(S, **{**plain, "standardize": True, "dtype": np.float32})
    for rows in CHUNKINGS:
        D = chunked(S.toarray(), rows, sparse=True)
        E = nla.fastrp(D, **plain)
        assert isinstance(E, da.Array) and E.chunks == (D.chunks[0], (16,))
        np.testing.assert_array_equal(E.compute(), ref)  # each row: the in-core operations
        # standardize sums the columns over the chunks in another order: 1e-12 relative
        Z = nla.fastrp(D, **{**plain, "standardize": True}).compute()
        np.testing.assert_allclose(Z, ref_z, rtol=0, atol=1e-12 * np.abs(ref_z).max())
        # float32: the float64 z-score rounded once, so at most one float32 rounding apart
        Z32 = nla.fastrp(D, **{**plain, "standardize": True, "dtype": np.float32}).compute()
        assert Z32.dtype == np.float32
        np.testing.assert_allclose(Z32, ref_32, rtol=2.0**-23,
                                   atol=1e-12 * np.abs(ref_32).max())
    dense = nla.fastrp(chunked(S.toarray(), 80), **plain)   # dense chunks are accepted too
    np.testing.assert_array_equal(dense.compute(), ref)


def test_fastrp_defaults_and_passes(rng, seed):
    # Synchronous scheduler, counting source: the call makes one pass (the degrees), the
    # embedding is lazy and its computation one more pass; q powers = q tasks per chunk.
    S = _graph(rng, 300, 0.03)
    source = _Counter(S.toarray(), 70, sparse=True)
    ref = nla.fastrp(S, random_state=seed)
    with dask.config.set(scheduler="sync"):
        E = nla.fastrp(source.array, random_state=seed)
        assert sorted(source.calls) == list(range(5))
        source.calls.clear()
        plain = nla.fastrp(source.array, random_state=seed, standardize=False)
        source.calls.clear()
        powers = [k for k in dict(plain.__dask_graph__()) if str(k).startswith("_step")]
        assert len(powers) == 3 * 5   # weights (0, 0, 1, 1): 3 propagations after A LR
        out = E.compute()
        assert sorted(source.calls) == list(range(5))
    assert out.shape == (300, 128) and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, rtol=2.0**-23, atol=1e-12 * np.abs(ref).max())


def test_fastrp_bad_adjacency(client, rng, seed):
    S = _graph(rng, 200, 0.05)
    X = S.toarray()
    with pytest.raises(ValueError, match="adjacency must be square"):
        nla.fastrp(chunked(X[:, :150], 50, sparse=True))
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[150, 3] = bad   # found by the degree pass, at the call
        with pytest.raises(ValueError, match="adjacency contains NaN or infinity"):
            nla.fastrp(chunked(Xb, 50, sparse=True), random_state=seed)
    Xn = X.copy()
    Xn[120, 4] = -1.0
    with pytest.raises(ValueError, match="negative weights"):
        nla.fastrp(chunked(Xn, 50, sparse=True), random_state=seed)
    with pytest.raises(ValueError, match="adjacency has unknown chunk sizes"):
        D = chunked(X, 50)
        nla.fastrp(D[chunked(X[:, 0], 50) >= 0])
    with pytest.warns(UserWarning, match="adjacency is chunked across columns"):
        E = nla.fastrp(da.from_array(X, chunks=(50, 100)), dim=8, random_state=seed)
    np.testing.assert_array_equal(E.compute(), nla.fastrp(S, dim=8, random_state=seed))
    # overflow: found when the embedding is computed, as in core
    huge = dict(dim=8, weights=(3e38,), self_weight=3e38, s=1.0, normalize=False,
                standardize=False, random_state=seed)
    with pytest.raises(FloatingPointError, match="overflows float32"):
        nla.fastrp(S, **huge)
    lazy = nla.fastrp(chunked(X, 50, sparse=True), **huge)
    with pytest.raises(FloatingPointError, match="overflows float32"):
        lazy.compute()


def _twin_kernels(gpu_twin, driver):
    """``kernels(area, engine)`` handing 'gpu' to the CPU twin; the engines asked for are recorded."""
    twin, real, used = gpu_twin("random_projection"), driver.kernels, []

    def kernels(area, engine):
        used.append(engine)
        return twin if engine == "gpu" else real(area, engine)
    return kernels, used


def test_fastrp_dask_through_the_gpu_kernels(gpu_twin, monkeypatch, rng, seed):
    import nla.random_projection._fastrp as driver
    import nla.random_projection._fastrp_dask as on_dask

    kernels, used = _twin_kernels(gpu_twin, driver)

    S = _graph(rng, 300, 0.03, directed=True)
    kw = dict(dim=16, weights=(1.0, 1.0, 1.0), self_weight=0.5, direction="symmetrize",
              random_state=seed, dtype=np.float64)
    ref = nla.fastrp(S, **kw)
    for module in (driver, on_dask):
        monkeypatch.setattr(module, "kernels", kernels)
    monkeypatch.setattr(driver, "engine_of", lambda *a: "gpu")
    with dask.config.set(scheduler="sync"):
        out = nla.fastrp(chunked(S.toarray(), (70, 130, 1, 99), sparse=True), **kw).compute()
    assert set(used) == {"gpu"}
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


# ----------------------------------------------------------------------- embedding_distortion

@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
def test_distortion_equals_in_core(client, rng, seed, p):
    from nla.sampling import embedding_distortion, sensitivity_sample

    A = rng.standard_normal((1200, 5)) * np.array([1.0, 2.0, 3.0, 1e2, 0.5])
    A[rng.choice(1200, 8, replace=False)] *= 30.0   # a few heavy rows for the pool
    S = sensitivity_sample(A, p, 300, random_state=seed)
    for rows, refine in ((400, 0), ((500, 1, 600, 99), int(p == 1.0))):
        # each refinement (BFGS) step is a pass over the chunks: one refined case only
        ref = embedding_distortion(A, S, p, refine=refine, random_state=seed)
        got = embedding_distortion(chunked(A, rows), S, p, refine=refine, random_state=seed)
        assert isinstance(got.distortion, float)
        # cond(A) ~ 1e3: the basis (CholeskyQR2 on tree-summed Gram matrices) equals the
        # in-core one to ~eps cond^2, and so do the ratios (BFGS steps from the same start)
        for name in ("ratio_min", "ratio_max", "distortion"):
            assert abs(got[name] - ref[name]) <= 1e-9 * max(1.0, abs(ref[name])), name


def test_distortion_ill_conditioned_and_bad_input(client, rng, seed):
    from nla.sampling import embedding_distortion, sensitivity_sample

    A = rng.standard_normal((900, 6))
    A[:, 5] = A[:, 0] - 2.0 * A[:, 1]           # rank 5: the TSQR + SVD branch
    S = sensitivity_sample(A, 2.0, 300, random_state=seed)
    ref = embedding_distortion(A, S, 2.0)        # p = 2 is exact: basis-independent
    got = embedding_distortion(chunked(A * 1e250, (400, 1, 499)), S, 2.0)
    assert abs(got.ratio_min - ref.ratio_min) <= 1e-10 and \
        abs(got.ratio_max - ref.ratio_max) <= 1e-10
    S1 = sensitivity_sample(A, 1.0, 300, random_state=seed)
    lower = embedding_distortion(chunked(A, 300), S1, 1.0, refine=0, random_state=seed)
    assert 0 < lower.ratio_min <= lower.ratio_max and lower.distortion >= 0
    Ab = A.copy()
    Ab[450, 2] = np.nan
    with pytest.raises(ValueError, match="A contains NaN or infinity"):
        embedding_distortion(chunked(Ab, 300), S, 2.0)
    with pytest.raises(ValueError, match="rows"):     # a sample of another matrix
        embedding_distortion(chunked(A[:800], 300), S, 2.0)
    with pytest.raises(ValueError, match="A has unknown chunk sizes"):
        D = chunked(A, 300)
        embedding_distortion(D[D[:, 0] > -100], S, 2.0)
    with pytest.raises(TypeError, match="A must be a dense array"):
        embedding_distortion(chunked(A, 300, sparse=True), S, 2.0)


# ------------------------------------------------------------------------ the array layer

class _DeviceMeta:
    """Stands for a CuPy chunk: an object in CUDA memory as far as nla._array can tell."""

    __cuda_array_interface__ = {}


def test_engine_of_reads_a_dask_arrays_chunks():
    X = da.from_array(np.ones((6, 3)), chunks=(2, -1))
    S = X.map_blocks(sp.csr_matrix)
    assert engine_of(X) == engine_of(S) == "cpu"
    G = X.copy()
    G._meta = _DeviceMeta()
    assert engine_of(G) == "gpu"
    with pytest.raises(ValueError, match="mix host"):
        engine_of(X, G)
    assert Origin(X).restore(X) is X   # dask results are handed back as built


def test_dask_of_device_chunks_runs_the_gpu_kernels(gpu_twin, monkeypatch, rng, seed):
    # The GPU module's array code (NumPy standing in for CuPy) chunk by chunk, in process.
    import nla.random_projection._sparse_rp as driver

    kernels, used = _twin_kernels(gpu_twin, driver)

    X = _sparse_data(rng, 300, 400, 0.5)
    rp = SparseRandomProjection(24, random_state=seed).fit(X)
    ref, ref_sparse = rp.transform(X), rp.transform(sp.csr_matrix(X))
    monkeypatch.setattr(driver, "kernels", kernels)
    monkeypatch.setattr(driver, "engine_of", lambda *a: "gpu")
    with dask.config.set(scheduler="sync"):
        out = rp.transform(chunked(X, (70, 130, 1, 99))).compute()
        out_sparse = rp.transform(chunked(X, 37, sparse=True)).compute()
    assert set(used) == {"gpu"}
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(out_sparse.toarray(), ref_sparse.toarray(), rtol=1e-12,
                               atol=1e-12 * np.abs(ref).max())
