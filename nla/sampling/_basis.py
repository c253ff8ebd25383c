"""Shared pieces of the sampling drivers: argument checks and a rank-revealing orthonormal basis.

Every score in this package (leverage, Lewis weight, sensitivity) depends only on the column
space of ``A``, so all drivers start from an orthonormal basis ``U`` of ``col(A)``: that
keeps the iterations well conditioned whatever the conditioning of ``A`` itself.
"""

import numbers

import numpy as np
from scipy.linalg import lapack

from .._array import namespaces, to_host
from .._validation import unit_scale

#: CholeskyQR2 is used when the Gram matrix is at most this ill-conditioned (cond(A) <= 1e6);
#: beyond it the Gram matrix loses too many digits and Householder QR takes over.
_GRAM_COND_MAX = 1e12

#: ``refine=False`` keeps the first CholeskyQR pass when ``cond(A)^2`` is at most this.
_ONE_PASS_COND_MAX = 1e8

#: Largest p accepted: sensitivity bounds involve r^p and beta^p (float64 overflow beyond it),
#: and the Lewis iteration's rate |p - 2| / (p + 2) leaves it unconverged in 500 steps.
P_MAX = 100.0


def check_p(p, name="p"):
    """``p`` as a float in ``[1, P_MAX]``; NaN, infinity and other values raise ``ValueError``."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {p!r}")
    p = float(p)
    if not np.isfinite(p):
        raise ValueError(f"{name} must be finite (p = inf has no sampling theory here), got {p}")
    if p < 1:
        raise ValueError(f"{name} must be >= 1 (the l_p sampling guarantees need p >= 1), got {p}")
    if p > P_MAX:
        raise ValueError(f"{name} must be at most {P_MAX:g} (larger powers overflow float64 and "
                         f"the weights change little beyond it), got {p:g}")
    return p


def engine_input(A, name="A"):
    """``(A, K, xp)``: ``A`` checked and cast to float64, its kernels and array namespace.

    A dask ``A`` is checked lazily (:func:`nla._dask.check_rows`: NaN/inf are found by the
    per-chunk functions at compute time); its namespace is ``dask.array`` and ``K`` is None:
    the dask drivers run the kernels of the chunks' engine chunk by chunk (NumPy chunks: the
    Numba kernels; CuPy chunks, judged by ``A._meta``: ``nla_gpu.sampling``).
    """
    from .._array import engine_of, kernels
    from .._dask import check_rows, is_dask
    from .._validation import check_array

    if is_dask(A):
        import dask.array as da

        return check_rows(A, name).astype(np.float64), None, da
    A = check_array(A, name)
    engine = engine_of(A)
    xp = namespaces(engine)[0]
    return A.astype(xp.float64, copy=False), kernels("sampling", engine), xp


def nonzero_rows(A, xp):
    """Boolean mask of the rows of ``A`` with a nonzero entry (zero rows get score 0)."""
    return xp.any(A != 0, axis=1)


def default_rcond(shape):
    return max(shape) * np.finfo(np.float64).eps


def orthonormal_basis(A, K, rcond=None, refine=True):
    """Orthonormal basis of ``col(A)`` and the numerical rank.

    Parameters
    ----------
    A : (n, d) float64 engine array
    K : kernel module of the engine
    rcond : float or None
        Singular values below ``rcond * s_max`` count as zero (default ``max(n, d) * eps``).
    refine : bool
        With ``False``, a full-rank ``A`` with ``cond(A) <= 1e4`` gets a single CholeskyQR
        pass: ``U^T U = I + E`` with ``||E|| <~ eps cond(A)^2 <= 1e-8``. That is a
        well-conditioned basis, not an orthonormal one, for callers whose formulas hold for any
        basis (the Lewis iteration); it saves one Gram matrix and one ``n x d`` product.

    Returns
    -------
    U : (n, r) engine array with orthonormal columns spanning ``col(A)`` (see ``refine``)
    rank : int
    s : (d,) host array of the singular values of ``A`` (descending)
    X : (d, r) host array with ``U = A X`` (maps basis coordinates back to ``x``)

    Notes
    -----
    Well-conditioned full-rank input uses CholeskyQR2 (two Gram matrices and two triangular
    products, all BLAS-3); otherwise Householder QR followed by an SVD of the small ``R``,
    ``R = W S V^T``, so that ``U = Q W[:, :r]`` spans the numerically significant directions.
    """
    n, d = A.shape
    rcond = default_rcond(A.shape) if rcond is None else rcond
    # A power-of-two scale (exact) keeps the Gram matrix of entries near 1e+-155 finite and
    # normal; the basis is unchanged, s and X are mapped back below.
    c = unit_scale(max(float(A.max()), -float(A.min()))) if A.size else 1.0
    if not 2.0**-100 <= c <= 2.0**100:
        U, rank, s, X = orthonormal_basis(A / c, K, rcond, refine)
        return U, rank, s * c, X / c
    G = to_host(K.gram(A))
    ev = np.linalg.eigvalsh(G)
    if d <= n and ev[0] > 0 and ev[-1] <= _GRAM_COND_MAX * ev[0]:
        R1 = np.linalg.cholesky(G).T
        R1i = tri_inv(R1)
        U1 = K.times_upper(A, _as_engine(R1i, A))
        if not refine and ev[-1] <= _ONE_PASS_COND_MAX * ev[0]:
            return U1, d, np.linalg.svd(R1, compute_uv=False), R1i
        R2 = np.linalg.cholesky(to_host(K.gram(U1))).T
        R2i = tri_inv(R2)
        U = K.times_upper(U1, _as_engine(R2i, A))
        s = np.linalg.svd(R2 @ R1, compute_uv=False)
        return U, d, s, R1i @ R2i
    Q, R = K.householder_qr(A)
    W, s, Vt = np.linalg.svd(to_host(R))
    rank = int(np.sum(s > rcond * s[0])) if s.size and s[0] > 0 else 0
    X = Vt[:rank].T / s[:rank]  # A X = Q W[:, :rank]
    if rank < Q.shape[1]:  # full rank: Q itself is a basis; otherwise keep the top directions
        return Q @ _as_engine(W[:, :rank], A), rank, s, X
    return Q, rank, s, X @ W.T


def tri_inv(T, lower=False):
    """Inverse of a small triangular matrix (LAPACK ``trtri``).

    Preferred to ``solve_triangular(T, I)``, whose multi-threaded ``trsm`` was measured 1000x
    slower on small matrices on a loaded machine.
    """
    inv, info = lapack.dtrtri(T, lower=int(lower))
    if info != 0:
        raise np.linalg.LinAlgError("singular triangular factor")
    return inv


def _as_engine(M, like):
    """The small host matrix ``M`` on the engine of ``like`` (a no-op for NumPy)."""
    if isinstance(like, np.ndarray):
        return M
    xp = namespaces("gpu")[0]
    return xp.asarray(M)
