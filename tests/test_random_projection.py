"""Very sparse random projection: explicit-matrix reference, JL statistics, Li et al. variances,
scikit-learn parity, determinism, bad input."""

import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp

from nla.random_projection import (DataDimensionalityWarning, SparseRandomProjection,
                                   johnson_lindenstrauss_min_dim)
from nla._random import sparse_sign_rows
from nla.random_projection import _kernels


def test_jl_min_dim_matches_scikit_learn_values():
    cases = {(1_000_000, 0.5): 663, (1_000_000, 0.1): 11841, (1_000_000, 0.01): 1112658,
             (10_000, 0.1): 7894, (100_000, 0.1): 9868, (25, 0.1): 2759, (300, 0.2): 1316,
             (300, 0.1): 4888}
    for (n, eps), k in cases.items():
        assert johnson_lindenstrauss_min_dim(n, eps=eps) == k
    np.testing.assert_array_equal(johnson_lindenstrauss_min_dim([1e4, 1e5], eps=0.1),
                                  [7894, 9868])
    for bad in (0.0, 1.0, -0.1, np.nan):
        with pytest.raises(ValueError, match="eps"):
            johnson_lindenstrauss_min_dim(100, eps=bad)
    with pytest.raises(ValueError, match="n_samples"):
        johnson_lindenstrauss_min_dim(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("density", ["auto", 0.3, 1.0])
def test_transform_equals_explicit_product(rng, seed, dtype, density):
    X = rng.standard_normal((60, 700)).astype(dtype)
    X[rng.random(X.shape) < 0.5] = 0.0
    before = X.copy()
    rp = SparseRandomProjection(40, density=density, random_state=seed).fit(X)
    R = rp.components_.toarray().T.astype(np.float64)
    expected = X.astype(np.float64) @ R
    tol = 1e-5 if dtype == np.float32 else 1e-12
    dense = rp.transform(X)
    assert dense.dtype == dtype and rp.components_.dtype == dtype
    np.testing.assert_allclose(dense, expected, rtol=tol, atol=tol * np.abs(expected).max())
    for rows in (slice(0, 5), slice(3, 20)):  # fewer than, and not a multiple of, 8 rows
        np.testing.assert_allclose(rp.transform(np.asfortranarray(X[rows])), expected[rows],
                                   rtol=tol, atol=tol * np.abs(expected).max())
    sparse_out = rp.transform(sp.csr_matrix(X))
    assert sp.issparse(sparse_out) and sparse_out.format == "csr"
    np.testing.assert_allclose(sparse_out.toarray(), expected, rtol=tol,
                               atol=tol * np.abs(expected).max())
    rp.set_params(dense_output=True)
    np.testing.assert_allclose(rp.transform(sp.csc_matrix(X)), expected, rtol=tol,
                               atol=tol * np.abs(expected).max())
    np.testing.assert_array_equal(X, before)  # input untouched


def test_components_match_scikit_learn_conventions(seed):
    X = np.ones((25, 3000))
    rp = SparseRandomProjection(random_state=seed).fit(X)
    assert rp.n_components_ == 2759  # JL dimension of 25 samples at eps = 0.1
    assert rp.density_ == pytest.approx(1 / np.sqrt(3000))
    C = rp.components_
    assert C.shape == (2759, 3000) and C.format == "csr"
    values = np.unique(np.abs(C.data))
    np.testing.assert_allclose(values, [np.sqrt(1 / rp.density_) / np.sqrt(2759)])
    # Fraction of nonzeros is Binomial(k D, density) / (k D): within 5 standard errors.
    frac, n = C.nnz / (2759 * 3000), 2759 * 3000
    assert abs(frac - rp.density_) < 5 * np.sqrt(rp.density_ * (1 - rp.density_) / n)
    assert abs(np.mean(C.data > 0) - 0.5) < 5 * 0.5 / np.sqrt(C.nnz)


def test_deterministic_for_seed_threads_and_refit(rng, seed):
    X = rng.standard_normal((50, 400))
    a = SparseRandomProjection(30, random_state=seed).fit_transform(X)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        b = SparseRandomProjection(30, random_state=seed).fit_transform(X)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(a, b)
    rp = SparseRandomProjection(30, random_state=seed).fit(X)
    first = rp.components_.copy()
    rp.set_params(random_state=seed + 1).fit(X)
    assert (rp.components_ != first).nnz > 0  # a refit with a new seed is a new matrix
    np.testing.assert_allclose(rp.transform(X), X @ rp.components_.toarray().T, rtol=1e-12,
                               atol=1e-12)


def _pair_ratios(X, Y):
    # ||y_u - y_v||^2 / ||x_u - x_v||^2 over all pairs.
    def sq(Z):
        g = Z @ Z.T
        d = np.diag(g)
        return (d[:, None] + d[None, :] - 2 * g)[np.triu_indices(len(Z), 1)]
    return sq(Y) / sq(X)


@pytest.mark.parametrize("data", ["dense", "sparse1%"])
def test_jl_distortion_statistics(rng, seed, data):
    n, D, eps = 300, 10_000, 0.2
    if data == "dense":
        X = rng.standard_normal((n, D))
    else:
        X = rng.exponential(size=(n, D)) * (rng.random((n, D)) < 0.01)
    k = johnson_lindenstrauss_min_dim(n, eps=eps)
    # The pairs of one projection share its matrix, so their spread itself varies from matrix
    # to matrix (on the heavy-tailed sparse data by about 3 %, with outliers near 9 %); four
    # independent matrices pooled bring that to 1.5 % against the 10 % band below.
    r = np.concatenate([_pair_ratios(X, SparseRandomProjection(
        k, density=1 / np.sqrt(D), random_state=seed + t).fit_transform(X)) for t in range(4)])
    s = np.sqrt(D)
    # Predicted sd of r from the Li et al. variance: (2 + (s - 3) kappa) / k per pair.
    iu = np.triu_indices(n, 1)
    pick = rng.choice(len(iu[0]), 200, replace=False)
    w = X[iu[0][pick]] - X[iu[1][pick]]
    kappa = np.mean((w**4).sum(1) / (w**2).sum(1) ** 2)
    pred_sd = np.sqrt((2 + (s - 3) * kappa) / k)
    assert abs(r.mean() - 1) < 0.01
    assert 0.9 * pred_sd < r.std() < 1.1 * pred_sd
    if data == "dense":
        assert np.mean((r > 1 - eps) & (r < 1 + eps)) >= 0.998


@pytest.mark.parametrize("s", [3.0, np.sqrt(1000), 1000 / np.log(1000)])
def test_li_hastie_church_variances(rng, seed, s):
    # Each draw t uses rows t*D .. (t+1)*D of one long counter-based matrix, so the draws are
    # independent projections; v = R^T u / sqrt(k) as in Li et al.
    D, k, draws, chunk = 1000, 50, 20_000, 2000
    u1 = rng.lognormal(size=D) * (rng.random(D) < 0.3)
    u2 = rng.lognormal(size=D) * (rng.random(D) < 0.3)
    w = u1 - u2
    est = {"dist": [], "inner": [], "norm": []}
    def rows(u):  # row t holds u at columns t*D .. (t+1)*D: sums D rows of R per draw
        return sp.csr_matrix((np.tile(u, chunk), np.arange(D * chunk),
                              np.arange(0, D * chunk + 1, D)), shape=(chunk, D * chunk))

    for start in range(0, draws, chunk):
        indptr, indices, data = sparse_sign_rows(seed, D * start, D * chunk, k, 1 / s, np.sqrt(s))
        R = sp.csr_matrix((data, indices, indptr), shape=(D * chunk, k))
        v1 = (rows(u1) @ R).toarray() / np.sqrt(k)
        v2 = (rows(u2) @ R).toarray() / np.sqrt(k)
        est["dist"].append(((v1 - v2) ** 2).sum(1))
        est["inner"].append((v1 * v2).sum(1))
        est["norm"].append((v1**2).sum(1))
    m1, m2, a, dist = u1 @ u1, u2 @ u2, u1 @ u2, w @ w
    theory = {"dist": (2 * dist**2 + (s - 3) * (w**4).sum()) / k,
              "inner": (m1 * m2 + a**2 + (s - 3) * (u1**2 * u2**2).sum()) / k,
              "norm": (2 * m1**2 + (s - 3) * (u1**4).sum()) / k}
    means = {"dist": dist, "inner": a, "norm": m1}
    for name, values in est.items():
        x = np.concatenate(values)
        var = x.var()
        # Standard error of a sample variance from the sample's own fourth moment.
        se = np.sqrt((np.mean((x - x.mean()) ** 4) - var**2) / len(x))
        assert abs(x.mean() - means[name]) < 5 * np.sqrt(var / len(x)), name
        assert abs(var - theory[name]) < 4 * se, (name, var / theory[name])


def test_bad_input(rng):
    X = rng.standard_normal((20, 50))
    with pytest.raises(ValueError, match="n_features=50"):
        SparseRandomProjection(eps=0.5).fit(X)  # auto dimension 143 > 50 features
    with pytest.warns(DataDimensionalityWarning):
        SparseRandomProjection(60).fit(X)
    for params, error, match in [
            ({"n_components": 0}, ValueError, "n_components"),
            ({"n_components": -3}, ValueError, "n_components"),
            ({"n_components": 2.5}, TypeError, "n_components"),
            ({"n_components": 5, "density": 0.0}, ValueError, "density"),
            ({"n_components": 5, "density": 1.5}, ValueError, "density"),
            ({"eps": 1.2}, ValueError, "eps"),
            ({"n_components": 5, "random_state": -1}, ValueError, "random_state")]:
        with pytest.raises(error, match=match):
            SparseRandomProjection(**params).fit(X)
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        SparseRandomProjection(5).fit(bad)
    rp = SparseRandomProjection(5, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 49 features"):
        rp.transform(X[:, :49])
    with pytest.raises(ValueError, match="X must be real"):
        rp.transform(X.astype(complex))
    with pytest.raises(ValueError, match="not fitted"):
        SparseRandomProjection(5).transform(X)


def test_torch_in_torch_out(rng, seed):
    torch = pytest.importorskip("torch")
    X = rng.standard_normal((30, 200)).astype(np.float32)
    rp = SparseRandomProjection(16, random_state=seed).fit(X)
    out = rp.transform(torch.from_numpy(X))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), rp.transform(X), rtol=1e-6)


