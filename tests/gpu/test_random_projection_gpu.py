"""Real-GPU checks: CuPy results equal the CPU ones for the same seed (float rounding aside)."""

import numpy as np
import pytest
import scipy.sparse as sp

import nla

cupy = pytest.importorskip("cupy")
csp = pytest.importorskip("cupyx.scipy.sparse")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_rp_gpu_matches_cpu(rng, seed, dtype):
    X = rng.standard_normal((500, 3000)).astype(dtype)
    rp = nla.SparseRandomProjection(128, random_state=seed).fit(X)
    cpu = rp.transform(X)
    gpu = rp.transform(cupy.asarray(X))
    assert isinstance(gpu, cupy.ndarray) and gpu.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(cupy.asnumpy(gpu), cpu, rtol=tol, atol=tol)
    R_gpu = rp._generate("gpu", dtype)[0]
    assert np.array_equal(R_gpu.get().toarray(), rp._generate("cpu", dtype)[0].toarray())
    Xs = sp.random(400, 3000, density=0.01, format="csr", random_state=1, dtype=dtype)
    np.testing.assert_allclose(rp.transform(csp.csr_matrix(Xs)).get().toarray(),
                               rp.transform(Xs).toarray(), rtol=tol, atol=tol)


def test_fastrp_gpu_matches_cpu(rng, seed):
    upper = sp.triu(sp.random(2000, 2000, density=0.01, random_state=2), 1)
    S = (upper + upper.T).tocsr()
    kw = dict(dim=64, weights=(0, 1, 1, 2), beta=-0.5, random_state=seed)
    cpu = nla.fastrp(S, **kw)
    gpu = nla.fastrp(csp.csr_matrix(S), **kw)
    assert isinstance(gpu, cupy.ndarray)
    np.testing.assert_allclose(gpu.get(), cpu, rtol=1e-4, atol=1e-4)


def test_torch_cuda_tensor_runs_on_gpu(rng, seed):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    X = rng.standard_normal((100, 1000)).astype(np.float32)
    rp = nla.SparseRandomProjection(32, random_state=seed).fit(X)
    out = rp.transform(torch.from_numpy(X).cuda())
    assert isinstance(out, torch.Tensor) and out.is_cuda
    np.testing.assert_allclose(out.cpu().numpy(), rp.transform(X), rtol=1e-4, atol=1e-4)
