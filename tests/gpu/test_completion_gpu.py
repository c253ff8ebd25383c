"""GPU (CuPy) completion kernels and fits against the Numba ones, same inputs and seeds."""

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")

from nla.completion import AltMinCompleter, _kernels  # noqa: E402
from nla_gpu import completion as gpu  # noqa: E402


def _problem(rng, m, n, k, p):
    U = np.linalg.qr(rng.standard_normal((m, k)))[0]
    V = np.linalg.qr(rng.standard_normal((n, k)))[0]
    s = np.geomspace(1, 0.1, k) * np.sqrt(m * n / k)
    lin = rng.choice(m * n, int(p * m * n), replace=False)
    rows, cols = lin // n, lin % n
    return (U, s, V), (rows, cols, np.einsum("ij,ij->i", U[rows] * s, V[cols]))


@pytest.mark.parametrize("solver", ["cholesky", "cg", "sketch"])
def test_row_solves_match_cpu(rng, solver):
    import scipy.sparse as sp

    k = 16
    M = sp.random(500, 800, density=0.05, random_state=rng, format="csr")
    M.data = rng.standard_normal(M.nnz)
    indptr, indices = M.indptr.astype(np.int64), M.indices.astype(np.int64)
    F = np.ascontiguousarray(np.linalg.qr(rng.standard_normal((800, k)))[0])
    X0 = rng.standard_normal((500, k))
    kw = dict(eta=1e-12, floor=1e-15, key=9, sketch_size=2 * k)
    a = _kernels.solve_rows(indptr, indices, M.data, F, X0.copy(), solver, **kw)
    b = gpu.solve_rows(*(cupy.asarray(x) for x in (indptr, indices, M.data, F)),
                       cupy.asarray(X0), solver, **kw)
    np.testing.assert_allclose(cupy.asnumpy(b[0]), a[0], atol=1e-9)
    np.testing.assert_array_equal(cupy.asnumpy(b[2]), a[2])


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_fit_on_gpu_matches_cpu(rng, seed, solver):
    truth, (rows, cols, vals) = _problem(rng, 400, 300, 5, 0.3)
    cpu = AltMinCompleter(5, solver=solver, max_iter=15, tol=0, random_state=seed)
    cpu.fit((rows, cols, vals), shape=(400, 300))
    dev = AltMinCompleter(5, solver=solver, max_iter=15, tol=0, random_state=seed)
    dev.fit(tuple(cupy.asarray(a) for a in (rows, cols, vals)), shape=(400, 300))
    assert isinstance(dev.U_, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(dev.to_dense()), cpu.to_dense(), atol=1e-8)
    pred = dev.predict(cupy.asarray(rows[:10]), cupy.asarray(cols[:10]))
    assert isinstance(pred, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(pred), vals[:10], atol=1e-7)


@pytest.mark.parametrize("solver", ["cg", "cholesky"])
def test_biased_fit_and_fold_in_on_gpu_match_cpu(rng, seed, solver):
    _, (rows, cols, vals) = _problem(rng, 300, 200, 4, 0.3)
    vals = 3 + 0.3 * vals / vals.std() + 0.3 * rng.standard_normal(vals.size)
    kw = dict(biases=True, reg=0.05, solver=solver, max_iter=12, tol=0, value_range=(1, 5),
              validation_fraction=0.1, random_state=seed)
    cpu = AltMinCompleter(4, **kw).fit((rows, cols, vals), shape=(300, 200))
    dev = AltMinCompleter(4, **kw).fit(tuple(cupy.asarray(a) for a in (rows, cols, vals)),
                                       shape=(300, 200))
    assert isinstance(dev.row_bias_, cupy.ndarray) and dev.best_iteration_ == cpu.best_iteration_
    np.testing.assert_allclose(cupy.asnumpy(dev.to_dense()), cpu.to_dense(), atol=1e-7)
    sel = rows < 10
    a = cpu.fold_in((rows[sel], cols[sel], vals[sel]), shape=(10, 200))
    b = dev.fold_in(tuple(cupy.asarray(x) for x in (rows[sel], cols[sel], vals[sel])),
                    shape=(10, 200))
    np.testing.assert_allclose(cupy.asnumpy(b.U), a.U, atol=1e-7)
    np.testing.assert_allclose(cupy.asnumpy(b.row_bias), a.row_bias, atol=1e-7)


def test_torch_cuda_in_torch_cuda_out(rng, seed):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    _, (rows, cols, vals) = _problem(rng, 200, 150, 3, 0.4)
    dense = np.full((200, 150), np.nan)
    dense[rows, cols] = vals
    est = AltMinCompleter(3, max_iter=20, random_state=seed).fit(
        torch.as_tensor(dense, device="cuda"))
    assert est.U_.is_cuda


def test_gpu_sweep_timing_report(rng):
    """Not an assertion of speed: prints per-sweep seconds for the benchmark log."""
    import time

    from nla.completion._altmin import sweep
    from nla.completion._observed import Observations

    m = n = 20_000
    lin = np.unique(rng.integers(0, m * n, 2_020_000))[:2_000_000]
    rows, cols = lin // n, lin % n
    vals = rng.standard_normal(rows.size)
    obs = Observations(*(cupy.asarray(a) for a in (rows, cols, vals)), (m, n), cupy)
    for k in (16, 64):
        U_hat = cupy.linalg.qr(cupy.asarray(rng.standard_normal((m, k))))[0]
        U_hat = cupy.ascontiguousarray(U_hat)
        for solver in ("cg", "cholesky"):
            args = dict(solver=solver, eta=0.1, floor=1e-14, max_iter=50, reg=0.1,
                        sketch_size=0)
            sweep(obs, obs, U_hat, cupy.zeros((n, k)), gpu, cupy, **args)
            cupy.cuda.Device().synchronize()
            t0 = time.perf_counter()
            sweep(obs, obs, U_hat, cupy.zeros((n, k)), gpu, cupy, **args)
            cupy.cuda.Device().synchronize()
            print(f"GPU sweep k={k} {solver}: {time.perf_counter() - t0:.3f} s")
