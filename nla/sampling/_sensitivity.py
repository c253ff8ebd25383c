"""l_p sensitivities: upper bounds (Lewis weights, leverage, well-conditioned basis), exact values.

The sensitivity of row ``i`` is ``s_i = sup_x |a_i x|^p / ||A x||_p^p`` (``0 <= s_i <= 1``).
Bounds used here (rank ``r``; proofs in the research note, section 1.1):

* ``p <= 2``: ``s_i <= w_i`` (Lewis weights; Cohen-Peng 2015) and ``s_i <= tau_i^(p/2)``
  (root leverage, from ``|a_i x|^2 <= tau_i ||A x||_2^2`` and ``||.||_2 <= ||.||_p``);
* ``p >= 2``: ``s_i <= r^(p/2 - 1) w_i`` (Cauchy-Schwarz in the Lewis metric, then Hoelder);
* any ``p``: ``s_i <= (sum_j |U_ij| beta_j)^p`` for a well-conditioned basis ``U`` with
  certified coordinate constants ``beta_j`` (``method='wcb'``, module ``_wcb``);
* always ``s_i <= 1``, so every bound is capped at 1.
"""

import numpy as np

from .._array import Origin, kernels, to_host
from .._dask import is_dask
from .._validation import check_choice, check_seed
from ._basis import check_p, engine_input, nonzero_rows, orthonormal_basis
from ._leverage import exact_leverage
from ._lewis import lewis_core
from ._wcb import wcb_bounds

#: ``method='exact'`` solves one l_p regression per row; refuse problems larger than this.
EXACT_MAX_ROWS = 5000

#: Lewis-weight accuracy used for sensitivity bounds; the bounds are multiplied by
#: ``exp(tol)``, which covers a weight that is off by the final fixed-point residual.
_LEWIS_TOL = 1e-6


def lp_sensitivities(A, p, *, method="lewis", random_state=None):
    """Upper bounds on (or exact values of) the ``l_p`` sensitivities of the rows of ``A``.

    Parameters
    ----------
    A : array-like, shape (n, d)
        Float32/float64 matrix; zero rows get sensitivity 0.
    p : float
        ``1 <= p <= 100`` (``P_MAX``: larger powers overflow float64).
    method : {'lewis', 'root_leverage', 'wcb', 'exact'}
        ``'lewis'``: ``w_i`` for ``p <= 2`` and ``r^(p/2-1) w_i`` for ``p > 2`` (``w`` the Lewis
        weights, ``r`` the rank); total at most ``r`` resp. ``r^(p/2)``.
        ``'root_leverage'`` (``p <= 2`` only): ``tau_i^(p/2)``; one QR, but a larger total.
        ``'wcb'`` (any ``p``): ``(sum_j |U_ij| beta_j)^p <= beta^p ||U_i||_p^p`` for a
        well-conditioned basis ``U = A X`` of ``col(A)`` (``X`` from a QR of a sparse ``l_p``
        sketch of ``A``, columns scaled to ``||U_j||_p = 1``) and certified constants
        ``beta_j >= sup{|z_j| : ||U z||_p <= 1}`` (duality certificates computed on all rows,
        see Notes); ``beta = ||(beta_j)||_q``, ``1/p + 1/q = 1``. Total at most
        ``(alpha beta)^p`` with ``alpha^p = sum_ij |U_ij|^p = r``; more precisely at most
        ``r^(p-1) sum_j beta_j^p <= r^p max_j beta_j^p``. Every ``beta_j >= 1``, with equality
        for an Auerbach basis; for the sketched basis ``beta_j`` is poly(r) (Dasgupta et al.
        2009). A valid bound whatever the sketch draws, but looser than ``'lewis'``: it is the
        classical baseline, at the cost of a sketch, a QR and a few passes over ``A``.
        ``'exact'``: ``s_i = 1 / min{||A x||_p^p : a_i x = 1}`` by one ``l_p`` regression per
        row (HiGHS for ``p = 1``, IRLS otherwise); only for ``n <= 5000`` (a test oracle).
    random_state : None, int, RandomState or Generator
        Seed of the sketch and row sample of ``method='wcb'`` (unused by the other methods).

    Returns
    -------
    ndarray, shape (n,)
        float64 values in ``[0, 1]`` in the caller's framework. For ``p = 2`` every method
        returns the leverage scores. For a row-chunked dask ``A`` (NumPy/CuPy chunks) a lazy dask
        array with ``A``'s row chunks: ``'lewis'`` runs the Lewis iteration's passes at the
        call (see :func:`lewis_weights`) and the bounds are elementwise on its persisted
        weights; ``'root_leverage'`` is the lazy leverage scores' power. ``'wcb'`` and
        ``'exact'`` raise ``ValueError`` on dask input.

    Notes
    -----
    The ``'wcb'`` certificate: for any ``v`` with ``U_k^T v = 0`` for all ``k != j``,
    Hoelder gives ``|v^T U_j| = |v^T U z| <= ||v||_q ||U z||_p`` for every ``z`` with
    ``z_j = 1``, so ``beta_j <= ||v||_q / |v^T U_j|``. ``v`` is the dual vector
    ``sign(r)|r|^(p-1)`` of an approximate minimiser of ``||U z||_p`` (fitted on a row sample),
    projected onto the constraint on all rows; the projection's rounding residue is added to
    ``beta_j`` explicitly. Then ``|u_i z| <= sum_j |U_ij| |z_j| <= (sum_j |U_ij| beta_j)
    ||U z||_p``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((60, 3))
    >>> bound = lp_sensitivities(A, 1.0)
    >>> exact = lp_sensitivities(A, 1.0, method="exact")
    >>> bool(np.all(exact <= bound + 1e-9)), bool(exact.sum() <= 3)
    (True, True)
    """
    origin = Origin(A)
    A, K, xp = engine_input(A)
    p = check_p(p)  # at most P_MAX: r^p and beta^p leave float64 (wcb at p ~ 700 for r = 3)
    method = check_choice(method, "method", {"lewis", "root_leverage", "wcb", "exact"})
    seed = check_seed(random_state)
    if is_dask(A) and method in ("wcb", "exact"):
        raise ValueError(f"method={method!r} is not available for a dask A (it needs every row "
                         f"for each certificate or regression); use method='lewis' or "
                         f"'root_leverage'")
    if method == "root_leverage" and p > 2:
        raise ValueError(f"method='root_leverage' bounds sensitivities only for p <= 2, "
                         f"got p = {p}")
    if method == "exact":
        if A.shape[0] > EXACT_MAX_ROWS:
            raise ValueError(f"method='exact' solves one regression per row and is limited to "
                             f"{EXACT_MAX_ROWS} rows, got {A.shape[0]}; use method='lewis'")
        s = exact_sensitivities(A, p, K, xp)
    elif method == "wcb" and p != 2.0:
        s = wcb_bounds(A, p, K, xp, seed)[0]
    else:
        s = sensitivity_bounds(A, p, K, xp, method)
    return origin.restore(s)


