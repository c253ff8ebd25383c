"""Statistical leverage scores: exact (orthonormal basis) and sketched (Drineas et al. 2012)."""

import numpy as np
import scipy.linalg as sla

from .._array import Origin, to_host
from .._dask import is_dask
from .._random import gaussian_block_jit, stream_key
from .._validation import (check_bool, check_choice, check_int, check_memory,
                           check_scalar, check_seed)
from ._basis import _as_engine, default_rcond, engine_input, nonzero_rows, orthonormal_basis

#: Stream of the Gaussian JL matrix of sketched leverage scores (>= 16: area-private streams).
STREAM_JL = 16

#: Default number of sketch rows per column of ``A`` (a constant-distortion subspace embedding).
SKETCH_ROWS_PER_COLUMN = 10


def leverage_scores(A, *, method="exact", rcond=None, sketch="sparse_sign", sketch_size=None,
                    jl_dim=None, random_state=None, return_rank=False):
    """Statistical leverage scores ``tau_i = a_i^T (A^T A)^+ a_i`` of the rows of ``A``.

    ``tau_i`` is the squared norm of row ``i`` of any orthonormal basis of the column space
    of ``A``; the scores lie in ``[0, 1]``, sum to ``rank(A)`` and are the ``l_2``
    sensitivities of the rows. Zero rows get score 0.

    Parameters
    ----------
    A : array-like, shape (n, d)
        Float32/float64 matrix (NumPy, torch, CuPy, ...). NaN/inf raise ``ValueError``.
    method : {'exact', 'sketch'}
        ``'exact'``: orthonormal basis by CholeskyQR2 (well-conditioned ``A``) or Householder
        QR plus an SVD of ``R`` (rank-revealing); ``O(n d^2)``. ``'sketch'``: the
        Drineas-Magdon-Ismail-Mahoney-Woodruff estimate: ``R`` from a QR of ``S A`` (``S`` an
        oblivious subspace embedding with ``sketch_size`` rows), then the squared row norms of
        ``A R^{-1}`` (or of ``A R^{-1} G`` with a Gaussian ``G`` of ``jl_dim`` columns).
    rcond : float, optional
        Relative singular-value cut-off for the numerical rank (default ``max(n, d) * eps``).
    sketch : str
        Sketch kind for ``method='sketch'``, passed to :func:`nla.sketching.sketch`
        (``'sparse_sign'``, ``'countsketch'``, ``'gaussian'``, ``'srht'``).
    sketch_size : int, optional
        Rows of the sketch; default ``10 d`` (``max(10 d, d^2)`` for ``'countsketch'``). When it
        is not below ``n`` the exact scores are returned.
    jl_dim : int, optional
        Columns of the Johnson-Lindenstrauss projection; default none (exact row norms of
        ``A R^{-1}``). Worth it only when ``d`` is much larger than ``32 ln n``.
    random_state : None, int, RandomState or Generator
        Seed of the sketch and of the JL matrix.
    return_rank : bool
        Also return the numerical rank.

    Returns
    -------
    tau : ndarray, shape (n,)
        float64 scores in the caller's framework. For a row-chunked dask ``A`` (NumPy or
        CuPy chunks) ``tau`` is a lazy dask array with ``A``'s row chunks: the small factor
        (``X`` with ``A X`` orthonormal, or ``R`` of the sketch ``S A``) comes from passes over
        the chunks at the call (``'exact'``: a max pass and two Gram passes, or a TSQR pass
        when ``A`` is ill-conditioned or rank deficient; ``'sketch'``: one ``S A`` pass, kinds
        ``'sparse_sign'``, ``'countsketch'``, ``'gaussian'``), each score is one task per
        chunk at compute time; the rank is concrete. NaN/inf in a chunk raise ``ValueError``
        naming ``A``.
    rank : int
        Only with ``return_rank``.

    Notes
    -----
    Accuracy of ``'sketch'``: if ``S`` is a ``(1 +- eps)`` subspace embedding for ``col(A)``,
    the singular values of ``A R^{-1}`` lie in ``[1/(1+eps), 1/(1-eps)]`` and every estimate
    satisfies ``(1+eps)^-2 <= tau_est / tau <= (1-eps)^-2``; a JL step of ``k`` columns adds a
    further ``1 +- O(sqrt(log(n) / k))`` factor with high probability. Constant-factor scores
    are all that sampling needs (oversample by the worst ratio).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((200, 5))
    >>> tau = leverage_scores(A)
    >>> round(float(tau.sum()), 10), bool(tau.max() <= 1)
    (5.0, True)
    """
    origin = Origin(A)
    A, K, xp = engine_input(A)
    method = check_choice(method, "method", {"exact", "sketch"})
    if rcond is not None:
        rcond = check_scalar(rcond, "rcond", low=0.0, high=1.0, high_open=True)
    # The sketch parameters are checked for either method: garbage is never silently ignored.
    from ..sketching._operators import KINDS
    sketch = check_choice(sketch, "sketch", KINDS)
    if jl_dim is not None:
        jl_dim = check_int(jl_dim, "jl_dim", low=1)
    if sketch_size is not None:
        sketch_size = check_int(sketch_size, "sketch_size", low=A.shape[1])
        check_memory(sketch_size * A.shape[1], "sketch_size")
    seed = check_seed(random_state)
    return_rank = check_bool(return_rank, "return_rank")
    if method == "exact":
        tau, rank = exact_leverage(A, K, xp, rcond)
    else:
        tau, rank = sketched_leverage(A, K, xp, rcond, sketch, sketch_size, jl_dim, seed)
    tau = origin.restore(tau)
    return (tau, rank) if return_rank else tau


