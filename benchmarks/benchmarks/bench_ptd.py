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

``track_speedup*`` is the peer's seconds over nla's in the same process; the accuracy tracks
are the relative error against the peer (transfer function, sigma_min on the SVD subset) and,
for PTD, kappa(V), ||E||_F / ||A||_F and the backward error of the computed diagonalization
``||V diag(lambda) V^-1 - (A + E)||_F / ||A + E||_F`` (recomputed here, not read from ``info``).
Frequencies and grid points scale with ``NLA_BENCH_SCALE``.
"""

import time

import numpy as np
from threadpoolctl import threadpool_limits

import nla
from nla.ssm import _kernels
from nla.ssm._tour import adam_reference

from ._common import rel_error, scaled, speedup, track


def _cauchy_numpy(lam, w, s, chunk=10_000):
    out = np.empty(s.shape[0], dtype=complex)
    for i in range(0, s.shape[0], chunk):
        out[i:i + chunk] = (w / (s[i:i + chunk, None] - lam[None, :])).sum(axis=1)
    return out


class TransferFunction:
    version = "1"
    timeout = 300

    def setup(self):
        rng = np.random.default_rng(0)
        N, M = 256, scaled(100_000, 1_000)
        self.lam = -rng.random(N) - 0.5 + 1j * rng.standard_normal(N) * N * N / 3
        self.b = rng.standard_normal(N) + 1j * rng.standard_normal(N)
        self.c = rng.standard_normal(N) + 1j * rng.standard_normal(N)
        self.s = 1j * np.geomspace(1e-2, 4.0 * N * N, M)
        nla.transfer_function(self.lam, self.b, self.c, self.s[:64])    # compile

    def time_nla(self):
        nla.transfer_function(self.lam, self.b, self.c, self.s)

    def time_numpy_broadcast(self):
        _cauchy_numpy(self.lam, self.c * self.b, self.s)

    @track("peer/nla")
    def track_speedup(self):
        return speedup(lambda: nla.transfer_function(self.lam, self.b, self.c, self.s),
                       lambda: _cauchy_numpy(self.lam, self.c * self.b, self.s))

    @track("relative error")
    def track_rel_error(self):
        return rel_error(nla.transfer_function(self.lam, self.b, self.c, self.s),
                         _cauchy_numpy(self.lam, self.c * self.b, self.s))


def diagonalization_backward_error(A, out):
    """||V diag(lambda) V^-1 - (A + E)||_F / ||A + E||_F of a ``nla.ptd`` result."""
    B = A + out.E
    return float(np.linalg.norm((out.V * out.eigenvalues) @ out.V_inv - B) / np.linalg.norm(B))


class PerturbThenDiagonalize:
    params = [64, 256]
    param_names = ["N"]
    version = "1"
    timeout = 600
    number = 1
    repeat = 1

    def setup_cache(self):
        """One optimisation per N, shared by the accuracy tracks (N = 256 takes tens of s)."""
        return {N: nla.ptd(nla.hippo(N).A, gamma=0.2, random_state=0) for N in self.params}

    def setup(self, out, N):
        self.A = nla.hippo(N).A

    def time_ptd_optimize(self, out, N):
        nla.ptd(self.A, gamma=0.2, random_state=0)

    def time_ptd_random(self, out, N):
        nla.ptd(self.A, method="random", eps=0.05, random_state=0)

    def track_kappa_optimize(self, out, N):
        return out[N].info.kappa

    track_kappa_optimize.unit = "kappa(V)"

    @track("||E||_F / ||A||_F")
    def track_rel_norm_E_optimize(self, out, N):
        return float(np.linalg.norm(out[N].E) / np.linalg.norm(self.A))

    @track("relative backward error")
    def track_backward_error_optimize(self, out, N):
        return diagonalization_backward_error(self.A, out[N])


class PerturbThenDiagonalizeReference:
    params = [32, 64]
    param_names = ["N"]
    version = "1"
    timeout = 600
    number = 1
    repeat = 1

    def setup(self, N):
        self.A = nla.hippo(N).A

    def time_ptd_optimize(self, N):
        nla.ptd(self.A, gamma=0.2, random_state=0)

    def time_adam_reference(self, N):
        adam_reference(self.A)

    @track("peer/nla")
    def track_speedup(self, N):
        return speedup(lambda: nla.ptd(self.A, gamma=0.2, random_state=0),
                       lambda: adam_reference(self.A), repeat=1)


class Pseudospectrum:
    version = "1"
    timeout = 600
    number = 1
    repeat = 1

    def setup(self):
        self.A = nla.hippo(128).A
        side = max(20, round(200 * min(1.0, float(scaled(10**6)) / 10**6) ** 0.5))
        x, y = np.meshgrid(np.linspace(-150, 10, side), np.linspace(-100, 100, side))
        self.grid = x + 1j * y
        nla.pseudospectrum(self.A, self.grid[:2, :2])                    # compile

    def time_nla(self):
        nla.pseudospectrum(self.A, self.grid)

    def _svd_loop_seconds(self):
        subset = self.grid.ravel()[::100]
        with threadpool_limits(1, user_api="blas"):
            start = time.perf_counter()
            _kernels.sigma_min_svd(self.A, subset)
            elapsed = time.perf_counter() - start
        return elapsed * self.grid.size / subset.size

    @track("seconds")
    def track_svd_loop_extrapolated(self):
        return self._svd_loop_seconds()

    @track("peer/nla")
    def track_speedup_vs_svd_loop(self):
        """Extrapolated SVD-loop seconds over nla's, measured one after the other here."""
        start = time.perf_counter()
        nla.pseudospectrum(self.A, self.grid)
        return self._svd_loop_seconds() / (time.perf_counter() - start)

    @track("relative error")
    def track_rel_error_vs_svd(self):
        """sigma_min at the SVD loop's points (every 100th) against the dense SVDs."""
        subset = self.grid.ravel()[::100]
        return rel_error(nla.pseudospectrum(self.A, subset[None, :]).sigma_min.ravel(),
                         _kernels.sigma_min_svd(self.A, subset))
