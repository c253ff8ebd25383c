"""Shared fixtures: fresh random inputs (seed printed for replay) and a CPU stand-in for CuPy."""

import importlib
import os

# GNU OpenMP threads spin while waiting; on a shared, oversubscribed machine that stalls every
# parallel Numba region. Passive waiting costs nothing when the machine is idle.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
import sys
import types

import numpy as np
import pytest


@pytest.fixture
def rng(request):
    """A NumPy Generator with a fresh seed; the seed is printed so a failure can be replayed.

    Set ``NLA_TEST_SEED`` to replay one.
    """
    seed = int(os.environ.get("NLA_TEST_SEED", np.random.SeedSequence().entropy % 2**32))
    print(f"{request.node.nodeid}: NLA_TEST_SEED={seed}")
    return np.random.default_rng(seed)


@pytest.fixture
def seed(rng):
    """A fresh integer seed for nla's own ``random_state`` arguments."""
    return int(rng.integers(2**63))


def _fake_cupy_modules():
    import scipy.fft
    import scipy.linalg
    import scipy.sparse

    cupy = types.ModuleType("cupy")
    cupy.__getattr__ = lambda name: getattr(np, name)
    cupy.asnumpy = np.asarray
    cupy.ndarray = np.ndarray
    cupy.get_array_module = lambda *a: np
    cupyx = types.ModuleType("cupyx")
    cupyx_scipy = types.ModuleType("cupyx.scipy")
    cupyx.scipy = cupyx_scipy
    cupyx_scipy.sparse = scipy.sparse
    cupyx_scipy.fft = scipy.fft
    cupyx_scipy.linalg = scipy.linalg
    return {"cupy": cupy, "cupyx": cupyx, "cupyx.scipy": cupyx_scipy,
            "cupyx.scipy.sparse": scipy.sparse, "cupyx.scipy.fft": scipy.fft,
            "cupyx.scipy.linalg": scipy.linalg}


@pytest.fixture
def gpu_twin(monkeypatch):
    """Load ``nla_gpu.<area>`` with NumPy/SciPy standing in for CuPy/cupyx.

    This runs the GPU drivers' array code on the CPU, so their logic is tested against the
    Numba kernels on every machine. Only code that uses CuPy's NumPy-compatible API can run
    this way; RawKernels are covered by tests/gpu on a real device.
    """
    for name, module in _fake_cupy_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    loaded = []

    def load(area):
        name = f"nla_gpu.{area}"
        sys.modules.pop(name, None)
        loaded.append(name)
        return importlib.import_module(name)

    yield load
    for name in loaded:  # never leave a NumPy-backed nla_gpu module behind
        sys.modules.pop(name, None)


@pytest.fixture(scope="session")
def dask_client():
    """A real ``dask.distributed`` cluster: 2 worker processes, one thread each, 1 GB apiece.

    One cluster for the whole session (starting one costs seconds on 2 cores); every dask
    test runs on it through the default client. Skips when dask.distributed is missing.
    """
    distributed = pytest.importorskip("dask.distributed")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # port and dashboard notices of a local cluster
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, memory_limit="1GB")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
