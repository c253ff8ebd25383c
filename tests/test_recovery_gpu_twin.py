"""nla_gpu.recovery's array code, run on NumPy/SciPy, against the Numba kernels."""

import numpy as np
import pytest

from nla.recovery import _kernels as cpu
from nla.recovery import _operators
from nla.recovery import EntrySampling, GaussianMeasurements, RankOneMeasurements, SubGMRecovery


@pytest.fixture
def twin(gpu_twin):
    return gpu_twin("recovery")


@pytest.mark.parametrize("mode", [cpu.MODE_ADJOINT, cpu.MODE_L1, cpu.MODE_L2])
def test_dense_and_gaussian_passes(twin, rng, seed, mode):
    m, D = 70, 12
    key = seed
    A = cpu.gaussian_matrix(key, m, D, np.float64)
    np.testing.assert_allclose(twin.gaussian_matrix(key, m, D, np.float64), A, rtol=1e-13,
                               atol=1e-13)
    x, y = rng.standard_normal(D), rng.standard_normal(m)
    r_cpu, r_gpu = np.zeros(m), np.zeros(m)
    G = cpu.dense_pass(A, x, y, mode, r_cpu)
    np.testing.assert_allclose(twin.dense_pass(A, x, y, mode, r_gpu), G, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r_gpu, r_cpu, rtol=1e-12, atol=1e-12)
    ids = np.sort(rng.choice(m, 40, replace=False)).astype(np.int64)
    r_cpu, r_gpu = np.zeros(40), np.zeros(40)
    G = cpu.gaussian_pass(key, ids, D, x, y[:40], mode, r_cpu)
    np.testing.assert_allclose(twin.gaussian_pass(key, ids, D, x, y[:40], mode, r_gpu), G,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(r_gpu, r_cpu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(twin.gaussian_forward(key, ids, D, x),
                               cpu.gaussian_forward(key, ids, D, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", [cpu.MODE_L1, cpu.MODE_L2])
def test_rowdot_and_entry_passes(twin, rng, mode):
    P, Q, y = rng.standard_normal((30, 4)), rng.standard_normal((30, 4)), rng.standard_normal(30)
    # A residual sum_k P_ik Q_ik - y_i may cancel far below its summands: the two engines
    # agree to a few ulps of the summands, not of the result.
    tol = 8 * np.finfo(float).eps * (np.abs(P * Q).sum(axis=1) + np.abs(y))
    (res_g, w_g), (res_c, w_c) = twin.rowdot_pass(P, Q, y, mode), cpu.rowdot_pass(P, Q, y, mode)
    np.testing.assert_array_less(np.abs(res_g - res_c), tol)
    if mode == cpu.MODE_L2:   # the weight is the residual itself
        np.testing.assert_array_less(np.abs(w_g - w_c), tol)
    else:                     # sign(res): the same wherever res is clear of rounding
        clear = np.abs(res_c) > tol
        np.testing.assert_array_equal(w_g[clear], w_c[clear])
    d1, d2 = 9, 7
    flat = rng.choice(d1 * d2, 25, replace=False)
    op = EntrySampling(flat // d2, flat % d2, (d1, d2))
    U, V = rng.standard_normal((d1, 3)), rng.standard_normal((d2, 3))
    ys = rng.standard_normal(25)
    tol = 8 * np.finfo(float).eps * (np.abs(U[op._rows]) * np.abs(V[op._cols])).sum(axis=1)
    np.testing.assert_array_less(np.abs(twin.entry_forward(op._rows, op._cols, U, V)
                                        - cpu.entry_forward(op._rows, op._cols, U, V)), tol)
    for m_ in (mode, cpu.MODE_ADJOINT):
        (res_g, w_g, QU_g) = twin.entry_rows_pass(op._indptr, op._cols_s, ys, U, V, m_)
        (res_c, w_c, QU_c) = cpu.entry_rows_pass(op._indptr, op._cols_s, ys, U, V, m_)
        np.testing.assert_allclose(QU_g, QU_c, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(w_g, w_c, rtol=1e-12, atol=1e-12)
        if m_ != cpu.MODE_ADJOINT:
            np.testing.assert_allclose(res_g, res_c, rtol=1e-12, atol=1e-12)
        w = w_c
        wc = w[op._corder]
        np.testing.assert_allclose(twin.entry_cols_pass(op._cptr, op._rows_c, wc, U),
                                   cpu.entry_cols_pass(op._cptr, op._rows_c, wc, U),
                                   rtol=1e-12, atol=1e-12)


def test_fit_with_gpu_kernels(twin, monkeypatch, rng, seed):
    # The whole driver with nla_gpu.recovery in place of the Numba kernels.
    d, m = 10, 300
    V = np.linalg.qr(rng.standard_normal((d, 2)))[0]
    ops = [GaussianMeasurements(m, (d, d), random_state=seed),
           GaussianMeasurements(m, (d, d), stored=False, random_state=seed),
           RankOneMeasurements(rng.standard_normal((m, d)), rng.standard_normal((m, d)))]
    rows, cols = np.triu_indices(d)
    ops.append(EntrySampling(rows, cols, (d, d)))
    fits = {}
    for engine in ("cpu", "twin"):
        if engine == "twin":
            monkeypatch.setattr(_operators, "kernels", lambda area, eng: twin)
        for k, op in enumerate(ops):
            y = op(V)
            y[::7] += 10.0
            fits[engine, k] = SubGMRecovery(3, max_iter=300, symmetric=k != 2,
                                            random_state=seed).fit(op, y)
    for k in range(len(ops)):
        np.testing.assert_allclose(fits["twin", k].X_, fits["cpu", k].X_, rtol=1e-7, atol=1e-9)
