"""nla.recovery on a CUDA device: CuPy results against the CPU on the same seed."""

import numpy as np
import pytest

from nla.recovery import EntrySampling, GaussianMeasurements, RankOneMeasurements, SubGMRecovery

cupy = pytest.importorskip("cupy")


def _rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("stored", [True, False])
def test_gaussian_operator_matches_cpu(rng, seed, stored):
    m, d = 400, 12
    cpu = GaussianMeasurements(m, (d, d), stored=stored, random_state=seed)
    gpu = GaussianMeasurements(m, (d, d), stored=stored, random_state=seed, device="gpu")
    U = rng.standard_normal((d, 3))
    np.testing.assert_allclose(cupy.asnumpy(gpu(cupy.asarray(U))), cpu(U), rtol=1e-10,
                               atol=1e-10)


def test_fits_match_cpu(rng, seed):
    d, m = 30, 900
    V = np.linalg.qr(rng.standard_normal((d, 2)))[0]
    rows, cols = np.triu_indices(d)
    a = rng.standard_normal((m, d))
    pairs = [(GaussianMeasurements(m, (d, d), random_state=seed),
              GaussianMeasurements(m, (d, d), random_state=seed, device="gpu")),
             (RankOneMeasurements(a), RankOneMeasurements(cupy.asarray(a))),
             (EntrySampling(rows, cols, (d, d)),
              EntrySampling(cupy.asarray(rows), cupy.asarray(cols), (d, d)))]
    for cpu_op, gpu_op in pairs:
        y = cpu_op(V)
        y[::5] += 20.0
        decay = 0.99 if isinstance(cpu_op, RankOneMeasurements) else 0.98
        est_c = SubGMRecovery(2, decay=decay, random_state=seed).fit(cpu_op, y)
        est_g = SubGMRecovery(2, decay=decay, random_state=seed).fit(gpu_op, cupy.asarray(y))
        assert isinstance(est_g.U_, cupy.ndarray)
        X_g = cupy.asnumpy(est_g.X_)
        assert _rel(X_g, V @ V.T) < 1e-6
        assert _rel(X_g, est_c.X_) < 1e-6


def test_torch_cuda_in_torch_cuda_out(rng, seed):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    d = 20
    V = np.linalg.qr(rng.standard_normal((d, 2)))[0] * np.sqrt(d)
    rows, cols = np.triu_indices(d)
    op = EntrySampling(torch.from_numpy(rows).cuda(), torch.from_numpy(cols).cuda(), (d, d))
    y = torch.from_numpy((V @ V.T)[rows, cols]).cuda()
    est = SubGMRecovery(2, random_state=seed).fit(op, y)
    assert est.U_.is_cuda
