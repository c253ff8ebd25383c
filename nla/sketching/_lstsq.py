"""Least squares for tall ``A``: the exact solution fast by default, sketched methods by name.

The driver is written once against the engine's array namespace (``K.xp``: NumPy or CuPy);
every pass over ``A`` is a primitive of :mod:`._lstsq_passes` (a sketch, a Gram pass, a
residual pass), run in core or chunk by chunk on Dask. Small ``d x d`` work runs on the host.
"""

import math
import warnings

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator

from .._array import Origin, engine_of, kernels, to_host
from .._result import Result
from .._threads import one_blas_thread
from .._validation import (check_array, check_choice, check_finite, check_int, check_scalar,
                           check_seed)
from .._dask import is_dask
from .._random import below_xp, hash_xp, stream_key
from ._lstsq_passes import InCore, OnDask, OnOperator
from ._operators import KINDS, sketch as make_sketch

METHODS = ("auto", "sketch", "precondition", "exact")
#: Sketch rows per column of A for the R factor of the Cholesky-QR path: cond(A R^-1) is
#: about (1 + sqrt(1/4)) / (1 - sqrt(1/4)) = 3, and the Gram matrix of A R^-1 about 9.
CHOLQR_OVERSAMPLING = 4
#: The normal-equation path is taken while cond(A D)**2 * eps stays below this (D the
#: Jacobi scaling): each refinement step then gains at least a factor 1e4.
NORMAL_LIMIT = 1e-5
#: Rows per column of A drawn at random to guess cond(A) before any pass (dense A in core).
ESTIMATE_ROWS = 4
#: Random stream of those rows (the sketching area's streams 16, 17 are the SRHT's).
STREAM_GUESS = 18
#: The Cholesky-QR path takes an R factor (of those rows first, else of a sketch) while the
#: Gram matrix of A R^-1, formed in float32, has at most this condition number: about 9 for
#: an incoherent A, and at the limit the refinement still gains about a factor 50 a step
#: (measured: 7 steps at cond 4e4, 8 at 5e5; garbage with converged=True at 8e7).
CHOLQR_GRAM_LIMIT = 1e5
#: Refinement passes of 'auto' at most (two are the rule; more at high condition numbers).
MAX_REFINE = 10
#: Sketch rows per column of A for sketch-and-precondition: cond(A R^-1) is about
#: (sqrt(g) + 1) / (sqrt(g) - 1) = 1.8 for g = 12, so each CG step gains about a factor 3.4.
PRECONDITION_OVERSAMPLING = 12
#: The same for sparse ``A`` and operators, whose iterations are cheap beside the QR of the
#: ``m x d`` sketch: cond(A R^-1) about 3, a factor 4 per CG step.
SPARSE_OVERSAMPLING = 4
#: Sketch kinds a LinearOperator can be sketched with (explicit sparse rows, m adjoint products).
OPERATOR_SKETCHES = ("sparse_sign", "countsketch")


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
    from scipy.special import stdtrit  # local: scipy.special costs 0.1-0.3 s to import

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
    from scipy.special import stdtrit

    if m < d + 2:
        return math.inf
    t = float(stdtrit(m - d + 1, 1.0 - delta / (2 * d)))
    return math.sqrt(d * t * t / (m - d + 1))


