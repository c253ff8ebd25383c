"""Measurement operators of nla.recovery against explicit A_i, and their input checks."""

import numpy as np
import pytest

from nla.recovery import (DenseMeasurements, EntrySampling, GaussianMeasurements,
                          RankOneMeasurements)
from nla.recovery._kernels import MODE_L1, MODE_L2
from nla.recovery._subgm import subgradient


def _explicit(op):
    """The (m, d1, d2) matrices A_i of ``op``, read off entry by entry (slow, plainly right)."""
    d1, d2 = op.matrix_shape
    A = np.empty((op.n_measurements, d1, d2))
    for j in range(d1):
        for k in range(d2):
            U = np.zeros((d1, 1))
            V = np.zeros((d2, 1))
            U[j, 0] = V[k, 0] = 1.0
            A[:, j, k] = op(U, V)
    return A


def _reference(A, U, V, y, mode):
    """Residuals and (G V, G^T U) by the naive per-measurement formulas."""
    res = np.array([np.sum(Ai * (U @ V.T)) for Ai in A]) - y
    w = np.sign(res) if mode == MODE_L1 else res
    GV = sum(wi * (Ai @ V) for wi, Ai in zip(w, A))
    GtU = sum(wi * (Ai.T @ U) for wi, Ai in zip(w, A))
    return res, GV, GtU


