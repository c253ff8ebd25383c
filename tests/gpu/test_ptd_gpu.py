"""GPU tests of the ptd area: CuPy results against the CPU (Numba) results on the same data."""

import numpy as np
import pytest

import nla

cupy = pytest.importorskip("cupy")


def test_transfer_function_gpu_matches_cpu(rng):
    N, M = 64, 5000
    lam = -rng.random(N) + 1j * rng.standard_normal(N) * 100
    B = rng.standard_normal((N, 2)) + 1j * rng.standard_normal((N, 2))
    C = rng.standard_normal((3, N))
    s = 1j * rng.standard_normal(M) * 100
    G_cpu = nla.transfer_function(lam, B, C, s)
    G_gpu = nla.transfer_function(cupy.asarray(lam), cupy.asarray(B), cupy.asarray(C),
                                  cupy.asarray(s))
    assert isinstance(G_gpu, cupy.ndarray)
    np.testing.assert_allclose(G_gpu.get(), G_cpu, rtol=1e-10, atol=1e-12)
    A = rng.standard_normal((N, N))
    Gd_cpu = nla.transfer_function(A, B, C, s[:300])
    Gd_gpu = nla.transfer_function(cupy.asarray(A), cupy.asarray(B), cupy.asarray(C),
                                   cupy.asarray(s[:300]))
    np.testing.assert_allclose(Gd_gpu.get(), Gd_cpu, rtol=1e-8, atol=1e-10)


def test_discretize_gpu_matches_cpu(rng):
    lam = -rng.random(32) + 1j * rng.standard_normal(32)
    b = rng.standard_normal(32)
    for method in ("zoh", "bilinear"):
        cpu = nla.discretize(lam, b, 0.1, method=method)
        gpu = nla.discretize(cupy.asarray(lam), cupy.asarray(b), 0.1, method=method)
        np.testing.assert_allclose(gpu.eigenvalues.get(), cpu.eigenvalues, rtol=1e-13)
        np.testing.assert_allclose(gpu.B.get(), cpu.B, rtol=1e-13)


@pytest.mark.parametrize("N", [32, 48])  # batched device SVDs; the host Lanczos fallback
def test_pseudospectrum_gpu_matches_cpu(rng, N):
    A = nla.hippo(N).A
    z = (rng.uniform(-1, 1, (20, 20)) + 1j * rng.uniform(-1, 1, (20, 20))) * 300
    cpu = nla.pseudospectrum(A, z)
    gpu = nla.pseudospectrum(cupy.asarray(A), cupy.asarray(z))
    assert isinstance(gpu.sigma_min, cupy.ndarray) and isinstance(gpu.steps, cupy.ndarray)
    np.testing.assert_allclose(gpu.sigma_min.get(), cpu.sigma_min, rtol=1e-6,
                               atol=1e-12 * np.linalg.norm(A, 2))


def test_ptd_gpu_input_returns_device_arrays(seed):
    A = nla.hippo(32).A
    cpu = nla.ptd(A, random_state=seed)
    gpu = nla.ptd(cupy.asarray(A), random_state=seed)
    assert isinstance(gpu.V, cupy.ndarray)
    assert gpu.info.backward_error < 1e-10
    np.testing.assert_allclose(gpu.E.get(), cpu.E)          # the optimiser runs on the host
    np.testing.assert_allclose(np.sort_complex(gpu.eigenvalues.get()),
                               np.sort_complex(cpu.eigenvalues), rtol=1e-9, atol=1e-9)
