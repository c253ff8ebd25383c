"""Sub-gradient method with small initialization for robust low-rank matrix recovery.

Ma & Fattahi (JMLR 2023, arXiv 2202.08788): minimise ``f(U) = (1/m) ||A(U U^T) - y||_1`` over
``U`` of an over-estimated rank ``r' >= r`` by sub-gradient steps with geometrically decaying
step sizes from a small random start. The driver is written once; the operator and its
kernels (Numba or CuPy) do the passes over the measurements.
"""

import warnings

import numpy as np

from .._array import Origin, engine_of, to_engine, to_host
from .._estimator import BaseEstimator, RegressorMixin, check_is_fitted
from .._progress import progress
from .._random import gaussian_xp, stream_key, uniform_xp
from .._result import Result
from .._threads import one_blas_thread
from .._validation import (check_array, check_bool, check_callable, check_choice, check_int,
                           check_scalar, check_seed)
from ._kernels import MODE_L1, MODE_L2
from ._operators import EntrySampling, Measurements, namespace

#: Streams of :mod:`nla._random` (16 draws measurement matrices, see ``_operators``).
STREAM_INIT = 17
STREAM_HOLDOUT = 18
STREAM_LANCZOS = 19

#: Factor norms beyond this multiple of the data scale count as divergence.
_BLOWUP = 1e8


