"""Robust alternating minimization for low-rank matrix completion (Gu, Song, Yin & Zhang 2024).

The driver (initialization, clipping, the alternation, QR normalization, stopping, history)
is written once against the array namespace of the data; the per-row least-squares solves
of each half-step run in ``nla.completion._kernels`` (Numba) or ``nla_gpu.completion`` (CuPy).
"""

import time
import warnings

import numpy as np

from .._array import Origin, kernels, namespaces, to_engine, to_host
from .._estimator import BaseEstimator, ConvergenceWarning, check_is_fitted
from .._progress import progress
from .._random import gaussian_xp, hash_xp, stream_key
from .._result import Result
from .._threads import one_blas_thread
from .._validation import check_choice, check_int, check_scalar, check_seed
from ._observed import DUPLICATES, Observations, parse_observed

# Streams of the counter-based generator used here (>= 16 are free for areas).
_STREAM_INIT, _STREAM_SKETCH, _STREAM_SPLIT = 16, 17, 18

#: ``to_dense`` refuses results with more entries than this (8 GiB in float64).
MAX_DENSE = 2**30
#: The first sweeps start from the spectral init, whose warm start can be far from the
#: least-squares solutions; a forcing relative to that residual then leaves large errors that
#: stall AltMin on a plateau for several sweeps. They are solved tightly instead.
_TIGHT_SWEEPS, _TIGHT_FORCING = 2, 1e-4


