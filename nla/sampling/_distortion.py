"""Empirical l_p subspace-embedding distortion of a row sample (a certified lower bound)."""

import numpy as np
from scipy.optimize import minimize

from .._array import engine_of, kernels, to_host, to_numpy
from .._dask import check_rows, is_dask
from .._random import gaussian_xp, stream_key
from .._result import Result
from .._validation import check_array, check_int, check_memory, check_seed
from ._basis import check_p, orthonormal_basis
from ._sample import check_sample

#: Stream of the random test directions (area-private streams are >= 16).
STREAM_DIRECTIONS = 18


def embedding_distortion(A, sample, p, *, n_directions=200, refine=3, random_state=None):
    """How far ``||S A x||_p / ||A x||_p`` strays from 1 for a sample ``S`` of the rows of ``A``.

    For ``p = 2`` the extreme ratios are the extreme singular values of ``S U`` (``U`` an
    orthonormal basis of ``col(A)``): exact. For ``p != 2`` maximising or minimising the ratio
    is NP-hard in general, so the ratio is evaluated on a pool of directions (Gaussian ones,
    the basis vectors, the ``l_2``-extremal directions of the highest-leverage rows, sampled and
    not sampled) and the ``refine`` worst on each side are improved by BFGS on
    ``log ||S U z||_p - log ||U z||_p``. Every reported ratio is attained by an actual ``x``,
    so the result is a lower bound on the true distortion. Host (NumPy) computation.

    A row-chunked dask ``A`` is never gathered: ``U = A X`` stays lazy and each use of it
    (the sampled rows, the leverage ranking, the norms of the pool, each refinement step) is
    one pass over the chunks on the active scheduler, so persist ``A`` first when it is
    costly to produce. NaN/inf in a chunk raise ``ValueError`` naming ``A``. The result is
    concrete and equals the in-core one up to rounding when ``cond(A) <= 1e6``; beyond it the
    basis may differ by column signs, which changes the Gaussian pool, not its guarantee.

    Parameters
    ----------
    A : array-like, shape (n, d)
    sample : LpSample
        From :func:`sensitivity_sample` (``indices`` and ``row_scale``).
    p : float
        ``1 <= p <= 100``.
    n_directions : int
        Random Gaussian directions in the pool.
    refine : int
        Directions refined by local optimisation on each side (0: none).
    random_state : None, int, RandomState or Generator

    Returns
    -------
    Result
        ``distortion`` ``= max(ratio_max - 1, 1 - ratio_min)`` (norms, not p-th powers),
        ``ratio_min``, ``ratio_max``.

    Examples
    --------
    >>> import numpy as np
    >>> from nla.sampling import sensitivity_sample
    >>> A = np.random.default_rng(0).standard_normal((3000, 4))
    >>> S = sensitivity_sample(A, 1.0, 600, random_state=0)
    >>> bool(embedding_distortion(A, S, 1.0, random_state=0).distortion < 0.3)
    True
    """
    on_dask = is_dask(A)
    A = check_rows(A, "A") if on_dask else to_host(check_array(A, "A"))
    if on_dask and engine_of(A) == "gpu":  # host work, as in core: the chunks copied lazily
        A = A.map_blocks(to_host, meta=np.empty((0, 0), dtype=A.dtype))
    p = check_p(p)
    check_sample(sample, A.shape[0], p)
    n_directions = check_int(n_directions, "n_directions", low=1)
    # the directions and their images (in core: U Z with one row per row of A)
    check_memory((A.shape[1] + (0 if on_dask else A.shape[0])) * n_directions, "n_directions")
    refine = check_int(refine, "refine", low=0)
    random_state = check_seed(random_state)   # checked even for p = 2, which draws nothing
    if on_dask:  # U = A X stays lazy: each use of it is a pass over the chunks
        from ._distortion_dask import DaskBasis, basis_coordinates

        X, rank, _ = basis_coordinates(A.astype(np.float64))
        basis = DaskBasis(A.astype(np.float64), X)
    else:
        U, rank, _, _ = orthonormal_basis(A.astype(np.float64, copy=False),
                                          kernels("sampling", "cpu"))
        basis = _Basis(U)
    return _from_basis(basis, rank, A.shape[0], sample, p, n_directions, refine, random_state)


