"""Sketch operators and lstsq on a CUDA device against the Numba results for the same seeds."""

import numpy as np
import pytest

import nla

cupy = pytest.importorskip("cupy")

KINDS = ["gaussian", "srht", "countsketch", "sparse_sign", "hgp"]


@pytest.mark.parametrize("kind", KINDS)
def test_sketch_matches_cpu(kind, rng, seed):
    n = 3000
    A = rng.standard_normal((n, 7))
    S = nla.sketch(kind, 256, n, random_state=seed)
    cpu = S @ A
    gpu = S @ cupy.asarray(A)
    assert isinstance(gpu, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(gpu), cpu, rtol=1e-10, atol=1e-10)
    chunked = S.apply(cupy.asarray(A[:1234]), row0=0) + S.apply(cupy.asarray(A[1234:]), row0=1234)
    np.testing.assert_allclose(cupy.asnumpy(chunked), cpu, rtol=1e-10, atol=1e-10)


def test_sparse_input_on_gpu(rng, seed):
    import cupyx.scipy.sparse as csp
    import scipy.sparse as sp

    A = sp.random(2000, 6, density=0.05, random_state=1, format="csr")
    for kind in ("countsketch", "srht"):
        S = nla.sketch(kind, 128, 2000, random_state=seed)
        np.testing.assert_allclose(cupy.asnumpy(S @ csp.csr_matrix(A)), S @ A, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2,), (8, 3), (1 << 11, 1), (1 << 13, 7), (1 << 16, 5),
                                   (1 << 21, 2), (1 << 12, 64)])
def test_fwht_kernel_matches_cpu(shape, dtype, rng):
    # Shapes cover one partial pass, exactly one full pass (2^10 levels), several passes,
    # column counts below, at and above one 32-byte sector, and a vector.
    from nla.sketching import _kernels
    from nla_gpu import sketching as gk

    Y = rng.standard_normal(shape).astype(dtype)
    ref = _kernels.fwht(Y.copy())
    got = gk.fwht(cupy.asarray(Y))
    assert got.dtype == dtype and got.shape == Y.shape
    # Each output is a +-1 sum of N inputs: rounding grows like sqrt(N log2 N) eps |Y|.
    N = shape[0]
    tol = 4 * np.finfo(dtype).eps * np.sqrt(N * max(1, np.log2(N))) * np.abs(Y).max()
    np.testing.assert_allclose(cupy.asnumpy(got), ref, rtol=0, atol=tol)
    # Applying it twice gives N times the input (H_N^2 = N I).
    np.testing.assert_allclose(cupy.asnumpy(gk.fwht(got)) / N, Y, rtol=0, atol=2 * tol)


def test_public_fwht_dispatches_to_the_device(rng):
    Y = rng.standard_normal((1 << 10, 3))
    out = nla.sketching.fwht(cupy.asarray(Y))
    assert isinstance(out, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(out), nla.sketching.fwht(Y.copy()), atol=1e-10)


@pytest.mark.parametrize("method", ["sketch", "precondition", "exact"])
def test_lstsq_on_gpu(method, rng, seed):
    A = rng.standard_normal((20000, 20))
    b = A @ rng.standard_normal(20) + rng.standard_normal(20000)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    res = nla.lstsq(cupy.asarray(A), cupy.asarray(b), method=method, eps=0.5, random_state=seed)
    assert isinstance(res.x, cupy.ndarray)
    assert res.sketch == {"sketch": "srht", "precondition": "sparse_sign", "exact": None}[method]
    x = cupy.asnumpy(res.x)
    if method == "sketch":
        assert np.abs(x - x_ref).max() <= res.linf_bound * 3
    else:
        np.testing.assert_allclose(x, x_ref, rtol=1e-9)
    cpu = nla.lstsq(A, b, method=method, sketch=res.sketch, eps=0.5, random_state=seed)
    if method != "exact":
        np.testing.assert_allclose(x, cpu.x, rtol=1e-8, atol=1e-10)


def test_torch_cuda_round_trip(rng, seed):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    A = torch.randn(5000, 8, device="cuda", dtype=torch.float64)
    b = torch.randn(5000, device="cuda", dtype=torch.float64)
    res = nla.lstsq(A, b, method="precondition", random_state=seed)
    assert isinstance(res.x, torch.Tensor) and res.x.is_cuda
