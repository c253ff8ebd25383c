"""Tests of nla.sampling: leverage scores, Lewis weights, sensitivities, sampling, regression."""

import numpy as np
import pytest
from scipy.optimize import linprog, minimize

from nla.sampling import (embedding_distortion, leverage_scores, lewis_weights, lp_regression,
                          lp_sensitivities, sensitivity_sample)
from nla._array import kernels
from nla.sampling._regression import solve_weighted
from nla.sampling._sample import inclusion_probabilities
from nla.sampling._wcb import _certified_betas, _sketched_basis, wcb_bounds

KC = kernels("sampling", "cpu")


# --- slow, obviously correct references ------------------------------------------------------

def ref_leverage(A):
    """``a_i^T (A^T A)^+ a_i`` via the pseudo-inverse (fine for small, well-scaled A)."""
    return np.einsum("ij,ji->i", A, np.linalg.pinv(A.T @ A) @ A.T)


def ref_lewis_residual(A, w, p):
    """``max_i |log(tau_i(W^(1/2-1/p) A) / w_i)|`` from the pseudo-inverse formula."""
    B = w[:, None] ** (0.5 - 1.0 / p) * A
    return np.max(np.abs(np.log(ref_leverage(B) / w)))


def ref_sensitivity(A, i, p):
    """``1 / min{||A x||_p^p : a_i x = 1}`` by SLSQP (p > 1) or the primal LP (p = 1)."""
    n, d = A.shape
    if p == 1:  # variables (x, t): min sum t, -t <= A x <= t, a_i x = 1
        c = np.concatenate([np.zeros(d), np.ones(n)])
        A_ub = np.block([[A, -np.eye(n)], [-A, -np.eye(n)]])
        A_eq = np.concatenate([A[i], np.zeros(n)])[None, :]
        res = linprog(c, A_ub=A_ub, b_ub=np.zeros(2 * n), A_eq=A_eq, b_eq=[1.0],
                      bounds=[(None, None)] * d + [(0, None)] * n, method="highs")
        return 1.0 / res.fun
    cons = {"type": "eq", "fun": lambda x: A[i] @ x - 1.0, "jac": lambda x: A[i]}
    res = minimize(lambda x: np.sum(np.abs(A @ x) ** p), A[i] / (A[i] @ A[i]),
                   constraints=[cons], method="SLSQP", options={"ftol": 1e-15, "maxiter": 2000})
    return 1.0 / res.fun


def heavy_rows(rng, n, d, sigma=1.5):
    """Gaussian rows with lognormal row scales: the note's matrix 'L' (non-uniform scores)."""
    return rng.standard_normal((n, d)) * np.exp(sigma * rng.standard_normal((n, 1)))


def one_nonzero_per_row(rng, n, d):
    cols = np.concatenate([np.arange(d), rng.integers(0, d, n - d)])
    A = np.zeros((n, d))
    A[np.arange(n), cols] = rng.standard_normal(n) * np.exp(rng.standard_normal(n))
    return A, cols


def closed_form_one_nonzero(A, cols, p):
    """For one nonzero per row: s_i = w_i = |c_i|^p / sum over the rows of that column."""
    mass = np.abs(A.sum(axis=1)) ** p
    return mass / np.bincount(cols, weights=mass)[cols]


# --- leverage scores -------------------------------------------------------------------------

def test_leverage_exact_matches_reference_and_sums_to_rank(rng):
    A = heavy_rows(rng, 300, 6)
    A[7] = 0.0
    tau, rank = leverage_scores(A, return_rank=True)
    assert rank == 6
    np.testing.assert_allclose(tau, ref_leverage(A), rtol=1e-9, atol=1e-13)
    assert tau[7] == 0.0 and abs(tau.sum() - 6) < 1e-10 and tau.max() <= 1 + 1e-12