def lstsq(A, b, *, method="auto", sketch=None, sketch_size=None, eps=0.5, delta=0.01,
          tol=1e-12, maxiter=100, random_state=None):
    r"""Least squares ``min ||A x - b||_2`` for tall ``A``, exact by default.

    Parameters
    ----------
    A : array-like, sparse matrix or dask array, shape (n, d)
        Dense float matrix (NumPy, CuPy, torch, ...; float32 stays float32), a scipy.sparse
        matrix of any format, or a dask array chunked by rows (each pass runs chunk by chunk
        on the active dask scheduler; ``x`` and the other small results come back concrete).
    b : array-like, shape (n,) or (n, k)
        Right-hand side(s); all columns share one sketch. A dask ``b`` goes with a dask ``A``.
    method : {'auto', 'sketch', 'precondition', 'exact'}
        ``'auto'`` (default): the least-squares solution to working accuracy, by the fastest
        suitable path (``method`` in the result says which ran and ``note`` why):
        ``'normal_refined'`` when the Jacobi-scaled Gram matrix is well conditioned (Cholesky
        of ``A^T A`` and refinement steps on the true residual), ``'cholesky_qr'`` otherwise
        (an R factor, one fused pass accumulating the Gram matrix of ``A R^-1`` and its
        right-hand side, Cholesky, and refinement steps; for dense ``A`` in core, ``4 d``
        rows drawn at random guess cond(A) first, so that an ill-conditioned ``A`` makes no
        Gram pass of its own, and their R factor is taken when the Gram matrix of ``A R^-1``
        shows it a usable preconditioner; otherwise, and when ``sketch`` or
        ``sketch_size`` is given, ``R`` comes from a sketch), and
        ``'precondition'`` when the sketch shows rank deficiency, the Gram matrix of
        ``A R^-1`` is not positive definite, or ``A`` is sparse and ill conditioned.
        ``'sketch'``: sketch-and-solve, ``x' = argmin ||S A x - S b||``, with probability
        ``1 - delta`` ``||x' - x*||_inf <= eps / sqrt(d) * ||A x* - b|| * ||A^+||``.
        ``'precondition'``: sketch-and-precondition, ``S A = Q R``, then conjugate gradients on
        the normal equations of ``A R^-1`` (one fused pass over ``A`` per step), warm-started
        at the sketch-and-solve solution; full working accuracy. ``'exact'``: LAPACK gelsd
        (TSQR and gelsd on ``R`` for dask input).
    sketch : str, optional
        Sketch kind (see :func:`nla.sketch`). Default ``'srht'`` for ``'sketch'`` in core,
        ``'gaussian'`` on dask (chunk-separable), and ``'sparse_sign'`` otherwise. The
        sparse kinds are refused for ``'sketch'``: they have no l_inf guarantee.
    sketch_size : int, optional
        Rows ``m`` of the sketch, in ``[d, n]``. Default for ``'sketch'``:
        :func:`linf_sketch_size` ``(d, eps, delta)``; for ``'precondition'``:
        ``12 d``; for the Cholesky-QR path ``4 d`` (capped at ``n``).
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
        ``x``; ``residual_norm`` ``||A x - b||`` (per column for 2-D ``b``); ``method`` that
        ran; ``sketch``, ``sketch_size``; ``rank`` (numerical rank of ``S A``, or of ``A``
        for ``'exact'``); ``eps`` guaranteed at ``sketch_size``; ``linf_bound``, an
        a-posteriori estimate of the bound on ``||x - x*||_inf`` (``||A^+||`` estimated by
        ``1 / sigma_min(S A)``); ``stderr`` (``'sketch'``: per-coordinate standard errors
        of the sketched solve); ``n_iter`` (iterations or refinement passes) and
        ``converged``; ``note`` (why this method, or why a fallback happened).

    Notes
    -----
    ``b`` is scaled internally by a power of two (exact), and the paths never square the
    magnitude of ``A``, so ``A`` and ``b`` scaled by ``1e-200`` or ``1e200`` give the same
    solution scaled. Problems too small to benefit (``n < 4 d``, or a default ``'sketch'``
    size above ``n / 2``) are solved exactly with a ``note``. Rank deficiency of ``S A``
    (hence of ``A``) is detected from the singular values of ``R`` and reported in ``rank``
    with a :class:`RankDeficientWarning`; the minimum-norm solution is returned.

    Examples
    --------
    >>> import numpy as np
    >>> import nla
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((20000, 10)); b = A @ np.ones(10) + rng.standard_normal(20000)
    >>> x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    >>> res = nla.lstsq(A, b)
    >>> bool(np.allclose(res.x, x_ref, rtol=1e-12, atol=0)), res.method
    (True, 'normal_refined')
    >>> V = np.linalg.qr(rng.standard_normal((10, 10)))[0]  # cond 1e8 in mixed columns:
    >>> A8 = (np.linalg.qr(A)[0] * np.logspace(0, -8, 10)) @ V.T  # no column scaling helps
    >>> res = nla.lstsq(A8, b, random_state=0)
    >>> res.method, res.converged
    ('cholesky_qr', True)
    >>> res = nla.lstsq(A, b, method="sketch", eps=0.5, random_state=0)
    >>> res.sketch, res.sketch_size, bool(np.abs(res.x - x_ref).max() <= res.linf_bound)
    ('srht', 448, True)
    """
    check_choice(method, "method", METHODS)
    eps = check_scalar(eps, "eps", low=0, high=1, low_open=True)
    delta = check_scalar(delta, "delta", low=0, high=1, low_open=True, high_open=True)
    tol = check_scalar(tol, "tol", low=0, high=1, low_open=True, high_open=True)
    maxiter = check_int(maxiter, "maxiter", low=1)
    if is_dask(A) or is_dask(b):
        P, origin, b_ndim, engine = _dask_inputs(A, b)
    elif isinstance(A, LinearOperator):
        P, origin, b_ndim, engine = _operator_inputs(A, b)
    else:
        P, origin, b_ndim, engine = _in_core_inputs(A, b)
    K = P.K
    n, d = P.shape
    on_dask = isinstance(P, OnDask)

    sampled = sketch is None and sketch_size is None  # auto may precondition by sampled rows
    if sketch is None:
        sketch = ("gaussian" if on_dask else "srht") if method == "sketch" else "sparse_sign"
    check_choice(sketch, "sketch", KINDS)
    if isinstance(P, OnOperator) and method in ("sketch", "precondition", "auto") and (
            method == "sketch" or sketch not in OPERATOR_SKETCHES):
        raise ValueError(f"a LinearOperator A is sketched through its adjoint with a sparse "
                         f"sketch ({' or '.join(OPERATOR_SKETCHES)}); method={method!r} with "
                         f"sketch={sketch!r} needs rows of A: use method='auto' or "
                         "'precondition' with a sparse sketch")
    if method == "sketch" and sketch in ("countsketch", "sparse_sign"):
        raise ValueError(f"sketch={sketch!r} has no l_inf guarantee for method='sketch' (a "
                         "residual row colliding with a heavy row of A shifts a coordinate "
                         "by the full error scale); use 'srht', 'gaussian' or 'hgp'")
    if method not in ("exact", "auto") and n < d:
        raise ValueError(f"method={method!r} needs an overdetermined A (n >= d), got shape "
                         f"{(n, d)}; use method='exact' for the minimum-norm solution")
    if sketch_size is not None:
        sketch_size = check_int(sketch_size, "sketch_size", low=d, high=n)

    # b by a power of two (exact): then no pass multiplies the magnitudes of A and b, which
    # could overflow or underflow. Every result scales back by the same factor.
    bmax = P.b_max()
    if not math.isfinite(bmax):
        raise ValueError("b contains NaN or infinity")
    scale = 2.0 ** -math.frexp(bmax)[1] if bmax > 0 else 1.0
    if scale != 1.0:
        P.B = P.B * scale

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

    seed = check_seed(random_state)
    if method == "exact":
        out = _exact(P, note)
    elif method == "auto":
        out = _auto(P, seed, sketch, sketch_size, tol, maxiter, delta, sampled)
    else:
        if method == "precondition" and sketch_size is None:
            sketch_size = _precondition_size(P)
        out = _sketched(P, method, seed, sketch, sketch_size, tol, maxiter, delta, note)
    if out.pop("rank_warning", False):
        warnings.warn(out.pop("rank_message"), RankDeficientWarning, stacklevel=2)
    if out.pop("maxiter_warning", False):
        warnings.warn(f"sketch-and-precondition did not reach tol={tol} in maxiter={maxiter} "
                      "iterations", RuntimeWarning, stacklevel=2)
    for name in ("x", "residual_norm", "linf_bound", "stderr"):
        if out.get(name) is not None and scale != 1.0:
            out[name] = out[name] / scale
    return _restore(out, origin, b_ndim, engine)


