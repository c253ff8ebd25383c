"""Tour rows of the sampling area: l_1 regression on a Lewis-weight sample vs full-data solvers."""

import numpy as np

from .._tour import TourRow, timed


def lad_problem(n, d, seed=0):
    """Least-absolute-deviations test data: heavy-tailed row scales, Cauchy noise, 1% outliers.

    Rows are Gaussian times ``exp(N(0, 1))``, ``b = A x* + 0.5 Cauchy``, and 1% of ``b`` is
    shifted by ``100 N(0, 1)`` (the research note's section 3.5 generator).
    """
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)) * np.exp(rng.standard_normal((n, 1)))
    b = A @ rng.standard_normal(d) + 0.5 * rng.standard_cauchy(n)
    out = rng.choice(n, n // 100, replace=False)
    b[out] += 100.0 * rng.standard_normal(out.size)
    return A, b


def rows():
    """One row: l_1 regression (n = 20000, d = 10) on a 2000-row Lewis sample vs QuantReg."""
    from . import lp_regression

    n, d, m = 20_000, 10, 2_000
    A, b = lad_problem(n, d)
    t_nla, fit = timed(lp_regression, A, b, 1.0, sample=m, random_state=0)
    try:
        import statsmodels.api as sm
    except ImportError:  # pragma: no cover - statsmodels is a test dependency
        peer, t_peer, best = "scipy linprog (HiGHS, dual LP)", None, None
    else:
        peer = "statsmodels QuantReg"
        t_peer, res = timed(lambda: sm.QuantReg(b, A).fit(q=0.5))
        best = float(np.abs(A @ res.params - b).sum())
    if t_peer is None:
        t_peer, full = timed(lp_regression, A, b, 1.0)
        best = full.objective
    yield TourRow("l1 regression on a Lewis sample", f"{n}x{d}, m={m}",
                  f"objective {fit.objective / best:.4f}x optimal", t_nla, peer, t_peer,
                  metric="l1 objective sum |A x - b| of the solution from the sample, over "
                  "that of the full-data solver (1 = optimal)")
