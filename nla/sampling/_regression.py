"""l_p regression ``min_x ||A x - b||_p`` on the full data or on a sensitivity sample.

Two solvers for the (weighted) problem ``min_x sum_i omega_i |a_i x - b_i|^p``:

* ``'highs'`` (p = 1): HiGHS on the dual linear program
  ``max b^T y  s.t.  A^T y = 0, |y_i| <= omega_i``; it has only ``d`` equality rows, and
  ``x`` is read off the duals (marginals) of those rows.
* ``'irls'`` (any p): iteratively reweighted least squares on an orthonormal basis of
  ``col(A)``, ``x <- argmin sum_i omega_i max(|r_i|, delta)^(p-2) (a_i x - b_i)^2``, with a
  backtracking line search on the true objective. The IRLS direction is the Newton direction
  scaled by ``p - 1``, so halving the step until the objective drops makes every iteration a
  descent step for all ``p`` (plain IRLS has no such guarantee for ``p > 2``); for ``p > 2``
  the search starts at the Newton step ``1 / (p - 1)``.
"""

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .._array import Origin, engine_of, kernels, namespaces, to_engine, to_host
from .._dask import check_rows, combine_rows, is_dask
from .._result import Result
from .._validation import (check_array, check_bool, check_choice, check_int, check_scalar,
                           check_seed, unit_scale)
from ._basis import _as_engine, check_p, orthonormal_basis

#: IRLS floors residuals at this fraction of the largest one (p < 2 weights |r|^(p-2) blow up).
_IRLS_DELTA = 1e-10