class SubGMRecovery(RegressorMixin, BaseEstimator):
    """Robust low-rank matrix recovery by the sub-gradient method from a small initialization.

    Fits ``X = U U^T`` (symmetric PSD, the paper's model) or ``X = U V^T`` to linear
    measurements ``y_i = <A_i, X> + s_i`` by minimising the l1 loss
    ``(1/m) sum_i |<A_i, X> - y_i|`` with the steps ``U <- U - eta_t Q_t``,
    ``eta_t = eta_0 decay^t``, where ``Q_t`` is a sub-gradient. Started small, the method is
    robust to a constant fraction of arbitrarily large outliers ``s_i`` and to an
    over-estimated ``rank`` (Ma & Fattahi, JMLR 2023).

    Parameters
    ----------
    rank : int
        Number of columns ``r'`` of the factors; an upper bound on the true rank is enough
        (with ``rank`` far above it, keep ``init_scale`` small or use ``holdout``).
    init_scale : float, default 1e-4
        Relative size ``alpha`` of the random start: the factors are scaled so that the
        measurements of ``U_0 V_0^T`` are ``alpha^2`` times the data in median size. Smaller
        values give lower error floors when over-parameterised, at the price of a longer
        growth phase (``log(1/alpha)`` iterations).
    step : float, default 0.2
        Dimensionless first step ``gamma``. The actual step is ``eta_0 = gamma / lambda`` with
        ``lambda`` the top eigenvalue of ``-sym(G_0)``, ``G_0`` the sub-gradient matrix at
        ``X = 0`` (for an asymmetric fit, half its top singular value): the leading component
        then grows by a factor ``1 + 2 gamma`` per step, whatever the scale of the operator.
    decay : float, default 0.98
        Geometric decay ``rho`` of the steps, in ``(0, 1]``. Too small freezes the iterate
        before all components have grown; raise it (0.99) for dense outliers (more than 30%),
        ill-conditioned targets or entry sampling (matrix completion). ``1`` keeps the step
        constant (no convergence; a floor proportional to the step).
    max_iter : int, default 3000
        Maximum number of sub-gradient steps.
    tol : float, default 1e-10
        Stop when a step moves the factors by less than ``tol`` times their norm.
    loss : {'l1', 'l2'}, default 'l1'
        ``'l2'`` is plain gradient descent on ``(1/2m) ||A(X) - y||^2``, the non-robust baseline.
    symmetric : bool, default True
        ``X = U U^T`` (needs square matrices) or ``X = U V^T`` with balanced small factors.
    holdout : float, default 0.0
        Fraction of the measurements, in ``[0, 0.5)``, held out to choose the iterate: the
        fit returns the iterate with the smallest mean absolute hold-out residual (early
        stopping that needs no knowledge of the noise level).
    n_iter_no_change : int or None, default 100
        With ``holdout``, stop once the hold-out error has not improved for this many steps.
    random_state : int, numpy Generator or None
        Seed of the random start and the hold-out split.
    verbose : bool, default False
        Show a progress bar.
    callback : callable, optional
        Called after each evaluation with a :class:`nla.Result` holding ``iteration``, ``U``,
        ``V``, ``loss``, ``val_loss`` and ``step``; returning ``True`` stops the fit.

    Attributes
    ----------
    U_, V_ : array of shape (d1, rank), (d2, rank)
        The factors, in the framework of ``y`` (``V_`` is ``U_`` when symmetric).
    X_ : array of shape (d1, d2)
        ``U_ V_^T`` (formed on access).
    history_ : dict of ndarray
        Per iteration: ``loss`` (training objective), ``step`` (``eta_t``), ``norm`` (Frobenius
        norm of ``U`` and ``V`` together) and, with ``holdout``, ``val_loss``.
    n_iter_ : int
        Sub-gradient steps taken.
    best_iter_ : int
        Iteration of the returned factors (``n_iter_`` without hold-out).
    step_ : float
        The calibrated first step ``eta_0``.
    converged_ : bool
        Whether the steps became negligible (``tol``) or the hold-out error stopped improving.
    stop_reason_ : str
        ``'tol'``, ``'max_iter'``, ``'holdout'``, ``'callback'`` or ``'zero_data'``.

    Raises
    ------
    FloatingPointError
        If the iterate diverges (non-finite or exploding factors); the message gives the
        iteration. Reduce ``step`` or ``decay``.

    Notes
    -----
    One step costs one pass over the measurements plus ``O((d1 + d2) rank^2)``: dense
    operators read ``A`` once per step (fused residual, sign and adjoint), entry sampling
    costs ``O(m rank)``. CPU results are bitwise reproducible for a fixed thread count; on the
    GPU the reductions are not ordered. Float32 data are fitted in float32 (relative accuracy
    floor near ``1e-6``).

    Examples
    --------
    >>> import numpy as np
    >>> from nla.recovery import GaussianMeasurements, SubGMRecovery
    >>> gen = np.random.default_rng(0)
    >>> d, r, m = 12, 2, 300
    >>> Ustar = gen.standard_normal((d, r))
    >>> op = GaussianMeasurements(m, (d, d), random_state=0)
    >>> y = op(Ustar)
    >>> y[:30] += 100 * gen.standard_normal(30)          # 10% gross outliers
    >>> est = SubGMRecovery(rank=4, random_state=0).fit(op, y)
    >>> err = np.linalg.norm(est.X_ - Ustar @ Ustar.T) / np.linalg.norm(Ustar @ Ustar.T)
    >>> bool(err < 1e-3)
    True
    """

    def __init__(self, rank, *, init_scale=1e-4, step=0.2, decay=0.98, max_iter=3000,
                 tol=1e-10, loss="l1", symmetric=True, holdout=0.0, n_iter_no_change=100,
                 random_state=None, verbose=False, callback=None):
        self.rank = rank
        self.init_scale = init_scale
        self.step = step
        self.decay = decay
        self.max_iter = max_iter
        self.tol = tol
        self.loss = loss
        self.symmetric = symmetric
        self.holdout = holdout
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    # -- public API ---------------------------------------------------------------------------

    def fit(self, operator, y):
        """Fit the factors to measurements ``y`` of ``operator``.

        Parameters
        ----------
        operator : Measurements
            :class:`DenseMeasurements`, :class:`GaussianMeasurements`,
            :class:`RankOneMeasurements` or :class:`EntrySampling`.
        y : array-like of shape (operator.n_measurements,)
            The measurements (outliers allowed; NaN/inf are not). Not modified.

        Returns
        -------
        self
        """
        with one_blas_thread():  # multi-threaded BLAS rounds differently per thread count
            return self._fit(operator, y)

    def _fit(self, operator, y):
        p = self._checked_params(operator)
        origin = Origin(y)
        y = check_array(y, "y", ndim=1)
        if y.shape[0] != operator.n_measurements:
            raise ValueError(f"y has {y.shape[0]} entries but the operator makes "
                             f"{operator.n_measurements} measurements")
        if engine_of(y) != operator.engine:
            raise ValueError(f"y lives on the {engine_of(y).upper()} but the operator on the "
                             f"{operator.engine.upper()}; move one of them")
        xp = namespace(operator.engine)
        dtype = operator.dtype or y.dtype
        y = y.astype(dtype, copy=False)
        seed = check_seed(self.random_state)

        train, y_train, val, y_val = _split(operator, y, p["holdout"], seed, xp)
        if p["symmetric"] and isinstance(train, EntrySampling):
            train, y_train = train._symmetric(y_train)
        U, V = self._initial_factors(train, y_train, p, seed, xp, dtype)
        if U is None:
            return self._zero_fit(operator, origin, xp, dtype, p)
        mode = MODE_L1 if p["loss"] == "l1" else MODE_L2
        self.step_ = p["step"] / _calibration(train, y_train, mode, p["symmetric"], seed, xp)
        self._run(train, y_train, val, y_val, U, V, mode, p, xp)
        self.U_ = origin.restore(self._U)
        self.V_ = self.U_ if p["symmetric"] else origin.restore(self._V)
        del self._U, self._V
        return self

    @property
    def X_(self):
        """``U_ V_^T``, the recovered matrix."""
        check_is_fitted(self, "U_")
        return self.U_ @ self.V_.T

    def predict(self, operator):
        """Measurements ``A(U_ V_^T)`` of the fitted matrix under ``operator``."""
        check_is_fitted(self, "U_")
        return operator(self.U_, None if self.symmetric else self.V_)

    def score(self, operator, y):
        """Negative mean absolute residual ``-mean|A(X_) - y|`` (higher is better, robust).

        Parameters
        ----------
        operator : Measurements
        y : array-like of shape (operator.n_measurements,)

        Returns
        -------
        float
        """
        check_is_fitted(self, "U_")
        pred = to_host(operator(self.U_, None if self.symmetric else self.V_))
        y = to_host(check_array(y, "y", ndim=1))
        return -float(np.mean(np.abs(np.asarray(pred) - y)))

    # -- steps of fit ---------------------------------------------------------------------------

    def _checked_params(self, operator):
        if not isinstance(operator, Measurements):
            raise TypeError("operator must be a measurement operator of nla.recovery "
                            "(DenseMeasurements, GaussianMeasurements, RankOneMeasurements, "
                            f"EntrySampling), got {type(operator).__name__}")
        d1, d2 = operator.matrix_shape
        symmetric = check_bool(self.symmetric, "symmetric")
        check_bool(self.verbose, "verbose")
        if symmetric and d1 != d2:
            raise ValueError(f"symmetric=True needs square matrices, the operator measures "
                             f"{d1} x {d2}; use symmetric=False")
        n_no_change = self.n_iter_no_change
        if n_no_change is not None:
            n_no_change = check_int(n_no_change, "n_iter_no_change", low=1)
        check_callable(self.callback, "callback")
        return dict(
            rank=check_int(self.rank, "rank", low=1, high=min(d1, d2)),
            init_scale=check_scalar(self.init_scale, "init_scale", low=0, low_open=True),
            step=check_scalar(self.step, "step", low=0, low_open=True),
            decay=check_scalar(self.decay, "decay", low=0, high=1, low_open=True),
            max_iter=check_int(self.max_iter, "max_iter", low=1),
            tol=check_scalar(self.tol, "tol", low=0),
            loss=check_choice(self.loss, "loss", ("l1", "l2")),
            symmetric=symmetric,
            holdout=check_scalar(self.holdout, "holdout", low=0, high=0.5, high_open=True),
            n_iter_no_change=n_no_change)

    def _initial_factors(self, op, y, p, seed, xp, dtype):
        """``alpha``-scaled Gaussian factors, or ``(None, None)`` for all-zero data."""
        d1, d2 = op.matrix_shape
        r = p["rank"]
        key = stream_key(seed, STREAM_INIT)
        B = gaussian_xp(np, key, np.arange(d1)[:, None], np.arange(r)[None, :])
        C = B if p["symmetric"] else gaussian_xp(np, key, np.arange(d1, d1 + d2)[:, None],
                                                 np.arange(r)[None, :])
        B, C = xp.asarray(B, dtype=dtype), xp.asarray(C, dtype=dtype)
        size_y = _typical(_entries(op, xp.abs(y), xp), xp)
        if size_y == 0:
            return None, None
        size_b = _typical(_entries(op, xp.abs(op._forward(B, C)), xp), xp)
        if size_b == 0:  # the operator does not see the random start (degenerate)
            size_b = 1.0
        c = p["init_scale"] * np.sqrt(size_y / size_b)
        # Data scale ||X*||_F ~ size_y / size_b * ||B C^T||_F, for the divergence guard.
        gram = (B.T @ B) @ (C.T @ C)
        self._scale = size_y / size_b * float(xp.sqrt(xp.abs(xp.trace(gram))))
        return B * dtype.type(c), (B if p["symmetric"] else C) * dtype.type(c)

    def _zero_fit(self, operator, origin, xp, dtype, p):
        warnings.warn("y is identically zero: returning zero factors", RuntimeWarning,
                      stacklevel=3)
        d1, d2 = operator.matrix_shape
        self.U_ = origin.restore(xp.zeros((d1, p["rank"]), dtype=dtype))
        self.V_ = self.U_ if p["symmetric"] else origin.restore(xp.zeros((d2, p["rank"]),
                                                                          dtype=dtype))
        self.history_ = {"loss": np.zeros(0), "step": np.zeros(0), "norm": np.zeros(0)}
        self.n_iter_ = self.best_iter_ = 0
        self.step_ = 0.0
        self.converged_, self.stop_reason_ = True, "zero_data"
        return self

    def _run(self, op, y, val, y_val, U, V, mode, p, xp):
        symmetric = p["symmetric"]
        eta0, decay, tol = self.step_, p["decay"], p["tol"]
        hist = {"loss": [], "step": [], "norm": []}
        if val is not None:
            hist["val_loss"] = []
        best = (np.inf, 0, U, V)
        stop, t = "max_iter", 0
        for t in progress(range(p["max_iter"]), verbose=self.verbose, desc="SubGM"):
            res, QU, QV = subgradient(op, U, V, y, mode, symmetric)
            loss = _objective(op, res, mode, xp)
            norm = float(xp.sqrt(xp.sum(U * U) + (0 if symmetric else xp.sum(V * V))))
            self._check_finite(loss, norm, t)
            eta = eta0 * decay ** t
            hist["loss"].append(loss)
            hist["step"].append(eta)
            hist["norm"].append(norm)
            val_loss = None
            if val is not None:
                val_loss = float(xp.mean(xp.abs(val._forward(U, V) - y_val)))
                hist["val_loss"].append(val_loss)
                if val_loss < best[0]:
                    best = (val_loss, t, U, V)
            if self.callback is not None and self.callback(Result(
                    iteration=t, U=U, V=U if symmetric else V, loss=loss, val_loss=val_loss,
                    step=eta)):
                stop = "callback"
                break
            if val is not None and p["n_iter_no_change"] is not None \
                    and t - best[1] >= p["n_iter_no_change"]:
                stop = "holdout"
                break
            move = eta * float(xp.sqrt(xp.sum(QU * QU) + (0 if symmetric else xp.sum(QV * QV))))
            if move <= tol * norm:
                stop = "tol"
                break
            # New arrays (not in place): the callback and the hold-out keep references.
            U = U - U.dtype.type(eta) * QU
            V = U if symmetric else V - V.dtype.type(eta) * QV
        else:
            t = p["max_iter"]
            if val is not None:  # the last iterate has not been validated yet
                val_loss = float(xp.mean(xp.abs(val._forward(U, V) - y_val)))
                if val_loss < best[0]:
                    best = (val_loss, t, U, V)
        self.n_iter_ = t
        self.history_ = {k: np.asarray(v) for k, v in hist.items()}
        self.stop_reason_ = stop
        self.converged_ = stop in ("tol", "holdout")
        if val is not None:
            _, self.best_iter_, U, V = best
        else:
            self.best_iter_ = t
        self._U, self._V = U, V

    def _check_finite(self, loss, norm, t):
        if not (np.isfinite(loss) and np.isfinite(norm)):
            raise FloatingPointError(
                f"SubGMRecovery diverged at iteration {t}: the loss or the factors are not "
                "finite; reduce step (or decay)")
        if norm * norm > _BLOWUP * self._scale:
            raise FloatingPointError(
                f"SubGMRecovery diverged at iteration {t}: ||U||_F^2 = {norm * norm:.3g} "
                f"exceeds {_BLOWUP:.0e} times the data scale; reduce step (or decay)")