def test_leverage_ill_conditioned_and_rank_deficient(rng):
    B = rng.standard_normal((400, 5))
    A = np.column_stack([B, B[:, :2] @ rng.standard_normal((2, 3))])  # rank 5 of 8 columns
    tau, rank = leverage_scores(A, return_rank=True)
    assert rank == 5
    np.testing.assert_allclose(tau, ref_leverage(B), rtol=1e-8, atol=1e-12)
    C = B * np.logspace(0, 9, 5)  # cond ~ 1e9 (Householder path), same column space as B
    np.testing.assert_allclose(leverage_scores(C), ref_leverage(B), rtol=1e-6, atol=1e-12)


def test_leverage_sketch_within_embedding_bounds(rng, seed):
    pytest.importorskip("nla.sketching")
    A = heavy_rows(rng, 6000, 8)
    exact = leverage_scores(A)
    for kind in ("sparse_sign", "gaussian"):
        est = leverage_scores(A, method="sketch", sketch=kind, sketch_size=40 * 8,
                              random_state=seed)
        ratio = est / exact
        # 40 d rows give a subspace embedding with eps well below 1/2 with high probability:
        # ratios inside [(1 + 1/2)^-2, (1 - 1/2)^-2]
        assert ratio.min() > 1 / 2.25 and ratio.max() < 4.0
    same = leverage_scores(A, method="sketch", random_state=seed)
    np.testing.assert_array_equal(same, leverage_scores(A, method="sketch", random_state=seed))


# --- Lewis weights ---------------------------------------------------------------------------

@pytest.mark.parametrize("p", [1.0, 1.5, 3.0, 6.0])
def test_lewis_fixed_point_and_sum(rng, p):
    A = heavy_rows(rng, 400, 5)
    res = lewis_weights(A, p, tol=1e-10)
    assert res.converged and res.n_iter == len(res.history)
    assert ref_lewis_residual(A, res.weights, p) <= 1e-8
    assert abs(res.weights.sum() - 5) <= 1e-8


@pytest.mark.parametrize("p", [1.0, 3.0])
def test_lewis_anderson_same_fixed_point(rng, p):
    from nla.sampling._sensitivity import _distance_bound

    A = heavy_rows(rng, 500, 5)
    tol = 1e-11
    fast = lewis_weights(A, p, tol=tol)
    plain = lewis_weights(A, p, tol=tol, anderson=0)
    assert fast.converged and plain.converged
    # each is within _distance_bound(p, tol) of the true weights in log scale (p < 4)
    np.testing.assert_allclose(fast.weights, plain.weights,
                               rtol=np.expm1(2 * _distance_bound(p, tol)) + 1e-13)
    with pytest.raises(ValueError, match="anderson"):
        lewis_weights(A, p, anderson=-1)


def test_lewis_special_cases(rng):
    A = heavy_rows(rng, 200, 4)
    np.testing.assert_allclose(lewis_weights(A, 2).weights, ref_leverage(A), rtol=1e-9)
    B, cols = one_nonzero_per_row(rng, 150, 4)
    for p in (1.0, 3.0):
        np.testing.assert_allclose(lewis_weights(B, p, tol=1e-12).weights,
                                   closed_form_one_nonzero(B, cols, p), rtol=1e-9)
    T = rng.standard_normal((4, 4))  # invariance under a change of basis
    np.testing.assert_allclose(lewis_weights(A @ T, 1.0, tol=1e-11).weights,
                               lewis_weights(A, 1.0, tol=1e-11).weights, rtol=1e-8)


def test_lewis_zero_rows_and_rank_deficiency(rng):
    A = heavy_rows(rng, 200, 4)
    A = np.column_stack([A, A[:, 0] - A[:, 1]])
    A[[3, 50]] = 0.0
    res = lewis_weights(A, 1.0, tol=1e-10)
    assert res.rank == 4 and res.weights[3] == 0 and res.weights[50] == 0
    assert abs(res.weights.sum() - 4) < 1e-8 and np.all(np.isfinite(res.weights))


def test_lewis_not_converged_reports(rng):
    A = heavy_rows(rng, 200, 4)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        res = lewis_weights(A, 6.0, max_iter=2, tol=1e-12)
    assert not res.converged and res.n_iter == 2


# --- sensitivities ---------------------------------------------------------------------------

