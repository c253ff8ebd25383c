"""Sketched least squares: sketch-and-solve with the l_inf guarantee, sketch-and-precondition.

The driver is written once against the engine's array namespace (``K.xp``: NumPy or CuPy);
sketches and the one-pass normal-equation product come from the engine's kernels.
"""

import math
import warnings

import numpy as np
from scipy.special import stdtrit

from .._array import Origin, engine_of, kernels, to_host
from .._result import Result
from .._threads import one_blas_thread
from .._validation import (check_array, check_choice, check_finite, check_int, check_scalar,
                           check_seed)
from ._operators import KINDS, sketch as make_sketch

METHODS = ("sketch", "precondition", "exact")
#: Sketch rows per column of A for sketch-and-precondition: cond(A R^-1) is about
#: (sqrt(g) + 1) / (sqrt(g) - 1) = 1.8 for g = 12, so each CG step gains about a factor 3.4.
PRECONDITION_OVERSAMPLING = 12


class RankDeficientWarning(UserWarning):
    """The (sketched) matrix is numerically rank deficient; a minimum-norm solution is returned."""


def linf_sketch_size(d, eps, delta):
    """Rows a Gaussian sketch needs for the l_inf guarantee with parameter ``eps``.

    From the exact law of the Gaussian sketch-and-solve error (each coordinate is
    ``||r|| sqrt([(A^T A)^-1]_ii) T_nu / sqrt(nu)`` with ``T_nu`` Student-t, ``nu = m - d + 1``)
    and a union bound over the ``d`` coordinates: the smallest ``m`` with
    ``m >= d - 1 + d t_{nu, 1 - delta / (2 d)}**2 / eps**2``, about
    ``d + 2 d ln(2 d / delta) / eps**2``. No ``log**3 n`` factor: the paper's
    ``eps**-2 d log**3(n / delta)`` is an asymptotic rate whose literal value exceeds ``n``
    at practical sizes.
    """
    p = 1.0 - delta / (2 * d)
    m = d + math.ceil(2 * d * math.log(2 * d / delta) / eps**2)
    for _ in range(50):  # fixed point: the t quantile depends on m through nu
        t = float(stdtrit(m - d + 1, p))
        new = max(d + 2, math.ceil(d - 1 + d * t * t / eps**2))
        if new == m:
            break
        m = new
    return m


def linf_eps(m, d, delta):
    """The ``eps`` that ``m`` sketch rows guarantee (inverse of :func:`linf_sketch_size`)."""
    if m < d + 2:
        return math.inf
    t = float(stdtrit(m - d + 1, 1.0 - delta / (2 * d)))
    return math.sqrt(d * t * t / (m - d + 1))