def subgradient(op, U, V, y, mode, symmetric):
    """Residuals and a sub-gradient ``(Q_U, Q_V)`` of the loss at ``X = U V^T``.

    With ``G = sum_i w_i A_i`` (``w = sign(r)`` for l1, ``r`` for l2) the loss
    ``(1/m) sum_i |r_i|`` has the sub-gradient ``Q_U = G V / m``, ``Q_V = G^T U / m``; for
    ``X = U U^T`` both halves add up, ``Q = (G + G^T) U / m`` (``Q_V`` is then ``None``).
    Entry pairs listed once (``EntrySampling._symmetric``) weigh 2 off the diagonal and 1 on
    it; ``G + G^T`` holds each diagonal weight twice, so one copy is taken off.
    """
    m = op.n_measurements
    res, GV, GtU = op._fused(U, V, y, mode)
    if not symmetric:
        return res, GV / m, GtU / m
    Q = GV + GtU
    once = getattr(op, "_pairs_once", None)
    if once is None:
        return res, Q / m, None
    pos, rows = once
    wd = res[pos] if mode == MODE_L2 else op._xp.sign(res[pos])
    Q[rows] -= wd[:, None] * U[rows]
    return res, Q / (m - 0.5 * pos.shape[0]), None


def _objective(op, res, mode, xp):
    """The training loss from the residuals: the mean of ``|r|`` (l1) or ``r^2 / 2`` (l2),
    with the entry weights of a symmetric fit on pairs listed once (2 off the diagonal)."""
    a = xp.abs(res) if mode == MODE_L1 else 0.5 * res * res
    once = getattr(op, "_pairs_once", None)
    if once is None:
        return float(xp.mean(a))
    m, n_diag = res.shape[0], once[0].shape[0]
    return float((2 * xp.sum(a) - xp.sum(a[once[0]])) / (2 * m - n_diag))