@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_exact_sensitivities_match_oracle(rng, p):
    A = heavy_rows(rng, 30, 3, sigma=1.0)
    exact = lp_sensitivities(A, p, method="exact")
    rows = rng.choice(30, 4, replace=False)
    ref = np.array([ref_sensitivity(A, i, p) for i in rows])
    np.testing.assert_allclose(exact[rows], ref, rtol=1e-5)


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_bounds_dominate_exact_and_totals(rng, p):
    d = 4
    A = heavy_rows(rng, 80, d, sigma=1.0)
    exact = lp_sensitivities(A, p, method="exact")
    bound = lp_sensitivities(A, p)
    assert np.all(bound >= exact * (1 - 1e-7))
    total = exact.sum()
    if p <= 2:  # d^(p/2) <= S_p <= d (research note F6)
        assert d ** (p / 2) * (1 - 1e-7) <= total <= d * (1 + 1e-7)
        assert np.all(lp_sensitivities(A, p, method="root_leverage") >= exact * (1 - 1e-7))
    else:  # d <= S_p <= d^(p/2)
        assert d * (1 - 1e-7) <= total <= d ** (p / 2) * (1 + 1e-7)


def test_sensitivities_closed_forms(rng):
    B, cols = one_nonzero_per_row(rng, 40, 3)
    for p in (1.0, 1.5):
        np.testing.assert_allclose(lp_sensitivities(B, p, method="exact"),
                                   closed_form_one_nonzero(B, cols, p), rtol=1e-6)
    A = heavy_rows(rng, 50, 3)
    A[4] = 0.0
    for method in ("lewis", "root_leverage", "exact"):
        s = lp_sensitivities(A, 2, method=method)
        np.testing.assert_allclose(s, ref_leverage(A), rtol=1e-6, atol=1e-12)
        assert s[4] == 0.0


# --- sampling --------------------------------------------------------------------------------

def test_inclusion_probabilities_hit_m_and_cap(rng):
    s = np.exp(3 * rng.standard_normal(1000))
    s[:5] = 0
    for m in (10, 100, 900):
        q = inclusion_probabilities(s, m, np)
        assert abs(q.sum() - m) < 1e-8 and q.max() <= 1 and np.all(q[:5] == 0)
        capped = q == 1
        # uncapped rows are proportional to their scores, and never above a capped one
        ratio = q[~capped & (s > 0)] / s[~capped & (s > 0)]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
        if capped.any():
            assert s[capped].min() >= s[~capped].max()
    np.testing.assert_array_equal(inclusion_probabilities(s, 995, np), (s > 0) * 1.0)


@pytest.mark.parametrize("replace", [False, True])
def test_sample_unbiased_and_reproducible(rng, seed, replace):
    p = 1.0
    A = heavy_rows(rng, 500, 3)
    A[9] = 0.0
    x = rng.standard_normal(3)
    target = np.sum(np.abs(A @ x) ** p)
    scores = lewis_weights(A, p, tol=1e-3).weights  # computed once; the draws are what vary
    est = []
    for k in range(300):
        s = sensitivity_sample(A, p, 40, scheme=scores, replace=replace, random_state=seed + k)
        assert 9 not in s.indices and np.all(np.diff(s.indices) > 0)
        est.append(np.sum(s.weights * np.abs(A[s.indices] @ x) ** p))
    est = np.array(est)
    # unbiased: the mean over 300 draws is within 5 standard errors of ||Ax||_p^p
    assert abs(est.mean() - target) <= 5 * est.std() / np.sqrt(len(est)) + 1e-9 * target
    a = sensitivity_sample(A, p, 40, replace=replace, random_state=seed)
    b = sensitivity_sample(A, p, 40, replace=replace, random_state=seed)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_allclose(a.row_scale, a.weights ** (1 / p))
    np.testing.assert_allclose(a.apply(A), a.row_scale[:, None] * A[a.indices])