def _in_core_inputs(A, b):
    origin = Origin(A)
    A = check_array(A, "A", finite=False, sparse=True)
    b_ndim = getattr(b, "ndim", np.ndim(b))
    if b_ndim not in (1, 2):
        raise ValueError(f"b must be 1-D or 2-D, got {b_ndim}-D")
    b = check_array(b, "b", ndim=b_ndim)
    engine = engine_of(A, b)
    n = A.shape[0]
    if b.shape[0] != n:
        raise ValueError(f"b must have as many rows as A ({n}), got shape {tuple(b.shape)}")
    if b.dtype != A.dtype:
        b = b.astype(np.promote_types(A.dtype, b.dtype))
        A = A.astype(b.dtype)
    return InCore(kernels("sketching", engine), A, b.reshape(n, -1)), origin, b_ndim, engine


def _operator_inputs(A, b):
    if len(A.shape) != 2:
        raise ValueError(f"A must be 2-D, got a LinearOperator of shape {A.shape}")
    kind = np.dtype(A.dtype if A.dtype is not None else np.float64).kind
    if kind == "c":
        raise ValueError("A must be real: Complex data not supported")
    if kind not in "biuf":
        raise TypeError(f"A must hold real numbers, got a LinearOperator of dtype {A.dtype}")
    b_ndim = getattr(b, "ndim", np.ndim(b))
    if b_ndim not in (1, 2):
        raise ValueError(f"b must be 1-D or 2-D, got {b_ndim}-D")
    b = check_array(b, "b", ndim=b_ndim)
    if engine_of(b) != "cpu":
        raise TypeError("a LinearOperator A runs on the host: pass b as a host array")
    n = A.shape[0]
    if b.shape[0] != n:
        raise ValueError(f"b must have as many rows as A ({n}), got shape {tuple(b.shape)}")
    dtype = np.promote_types(np.result_type(A.dtype or np.float64, b.dtype), np.float32)
    B = b.reshape(n, -1).astype(dtype, copy=False)
    return OnOperator(kernels("sketching", "cpu"), A, B), Origin(b), b_ndim, "cpu"


def _precondition_size(P):
    n, d = P.shape
    factor = SPARSE_OVERSAMPLING if P.sparse else PRECONDITION_OVERSAMPLING
    return min(n, factor * d)