def sensitivity_bounds(A, p, K, xp, method="lewis", tol=_LEWIS_TOL):
    """Upper bounds (engine array) by ``method`` in {'lewis', 'root_leverage'}."""
    if method == "root_leverage" or p == 2.0:
        tau, _ = exact_leverage(A, K, xp)
        return xp.minimum(tau ** (0.5 * p), 1.0)
    res = lewis_core(A, p, K, xp, tol=tol, max_iter=1000, eta=4.0 / (p + 2.0))
    w = res.weights * np.exp(_distance_bound(p, max(res.residual, tol)))
    if p > 2:
        w = w * float(res.rank) ** (0.5 * p - 1.0)
    return xp.minimum(w, 1.0)


def _distance_bound(p, rho):
    """Bound on ``max |log w - log w*|`` from the fixed-point residual ``rho`` of ``w``.

    The Cohen-Peng map ``Phi`` contracts the log-sup distance by ``c = |1 - p/2|`` for
    ``p < 4``, and ``u - Phi(u) = (p/2)(u - log tau)``, so ``|u - u*| <= (p/2) rho / (1 - c)``:
    exactly ``rho`` for ``p <= 2`` and ``p rho / (4 - p)`` for ``2 < p < 4``. For ``p >= 4`` no
    contraction is proven; ``p rho`` is a heuristic margin (irrelevant at ``rho ~ 1e-6``).
    """
    if p <= 2:
        return rho
    return p * rho / (4.0 - p) if p < 4 else p * rho


def exact_sensitivities(A, p, K, xp):
    """``s_i = 1 / min{||U z||_p^p : u_i z = 1}`` row by row (host loop, small problems)."""
    from ._regression import solve_weighted

    n = A.shape[0]
    U, rank, _, _ = orthonormal_basis(A, K)
    U = to_host(U)
    mask = to_host(nonzero_rows(A, xp))
    s = np.zeros(n)
    ones = np.ones(n)
    solver = "highs" if p == 1.0 else "irls"
    hostK = kernels("sampling", "cpu")
    for i in np.flatnonzero(mask):
        u = U[i]
        c = u / (u @ u)  # the minimum-norm z with u_i z = 1 ...
        if rank == 1:
            best = hostK.lp_norm(U @ c, p, ones)
        else:  # ... plus any z in the orthogonal complement of u_i: an l_p regression
            N = np.linalg.svd(u[None, :])[2][1:].T
            fit = solve_weighted(U @ N, -(U @ c), p, ones, solver, hostK, np, tol=1e-14,
                                 max_iter=2000)
            best = hostK.lp_norm(U @ (c + N @ fit.x), p, ones)
        s[i] = min(1.0, best ** (-p))
    return xp.asarray(s) if xp is not np else s