def test_sample_keeps_heavy_rows_with_unit_weight(rng, seed):
    A = rng.standard_normal((2000, 4))
    A[:3] *= 1e4
    for scheme in ("lewis", "sensitivity", "combined", "leverage", "root_leverage"):
        s = sensitivity_sample(A, 1.0, 50, scheme=scheme, random_state=seed)
        assert set(range(3)) <= set(s.indices.tolist())
        np.testing.assert_array_equal(s.weights[:3], 1.0)
    full = sensitivity_sample(A, 1.0, 2000, random_state=seed)
    np.testing.assert_array_equal(full.indices, np.arange(2000))
    np.testing.assert_array_equal(full.weights, 1.0)


def _median_distortion(A, p, m, scheme, seed, draws=3):
    return np.median([embedding_distortion(
        A, sensitivity_sample(A, p, m, scheme=scheme, random_state=seed + k), p,
        n_directions=100, refine=2, random_state=seed).distortion for k in range(draws)])


def test_distortion_falls_with_m_and_beats_uniform(rng, seed):
    A = heavy_rows(rng, 2000, 6)
    p = 1.5
    small = _median_distortion(A, p, 100, "lewis", seed)
    large = _median_distortion(A, p, 800, "lewis", seed)
    uniform = _median_distortion(A, p, 400, "uniform", seed)
    for scheme in ("lewis", "sensitivity", "root_leverage", "combined"):
        assert _median_distortion(A, p, 400, scheme, seed) < 0.5 * uniform
    assert large < small


def test_distortion_exact_for_p2(rng, seed):
    A = rng.standard_normal((500, 3))
    s = sensitivity_sample(A, 2.0, 100, random_state=seed)
    d = embedding_distortion(A, s, 2.0)
    Q = np.linalg.qr(A)[0]
    sv = np.linalg.svd(s.row_scale[:, None] * Q[s.indices], compute_uv=False)
    assert d.ratio_max == pytest.approx(sv[0]) and d.ratio_min == pytest.approx(sv[-1])


# --- regression ------------------------------------------------------------------------------

def _regression_data(rng, n, d):
    A = rng.standard_normal((n, d)) * np.exp(rng.standard_normal((n, 1)))
    b = A @ rng.standard_normal(d) + 0.5 * rng.standard_cauchy(n)
    out = rng.choice(n, n // 100, replace=False)
    b[out] += 100 * rng.standard_normal(out.size)
    return A, b


def test_l1_regression_matches_primal_lp(rng):
    A, b = _regression_data(rng, 300, 4)
    fit = lp_regression(A, b, 1)
    n, d = A.shape
    c = np.concatenate([np.zeros(d), np.ones(n)])
    A_ub = np.block([[A, -np.eye(n)], [-A, -np.eye(n)]])
    ref = linprog(c, A_ub=A_ub, b_ub=np.concatenate([b, -b]),
                  bounds=[(None, None)] * d + [(0, None)] * n, method="highs")
    assert fit.objective == pytest.approx(ref.fun, rel=1e-9)
    irls = lp_regression(A, b, 1, solver="irls", tol=1e-12, max_iter=500)
    assert ref.fun <= irls.objective <= ref.fun * (1 + 1e-4)


@pytest.mark.parametrize("p", [1.5, 3.0])
def test_irls_matches_generic_optimizer(rng, p):
    A, b = _regression_data(rng, 400, 3)
    b /= np.abs(b).max()
    fit = lp_regression(A, b, p, tol=1e-12)
    # monotone up to the rounding-level ties IRLS accepts (f_new <= f (1 + 4 eps))
    h = np.asarray(fit.history)
    assert fit.converged and np.all(np.diff(h) <= 4 * np.finfo(float).eps * h[:-1])
    f = lambda x: np.sum(np.abs(A @ x - b) ** p)  # noqa: E731
    ref = minimize(f, np.zeros(3), method="Nelder-Mead",
                   options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 5000})
    # IRLS stops once a step gains < 1e-12 of the norm; with a linear rate the remaining gap is
    # a small multiple of that, and the p-th power multiplies it by p: 1e-8 leaves ample room
    assert fit.objective ** p <= ref.fun * (1 + 1e-8)


