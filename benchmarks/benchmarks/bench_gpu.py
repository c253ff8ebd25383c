"""The GPU engine (``nla_gpu``, CuPy) beside the CPU engine (Numba) on the same inputs.

Each suite runs one nla call twice in the same process: on NumPy/scipy.sparse inputs (the
Numba kernels, all cores) and on the same data moved to the GPU first (the CuPy kernels);
its peer is the CPU engine. Device time is measured to completion (the stream is
synchronized before the clock stops); copies to the device happen once, in ``setup``. Every
suite is skipped where CuPy sees no CUDA device.

``track_speedup`` is the CPU engine's seconds over the GPU engine's (interleaved, same process)
and ``track_max_rel_diff`` the largest difference between the two results relative to the
largest CPU value (NaN where the results are not comparable, e.g. in-place transforms).

Run as a script on a GPU machine for a table of both times, their ratio and the largest
relative difference between the two results: ``python benchmarks/benchmarks/bench_gpu.py``
(sizes scale with ``NLA_BENCH_SCALE``; names on the command line pick suites).
"""

import itertools
import sys
import time

import numpy as np
import scipy.sparse as sp

import nla

try:
    from ._common import SCALE, speedup, track
except ImportError:  # run as a script from this folder
    from _common import SCALE, speedup, track


def _cupy():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:
        pass
    raise NotImplementedError("no CUDA device")  # asv skips the benchmark


def _to_device(x, cupy):
    if isinstance(x, np.ndarray):
        return cupy.asarray(x)
    if sp.issparse(x):
        import cupyx.scipy.sparse as csp

        return csp.csr_matrix(x.tocsr())
    if isinstance(x, tuple):
        return tuple(_to_device(a, cupy) for a in x)
    return x


def _host(x):
    if hasattr(x, "get"):
        x = x.get()
    return x.toarray() if sp.issparse(x) else np.asarray(x)


def _size(n, low=1_000):
    return max(low, int(n * SCALE))


class _Engines:
    """Times ``call(*args)`` on host and device copies of ``make()``'s arguments."""

    version = "1"
    timeout = 900
    number = 1
    repeat = (1, 3, 60.0)

    def setup(self, *params):
        self.params = params
        self.cupy = _cupy()
        host = self.make(np.random.default_rng(0))
        self.args = {"cpu": host, "gpu": _to_device(host, self.cupy)}
        for engine in ("cpu", "gpu"):  # compile (Numba, NVRTC) and create handles
            self.run(engine)

    def run(self, engine):
        out = self.call(*self.args[engine])
        if engine == "gpu":
            self.cupy.cuda.Device().synchronize()
        return out

    def value(self, out, engine):
        """A host array that must agree between the engines (None: not comparable)."""
        return _host(out)

    def time_cpu(self, *params):
        self.run("cpu")

    def time_gpu(self, *params):
        self.run("gpu")

    @track("cpu/gpu")
    def track_speedup(self, *params):
        return speedup(lambda: self.run("gpu"), lambda: self.run("cpu"))

    @track("max relative difference")
    def track_max_rel_diff(self, *params):
        a, b = self.value(self.run("cpu"), "cpu"), self.value(self.run("gpu"), "gpu")
        return float("nan") if a is None else max_rel_diff(a, b)


def max_rel_diff(a, b):
    """max |b - a| / max |a| (a: the CPU engine's result)."""
    return float(np.abs(b - a).max() / max(np.abs(a).max(), 1e-300))


class SparseRPDense(_Engines):
    """Very sparse random projection of a dense 20000 x 5000 float32 matrix to 256."""

    def make(self, rng):
        X = rng.standard_normal((_size(20_000), 5_000)).astype(np.float32)
        self.rp = nla.SparseRandomProjection(256, random_state=0).fit(X[:2])
        return (X,)

    def call(self, X):
        return self.rp.transform(X)


class SparseRPCSR(_Engines):
    """CSR 100000 x 100000 with 10^6 nonzeros projected to 256 (dense output)."""

    def make(self, rng):
        n, nnz = _size(100_000), _size(1_000_000)
        X = sp.csr_matrix((rng.standard_normal(nnz).astype(np.float32),
                           (rng.integers(0, n, nnz), rng.integers(0, 100_000, nnz))),
                          shape=(n, 100_000))
        self.rp = nla.SparseRandomProjection(256, dense_output=True, random_state=0)
        self.rp.fit(X[:2])
        return (X,)

    def call(self, X):
        return self.rp.transform(X)