def _dask_inputs(A, b):
    import dask.array as da

    from .._dask import check_rows

    if not is_dask(A):
        raise TypeError("b is a dask array but A is not; pass A as a dask array too (or "
                        "compute b)")
    A = check_rows(A, "A", sparse=True)
    b_ndim = getattr(b, "ndim", np.ndim(b))
    if b_ndim not in (1, 2):
        raise ValueError(f"b must be 1-D or 2-D, got {b_ndim}-D")
    n = A.shape[0]
    if b.shape[0] != n:
        raise ValueError(f"b must have as many rows as A ({n}), got shape {tuple(b.shape)}")
    b = check_rows(b, "b", ndim=b_ndim) if is_dask(b) else check_array(b, "b", ndim=b_ndim)
    dtype = np.promote_types(np.result_type(A.dtype, b.dtype), np.float32)
    if not is_dask(b):
        b = da.from_array(b, chunks=(A.chunks[0],) + tuple((k,) for k in b.shape[1:]))
    B = b.reshape(n, -1) if b_ndim == 1 else b
    B = B.rechunk({0: A.chunks[0], 1: -1}).astype(dtype)
    A = A.astype(dtype)
    engine = engine_of(A)
    origin = Origin(np.empty(0)) if engine == "cpu" else None
    return OnDask(kernels("sketching", engine), A, B), origin, b_ndim, engine


def _exact(P, note):
    n, d = P.shape
    K = P.K
    if isinstance(P, OnDask):  # TSQR, then the minimum-norm solve on the small R
        import dask.array as da

        P.all_finite()
        Q, R = da.linalg.qr(P.A)
        R, c = da.compute(R, Q.T @ P.B)
        x, rank = _host_lstsq(R, c)
    else:
        A = P.A
        if P.sparse:
            if n * d > 1 << 26:
                raise ValueError(f"method='exact' densifies a sparse A; {n} x {d} is too large, "
                                 "use method='auto' or 'precondition'")
            A = (A.matmat(np.eye(d, dtype=P.B.dtype)) if isinstance(P, OnOperator)
                 else A.toarray())
        check_finite(A, "A")
        x, rank = K.exact_lstsq(A, P.B)
    x = K.xp.asarray(x)
    rss = P.residual(x)[1]
    out = Result(x=x, residual_norm=K.xp.sqrt(rss), method="exact", sketch=None,
                 sketch_size=None, rank=rank, eps=0.0, linf_bound=K.xp.zeros(P.B.shape[1]),
                 stderr=None, n_iter=0, converged=True, note=note)
    if rank < d:
        out.update(rank_warning=True, rank_message=f"A is rank deficient (rank {rank} < d={d}); "
                   "the minimum-norm solution is returned")
    return out


def _host_lstsq(R, c):
    R, c = to_host(R), to_host(c)
    cut = np.finfo(R.dtype).eps * max(R.shape)
    x, _, rank, _ = scipy.linalg.lstsq(R, c, cond=cut, lapack_driver="gelsd",
                                       check_finite=False)
    return x, int(rank)


def _auto(P, seed, sketch, sketch_size, tol, maxiter, delta, sampled):
    """The exact default: normal equations with refinement, or Cholesky-QR, or fallback.

    ``sampled``: the Cholesky-QR may take its preconditioner from the rows drawn to guess
    cond(A) (no sketch named by the caller).
    """
    if isinstance(P, OnOperator):  # products only: LSRN-style iterations
        return _sketched(P, "precondition", seed, sketch, sketch_size, tol, maxiter, delta,
                         "auto: A is a LinearOperator (products only): sketch-and-precondition")
    guess = _condition_guess(P, seed)
    unit = float(np.finfo(P.B.dtype).eps)
    if guess is None or (guess[0] ** 2 * unit <= NORMAL_LIMIT and guess[1]):
        out, why = _normal_refined(P)
        if out is not None:
            return out
        if P.sparse:  # forming A R^-1 would densify A: iterate instead (LSRN-style)
            return _sketched(P, "precondition", seed, sketch, None, tol, maxiter, delta,
                             f"auto: {why}; sparse A: sketch-and-precondition")
        # the rows drawn looked well conditioned and A is not: they are no preconditioner
        return _cholesky_qr(P, why, seed, sketch, sketch_size, tol, maxiter, delta)
    if guess[1]:
        why = f"{ESTIMATE_ROWS * P.shape[1]} rows of A drawn at random are ill conditioned " \
              f"(cond {guess[0]:.1e} after Jacobi scaling)"
    else:
        why = "the Gram matrix of A would be out of range"
    return _cholesky_qr(P, why, seed, sketch, sketch_size, tol, maxiter, delta,
                        guess[2] if sampled else None)