def test_l1_regression_on_sample_close_to_full(rng, seed):
    A, b = _regression_data(rng, 20000, 5)
    full = lp_regression(A, b, 1)
    sub = lp_regression(A, b, 1, sample=300 * 5, random_state=seed)
    assert full.objective <= sub.objective <= 1.1 * full.objective
    assert sub.sample.expected_size == 1500
    again = lp_regression(A, b, 1, sample=sub.sample)
    np.testing.assert_allclose(again.x, sub.x)


# --- bad input, frameworks -------------------------------------------------------------------

def test_bad_input(rng):
    A = rng.standard_normal((50, 3))
    b = rng.standard_normal(50)
    for p in (0.5, np.nan, np.inf):
        with pytest.raises(ValueError, match="p must be"):
            lewis_weights(A, p)
    with pytest.raises(TypeError, match="p must be"):
        lp_sensitivities(A, "1")
    with pytest.raises(ValueError, match="m must be"):
        sensitivity_sample(A, 1, 51)
    with pytest.raises(ValueError, match="m must be"):
        sensitivity_sample(A, 1, 2)
    with pytest.raises(ValueError, match="scheme"):
        sensitivity_sample(A, 1, 10, scheme="nope")
    with pytest.raises(ValueError, match="root_leverage"):
        sensitivity_sample(A, 3, 10, scheme="root_leverage")
    with pytest.raises(ValueError, match="scheme scores"):
        sensitivity_sample(A, 1, 10, scheme=-np.ones(50))
    bad = A.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="A contains NaN"):
        leverage_scores(bad)
    with pytest.raises(ValueError, match="b must have"):
        lp_regression(A, b[:-1], 1)
    with pytest.raises(ValueError, match="highs"):
        lp_regression(A, b, 2, solver="highs")
    with pytest.raises(ValueError, match="sample must be"):
        lp_regression(A, b, 1, sample=3)
    with pytest.raises(ValueError, match="method"):
        leverage_scores(A, method="svd")
    with pytest.raises(ValueError, match="limited to"):
        lp_sensitivities(np.ones((5001, 2)), 1, method="exact")


def test_inputs_not_modified_and_zero_matrix(rng, seed):
    A = heavy_rows(rng, 300, 4)
    b = rng.standard_normal(300)
    A0, b0 = A.copy(), b.copy()
    lewis_weights(A, 1)
    lp_sensitivities(A, 3)
    sensitivity_sample(A, 1, 30, random_state=seed)
    lp_regression(A, b, 1.5, sample=100, random_state=seed)
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(b, b0)
    Z = np.zeros((20, 3))
    assert leverage_scores(Z).sum() == 0 and lewis_weights(Z, 1).weights.sum() == 0
    assert sensitivity_sample(Z, 1, 5, random_state=seed).indices.size == 0


def test_float32_and_torch_round_trip(rng, seed):
    torch = pytest.importorskip("torch")
    A = heavy_rows(rng, 200, 3)
    b = rng.standard_normal(200)
    tau = leverage_scores(torch.from_numpy(A.astype(np.float32)))
    assert isinstance(tau, torch.Tensor)
    np.testing.assert_allclose(tau.numpy(), ref_leverage(A), rtol=1e-4, atol=1e-6)
    fit = lp_regression(torch.from_numpy(A), torch.from_numpy(b), 1.0)
    assert isinstance(fit.x, torch.Tensor)
    s = sensitivity_sample(torch.from_numpy(A), 1.0, 20, random_state=seed)
    assert isinstance(s.indices, torch.Tensor)


# --- GPU twin: the CuPy module's array code run on NumPy -------------------------------------

