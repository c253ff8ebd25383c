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


def test_fwht_matches_cpu(rng):
    from nla.sketching import _kernels
    from nla_gpu import sketching as gk

    Y = rng.standard_normal((1 << 16, 5))
    np.testing.assert_allclose(cupy.asnumpy(gk.fwht(cupy.asarray(Y))), _kernels.fwht(Y.copy()),
                               atol=1e-9)


@pytest.mark.parametrize("method", ["sketch", "precondition", "exact"])
def test_lstsq_on_gpu(method, rng, seed):
    A = rng.standard_normal((20000, 20))
    b = A @ rng.standard_normal(20) + rng.standard_normal(20000)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    res = nla.lstsq(cupy.asarray(A), cupy.asarray(b), method=method, eps=0.5, random_state=seed)
    assert isinstance(res.x, cupy.ndarray) and res.sketch in (None, "gaussian")
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
