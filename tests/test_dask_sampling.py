"""Sketch operators on row-chunked dask arrays, on the session LocalCluster (dask_client)."""

import numpy as np
import pytest

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
