"""nla.sampling on CuPy arrays vs the CPU (Numba) results on the same data and seed."""

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")

from nla.sampling import (leverage_scores, lewis_weights, lp_regression,  # noqa: E402
                          lp_sensitivities, sensitivity_sample)


@pytest.fixture
def data(rng):
    A = rng.standard_normal((3000, 6)) * np.exp(rng.standard_normal((3000, 1)))
    b = A @ rng.standard_normal(6) + rng.standard_cauchy(3000)
    return A, b


def test_scores_match_cpu(data):
    A, _ = data
    Ag = cupy.asarray(A)
    np.testing.assert_allclose(cupy.asnumpy(leverage_scores(Ag)), leverage_scores(A),
                               rtol=1e-9, atol=1e-14)
    for p in (1.0, 3.0):
        gpu = lewis_weights(Ag, p, tol=1e-10)
        assert isinstance(gpu.weights, cupy.ndarray) and gpu.converged
        cpu = lewis_weights(A, p, tol=1e-10)
        np.testing.assert_allclose(cupy.asnumpy(gpu.weights), cpu.weights, rtol=1e-8)
    np.testing.assert_allclose(cupy.asnumpy(lp_sensitivities(Ag, 1.5)),
                               lp_sensitivities(A, 1.5), rtol=1e-6)


def test_sample_identical_to_cpu(data, seed):
    A, _ = data
    Ag = cupy.asarray(A)
    for replace in (False, True):
        for scheme in ("uniform", "leverage"):  # exact scores: the same rows on both engines
            kw = dict(scheme=scheme, replace=replace, random_state=seed)
            g = sensitivity_sample(Ag, 1.0, 300, **kw)
            c = sensitivity_sample(A, 1.0, 300, **kw)
            np.testing.assert_array_equal(cupy.asnumpy(g.indices), c.indices)
            np.testing.assert_allclose(cupy.asnumpy(g.weights), c.weights, rtol=1e-9)


def test_regression_matches_cpu(data, seed):
    A, b = data
    Ag, bg = cupy.asarray(A), cupy.asarray(b)
    for p in (1.0, 1.5):
        g = lp_regression(Ag, bg, p)
        c = lp_regression(A, b, p)
        assert isinstance(g.x, cupy.ndarray)
        assert g.objective == pytest.approx(c.objective, rel=1e-8)
    g = lp_regression(Ag, bg, 1.0, sample=600, random_state=seed)
    c = lp_regression(A, b, 1.0, sample=600, random_state=seed)
    assert g.objective == pytest.approx(c.objective, rel=1e-3)


def test_wcb_bounds_match_cpu(data, seed):
    # the l_p CountSketch hashes the same (seed, row) on both engines: same basis, same bounds
    A, _ = data
    for p in (1.0, 3.0):
        g = lp_sensitivities(cupy.asarray(A), p, method="wcb", random_state=seed)
        c = lp_sensitivities(A, p, method="wcb", random_state=seed)
        assert isinstance(g, cupy.ndarray)
        np.testing.assert_allclose(cupy.asnumpy(g), c, rtol=1e-5)  # iterative certificates
