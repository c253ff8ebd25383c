"""Sketched least squares beside LAPACK (scipy gelsd/gelsy/gelss, numpy), the FWHT beside a
memory copy, and the sketch operators on one tall matrix.

Issue targets: n = 2**20, d = 50: sketch-and-solve at eps = 0.1 at least 3x faster than the
fastest LAPACK driver; n = 2**18, d = 500: sketch-and-precondition to 1e-10 at least 1.5x
faster; FWHT of 2**20 x 64 within 3x of a memory-bandwidth estimate (two streaming passes,
each reading and writing the block: time_copy x 2). One run per benchmark: the problems are
large (400 MB and 1 GB): on 2 shared cores a LAPACK solve of the 2**18 x 500 problem takes
20-40 s, so the suite needs several minutes even with ``--quick``.
"""

import numpy as np
import scipy.linalg

import nla
from nla.sketching import fwht


def _problem(n, d, decay, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    A *= np.logspace(0, -decay, d)
    b = A @ rng.standard_normal(d) + rng.standard_normal(n)
    return A, b


class _Lstsq:
    timeout = 300
    number = 1
    repeat = 1
    warmup_time = 0

    def time_scipy_gelsd(self):
        scipy.linalg.lstsq(self.A, self.b, lapack_driver="gelsd", check_finite=False)

    def time_scipy_gelsy(self):
        scipy.linalg.lstsq(self.A, self.b, lapack_driver="gelsy", check_finite=False)

    def time_scipy_gelss(self):
        scipy.linalg.lstsq(self.A, self.b, lapack_driver="gelss", check_finite=False)

    def time_numpy_lstsq(self):
        np.linalg.lstsq(self.A, self.b, rcond=None)


class LstsqSketchTall(_Lstsq):
    """n = 2**20, d = 50: sketch-and-solve (SRHT, eps = 0.1, delta = 0.01) vs LAPACK."""

    def setup(self):
        self.A, self.b = _problem(2**20, 50, 2)
        nla.lstsq(self.A[:4096], self.b[:4096], sketch_size=400, random_state=0)  # compile

    def time_nla_sketch(self):
        nla.lstsq(self.A, self.b, method="sketch", eps=0.1, random_state=0)


class LstsqPrecondition(_Lstsq):
    """n = 2**18, d = 500: sketch-and-precondition (sparse sign, m = 12 d) to tol 1e-12."""

    def setup(self):
        self.A, self.b = _problem(2**18, 500, 2)
        nla.lstsq(self.A[:8192, :50], self.b[:8192], method="precondition", random_state=0)

    def time_nla_precondition(self):
        nla.lstsq(self.A, self.b, method="precondition", tol=1e-12, random_state=0)


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