class AltMinCompleter(BaseEstimator):
    """Low-rank matrix completion by robust alternating minimization.

    Finds ``U`` (m x k) and ``V`` (n x k) with ``U @ V.T`` matching the observed entries of an
    m x n matrix of rank ``k``. The algorithm is the one analysed by Jain, Netrapalli &
    Sanghavi (2013) with the approximate solves of Gu, Song, Yin & Zhang (ICLR 2024):

    1. top-k SVD of the rescaled observed matrix ``P_Omega(M) / p``;
    2. clipping of the init's overly large (coherent) rows, then re-orthonormalization;
    3. alternating per-row least squares: ``V`` given ``U``, then ``U`` given ``V``, each
       factor QR-normalized before it is used as the design of the next half-step.

    With ``solver='cg'`` every row problem is solved only approximately, by conjugate
    gradients warm-started from the previous iterate and stopped once its residual has
    dropped by a forcing factor tied to the estimated condition number. That costs
    ``O(|Omega_i| k)`` per row and step, so a sweep costs ``O(|Omega| k)`` times a few steps
    instead of the ``O(|Omega| k^2 + (m + n) k^3)`` of exact normal equations; the paper proves
    such inexact solves keep the geometric convergence of the exact method.

    Parameters
    ----------
    rank : int
        Target rank ``k``, ``1 <= k < min(m, n)``.
    solver : {'cg', 'cholesky', 'sketch'}
        Per-row solver. ``'cholesky'``: exact normal equations (the reference; fastest for
        ``k`` below about 20-30, see the docs for the measured crossover). ``'cg'``:
        warm-started conjugate gradients with an adaptive tolerance. ``'sketch'``: CG
        preconditioned by a CountSketch of each row problem (the paper's solver; pays off
        only for rows with many more than ``sketch_size`` observations).
    clip : 'auto', float or None
        Clipping of the SVD initialization. ``'auto'`` zeroes rows of the init whose norm
        exceeds 3 times the median row norm; a float ``mu`` uses the incoherence threshold
        ``2 mu sqrt(k / m)``; ``None`` disables clipping.
    max_iter : int
        Maximum number of outer iterations (one ``V`` and one ``U`` half-step each).
    tol : float
        Stop when the relative change ``||X_t - X_{t-1}||_F / ||X_t||_F`` of the estimate
        ``X_t = U_t V_t^T`` falls below ``tol``. A fit that reaches ``max_iter`` first warns
        (``nla.ConvergenceWarning``), except with ``tol=0`` (a fixed number of sweeps).
    reg : float
        Ridge added to each row's normal equations, relative to their typical eigenvalue:
        ``reg * |Omega_i| / N`` for a row with ``|Omega_i|`` observations and an orthonormal
        design of ``N`` rows (the ALS-WR count scaling, made dimensionless). As the design is
        orthonormal this penalizes the norm of the row's fitted values. ``0`` (default) is
        the exact-recovery algorithm; noisy data and rows with fewer than ``rank``
        observations benefit from ``reg > 0``.
    cg_forcing : 'auto' or float
        Relative residual reduction (from the warm start) required of each row's CG solve.
        ``'auto'`` uses ``min(0.1, 1 / kappa)``, with ``kappa`` the condition number of the
        current estimate, except in the first two sweeps, which start from the spectral
        init and are solved to ``1e-4`` (loose solves there stall AltMin on a plateau).
    cg_max_iter : int
        CG step cap per row; a row that hits it is solved exactly.
    sketch_size : int or None
        Rows of the per-row CountSketch for ``solver='sketch'`` (default ``2 * rank``).
    sample_splitting : bool
        Use a fresh disjoint part of the observations in every half-step, as in the theory
        (``2 max_iter + 1`` parts). Off by default: it divides the data each step sees by
        ``2 max_iter + 1`` and in practice only slows convergence.
    duplicates : {'raise', 'mean'}
        What to do with repeated ``(row, col)`` observations.
    random_state : None, int, RandomState or Generator
        Seed of the SVD initialization, the sketches and the sample split.
    verbose : bool
        Show a progress bar.
    callback : callable or None
        Called after every iteration as ``callback(info)`` with a :class:`nla.Result` holding
        ``iteration``, ``U``, ``V`` (the current factors, engine arrays) and the history
        entries of that iteration. Returning ``True`` stops the fit.

    Attributes
    ----------
    U_, V_ : array, shape (m, rank) and (n, rank)
        Balanced factors: ``U_ @ V_.T`` is the completed matrix, and
        ``U_ = P sqrt(S)``, ``V_ = Q sqrt(S)`` for its SVD ``P S Q^T``.
    singular_values_ : ndarray, shape (rank,)
        Singular values of the completed matrix, descending.
    n_iter_ : int
        Outer iterations run.
    converged_ : bool
        Whether the relative change fell below ``tol``.
    history_ : dict of lists
        Per iteration: ``train_rmse`` (root mean squared error on the observations),
        ``rel_change``, ``cg_iters_mean`` (mean CG steps per row and half-step, 0 for
        ``'cholesky'``), ``seconds`` (wall time of the sweep).
    n_empty_rows_, n_empty_cols_ : int
        Rows/columns without observations (their factor rows are zero).

    Examples
    --------
    >>> import numpy as np
    >>> from nla import AltMinCompleter
    >>> rng = np.random.default_rng(0)
    >>> M = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 50))
    >>> X = np.where(rng.random(M.shape) < 0.5, M, np.nan)     # half the entries observed
    >>> est = AltMinCompleter(rank=3, random_state=0).fit(X)
    >>> bool(np.linalg.norm(est.to_dense() - M) / np.linalg.norm(M) < 1e-8)
    True
    """

    def __init__(self, rank, *, solver="cg", clip="auto", max_iter=100, tol=1e-10, reg=0.0,
                 cg_forcing="auto", cg_max_iter=50, sketch_size=None, sample_splitting=False,
                 duplicates="raise", random_state=None, verbose=False, callback=None):
        self.rank = rank
        self.solver = solver
        self.clip = clip
        self.max_iter = max_iter
        self.tol = tol
        self.reg = reg
        self.cg_forcing = cg_forcing
        self.cg_max_iter = cg_max_iter
        self.sketch_size = sketch_size
        self.sample_splitting = sample_splitting
        self.duplicates = duplicates
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, shape=None):
        """Complete the matrix from its observed entries.

        Parameters
        ----------
        X : tuple (rows, cols, vals), sparse matrix or dense array
            The observations: COO triplets (``shape`` required), a scipy.sparse /
            cupyx.scipy.sparse matrix whose stored entries (explicit zeros included) are the
            observations, or a dense array with NaN for missing entries. GPU arrays run on
            the GPU.
        y : None
            Ignored (scikit-learn convention).
        shape : tuple (m, n), optional
            Shape of the matrix; required for triplets.

        Returns
        -------
        self
        """
        rows, cols, vals, (m, n), engine = parse_observed(X, shape, self.duplicates)
        origin = Origin(X[2] if isinstance(X, tuple) else X)
        params = self._check_params(m, n, vals.dtype)
        k = params["rank"]
        xp, _ = namespaces(engine)
        K = kernels("completion", engine)
        nnz = int(vals.shape[0])
        if nnz < k * (m + n - k):
            warnings.warn(f"X has {nnz} observations, fewer than the {k * (m + n - k)} degrees "
                          f"of freedom of a rank-{k} {m} x {n} matrix: the completion is not "
                          "identifiable", UserWarning, stacklevel=2)
        obs = Observations(rows, cols, vals, (m, n), xp)
        self._warn_sparse_lines(obs, k)
        seed = check_seed(self.random_state)
        parts = self._split(obs, seed, params["max_iter"]) if self.sample_splitting else None

        with one_blas_thread():  # also the QRs: idle BLAS threads spin on busy cores
            U, V, self.history_, self.n_iter_, self.converged_ = self._alternate(
                obs, parts, params, seed, K, xp)
        U, V, s = _balance(U, V, xp)
        self._engine, self._shape = engine, (m, n)
        self._U, self._V = U, V
        self.U_, self.V_ = origin.restore(U), origin.restore(V)
        self.singular_values_ = s
        return self

    def _check_params(self, m, n, dtype):
        k = check_int(self.rank, "rank", low=1)
        if k >= min(m, n):
            raise ValueError(f"rank must be < min(m, n) = {min(m, n)}, got {k}")
        solver = check_choice(self.solver, "solver", ("cg", "cholesky", "sketch"))
        clip = self.clip
        if clip is not None and clip != "auto":
            clip = check_scalar(clip, "clip", low=0, low_open=True)
        forcing = self.cg_forcing
        if forcing != "auto":
            forcing = check_scalar(forcing, "cg_forcing", low=0, high=1, low_open=True,
                                   high_open=True)
        tol = check_scalar(self.tol, "tol", low=0)
        if dtype == np.float32 and 0 < tol < 1e-6:
            warnings.warn("float32 data limits the relative accuracy to about 1e-6; tol="
                          f"{tol:g} will likely not be reached", UserWarning, stacklevel=3)
        sketch = self.sketch_size
        sketch = 2 * k if sketch is None else check_int(sketch, "sketch_size", low=k)
        if not isinstance(self.sample_splitting, (bool, np.bool_)):
            raise TypeError(f"sample_splitting must be a bool, got {self.sample_splitting!r}")
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable, got {self.callback!r}")
        check_choice(self.duplicates, "duplicates", DUPLICATES)
        return dict(rank=k, solver=solver, clip=clip, forcing=forcing, tol=tol,
                    max_iter=check_int(self.max_iter, "max_iter", low=1),
                    reg=check_scalar(self.reg, "reg", low=0),
                    cg_max_iter=check_int(self.cg_max_iter, "cg_max_iter", low=1),
                    sketch_size=sketch,
                    floor=10 * float(np.finfo(dtype).eps))

    def _warn_sparse_lines(self, obs, k):
        row_counts, col_counts = obs.counts(0), obs.counts(1)
        self.n_empty_rows_ = int((row_counts == 0).sum())
        self.n_empty_cols_ = int((col_counts == 0).sum())
        if self.n_empty_rows_ or self.n_empty_cols_:
            warnings.warn(f"{self.n_empty_rows_} rows and {self.n_empty_cols_} columns of X have "
                          "no observation; their factor rows are set to zero", UserWarning,
                          stacklevel=3)
        few = int(((row_counts > 0) & (row_counts < k)).sum() +
                  ((col_counts > 0) & (col_counts < k)).sum())
        if few and self.reg == 0:
            warnings.warn(f"{few} rows/columns of X have fewer than rank={k} observations; "
                          "their least-squares problems are underdetermined and solved with "
                          "minimum norm", UserWarning, stacklevel=3)

    @staticmethod
    def _split(obs, seed, T):
        # Part of each observation: a hash of (row, col), so the split is reproducible.
        xp = obs.xp
        bits = hash_xp(xp, stream_key(seed, _STREAM_SPLIT), obs.rows, obs.cols)
        part = ((bits >> np.uint64(32)) * np.uint64(2 * T + 1)) >> np.uint64(32)
        return [obs.subset(part == q) for q in range(2 * T + 1)]

    # ------------------------------------------------------------ algorithm
    def _alternate(self, obs, parts, params, seed, K, xp):
        k, T = params["rank"], params["max_iter"]
        init_obs = parts[0] if parts else obs
        U_hat, V_warm, kappa = _svd_init(init_obs, k, params["clip"], seed, xp)
        sketch_key = stream_key(seed, _STREAM_SKETCH)
        history = {"train_rmse": [], "rel_change": [], "cg_iters_mean": [], "seconds": []}
        prev = None
        converged = False
        it = 0
        for it in progress(range(1, T + 1), verbose=self.verbose, desc="AltMin"):
            start = time.perf_counter()
            if params["forcing"] != "auto":
                eta = params["forcing"]
            elif it <= _TIGHT_SWEEPS:
                eta = _TIGHT_FORCING
            else:
                eta = min(0.1, 1.0 / kappa)
            v_obs = parts[it] if parts else obs
            u_obs = parts[T + it] if parts else obs
            solve = dict(solver=params["solver"], eta=max(eta, 1e-12), floor=params["floor"],
                         max_iter=params["cg_max_iter"], reg=params["reg"],
                         sketch_size=params["sketch_size"])
            U, V_hat, U_hat, V_warm, kappa, steps = sweep(
                v_obs, u_obs, U_hat, V_warm, K, xp, keys=(stream_key(sketch_key, 2 * it),
                                                          stream_key(sketch_key, 2 * it + 1)),
                **solve)
            rmse = np.sqrt(K.observed_sse(*obs.row_view, U, V_hat) / obs.nnz)
            change = _relative_change(U, V_hat, prev, xp)
            prev = (U, V_hat)
            n_solved = obs.shape[0] + obs.shape[1]
            cg_mean = steps / n_solved
            entry = dict(train_rmse=float(rmse), rel_change=change, cg_iters_mean=cg_mean,
                         seconds=time.perf_counter() - start)
            for name, value in entry.items():
                history[name].append(value)
            stop = False
            if self.callback is not None:
                stop = bool(self.callback(Result(iteration=it, U=U, V=V_hat, **entry)))
            if change < params["tol"]:
                converged = True
                break
            if stop:
                break
        else:
            if params["tol"] > 0:
                warnings.warn(
                    f"AltMin reached max_iter={T} before the relative change fell below "
                    f"tol={params['tol']:g} (last change {change:.2g}, training RMSE "
                    f"{rmse:.3g}); raise max_iter, or, if the change stays large, the sample "
                    "may be too small or too coherent for this rank", ConvergenceWarning,
                    stacklevel=3)
        return U, V_hat, history, it, converged

    # ------------------------------------------------------------- results
    def predict(self, rows, cols):
        """Entries ``(rows[t], cols[t])`` of the completed matrix.

        Parameters
        ----------
        rows, cols : array-like of int, shape (q,)
            Entry coordinates.

        Returns
        -------
        array, shape (q,)
            In the framework of ``rows``.
        """
        check_is_fitted(self, "U_")
        origin = Origin(rows)
        xp, _ = namespaces(self._engine)
        K = kernels("completion", self._engine)
        idx = []
        for name, a, size in (("rows", rows, self._shape[0]), ("cols", cols, self._shape[1])):
            a = to_engine(np.asarray(a) if isinstance(a, (list, tuple)) else a, self._engine)
            if a.dtype.kind not in "iu":
                raise TypeError(f"{name} must be integer indices, got dtype {a.dtype}")
            if a.ndim != 1:
                raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
            a = a.astype(xp.int64)
            if a.size and (int(a.min()) < 0 or int(a.max()) >= size):
                raise ValueError(f"{name} out of range: indices must be in [0, {size})")
            idx.append(a)
        if idx[0].shape != idx[1].shape:
            raise ValueError(f"rows and cols must have one length, got {idx[0].shape[0]} and "
                             f"{idx[1].shape[0]}")
        return origin.restore(K.predict(idx[0], idx[1], self._U, self._V))

    def score(self, X, y=None, *, shape=None):
        """Negative root mean squared error on the observations ``X`` (any ``fit`` format)."""
        check_is_fitted(self, "U_")
        rows, cols, vals, _, _ = parse_observed(X, self._shape if shape is None else shape)
        pred = to_engine(to_host(self.predict(rows, cols)), self._engine)
        xp, _ = namespaces(self._engine)
        return -float(xp.sqrt(xp.mean((pred - vals) ** 2)))

    def to_dense(self):
        """The completed matrix ``U_ @ V_.T`` (refused above ``MAX_DENSE`` entries)."""
        check_is_fitted(self, "U_")
        m, n = self._shape
        if m * n > MAX_DENSE:
            raise ValueError(f"to_dense would allocate {m} x {n} entries; use predict(rows, "
                             "cols) for large matrices")
        return self.U_ @ self.V_.T


