"""Tests of nla.completion: AltMinCompleter and its per-row kernels."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from nla import ConvergenceWarning
from nla.completion import AltMinCompleter
from nla.completion import _altmin, _kernels


# ----------------------------------------------------------------------------- helpers
def low_rank_problem(rng, m, n, k, p, kappa):
    """Random incoherent rank-k matrix (singular values geomspace(1, 1/kappa) * sqrt(mn/k),
    entries O(1)) and a Bernoulli(p)-sized uniform sample of its entries, never formed densely."""
    U, _ = np.linalg.qr(rng.standard_normal((m, k)))
    V, _ = np.linalg.qr(rng.standard_normal((n, k)))
    s = np.geomspace(1, 1 / kappa, k) * np.sqrt(m * n / k)
    lin = rng.choice(m * n, int(round(p * m * n)), replace=False)
    rows, cols = lin // n, lin % n
    vals = np.einsum("ij,ij->i", U[rows] * s, V[cols])
    return (U, s, V), (rows, cols, vals)


def rel_error(truth, U_hat, V_hat):
    """||U S V^T - U_hat V_hat^T||_F / ||S||_F via two small QRs (no cancellation floor)."""
    U, s, V = truth
    _, Ra = np.linalg.qr(np.hstack([U * s, -U_hat]))
    _, Rb = np.linalg.qr(np.hstack([V, V_hat]))
    return np.linalg.norm(Ra @ Rb.T) / np.linalg.norm(s)


def fit_tracking(truth, obs, shape, **params):
    errors = []
    est = AltMinCompleter(callback=lambda info: errors.append(rel_error(truth, info.U, info.V)),
                          **params)
    est.fit(obs, shape=shape)
    return est, np.array(errors)


def reference_rows(indptr, indices, data, F, reg=0.0):
    """Slow, obviously correct per-row solutions: lstsq (min-norm) on the stacked ridge system."""
    k = F.shape[1]
    out = np.zeros((indptr.shape[0] - 1, k))
    for i in range(indptr.shape[0] - 1):
        cols = indices[indptr[i]:indptr[i + 1]]
        if cols.size == 0:
            continue
        A, y = F[cols], data[indptr[i]:indptr[i + 1]]
        if reg > 0:
            A = np.vstack([A, np.sqrt(reg * cols.size) * np.eye(k)])
            y = np.concatenate([y, np.zeros(k)])
        out[i] = np.linalg.lstsq(A, y, rcond=None)[0]
    return out


def random_csr(rng, m, n, density, few_rows=(), empty_rows=(), k=1):
    M = sp.random(m, n, density=density, random_state=rng, format="lil")
    for i in empty_rows:
        M[i, :] = 0
    for i in few_rows:  # 1 .. k-1 observations
        M[i, :] = 0
        cols = rng.choice(n, int(rng.integers(1, k)), replace=False)
        M[i, cols] = 1.0
    M = M.tocsr()
    M.eliminate_zeros()
    M.data = rng.standard_normal(M.nnz)
    return M.indptr.astype(np.int64), M.indices.astype(np.int64), M.data


# ------------------------------------------------------------------ kernel references
@pytest.mark.parametrize("solver", ["cholesky", "cg", "sketch"])
@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_row_solves_match_lstsq(rng, solver, reg):
    k = 7
    indptr, indices, data = random_csr(rng, 120, 400, 0.1, few_rows=(3, 50), empty_rows=(9,),
                                       k=k)
    F = np.linalg.qr(rng.standard_normal((400, k)))[0] * rng.uniform(0.5, 2, k)
    F = np.ascontiguousarray(F)
    X = rng.standard_normal((120, k))  # warm start
    X_in = X.copy()
    out, iters, status = _kernels.solve_rows(indptr, indices, data, F, X, solver, eta=1e-12,
                                             floor=1e-15, reg=reg, key=11, sketch_size=12)
    ref = reference_rows(indptr, indices, data, F, reg)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-9 * np.abs(ref).max())
    assert status[9] == 1 and np.all(out[9] == 0)                  # empty row: zero
    if reg == 0:
        assert status[3] == status[50] == 2                        # underdetermined: min-norm
    assert not np.array_equal(X_in, X) and out is X                # solved in place
    if solver == "cholesky":
        assert np.all(iters == 0)
    else:
        assert iters.max() > 0


def test_cg_forcing_controls_residual(rng):
    # The forcing test is relative to the warm start's residual: a loose eta leaves a larger
    # error than a tight one, and both stay below eta times the starting error (CG on an
    # SPD system reduces the energy norm monotonically).
    k = 12
    indptr, indices, data = random_csr(rng, 60, 500, 0.2)
    F = np.ascontiguousarray(np.linalg.qr(rng.standard_normal((500, k)))[0]
                             * np.geomspace(1, 1e-2, k))
    ref = reference_rows(indptr, indices, data, F)
    errs = []
    for eta in (1e-1, 1e-6):
        X, _, _ = _kernels.solve_rows(indptr, indices, data, F, np.zeros((60, k)), "cg",
                                      eta=eta, max_iter=500)
        errs.append(np.linalg.norm(X - ref))
    assert errs[1] < 1e-3 * errs[0]


def test_observed_sse_and_predict_match_dense(rng):
    U, V = rng.standard_normal((30, 4)), rng.standard_normal((25, 4))
    indptr, indices, data = random_csr(rng, 30, 25, 0.3)
    M = sp.csr_matrix((data, indices, indptr), shape=(30, 25))
    coo = M.tocoo()
    dense = U @ V.T
    assert np.isclose(_kernels.observed_sse(indptr, indices, data, U, V),
                      np.sum((dense[coo.row, coo.col] - coo.data) ** 2))
    np.testing.assert_allclose(_kernels.predict(coo.row.astype(np.int64),
                                                coo.col.astype(np.int64), U, V),
                               dense[coo.row, coo.col])


# ------------------------------------------------------------ the paper's properties
@pytest.mark.parametrize("solver", ["cg", "cholesky", "sketch"])
def test_exact_recovery_400x300(rng, seed, solver):
    # 1e-8 within 15 iterations holds on 399 of 400 instances (cholesky; the worst 2.6e-8):
    # now and then the weakest of the five components takes a few more sweeps to separate
    # before the linear phase (rate about 0.21 per sweep). Two more sweeps cover that.
    truth, obs = low_rank_problem(rng, 400, 300, 5, 0.3, 10)
    est, errors = fit_tracking(truth, obs, (400, 300), rank=5, solver=solver, max_iter=17,
                               tol=0, random_state=seed)
    assert est.n_iter_ == 17 and len(errors) == 17
    assert rel_error(truth, est.U_, est.V_) < 1e-8
    # geometric decay from the third iteration on (rate well below 1)
    assert np.all(errors[3:] < 0.9 * errors[2:-1])


def test_geometric_rate_2000(rng, seed):
    truth, obs = low_rank_problem(rng, 2000, 2000, 10, 0.05, 1)
    est, errors = fit_tracking(truth, obs, (2000, 2000), rank=10, max_iter=25, tol=1e-13,
                               random_state=seed)
    t = np.arange(1, errors.size + 1)
    use = (t >= 3) & (errors > 1e-11)           # the linear phase, above the roundoff floor
    assert use.sum() >= 5
    rate = np.exp(np.polyfit(t[use], np.log(errors[use]), 1)[0])
    assert rate < 0.6, rate
    assert errors.min() < 1e-9


def test_clipping_rescues_coherent_init(rng, seed):
    # Ill-conditioned data (kappa = 1000): the SVD init of P_Omega(M)/p is coherent. Exact
    # AltMin from the clipped init recovers M; from the unclipped one it usually stalls far
    # from the truth. Both are random events; measured on 2000 x 2000, rank 10, 6 % observed,
    # 30 iterations: clipped runs below 1e-11 in 54 of 55 problems, unclipped runs stalled
    # above 1e-3 in 48 of 54. Asserted on four problems: clipping rescues at least one of
    # them (clipped < 1e-8 where unclipped > 1e-3), which no-op clipping can never pass, and
    # the clipped runs mostly succeed (spurious failure chance ~ 0.1 %).
    rescued, recovered = 0, 0
    finals = []
    for _ in range(4):
        truth, obs = low_rank_problem(rng, 2000, 2000, 10, 0.06, 1000)
        err = {}
        for clip in ("auto", None):
            est = AltMinCompleter(10, solver="cholesky", clip=clip, max_iter=30, tol=0,
                                  random_state=seed).fit(obs, shape=(2000, 2000))
            err[clip] = rel_error(truth, est.U_, est.V_)
        finals.append(err)
        recovered += err["auto"] < 1e-8
        rescued += err["auto"] < 1e-8 and err[None] > 1e-3
    assert rescued >= 1, finals
    assert recovered >= 3, finals


def test_clip_threshold_parameter(rng, seed):
    # A huge incoherence bound clips nothing (same fit as clip=None); a tiny one clips rows.
    _, obs = low_rank_problem(rng, 120, 100, 3, 0.3, 5)
    fits = [AltMinCompleter(3, clip=clip, max_iter=3, tol=0, random_state=seed)
            .fit(obs, shape=(120, 100)).to_dense() for clip in (None, 1e6, 0.5)]
    np.testing.assert_array_equal(fits[0], fits[1])
    assert not np.allclose(fits[0], fits[2])
    with pytest.raises(ValueError, match="clip"):
        AltMinCompleter(3, clip=-1.0).fit(obs, shape=(120, 100))


def test_empty_rows_get_zero_factors_and_warning(rng, seed):
    truth, (rows, cols, vals) = low_rank_problem(rng, 80, 60, 3, 0.5, 2)
    keep = ~np.isin(rows, [4, 17]) & (cols != 33)
    with pytest.warns(UserWarning, match="2 rows and 1 columns of X have no observation"):
        est = AltMinCompleter(3, max_iter=30, random_state=seed).fit(
            (rows[keep], cols[keep], vals[keep]), shape=(80, 60))
    assert est.n_empty_rows_ == 2 and est.n_empty_cols_ == 1
    assert np.all(est.U_[[4, 17]] == 0) and np.all(est.V_[33] == 0)
    assert np.all(np.isfinite(est.U_)) and np.all(np.isfinite(est.V_))
    # every other entry is recovered
    others = np.setdiff1d(np.arange(80), [4, 17])
    U, s, V = truth
    dense = est.to_dense()
    np.testing.assert_allclose(dense[np.ix_(others, np.arange(60) != 33)],
                               ((U * s) @ V.T)[np.ix_(others, np.arange(60) != 33)], atol=1e-6)


@pytest.mark.parametrize("solver", ["cg", "cholesky", "sketch"])
def test_underdetermined_rows_are_min_norm(rng, seed, solver):
    k = 4
    truth, (rows, cols, vals) = low_rank_problem(rng, 100, 80, k, 0.5, 2)
    few = [5, 60]
    keep = ~np.isin(rows, few)
    for i in few:  # 1..k-1 observations
        keep[np.flatnonzero(rows == i)[: int(rng.integers(1, k))]] = True
    with pytest.warns(UserWarning, match="fewer than rank=4 observations"):
        est = AltMinCompleter(k, solver=solver, max_iter=20, random_state=seed).fit(
            (rows[keep], cols[keep], vals[keep]), shape=(100, 80))
    dense = est.to_dense()
    assert np.all(np.isfinite(dense))
    basis = np.linalg.qr(est.V_)[0]            # any orthonormal basis of span(V_)
    for i in few:
        sel = keep & (rows == i)
        coef = np.linalg.lstsq(basis[cols[sel]], vals[sel], rcond=None)[0]
        np.testing.assert_allclose(dense[i], basis @ coef, atol=1e-8)


# ------------------------------------------------------------------ formats and API
def test_input_formats_agree_and_are_not_modified(rng, seed):
    truth, (rows, cols, vals) = low_rank_problem(rng, 50, 40, 2, 0.5, 3)
    vals[0] = 0.0  # an observed zero: kept as an explicit entry of the sparse input
    dense = np.full((50, 40), np.nan)
    dense[rows, cols] = vals
    sparse = sp.coo_matrix((vals, (rows, cols)), shape=(50, 40)).tocsr()
    assert sparse.nnz == vals.size
    copies = [a.copy() for a in (rows, cols, vals, dense, sparse.data, sparse.indices)]
    results = []
    for X in ((rows, cols, vals), dense, sparse):
        est = AltMinCompleter(2, max_iter=30, random_state=seed).fit(
            X, shape=(50, 40) if isinstance(X, tuple) else None)
        results.append(est.to_dense())
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], atol=1e-10)
    for a, b in zip(copies, (rows, cols, vals, dense, sparse.data, sparse.indices)):
        np.testing.assert_array_equal(a, b)


def test_torch_in_torch_out(rng, seed):
    torch = pytest.importorskip("torch")
    truth, (rows, cols, vals) = low_rank_problem(rng, 40, 30, 2, 0.6, 2)
    dense = np.full((40, 30), np.nan)
    dense[rows, cols] = vals
    est = AltMinCompleter(2, max_iter=30, random_state=seed).fit(torch.from_numpy(dense))
    assert isinstance(est.U_, torch.Tensor) and isinstance(est.to_dense(), torch.Tensor)
    pred = est.predict(torch.from_numpy(rows), torch.from_numpy(cols))
    assert isinstance(pred, torch.Tensor)
    np.testing.assert_allclose(pred.numpy(), vals, atol=1e-8)


def test_predict_matches_to_dense_and_score(rng, seed):
    _, (rows, cols, vals) = low_rank_problem(rng, 30, 20, 2, 0.6, 2)
    est = AltMinCompleter(2, max_iter=30, random_state=seed).fit((rows, cols, vals),
                                                                 shape=(30, 20))
    r, c = rng.integers(0, 30, 50), rng.integers(0, 20, 50)
    np.testing.assert_allclose(est.predict(r, c), est.to_dense()[r, c])
    # The definition, not convergence: on about 2 % of these tiny instances AltMin is still
    # far from the truth after 30 sweeps (convergence is tested on larger problems above).
    rms = np.sqrt(np.mean((est.to_dense()[rows, cols] - vals) ** 2))
    np.testing.assert_allclose(est.score((rows, cols, vals)), -rms, rtol=1e-12, atol=1e-15)
    U, s, Vt = np.linalg.svd(est.to_dense())
    np.testing.assert_allclose(est.singular_values_, s[:2])


def test_float32_stays_float32(rng, seed):
    _, (rows, cols, vals) = low_rank_problem(rng, 60, 50, 3, 0.5, 2)
    est = AltMinCompleter(3, max_iter=20, tol=1e-5, random_state=seed).fit(
        (rows, cols, vals.astype(np.float32)), shape=(60, 50))
    assert est.U_.dtype == est.V_.dtype == np.float32
    assert abs(est.score((rows, cols, vals))) < 1e-3 * np.sqrt(np.mean(vals ** 2))


def test_history_callback_and_stop(rng, seed):
    _, (rows, cols, vals) = low_rank_problem(rng, 60, 50, 3, 0.5, 2)
    seen = []

    def stop_at_three(info):
        seen.append(info.iteration)
        return info.iteration == 3

    est = AltMinCompleter(3, max_iter=50, random_state=seed, callback=stop_at_three,
                          verbose=True).fit((rows, cols, vals), shape=(60, 50))
    assert seen == [1, 2, 3] and est.n_iter_ == 3 and not est.converged_
    assert set(est.history_) == {"train_rmse", "rel_change", "cg_iters_mean", "seconds"}
    assert all(len(v) == 3 for v in est.history_.values())
    assert est.history_["train_rmse"][2] < est.history_["train_rmse"][0]
    full = AltMinCompleter(3, max_iter=100, tol=1e-9, random_state=seed).fit(
        (rows, cols, vals), shape=(60, 50))
    assert full.converged_ and full.history_["rel_change"][-1] < 1e-9


def test_stalled_fit_warns(seed):
    # A 30 x 20 rank-2 instance, 60 % observed, on which AltMin drifts off (its estimate's
    # norm grows without bound while the training RMSE creeps down to 0.26): the fit must say
    # so. A fixed number of sweeps (tol=0) and a callback stop do not warn.
    _, (rows, cols, vals) = low_rank_problem(np.random.default_rng(218), 30, 20, 2, 0.6, 2)
    with pytest.warns(ConvergenceWarning, match="max_iter=30 before"):
        est = AltMinCompleter(2, max_iter=30, random_state=seed).fit((rows, cols, vals),
                                                                     shape=(30, 20))
    assert not est.converged_ and est.score((rows, cols, vals)) < -0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AltMinCompleter(2, max_iter=5, tol=0).fit((rows, cols, vals), shape=(30, 20))
        AltMinCompleter(2, max_iter=5, callback=lambda info: info.iteration == 5).fit(
            (rows, cols, vals), shape=(30, 20))


def test_same_seed_same_result(rng, seed):
    _, obs = low_rank_problem(rng, 60, 50, 3, 0.4, 5)
    a = AltMinCompleter(3, max_iter=3, tol=0, random_state=seed).fit(obs, shape=(60, 50))
    b = AltMinCompleter(3, max_iter=3, tol=0, random_state=seed).fit(obs, shape=(60, 50))
    np.testing.assert_array_equal(a.U_, b.U_)


def test_sample_splitting_uses_disjoint_parts(rng, seed):
    truth, (rows, cols, vals) = low_rank_problem(rng, 300, 300, 2, 0.9, 1)
    est = AltMinCompleter(2, max_iter=3, sample_splitting=True, random_state=seed, tol=0)
    obs = _altmin.Observations(rows, cols, vals, (300, 300), np)
    parts = est._split(obs, seed, 3)
    assert len(parts) == 7 and sum(p.nnz for p in parts) == obs.nnz
    keys = np.concatenate([p.rows * 300 + p.cols for p in parts])
    assert np.unique(keys).size == keys.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit((rows, cols, vals), shape=(300, 300))
    assert rel_error(truth, est.U_, est.V_) < 0.5


def test_sklearn_conventions():
    est = AltMinCompleter(3, solver="cholesky")
    assert est.get_params()["solver"] == "cholesky"
    assert "solver='cholesky'" in repr(est)
    sklearn = pytest.importorskip("sklearn")
    clone = sklearn.base.clone(est)
    assert clone.get_params() == est.get_params()
    with pytest.raises(ValueError, match="not fitted"):
        est.predict([0], [0])


# ---------------------------------------------------------------------- bad input
def test_duplicates_raise_or_average(rng):
    rows = np.array([0, 1, 2, 1, 3, 4, 5, 6])
    cols = np.array([0, 1, 2, 1, 3, 0, 1, 2])
    vals = rng.standard_normal(8)
    with pytest.raises(ValueError, match=r"1 duplicate \(row, col\) pairs, e.g. \(1, 1\)"):
        AltMinCompleter(1).fit((rows, cols, vals), shape=(7, 4))
    from nla.completion._observed import parse_observed

    r, c, v, _, _ = parse_observed((rows, cols, vals), (7, 4), duplicates="mean")
    assert r.size == 7
    assert np.isclose(v[(r == 1) & (c == 1)][0], (vals[1] + vals[3]) / 2)


@pytest.mark.parametrize("bad, match, exc", [
    (dict(rows=np.array([0, 7])), r"rows out of range", ValueError),
    (dict(cols=np.array([-1, 0])), r"cols out of range", ValueError),
    (dict(vals=np.array([1.0, np.nan])), r"vals .* 1 NaN or infinite", ValueError),
    (dict(vals=np.array([1.0, np.inf])), r"vals .* 1 NaN or infinite", ValueError),
    (dict(rows=np.array([0.0, 1.0])), r"rows must be integer", TypeError),
    (dict(vals=np.array(["a", "b"])), r"vals must hold real numbers", TypeError),
    (dict(shape=None), r"shape is required", ValueError),
    (dict(shape=(3, 0)), r"shape\[1\]", ValueError),
    (dict(vals=np.array([1.0])), r"one length", ValueError),
])
def test_bad_observations(bad, match, exc):
    args = dict(rows=np.array([0, 1]), cols=np.array([0, 1]), vals=np.array([1.0, 2.0]),
                shape=(5, 5))
    args.update(bad)
    with pytest.raises(exc, match=match):
        AltMinCompleter(1).fit((args["rows"], args["cols"], args["vals"]), shape=args["shape"])


def test_bad_parameters_and_warnings(rng):
    _, obs = low_rank_problem(rng, 20, 10, 2, 0.9, 1)
    with pytest.raises(ValueError, match=r"rank must be < min\(m, n\) = 10"):
        AltMinCompleter(10).fit(obs, shape=(20, 10))
    with pytest.raises(ValueError, match="rank must be in"):
        AltMinCompleter(0).fit(obs, shape=(20, 10))
    with pytest.raises(ValueError, match="solver must be one of"):
        AltMinCompleter(2, solver="lu").fit(obs, shape=(20, 10))
    with pytest.raises(ValueError, match="cg_forcing"):
        AltMinCompleter(2, cg_forcing=2.0).fit(obs, shape=(20, 10))
    with pytest.raises(ValueError, match="duplicates must be one of"):
        AltMinCompleter(2, duplicates="sum").fit(obs, shape=(20, 10))
    with pytest.raises(ValueError, match="no observed entries"):
        AltMinCompleter(1).fit(np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="X must be 2-D"):
        AltMinCompleter(1).fit(np.ones(4))
    rows, cols, vals = obs
    few = slice(0, 50)  # 50 < 2 * (20 + 10 - 2) = 56 degrees of freedom
    with pytest.warns(UserWarning, match="fewer than the 56 degrees of freedom"):
        AltMinCompleter(2, max_iter=2, tol=0).fit((rows[few], cols[few], vals[few]),
                                                  shape=(20, 10))
    est = AltMinCompleter(2, max_iter=5, tol=0).fit(obs, shape=(20, 10))
    with pytest.raises(ValueError, match="rows out of range"):
        est.predict([20], [0])
    with pytest.raises(TypeError, match="cols must be integer"):
        est.predict([0], [0.5])


# ------------------------------------------------------------------- GPU twin (CPU)
@pytest.mark.parametrize("solver", ["cholesky", "cg", "sketch"])
def test_gpu_twin_row_solves(rng, gpu_twin, solver):
    mod = gpu_twin("completion")
    k = 6
    indptr, indices, data = random_csr(rng, 90, 300, 0.08, few_rows=(2,), empty_rows=(5,), k=k)
    F = np.ascontiguousarray(np.linalg.qr(rng.standard_normal((300, k)))[0])
    X0 = rng.standard_normal((90, k))
    kw = dict(eta=1e-12, floor=1e-15, key=3, sketch_size=2 * k, reg=0.0)
    a = _kernels.solve_rows(indptr, indices, data, F, X0.copy(), solver, **kw)
    b = mod.solve_rows(indptr, indices, data, F, X0.copy(), solver, **kw)
    np.testing.assert_allclose(b[0], a[0], atol=1e-9)
    np.testing.assert_array_equal(b[2], a[2])
    rows, cols = np.repeat(np.arange(90), np.diff(indptr)), indices
    U = rng.standard_normal((90, k))
    assert np.isclose(mod.observed_sse(indptr, indices, data, U, F),
                      _kernels.observed_sse(indptr, indices, data, U, F))
    np.testing.assert_allclose(mod.predict(rows, cols, U, F), _kernels.predict(rows, cols, U, F))


def test_gpu_twin_refuses_a_collapsed_sketch(rng, gpu_twin):
    # A row whose 13 observations hash into fewer than k = 6 of the 12 buckets has a sketched
    # Gram singular up to rounding: both engines must drop that preconditioner (its inverse
    # stalled the batched CG until the cap, then forced an exact solve).
    from nla._random import hash_xp
    mod = gpu_twin("completion")
    k, s, key = 6, 12, 3
    cols = np.arange(300, dtype=np.int64)
    bits = hash_xp(np, key, np.zeros(300, dtype=np.int64), cols)
    bucket = ((bits >> np.uint64(32)) * np.uint64(s)) >> np.uint64(32)
    few = np.flatnonzero(np.isin(bucket, np.unique(bucket)[:5]))[:13]   # five buckets
    indptr, indices = np.array([0, 13]), np.sort(few)
    F = np.ascontiguousarray(np.linalg.qr(rng.standard_normal((300, k)))[0])
    data, X0 = rng.standard_normal(13), rng.standard_normal((1, k))
    kw = dict(eta=1e-12, floor=1e-15, key=key, sketch_size=s)
    a = _kernels.solve_rows(indptr, indices, data, F, X0.copy(), "sketch", **kw)
    b = mod.solve_rows(indptr, indices, data, F, X0.copy(), "sketch", **kw)
    assert a[2][0] == b[2][0] == 0 and a[1][0] == b[1][0] <= k + 1   # CG, not the fallback
    np.testing.assert_allclose(b[0], a[0], atol=1e-9)
    ref = np.linalg.lstsq(F[indices], data, rcond=None)[0]
    np.testing.assert_allclose(a[0][0], ref, atol=1e-9)


def test_gpu_twin_full_fit(rng, seed, gpu_twin, monkeypatch):
    mod = gpu_twin("completion")
    truth, obs = low_rank_problem(rng, 120, 100, 3, 0.4, 5)
    cpu = AltMinCompleter(3, max_iter=30, tol=0, random_state=seed).fit(obs, shape=(120, 100))
    monkeypatch.setattr(_altmin, "kernels", lambda area, engine: mod)
    twin = AltMinCompleter(3, max_iter=30, tol=0, random_state=seed).fit(obs, shape=(120, 100))
    np.testing.assert_allclose(twin.to_dense(), cpu.to_dense(), atol=1e-7)
    assert rel_error(truth, twin.U_, twin.V_) < 1e-8
