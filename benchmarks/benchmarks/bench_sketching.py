"""The FWHT beside a memory copy, and the sketch operators on one tall matrix.

Target: FWHT of 2**20 x 64 within 3x of a memory-bandwidth estimate (two streaming passes,
each reading and writing the block: time_copy x 2). The least-squares benchmarks (sketch,
precondition and auto beside LAPACK) are in bench_lstsq.py.
"""

import numpy as np

import nla
from nla.sketching import fwht


class FWHT:
    """Unnormalised FWHT of a 2**20 x 64 float64 block (512 MB) beside a copy of it."""

    timeout = 120
    number = 1
    repeat = 3
    warmup_time = 0

    def setup(self):
        self.Y = np.random.default_rng(0).standard_normal((2**20, 64))
        self.Z = self.Y.copy()  # touched, so the copy is not timing page faults
        fwht(self.Z[:4096])  # compile

    def time_fwht(self):
        fwht(self.Y)

    def time_copy(self):
        np.copyto(self.Z, self.Y)


class SketchApply:
    """S @ A for a 2**18 x 50 matrix, m = 1000, each sketch kind (Gaussian: n m normals)."""

    params = ["gaussian", "srht", "countsketch", "sparse_sign", "hgp"]
    param_names = ["kind"]
    timeout = 120
    number = 1
    repeat = 3
    warmup_time = 0

    def setup(self, kind):
        n = 2**18
        self.A = np.random.default_rng(0).standard_normal((n, 50))
        self.S = nla.sketch(kind, 1000, n, random_state=0)
        nla.sketch(kind, 64, 256, random_state=0) @ self.A[:256]  # compile

    def time_apply(self, kind):
        self.S @ self.A