def lstsq(A, b, *, method="sketch", sketch=None, sketch_size=None, eps=0.5, delta=0.01,
          tol=1e-12, maxiter=100, random_state=None):
    r"""Least squares ``min ||A x - b||_2`` for tall ``A`` by sketching.

    Parameters
    ----------
    A : array-like, shape (n, d)
        Dense float matrix (NumPy, CuPy, torch, ...); float32 stays float32.
    b : array-like, shape (n,) or (n, k)
        Right-hand side(s); all columns share one sketch.
    method : {'sketch', 'precondition', 'exact'}
        ``'sketch'``: sketch-and-solve, ``x' = argmin ||S A x - S b||``, with probability
        ``1 - delta`` ``||x' - x*||_inf <= eps / sqrt(d) * ||A x* - b|| * ||A^+||``.
        ``'precondition'``: sketch-and-precondition, ``S A = Q R``, then conjugate gradients on
        the normal equations of ``A R^-1`` (one fused pass over ``A`` per step), warm-started
        at the sketch-and-solve solution; full working accuracy. ``'exact'``: LAPACK gelsd.
    sketch : str, optional
        Sketch kind (see :func:`nla.sketch`). Default ``'srht'`` for ``'sketch'`` and
        ``'sparse_sign'`` for ``'precondition'``, on either engine. The
        sparse kinds are refused for ``'sketch'``: they have no l_inf guarantee.
    sketch_size : int, optional
        Rows ``m`` of the sketch, in ``[d, n]``. Default for ``'sketch'``:
        :func:`linf_sketch_size` ``(d, eps, delta)``; for ``'precondition'``:
        ``12 d`` (capped at ``n``).
    eps : float in (0, 1]
        Accuracy parameter of the l_inf guarantee (``'sketch'``; ignored if ``sketch_size``
        is given, the guaranteed ``eps`` of that size is reported instead).
    delta : float in (0, 1)
        Failure probability of the guarantee.
    tol : float
        ``'precondition'`` stops when the preconditioned normal-equation residual
        ``||R^-T A^T (b - A x)||`` falls below ``tol * ||b||`` (fitted values ``A x`` are then
        accurate to about ``tol`` relative), or when that residual stops decreasing because
        rounding (about ``eps * cond(A)``) has been reached; ``note`` says which.
    maxiter : int
        Iteration cap of ``'precondition'``.
    random_state : None, int, Generator or RandomState
        Seed of the sketch.

    Returns
    -------
    Result
        ``x``; ``residual_norm`` ``||A x - b||`` (per column for 2-D ``b``); ``method`` used;
        ``sketch``, ``sketch_size``; ``rank`` (numerical rank of ``S A``, or of ``A`` for
        ``'exact'``); ``eps`` guaranteed at ``sketch_size``; ``linf_bound``, an a-posteriori
        estimate of the bound on ``||x - x*||_inf`` (``||A^+||`` estimated by
        ``1 / sigma_min(S A)``); ``stderr`` (``'sketch'``: per-coordinate standard errors of
        the sketched solve); ``n_iter`` and ``converged`` (``'precondition'``); ``note`` (why a
        fallback happened, or '').

    Notes
    -----
    Problems too small to benefit (``n < 4 d``, or a default ``'sketch'`` size above
    ``n / 2``) are solved exactly with a ``note``. Rank deficiency of ``S A`` (hence of ``A``)
    is detected from the singular values of ``R`` and reported in ``rank`` with a
    :class:`RankDeficientWarning`; the minimum-norm solution is returned.

    Examples
    --------
    >>> import numpy as np
    >>> import nla
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((20000, 10)); b = A @ np.ones(10) + rng.standard_normal(20000)
    >>> res = nla.lstsq(A, b, method="precondition", random_state=0)
    >>> x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    >>> bool(np.allclose(res.x, x_ref, rtol=1e-10, atol=0)), res.converged
    (True, True)
    >>> res = nla.lstsq(A, b, method="sketch", eps=0.5, random_state=0)
    >>> res.sketch, res.sketch_size, bool(np.abs(res.x - x_ref).max() <= res.linf_bound)
    ('srht', 448, True)
    """
    origin = Origin(A)
    A = check_array(A, "A", finite=False)
    b_ndim = getattr(b, "ndim", np.ndim(b))
    if b_ndim not in (1, 2):
        raise ValueError(f"b must be 1-D or 2-D, got {b_ndim}-D")
    b = check_array(b, "b", ndim=b_ndim)
    engine = engine_of(A, b)
    n, d = A.shape
    if b.shape[0] != n:
        raise ValueError(f"b must have as many rows as A ({n}), got shape {tuple(b.shape)}")
    check_choice(method, "method", METHODS)
    eps = check_scalar(eps, "eps", low=0, high=1, low_open=True)
    delta = check_scalar(delta, "delta", low=0, high=1, low_open=True, high_open=True)
    tol = check_scalar(tol, "tol", low=0, high=1, low_open=True, high_open=True)
    maxiter = check_int(maxiter, "maxiter", low=1)
    K = kernels("sketching", engine)
    xp = K.xp
    if b.dtype != A.dtype:
        b = b.astype(np.promote_types(A.dtype, b.dtype))
        A = A.astype(b.dtype)
    B = b.reshape(n, -1)

    if sketch is None:
        sketch = "srht" if method == "sketch" else "sparse_sign"
    check_choice(sketch, "sketch", KINDS)
    if method == "sketch" and sketch in ("countsketch", "sparse_sign"):
        raise ValueError(f"sketch={sketch!r} has no l_inf guarantee for method='sketch' (a "
                         "residual row colliding with a heavy row of A shifts a coordinate "
                         "by the full error scale); use 'srht', 'gaussian' or 'hgp'")
    if method != "exact" and n < d:
        raise ValueError(f"method={method!r} needs an overdetermined A (n >= d), got shape "
                         f"{(n, d)}; use method='exact' for the minimum-norm solution")
    if sketch_size is not None:
        sketch_size = check_int(sketch_size, "sketch_size", low=d, high=n)

    note = ""
    if method != "exact" and n < 4 * d:
        note = f"n={n} < 4 d={4 * d}: too small to benefit from sketching, solved exactly"
        method = "exact"
    if method == "sketch" and sketch_size is None:
        sketch_size = linf_sketch_size(d, eps, delta)
        if 2 * sketch_size >= n:
            note = (f"the l_inf guarantee at eps={eps} needs sketch_size={sketch_size} >= "
                    f"n/2={n / 2}: solved exactly")
            method = "exact"
    if method == "precondition" and sketch_size is None:
        sketch_size = min(n, PRECONDITION_OVERSAMPLING * d)

    if method == "exact":
        check_finite(A, "A")
        x, rank = K.exact_lstsq(A, B)
        out = _finish(A, B, x, xp)
        out.update(method="exact", sketch=None, sketch_size=None, rank=rank, eps=0.0,
                   linf_bound=xp.zeros(B.shape[1]), stderr=None, n_iter=0, converged=True,
                   note=note)
        if rank < d:
            warnings.warn(f"A is rank deficient (rank {rank} < d={d}); the minimum-norm "
                          "solution is returned", RankDeficientWarning, stacklevel=2)
        return _restore(out, origin, b_ndim)

    S = make_sketch(sketch, sketch_size, n, random_state=check_seed(random_state),
                    dtype=A.dtype)
    if sketch == "gaussian":  # its cost is the random numbers: draw them once for [A | B]
        SAB = S @ xp.concatenate([A, B], axis=1)
    else:
        SAB = xp.concatenate([S @ A, S @ B], axis=1)
    m = sketch_size
    # One Householder QR of [SA | SB] (Q never formed): [[R, c], [0, rho]] holds R of SA,
    # c = Q^T SB and the sketched residuals rho.
    with one_blas_thread():
        T = xp.linalg.qr(SAB, mode="r")
        R, c = T[:d, :d], T[:d, d:]
        rss = (T[d:, d:] ** 2).sum(axis=0)
        U, s, Vt = xp.linalg.svd(R)
    s_host = to_host(s)
    cut = s_host[0] * max(m, d) * np.finfo(A.dtype).eps
    rank = int((s_host > cut).sum()) if s_host[0] > 0 else 0
    if rank < d:
        warnings.warn(f"the sketch S A is rank deficient (rank {rank} < d={d}), so A is too; "
                      "the minimum-norm solution is returned and the l_inf bound uses "
                      "sigma_rank", RankDeficientWarning, stacklevel=2)
    k = max(rank, 1)
    M = Vt[:k].T / s[:k] if rank else xp.zeros((d, 1), dtype=A.dtype)  # A = 0: x = 0
    # x = M y: M is the right preconditioner (d x k), y the preconditioned unknowns
    y = U[:, :k].T @ c                         # sketch-and-solve solution in y coordinates
    if rank < d:  # the part of c outside the numerical range adds to the sketched residual
        rss = rss + ((U[:, k:].T @ c) ** 2).sum(axis=0)
    sigma_min = float(s_host[k - 1]) if rank else math.inf
    out = Result(x=None, residual_norm=None, method=method, sketch=sketch, sketch_size=m,
                 rank=rank, eps=linf_eps(m, d, delta))

    if method == "sketch":
        x = M @ y
        res = _finish(A, B, x, xp)
        out.update(res)
        out.linf_bound = out.eps / math.sqrt(d) * res.residual_norm / sigma_min
        dof = max(m - k, 1)
        out.stderr = xp.sqrt((M * M).sum(axis=1)[:, None] * (rss / dof)[None, :])
        out.update(n_iter=0, converged=True, note=note)
        return _restore(out, origin, b_ndim)

    y, n_iter, status, rel = _preconditioned_cg(K, A, B, M, y, tol, maxiter)
    res = _finish(A, B, M @ y, xp)
    out.update(res)
    # ||x - x*|| <= ||M|| ||y - y*|| <= ||g|| / (sigma_min(S A) sigma_min(A M)^2), with
    # sigma_min(A M) about 1 - sqrt(k / m) for an oblivious subspace embedding of size m.
    gnorm = rel * to_host(xp.sqrt((B * B).sum(axis=0)))
    out.linf_bound = gnorm / sigma_min / max(1e-3, 1 - math.sqrt(k / m)) ** 2
    if status == "stagnated":
        note = (f"stopped at the attainable accuracy: relative gradient {rel.max():.1e} > "
                f"tol={tol} no longer decreases (cond(S A) = {s_host[0] / sigma_min:.1e})")
    out.update(stderr=None, n_iter=n_iter, converged=status != "maxiter",
               gradient_norm=rel, note=note)
    if status == "maxiter":
        warnings.warn(f"sketch-and-precondition did not reach tol={tol} in maxiter={maxiter} "
                      "iterations", RuntimeWarning, stacklevel=2)
    return _restore(out, origin, b_ndim)


