"""AltMinCompleter on noisy, rating-like data: biases, clipping, early stopping, fold-in,
scikit-learn tuning, scaling and bad input; the MovieLens acceptance check (slow)."""

import os
import warnings

import numpy as np
import pytest

from nla.completion import AltMinCompleter, _altmin


def rating_problem(rng, m, n, k, p, noise, mu=3.5):
    """``mu + b_i + c_j + (U V^T)_ij + noise`` on a Bernoulli(p)-sized uniform sample.

    Returns ``(truth, (rows, cols, vals))`` with ``truth(rows, cols)`` the noiseless entries.
    """
    U = rng.standard_normal((m, k)) / np.sqrt(k)
    V = rng.standard_normal((n, k))
    b, c = 0.5 * rng.standard_normal(m), 0.5 * rng.standard_normal(n)
    lin = rng.choice(m * n, int(round(p * m * n)), replace=False)
    rows, cols = lin // n, lin % n

    def truth(r, s):
        return mu + b[r] + c[s] + np.einsum("ij,ij->i", U[r], V[s])

    return truth, (rows, cols, truth(rows, cols) + noise * rng.standard_normal(rows.size))


def reference_row(V, col_bias, mu, reg_ridge, cols, vals):
    """Slow ridge solve of one row's ``(u, b)`` by stacked lstsq (the ALS-WR row update)."""
    A = np.column_stack([V[cols], np.ones(cols.size)])
    k1 = A.shape[1]
    A = np.vstack([A, np.sqrt(reg_ridge * cols.size) * np.eye(k1)])
    y = np.concatenate([vals - mu - col_bias[cols], np.zeros(k1)])
    return np.linalg.lstsq(A, y, rcond=None)[0]


def quiet(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kw)


# --------------------------------------------------------------- the biased model
def test_biased_fit_reaches_the_noise_floor(rng, seed):
    # 200 x 150, rank 3 plus offsets, 40 % observed, noise 0.1. The estimation error adds
    # about noise * sqrt(dof / nnz) = 0.1 * sqrt(1400 / 12000) = 0.034 in quadrature, so
    # held-out RMSE ~ 0.106; 1.3 x noise leaves room for the ridge's bias. Without offsets
    # the rank-3 model cannot fit mu + b_i + c_j (rank 2 more) and stays far above.
    truth, (rows, cols, vals) = rating_problem(rng, 200, 150, 3, 0.4, 0.1)
    r, c = rng.integers(0, 200, 3000), rng.integers(0, 150, 3000)
    est = AltMinCompleter(3, biases=True, reg=0.003, max_iter=60, tol=0,
                          random_state=seed).fit((rows, cols, vals), shape=(200, 150))
    rmse = np.sqrt(np.mean((est.predict(r, c) - truth(r, c)) ** 2))
    assert rmse < 0.13 * 1.0, rmse
    plain = quiet(AltMinCompleter(3, max_iter=60, reg=0.003, random_state=seed),
                  (rows, cols, vals), shape=(200, 150))
    assert np.sqrt(np.mean((plain.predict(r, c) - truth(r, c)) ** 2)) > 3 * rmse
    # the parts add up to the completed matrix
    dense = est.intercept_ + est.row_bias_[:, None] + est.col_bias_[None, :] + est.U_ @ est.V_.T
    np.testing.assert_allclose(est.to_dense(), dense, atol=1e-12 * np.abs(dense).max())
    np.testing.assert_allclose(est.predict(r, c), dense[r, c], atol=1e-12 * np.abs(dense).max())
    assert set(est.history_) >= {"train_rmse", "objective", "rel_change"}


def test_objective_never_increases_with_exact_solves(rng, seed):
    # Each half-step and the mu update minimize the ALS-WR objective exactly over their
    # block, so the recorded objective is non-increasing (up to rounding).
    _, obs = rating_problem(rng, 120, 90, 4, 0.3, 0.5)
    est = AltMinCompleter(4, biases=True, reg=0.05, solver="cholesky", max_iter=25, tol=0,
                          random_state=seed).fit(obs, shape=(120, 90))
    f = np.array(est.history_["objective"])
    assert np.all(np.diff(f) <= 1e-12 * f[:-1]), np.diff(f).max()
    assert f[-1] < 0.9 * f[0]


