"""ptd area: transfer functions, perturb-then-diagonalize and pseudospectra, beside their peers.

* Transfer function of an N = 256 diagonal system at 1e5 frequencies: nla's Numba Cauchy
  kernel vs the NumPy broadcast implementation (chunked, so memory stays bounded).
* ``nla.ptd`` (L-BFGS on kappa(V) + gamma ||E||_F) on HiPPO-LegS at N = 64 and 256, and the
  random baseline. No peer library exists; the reference code's optimiser (Adam, 3000 steps on
  kappa^2 + ||E||_F, ``nla.ssm._tour.adam_reference``) is timed at N = 32 and 64 (at N = 256 it
  would take minutes per run).
* Pseudospectrum of LegS N = 128 on a 200 x 200 grid: nla (Schur + inverse Lanczos, parallel)
  vs a per-point dense SVD loop. The SVD loop runs on 400 of the 40 000 points (every 100th)
  and ``track_svd_loop_extrapolated`` reports its time times 100; BLAS is pinned to one thread
  for it, its fastest setting for a loop of small SVDs on a shared machine.
"""

import time

import numpy as np
from threadpoolctl import threadpool_limits

import nla
from nla.ssm import _kernels
from nla.ssm._tour import adam_reference


def _cauchy_numpy(lam, w, s, chunk=10_000):
    out = np.empty(s.shape[0], dtype=complex)
    for i in range(0, s.shape[0], chunk):
        out[i:i + chunk] = (w / (s[i:i + chunk, None] - lam[None, :])).sum(axis=1)
    return out


class TransferFunction:
    timeout = 300

    def setup(self):
        rng = np.random.default_rng(0)
        N, M = 256, 100_000
        self.lam = -rng.random(N) - 0.5 + 1j * rng.standard_normal(N) * N * N / 3
        self.b = rng.standard_normal(N) + 1j * rng.standard_normal(N)
        self.c = rng.standard_normal(N) + 1j * rng.standard_normal(N)
        self.s = 1j * np.geomspace(1e-2, 4.0 * N * N, M)
        nla.transfer_function(self.lam, self.b, self.c, self.s[:64])    # compile

    def time_nla(self):
        nla.transfer_function(self.lam, self.b, self.c, self.s)

    def time_numpy_broadcast(self):
        _cauchy_numpy(self.lam, self.c * self.b, self.s)


class PerturbThenDiagonalize:
    params = [64, 256]
    param_names = ["N"]
    timeout = 600
    number = 1
    repeat = 1

    def setup(self, N):
        self.A = nla.hippo(N).A

    def time_ptd_optimize(self, N):
        nla.ptd(self.A, gamma=0.2, random_state=0)

    def time_ptd_random(self, N):
        nla.ptd(self.A, method="random", eps=0.05, random_state=0)

    def track_kappa_optimize(self, N):
        return nla.ptd(self.A, gamma=0.2, random_state=0).info.kappa

    track_kappa_optimize.unit = "kappa(V)"


class PerturbThenDiagonalizeReference:
    params = [32, 64]
    param_names = ["N"]
    timeout = 600
    number = 1
    repeat = 1

    def setup(self, N):
        self.A = nla.hippo(N).A

    def time_ptd_optimize(self, N):
        nla.ptd(self.A, gamma=0.2, random_state=0)

    def time_adam_reference(self, N):
        adam_reference(self.A)


class Pseudospectrum:
    timeout = 600
    number = 1
    repeat = 1

    def setup(self):
        self.A = nla.hippo(128).A
        x, y = np.meshgrid(np.linspace(-150, 10, 200), np.linspace(-100, 100, 200))
        self.grid = x + 1j * y
        nla.pseudospectrum(self.A, self.grid[:2, :2])                    # compile

    def time_nla(self):
        nla.pseudospectrum(self.A, self.grid)

    def track_svd_loop_extrapolated(self):
        subset = self.grid.ravel()[::100]
        with threadpool_limits(1, user_api="blas"):
            start = time.perf_counter()
            _kernels.sigma_min_svd(self.A, subset)
            elapsed = time.perf_counter() - start
        return elapsed * self.grid.size / subset.size

    track_svd_loop_extrapolated.unit = "seconds"
