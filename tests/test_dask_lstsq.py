"""nla.lstsq on row-chunked dask arrays, on a real dask.distributed LocalCluster (2 worker
processes): every method equals the in-core solve for several chunkings, the fallbacks run
there too, small results come back concrete, bad input raises a clear error."""

import numpy as np
import pytest

import nla

da = pytest.importorskip("dask.array")
pytest.importorskip("dask.distributed")

# Uneven chunkings included: the sketches hash the global row index, so any chunking gives
# the same sketch; only the order of the per-chunk sums changes (1e-12 relative).
CHUNKINGS = [(2500,), (1000, 3000, 1500, 500), (777,)]


@pytest.fixture
def client(dask_client):
    return dask_client  # the session's LocalCluster (tests/conftest.py)


def conditioned(rng, n, d, kappa):
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (U * np.logspace(0, -np.log10(kappa), d)) @ V.T


def chunked(x, rows):
    spec = rows[0] if len(rows) == 1 else rows  # a chunk size, or explicit chunk sizes
    return da.from_array(x, chunks=(spec, -1) if x.ndim == 2 else (spec,))


@pytest.mark.parametrize("method", ["auto", "sketch", "precondition", "exact"])
def test_every_method_matches_in_core(client, method, rng, seed):
    n, d = 6000, 8
    A = conditioned(rng, n, d, 1e3)
    b = A @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    kind = "gaussian" if method == "sketch" else None  # the dask default for 'sketch'
    ref = nla.lstsq(A, b, method=method, sketch=kind, random_state=seed)
    for rows in CHUNKINGS:
        res = nla.lstsq(chunked(A, rows), chunked(b, rows), method=method, random_state=seed)
        assert isinstance(res.x, np.ndarray) and isinstance(res.residual_norm, float)
        assert res.method == ref.method and res.sketch == ref.sketch
        scale = np.abs(ref.x).max()
        np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-10 * scale)
        assert abs(res.residual_norm - ref.residual_norm) <= 1e-12 * ref.residual_norm


def test_auto_ill_conditioned_and_rank_deficient_on_dask(client, rng, seed):
    # cond 1e8 takes the Cholesky-QR path, an exactly dependent column the fallback to
    # sketch-and-precondition (minimum-norm, with the warning), both chunk by chunk
    n, d = 5000, 10
    A = conditioned(rng, n, d, 1e8)
    x0 = rng.standard_normal(d)
    b = A @ x0 + 1e-6 * rng.standard_normal(n)
    res = nla.lstsq(chunked(A, (1300,)), b, random_state=seed)
    ref = nla.lstsq(A, b, random_state=seed)
    assert res.method == "cholesky_qr" == ref.method and res.converged
    # Both within ~kappa eps ||x*|| of x*, normwise: a component near zero can differ by more
    # than 1e-6 of itself (1.5e-6 at NLA_TEST_SEED=1920797500), so compare against max |x|.
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-6, atol=1e-6 * np.abs(ref.x).max())
    B = rng.standard_normal((n, d))
    B[:, 3] = 2.0 * B[:, 1]
    with pytest.warns(nla.sketching._lstsq.RankDeficientWarning):
        res = nla.lstsq(chunked(B, (1100,)), chunked(b, (1100,)), random_state=seed)
    assert res.method == "precondition" and res.rank == d - 1
    x_ref = np.linalg.lstsq(B, b, rcond=1e-12)[0]
    np.testing.assert_allclose(res.x, x_ref, rtol=1e-8, atol=1e-10)


def test_multiple_rhs_float32_and_numpy_b(client, rng, seed):
    n, d = 4000, 6
    A = rng.standard_normal((n, d)).astype(np.float32)
    B = rng.standard_normal((n, 3)).astype(np.float32)
    res = nla.lstsq(chunked(A, (900,)), B, random_state=seed)
    assert res.x.shape == (d, 3) and res.x.dtype == np.float32
    ref = np.linalg.lstsq(A.astype(float), B.astype(float), rcond=None)[0]
    np.testing.assert_allclose(res.x, ref, rtol=1e-4, atol=1e-5)


def test_extreme_scales_on_dask(client, rng, seed):
    n, d = 3000, 5
    A = rng.standard_normal((n, d))
    b = A @ rng.standard_normal(d) + rng.standard_normal(n)
    ref = np.linalg.lstsq(A, b, rcond=None)[0]
    for s in (1e-200, 1e200):
        res = nla.lstsq(chunked(A * s, (700,)), chunked(b * s, (700,)), random_state=seed)
        np.testing.assert_allclose(res.x, ref, rtol=1e-12)
        assert res.converged and np.isclose(res.residual_norm / s, np.linalg.norm(A @ ref - b))


def test_bad_dask_input(client, rng):
    n, d = 2000, 4
    A = rng.standard_normal((n, d))
    b = rng.standard_normal(n)
    with pytest.raises(ValueError, match="b must have as many rows as A"):
        nla.lstsq(chunked(A, (500,)), chunked(b[:-1], (500,)))
    with pytest.warns(UserWarning, match="chunked across columns"):
        nla.lstsq(da.from_array(A, chunks=(500, 2)), b)
    unknown = da.from_array(A, chunks=(500, d))[da.from_array(b, chunks=500) > -10]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        nla.lstsq(unknown, b)
    with pytest.raises(TypeError, match="A is not"):
        nla.lstsq(A, chunked(b, (500,)))
    bad = A.copy()
    bad[1234, 1] = np.nan
    for method in ("auto", "sketch", "precondition", "exact"):
        with pytest.raises(ValueError, match="A contains NaN or infinity"):
            nla.lstsq(chunked(bad, (500,)), b, method=method)
    badb = b.copy()
    badb[17] = np.inf
    with pytest.raises(ValueError, match="b contains NaN or infinity"):
        nla.lstsq(chunked(A, (500,)), chunked(badb, (500,)))
    assert len(client.scheduler_info()["workers"]) == 2  # no worker died