def _from_basis(basis, rank, n, sample, p, n_directions, refine, random_state):
    # The distortion from an orthonormal basis U of col(A), used only through `basis`.
    idx = to_numpy(sample.indices).astype(np.int64)
    scale = to_numpy(sample.row_scale).astype(np.float64)
    SU = scale[:, None] * basis.rows(idx)
    if p == 2.0:
        sv = np.linalg.svd(SU, compute_uv=False) if idx.size else np.zeros(1)
        lo, hi = float(sv[-1]) if sv.size >= rank else 0.0, float(sv[0])
        return Result(distortion=max(hi - 1.0, 1.0 - lo), ratio_min=lo, ratio_max=hi)
    key = stream_key(check_seed(random_state), STREAM_DIRECTIONS)
    gauss = gaussian_xp(np, key, np.arange(rank)[:, None], np.arange(n_directions)[None, :])
    unsampled = np.ones(n, dtype=bool)
    unsampled[idx] = False
    top, top_missing = basis.top_leverage(unsampled, 50)
    Z = np.concatenate([gauss, np.eye(rank), basis.rows(top).T, basis.rows(top_missing).T],
                       axis=1)
    ratios = _ratio(SU, basis, Z, p)
    lo_i, hi_i = np.argsort(ratios)[:refine], np.argsort(-ratios)[:refine]
    lo, hi = float(ratios.min()), float(ratios.max())
    for sign, starts in ((1.0, lo_i), (-1.0, hi_i)):
        for j in starts:
            z = minimize(_log_ratio, Z[:, j], args=(SU, basis, p, sign), jac=True,
                         method="BFGS", options={"maxiter": 200}).x
            r = float(_ratio(SU, basis, z[:, None], p)[0])
            lo, hi = min(lo, r), max(hi, r)
    return Result(distortion=max(hi - 1.0, 1.0 - lo), ratio_min=lo, ratio_max=hi)


def _norms(Y, p):
    scale = np.max(np.abs(Y), axis=0)
    scale[scale == 0] = 1.0
    return scale * np.sum((np.abs(Y) / scale) ** p, axis=0) ** (1.0 / p)


class _Basis:
    """An in-core basis ``U``: the operations :func:`_from_basis` needs (dask: DaskBasis)."""

    def __init__(self, U):
        self.U = U

    def rows(self, indices):
        return self.U[indices]

    def top_leverage(self, unsampled, k):
        """The ``k`` rows of highest leverage, then the ``k`` such rows among ``unsampled``."""
        lev = np.einsum("ij,ij->i", self.U, self.U)
        return (np.argsort(-lev)[:k],
                np.flatnonzero(unsampled)[np.argsort(-lev[unsampled])[:k]])

    def norms(self, Z, p):
        return _norms(self.U @ Z, p)

    def log_norm_and_grad(self, z, p):
        return _log_norm_and_grad(self.U, z, p)


def _ratio(SU, basis, Z, p):
    return _norms(SU @ Z, p) / basis.norms(Z, p)


def _log_norm_and_grad(M, z, p):
    y = M @ z
    a = np.abs(y)
    scale = max(float(a.max()), 1e-300)
    t = (a / scale) ** p
    total = float(t.sum())
    # d/dz log ||Mz||_p = M^T (|y|^(p-1) sign y) / ||y||_p^p, written on the scaled residual
    g = M.T @ (np.sign(y) * (a / scale) ** (p - 1.0)) / (scale * total)
    return np.log(scale) + np.log(total) / p, g


def _log_ratio(z, SU, basis, p, sign):
    fs, gs = _log_norm_and_grad(SU, z, p)
    fu, gu = basis.log_norm_and_grad(z, p)
    return sign * (fs - fu), sign * (gs - gu)