class FastRPLarge(_Engines):
    """FastRP at d = 128 on a random graph with 10^6 nodes and about 10^7 edges."""

    def make(self, rng):
        from nla.random_projection._tour import random_graph

        return (random_graph(_size(1_000_000), 20, seed=0),)

    def call(self, S):
        return nla.fastrp(S, dim=128, weights=(0, 0, 1, 6.67), beta=-0.64, random_state=0)


class FWHT(_Engines):
    """Walsh-Hadamard transform of a 2^20 x 64 float64 block (in place, so it is refilled)."""

    def make(self, rng):
        self.Y0 = rng.standard_normal((_size(1 << 20, 1 << 10), 64))
        n = 1 << (self.Y0.shape[0].bit_length() - 1)
        self.Y0 = self.Y0[:n]
        return (self.Y0.copy(),)

    def call(self, Y):
        from nla.sketching import fwht

        return fwht(Y)

    def value(self, out, engine):
        return None  # in place and repeated: results are compared in tests/gpu


class SketchAndSolve(_Engines):
    """``lstsq(method='sketch', eps=0.1)`` on a tall 2^20 x 50 problem, per sketch kind."""

    params = [["srht", "hgp"]]  # a Gaussian sketch of this size (9e4 x 2^20) takes minutes
    param_names = ["sketch"]

    def make(self, rng):
        from nla.sketching._tour import tall_problem

        return tall_problem(_size(1 << 20, 1 << 12), 50)

    def call(self, A, b):
        return nla.lstsq(A, b, method="sketch", sketch=self.params[0], eps=0.1, random_state=0)

    def value(self, out, engine):
        return _host(out.x)


class SketchAndPrecondition(_Engines):
    """``lstsq(method='precondition')`` to full accuracy on a 2^18 x 500 problem, per sketch."""

    params = [["sparse_sign", "srht", "gaussian"]]
    param_names = ["sketch"]

    def make(self, rng):
        from nla.sketching._tour import tall_problem

        return tall_problem(_size(1 << 18, 1 << 12), 500)

    def call(self, A, b):
        return nla.lstsq(A, b, method="precondition", sketch=self.params[0], random_state=0)

    def value(self, out, engine):
        return _host(out.x)


class LewisWeights(_Engines):
    """l_1 Lewis weights of a 10^6 x 50 matrix."""

    def make(self, rng):
        n = _size(1_000_000)
        return (rng.standard_normal((n, 50)) * np.exp(rng.standard_normal((n, 1))),)

    def call(self, A):
        return nla.lewis_weights(A, 1.0)

    def value(self, out, engine):
        return _host(out.weights)


class L1RegressionOnSample(_Engines):
    """l_1 regression on a Lewis sample (2000 rows) of 10^6 x 20 data with outliers."""

    def make(self, rng):
        from nla.sampling._tour import lad_problem

        return lad_problem(_size(1_000_000), 20)

    def call(self, A, b):
        return nla.lp_regression(A, b, 1.0, sample=2_000, random_state=0)

    def value(self, out, engine):
        return np.array([out.objective])