def sweep(v_obs, u_obs, U_hat, V_warm, K, xp, *, keys=(0, 0), reg=0.0, **solve):
    """One AltMin sweep: the V-half on ``v_obs``, then the U-half on ``u_obs``.

    ``U_hat`` is the current orthonormal U and ``V_warm`` the V-half's warm start (it is
    overwritten). ``reg`` is relative to a row's typical Gram eigenvalue ``|Omega_i| / N``
    (``N`` rows of the orthonormal design), so the kernels get ``reg / N``. Returns
    ``(U, V_hat, U_hat_next, V_warm_next, kappa, cg_steps)``: the U solution and orthonormal V
    (the estimate is ``U V_hat^T``), the next sweep's design and warm start, the estimate's
    condition number and the total number of CG steps.
    """
    m, n = v_obs.shape
    # V-half: column problems with the orthonormal U_hat as design.
    V, it_v, _ = K.solve_rows(*v_obs.col_view, U_hat, V_warm, key=keys[0], reg=reg / m,
                              **solve)
    V_hat, R_v = xp.linalg.qr(V)
    V_hat = xp.ascontiguousarray(V_hat)
    # U-half, warm-started at the same estimate U_hat R_v^T V_hat^T.
    U, it_u, _ = K.solve_rows(*u_obs.row_view, V_hat, xp.ascontiguousarray(U_hat @ R_v.T),
                              key=keys[1], reg=reg / n, **solve)
    U_hat, R_u = xp.linalg.qr(U)
    V_warm = xp.ascontiguousarray(V_hat @ R_u.T)
    sv = np.linalg.svd(to_host(R_u), compute_uv=False)
    kappa = float(sv[0] / sv[-1]) if sv[-1] > 0 else np.inf
    steps = float(it_v.sum()) + float(it_u.sum())
    return U, V_hat, xp.ascontiguousarray(U_hat), V_warm, kappa, steps


