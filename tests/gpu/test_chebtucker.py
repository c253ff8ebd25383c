"""GPU (CuPy) ChebTucker against the CPU (Numba) path on the same problems."""

import numpy as np
import pytest

from nla.chebtucker import ChebTucker
from nla.chebtucker import _kernels as K

cupy = pytest.importorskip("cupy")


def _f(xp):
    return lambda x, y, z: 1.0 / (1.0 + x**2 + 2 * y**2 + 3 * z**2) + xp.sin(x * y * z)


def test_kernels_match_cpu(rng):
    import nla_gpu.chebtucker as G
    V = rng.standard_normal((9, 17, 5))
    np.testing.assert_allclose(G.values_to_coeffs(cupy.asarray(V)).get(), K.values_to_coeffs(V),
                               atol=1e-13)
    t = rng.uniform(-1, 1, 1000)
    np.testing.assert_allclose(G.vandermonde(cupy.asarray(t), 30).get(), K.vandermonde(t, 30),
                               atol=1e-13)
    factors = [rng.standard_normal((m, r)) for m, r in ((20, 5), (15, 4), (30, 6))]
    core = rng.standard_normal((5, 4, 6))
    T = rng.uniform(-1, 1, (5000, 3))
    got = G.eval_points(cupy.asarray(T), [cupy.asarray(V) for V in factors], cupy.asarray(core))
    np.testing.assert_allclose(got.get(), K.eval_points(T, factors, core), atol=1e-11)


def test_fit_on_gpu_matches_cpu(rng):
    box = np.array([[-1.0, 1.0], [-0.5, 1.5], [0.0, 2.0]])
    cpu = ChebTucker.fit(_f(np), box)
    gpu = ChebTucker.fit(_f(cupy), cupy.asarray(box))
    assert isinstance(gpu.core, cupy.ndarray)
    assert gpu.degrees == cpu.degrees and gpu.ranks == cpu.ranks
    P = rng.uniform(box[:, 0], box[:, 1], (20000, 3))
    got = gpu(cupy.asarray(P))
    assert isinstance(got, cupy.ndarray)
    np.testing.assert_allclose(got.get(), cpu(P), atol=1e-11)
    np.testing.assert_allclose(gpu.integrate(), cpu.integrate(), rtol=1e-12)
    axes = [cupy.linspace(lo, hi, 33) for lo, hi in box]
    np.testing.assert_allclose(gpu.on_grid(*axes).get(),
                               cpu.on_grid(*[a.get() for a in axes]), atol=1e-11)
    np.testing.assert_allclose(gpu.diff(1)(cupy.asarray(P)).get(), cpu.diff(1)(P), atol=1e-9)
    np.testing.assert_allclose((gpu + 2 * gpu)(cupy.asarray(P)).get(), 3 * cpu(P), atol=1e-10)


def test_from_cp_on_gpu_matches_cpu(rng):
    R, m = 20, 65
    weights = rng.standard_normal(R)
    x = np.sin(np.pi * (2 * np.arange(m) - (m - 1)) / (2 * (m - 1)))     # Chebyshev points
    factors = [np.exp(-rng.uniform(1, 4, R) * (x[:, None] - rng.uniform(-1, 1, R))**2)
               for _ in range(3)]
    box = [[-1.0, 1.0]] * 3
    cpu = ChebTucker.from_cp(weights, factors, box, degree=m - 1, tol=1e-10)
    gpu = ChebTucker.from_cp(cupy.asarray(weights), [cupy.asarray(F) for F in factors], box,
                             degree=m - 1, tol=1e-10)
    assert gpu.ranks == cpu.ranks
    P = rng.uniform(-1, 1, (1000, 3))
    np.testing.assert_allclose(gpu(cupy.asarray(P)).get(), cpu(P), atol=1e-11)