def _condition_guess(P, seed):
    """``(cond(A_s D), in_range, R_s)`` of ``4 d`` rows ``A_s`` of A drawn at random, or None.

    Dense in-core ``A`` only, where drawing rows costs no pass over ``A``: the guess picks
    the path tried first (refined normal equations, or the Cholesky-QR, which needs no Gram
    pass of ``A``, and whose preconditioner ``R_s``, the R factor of ``A_s``, may be), and
    each path checks what it needs, so a wrong guess costs one pass, never accuracy. ``D``
    is the Jacobi scaling; ``in_range``: the column norms of the sample, scaled to ``n``
    rows, square without overflow or underflow; ``R_s`` is None where ``A_s`` has a zero
    column. Elsewhere (sparse, on Dask) the Gram pass comes first.
    """
    if not isinstance(P, InCore) or P.sparse:
        return None
    n, d = P.shape
    k = ESTIMATE_ROWS * d
    rows = below_xp(hash_xp(np, stream_key(seed, STREAM_GUESS), np.arange(k), 0), n)
    sample = to_host(P.A[P.K.xp.asarray(rows)])
    top = float(np.abs(sample).max())
    if not math.isfinite(top):
        return None  # NaN/inf in A: the Gram pass finds them
    if top == 0:
        return math.inf, True, None
    power = math.frexp(top)[1]  # scaled by 2**-power (exact), so the QR cannot underflow
    with one_blas_thread():
        R = np.linalg.qr(np.ldexp(sample, -power), mode="r")
    norms = np.linalg.norm(R, axis=0)
    if not norms.min() > 0:
        return math.inf, True, None
    w = np.linalg.svd(R / norms, compute_uv=False)
    cond = w[0] / w[-1] if w[-1] > 0 else math.inf
    with np.errstate(over="ignore"):  # inf: out of range
        gram_diag = np.ldexp(norms, power)**2 * (n / k)  # of A^T A, estimated
        R = np.ldexp(R, power)
    return cond, _gram_in_range(gram_diag, n, P.B.dtype, margin=16.0), R


