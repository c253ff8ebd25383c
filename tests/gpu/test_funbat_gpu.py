"""FunBaT on a CUDA device: CuPy kernels against the Numba kernels, and a whole fit."""

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")
try:
    if cupy.cuda.runtime.getDeviceCount() < 1:
        pytest.skip("no CUDA device", allow_module_level=True)
except cupy.cuda.runtime.CUDARuntimeError:
    pytest.skip("no CUDA device", allow_module_level=True)

import nla  # noqa: E402
import nla_gpu.funbat as gpu  # noqa: E402
from nla.funbat import _kernels, _model  # noqa: E402
from nla.funbat._tour import tucker3_data  # noqa: E402


@pytest.mark.parametrize("cp", [False, True])
def test_kernels_match_numba(rng, seed, cp):
    X, y, _ = tucker3_data(rng, 3000)
    X = np.round(X, 2)
    ranks = (2, 2, 2) if cp else (2, 3, 2)
    host = _model.build_problem(X, y, ranks, ["matern32"] * 3, (0.2,) * 3, (1.0,) * 3, cp,
                                _kernels)
    dev = _model.build_problem(X, y, ranks, ["matern32"] * 3, (0.2,) * 3, (1.0,) * 3, cp, gpu)
    sh = _model.initial_state(host, seed, 50.0, _kernels)
    sd = _model.initial_state(dev, seed, 50.0, gpu)
    for k in range(3):
        a = _model.mode_messages(host, sh, k, _kernels)
        b = _model.mode_messages(dev, sd, k, gpu)
        for u, v in zip(a, b):
            np.testing.assert_allclose(cupy.asnumpy(v), u, rtol=1e-10, atol=1e-12)
    for epoch in range(3):
        _model.run_epoch(host, sh, (0.5,) * 3, epoch > 0, True, 1.0, _kernels)
        _model.run_epoch(dev, sd, (0.5,) * 3, epoch > 0, True, 1.0, gpu)
    np.testing.assert_allclose(cupy.asnumpy(sd.m_all), sh.m_all, rtol=1e-8, atol=1e-10)
    assert sd.tau == pytest.approx(sh.tau, rel=1e-8)


def test_fit_on_device_matches_host(rng, seed):
    X, y, f = tucker3_data(rng, 1500)
    cpu = nla.FunBaT(rank=2, n_epochs=15, random_state=seed).fit(X[:1000], y[:1000])
    dev = nla.FunBaT(rank=2, n_epochs=15, random_state=seed).fit(cupy.asarray(X[:1000]),
                                                                  cupy.asarray(y[:1000]))
    mean, std = dev.predict(cupy.asarray(X[1000:]), return_std=True)
    assert isinstance(mean, cupy.ndarray)
    ref_mean, ref_std = cpu.predict(X[1000:], return_std=True)
    np.testing.assert_allclose(cupy.asnumpy(mean), ref_mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(cupy.asnumpy(std), ref_std, rtol=1e-5, atol=1e-7)