def _entries(op, a, xp):
    """Per-measurement values ``a`` as the multiset the loss weighs: for entry pairs listed
    once in a symmetric fit, each off-diagonal value twice (so medians do not depend on how
    the pairs were listed)."""
    once = getattr(op, "_pairs_once", None)
    if once is None:
        return a
    off = xp.ones(a.shape[0], dtype=bool)
    off[once[0]] = False
    return xp.concatenate([a, a[off]])


def _typical(a, xp):
    """Median of the non-negative array ``a``, or its mean when the median is zero."""
    med = float(xp.median(a))
    return med if med > 0 else float(xp.mean(a))


def _split(op, y, fraction, seed, xp):
    """``(train op, y_train, val op, y_val)``; no split (``val = None``) for fraction 0."""
    m = op.n_measurements
    n_val = int(round(fraction * m))
    if n_val == 0:
        return op, y, None, None
    if m - n_val < 1:
        raise ValueError(f"holdout={fraction} leaves no measurement to fit")
    u = uniform_xp(np, stream_key(seed, STREAM_HOLDOUT), np.arange(m), np.zeros(m))
    order = np.argsort(u, kind="stable")
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    yv, yt = y[to_engine(val_idx, op.engine)], y[to_engine(train_idx, op.engine)]
    return op._subset(train_idx), yt, op._subset(val_idx), yv


