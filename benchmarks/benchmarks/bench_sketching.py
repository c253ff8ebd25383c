"""The FWHT beside a memory copy, and the sketch operators beside their explicit matrices.

Target: FWHT of 2**20 x 64 within 3x of a memory-bandwidth estimate (two streaming passes,
each reading and writing the block: ``track_copy_bound`` = 2 time_copy / time_fwht >= 1/3).
The least-squares benchmarks (sketch, precondition and auto beside LAPACK) are in
bench_lstsq.py. Sizes scale with NLA_BENCH_SCALE (1: the sizes above).
"""

import numpy as np

import nla
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