def _cholesky_qr(P, why, seed, sketch, sketch_size, tol, maxiter, delta, sample=None):
    """Preconditioned Cholesky-QR: the Gram matrix of ``Y = A R^-1``, refined.

    ``R`` is ``sample`` (the R factor of rows drawn at random, costing no pass over ``A``)
    when the Gram matrix of ``Y`` shows it a good preconditioner, else comes from a sketch
    of ``A``; when that shows ``A`` rank deficient or too ill conditioned for ``Y`` to be
    well conditioned, sketch-and-precondition iterations instead.
    """
    n, d = P.shape
    unit = float(np.finfo(P.B.dtype).eps)
    source, m = None, None
    if sample is not None:
        factors = _preconditioned_factors(P, sample, ESTIMATE_ROWS * d, unit)
        if isinstance(factors, str):
            why += f"; their R leaves A R^-1 {factors}"
        else:
            source = f"R of the {ESTIMATE_ROWS * d} rows drawn at random"
    if source is None:
        m = sketch_size or min(n, CHOLQR_OVERSAMPLING * d)
        S = make_sketch(sketch, m, n, random_state=seed, dtype=P.B.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            SA = to_host(P.sketch(S, with_b=False))
        if not np.isfinite(SA).all():
            P.all_finite()  # NaN/inf in A raise here; otherwise S A overflowed
            raise ValueError("the magnitudes of A overflow a sketch of it (entries near the "
                             f"largest {P.B.dtype} number): scale A down by a power of two")
        with one_blas_thread():
            R = np.linalg.qr(SA, mode="r")
        factors = _preconditioned_factors(P, R, m, unit)
        if isinstance(factors, str):
            return _sketched(P, "precondition", seed, sketch, None, tol, maxiter, delta,
                             f"auto: {why}; the sketch S A leaves A R^-1 {factors}: "
                             "sketch-and-precondition")
        source = f"sketch of {m} rows"
    T, L, HY, condR, condY = factors

    def solve_y(gy):  # gy = Y^T r (Y = A T): dz = (Y^T Y)^-1 gy, dx = T dz
        dz = scipy.linalg.cho_solve((L, True), gy)
        return T @ dz, (dz * gy).sum(axis=0)

    def solve(g):  # the refinement's g = A^T r (one compensated pass, as normal_refined's)
        return solve_y(T.T @ g)

    x = solve_y(HY)[0]
    note = (f"auto: {why}; Cholesky-QR preconditioned by the {source} (cond(R) "
            f"{condR:.1e}, Gram of A R^-1 {condY:.1f})")
    # The CPU kernels form Y^T Y in float32 (see their gram_pass): a step contracts the
    # error by about eps32 cond(Y^T Y), besides the working-precision rounding of the factors.
    eps32 = float(np.finfo(np.float32).eps)
    rho = min(0.5, 10 * condY * (eps32 + unit * condR))
    out = _refine(P, "cholesky_qr", x, solve, rho, note)
    out.update(sketch=None if m is None else sketch, sketch_size=m)
    return out


def _preconditioned_factors(P, R, rows, unit):
    """``(T, L, Y^T B, cond(R), cond(Y^T Y))`` for ``T = R^-1``, ``Y = A T`` and ``L`` the
    Cholesky factor of ``Y^T Y`` (one Gram pass), or what makes ``R`` unusable, before any
    pass: ``R`` (of ``rows`` rows) is rank deficient, or too ill conditioned for ``Y`` to be
    well conditioned in working precision; or after it: ``Y^T Y`` is not positive definite
    or is conditioned beyond :data:`CHOLQR_GRAM_LIMIT`.
    """
    d = R.shape[1]
    tiny = float(np.finfo(R.dtype).tiny)
    s = np.linalg.svd(R, compute_uv=False) if np.isfinite(R).all() else np.zeros(d)
    cond = s[0] / max(s[-1], tiny)
    if not s[0] > 0 or s[-1] <= s[0] * max(rows, d) * unit:
        return f"rank deficient (cond(R) {cond:.1e})"
    if cond * unit > 1e-3:
        return f"too ill conditioned (cond(R) {cond:.1e})"
    T = scipy.linalg.solve_triangular(R, np.eye(d, dtype=R.dtype))
    with np.errstate(over="ignore", invalid="ignore"):
        GY, HY = (to_host(v) for v in P.gram(P.K.xp.asarray(T)))
    try:
        L = scipy.linalg.cholesky(GY, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        L = None
    if L is None or not (np.isfinite(L).all() and np.isfinite(HY).all()):
        return "with a Gram matrix that is not positive definite"
    condY = float(np.linalg.cond(GY))
    if not condY <= CHOLQR_GRAM_LIMIT:
        return f"with a Gram matrix of cond {condY:.1e} > {CHOLQR_GRAM_LIMIT:.0e}"
    return T, L, HY, cond, condY


def _gram_in_range(diag, n, dtype, margin=1.0):
    # The plain Gram is trusted only where squaring kept every column's scale in range.
    info = np.finfo(dtype)
    return bool(diag.min() > margin * float(info.tiny) * n / float(info.eps)
                and diag.max() * margin < float(info.max) * float(info.eps))


def _normal_refined(P):
    """``(result, None)`` of the refined normal equations, or ``(None, why)`` they won't do."""
    d = P.shape[1]
    unit = float(np.finfo(P.B.dtype).eps)
    with np.errstate(over="ignore", invalid="ignore"):  # out of range is detected below
        G, H = (to_host(v) for v in P.gram())
    if not (np.isfinite(G).all() and np.isfinite(H).all()):
        P.all_finite()  # NaN/inf in A raise here; otherwise A^T A overflowed
    diag = np.diag(G).copy() if np.isfinite(G).all() else np.zeros(d)
    cond2, C = math.inf, None
    if _gram_in_range(diag, P.shape[0], P.B.dtype):
        D = 1.0 / np.sqrt(diag)
        cond2, C = _gram_condition(G * D[:, None] * D[None, :])
    if not cond2 * unit <= NORMAL_LIMIT:
        return None, (f"the Jacobi-scaled Gram matrix is ill conditioned (cond {cond2:.1e})"
                      if math.isfinite(cond2) else
                      "the Gram matrix of A is out of range or singular")

    # (A^T A)^-1 = T T^T with T = D C^-1. The refinement's gradient A^T r comes from one
    # memory-bound pass (the residual norm needs that pass anyway); its rounding, about
    # eps ||a_j|| ||r|| per column, is a backward error of A of size eps, so the refined x
    # is as accurate as a backward stable solver's (the cond**2 ||r|| term of gelsd's).
    def solve(g):  # (A^T A)^-1 A^T r = T (T^T A^T r), by two triangular solves
        with one_blas_thread():
            gy = scipy.linalg.solve_triangular(C, D[:, None] * g, trans="T")
            return D[:, None] * scipy.linalg.solve_triangular(C, gy), (gy * gy).sum(axis=0)

    x = solve(H)[0]
    note = (f"auto: Jacobi-scaled Gram matrix well conditioned (cond {cond2:.1e} <= "
            f"{NORMAL_LIMIT:.0e} / eps): normal equations refined on the true residual")
    return _refine(P, "normal_refined", x, solve, min(0.5, 10 * unit * cond2), note), None


def _gram_condition(Gs, steps=20):
    """``(cond(Gs), C)``: the 2-norm condition number of a Jacobi-scaled Gram matrix, and
    its upper Cholesky factor (``(inf, None)`` when the factorization fails).

    The extreme eigenvalues come from ``steps`` power iterations on ``Gs`` and on ``Gs^-1``
    (through ``C``): O(d^2) each, where an eigensolver costs several Cholesky factorizations
    (at d = 1000, 64 ms against 23 ms). Both Rayleigh quotients lie inside the spectrum, so
    the estimate errs low, by little unless the extreme eigenvalues are not isolated (then
    their neighbours are about as extreme); the refinement measures its own contraction.
    """
    d = Gs.shape[0]
    with one_blas_thread():
        try:
            C = scipy.linalg.cholesky(Gs, lower=False, check_finite=False)
        except np.linalg.LinAlgError:
            return math.inf, None
        top = low = 1.5 + np.cos(np.arange(d))  # a fixed start with no special direction
        for _ in range(steps):
            top = Gs @ top
            top /= np.linalg.norm(top)
            low = scipy.linalg.cho_solve((C, False), low, check_finite=False)
            low /= np.linalg.norm(low)
        largest, smallest = top @ (Gs @ top), low @ (Gs @ low)
    return (largest / smallest if smallest > 0 else math.inf), C


def _refine(P, method, x, solve, rho, note):
    """Refinement steps ``x += (A^T A)^-1 A^T (b - A x)``, one fused pass each.

    The pass gives ``g = A^T r`` (compensated sums on the CPU: at the solution it is a sum of
    ``n`` terms that cancel) and ``||r||**2``. ``solve`` maps ``g`` to the step ``dx`` (and
    ``dx^T A^T r``) through the factored ``(A^T A)^-1``; ``rho`` is the expected contraction
    of the error per step (about ``eps * cond`` of the factorization). After step ``k`` the
    error is about ``rho * ||dx_k||``: stop when that is below ``eps * ||x||`` (working
    accuracy), or when a correction no longer halves (rounding reached).
    """
    xp = P.K.xp
    unit = float(np.finfo(P.B.dtype).eps)
    previous, steps = None, 0
    status = "maxiter"
    while steps < MAX_REFINE:
        g, rss = (to_host(v) for v in P.residual(xp.asarray(x)))
        dx, proj = solve(g)
        steps += 1
        x = x + dx
        size = _column_norms(dx)
        if previous is not None:  # the contraction actually observed
            if (size > 0.5 * previous).any():
                status = "stagnated"
                break
            rho = float((size / np.where(previous > 0, previous, 1)).max())
        if (rho * size <= unit * _column_norms(x)).all():
            status = "tol"
            break
        previous = size
    # ||b - A (x + dx)||^2 = ||r||^2 - dx^T A^T r to first order (A dx is the projection of r)
    rss = np.maximum(rss - proj, 0.0)
    bnorm = P.b_norms()
    rel = np.sqrt(np.abs(proj)) / np.where(bnorm > 0, bnorm, 1)
    if status == "stagnated":
        note += "; refinement stopped at the attainable accuracy"
    return Result(x=xp.asarray(x), residual_norm=xp.asarray(np.sqrt(rss)), method=method,
                  sketch=None, sketch_size=None, rank=P.shape[1], eps=0.0,
                  linf_bound=None, stderr=None, n_iter=steps, converged=status != "maxiter",
                  gradient_norm=rel, note=note)


def _sketched(P, method, seed, sketch, sketch_size, tol, maxiter, delta, note):
    """Sketch-and-solve (``'sketch'``) or sketch-and-precondition (``'precondition'``)."""
    n, d = P.shape
    K = P.K
    xp = K.xp
    B = P.B
    dtype = B.dtype
    if sketch_size is None:
        sketch_size = _precondition_size(P)
    S = make_sketch(sketch, sketch_size, n, random_state=seed, dtype=dtype)
    SAB = xp.asarray(P.sketch(S))
    m = sketch_size
    # One Householder QR of [SA | SB] (Q never formed): [[R, c], [0, rho]] holds R of SA,
    # c = Q^T SB and the sketched residuals rho.
    with one_blas_thread():
        T = xp.linalg.qr(SAB, mode="r")
        R, c = T[:d, :d], T[:d, d:]
        rss = (T[d:, d:] ** 2).sum(axis=0)
        U, s, Vt = xp.linalg.svd(R)
    s_host = to_host(s)
    cut = s_host[0] * max(m, d) * np.finfo(dtype).eps
    rank = int((s_host > cut).sum()) if s_host[0] > 0 else 0
    out = Result(x=None, residual_norm=None, method=method, sketch=sketch, sketch_size=m,
                 rank=rank, eps=linf_eps(m, d, delta))
    if rank < d:
        out.update(rank_warning=True, rank_message=(
            f"the sketch S A is rank deficient (rank {rank} < d={d}), so A is too; the "
            "minimum-norm solution is returned and the l_inf bound uses sigma_rank"))
    k = max(rank, 1)
    M = Vt[:k].T / s[:k] if rank else xp.zeros((d, 1), dtype=dtype)  # A = 0: x = 0
    # x = M y: M is the right preconditioner (d x k), y the preconditioned unknowns
    y = U[:, :k].T @ c                         # sketch-and-solve solution in y coordinates
    if rank < d:  # the part of c outside the numerical range adds to the sketched residual
        rss = rss + ((U[:, k:].T @ c) ** 2).sum(axis=0)
    sigma_min = float(s_host[k - 1]) if rank else math.inf

    if method == "sketch":
        x = M @ y
        r_norm = xp.sqrt(xp.asarray(P.residual(x)[1]))
        out.update(x=x, residual_norm=r_norm)
        out.linf_bound = out.eps / math.sqrt(d) * r_norm / sigma_min
        dof = max(m - k, 1)
        out.stderr = _column_norms(M.T)[:, None] * xp.sqrt(rss / dof)[None, :]
        out.update(n_iter=0, converged=True, note=note)
        return out

    y, n_iter, status, rel, r_norm = _preconditioned_cg(P, M, y, tol, maxiter)
    out.update(x=M @ y, residual_norm=r_norm)
    # ||x - x*|| <= ||M|| ||y - y*|| <= ||g|| / (sigma_min(S A) sigma_min(A M)^2), with
    # sigma_min(A M) about 1 - sqrt(k / m) for an oblivious subspace embedding of size m.
    gnorm = rel * P.b_norms()
    out.linf_bound = xp.asarray(gnorm / sigma_min / max(1e-3, 1 - math.sqrt(k / m)) ** 2)
    if status == "stagnated":
        note = ((note + "; ") if note else "") + (
            f"stopped at the attainable accuracy: relative gradient {rel.max():.1e} > "
            f"tol={tol} no longer decreases (cond(S A) = {s_host[0] / sigma_min:.1e})")
    out.update(stderr=None, n_iter=n_iter, converged=status != "maxiter",
               gradient_norm=rel, note=note, maxiter_warning=status == "maxiter")
    return out


def _preconditioned_cg(P, M, y, tol, maxiter):
    """CG on ``M^T A^T A M y = M^T A^T B`` (column by column, vectorised), from ``y``.

    The gradient is recomputed exactly (one fused pass) at each restart, so the stopping test
    never trusts a drifted recurrence. If a restart finds the true gradient not even halved
    since the previous one, rounding (about ``eps * cond(A)``) has been reached: stop there.

    Returns ``y, n_iter, status, relative gradient norms, residual norms`` with status
    ``'tol'``, ``'stagnated'`` or ``'maxiter'``.
    """
    xp = P.K.xp
    bnorm = P.b_norms()
    bnorm = np.where(bnorm > 0, bnorm, 1)
    n_iter, previous = 0, None
    while True:
        g, rss = P.residual(M @ y)
        g = M.T @ xp.asarray(g)
        gg = (g * g).sum(axis=0)
        rel = to_host(xp.sqrt(gg)) / bnorm
        r_norm = xp.sqrt(xp.asarray(rss))
        if (rel <= tol).all():
            return y, n_iter, "tol", rel, r_norm
        if previous is not None and (rel > 0.5 * previous).any():
            return y, n_iter, "stagnated", rel, r_norm
        if n_iter >= maxiter:
            return y, n_iter, "maxiter", rel, r_norm
        previous = rel
        p = g.copy()
        while n_iter < maxiter:
            w = -(M.T @ xp.asarray(P.residual(M @ p, with_b=False)[0]))
            n_iter += 1
            pw = (p * w).sum(axis=0)
            alpha = xp.where(pw > 0, gg / xp.where(pw > 0, pw, 1), 0)
            y = y + alpha * p
            g = g - alpha * w
            gg_new = (g * g).sum(axis=0)
            if bool((to_host(xp.sqrt(gg_new)) <= tol * bnorm).all()):
                break
            p = g + xp.where(gg > 0, gg_new / xp.where(gg > 0, gg, 1), 0) * p
            gg = gg_new


def _column_norms(v):
    """2-norms of the columns of ``v`` without overflow or underflow (scaled by their max)."""
    top = abs(v).max(axis=0)
    top = top + (top == 0)  # 1 for a zero column (array code: NumPy or CuPy)
    return top * (((v / top) ** 2).sum(axis=0)) ** 0.5


def _restore(out, origin, b_ndim, engine):
    # Vectors per right-hand side become scalars for 1-D b; arrays go back to the caller
    # (dask input: concrete NumPy/CuPy arrays).
    for name in ("x", "stderr"):
        v = out.get(name)
        if v is not None:
            v = v[:, 0] if b_ndim == 1 else v
            out[name] = origin.restore(v) if origin is not None else v
    for name in ("residual_norm", "linf_bound", "gradient_norm"):
        if out.get(name) is None:
            continue
        v = np.atleast_1d(to_host(out[name]))
        out[name] = float(v[0]) if b_ndim == 1 else np.asarray(v)
    return out