class CompletionFit(_Engines):
    """AltMin completion, rank 16, 20000 x 20000 with 2 x 10^6 observations, 5 sweeps."""

    def make(self, rng):
        m = _size(20_000)
        lin = np.unique(rng.integers(0, m * m, int(5.05 * m * m / 1000)))[:5 * m * m // 1000]
        rows, cols = lin // m, lin % m
        U, V = rng.standard_normal((m, 16)), rng.standard_normal((m, 16))
        self.shape = (m, m)
        return ((rows, cols, np.einsum("ij,ij->i", U[rows], V[cols])),)

    def call(self, obs):
        est = nla.AltMinCompleter(16, max_iter=5, tol=0, random_state=0)
        return est.fit(obs, shape=self.shape)

    def value(self, est, engine):
        return _host(est.U_[:100] @ est.V_[:100].T)


class RecoveryEntrySampling(_Engines):
    """Sub-gradient robust completion: 10000 x 10000, 10^6 observations, rank 5, 30 steps."""

    def make(self, rng):
        from nla.recovery import EntrySampling

        d, m, r = _size(10_000), _size(1_000_000), 5
        rows, cols = np.divmod(np.unique(rng.integers(0, d * d, m + m // 50))[:m], d)
        m = rows.size
        U, V = rng.standard_normal((d, r)), rng.standard_normal((d, r))
        y = np.einsum("ij,ij->i", U[rows], V[cols])
        y[rng.random(m) < 0.1] += 10.0
        self.op = {"cpu": EntrySampling(rows, cols, (d, d))}
        self.op["gpu"] = EntrySampling(_cupy().asarray(rows), _cupy().asarray(cols), (d, d))
        return (y,)

    def call(self, y):
        from nla.recovery import SubGMRecovery

        op = self.op["cpu" if isinstance(y, np.ndarray) else "gpu"]
        est = SubGMRecovery(5, symmetric=False, max_iter=30, tol=0.0, random_state=0)
        return est.fit(op, y)

    def value(self, est, engine):
        return _host(est.U_[:100] @ est.V_[:100].T)


class ChebTuckerEvaluate(_Engines):
    """Chebyshev-Tucker fit of a 3-D Gaussian mixture and evaluation at 10^6 points."""

    def make(self, rng):
        from nla.chebtucker._tour import gaussian_mix

        self.f = gaussian_mix()
        return (np.array([[-1.0, 1.0]] * 3), rng.uniform(-1, 1, (_size(1_000_000), 3)))

    def call(self, box, P):
        return nla.ChebTucker.fit(self.f, box, tol=1e-10)(P)


class FunBaTFit(_Engines):
    """FunBaT Tucker fit, rank 2, 10^5 observations of a K = 3 tensor, 5 epochs."""

    def make(self, rng):
        from nla.funbat._tour import tucker3_data

        X, y, _ = tucker3_data(rng, _size(100_000))
        return X, y

    def call(self, X, y):
        return nla.FunBaT(rank=2, n_epochs=5, random_state=0).fit(X, y)

    def value(self, model, engine):
        return _host(model.predict(self.args[engine][0][:1000]))


class TransferFunction(_Engines):
    """Diagonal SSM transfer function, N = 256 states, 10^6 frequencies."""

    def make(self, rng):
        d = nla.hippo_diagonal(256)
        s = 1j * np.geomspace(1e-2, 4.0 * 256**2, _size(1_000_000))
        return d.eigenvalues, d.B, d.V[0], s

    def call(self, lam, b, c, s):
        return nla.transfer_function(lam, b, c, s)


class Pseudospectrum(_Engines):
    """Smallest singular values of z I - A for HiPPO-LegS on a 100 x 100 grid, N = 32 or 64."""

    params = [[32, 64]]
    param_names = ["N"]

    def make(self, rng):
        A = nla.hippo(self.params[0]).A
        x = np.linspace(-300, 300, 100)
        return A, x[:, None] + 1j * x[None, :]

    def call(self, A, z):
        return nla.pseudospectrum(A, z)

    def value(self, out, engine):
        return _host(out.sigma_min)


SUITES = [SparseRPDense, SparseRPCSR, FastRPLarge, FWHT, SketchAndSolve, SketchAndPrecondition,
          LewisWeights, L1RegressionOnSample, CompletionFit, RecoveryEntrySampling,
          ChebTuckerEvaluate, FunBaTFit, TransferFunction, Pseudospectrum]


def _median_seconds(suite, engine, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = suite.run(engine)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def main(names=(), repeat=3):
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(0)
    print(f"device: {props['name'].decode()}, CuPy {cupy.__version__}, NumPy {np.__version__}, "
          f"scale {SCALE}")
    print(f"{'suite':36s} {'cpu s':>9s} {'gpu s':>9s} {'speed-up':>9s} {'max rel diff':>13s}")
    for cls, params in ((c, p) for c in SUITES for p in itertools.product(*c.__dict__.get(
            "params", []))):
        if names and cls.__name__ not in names:
            continue
        label = "/".join([cls.__name__, *map(str, params)])
        suite = cls()
        try:
            suite.setup(*params)
            t_cpu, out_cpu = _median_seconds(suite, "cpu", repeat)
            t_gpu, out_gpu = _median_seconds(suite, "gpu", repeat)
            a, b = suite.value(out_cpu, "cpu"), suite.value(out_gpu, "gpu")
            diff = "-" if a is None else f"{max_rel_diff(a, b):.1e}"
            print(f"{label:36s} {t_cpu:9.4f} {t_gpu:9.4f} {t_cpu / t_gpu:8.1f}x "
                  f"{diff:>13s}", flush=True)
        except Exception as exc:  # report and go on: one broken suite must not hide the rest
            print(f"{label:36s} FAILED: {type(exc).__name__}: {exc}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