def _svd_init(obs, k, clip, seed, xp, oversample=10, n_power=6):
    """Clipped, orthonormalized top-k left singular vectors of ``P_Omega(M) / p``.

    Randomized subspace iteration with a counter-based Gaussian start (the same on both
    engines). Returns ``(U_hat, V_warm, kappa)``: the design of the first V-half, a warm
    start for it (the init's estimate expressed in ``U_hat``) and the init's condition number.
    """
    A, At = obs.matrices()
    m, n = obs.shape
    p = obs.nnz / (m * n)
    ell = min(k + oversample, min(m, n))
    key = stream_key(seed, _STREAM_INIT)
    omega = gaussian_xp(xp, key, xp.arange(n)[:, None], xp.arange(ell)[None, :])
    Q, _ = xp.linalg.qr(A @ omega.astype(obs.vals.dtype))
    for _ in range(n_power):
        Z, _ = xp.linalg.qr(At @ Q)
        Q, _ = xp.linalg.qr(A @ Z)
    B = (At @ Q).T / p                                    # ell x n
    Ub, s, Vt = xp.linalg.svd(B, full_matrices=False)
    U0 = Q @ Ub[:, :k]
    s = s[:k]
    norms = xp.linalg.norm(U0, axis=1)
    if clip is not None:
        if clip == "auto":  # median over rows with data: empty rows must not drag it down
            limit = 3 * float(xp.median(norms[norms > 0]))
        else:
            limit = 2 * clip * np.sqrt(k / m)
        U0 = U0 * (norms <= limit)[:, None]
    U_hat, R = xp.linalg.qr(U0)
    # The init's estimate U0 diag(s) Vt = U_hat R diag(s) Vt; reuse it as the V warm start.
    V_warm = xp.ascontiguousarray(Vt[:k].T @ (R * s[None, :]).T)
    s_host = to_host(s)
    kappa = float(s_host[0] / s_host[-1]) if s_host[-1] > 0 else np.inf
    return xp.ascontiguousarray(U_hat), V_warm, kappa