def lp_regression(A, b, p, *, sample=None, scheme="lewis", replace=False, solver="auto",
                  tol=1e-10, max_iter=200, random_state=None):
    """Solve ``min_x ||A x - b||_p`` on all rows or on an ``l_p`` sensitivity sample.

    With ``sample=m`` the rows of ``[A b]`` are scored (so the sample embeds every ``A x - b``),
    about ``m`` of them are drawn by :func:`sensitivity_sample`, and the reweighted small
    problem is solved. If the sample is a ``(1 +- eps)`` ``l_p`` subspace embedding of
    ``col([A b])``, the solution's full-data objective is within ``(1+eps)/(1-eps)`` of optimal.

    Parameters
    ----------
    A : array-like, shape (n, d)
    b : array-like, shape (n,)
    p : float
        ``1 <= p <= 100``.
    sample : None, int or LpSample
        ``None``: solve on all rows. An int ``m`` (``d + 1 <= m <= n``): expected sample size.
        An :class:`LpSample` (indices and weights) from :func:`sensitivity_sample` of ``[A b]``.
    scheme, replace :
        Passed to :func:`sensitivity_sample` when ``sample`` is an int.
    solver : {'auto', 'highs', 'irls'}
        ``'auto'`` is ``'highs'`` for ``p = 1`` and ``'irls'`` otherwise.
    tol : float
        IRLS stops when the relative decrease of the objective falls below ``tol``.
    max_iter : int
        IRLS iteration cap.
    random_state : None, int, RandomState or Generator
        Seed of the sample.

    A row-chunked dask ``A`` (or ``b``) needs ``sample`` as an int or an :class:`LpSample`:
    an int draws the sample with :func:`sensitivity_sample` of the dask ``[A b]`` (the same
    sample as in core for the same seed, see its Notes); only the rows ``A[indices]``,
    ``b[indices]`` are computed and gathered to the client, where the small problem is solved
    in core (CuPy chunks: by the CuPy path, ``x`` a CuPy array); ``objective`` is then one
    pass over the chunks. ``A`` and ``b`` must live on one device (``ValueError`` otherwise).
    The full-data solve (``sample=None``) on dask raises ``TypeError``.

    Returns
    -------
    Result
        ``x`` (caller's framework), ``objective`` (``||A x - b||_p`` on all rows),
        ``sample_objective`` (weighted objective on the solved rows), ``n_iter``,
        ``converged``, ``history`` (objective per IRLS iteration), ``solver``, ``sample``.

    Examples
    --------
    >>> import numpy as np
    >>> from nla import lp_regression
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((2000, 3))
    >>> b = A @ np.array([1.0, -2.0, 0.5]) + rng.standard_cauchy(2000)
    >>> full = lp_regression(A, b, 1)
    >>> sub = lp_regression(A, b, 1, sample=400, random_state=1)
    >>> bool(sub.objective <= 1.05 * full.objective)
    True
    """
    from ._sample import SCHEMES, LpSample, check_sample, sensitivity_sample

    if is_dask(A) or is_dask(b):
        return _on_dask(A, b, p, sample, scheme, replace, random_state, solver=solver, tol=tol,
                        max_iter=max_iter)
    origin = Origin(A)
    A = check_array(A, "A")
    b = check_array(b, "b", ndim=1)
    if b.shape[0] != A.shape[0]:
        raise ValueError(f"b must have {A.shape[0]} entries (one per row of A), got {b.shape[0]}")
    p = check_p(p)
    solver = check_choice(solver, "solver", {"auto", "highs", "irls"})
    if solver == "auto":
        solver = "highs" if p == 1.0 else "irls"
    if solver == "highs" and p != 1.0:
        raise ValueError(f"solver='highs' solves p = 1 only, got p = {p}")
    tol = check_scalar(tol, "tol", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", low=1)
    replace = check_bool(replace, "replace")
    random_state = check_seed(random_state)   # checked even when no sample is drawn
    # likewise, as sensitivity_sample checks it (the scores' length is checked when used)
    if isinstance(scheme, str):
        check_choice(scheme, "scheme", SCHEMES)
    else:
        check_array(scheme, "scheme", ndim=1)
    engine = engine_of(A, b)
    K = kernels("sampling", engine)
    xp = namespaces(engine)[0]
    A = A.astype(xp.float64, copy=False)
    b = b.astype(xp.float64, copy=False)
    n, d = A.shape
    if sample is None:
        rows, omega = None, xp.ones(n)
    else:
        if not isinstance(sample, LpSample):
            m = check_int(sample, "sample", low=d + 1, high=n)
            sample = sensitivity_sample(xp.concatenate([A, b[:, None]], axis=1), p, m,
                                        scheme=scheme, replace=replace,
                                        random_state=random_state)
        else:
            check_sample(sample, n, p)
        rows = xp.asarray(sample.indices)
        omega = xp.asarray(sample.weights, dtype=xp.float64)
        if rows.shape[0] and int(rows.max()) >= n:
            raise ValueError(f"sample indices exceed the {n} rows of A")
    # Solve for A / cA and b / cb (exact powers of two), so entries near 1e+-300 neither
    # overflow nor underflow: x = (cb / cA) x_scaled, objectives scale by cb.
    cA, cb = (unit_scale(max(float(v.max()), -float(v.min()))) for v in (A, b))
    A, b = A / cA, b / cb
    As, bs = (A, b) if rows is None else (A[rows], b[rows])
    fit = solve_weighted(As, bs, p, omega, solver, K, xp, tol=tol, max_iter=max_iter)
    x = fit.x
    fit.objective = cb * K.lp_norm(A @ x - b, p, xp.ones(n))
    fit.sample_objective = cb * fit.sample_objective
    fit.history = [cb * f for f in fit.history]
    with np.errstate(over="ignore"):
        x = (x * cb) / cA
    if not bool(xp.all(xp.isfinite(x))):
        raise FloatingPointError(f"the solution overflows float64 (A is about {cA:.3g}, b about "
                                 f"{cb:.3g}): rescale A or b")
    fit.x = origin.restore(x)
    fit.solver = solver
    fit.sample = sample
    return fit


def _on_dask(A, b, p, sample, scheme, replace, random_state, **options):
    """``lp_regression`` for a dask ``A`` or ``b``: only the sampled rows reach the client."""
    import dask
    import dask.array as da

    from ._sample import SCHEMES, LpSample, check_sample, sensitivity_sample

    A = check_rows(A, "A") if is_dask(A) else check_array(A, "A")
    n = A.shape[0]
    b = check_rows(b, "b", ndim=1) if is_dask(b) else check_array(b, "b", ndim=1)
    engine = engine_of(A)
    if engine_of(b) != engine:   # a copy of either side would hide a slow transfer
        raise ValueError(f"A and b must live on one device: A holds {engine.upper()} data, b "
                         f"does not (CuPy chunks beside NumPy ones); move one of them")
    if b.shape[0] != n:
        raise ValueError(f"b must have {n} entries (one per row of A), got {b.shape[0]}")
    # the in-memory one on the other's row chunks (whole rows: the blocks are paired by row)
    A = A if is_dask(A) else da.from_array(A, chunks=(b.chunks[0], -1))
    b = b if is_dask(b) else da.from_array(b, chunks=(A.chunks[0],))
    p = check_p(p)
    replace = check_bool(replace, "replace")
    random_state = check_seed(random_state)
    if isinstance(scheme, str):
        check_choice(scheme, "scheme", SCHEMES)
    elif not is_dask(scheme):
        check_array(scheme, "scheme", ndim=1)
    if sample is None:
        raise TypeError("on a dask A or b, sample must be an int m or an LpSample: the "
                        "full-data solve (sample=None) is not distributed yet")
    if isinstance(sample, LpSample):
        check_sample(sample, n, p)
    else:  # scores of [A b] on the cluster, the sample drawn as in core
        m = check_int(sample, "sample", low=A.shape[1] + 1, high=n)
        # b's chunks checked under b's name (the scores check [A b] as a whole, as A)
        bc = b.map_blocks(check_array, "b", ndim=1, min_size=0, dtype=b.dtype)
        Ab = da.concatenate([A, bc.rechunk({0: A.chunks[0]})[:, None]], axis=1)
        sample = sensitivity_sample(Ab.rechunk({1: -1}).astype(np.float64), p, m, scheme=scheme,
                                    replace=replace, random_state=random_state)
    rows = np.asarray(to_host(sample.indices), dtype=np.int64)
    if rows.size and int(rows.max()) >= n:
        raise ValueError(f"sample indices exceed the {n} rows of A")
    As, bs = dask.compute(A[rows].astype(np.float64), b[rows].astype(np.float64))
    # the small problem in core, on the gathered rows (weights kept, indices renumbered)
    sub = LpSample(indices=np.arange(rows.size), weights=sample.weights,
                   row_scale=sample.row_scale, probabilities=sample.probabilities)
    sub.update({k: sample[k] for k in ("p", "scheme", "replace", "expected_size")},
               n_rows=rows.size)
    fit = lp_regression(check_array(As, "A"), check_array(bs, "b", ndim=1), p, sample=sub,
                        **options)
    fit.objective = _dask_lp_norm(A, b, np.asarray(to_host(fit.x), dtype=np.float64), p, engine)
    fit.sample = sample
    return fit


def _dask_lp_norm(A, b, x, p, engine):
    """``||A x - b||_p`` over the chunks (one pass), each chunk summed on its own maximum."""
    return combine_rows(_lp_block, A, b, combine=lambda parts: _lp_combine(parts, p),
                        shared=(x, p, engine))


def _lp_block(row0, a, c, x, p, engine):
    xp = namespaces(engine)[0]
    a = to_engine(check_array(a, "A", min_size=0), engine)
    c = to_engine(check_array(c, "b", ndim=1, min_size=0), engine)
    r = xp.abs(a @ xp.asarray(x) - c)
    top = float(r.max()) if r.shape[0] else 0.0
    return top, float(xp.sum((r / top) ** p)) if top > 0 else 0.0


def _lp_combine(parts, p):
    top = max(t for t, _ in parts)
    if top == 0.0:
        return 0.0
    return top * sum(s * (t / top) ** p for t, s in parts) ** (1.0 / p)


def solve_weighted(A, b, p, omega, solver, K, xp, *, tol=1e-10, max_iter=200):
    """``argmin_x sum_i omega_i |a_i x - b_i|^p`` on engine arrays; a :class:`Result`."""
    if solver == "highs":
        x = lad_highs(to_host(A), to_host(b), to_host(omega))
        x = _as_engine(x, A)
        return Result(x=x, sample_objective=K.lp_norm(A @ x - b, 1.0, omega), n_iter=1,
                      converged=True, history=[])
    return irls(A, b, p, omega, K, xp, tol=tol, max_iter=max_iter)


def lad_highs(A, b, omega):
    """Weighted least absolute deviations by HiGHS on the dual LP (host arrays)."""
    m, d = A.shape
    # HiGHS drops matrix entries below 1e-9 and refuses ones above 1e15: each column scaled
    # by a power of two (x_j scales back exactly); a common factor of omega leaves x alone.
    col = np.array([unit_scale(v) for v in np.abs(A).max(axis=0)])
    omega = omega / unit_scale(omega.max())
    # HiGHS's reduced-cost tolerance is absolute: with b scaled by its largest entry, heavy
    # tails leave typical costs near the tolerance and it stops at a worse vertex (x off by
    # percents). Scale the costs by the median instead, capped so the largest stays < 2^40.
    mag = np.abs(b)
    cb = unit_scale(max(np.median(mag), mag.max() * 2.0**-40))
    res = linprog(-b / cb, A_eq=sp.csr_matrix((A / col).T), b_eq=np.zeros(d),
                  bounds=np.column_stack([-omega, omega]), method="highs",
                  options={"dual_feasibility_tolerance": 1e-10,
                           "primal_feasibility_tolerance": 1e-10})
    if res.status != 0:  # pragma: no cover - the dual LP is always feasible (y = 0) and bounded
        raise RuntimeError(f"HiGHS failed on the l_1 regression LP: {res.message}")
    # The equality duals are d(objective)/d(b_eq); for min -b^T y they equal -x.
    return -np.asarray(res.eqlin.marginals, dtype=np.float64) * cb / col


def irls(A, b, p, omega, K, xp, *, tol=1e-10, max_iter=200):
    """IRLS with backtracking (see the module docstring) on float64 engine arrays."""
    U, rank, _, X = orthonormal_basis(A, K)
    Ub = xp.concatenate([U, b[:, None]], axis=1)
    z = _weighted_ls(Ub, omega, K)
    f = K.lp_norm(U @ z - b, p, omega)
    history, converged, n_iter = [f], False, 0
    # For p > 2 the full IRLS step overshoots Newton's by p - 1 (at p = 3 exactly twice it, so
    # it hops across the minimum and stalls on the objective test with x off by 1e-6): start
    # the line search at the Newton step. For p < 2 it is a damped Newton step; keep it.
    t0 = 1.0 / (p - 1.0) if p > 2.0 else 1.0
    for n_iter in range(1, max_iter + 1):
        r = U @ z - b
        delta = max(_IRLS_DELTA * float(xp.max(xp.abs(r))), 1e-300)
        dz = _weighted_ls(Ub, K.irls_weights(r, p, omega, delta), K) - z
        # Within rounding of the optimum f stops resolving x (|x - x*| ~ sqrt(eps)); a step
        # that leaves f unchanged to rounding is still taken, as it carries x on to x*.
        t, f_new, f_ok = t0, np.inf, f * (1.0 + 4.0 * np.finfo(np.float64).eps)
        for _ in range(40):
            f_new = K.lp_norm(U @ (z + t * dz) - b, p, omega)
            if f_new <= f_ok:
                break
            t *= 0.5
        if not f_new <= f_ok:  # no descent along the IRLS direction: at the optimum to precision
            converged = True
            break
        z = z + t * dz
        decrease, f = f - f_new, f_new
        history.append(f)
        if decrease <= tol * f:
            converged = True
            break
    x = _as_engine(X, A) @ z
    return Result(x=x, sample_objective=f, n_iter=n_iter, converged=converged, history=history,
                  rank=rank)


def _weighted_ls(Ub, g, K):
    """``argmin_z sum g_i (u_i z - b_i)^2`` from one Gram matrix of ``[U b]``."""
    G = to_host(K.gram(Ub, g))
    z = np.linalg.lstsq(G[:-1, :-1], G[:-1, -1], rcond=None)[0]
    return _as_engine(z, Ub)
