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
    n, d = 1 << 17, 20
    A, b = tall_problem(n, d)
    t_ref, x_ref = timed(lambda: scipy.linalg.lstsq(A, b, lapack_driver="gelsd")[0])
    t, res = timed(lstsq, A, b, method="sketch", eps=0.5, random_state=0)
    err = np.abs(res.x - x_ref).max()
    yield TourRow("lstsq sketch-and-solve (SRHT)", f"{n}x{d}, m={res.sketch_size}",
                  f"linf err {err / np.max(res.linf_bound):.2f} of its bound", t,
                  "scipy gelsd", t_ref,
                  metric="max_i |x_i - x*_i| against the exact least-squares x*, as a fraction "
                  "of the guaranteed l_inf bound eps / sqrt(d) ||A x* - b|| ||A^+|| (eps=0.5; "
                  "at most 1 with probability 0.99)")

    n, d = 1 << 14, 128
    A, b = tall_problem(n, d, decay=4.0)
    t_ref, x_ref = timed(lambda: scipy.linalg.lstsq(A, b, lapack_driver="gelsd")[0])
    t, res = timed(lstsq, A, b, method="precondition", random_state=0)
    rel = np.linalg.norm(res.x - x_ref) / np.linalg.norm(x_ref)
    yield TourRow("lstsq sketch-and-precondition", f"{n}x{d}, {res.n_iter} CG steps",
                  f"rel err {rel:.0e}", t, "scipy gelsd", t_ref,
                  metric="||x - x*|| / ||x*|| against scipy's x* (full working accuracy)")