def _calibration(op, y, mode, symmetric, seed, xp):
    """Scale ``lambda`` of the step: top eigenvalue of ``-sym(G_0)`` (symmetric) or half the
    top singular value of ``G_0`` (asymmetric), ``G_0`` the (sub)gradient matrix at ``X = 0``."""
    m = op.n_measurements
    w0 = -xp.sign(y) if mode == MODE_L1 else -y
    mv, rmv = op._adjoint(w0)
    d1, d2 = op.matrix_shape
    if symmetric:
        once = getattr(op, "_pairs_once", None)
        if once is not None:  # the weights of subgradient()
            pos, rows = once
            wd, m = w0[pos], m - 0.5 * pos.shape[0]

        def apply(q):
            z = (mv(q[:, None]) + rmv(q[:, None]))[:, 0]
            if once is not None:
                z[rows] -= wd * q[rows]
            return -0.5 / m * z
        ritz = _lanczos_ritz(apply, d1, seed, xp, w0.dtype)
        lam = float(ritz.max())
        if lam <= 1e-3 * float(np.abs(ritz).max()):
            warnings.warn("the data do not look like measurements of a PSD matrix (-sym(G_0) "
                          "has no clear positive eigenvalue); consider symmetric=False",
                          RuntimeWarning, stacklevel=3)
            lam = float(np.abs(ritz).max())
    else:
        def apply(q):
            return rmv(mv(q[:, None]))[:, 0] / (m * m)
        ritz = _lanczos_ritz(apply, d2, seed, xp, w0.dtype)
        lam = 0.5 * float(np.sqrt(max(float(ritz.max()), 0.0)))
    if not lam > 0:
        raise ValueError("cannot calibrate the step: the operator's adjoint of sign(y) is zero")
    return lam


def _lanczos_ritz(apply, n, seed, xp, dtype, steps=30):
    """Ritz values of the symmetric map ``apply`` (n-vectors) after a few Lanczos steps with
    full reorthogonalisation; the extreme ones are accurate to a few digits, enough for a
    step size."""
    k = min(n, steps)
    q = xp.asarray(gaussian_xp(np, stream_key(seed, STREAM_LANCZOS), np.arange(n),
                               np.zeros(n)), dtype=dtype)
    q = q / xp.sqrt(xp.sum(q * q))
    basis = xp.zeros((n, k), dtype=dtype)
    alphas, betas = [], []
    for j in range(k):
        basis[:, j] = q
        z = apply(q)
        alphas.append(float(q @ z))
        Qj = basis[:, :j + 1]
        for _ in range(2):  # twice is enough (Kahan)
            z = z - Qj @ (Qj.T @ z)
        beta = float(xp.sqrt(xp.sum(z * z)))
        if j == k - 1 or beta <= 1e-10 * max(abs(a) for a in alphas):
            break
        betas.append(beta)
        q = z / beta
    T = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
    return np.linalg.eigvalsh(T)