def _relative_change(U, V_hat, prev, xp):
    """``||U V_hat^T - U0 V0^T||_F / ||U V_hat^T||_F``, computed stably (no cancellation).

    With ``[V_hat, V0] = Q R``, the difference is ``[U, -U0] R^T Q^T`` and ``Q`` has
    orthonormal columns, so its norm is that of the small product ``[U, -U0] R^T``.
    """
    norm = float(xp.linalg.norm(U))
    if prev is None:
        return np.inf
    U0, V0 = prev
    _, R = xp.linalg.qr(xp.concatenate([V_hat, V0], axis=1))
    diff = float(xp.linalg.norm(xp.concatenate([U, -U0], axis=1) @ R.T))
    return diff / norm if norm > 0 else (0.0 if diff == 0 else np.inf)


def _balance(U, V_hat, xp):
    """Balanced factors ``(P sqrt(S), Q sqrt(S), S)`` of ``U V_hat^T = P S Q^T``."""
    U_hat, R = xp.linalg.qr(U)
    P, s, Qt = np.linalg.svd(to_host(R))
    root = np.sqrt(s)
    left, right = xp.asarray(P * root), xp.asarray(Qt.T * root)
    return xp.ascontiguousarray(U_hat @ left), xp.ascontiguousarray(V_hat @ right), s
