"""l_p Lewis weights by a damped fixed-point iteration in log space (Cohen-Peng 2015).

The Lewis weights are the unique ``w > 0`` with ``w_i = tau_i(W^(1/2-1/p) A)`` (``tau`` the
leverage scores, ``W = diag(w)``). Writing ``u = log w``, the Cohen-Peng map is
``u <- (p/2) log tau(u) - (p/2 - 1) u``; in log coordinates its Jacobian has eigenvalues in
``[-(p/2 - 1), 0]`` (p >= 2) or ``[0, 1 - p/2]`` (p <= 2), so the plain map contracts only for
``p < 4``. The damped step ``u <- u + eta (p/2) (log tau(u) - u)`` with ``eta = 4/(p+2)``
has local rate ``|p - 2|/(p + 2)`` for every ``p``; a back-off halves ``eta`` if the residual
grows twice in a row (global convergence for ``p >= 4`` is not proven, hence the safeguard).
Anderson acceleration on top of the damped map (memory 4 by default) reuses the last few
steps as a secant model; it cuts the number of leverage computations, each ``O(n r^2)``.
"""

import warnings

import numpy as np

from .._array import Origin, to_host
from .._dask import is_dask
from .._progress import progress
from .._result import Result
from .._validation import check_bool, check_callable, check_choice, check_int, check_scalar
from ._basis import _as_engine, check_p, engine_input, nonzero_rows, orthonormal_basis, tri_inv

#: Gram matrices more ill-conditioned than this are replaced by a Householder QR of the scaled
#: basis (the quadratic forms would lose about cond * eps of relative accuracy).
_GRAM_COND_MAX = 1e10
_LOG_TINY = np.log(1e-300)

#: Default Anderson-acceleration memory of the fixed-point iteration.
ANDERSON_MEMORY = 4