def _preconditioned_cg(K, A, B, M, y, tol, maxiter):
    """CG on ``M^T A^T A M y = M^T A^T B`` (column by column, vectorised), from ``y``.

    The gradient is recomputed exactly (one fused pass) at each restart, so the stopping test
    never trusts a drifted recurrence. If a restart finds the true gradient not even halved
    since the previous one, rounding (about ``eps * cond(A)``) has been reached: stop there.

    Returns ``y, n_iter, status, relative gradient norms`` with status ``'tol'``,
    ``'stagnated'`` or ``'maxiter'``.
    """
    xp = K.xp
    bnorm = xp.sqrt((B * B).sum(axis=0))
    bnorm = xp.where(bnorm > 0, bnorm, 1)
    n_iter, previous = 0, None
    while True:
        g = M.T @ K.normal_residual(A, M @ y, B)
        gg = (g * g).sum(axis=0)
        rel = to_host(xp.sqrt(gg) / bnorm)
        if (rel <= tol).all():
            return y, n_iter, "tol", rel
        if previous is not None and (rel > 0.5 * previous).any():
            return y, n_iter, "stagnated", rel
        if n_iter >= maxiter:
            return y, n_iter, "maxiter", rel
        previous = rel
        p = g.copy()
        while n_iter < maxiter:
            w = -(M.T @ K.normal_residual(A, M @ p))
            n_iter += 1
            pw = (p * w).sum(axis=0)
            alpha = xp.where(pw > 0, gg / xp.where(pw > 0, pw, 1), 0)
            y = y + alpha * p
            g = g - alpha * w
            gg_new = (g * g).sum(axis=0)
            if bool((xp.sqrt(gg_new) <= tol * bnorm).all()):
                break
            p = g + xp.where(gg > 0, gg_new / xp.where(gg > 0, gg, 1), 0) * p
            gg = gg_new


def _finish(A, B, x, xp):
    r = B - A @ x
    return Result(x=x, residual_norm=xp.sqrt((r * r).sum(axis=0)))


def _restore(out, origin, b_ndim):
    # Vectors per right-hand side become scalars for 1-D b; arrays go back to the caller.
    for name in ("x", "stderr"):
        v = out.get(name)
        if v is not None:
            out[name] = origin.restore(v[:, 0] if b_ndim == 1 else v)
    for name in ("residual_norm", "linf_bound", "gradient_norm"):
        if name not in out:
            continue
        v = to_host(out[name])
        out[name] = float(v[0]) if b_ndim == 1 else np.asarray(v)
    return out
