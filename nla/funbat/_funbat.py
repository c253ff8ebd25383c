"""FunBaT: functional Bayesian Tucker decomposition of continuous-indexed tensor data."""

import numbers
import warnings

import numpy as np

from .._array import Origin, engine_of, kernels, to_host
from .._estimator import (BaseEstimator, RegressorMixin, check_features, check_is_fitted,
                          check_target)
from .._progress import progress
from .._validation import (check_array, check_bool, check_callable, check_choice, check_int,
                           check_memory, check_scalar, check_seed, unit_scale)
from . import _model
from ._statespace import KERNEL_CODES, interpolate

#: Fits whose training predictions stay below this (in units of std(y)) count as collapsed.
COLLAPSE_LEVEL = 1e-6
#: Restarts with a fresh seed after a collapse to the zero solution.
N_RESTARTS = 2
#: Epochs of small change in the training RMSE before ``tol`` stops a fit.
PATIENCE = 5


class FunBaT(RegressorMixin, BaseEstimator):
    """Functional Bayesian Tucker decomposition for continuous-indexed tensors.

    Models ``y ≈ Σ W[j_1..j_K] u^1_{j_1}(x_1) ... u^K_{j_K}(x_K)`` for observations at
    arbitrary real coordinates ``(x_1, ..., x_K)``, with independent Matérn GP priors on the
    latent functions ``u^k_j``, a Gaussian prior on the core ``W`` and a Gamma prior on the noise
    precision. Inference is conditional expectation propagation: each mode's GP is a linear
    state-space chain over its sorted unique training coordinates, updated by a Kalman filter
    and RTS smoother whose pseudo-observations are the summed messages of the observations at
    each coordinate (Fang et al., ICLR 2024).

    ``K = 1`` is allowed: FunBaT-CP of rank 1 with the noise precision held fixed is then
    exactly GP regression with duplicate inputs merged.

    A scikit-learn regressor: ``score(X, y)`` is the R^2 of :meth:`predict` (scikit-learn's
    ``RegressorMixin``), so ``cross_val_score`` and ``GridSearchCV`` work as for any regressor.

    Parameters
    ----------
    rank : int or sequence of int
        Ranks ``(r_1, ..., r_K)`` of the latent functions; an int is used for every mode.
    kernel : {'matern32', 'matern12'} or sequence of them
        GP kernel of each mode.
    lengthscale, variance : float or sequence of float
        Kernel lengthscale and variance per mode, in scaled coordinates (see
        ``coord_scaling``) and standardised target units; each in ``[1e-100, 1e100]``.
    n_epochs : int
        Number of sweeps over all modes.
    damping : float or (float, float, float)
        Weight of the old message in each update, for the (factors, core, noise) messages.
        ``0`` takes the new messages undamped.
    tau_prior : (float, float)
        Shape and rate of the Gamma prior of the noise precision.
    tau_init : float or None
        Noise precision used during the warm-up; ``None`` means ``100 / var(y)`` (100 on
        standardised data).
    warmup_epochs : int
        Epochs during which the noise precision is held at ``tau_init``. A large fixed precision
        at the start keeps the multilinear fit from collapsing to the zero solution. With
        ``warmup_epochs >= n_epochs`` the noise precision is never learned.
    cp : bool
        FunBaT-CP: the core is fixed to the super-diagonal identity (all ranks equal).
    update_order : {'gauss-seidel', 'jacobi'}
        Update each mode from the newest other modes, or all modes from the previous sweep.
    core_prior_var : float
        Prior variance of the core entries.
    coord_scaling : {'minmax', None}
        ``'minmax'`` maps each mode's training range to [0, 1] (so one lengthscale suits every
        mode); ``None`` uses the coordinates as given.
    standardize : {'scale', 'zscore', None}
        Target transform before fitting (predictions are returned in original units).
        ``'scale'`` divides by the root mean square of ``y``, which keeps a low-rank target
        low-rank; ``'zscore'`` also subtracts the mean (the offset then lives outside the
        tensor model, and far from the data predictions return to the training mean);
        ``None`` fits ``y`` as given. Scaling matters: a small target scale lets the
        multilinear fit collapse to zero.
    tol : float or None
        Stop after the warm-up once the training RMSE has changed by less than ``tol``
        (relative) in each of the last ``PATIENCE = 5`` epochs.
    n_init : int
        Number of random starts; the fit with the lowest final training RMSE is kept. The
        fit is non-convex: on a K = 3 Tucker-(2, 2, 2) synthetic about 3 % of single starts
        end at a poor local optimum (training error several times the noise), so
        ``n_init=3`` is worth its cost where a bad fit would go unnoticed.
    random_state : int, Generator, RandomState or None
        Seed of the initialisation (counter-based; see :mod:`nla._random`); start ``i`` uses
        ``seed + i``.
    verbose : bool
        Show a progress bar.
    callback : callable or None
        Called as ``callback(estimator, epoch)`` after every epoch of every start
        (``history_`` is that start's, up to date); returning ``True`` stops that start.

    Attributes
    ----------
    core_ : ndarray of shape rank
        Posterior mean of the core (the super-diagonal identity for ``cp=True``).
    core_cov_ : ndarray (R, R) or None
        Posterior covariance of vec(core), C order (``None`` for CP).
    noise_precision_ : float
        Posterior mean of the noise precision, in original target units (``inf`` or 0, with a
        ``RuntimeWarning``, where that is outside the float64 range: targets beyond 1e+-154).
    unique_coords_ : list of ndarray
        Sorted unique training coordinates of every mode (original units).
    history_ : dict
        ``'train_rmse'`` (original units) and ``'noise_precision'`` per epoch of the kept start.
    n_epochs_ : int
        Epochs run by the kept start.
    ranks_ : tuple of int
        Ranks per mode.
    n_features_in_ : int
        Number of modes K.

    Notes
    -----
    Messages are kept as per-coordinate sums, so memory is O(Σ_k J_k r_k² + R²) rather than
    O(N R²); duplicate coordinates within a mode are merged into one pseudo-observation (and
    duplicate rows are separate observations). Cost per epoch is O(N Σ_k (R/r_k)² + N R²) for
    Tucker and O(N K² r²) for CP, plus O(J_k (d r_k)³) per smoother. All computation is in
    float64 (the Kalman recursions lose positive definiteness in float32). On the GPU the
    message and core sums run in CuPy while the sequential smoother runs on the host.

    Examples
    --------
    >>> import numpy as np
    >>> import nla
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(300, 2))
    >>> y = np.sin(2 * np.pi * X[:, 0]) * np.exp(-X[:, 1])
    >>> model = nla.FunBaT(rank=1, cp=True, n_epochs=40, random_state=0).fit(X, y)
    >>> bool(np.sqrt(np.mean((model.predict(X) - y) ** 2)) < 0.05)
    True
    >>> mean, std = model.predict(X[:3], return_std=True)
    >>> mean.shape, std.shape
    ((3,), (3,))
    """

    def __init__(self, rank=2, kernel="matern32", lengthscale=0.1, variance=1.0, n_epochs=100,
                 damping=0.5, tau_prior=(1.0, 1.0), tau_init=None, warmup_epochs=10, cp=False,
                 update_order="gauss-seidel", core_prior_var=1.0, coord_scaling="minmax",
                 standardize="scale", tol=None, n_init=1, random_state=None, verbose=False,
                 callback=None):
        self.rank = rank
        self.kernel = kernel
        self.lengthscale = lengthscale
        self.variance = variance
        self.n_epochs = n_epochs
        self.damping = damping
        self.tau_prior = tau_prior
        self.tau_init = tau_init
        self.warmup_epochs = warmup_epochs
        self.cp = cp
        self.update_order = update_order
        self.core_prior_var = core_prior_var
        self.coord_scaling = coord_scaling
        self.standardize = standardize
        self.tol = tol
        self.n_init = n_init
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback

    # ------------------------------------------------------------------ validation
    def _check_params(self, K):
        check_bool(self.cp, "cp")
        check_bool(self.verbose, "verbose")
        check_callable(self.callback, "callback")
        ranks = _per_mode(self.rank, K, "rank", lambda v, n: check_int(v, n, low=1))
        if self.cp and len(set(ranks)) != 1:
            raise ValueError(f"rank: FunBaT-CP (cp=True) needs equal ranks, got {ranks}")
        kinds = _per_mode(self.kernel, K, "kernel",
                          lambda v, n: check_choice(v, n, set(KERNEL_CODES)), allow_str=True)
        # Beyond [1e-100, 1e100] the state-space recursions under/overflow (and a lengthscale
        # that far from the unit coordinate range means a constant or white-noise GP anyway).
        ells = _per_mode(self.lengthscale, K, "lengthscale",
                         lambda v, n: check_scalar(v, n, low=1e-100, high=1e100))
        variances = _per_mode(self.variance, K, "variance",
                              lambda v, n: check_scalar(v, n, low=1e-100, high=1e100))
        damping = self.damping
        if isinstance(damping, numbers.Real):
            damping = (damping,) * 3
        if not isinstance(damping, (tuple, list)) or len(damping) != 3:
            raise ValueError(f"damping must be a float or a (factor, core, noise) triple, "
                             f"got {self.damping!r}")
        damping = tuple(check_scalar(d, "damping", low=0, high=1, high_open=True)
                        for d in damping)
        if not isinstance(self.tau_prior, (tuple, list)) or len(self.tau_prior) != 2:
            raise ValueError(f"tau_prior must be a (shape, rate) pair, got {self.tau_prior!r}")
        a0, b0 = (check_scalar(v, "tau_prior", low=0, low_open=True) for v in self.tau_prior)
        check_int(self.n_epochs, "n_epochs", low=1)
        check_int(self.warmup_epochs, "warmup_epochs", low=0)
        check_int(self.n_init, "n_init", low=1)
        check_choice(self.update_order, "update_order", {"gauss-seidel", "jacobi"})
        check_scalar(self.core_prior_var, "core_prior_var", low=0, low_open=True)
        if self.standardize not in ("scale", "zscore", None):
            raise ValueError(f"standardize must be 'scale', 'zscore' or None, "
                             f"got {self.standardize!r}")
        if self.coord_scaling not in ("minmax", None):
            raise ValueError(f"coord_scaling must be 'minmax' or None, got {self.coord_scaling!r}")
        if self.tau_init is not None:
            check_scalar(self.tau_init, "tau_init", low=0, low_open=True)
        if self.tol is not None:
            check_scalar(self.tol, "tol", low=0)
        return ranks, kinds, ells, variances, damping, a0, b0

    def _check_coords(self, coords, name="coords"):
        X = check_array(coords, name, ndim=2)
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"{name} must be a non-empty (N, K) array, got shape {X.shape}")
        return X

    @property
    def _kern(self):
        # Looked up, not stored, so that fitted models pickle.
        return kernels("funbat", self._engine)

    def _scale(self, X):
        # Host float64 coordinates mapped with the training transform.
        X = np.asarray(to_host(X), dtype=np.float64)
        return (X - self._offset) / self._span

    # ------------------------------------------------------------------ fit
    def fit(self, coords, y):
        """Fit to observations ``y[n]`` at coordinates ``coords[n]`` (N x K).

        Parameters
        ----------
        coords : array-like (N, K)
            Real coordinate of every observation in each of the K modes.
        y : array-like (N,)
            Observed values.

        Returns
        -------
        self
        """
        check_features(self, coords, reset=True)
        X = self._check_coords(coords)
        if X.shape[0] < 2:  # scikit-learn's wording
            raise ValueError(f"coords has n_samples = {X.shape[0]}; FunBaT needs at least 2 "
                             "(2 unique coordinates per mode)")
        yv = check_target(self, y, X.shape[0], "coords")
        engine = engine_of(X, yv)
        kern = kernels("funbat", engine)
        N, K = X.shape
        ranks, kinds, ells, variances, damping, a0, b0 = self._check_params(K)
        # The core covariance is R x R (R = prod(ranks), or the rank for CP); each observed
        # coordinate keeps rank x rank second moments (and its state-space blocks).
        R = ranks[0] if self.cp else int(np.prod(ranks, dtype=object))
        check_memory(R * R + 4 * K * N * max(ranks) ** 2, "rank")
        seed = check_seed(self.random_state)
        Xh = np.asarray(to_host(X), dtype=np.float64)
        yh = np.asarray(to_host(yv), dtype=np.float64)
        if self.coord_scaling == "minmax":
            self._offset = Xh.min(axis=0)
            span = Xh.max(axis=0) - self._offset
            self._span = np.where(span > 0, span, 1.0)
        else:
            self._offset, self._span = np.zeros(K), np.ones(K)
        # Mean and RMS of y / unit (unit a power of two): exact scaling, so targets near 1e+-200
        # standardise like any others instead of over/underflowing in the squares.
        unit = unit_scale(np.abs(yh).max())
        self._y_mean = unit * float((yh / unit).mean()) if self.standardize == "zscore" else 0.0
        dev = (yh - self._y_mean) / unit
        unit2 = unit_scale(np.abs(dev).max())
        scale = unit * unit2 * float(np.sqrt(np.mean((dev / unit2) ** 2))) \
            if self.standardize else 1.0
        self._y_scale = scale if scale > 0 else 1.0
        ys = (yh - self._y_mean) / self._y_scale
        prob = _model.build_problem(self._scale(Xh), ys, ranks, kinds, ells, variances,
                                    bool(self.cp), kern)
        prob.a0, prob.b0 = a0, b0
        tau_init = self.tau_init
        if tau_init is None:
            tau_init = 100.0 / max(float(np.mean(ys ** 2)), 1e-300)
        self._engine, self._prob = engine, prob
        # Starts that collapse to zero do not count towards n_init; N_RESTARTS more may stand in.
        kept, fits = None, 0
        for attempt in range(self.n_init + N_RESTARTS):
            st = self._run(prob, (seed + attempt) % 2 ** 64, tau_init, damping)
            if self._collapsed(prob, st):
                continue
            fits += 1
            final_rmse = self.history_["train_rmse"][-1]
            if kept is None or final_rmse < kept[0]:
                kept = (final_rmse, st, self.history_, self.n_epochs_)
            if fits == self.n_init:
                break
        if kept is None:
            warnings.warn("FunBaT collapsed to the zero solution in every restart; try a longer "
                          "warm-up (warmup_epochs), a larger tau_init or smaller ranks",
                          RuntimeWarning, stacklevel=2)
        else:
            _, st, self.history_, self.n_epochs_ = kept
        self._state = st
        self._set_attributes(prob, st, ranks, N)
        return self

    def _run(self, prob, seed, tau_init, damping):
        kern = self._kern
        st = _model.initial_state(prob, seed, tau_init, kern)
        self.history_ = {"train_rmse": [], "noise_precision": []}
        self._state = st
        gauss_seidel = self.update_order == "gauss-seidel"
        epochs = progress(range(self.n_epochs), total=self.n_epochs, verbose=self.verbose,
                          desc="FunBaT")
        self.n_epochs_ = 0
        for epoch in epochs:
            update_tau = epoch >= self.warmup_epochs
            _model.run_epoch(prob, st, damping, update_tau, gauss_seidel, self.core_prior_var,
                             kern)
            mean, _ = _model.predict_moments(prob, st, prob.inv, st.m_all, st.M2_all, False,
                                             kern)
            rmse = float(kern.xp.sqrt(kern.xp.mean((mean - prob.y) ** 2))) * self._y_scale
            if not np.isfinite(rmse) or not np.isfinite(st.tau):
                hint = "" if self.standardize else (" or standardize y (standardize='scale'; "
                                                    "y is fitted as given)")
                raise FloatingPointError(f"FunBaT diverged at epoch {epoch}; increase damping, "
                                         f"change lengthscale/variance{hint}")
            history = self.history_
            history["train_rmse"].append(rmse)
            history["noise_precision"].append(self._precision(st.tau))
            self.n_epochs_ = epoch + 1
            if self.callback is not None and self.callback(self, epoch):
                break
            if self.tol is not None and update_tau and _settled(history["train_rmse"], self.tol):
                break
        self.history_ = {k: np.asarray(v) for k, v in self.history_.items()}
        return st

    def _precision(self, tau):
        # tau / scale**2 as a float64 quotient: inf or 0 (not an exception) out of range.
        with np.errstate(over="ignore", under="ignore"):
            return float(np.float64(tau) / self._y_scale / self._y_scale)

    def _collapsed(self, prob, st):
        mean, _ = _model.predict_moments(prob, st, prob.inv, st.m_all, st.M2_all, False,
                                         self._kern)
        scale = float(self._kern.xp.std(prob.y))
        return scale > 0 and float(self._kern.xp.max(self._kern.xp.abs(mean))) < \
            COLLAPSE_LEVEL * scale

    def _set_attributes(self, prob, st, ranks, N):
        K = prob.n_modes
        self.n_features_in_ = K
        self.ranks_ = tuple(ranks)
        self.unique_coords_ = [c * s + o for c, s, o in zip(prob.coords, self._span, self._offset)]
        self.noise_precision_ = self._precision(st.tau)
        if not 0 < self.noise_precision_ < np.inf:
            warnings.warn(f"FunBaT: noise_precision_ in the units of y is outside the float64 "
                          f"range (it is {st.tau:.3g} / {self._y_scale:.3g}**2) and is reported "
                          f"as {self.noise_precision_}; predictions are unaffected",
                          RuntimeWarning, stacklevel=3)
        if prob.cp:
            core = np.zeros(ranks)
            for j in range(ranks[0]):
                core[(j,) * K] = 1.0
            self.core_ = core
            self.core_cov_ = None
        else:
            self.core_ = np.asarray(to_host(st.mu)).reshape(ranks)
            self.core_cov_ = np.asarray(to_host(st.Sw))

    # ------------------------------------------------------------------ posterior queries
    def _mode_marginals(self, k, xs):
        prob = self._prob
        mf, Pf, ms, Ps = self._state.chains[k]
        return interpolate(np.ascontiguousarray(xs, dtype=np.float64), prob.coords[k], mf, Pf,
                           ms, Ps, prob.kinds[k], prob.ells[k], prob.variances[k])

    def latent_functions(self, mode, x):
        """Posterior mean and standard deviation of the latent functions of one mode.

        Parameters
        ----------
        mode : int
            Mode index in ``[0, K)``.
        x : array-like (M,)
            Coordinates (original units); any real values, inside or outside the training
            range (exact state-space interpolation and extrapolation).

        Returns
        -------
        mean, std : ndarray (M, r_mode)
            In the model's units: the product of the latent functions and the core gives the
            standardised target (see ``standardize``).
        """
        check_is_fitted(self, "core_")
        mode = check_int(mode, "mode", low=0, high=self.n_features_in_ - 1)
        origin = Origin(x)
        xv = np.asarray(to_host(check_array(x, "x", ndim=1)), dtype=np.float64)
        xs = (xv - self._offset[mode]) / self._span[mode]
        mean, cov = self._mode_marginals(mode, xs)
        std = np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0))
        return origin.restore(mean), origin.restore(np.ascontiguousarray(std))

    def score(self, coords, y, sample_weight=None):
        """Coefficient of determination R^2 of :meth:`predict` at ``coords`` against ``y``.

        scikit-learn's ``RegressorMixin.score``, with ``coords`` and ``y`` checked (and named in
        errors) as :meth:`fit` checks them.

        Returns
        -------
        float
            ``1 - sum((y - pred)**2) / sum((y - mean(y))**2)``.
        """
        from sklearn.metrics import r2_score

        pred = to_host(self.predict(coords))
        y = to_host(check_target(self, y, pred.shape[0], "coords"))
        # divided by a power of two near max |y| (exact): the squares neither over- nor underflow
        s = np.ldexp(1.0, int(np.frexp(np.max(np.abs(y)))[1]))
        return float(r2_score(y / s, pred / s, sample_weight=sample_weight))

    def predict(self, coords, return_std=False, include_noise=False):
        """Posterior predictive mean (and standard deviation) at arbitrary coordinates.

        Parameters
        ----------
        coords : array-like (M, K)
            Query coordinates in original units.
        return_std : bool
            Also return the posterior standard deviation.
        include_noise : bool
            Add the observation noise variance ``1 / noise_precision_`` to the variance;
            otherwise the std is that of the noise-free function value.

        Returns
        -------
        mean : array (M,)
        std : array (M,), only with ``return_std``
        """
        check_is_fitted(self, "core_")
        check_features(self, coords, reset=False, name="coords")
        origin = Origin(coords)
        X = self._check_coords(coords)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"coords has {X.shape[1]} columns but the model was fitted with "
                             f"K = {self.n_features_in_} modes")
        kern, prob, st = self._kern, self._prob, self._state
        xp = kern.xp
        xs = self._scale(X)
        M, K = xs.shape
        rmax = max(prob.ranks)
        uniq, inv = [], np.empty((M, K), dtype=np.int64)
        for k in range(K):
            u, inv[:, k] = np.unique(xs[:, k], return_inverse=True)
            uniq.append(u)
        Jmax = max(u.size for u in uniq)
        m_q = np.zeros((K, Jmax, rmax))
        M2_q = np.zeros((K, Jmax, rmax, rmax))
        for k in range(K):
            r, J = prob.ranks[k], uniq[k].size
            mean_k, cov_k = self._mode_marginals(k, uniq[k])
            m_q[k, :J, :r] = mean_k
            M2_q[k, :J, :r, :r] = cov_k + mean_k[:, :, None] * mean_k[:, None, :]
        mean, sec = _model.predict_moments(prob, st, xp.asarray(inv), xp.asarray(m_q),
                                           xp.asarray(M2_q), return_std, kern)
        out = mean * self._y_scale + self._y_mean
        if not return_std:
            return origin.restore(out)
        var = xp.maximum(sec - mean ** 2, 0.0)
        if include_noise:
            var = var + 1.0 / st.tau
        return origin.restore(out), origin.restore(xp.sqrt(var) * self._y_scale)


def _settled(rmse, tol):
    # True when the last PATIENCE relative changes of the training RMSE are all below tol.
    if len(rmse) <= PATIENCE:
        return False
    last = np.asarray(rmse[-PATIENCE - 1:])
    return bool(np.all(np.abs(np.diff(last)) <= tol * np.maximum(last[1:], 1e-300)))


def _per_mode(value, K, name, check, allow_str=False):
    """A per-mode tuple from a scalar (broadcast) or a length-K sequence, each entry checked."""
    if isinstance(value, (list, tuple, np.ndarray)) and not (allow_str and isinstance(value, str)):
        if len(value) != K:
            raise ValueError(f"{name} must be a single value or one per mode (K = {K}), "
                             f"got {len(value)} values")
        return tuple(check(v, name) for v in value)
    return (check(value, name),) * K