def exact_leverage(A, K, xp, rcond=None):
    """``(tau, rank)`` from an orthonormal basis of ``col(A)`` (engine arrays, float64 ``A``)."""
    if is_dask(A):
        from ._scores_dask import leverage

        return leverage(A, rcond)
    U, rank, _, _ = orthonormal_basis(A, K, rcond)
    tau = K.row_sq_norms(U)
    tau[~nonzero_rows(A, xp)] = 0.0  # exact zeros, not rounding residue of the QR
    return tau, rank


def default_sketch_size(kind, d):
    base = SKETCH_ROWS_PER_COLUMN * d
    return max(base, d * d) if kind == "countsketch" else base


def sketched_leverage(A, K, xp, rcond, kind, sketch_size, jl_dim, seed):
    """``(tau_est, rank)``: squared row norms of ``A R^{-1}`` with ``R`` from a sketch of ``A``."""
    n, d = A.shape
    k1 = default_sketch_size(kind, d) if sketch_size is None else sketch_size
    if k1 >= n:  # a sketch this large saves nothing
        return exact_leverage(A, K, xp, rcond)
    from ..sketching import sketch as make_sketch

    S = make_sketch(kind, k1, n, random_state=seed, dtype=np.float64)
    SA = to_host(S @ A)
    SA = SA.toarray() if hasattr(SA, "toarray") else np.asarray(SA)
    R = sla.qr(SA, mode="r", check_finite=False)[0][:d]
    _, s, Vt = np.linalg.svd(R)
    rcond = default_rcond(A.shape) if rcond is None else rcond
    rank = int(np.sum(s > rcond * s[0])) if s[0] > 0 else 0
    X = Vt[:rank].T / s[:rank]  # A X = (Q W)[:, :rank] up to the sketch's distortion
    if jl_dim is not None and jl_dim < rank:
        G = np.empty((rank, jl_dim))
        gaussian_block_jit(np.uint64(stream_key(seed, STREAM_JL)), np.uint64(0), np.uint64(0), G)
        X = X @ (G / np.sqrt(jl_dim))
    if is_dask(A):
        from ._scores_dask import squared_row_norms

        return squared_row_norms(A, X), rank
    tau = K.row_sq_norms(A @ _as_engine(X, A))
    tau[~nonzero_rows(A, xp)] = 0.0
    return tau, rank
