"""Robust alternating minimization for low-rank matrix completion (Gu, Song, Yin & Zhang 2024).

The driver (initialization, clipping, the alternation, QR normalization, stopping, history)
is written once against the array namespace of the data; the per-row least-squares solves
of each half-step run in ``nla.completion._kernels`` (Numba) or ``nla_gpu.completion`` (CuPy).
"""

import time
import warnings

import numpy as np

from .._array import Origin, engine_of, kernels, namespaces, to_engine, to_host
from .._estimator import BaseEstimator, ConvergenceWarning, check_is_fitted
from .._progress import progress
from .._random import gaussian_xp, hash_xp, stream_key
from .._result import Result
from .._threads import one_blas_thread
from .._validation import check_bool, check_choice, check_int, check_scalar, check_seed
from . import _biased
from ._observed import DUPLICATES, Observations, parse_observed

# Streams of the counter-based generator used here (>= 16 are free for areas).
_STREAM_INIT, _STREAM_SKETCH, _STREAM_SPLIT, _STREAM_VALID = 16, 17, 18, 19
#: CG forcing of the biased model's row solves with ``cg_forcing='auto'`` (its factors are
#: not normalized, so the condition-number rule of the exact-recovery mode does not apply).
_BIASED_FORCING = 1e-3

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
        observations benefit from ``reg > 0``. With ``biases=True``, ``reg`` is the ALS-WR
        weight of the objective given there (data scaled to unit spread); on rating data
        search ``reg`` in about 0.03 ... 0.3 (0.1 is a good start), see the docs.
    biases : bool
        ``False`` (default): the exact-recovery algorithm above. ``True``: noisy, rating-like
        data. The model becomes ``mu + b_i + c_j + u_i . v_j`` (a global offset, per-row and
        per-column offsets and the rank-``k`` term), fitted jointly by alternating ridge
        solves of ``(u_i, b_i)`` and ``(v_j, c_j)`` that minimize the ALS-WR objective
        ``sum (x_ij - mu - b_i - c_j - u_i . v_j)^2 + reg (sum_i n_i (|u_i|^2 + b_i^2) +
        sum_j n_j (|v_j|^2 + c_j^2))`` on the data divided by their standard deviation
        (``n_i``, ``n_j`` the observation counts); ``mu`` is the mean residual. Same kernels
        and cost per sweep as rank ``k + 1``; the factors are not QR-normalized.
    value_range : None or (low, high)
        Range the predictions are clipped to in ``predict``, ``score``, ``to_dense`` and the
        early-stopping validation (e.g. ``(1, 5)`` for star ratings).
    validation_fraction : None or float
        Early stopping: hold out this fraction of the observations (a reproducible hash of
        ``(row, col)``), fit on the rest, keep the sweep with the lowest validation RMSE and
        stop ``n_iter_no_change`` sweeps after it. ``None`` (default): no hold-out.
    n_iter_no_change : int
        Patience of the early stopping.
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
        Seed of the SVD initialization, the sketches and the sample and validation splits.
    verbose : bool
        Show a progress bar.
    callback : callable or None
        Called after every iteration as ``callback(info)`` with a :class:`nla.Result` holding
        ``iteration``, ``U``, ``V`` (the current factors, engine arrays) and the history
        entries of that iteration. Returning ``True`` stops the fit.

    Attributes
    ----------
    U_, V_ : array, shape (m, rank) and (n, rank)
        Factors. ``biases=False``: balanced, ``U_ @ V_.T`` is the completed matrix, and
        ``U_ = P sqrt(S)``, ``V_ = Q sqrt(S)`` for its SVD ``P S Q^T``. ``biases=True``: the
        ALS factors as fitted (row ``i`` of ``U_`` is the ridge solve given ``V_``, which is
        what :meth:`fold_in` computes for new rows).
    intercept_ : float
        Global offset ``mu`` (0 without biases).
    row_bias_, col_bias_ : array, shape (m,) and (n,)
        Per-row and per-column offsets (zeros without biases). The completed matrix is
        ``intercept_ + row_bias_[:, None] + col_bias_[None, :] + U_ @ V_.T`` (then clipped
        to ``value_range``).
    singular_values_ : ndarray, shape (rank,)
        Singular values of ``U_ @ V_.T``, descending.
    best_iteration_ : int
        The sweep kept (the last one without early stopping).
    n_iter_ : int
        Outer iterations run.
    converged_ : bool
        Whether the relative change fell below ``tol``.
    history_ : dict of lists
        Per iteration: ``train_rmse`` (root mean squared error on the observations),
        ``rel_change``, ``cg_iters_mean`` (mean CG steps per row and half-step, 0 for
        ``'cholesky'``), ``seconds`` (wall time of the sweep); with ``biases=True`` the
        ``objective`` (ALS-WR objective per observation, data scaled to unit spread; it never
        increases with ``solver='cholesky'``), and with ``validation_fraction`` the
        ``val_rmse`` of the held-out part (after clipping).
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
                 biases=False, value_range=None, validation_fraction=None, n_iter_no_change=5,
                 cg_forcing="auto", cg_max_iter=50, sketch_size=None, sample_splitting=False,
                 duplicates="raise", random_state=None, verbose=False, callback=None):
        self.rank = rank
        self.solver = solver
        self.clip = clip
        self.max_iter = max_iter
        self.tol = tol
        self.reg = reg
        self.biases = biases
        self.value_range = value_range
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.cg_forcing = cg_forcing
        self.cg_max_iter = cg_max_iter
        self.sketch_size = sketch_size
        self.sample_splitting = sample_splitting
        self.duplicates = duplicates
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True      # stored entries are the observations
        tags.input_tags.allow_nan = True   # dense input: NaN marks a missing entry
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, shape=None):
        """Complete the matrix from its observed entries.

        Parameters
        ----------
        X : tuple (rows, cols, vals), sparse matrix, dense array or (q, 2) int array
            The observations: COO triplets (``shape`` required), a scipy.sparse /
            cupyx.scipy.sparse matrix whose stored entries (explicit zeros included) are the
            observations, a dense array with NaN for missing entries, or ``(row, col)``
            pairs with the values in ``y`` (the layout scikit-learn's splitters and
            ``GridSearchCV`` work on). GPU arrays run on the GPU.
        y : None or array, shape (q,)
            The observed values when ``X`` holds ``(row, col)`` pairs.
        shape : tuple (m, n), optional
            Shape of the matrix; required for triplets, one past the largest ids by default
            for pairs.

        Returns
        -------
        self
        """
        rows, cols, vals, (m, n), engine = parse_observed(X, shape, self.duplicates, y=y)
        origin = Origin(X[2] if isinstance(X, tuple) else X if y is None else y)
        params = self._check_params(m, n, vals.dtype)
        k = params["rank"]
        xp, _ = namespaces(engine)
        K = kernels("completion", engine)
        seed = check_seed(self.random_state)
        scale, offset = _scale(vals, params["biases"], xp)
        obs = Observations(rows, cols, vals / vals.dtype.type(scale), (m, n), xp)
        valid = None
        if params["validation_fraction"]:
            obs, valid = self._holdout(obs, seed, params["validation_fraction"])
        nnz = obs.nnz
        if nnz < k * (m + n - k):
            warnings.warn(f"X has {nnz} observations, fewer than the {k * (m + n - k)} degrees "
                          f"of freedom of a rank-{k} {m} x {n} matrix: the completion is not "
                          "identifiable", UserWarning, stacklevel=2)
        self._warn_sparse_lines(obs, k, params["biases"])
        params["sketch_size"] = min(params["sketch_size"], _max_count(obs))
        parts = self._split(obs, seed, params["max_iter"]) if self.sample_splitting else None

        with one_blas_thread():  # also the QRs: idle BLAS threads spin on busy cores
            model, self.history_, self.n_iter_, self.converged_, self.best_iteration_ = \
                self._alternate(obs, parts, valid, params, seed, K, xp, scale, offset / scale)
        self.history_["train_rmse"] = [r * scale for r in self.history_["train_rmse"]]
        if valid is not None:
            self.history_["val_rmse"] = [r * scale for r in self.history_["val_rmse"]]
        self._engine, self._shape, self._scale = engine, (m, n), scale
        self._reg, self._biases = params["reg"], params["biases"]
        self._range = params["value_range"]
        root = np.sqrt(scale)
        if params["biases"]:
            self._mu = model.mu
            self._A, self._B = model.augmented()       # mu + A B^T is the completed matrix
            U, V = model.U[:, :k], model.V[:, :k]
            _, _, s = _balance(*_orthonormal_right(U, V, xp), xp)
            self.intercept_ = model.mu * scale
            self.row_bias_ = origin.restore(model.U[:, k] * scale)
            self.col_bias_ = origin.restore(model.V[:, k] * scale)
        else:
            U, V, s = _balance(model.U, model.V, xp)
            self._mu, self._A, self._B = 0.0, U, V
            self.intercept_ = 0.0
            self.row_bias_ = origin.restore(xp.zeros(m, dtype=U.dtype))
            self.col_bias_ = origin.restore(xp.zeros(n, dtype=U.dtype))
        self.U_ = origin.restore(xp.ascontiguousarray(U) * U.dtype.type(root))
        self.V_ = origin.restore(xp.ascontiguousarray(V) * V.dtype.type(root))
        self._V_fixed = xp.ascontiguousarray(V)        # fold_in's design (scaled units)
        self.singular_values_ = s * scale
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
        if check_bool(self.sample_splitting, "sample_splitting") and self.biases is True:
            raise ValueError("sample_splitting=True is for the exact-recovery theory; it "
                             "cannot be combined with biases=True")
        value_range = self.value_range
        if value_range is not None:
            try:
                low, high = value_range
            except (TypeError, ValueError):
                raise TypeError(f"value_range must be None or a pair (low, high), got "
                                f"{value_range!r}") from None
            low = check_scalar(low, "value_range[0]")
            value_range = (low, check_scalar(high, "value_range[1]", low=low, low_open=True))
        fraction = self.validation_fraction
        if fraction is not None:
            fraction = check_scalar(fraction, "validation_fraction", low=0, high=1,
                                    low_open=True, high_open=True)
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable, got {self.callback!r}")
        check_choice(self.duplicates, "duplicates", DUPLICATES)
        check_bool(self.verbose, "verbose")
        return dict(rank=k, solver=solver, clip=clip, forcing=forcing, tol=tol,
                    biases=check_bool(self.biases, "biases"), value_range=value_range,
                    validation_fraction=fraction,
                    n_iter_no_change=check_int(self.n_iter_no_change, "n_iter_no_change",
                                               low=1),
                    max_iter=check_int(self.max_iter, "max_iter", low=1),
                    reg=check_scalar(self.reg, "reg", low=0),
                    cg_max_iter=check_int(self.cg_max_iter, "cg_max_iter", low=1),
                    sketch_size=sketch,
                    floor=10 * float(np.finfo(dtype).eps))

    def _warn_sparse_lines(self, obs, k, biases=False):
        row_counts, col_counts = obs.counts(0), obs.counts(1)
        self.n_empty_rows_ = int((row_counts == 0).sum())
        self.n_empty_cols_ = int((col_counts == 0).sum())
        if self.n_empty_rows_ or self.n_empty_cols_:
            warnings.warn(f"{self.n_empty_rows_} rows and {self.n_empty_cols_} columns of X have "
                          "no observation; their factor rows are set to zero", UserWarning,
                          stacklevel=3)
        unknowns = k + biases                      # the offset is one more unknown per row
        few = int(((row_counts > 0) & (row_counts < unknowns)).sum() +
                  ((col_counts > 0) & (col_counts < unknowns)).sum())
        if few and self.reg == 0:
            what = f"rank={k}" + (" + 1 (the offset)" if biases else "")
            warnings.warn(f"{few} rows/columns of X have fewer than {what} observations; "
                          "their least-squares problems are underdetermined and solved with "
                          "minimum norm", UserWarning, stacklevel=3)

    @staticmethod
    def _holdout(obs, seed, fraction):
        # A hash of (row, col) decides, so the same entries are held out on every engine.
        bits = hash_xp(obs.xp, stream_key(seed, _STREAM_VALID), obs.rows, obs.cols)
        held = (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53 < fraction
        train, valid = obs.subset(~held), obs.subset(held)
        if train.nnz == 0 or valid.nnz == 0:
            raise ValueError(f"validation_fraction={fraction:g} leaves {train.nnz} training and "
                             f"{valid.nnz} validation observations; both must be non-empty")
        return train, valid

    @staticmethod
    def _split(obs, seed, T):
        # Part of each observation: a hash of (row, col), so the split is reproducible.
        xp = obs.xp
        bits = hash_xp(xp, stream_key(seed, _STREAM_SPLIT), obs.rows, obs.cols)
        part = ((bits >> np.uint64(32)) * np.uint64(2 * T + 1)) >> np.uint64(32)
        return [obs.subset(part == q) for q in range(2 * T + 1)]

    # ------------------------------------------------------------ algorithm
    def _alternate(self, obs, parts, valid, params, seed, K, xp, scale, mu):
        """Run the sweeps; returns ``(model, history, n_iter, converged, best_iteration)``."""
        T = params["max_iter"]
        sketch_key = stream_key(seed, _STREAM_SKETCH)
        if params["biases"]:
            U_hat, V_warm, _ = _svd_init(obs.shifted(-obs.vals.dtype.type(mu)),
                                         params["rank"], params["clip"], seed, xp)
            V0, U0, _ = _balance(V_warm, U_hat, xp)
            model = _biased.BiasedALS(obs, params, K, xp, U0, V0, sketch_key, mu)
        else:
            model = _Orthonormal(obs, parts, params, seed, K, xp, sketch_key)
        history = {"train_rmse": [], "rel_change": [], "cg_iters_mean": [], "seconds": []}
        if params["biases"]:
            history["objective"] = []
        if valid is not None:
            history["val_rmse"] = []
            best = (np.inf, None, 0)                    # (val_rmse, snapshot, iteration)
            low, high = (None, None) if params["value_range"] is None else \
                (params["value_range"][0] / scale, params["value_range"][1] / scale)
        prev = None
        converged = False
        it = 0
        for it in progress(range(1, T + 1), verbose=self.verbose, desc="AltMin"):
            start = time.perf_counter()
            if params["forcing"] != "auto":
                eta = params["forcing"]
            elif params["biases"]:
                eta = _BIASED_FORCING
            elif it <= _TIGHT_SWEEPS:
                eta = _TIGHT_FORCING
            else:
                eta = min(0.1, 1.0 / model.kappa)
            steps = model.sweep(it, max(eta, 1e-12))
            A, B = model.augmented()
            rmse = model.train_rmse()
            change = _relative_change(A, B, prev, xp)
            prev = (A, B)
            entry = dict(train_rmse=float(rmse), rel_change=change,
                         cg_iters_mean=steps / (obs.shape[0] + obs.shape[1]))
            if params["biases"]:
                entry["objective"] = model.objective
            stop = False
            if valid is not None:
                pred = _biased.predict(K, getattr(model, "mu", 0.0), A, B, valid.rows,
                                       valid.cols)
                if low is not None:
                    pred = xp.clip(pred, low, high)
                entry["val_rmse"] = float(xp.sqrt(xp.mean((pred - valid.vals) ** 2)))
                if entry["val_rmse"] < best[0]:
                    best = (entry["val_rmse"], model.snapshot(), it)
                elif it - best[2] >= params["n_iter_no_change"]:
                    stop = converged = True
            entry["seconds"] = time.perf_counter() - start
            for name, value in entry.items():
                history[name].append(value)
            if self.callback is not None:
                U, V = model.factors(scale)
                stop |= bool(self.callback(Result(iteration=it, U=U, V=V, **entry)))
            if change < params["tol"]:
                converged = True
                break
            if stop:
                break
        else:
            if params["tol"] > 0 and not converged:
                warnings.warn(
                    f"AltMin reached max_iter={T} before the relative change fell below "
                    f"tol={params['tol']:g} (last change {change:.2g}, training RMSE "
                    f"{rmse * scale:.3g}); raise max_iter, or, if the change stays large, the "
                    "sample may be too small or too coherent for this rank", ConvergenceWarning,
                    stacklevel=3)
        best_it = it
        if valid is not None and best[1] is not None:
            model.restore(best[1])
            best_it = best[2]
        return model, history, it, converged, best_it

    # ------------------------------------------------------------- results
    def predict(self, rows, cols=None):
        """Entries ``(rows[t], cols[t])`` of the completed matrix, clipped to ``value_range``.

        Parameters
        ----------
        rows, cols : array-like of int, shape (q,)
            Entry coordinates. ``predict(X)`` with one ``(q, 2)`` array of ``(row, col)``
            pairs (the layout of ``fit(X, y)``) works too.

        Returns
        -------
        array, shape (q,)
            In the framework of ``rows``.
        """
        check_is_fitted(self, "U_")
        if cols is None:
            pairs = to_engine(np.asarray(rows) if isinstance(rows, (list, tuple)) else rows,
                              engine_of(rows))
            if pairs.ndim != 2 or pairs.shape[1] != 2:
                raise ValueError("predict(X) needs X of shape (q, 2) (row, col) pairs, got shape "
                                 f"{tuple(pairs.shape)}; or call predict(rows, cols)")
            origin, rows, cols = Origin(rows), pairs[:, 0], pairs[:, 1]
        else:
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
        pred = _biased.predict(K, self._mu, self._A, self._B, idx[0], idx[1])
        return origin.restore(self._finish(pred, xp))

    def _finish(self, pred, xp):
        # scaled units -> the data's units, then the clipping asked for
        pred = pred * pred.dtype.type(self._scale)
        return pred if self._range is None else xp.clip(pred, *self._range)

    def score(self, X, y=None, *, shape=None):
        """Negative root mean squared error of ``predict`` on the observations ``X``.

        The scikit-learn sign convention (higher is better), so ``GridSearchCV`` and
        ``cross_val_score`` can tune ``rank`` and ``reg``: pass the observations as
        ``(row, col)`` pairs ``X`` and values ``y`` (any ``fit`` format works here). The
        predictions are clipped to ``value_range`` first, as in :meth:`predict`.

        Returns
        -------
        float
            ``-sqrt(mean((predict(rows, cols) - vals) ** 2))``.
        """
        check_is_fitted(self, "U_")
        if shape is None:
            shape = self._shape
        rows, cols, vals, _, _ = parse_observed(X, shape, y=y)
        pred = to_engine(to_host(self.predict(rows, cols)), self._engine)
        xp, _ = namespaces(self._engine)
        err = (pred - vals) / pred.dtype.type(self._scale)   # no over/underflow in the square
        return -float(xp.sqrt(xp.mean(err * err))) * self._scale

    def to_dense(self):
        """The completed matrix (refused above ``MAX_DENSE`` entries).

        ``U_ @ V_.T`` plus the offsets with ``biases=True``, clipped to ``value_range``.
        """
        check_is_fitted(self, "U_")
        m, n = self._shape
        if m * n > MAX_DENSE:
            raise ValueError(f"to_dense would allocate {m} x {n} entries; use predict(rows, "
                             "cols) for large matrices")
        if not self._biases and self._range is None:
            return self.U_ @ self.V_.T
        xp, _ = namespaces(self._engine)
        dense = (self._A @ self._B.T) + self._A.dtype.type(self._mu)
        return Origin(self.U_).restore(self._finish(dense, xp))

    def fold_in(self, X, y=None, *, shape=None):
        """Factors (and offsets) of new rows from their observed entries, without a refit.

        Each new row gets the ridge solve the fit's last half-step does for a row, with the
        fitted ``V_`` (and ``col_bias_``, ``intercept_``) held fixed: ``O(c k^2 + k^3)``
        for a row with ``c`` entries (solved exactly). For a training row with
        ``solver='cholesky'`` the result equals that row of ``U_`` (and ``row_bias_``).

        Parameters
        ----------
        X : any ``fit`` format
            The new rows' observations, ``q`` rows by the fitted ``n`` columns (column ids
            are the fitted ones); every new row needs at least one entry.
        y, shape : as in ``fit``
            ``shape`` defaults to ``(q, n)`` with ``q`` one past the largest row id.

        Returns
        -------
        Result
            ``U`` (q, rank) and ``row_bias`` (q,), in the framework of the input. The new
            rows' predictions are ``intercept_ + row_bias[:, None] + col_bias_ + U @ V_.T``
            (clip to ``value_range`` if you use one).

        Examples
        --------
        >>> import numpy as np
        >>> from nla import AltMinCompleter
        >>> rng = np.random.default_rng(0)
        >>> M = rng.standard_normal((80, 3)) @ rng.standard_normal((3, 40))
        >>> X = np.where(rng.random(M.shape) < 0.6, M, np.nan)
        >>> est = AltMinCompleter(3, random_state=0).fit(X[:60])        # rows 60..79 are new
        >>> new = est.fold_in(X[60:])
        >>> bool(np.abs(new.U @ est.V_.T - M[60:]).max() < 1e-6)
        True
        """
        check_is_fitted(self, "U_")
        m, n = self._shape
        if shape is None:
            shape = (None, n) if y is not None else None
        if isinstance(X, tuple) and shape is None:
            raise ValueError("shape (q, n) is required when X is given as (rows, cols, vals) "
                             "triplets")
        rows, cols, vals, (q, n_new), engine = parse_observed(X, shape, y=y)
        if n_new != n:
            raise ValueError(f"X has {n_new} columns; fold_in needs the fitted {n} columns "
                             "(column ids must be ids of the fit)")
        if engine != self._engine:
            raise ValueError(f"X is on the {engine} but the completer was fitted on the "
                             f"{self._engine}")
        origin = Origin(X[2] if isinstance(X, tuple) else X if y is None else y)
        xp, _ = namespaces(engine)
        K = kernels("completion", engine)
        dtype = self._V_fixed.dtype
        obs = Observations(rows, cols, (vals / self._scale).astype(dtype), (q, n), xp)
        counts = obs.counts(0)
        empty = xp.nonzero(counts == 0)[0]
        if empty.shape[0]:
            raise ValueError(f"{empty.shape[0]} rows of X have no observed entry (e.g. row "
                             f"{int(empty[0])}); fold_in needs at least one per new row")
        indptr, indices, data = obs.row_view
        k = self._V_fixed.shape[1]
        if self._biases:
            F = self._B[:, :k + 1]                                  # [V, 1]
            data = data - dtype.type(self._mu) - self._B[indices, k + 1]
            reg = self._reg
        else:
            F, R = xp.linalg.qr(self._V_fixed)    # the fit's orthonormal design, rotated
            reg = self._reg / n
        X0 = xp.zeros((q, F.shape[1]), dtype=dtype)
        with one_blas_thread():
            sol, _, _ = K.solve_rows(indptr, indices, data, xp.ascontiguousarray(F), X0,
                                     "cholesky", reg=reg)
        if self._biases:
            U, bias = sol[:, :k], sol[:, k] * dtype.type(self._scale)
        else:  # coordinates of the balanced V_: U R^T = sol
            U = xp.linalg.solve(R, sol.T).T
            bias = xp.zeros(q, dtype=dtype)
        U = xp.ascontiguousarray(U) * dtype.type(np.sqrt(self._scale))
        return Result(U=origin.restore(U), row_bias=origin.restore(xp.ascontiguousarray(bias)))


class _Orthonormal:
    """State and sweeps of the exact-recovery alternation (QR-normalized factors)."""

    def __init__(self, obs, parts, params, seed, K, xp, sketch_key):
        self.obs, self.parts, self.params, self.K, self.xp = obs, parts, params, K, xp
        self.U_hat, self.V_warm, self.kappa = _svd_init(parts[0] if parts else obs,
                                                        params["rank"], params["clip"], seed,
                                                        xp)
        self.sketch_key = sketch_key
        self.U = self.V = None

    def sweep(self, it, eta):
        p, parts, T = self.params, self.parts, self.params["max_iter"]
        v_obs = parts[it] if parts else self.obs
        u_obs = parts[T + it] if parts else self.obs
        keys = (stream_key(self.sketch_key, 2 * it), stream_key(self.sketch_key, 2 * it + 1))
        self.U, self.V, self.U_hat, self.V_warm, self.kappa, steps = sweep(
            v_obs, u_obs, self.U_hat, self.V_warm, self.K, self.xp, keys=keys,
            solver=p["solver"], eta=eta, floor=p["floor"], max_iter=p["cg_max_iter"],
            reg=p["reg"], sketch_size=p["sketch_size"])
        return steps

    def augmented(self):
        return self.U, self.V                        # the estimate is U V^T

    def factors(self, scale):
        """``(U, V)`` in the data's units (for callbacks)."""
        return self.U * self.U.dtype.type(scale), self.V

    def train_rmse(self):
        obs = self.obs
        return float(np.sqrt(self.K.observed_sse(*obs.row_view, self.U, self.V) / obs.nnz))

    def snapshot(self):  # sweeps allocate new U, V: no copy needed
        return self.U, self.V, self.U_hat, self.V_warm, self.kappa

    def restore(self, snap):
        self.U, self.V, self.U_hat, self.V_warm, self.kappa = snap


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


def _relative_change(U, V, prev, xp):
    """``||U V^T - U0 V0^T||_F / ||U V^T||_F``, computed stably (no cancellation).

    With ``[V, V0] = Q R``, the difference is ``[U, -U0] R^T Q^T`` and ``Q`` has
    orthonormal columns, so its norm is that of the small product ``[U, -U0] R^T``; likewise
    ``||U V^T|| = ||U R_11^T||`` (``V = Q_1 R_11``).
    """
    if prev is None:
        return np.inf
    U0, V0 = prev
    k = V.shape[1]
    _, R = xp.linalg.qr(xp.concatenate([V, V0], axis=1))
    diff = float(xp.linalg.norm(xp.concatenate([U, -U0], axis=1) @ R.T))
    norm = float(xp.linalg.norm(U @ R[:k, :k].T))
    return diff / norm if norm > 0 else (0.0 if diff == 0 else np.inf)


def _orthonormal_right(U, V, xp):
    """``(U R^T, Q)`` with ``V = Q R``: the same product with an orthonormal right factor."""
    Q, R = xp.linalg.qr(V)
    return U @ R.T, xp.ascontiguousarray(Q)


def _scale(vals, biases, xp):
    """``(scale, offset)``: the fit runs on ``vals / scale`` (the spread of the data, or
    their RMS without biases), so values near 1e300 or 1e-300 neither overflow nor underflow
    and results scale with the data; ``offset`` is the mean (biases) or 0.
    """
    top = float(xp.abs(vals).max())
    if top == 0:
        return 1.0, 0.0
    unit = vals / vals.dtype.type(top)          # entries in [-1, 1]: no overflow below
    mean = float(xp.mean(unit)) if biases else 0.0
    spread = float(xp.sqrt(xp.mean((unit - unit.dtype.type(mean)) ** 2)))
    scale = top * (spread if spread > 0 else 1.0)
    return scale, mean * top


def _max_count(obs):
    """Most observations in one row or column (a CountSketch larger than that is a no-op)."""
    return max(1, int(obs.counts(0).max()), int(obs.counts(1).max()))


def _balance(U, V_hat, xp):
    """Balanced factors ``(P sqrt(S), Q sqrt(S), S)`` of ``U V_hat^T = P S Q^T``."""
    U_hat, R = xp.linalg.qr(U)
    P, s, Qt = np.linalg.svd(to_host(R))
    root = np.sqrt(s)
    left, right = xp.asarray(P * root), xp.asarray(Qt.T * root)
    return xp.ascontiguousarray(U_hat @ left), xp.ascontiguousarray(V_hat @ right), s
