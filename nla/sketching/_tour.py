"""Tour rows: sketch-and-solve and sketch-and-precondition beside LAPACK (scipy gelsd)."""

import numpy as np
import scipy.linalg

from .._tour import TourRow, timed
from ._lstsq import lstsq


def tall_problem(n, d, decay=2.0, seed=0):
    """Tall ``A`` (singular values spread over ``10**-decay``) and a noisy right-hand side."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)) * np.logspace(0, -decay, d)
    return A, A @ rng.standard_normal(d) + rng.standard_normal(n)


def rows():
    lstsq(*tall_problem(4096, 8), sketch_size=200, random_state=0)  # compile outside timings
    lstsq(*tall_problem(4096, 8), method="precondition", random_state=0)

    n, d = 1 << 17, 20
    A, b = tall_problem(n, d)
    t_ref, x_ref = timed(lambda: scipy.linalg.lstsq(A, b, lapack_driver="gelsd")[0])
    t, res = timed(lstsq, A, b, method="sketch", eps=0.5, random_state=0)
    err = np.abs(res.x - x_ref).max()
    yield TourRow("lstsq sketch-and-solve (SRHT)", f"{n}x{d}, m={res.sketch_size}",
                  f"linf err {err:.1e} <= bound {res.linf_bound:.1e}", t, "scipy gelsd", t_ref)

    n, d = 1 << 14, 128
    A, b = tall_problem(n, d, decay=4.0)
    t_ref, x_ref = timed(lambda: scipy.linalg.lstsq(A, b, lapack_driver="gelsd")[0])
    t, res = timed(lstsq, A, b, method="precondition", random_state=0)
    rel = np.linalg.norm(res.x - x_ref) / np.linalg.norm(x_ref)
    yield TourRow("lstsq sketch-and-precondition", f"{n}x{d}, {res.n_iter} CG steps",
                  f"rel err {rel:.1e}", t, "scipy gelsd", t_ref)