def test_row_updates_match_the_slow_reference(rng, seed):
    # With solver='cholesky' the fit ends with a U-half: every row of (U_, row_bias_) is the
    # ridge solve given (V_, col_bias_, intercept_). The fit runs on the data divided by their
    # standard deviation s, where the factors are U_/sqrt(s), V_/sqrt(s) and offsets / s.
    _, (rows, cols, vals) = rating_problem(rng, 60, 50, 3, 0.4, 0.3)
    reg = 0.07
    est = AltMinCompleter(3, biases=True, reg=reg, solver="cholesky", max_iter=8, tol=0,
                          random_state=seed).fit((rows, cols, vals), shape=(60, 50))
    s = np.std(vals)
    for i in (0, 17, 59):
        sel = rows == i
        ref = reference_row(est.V_ / np.sqrt(s), est.col_bias_ / s, est.intercept_ / s, reg,
                            cols[sel], vals[sel] / s)
        np.testing.assert_allclose(est.U_[i] / np.sqrt(s), ref[:3], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(est.row_bias_[i] / s, ref[3], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("solver", ["cg", "sketch"])
def test_iterative_solvers_agree_with_cholesky(rng, seed, solver):
    _, obs = rating_problem(rng, 100, 80, 3, 0.4, 0.3)
    kw = dict(biases=True, reg=0.05, max_iter=30, tol=0, random_state=seed)
    exact = AltMinCompleter(3, solver="cholesky", **kw).fit(obs, shape=(100, 80))
    approx = AltMinCompleter(3, solver=solver, cg_forcing=1e-10, **kw).fit(obs, shape=(100, 80))
    np.testing.assert_allclose(approx.to_dense(), exact.to_dense(), atol=1e-6)


# ------------------------------------------------------------ clipping, early stopping
def test_value_range_clips_predictions_only(rng, seed):
    _, obs = rating_problem(rng, 80, 60, 2, 0.5, 0.8)
    kw = dict(biases=True, reg=0.05, max_iter=10, tol=0, random_state=seed)
    free = AltMinCompleter(2, **kw).fit(obs, shape=(80, 60))
    clipped = AltMinCompleter(2, value_range=(2.5, 4.5), **kw).fit(obs, shape=(80, 60))
    r, c = rng.integers(0, 80, 500), rng.integers(0, 60, 500)
    raw = free.predict(r, c)
    assert raw.min() < 2.5 and raw.max() > 4.5          # the clip has something to do
    np.testing.assert_allclose(clipped.predict(r, c), np.clip(raw, 2.5, 4.5), atol=1e-12)
    np.testing.assert_allclose(clipped.to_dense(), np.clip(free.to_dense(), 2.5, 4.5),
                               atol=1e-12)
    rows, cols, vals = obs
    rms = np.sqrt(np.mean((np.clip(free.predict(rows, cols), 2.5, 4.5) - vals) ** 2))
    assert np.isclose(clipped.score(obs), -rms, rtol=1e-12)


def test_early_stopping_keeps_the_best_sweep(rng, seed):
    # Rank 8 without ridge on noisy rank-2 data overfits: the validation RMSE rises after a
    # few sweeps. The fit must stop n_iter_no_change sweeps after the best one and keep it,
    # i.e. end in the state of a fit that runs exactly best_iteration_ sweeps.
    _, obs = rating_problem(rng, 150, 120, 2, 0.25, 0.5)
    kw = dict(biases=True, reg=0.0, solver="cholesky", validation_fraction=0.2,
              random_state=seed)
    est = quiet(AltMinCompleter(8, max_iter=60, tol=0, n_iter_no_change=4, **kw), obs,
                shape=(150, 120))
    val = np.array(est.history_["val_rmse"])
    best = int(np.argmin(val)) + 1
    assert est.best_iteration_ == best and est.converged_
    assert est.n_iter_ == best + 4 < 60 and val[-1] > val.min()
    again = quiet(AltMinCompleter(8, max_iter=best, tol=0, n_iter_no_change=100, **kw), obs,
                  shape=(150, 120))
    np.testing.assert_allclose(est.to_dense(), again.to_dense(), rtol=0, atol=1e-12)


# ----------------------------------------------------------------------- fold-in
@pytest.mark.parametrize("biases", [True, False])
def test_fold_in_equals_the_fit_row_update(rng, seed, biases):
    truth, (rows, cols, vals) = rating_problem(rng, 90, 70, 3, 0.4, 0.2)
    if not biases:
        vals = vals - truth(rows, cols) + np.einsum(
            "ij,ij->i", rng.standard_normal((90, 3))[rows], rng.standard_normal((70, 3))[cols])
    est = AltMinCompleter(3, biases=biases, reg=0.05, solver="cholesky", max_iter=10, tol=0,
                          random_state=seed).fit((rows, cols, vals), shape=(90, 70))
    some = [3, 40, 88]
    sel = np.isin(rows, some)
    local = np.searchsorted(some, rows[sel])
    new = est.fold_in((local, cols[sel], vals[sel]), shape=(3, 70))
    scale = np.abs(est.U_[some]).max()
    np.testing.assert_allclose(new.U, est.U_[some], rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(new.row_bias, est.row_bias_[some], rtol=0, atol=1e-9)
    # the (row, col) pairs layout gives the same
    pairs = est.fold_in(np.column_stack([local, cols[sel]]), vals[sel])
    np.testing.assert_array_equal(pairs.U, new.U)


def test_fold_in_new_users_close_to_a_full_refit(rng, seed):
    # 30 new users (20 % of the rows): folding them into a fit of the other 120 must predict
    # their unseen entries about as well as a refit on all rows (derived bound: fold-in
    # misses only the new rows' small effect on V, so within 10 % of the refit's RMSE).
    truth, (rows, cols, vals) = rating_problem(rng, 150, 100, 3, 0.4, 0.3)
    new = rows >= 120
    kw = dict(biases=True, reg=0.03, max_iter=40, tol=0, random_state=seed)
    full = AltMinCompleter(3, **kw).fit((rows, cols, vals), shape=(150, 100))
    old = AltMinCompleter(3, **kw).fit((rows[~new], cols[~new], vals[~new]), shape=(120, 100))
    fold = old.fold_in((rows[new] - 120, cols[new], vals[new]), shape=(30, 100))
    r, c = np.repeat(np.arange(30), 100), np.tile(np.arange(100), 30)
    pred = (old.intercept_ + fold.row_bias[r] + old.col_bias_[c]
            + np.einsum("ij,ij->i", fold.U[r], old.V_[c]))
    err_fold = np.sqrt(np.mean((pred - truth(r + 120, c)) ** 2))
    err_full = np.sqrt(np.mean((full.predict(r + 120, c) - truth(r + 120, c)) ** 2))
    assert err_fold < 1.1 * err_full + 0.01, (err_fold, err_full)
    assert err_full < 0.3    # both well below the noise (0.3) on the unseen entries


def test_fold_in_bad_input(rng, seed):
    _, obs = rating_problem(rng, 40, 30, 2, 0.5, 0.2)
    est = AltMinCompleter(2, biases=True, reg=0.05, max_iter=5, tol=0,
                          random_state=seed).fit(obs, shape=(40, 30))
    with pytest.raises(ValueError, match="cols out of range"):
        est.fold_in((np.array([0, 1]), np.array([3, 30]), np.array([1.0, 2.0])), shape=(2, 30))
    with pytest.raises(ValueError, match="fold_in needs the fitted 30 columns"):
        est.fold_in((np.array([0]), np.array([31]), np.array([1.0])), shape=(1, 32))
    with pytest.raises(ValueError, match="X has 31 columns"):
        est.fold_in(np.ones((2, 31)))
    with pytest.raises(ValueError, match=r"1 rows of X have no observed entry \(e.g. row 1\)"):
        est.fold_in((np.array([0, 2]), np.array([3, 4]), np.array([1.0, 2.0])), shape=(3, 30))
    with pytest.raises(ValueError, match="shape .* is required"):
        est.fold_in((np.array([0]), np.array([3]), np.array([1.0])))
    with pytest.raises(ValueError, match="vals .* NaN or infinite"):
        est.fold_in((np.array([0]), np.array([3]), np.array([np.inf])), shape=(1, 30))


# --------------------------------------------------------------- scikit-learn tuning
def test_grid_search_over_rank_and_reg(rng, seed):
    sklearn_ms = pytest.importorskip("sklearn.model_selection")
    truth, (rows, cols, vals) = rating_problem(rng, 120, 90, 3, 0.5, 0.3)
    X = np.column_stack([rows, cols])
    est = AltMinCompleter(1, biases=True, max_iter=15, tol=0, random_state=seed)
    grid = sklearn_ms.GridSearchCV(est, {"rank": [1, 3], "reg": [0.02, 3.0]}, cv=3)
    grid.fit(X, vals, shape=(120, 90))
    # rank 1 cannot fit the rank-3 signal (its RMSE ~ 0.5 against noise 0.3) and reg=3
    # shrinks the factors to nothing: the pick is the true rank with the light ridge.
    assert grid.best_params_ == {"rank": 3, "reg": 0.02}, grid.cv_results_["mean_test_score"]
    assert -0.45 < grid.best_score_ < 0
    best = grid.best_estimator_
    held = rng.integers(0, 120, 400), rng.integers(0, 90, 400)
    pred = best.predict(np.column_stack(held))
    np.testing.assert_array_equal(pred, best.predict(*held))
    rms = np.sqrt(np.mean((best.predict(rows, cols) - vals) ** 2))
    assert np.isclose(best.score(X, vals), -rms, rtol=1e-12)


def test_pairs_layout_equals_triplets(rng, seed):
    _, (rows, cols, vals) = rating_problem(rng, 50, 40, 2, 0.5, 0.2)
    kw = dict(biases=True, reg=0.05, max_iter=5, tol=0, random_state=seed)
    a = AltMinCompleter(2, **kw).fit((rows, cols, vals), shape=(50, 40))
    b = AltMinCompleter(2, **kw).fit(np.column_stack([rows, cols]), vals, shape=(50, 40))
    np.testing.assert_array_equal(a.to_dense(), b.to_dense())
    c = AltMinCompleter(2, **kw).fit(np.column_stack([rows, cols]), vals)
    assert c.to_dense().shape == (rows.max() + 1, cols.max() + 1)


# ------------------------------------------------------------------- scaling, sizes
@pytest.mark.parametrize("biases", [True, False])
@pytest.mark.parametrize("factor", [1e-300, 1e300])
def test_scaled_data_give_scaled_results(rng, seed, biases, factor):
    # The fit runs on the data divided by their spread, so results scale with the data
    # (up to rounding); near 1e300 nothing overflows.
    _, (rows, cols, vals) = rating_problem(rng, 60, 40, 2, 0.5, 0.1)
    kw = dict(biases=biases, reg=0.05, max_iter=10, tol=0, random_state=seed)
    base = quiet(AltMinCompleter(2, **kw), (rows, cols, vals), shape=(60, 40))
    big = quiet(AltMinCompleter(2, **kw), (rows, cols, vals * factor), shape=(60, 40))
    ref = base.to_dense()
    np.testing.assert_allclose(big.to_dense() / factor, ref, rtol=0,
                               atol=1e-9 * np.abs(ref).max())
    assert np.all(np.isfinite(big.U_)) and np.isclose(big.score((rows, cols, vals * factor))
                                                      / factor, base.score((rows, cols, vals)))


def test_mixed_huge_values_with_cholesky(rng, seed):
    # Exact rank-1 data with entries of +-1e100: recovered, no SystemError from the kernels.
    u, v = rng.choice([-1.0, 1.0], 30) * 1e50, rng.choice([-1.0, 1.0], 20) * 1e50
    M = np.outer(u, v)
    X = np.where(rng.random(M.shape) < 0.7, M, np.nan)
    est = AltMinCompleter(1, solver="cholesky", max_iter=30, random_state=seed).fit(X)
    np.testing.assert_allclose(est.to_dense(), M, rtol=1e-8)


def test_huge_sketch_size_is_capped(rng, seed):
    _, obs = rating_problem(rng, 50, 40, 2, 0.5, 0.1)
    kw = dict(solver="sketch", biases=True, reg=0.05, max_iter=4, tol=0, random_state=seed)
    a = AltMinCompleter(2, sketch_size=10**12, **kw).fit(obs, shape=(50, 40))
    b = AltMinCompleter(2, sketch_size=10**6, **kw).fit(obs, shape=(50, 40))
    np.testing.assert_array_equal(a.to_dense(), b.to_dense())


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("params, exc, match", [
    (dict(biases="yes"), TypeError, "biases must be True or False"),
    (dict(biases=1.0), TypeError, "biases must be True or False"),
    (dict(biases=1), TypeError, "biases must be True or False"),
    (dict(value_range=(5, 1)), ValueError, r"value_range\[1\]"),
    (dict(value_range=3), TypeError, "value_range must be None or a pair"),
    (dict(value_range=(1, np.nan)), ValueError, r"value_range\[1\] must be finite"),
    (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
    (dict(validation_fraction=0), ValueError, "validation_fraction"),
    (dict(n_iter_no_change=0), ValueError, "n_iter_no_change"),
    (dict(biases=True, sample_splitting=True), ValueError, "sample_splitting"),
])
def test_bad_new_parameters(rng, params, exc, match):
    _, obs = rating_problem(rng, 20, 15, 1, 0.6, 0.1)
    with pytest.raises(exc, match=match):
        AltMinCompleter(1, **params).fit(obs, shape=(20, 15))


def test_bad_ratings_name_the_argument(rng):
    X, y = np.array([[0, 0], [1, 2], [2, 1]]), np.array([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match=r"y \(the observed values\) contain 1 NaN"):
        AltMinCompleter(1).fit(X, y)
    with pytest.raises(ValueError, match=r"y must be 1-D with one value per row of X"):
        AltMinCompleter(1).fit(X, np.ones(2))
    with pytest.raises(ValueError, match=r"X must be an array of \(row, col\) pairs"):
        AltMinCompleter(1).fit(np.ones((3, 3), dtype=int), np.ones(3))
    with pytest.raises(TypeError, match=r"X\[:, 0\] must be integer"):
        AltMinCompleter(1).fit(np.ones((3, 2)), np.ones(3), shape=(3, 3))
    dense = np.full((4, 3), np.nan)
    dense[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"X \(the observed values\) contain 1 NaN or inf"):
        AltMinCompleter(1).fit(dense)
    with pytest.raises(ValueError, match=r"X is empty"):
        AltMinCompleter(1).fit(np.empty((0, 3)))
    obj = np.array([[1.0, None], [2.0, 3.0]], dtype=object)
    obj[0, 1] = np.nan
    est = AltMinCompleter(1, max_iter=3, tol=0).fit(obj)       # numeric objects are fine
    assert est.U_.dtype == np.float64
    est = AltMinCompleter(1, max_iter=3, tol=0).fit(X[[0, 2]], y[[0, 2]], shape=(3, 3))
    with pytest.raises(ValueError, match="rows out of range"):
        est.predict([3], [0])
    with pytest.raises(ValueError, match=r"predict\(X\) needs X of shape \(q, 2\)"):
        est.predict(np.zeros((3, 3), dtype=int))


# ----------------------------------------------------------------- GPU twin (CPU)
def test_gpu_twin_biased_fit(rng, seed, gpu_twin, monkeypatch):
    mod = gpu_twin("completion")
    _, obs = rating_problem(rng, 100, 80, 3, 0.4, 0.3)
    kw = dict(biases=True, reg=0.05, max_iter=15, tol=0, value_range=(1, 6),
              validation_fraction=0.1, random_state=seed)
    cpu = AltMinCompleter(3, **kw).fit(obs, shape=(100, 80))
    monkeypatch.setattr(_altmin, "kernels", lambda area, engine: mod)
    twin = AltMinCompleter(3, **kw).fit(obs, shape=(100, 80))
    np.testing.assert_allclose(twin.to_dense(), cpu.to_dense(), atol=1e-7)
    rows, cols, vals = obs
    sel = rows < 5
    a = cpu.fold_in((rows[sel], cols[sel], vals[sel]), shape=(5, 80))
    b = twin.fold_in((rows[sel], cols[sel], vals[sel]), shape=(5, 80))
    np.testing.assert_allclose(b.U, a.U, atol=1e-7)


# ------------------------------------------------------------------ MovieLens (slow)
ML100K = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "ml-100k")


@pytest.mark.slow
def test_movielens_u2_beats_svdpp():
    # The acceptance on one fold: rank and reg chosen on a validation part of u2.base
    # only, test RMSE on u2.test below scikit-surprise's SVD++ on the same fold, 0.9234
    # (SVDpp(random_state=0), defaults, measured here with surprise 1.1.4; the recorded
    # figure stands in for the 10-20 s SVD++ run, the asv suite runs the peer itself).
    from nla.completion import _movielens
    if not _movielens.available(ML100K):
        pytest.skip(f"MovieLens 100K not found at {os.path.abspath(ML100K)}")
    (train, shape), (test, _) = _movielens.load_fold(2, ML100K)
    est, table = _movielens.tuned_fit((train, shape))
    assert -est.score(test) < 0.9234, table[:3]
