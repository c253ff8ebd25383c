"""FunBaT: one training epoch of nla (Numba, per-coordinate message sums) vs plain NumPy.

Problem of the issue: N = 50,000 observations of a K = 3 continuous-indexed tensor (500
distinct real coordinates per mode), Tucker rank (3, 3, 3) and FunBaT-CP rank 3, Matérn-3/2.
The peer is a plain NumPy implementation of the same updates with the reference code's
per-observation message storage (N x r x r per mode, N x R x R for the core) and a Python-loop
Kalman smoother (``nla.funbat._reference``). Both start from the same state and compute the
same epoch (they agree to rounding; see tests/test_funbat.py).

``FunBaTAgreement`` tracks the peer's epoch seconds over nla's (same process) and the relative
difference of the two epochs' factor means from one start; ``FunBaTFit`` the test RMSE of a
10-epoch fit against the noise-free function. N scales with ``NLA_BENCH_SCALE``.

Run ``python benchmarks/benchmarks/bench_funbat.py`` for the epochs/s table of the docs and
``python benchmarks/benchmarks/bench_funbat.py --large`` for the N = 10^6 fit time.
"""

import sys
import time

import numpy as np

from nla.funbat import FunBaT, _kernels, _model
from nla.funbat._reference import ReferenceFunBaT
from nla.funbat._tour import tucker3_data

try:
    from ._common import SCALE, best_seconds, rel_error, speedup, track
except ImportError:  # run as a script from this folder
    from _common import SCALE, best_seconds, rel_error, speedup, track

N = max(2_000, int(50_000 * SCALE))
K = 3
RANK = 3
J = 500
DAMPING = (0.5, 0.5, 0.5)


def make_data(n=N, n_unique=J, seed=0):
    """Noisy observations of a Tucker-(2,2,2) function, n_unique coordinates per mode."""
    X, y, _ = tucker3_data(np.random.default_rng(seed), n, n_unique=n_unique)
    return X, y


def prepared(variant, n=N, seed=0):
    """(problem, initial state) as ``FunBaT.fit`` builds them (coordinates in [0, 1])."""
    X, y = make_data(n, seed=seed)
    y = y / np.sqrt(np.mean(y ** 2))
    prob = _model.build_problem(X, y, (RANK,) * K, ["matern32"] * K, (0.1,) * K, (1.0,) * K,
                                variant == "cp", _kernels)
    return prob, _model.initial_state(prob, seed, 100.0, _kernels)


class FunBaTEpoch:
    """Time and peak memory of one epoch (factors, core, noise) at N = 50,000, K = 3, rank 3."""

    params = (["tucker", "cp"], ["nla", "numpy-per-observation"])
    param_names = ["variant", "implementation"]
    version = "1"
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, variant, implementation):
        self.prob, self.state = prepared(variant)
        if implementation == "nla":
            _model.run_epoch(self.prob, self.state, DAMPING, True, True, 1.0, _kernels)  # compile
            self.step = lambda: _model.run_epoch(self.prob, self.state, DAMPING, True, True,
                                                 1.0, _kernels)
        else:
            ref = ReferenceFunBaT(self.prob, self.state, DAMPING)
            self.step = lambda: ref.epoch(True)

    def time_epoch(self, variant, implementation):
        self.step()

    def peakmem_epoch(self, variant, implementation):
        self.step()


class FunBaTAgreement:
    """nla's epoch beside the per-observation NumPy epoch: speed ratio and agreement."""

    params = (["tucker", "cp"],)
    param_names = ["variant"]
    version = "1"
    timeout = 600

    def setup(self, variant):
        self.prob, self.fast = prepared(variant)
        self.slow = prepared(variant)[1]
        self.ref = ReferenceFunBaT(self.prob, self.slow, DAMPING)
        self._nla()  # compile

    def _nla(self):
        _model.run_epoch(self.prob, self.fast, DAMPING, True, True, 1.0, _kernels)

    @track("peer/nla")
    def track_speedup(self, variant):
        return speedup(self._nla, lambda: self.ref.epoch(True), repeat=2)

    @track("relative error")
    def track_rel_diff_factor_means(self, variant):
        """One epoch of each from the same fresh start; equal up to rounding."""
        prob, fast = prepared(variant)
        slow = prepared(variant)[1]
        _model.run_epoch(prob, fast, DAMPING, True, True, 1.0, _kernels)
        ReferenceFunBaT(prob, slow, DAMPING).epoch(True)
        return rel_error(fast.m_all, slow.m_all)


class FunBaTFit:
    """FunBaT.fit, 10 epochs on N noisy observations; RMSE on 2000 held-out observations."""

    params = (["tucker", "cp"],)
    param_names = ["variant"]
    version = "1"
    timeout = 600

    def setup(self, variant):
        self.cp = variant == "cp"
        X, y, f = tucker3_data(np.random.default_rng(0), N + 2_000, n_unique=J)
        self.X, self.y, self.X_test, self.f_test = X[:N], y[:N], X[N:], f[N:]  # one function
        self._fit(X[:500], y[:500])  # compile

    def _fit(self, X, y):
        return FunBaT(rank=RANK, cp=self.cp, n_epochs=10, random_state=0).fit(X, y)

    def time_fit(self, variant):
        self._fit(self.X, self.y)

    @track("RMSE")
    def track_test_rmse(self, variant):
        """Against the noise-free values (noise sd 0.05 in y)."""
        pred = self._fit(self.X, self.y).predict(self.X_test)
        return float(np.sqrt(np.mean((pred - self.f_test) ** 2)))


def epochs_per_second(variant, implementation, repeat=3):
    bench = FunBaTEpoch()
    bench.setup(variant, implementation)
    return 1.0 / best_seconds(bench.step, repeat)[0]


if __name__ == "__main__":
    if "--large" in sys.argv:
        for variant in ("tucker", "cp"):
            X, y = make_data(1_000_000, n_unique=1000, seed=1)
            FunBaT(rank=RANK, cp=variant == "cp", n_epochs=1, random_state=0).fit(X[:1000],
                                                                                  y[:1000])
            start = time.perf_counter()
            model = FunBaT(rank=RANK, cp=variant == "cp", n_epochs=10, random_state=0).fit(X, y)
            seconds = time.perf_counter() - start
            rmse = model.history_["train_rmse"][-1]
            print(f"N=1e6 K=3 rank 3 {variant}: 10 epochs in {seconds:.1f} s "
                  f"({seconds / 10:.2f} s/epoch), train RMSE {rmse:.4f}")
        sys.exit()
    print(f"N={N} K={K} rank={RANK}: epochs per second (best of 3)")
    for variant in ("tucker", "cp"):
        fast = epochs_per_second(variant, "nla")
        slow = epochs_per_second(variant, "numpy-per-observation")
        print(f"{variant:7s} nla {fast:8.2f}   numpy per-observation {slow:8.3f}   "
              f"ratio {fast / slow:6.1f}x")