def _operators(rng, seed, m=24, d1=6, d2=5):
    a, b = rng.standard_normal((m, d1)), rng.standard_normal((m, d2))
    pairs = rng.choice(d1 * d2, size=m, replace=False)
    return {
        "dense": DenseMeasurements(rng.standard_normal((m, d1, d2))),
        "gauss_stored": GaussianMeasurements(m, (d1, d2), random_state=seed),
        "gauss_fly": GaussianMeasurements(m, (d1, d2), stored=False, random_state=seed),
        "rank_one": RankOneMeasurements(a, b),
        "entry": EntrySampling(pairs // d2, pairs % d2, (d1, d2)),
    }


@pytest.mark.parametrize("name", ["dense", "gauss_stored", "gauss_fly", "rank_one", "entry"])
@pytest.mark.parametrize("mode", [MODE_L1, MODE_L2])
def test_fused_pass_matches_explicit_matrices(rng, seed, name, mode):
    op = _operators(rng, seed)[name]
    A = _explicit(op)
    if name == "rank_one":
        np.testing.assert_allclose(A, np.einsum("ij,ik->ijk", op._a, op._b), atol=1e-12)
    if name == "entry":
        assert set(np.unique(A)) <= {0.0, 1.0} and np.all(A.sum(axis=(1, 2)) == 1)
    U, V = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    y = rng.standard_normal(op.n_measurements)
    res, GV, GtU = op._fused(U, V, y, mode)
    ref = _reference(A, U, V, y, mode)
    for got, want in zip((res, GV, GtU), ref):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    mv, rmv = op._adjoint(y)
    np.testing.assert_allclose(mv(V), np.einsum("i,ijk->jk", y, A) @ V, atol=1e-10)
    np.testing.assert_allclose(rmv(U), np.einsum("i,ijk->jk", y, A).T @ U, atol=1e-10)
    idx = np.sort(rng.choice(op.n_measurements, 9, replace=False))
    np.testing.assert_allclose(op._subset(idx)(U, V), op(U, V)[idx], atol=1e-12)


def test_gaussian_on_the_fly_equals_stored(rng, seed):
    m, d = 300, 9
    stored = GaussianMeasurements(m, (d, d), random_state=seed)
    fly = GaussianMeasurements(m, (d, d), stored=False, random_state=seed)
    other = GaussianMeasurements(m, (d, d), random_state=seed + 1)
    np.testing.assert_array_equal(stored.toarray(), fly.toarray())
    assert not np.allclose(stored.toarray(), other.toarray())
    A = stored.toarray()
    assert abs(A.mean()) < 0.05 and abs(A.std() - 1) < 0.05   # N(0, 1): 8 and 11 sigma
    U = rng.standard_normal((d, 4))
    y = rng.standard_normal(m)
    for mode in (MODE_L1, MODE_L2):
        for got, want in zip(fly._fused(U, U, y, mode), stored._fused(U, U, y, mode)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    idx = np.array([3, 7, 200])
    np.testing.assert_array_equal(fly._subset(idx).toarray(), A[idx])


def test_fast_form_equals_per_measurement_form(rng, seed):
    # (sum_i w_i A_i) U formed once == sum_i w_i (A_i U): the identity behind the fast pass.
    op = GaussianMeasurements(60, (7, 7), random_state=seed)
    A = op.toarray()
    U = rng.standard_normal((7, 4))
    y = rng.standard_normal(60)
    res, Q, _ = subgradient(op, U, U, y, MODE_L1, True)
    naive = sum(np.sign(r) * (Ai + Ai.T) @ U for r, Ai in zip(res, A)) / 60
    np.testing.assert_allclose(Q, naive, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("symmetric", [True, False])
def test_subgradient_is_directional_derivative(rng, seed, symmetric):
    d, k, m = 8, 3, 200
    op = GaussianMeasurements(m, (d, d), random_state=seed)
    U, V = rng.standard_normal((d, k)), rng.standard_normal((d, k))
    V = U if symmetric else V
    y = op(rng.standard_normal((d, 2))) + rng.standard_normal(m)
    res, QU, QV = subgradient(op, U, V, y, MODE_L1, symmetric)
    assert np.abs(res).min() > 1e-6  # f is differentiable at U
    DU, DV = rng.standard_normal((d, k)), rng.standard_normal((d, k))
    DV = DU if symmetric else DV
    h = 1e-7

    def f(t):
        return np.mean(np.abs(op(U + t * DU, V + t * DV) - y))

    fd = (f(h) - f(-h)) / (2 * h)
    lin = np.sum(QU * DU) + (0 if symmetric else np.sum(QV * DV))
    assert abs(fd - lin) <= 1e-6 * max(1.0, abs(lin))


@pytest.mark.parametrize("mode", [MODE_L1, MODE_L2])
def test_symmetric_entry_subgradient_weighs_the_symmetric_matrix(rng, mode):
    # Symmetric fit on entries: f(U) = mean over the observed entries of the symmetric matrix
    # (a pair listed once stands for (j, k) and (k, j)). Its gradient, by the formula for the
    # fully listed pattern, must equal the fast form for pairs listed once.
    d, k = 9, 3
    rows, cols = np.triu_indices(d)
    keep = rng.random(rows.size) < 0.7
    rows, cols = rows[keep], cols[keep]
    y = rng.standard_normal(rows.size)
    once, y_once = EntrySampling(rows, cols, (d, d))._symmetric(y)
    assert once._pairs_once[0].size == np.sum(rows == cols)
    off = rows != cols
    full = EntrySampling(np.r_[rows, cols[off]], np.r_[cols, rows[off]], (d, d))
    y_full = np.r_[y, y[off]]
    assert full._symmetric(y_full)[0] is full               # nothing to add
    U = rng.standard_normal((d, k))
    res_f, Q_full, _ = subgradient(full, U, U, y_full, mode, True)
    res_o, Q_once, _ = subgradient(once, U, U, y_once, mode, True)
    np.testing.assert_allclose(Q_once, Q_full, rtol=1e-12, atol=1e-12)
    w = np.sign(res_f) if mode == MODE_L1 else res_f         # and by the explicit sum
    S = np.zeros((d, d))
    np.add.at(S, (full._rows, full._cols), w)
    np.testing.assert_allclose(Q_full, (S + S.T) @ U / y_full.size, rtol=1e-12, atol=1e-12)
    # A mixture: pairs listed once get their mirrors appended, the others are kept.
    both = off & (rng.random(rows.size) < 0.5)
    mixed = EntrySampling(np.r_[rows, cols[both]], np.r_[cols, rows[both]], (d, d))
    sym, y_sym = mixed._symmetric(np.r_[y, y[both]])
    assert sym.n_measurements == full.n_measurements and not hasattr(sym, "_pairs_once")
    np.testing.assert_allclose(subgradient(sym, U, U, y_sym, mode, True)[1], Q_full,
                               rtol=1e-12, atol=1e-12)


def test_float32_stays_float32(rng):
    A = rng.standard_normal((30, 4, 4)).astype(np.float32)
    op = DenseMeasurements(A)
    out = op(rng.standard_normal((4, 2)).astype(np.float32))
    assert out.dtype == np.float32
    assert GaussianMeasurements(5, (3, 3), dtype=np.float32, random_state=1).toarray().dtype \
        == np.float32


def test_operator_bad_input(rng):
    with pytest.raises(ValueError, match="A must be 3-D"):
        DenseMeasurements(rng.standard_normal((4, 9)))
    with pytest.raises(ValueError, match="A contains NaN"):
        DenseMeasurements(np.full((2, 2, 2), np.nan))
    with pytest.raises(ValueError, match="n_measurements"):
        GaussianMeasurements(0, (3, 3))
    with pytest.raises(ValueError, match="shape"):
        GaussianMeasurements(5, (3,))
    with pytest.raises(ValueError, match="device"):
        GaussianMeasurements(5, (3, 3), device="tpu")
    with pytest.raises(ValueError, match="same number of rows"):
        RankOneMeasurements(rng.standard_normal((5, 3)), rng.standard_normal((4, 3)))
    with pytest.raises(ValueError, match="rows must lie in"):
        EntrySampling([0, 5], [0, 1], (5, 5))
    with pytest.raises(ValueError, match="cols must lie in"):
        EntrySampling([0, 1], [0, -1], (5, 5))
    with pytest.raises(TypeError, match="rows must hold integers"):
        EntrySampling([0.0, 1.0], [0, 1], (5, 5))
    with pytest.raises(ValueError, match="same length"):
        EntrySampling([0, 1], [0, 1, 2], (5, 5))
    with pytest.raises(ValueError, match=r"entry \(1, 2\) more than once"):
        EntrySampling([0, 1, 3, 1], [0, 2, 2, 2], (5, 5))
    op = GaussianMeasurements(10, (3, 4), random_state=0)
    with pytest.raises(ValueError, match="U and V must have shapes"):
        op(np.ones((3, 2)))            # V defaults to U, which has 3 rows, not 4


def test_operators_do_not_modify_inputs(rng):
    A = rng.standard_normal((20, 3, 3))
    rows, cols = np.array([2, 0, 1]), np.array([0, 1, 1])
    a = rng.standard_normal((20, 3))
    keep = A.copy(), rows.copy(), cols.copy(), a.copy()
    U = rng.standard_normal((3, 2))
    for op in (DenseMeasurements(A), EntrySampling(rows, cols, (3, 3)), RankOneMeasurements(a)):
        op._fused(U, U, rng.standard_normal(op.n_measurements), MODE_L1)
    for before, after in zip(keep, (A, rows, cols, a)):
        np.testing.assert_array_equal(before, after)


def test_operator_returns_torch_for_torch(rng):
    torch = pytest.importorskip("torch")
    op = RankOneMeasurements(torch.from_numpy(rng.standard_normal((10, 4))))
    out = op(torch.from_numpy(rng.standard_normal((4, 2))))
    assert isinstance(out, torch.Tensor) and out.shape == (10,)
