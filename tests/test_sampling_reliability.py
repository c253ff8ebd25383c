"""Regression tests for issue 19's sampling items: extreme magnitudes give the scaled answer,
out-of-range p and mismatched samples get a named error."""

import numpy as np
import pytest

import nla


@pytest.mark.parametrize("c", [1e-300, 1e-155, 1e155, 1e300])
def test_leverage_scores_are_scale_invariant(rng, c):
    A = rng.standard_normal((200, 4))
    np.testing.assert_allclose(nla.leverage_scores(A * c), nla.leverage_scores(A),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("c", [1e-300, 1e-200, 1e200, 1e300])
@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_lp_regression_on_scaled_data(rng, seed, c, p):
    A = rng.standard_normal((300, 3))
    b = A @ rng.standard_normal(3) + rng.standard_cauchy(300)
    ref = nla.lp_regression(A, b, p, random_state=seed)
    got = nla.lp_regression(A * c, b * c, p, random_state=seed)   # same x, objective times c^p
    assert np.all(np.isfinite(got.x))
    np.testing.assert_allclose(got.x, ref.x, rtol=1e-8, atol=1e-10 * np.abs(ref.x).max())


def test_lp_regression_tiny_and_huge_rows():
    for value in (1e100, 5e-324):   # HiGHS model error / NaN with converged=True before
        res = nla.lp_regression([[value], [value]], np.zeros(2), 1.0)
        assert np.all(np.isfinite(res.x)) and np.allclose(res.x, 0.0)


@pytest.mark.parametrize("call", [
    lambda A: nla.lewis_weights(A, 1e300),
    lambda A: nla.lp_sensitivities(A, 101.0),
    lambda A: nla.sensitivity_sample(A, 0.5, 10, random_state=0),
])
def test_p_out_of_range_names_p(rng, call):
    with pytest.raises(ValueError, match="p"):
        call(rng.standard_normal((40, 3)))


def test_sample_must_belong_to_the_matrix(rng):
    small = nla.sensitivity_sample(rng.standard_normal((300, 3)), 1, 50, random_state=0)
    A = rng.standard_normal((600, 3))
    with pytest.raises(ValueError, match="sample"):
        nla.lp_regression(A, rng.standard_normal(600), 1, sample=small)
    with pytest.raises(ValueError, match="sample"):
        nla.embedding_distortion(A, small, 1)
    with pytest.raises((TypeError, ValueError), match="sample"):
        nla.embedding_distortion(A[:40], None, 1.0)


def test_all_zero_custom_scores_raise(rng):
    with pytest.raises(ValueError, match="scheme|scores"):
        nla.sensitivity_sample(rng.standard_normal((40, 3)), 1, 20, scheme=np.zeros(40))
