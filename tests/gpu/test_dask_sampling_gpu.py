"""nla.sampling on dask arrays of CuPy chunks vs the in-core CuPy results (real device)."""

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")
da = pytest.importorskip("dask.array")

from nla.sampling import (leverage_scores, lewis_weights, lp_regression,  # noqa: E402
                          lp_sensitivities, sensitivity_sample)

CHUNKINGS = [(3000,), (1000, 1000, 1000), (1, 1700, 1299)]


@pytest.fixture
def data(rng):
    A = rng.standard_normal((3000, 6)) * np.exp(rng.standard_normal((3000, 1)))
    A[[5, 311]] = 0.0
    b = A @ rng.standard_normal(6) + rng.standard_cauchy(3000)
    return cupy.asarray(A), cupy.asarray(b)


def _device(x, rows):
    return da.from_array(x, chunks=(rows, -1) if x.ndim == 2 else (rows,), asarray=False)


def _lazy_on_device(x, ref, rtol):
    assert isinstance(x, da.Array) and isinstance(x._meta, cupy.ndarray)
    got = x.compute()
    assert isinstance(got, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(got), cupy.asnumpy(ref), rtol=rtol, atol=0)


def test_scores_of_cupy_chunks(data):
    import dask

    A, _ = data
    refs = (leverage_scores(A), lewis_weights(A, 1.0).weights, lewis_weights(A, 3.0).weights,
            lp_sensitivities(A, 1.5, method="root_leverage"))
    with dask.config.set(scheduler="sync"):
        for rows in CHUNKINGS:
            D = _device(A, rows)
            assert isinstance(D._meta, cupy.ndarray)
            got = (leverage_scores(D), lewis_weights(D, 1.0).weights,
                   lewis_weights(D, 3.0).weights,
                   lp_sensitivities(D, 1.5, method="root_leverage"))
            for x, ref in zip(got, refs):
                _lazy_on_device(x, ref, 1e-12)


@pytest.mark.parametrize("replace", [False, True])
def test_sample_and_regression_of_cupy_chunks(data, seed, replace):
    import dask

    A, b = data
    kw = dict(scheme="leverage", replace=replace, random_state=seed)
    ref = sensitivity_sample(A, 1.0, 300, **kw)
    fit = lp_regression(A, b, 1.0, sample=300, replace=replace, random_state=seed)
    with dask.config.set(scheduler="sync"):
        for rows in CHUNKINGS:
            got = sensitivity_sample(_device(A, rows), 1.0, 300, **kw)
            assert isinstance(got.indices, cupy.ndarray)
            np.testing.assert_array_equal(cupy.asnumpy(got.indices), cupy.asnumpy(ref.indices))
            np.testing.assert_allclose(cupy.asnumpy(got.weights), cupy.asnumpy(ref.weights),
                                       rtol=1e-12)
            out = lp_regression(_device(A, rows), _device(b, rows), 1.0, sample=300,
                                replace=replace, random_state=seed)
            assert isinstance(out.x, cupy.ndarray)
            np.testing.assert_allclose(cupy.asnumpy(out.x), cupy.asnumpy(fit.x), rtol=1e-10)
            assert out.objective == pytest.approx(fit.objective, rel=1e-12)