def lewis_weights(A, p, *, tol=1e-8, max_iter=500, damping=None, anderson=ANDERSON_MEMORY,
                  init="leverage", rcond=None, verbose=False, callback=None):
    """l_p Lewis weights of the rows of ``A``.

    The weights ``w`` solve ``w_i = tau_i(W^(1/2 - 1/p) A)``: each row's weight is its
    leverage score after reweighting the rows by the weights themselves. They sum to
    ``rank(A)``, equal the leverage scores for ``p = 2``, and sampling rows with
    probabilities proportional to them gives ``l_p`` subspace embeddings (Cohen-Peng 2015).

    Parameters
    ----------
    A : array-like, shape (n, d)
        Float32/float64 matrix; the iteration runs in float64 on an orthonormal basis of
        ``col(A)`` (the weights depend only on the column space). Zero rows get weight 0.
    p : float
        ``1 <= p <= 100``.
    tol : float
        Stop when the fixed-point residual ``max_i |log(tau_i(W^(1/2-1/p) A) / w_i)|`` is at
        most ``tol`` (``1e-2`` is plenty for sampling).
    max_iter : int
        Iteration cap; one iteration costs one ``O(n r^2)`` leverage computation.
    damping : float in (0, 1], optional
        Step ``eta`` in log space. Default ``4 / (p + 2)`` (optimal local rate); ``eta = 1`` is
        the undamped Cohen-Peng iteration, which diverges for ``p > 4``.
    anderson : int
        Anderson-acceleration memory (secant pairs); ``0`` gives the plain damped iteration.
        The default 4 cut the iterations to ``tol = 1e-8`` by 30-60% on the matrices of the
        test suite (15 -> 9 at ``p = 1``, 29 -> 18 at ``p = 6`` for lognormal row scales). Any
        iterate whose residual grows clears the memory, so the safeguard below still applies.
    init : {'leverage', 'ones'}
        Start from ``tau^(p/2)`` rescaled to sum ``rank``, or from all ones.
    rcond : float, optional
        Relative cut-off of the numerical rank (see :func:`leverage_scores`).
    verbose : bool
        Progress bar.
    callback : callable, optional
        ``callback(iteration, weights, residual)`` after every iteration (host arrays; lazy
        dask arrays for a dask ``A``).

    Returns
    -------
    Result
        ``weights`` (float64, caller's framework), ``rank``, ``n_iter``, ``converged``,
        ``residual`` (final fixed-point residual), ``history`` (residual per iteration),
        ``damping`` (final step).

    Notes
    -----
    A row-chunked dask ``A`` (NumPy or CuPy chunks) runs the same iteration (Anderson steps
    included) at the call: the basis coordinates from passes over the chunks (as for
    :func:`leverage_scores`), then per iteration one pass for the weighted Gram matrix and one
    for the per-row step, with the log weights, steps and Anderson's ``anderson`` secant
    vectors persisted on the cluster (so the cluster holds about ``2 anderson + 3`` vectors of
    length ``n``) and only scalars and small matrices on the client. ``weights`` is a dask
    array with ``A``'s row chunks on those persisted values (computing it reads ``A`` no
    more); it equals the in-core result up to rounding (same iterations). NaN/inf in a chunk
    raise ``ValueError`` naming ``A``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((300, 4))
    >>> res = lewis_weights(A, 1.0)
    >>> res.converged, round(float(res.weights.sum()), 8), res.residual <= 1e-8
    (True, 4.0, True)
    """
    origin = Origin(A)
    A, K, xp = engine_input(A)
    p = check_p(p)
    tol = check_scalar(tol, "tol", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", low=1)
    eta = 4.0 / (p + 2.0) if damping is None else check_scalar(damping, "damping", low=0.0,
                                                                 high=1.0, low_open=True)
    anderson = check_int(anderson, "anderson", low=0)
    init = check_choice(init, "init", {"leverage", "ones"})
    if rcond is not None:
        rcond = check_scalar(rcond, "rcond", low=0.0, high=1.0, high_open=True)
    verbose = check_bool(verbose, "verbose")
    callback = check_callable(callback, "callback")
    res = lewis_core(A, p, K, xp, tol=tol, max_iter=max_iter,
                     eta=eta, anderson=anderson, init=init, rcond=rcond, verbose=verbose,
                     callback=callback)
    if not res.converged:
        warnings.warn(f"Lewis weights did not converge in {max_iter} iterations (residual "
                      f"{res.residual:.2e} > tol {tol:.1e})", RuntimeWarning, stacklevel=2)
    res.weights = origin.restore(res.weights)
    return res


def lewis_core(A, p, K, xp, *, tol, max_iter, eta, anderson=None, init="leverage", rcond=None,
               verbose=False, callback=None):
    """The iteration on float64 engine arrays; returns a :class:`Result` (engine weights)."""
    anderson = ANDERSON_MEMORY if anderson is None else anderson
    if is_dask(A):
        from ._lewis_dask import lewis_dask

        return lewis_dask(A, p, tol=tol, max_iter=max_iter, eta=eta, anderson=anderson,
                          init=init, rcond=rcond, verbose=verbose, callback=callback)
    n = A.shape[0]
    mask = nonzero_rows(A, xp)
    rows = xp.nonzero(mask)[0]
    # p != 2 needs only a well-conditioned basis: every formula below is basis-independent,
    # and the leverage start below is a warm start, not a result
    U, rank, _, _ = orthonormal_basis(A[rows] if rows.shape[0] < n else A, K, rcond,
                                      refine=(p == 2.0))
    weights = xp.zeros(n, dtype=xp.float64)
    history = []
    if rank == 0:
        return Result(weights=weights, rank=0, n_iter=0, converged=True, residual=0.0,
                      history=history, damping=eta)
    tau = K.row_sq_norms(U)
    if p == 2.0:  # Lewis weights of p = 2 are the leverage scores
        weights[rows] = tau
        return Result(weights=weights, rank=rank, n_iter=0, converged=True, residual=0.0,
                      history=history, damping=eta)
    log_tau = xp.log(xp.maximum(tau, 1e-300))
    u = xp.zeros_like(log_tau)
    if init == "leverage":
        u = 0.5 * p * log_tau
        u += np.log(rank) - float(xp.log(xp.sum(xp.exp(u))))

    def step_of(u):
        return xp.log(xp.maximum(scaled_leverage(U, (1.0 - 2.0 / p) * u, K, xp), 1e-300)) - u

    u, out = iterate(u, step_of, lambda u: to_host(xp.exp(u)), xp, p=p, tol=tol,
                     max_iter=max_iter, eta=eta, anderson=anderson, verbose=verbose,
                     callback=callback)
    weights[rows] = xp.exp(u)
    return Result(weights=weights, rank=rank, **out)


def iterate(u, step_of, weights_of, xp, *, p, tol, max_iter, eta, anderson, verbose, callback,
            keep=None, accelerator=None):
    """The safeguarded damped (Anderson-accelerated) fixed-point iteration on log weights ``u``.

    ``step_of(u)`` is ``log tau(u) - u`` (zero where a row is left out), ``weights_of(u)``
    what ``callback`` receives; ``keep`` is applied to each new iterate and secant vector (a
    dask ``persist``, so that the graph does not grow with the iterations) and
    ``accelerator`` is the :class:`_Anderson` class (or a subclass). One loop for the in-core
    and the dask drivers. Returns the final ``u`` and the :class:`Result` fields.
    """
    keep = (lambda x: x) if keep is None else keep
    converged, residual, growth, history = False, np.inf, 0, []
    aa = (accelerator or _Anderson)(anderson, xp, keep)
    for it in progress(range(max_iter), verbose=verbose, desc="Lewis weights"):
        step = step_of(u)
        new_residual = float(xp.max(xp.abs(step)))
        history.append(new_residual)
        if callback is not None:
            callback(it, weights_of(u), new_residual)
        growth = growth + 1 if new_residual > residual else 0
        residual = new_residual
        if residual <= tol:
            converged = True
            break
        if growth:  # a worse point: forget the secant history, take a plain damped step
            aa.reset()
        if growth >= 2:  # the safeguard of the module docstring
            eta, growth = 0.5 * eta, 0
        u = keep(xp.maximum(aa.step(u, (eta * 0.5 * p) * step), _LOG_TINY))
    return u, dict(n_iter=len(history), converged=converged, residual=residual,
                   history=history, damping=eta)


class _Anderson:
    """Anderson acceleration (type II, ``memory`` secant pairs) of ``u <- u + f(u)``.

    With the differences ``dU`` of the last iterates and ``dF`` of their steps, the next point
    is ``u + f - (dU + dF) gamma`` where ``gamma`` minimises ``||f - dF gamma||_2``: the step
    a secant model of the map's Jacobian predicts to cancel the residual. ``memory = 0`` is
    the plain damped iteration. Every point is still judged by its own fixed-point residual
    (the driver's stopping rule), so acceleration changes the path, never the answer. The
    pairs are kept as ``memory`` slots of vectors (NumPy, CuPy or dask, ``keep`` applied), so
    the same code serves every engine.
    """

    def __init__(self, memory, xp, keep):
        self.memory, self.xp, self.keep = memory, xp, keep
        # dF and dU + dF (the combination the update needs), one vector per pair
        self.dF, self.dG = [None] * memory, [None] * memory
        self.reset()

    def reset(self):
        self.count, self.last = 0, None

    def step(self, u, f):
        if not self.memory:
            return u + f
        if self.last is not None:
            slot = self.count % self.memory
            self.dF[slot] = self.keep(f - self.last[1])
            self.dG[slot] = self.keep((u - self.last[0]) + self.dF[slot])
            self.count += 1
        self.last = (u, f)
        k = min(self.count, self.memory)
        if k == 0:
            return u + f
        M, rhs = self.products(self.dF[:k], f)
        gamma = np.linalg.lstsq(M, rhs, rcond=1e-12)[0]  # normal equations of a k-column LS
        return u + f - self.combination(gamma, self.dG[:k])

    def products(self, dF, f):
        """``(dF dF^T, dF f)`` on the host for the vectors ``dF``."""
        dF = self.xp.stack(dF)
        return to_host(dF @ dF.T), to_host(dF @ f)

    def combination(self, gamma, dG):
        """``sum_j gamma_j dG_j`` (``gamma`` on the host)."""
        return self.xp.asarray(gamma) @ self.xp.stack(dG)


def scaled_leverage(U, log_scale, K, xp):
    """Leverage scores of ``diag(exp(log_scale / 2)) U`` for a well-conditioned basis ``U``.

    ``tau_i = g_i u_i^T (U^T G U)^{-1} u_i`` with ``G = diag(g)``: one weighted Gram matrix and
    one row-wise quadratic form, ``O(n r^2)``. The scale is normalised by its maximum (a common
    factor cancels), and a Householder QR of the scaled rows replaces the Gram matrix when the
    latter is too ill-conditioned to trust.
    """
    g = xp.exp(log_scale - xp.max(log_scale))
    # Rows below 1e-150 of the largest weight cannot move G in float64; zeroing them keeps
    # subnormal numbers (100x slower in BLAS) out of the product.
    G = to_host(K.gram(U, xp.where(g < 1e-150, 0.0, g)))
    ev = np.linalg.eigvalsh(G)
    if ev[0] > 0 and ev[-1] <= _GRAM_COND_MAX * ev[0]:
        T = tri_inv(np.linalg.cholesky(G), lower=True)
        return g * K.row_quadratic_forms(U, _as_engine(T, U))
    Q, _ = K.householder_qr(U * xp.sqrt(g)[:, None])
    return K.row_sq_norms(Q)