def test_inverse_transform_and_feature_names(rng, seed):
    X = rng.standard_normal((40, 30))
    rp = SparseRandomProjection(10, density=0.5, compute_inverse_components=True,
                                random_state=seed).fit(X)
    Y = rp.transform(X)
    C = rp.components_.toarray()
    np.testing.assert_allclose(rp.inverse_transform(Y), Y @ np.linalg.pinv(C).T, atol=1e-12)
    assert rp.get_feature_names_out()[3] == "sparserandomprojection3"


def test_scikit_learn_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataDimensionalityWarning)
        check_estimator(SparseRandomProjection(n_components=3, random_state=0))


def test_gpu_twin_kernels(gpu_twin, rng, seed):
    gpu = gpu_twin("random_projection")
    for dtype in (np.float32, np.float64):
        cpu_R = _kernels.generate(seed, 300, 40, 0.1, 0.5, dtype)
        gpu_R = gpu.generate(seed, 300, 40, 0.1, 0.5, dtype)
        assert (cpu_R != gpu_R).nnz == 0 and gpu_R.dtype == dtype  # identical matrix
        X = rng.standard_normal((25, 300)).astype(dtype)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        (got, got_finite), (ref, ref_finite) = (gpu.project_dense(X, gpu_R.T.tocsr()),
                                                _kernels.project_dense(X, cpu_R.T.tocsr()))
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
        assert got_finite and ref_finite
        Xs = sp.random(25, 300, density=0.1, format="csr", random_state=seed % 2**32, dtype=dtype)
        for dense in (True, False):
            a, b = gpu.project_sparse(Xs, gpu_R, dense), _kernels.project_sparse(Xs, cpu_R, dense)
            a, b = (a, b) if dense else (a.toarray(), b.toarray())
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
        A = sp.random(300, 300, density=0.05, format="csr", random_state=seed % 2**31)
        N = rng.standard_normal((300, 8)).astype(dtype)
        acc_cpu, acc_gpu = np.zeros_like(N), np.zeros_like(N)
        out_cpu = _kernels.propagate(A, N, np.empty_like(N), acc_cpu, 0.7, True)
        out_gpu = gpu.propagate(A, N, np.empty_like(N), acc_gpu, 0.7, True)
        np.testing.assert_allclose(out_gpu, out_cpu, rtol=tol, atol=tol)
        np.testing.assert_allclose(acc_gpu, acc_cpu, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_finds_every_non_finite_entry(bad, dtype, rng, seed):
    # Dense input is checked inside the projection pass: NaN/inf must be found whether or not
    # R touches its feature, in the 8-row blocks and in the remainder rows.
    X = rng.standard_normal((203, 400)).astype(dtype)
    rp = SparseRandomProjection(8, density=0.05, random_state=seed).fit(X)
    touched = np.zeros(400, dtype=bool)
    touched[rp.components_.indices] = True
    assert touched.any() and not touched.all()  # both kinds of feature exist here
    for row in (0, 100, 202):
        for col in (np.flatnonzero(touched)[0], np.flatnonzero(~touched)[0]):
            Xb = X.copy()
            Xb[row, col] = bad
            with pytest.raises(ValueError, match="X contains NaN or infinity"):
                rp.transform(Xb)
            with pytest.raises(ValueError, match="X contains NaN or infinity"):
                SparseRandomProjection(8, density=0.05, random_state=seed).fit_transform(Xb)


def test_transform_overflow_without_non_finite_input_is_not_an_error(rng, seed):
    # Finite entries whose sums overflow give non-finite outputs, as X @ R.T does; the exact
    # re-check finds X finite and does not raise. Whether a mixed-sign sum overflows depends
    # on the summation order, so only component 0, whose terms all share one sign, must
    # overflow in every order; finite outputs must match the product.
    rp = SparseRandomProjection(4, density=0.5, random_state=seed).fit(np.ones((2, 50)))
    R = rp.components_.toarray()
    assert np.count_nonzero(R[0]) >= 3        # 3 * 1e308 * sqrt(2 / 4) overflows
    X = np.where(R[0] < 0, -1e308, 1e308) * np.ones((16, 1))
    with np.errstate(over="ignore", invalid="ignore"):
        expected = X @ R.T
    out = rp.transform(X)                     # no error
    assert np.all(out[:, 0] == np.inf)
    both = np.isfinite(out) & np.isfinite(expected)
    np.testing.assert_allclose(out[both], expected[both], rtol=1e-12)
