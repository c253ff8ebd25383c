"""The FWHT beside a memory copy, and the sketch operators beside their explicit matrices.

Targets: FWHT of 2**20 x 64 within 3x of a memory-bandwidth estimate (two streaming passes,
each reading and writing the block: ``track_copy_bound`` = 2 time_copy / time_fwht >= 1/3);
Gaussian sketch entries generated at least 3x faster than NumPy's ``standard_normal`` on one
thread (``GaussianEntries.track_speedup`` >= 3).
The least-squares benchmarks (sketch, precondition and auto beside LAPACK) are in
bench_lstsq.py. Sizes scale with NLA_BENCH_SCALE (1: the sizes above).
"""

import numpy as np

import nla
from nla import _random
from nla._threads import threads_for
from nla.sketching import fwht

from ._common import best_seconds, rel_error, scaled, speedup, track


def _power_of_two(n):
    return 1 << max(1, int(n).bit_length() - 1)


class FWHT:
    """Unnormalised FWHT of a 2**20 x 64 float64 block (512 MB) beside a copy of it."""

    version = "1"
    timeout = 120
    number = 1
    repeat = 3
    warmup_time = 0

    def setup(self):
        n = _power_of_two(scaled(2**20, 2**12))
        self.Y = np.random.default_rng(0).standard_normal((n, 64))
        self.Z = self.Y.copy()  # touched, so the copy is not timing page faults
        fwht(self.Z[:4096])  # compile

    def time_fwht(self):
        fwht(self.Y)   # in place: each call scales Y by about 2**10 (H H = N I), far from overflow

    def time_copy(self):
        np.copyto(self.Z, self.Y)

    @track("2 copy / fwht")
    def track_copy_bound(self):
        t_fwht = best_seconds(lambda: fwht(self.Y))[0]
        t_copy = best_seconds(lambda: np.copyto(self.Z, self.Y))[0]
        return 2 * t_copy / t_fwht

    @track("relative error")
    def track_rel_error(self):
        """Against the Sylvester-Hadamard matrix times the first 2**10 rows' block."""
        n = 2**10
        H = np.ones((1, 1))
        while H.shape[0] < n:
            H = np.block([[H, H], [H, -H]])
        X = self.Y[:n].copy()   # fwht works in place
        return rel_error(fwht(X.copy()), H @ X)


class SketchApply:
    """S @ A for a 2**18 x 50 matrix, m = 1000, each sketch kind, beside a dense m x n product.

    The peer is what a plain dense sketch costs: BLAS ``G @ A`` with an explicit m x n matrix
    ``G`` (generated beforehand, not timed). The accuracy track applies a small operator of the
    same kind to a block of ``A`` and compares with its explicit matrix.
    """

    params = ["gaussian", "srht", "countsketch", "sparse_sign", "hgp"]
    param_names = ["kind"]
    version = "1"
    timeout = 300
    number = 1
    repeat = 3
    warmup_time = 0

    def setup(self, kind):
        n, m = scaled(2**18, 2**12), 1000
        rng = np.random.default_rng(0)
        self.A = rng.standard_normal((n, 50))
        self.S = nla.sketch(kind, m, n, random_state=0)
        nla.sketch(kind, 64, 256, random_state=0) @ self.A[:256]  # compile
        self.G = rng.standard_normal((m, n))

    def time_apply(self, kind):
        self.S @ self.A

    @track("dense/nla")
    def track_speedup_vs_dense(self, kind):
        return speedup(lambda: self.S @ self.A, lambda: self.G @ self.A)

    @track("relative error")
    def track_rel_error(self, kind):
        S = nla.sketch(kind, 64, 2**12, random_state=1)
        B = self.A[:2**12]
        return rel_error(S @ B, S.todense() @ B)


class GaussianEntries:
    """A 2048 x 2048 block of nla's counter-based Gaussians beside NumPy's ``standard_normal``.

    Both fill a preallocated float64 block (``standard_normal(out=...)``, one thread, its
    ziggurat): the cost of the numbers alone. nla runs on one thread (``track_speedup``) and
    on all of Numba's threads (``track_speedup_all_threads``, NumPy still on its one).
    """

    version = "1"
    timeout = 120
    number = 1
    repeat = 3
    warmup_time = 0

    def setup(self):
        self.out = np.empty((scaled(2048, 256), 2048))
        self.peer_out = np.empty_like(self.out)
        self.key = _random.stream_key(0, _random.STREAM_GAUSS)
        _random.gaussian_block_jit(self.key, 0, 0, self.out)  # compile, touch
        self.peer_out[:] = 0.0

    def _nla(self):
        _random.gaussian_block_jit(self.key, 0, 0, self.out)

    def _nla_one_thread(self):
        with threads_for(0, minimum=1):
            self._nla()

    def _numpy(self):
        np.random.default_rng(0).standard_normal(out=self.peer_out)

    def time_nla_one_thread(self):
        self._nla_one_thread()

    def time_numpy(self):
        self._numpy()

    @track("numpy/nla")
    def track_speedup(self):
        return speedup(self._nla_one_thread, self._numpy)

    @track("numpy/nla")
    def track_speedup_all_threads(self):
        return speedup(self._nla, self._numpy)

    @track("ulp of |z|")
    def track_error_vs_libm(self):
        """Largest difference from the textbook ``sqrt(-2 log u1) cos(2 pi u2)`` with NumPy's
        libm-style functions on the same uniforms, per unit radius, in units of 2**-53
        (the tests bound it by 36: both formulas' rounding)."""
        cols = np.arange(2**16, dtype=np.uint64)
        rows = np.zeros_like(cols)
        even = cols & ~np.uint64(1)
        u1 = _random.uniform_xp(np, self.key, rows, even) + 2.0**-53
        angle = 2 * np.pi * _random.uniform_xp(np, self.key, rows, even + np.uint64(1))
        r = np.sqrt(-2.0 * np.log(u1))
        textbook = r * np.where(cols % 2 == 1, np.sin(angle), np.cos(angle))
        z = _random.gaussian_xp(np, self.key, rows, cols)
        return float(np.max(np.abs(z - textbook) / r) / 2.0**-53)