def test_gpu_twin_kernels_match_numba(gpu_twin, rng):
    from nla.sampling import _kernels as K

    G = gpu_twin("sampling")
    A = rng.standard_normal((300, 5))
    g = rng.random(300)
    T = np.tril(rng.standard_normal((5, 5)))
    np.testing.assert_allclose(G.gram(A, g), K.gram(A, g), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(G.row_sq_norms(A), K.row_sq_norms(A), rtol=1e-12)
    np.testing.assert_allclose(G.row_quadratic_forms(A, T), K.row_quadratic_forms(A, T),
                               rtol=1e-12)
    # atol: entries can cancel to near zero, where the summation orders differ in ~1e-17
    np.testing.assert_allclose(G.times_upper(A, T.T), K.times_upper(A, T.T), rtol=1e-12,
                               atol=1e-14)
    key = 12345678901234567
    q = rng.random(300)
    np.testing.assert_array_equal(G.bernoulli_mask(key, q), K.bernoulli_mask(key, q))
    for row0 in (1, 117):   # a row block draws the whole vector's uniforms
        for M in (G, K):
            np.testing.assert_array_equal(M.bernoulli_mask(key, q[row0:], row0),
                                          K.bernoulli_mask(key, q)[row0:])
    cdf = np.cumsum(q)
    np.testing.assert_array_equal(G.iid_indices(key, cdf, 50, 299),
                                  K.iid_indices(key, cdf, 50, 299))
    r = rng.standard_normal(300)
    for p in (1.0, 1.5, 3.0):
        np.testing.assert_allclose(G.irls_weights(r, p, g, 1e-8), K.irls_weights(r, p, g, 1e-8),
                                   rtol=1e-12)
        assert G.lp_norm(r, p, g) == pytest.approx(K.lp_norm(r, p, g), rel=1e-12)


def test_regression_rank_deficient(rng):
    A, b = _regression_data(rng, 500, 3)
    Ad = np.column_stack([A, A[:, 0] + A[:, 1]])  # same column space, rank 3 of 4 columns
    for p in (1.0, 1.5):
        full, dup = lp_regression(A, b, p), lp_regression(Ad, b, p)
        assert dup.objective == pytest.approx(full.objective, rel=1e-7)
        assert np.all(np.isfinite(dup.x))


def test_lewis_callback_and_history(rng):
    A = heavy_rows(rng, 300, 4)
    seen = []
    res = lewis_weights(A, 3.0, callback=lambda it, w, r: seen.append((it, w.sum(), r)))
    assert [s[0] for s in seen] == list(range(res.n_iter))
    assert [s[2] for s in seen] == res.history and res.history[-1] == res.residual


# --- method='wcb': a sketched well-conditioned basis with certified constants -------------

#: The oracles (LP / SLSQP / IRLS) solve to ~1e-9 relative; a bound may touch the exact value.
_ORACLE_SLACK = 1e-7


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_wcb_dominates_exact_sensitivities(rng, seed, p):
    d = 4
    A = heavy_rows(rng, 80, d, sigma=1.0)
    A[5] = 0.0
    exact = lp_sensitivities(A, p, method="exact")
    bound = lp_sensitivities(A, p, method="wcb", random_state=seed)
    assert bound[5] == 0.0 and np.all(bound <= 1.0)
    assert np.all(bound >= exact * (1 - _ORACLE_SLACK))
    rows = rng.choice(np.flatnonzero(exact), 3, replace=False)  # and against the SciPy oracle
    ref = np.array([ref_sensitivity(A, i, p) for i in rows])
    assert np.all(bound[rows] >= ref * (1 - 1e-5))


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_wcb_total_within_documented_bound(rng, seed, p):
    d = 5
    A = heavy_rows(rng, 300, d)
    s, info = wcb_bounds(A, p, KC, np, seed)
    beta = info["beta"]
    assert info["rank"] == d and info["alpha_p"] == d
    # beta_j >= |z_j| / ||U z||_p at z = e_j, which is 1 for unit l_p columns
    assert np.all(beta >= 1 - 1e-12)
    # Hoelder then the power mean: sum_i (sum_j |U_ij| beta_j)^p <= d^(p-1) sum_j beta_j^p
    assert s.sum() <= info["total_bound"] * (1 + 1e-12)
    assert info["total_bound"] <= d ** p * beta.max() ** p * (1 + 1e-12)
    # and the bound is at least the true total, which is >= d^(p/2) resp. d (note F6)
    assert s.sum() >= min(d ** (p / 2), d) * (1 - 1e-9)


@pytest.mark.parametrize("p", [1.0, 1.5, 3.0])
def test_wcb_certificates_bound_the_exact_coordinate_constants(rng, seed, p):
    """beta_j >= 1 / min{||U z||_p : z_j = 1}, the latter solved on all rows."""
    n = 120
    A = heavy_rows(rng, n, 4, sigma=1.0)
    U, r = _sketched_basis(A, p, KC, np, seed, None)
    U = U / KC.col_lp_norms(U, p)
    beta = _certified_betas(U, p, KC, np, seed)
    for j in range(r):
        o = np.arange(r) != j
        fit = solve_weighted(U[:, o], -U[:, j], p, np.ones(n), "highs" if p == 1 else "irls", KC,
                             np, tol=1e-14, max_iter=1000)
        exact = 1.0 / KC.lp_norm(U[:, o] @ fit.x + U[:, j], p, np.ones(n))
        assert beta[j] >= exact * (1 - _ORACLE_SLACK)


def test_wcb_special_cases(rng, seed):
    A = heavy_rows(rng, 60, 3)
    np.testing.assert_allclose(lp_sensitivities(A, 2, method="wcb"), ref_leverage(A), rtol=1e-8)
    B, cols = one_nonzero_per_row(rng, 50, 3)  # s_i = w_i known in closed form; bounds >= it
    mass = np.abs(B.sum(axis=1))
    exact = mass / np.bincount(cols, weights=mass)[cols]
    assert np.all(lp_sensitivities(B, 1.0, method="wcb", random_state=seed) >= exact * (1 - 1e-9))
    C = np.column_stack([A, A[:, 0] + A[:, 1]])  # rank 3 of 4 columns
    s = lp_sensitivities(C, 1.5, method="wcb", random_state=seed)
    assert np.all(s >= lp_sensitivities(A, 1.5, method="exact") * (1 - _ORACLE_SLACK))
    s1 = lp_sensitivities(A, 3.0, method="wcb", random_state=seed)
    A0 = A.copy()
    np.testing.assert_array_equal(s1, lp_sensitivities(A, 3.0, method="wcb", random_state=seed))
    np.testing.assert_array_equal(A, A0)
    assert lp_sensitivities(np.zeros((10, 2)), 1.0, method="wcb").sum() == 0
    with pytest.raises(ValueError, match="method"):
        lp_sensitivities(A, 1.0, method="wcb_bound")


def test_wcb_gpu_twin_kernels_match_numba(gpu_twin, rng):
    G = gpu_twin("sampling")
    U = rng.standard_normal((500, 4)) * np.exp(rng.standard_normal((500, 1)))
    key = 987654321987654321
    for p in (1.0, 3.0):
        np.testing.assert_allclose(G.lp_countsketch(U, key, 40, p),
                                   KC.lp_countsketch(U, key, 40, p), rtol=1e-10,
                                   atol=1e-12 * np.abs(U).max())
        np.testing.assert_allclose(G.col_lp_norms(U, p), KC.col_lp_norms(U, p), rtol=1e-12)
        np.testing.assert_allclose(KC.col_lp_norms(U, p), np.linalg.norm(U, ord=p, axis=0),
                                   rtol=1e-12)
        c = rng.random(4)
        ref = np.minimum(1.0, (np.abs(U) @ c)) ** p
        np.testing.assert_allclose(G.row_weighted_l1_pow(U, c, p), ref, rtol=1e-12)
        np.testing.assert_allclose(KC.row_weighted_l1_pow(U, c, p), ref, rtol=1e-12)
    # the whole driver on the twin kernels: same sketch hash, same basis, same bounds (the
    # certificates come from iterative l_p solves stopped at a tolerance, so summation order
    # moves them by up to 2e-7: 120 draws)
    A = heavy_rows(rng, 400, 4)
    for p in (1.0, 3.0):
        np.testing.assert_allclose(wcb_bounds(A, p, G, np, 11)[0], wcb_bounds(A, p, KC, np, 11)[0],
                                   rtol=1e-5)
