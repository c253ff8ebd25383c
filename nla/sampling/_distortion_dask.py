"""embedding_distortion for a row-chunked dask ``A``: the in-core algorithm, ``U = A X`` lazy.

The orthonormal basis ``U`` of ``col(A)`` has one row per row of ``A``, so it is never formed:
``X`` (``d x r``, with ``U = A X``) comes from passes over the chunks (CholeskyQR2 on
tree-summed Gram matrices, as in core, or a chunk-by-chunk TSQR for ill-conditioned ``A``),
and every later use of ``U`` (its sampled rows, the leverage ranking, the ``l_p`` norms of
``U Z``, each refinement step) is one more pass, chunk by chunk, on the active scheduler.
"""

import numpy as np
import scipy.linalg

from .. import _array
from .._dask import combine_rows, map_rows, reduce_rows
from .._validation import check_array, unit_scale
from ._basis import _GRAM_COND_MAX, _ONE_PASS_COND_MAX, default_rcond, tri_inv


def basis_coordinates(A, rcond=None, refine=True):
    """``(X, rank, s)``: ``A X`` is an orthonormal basis of ``col(A)`` for a dask ``A``.

    ``s`` holds the singular values of ``A``. Two Gram passes (CholeskyQR2) when
    ``cond(A) <= 1e6``, as :func:`nla.sampling._basis.orthonormal_basis` does in core;
    otherwise one TSQR pass and the SVD of ``R`` (numerical rank by ``rcond``). ``A`` is
    scaled by a power of two first when its entries are far from 1 (one more pass, which
    also refuses NaN/inf naming ``A``). ``refine=False`` stops after one CholeskyQR pass
    when ``cond(A) <= 1e4``, as ``orthonormal_basis(refine=False)`` does (a well-conditioned
    basis, for the Lewis iteration).
    """
    n, d = A.shape
    rcond = default_rcond(A.shape) if rcond is None else rcond
    engine = _array.engine_of(A)
    top = float(abs(A).max().compute())
    if not np.isfinite(top):
        raise ValueError("A contains NaN or infinity")
    c = unit_scale(top) if top > 0 else 1.0
    T0 = np.eye(d) / c
    G = _gram(A, T0, engine)
    ev = np.linalg.eigvalsh(G)
    if d <= n and ev[0] > 0 and ev[-1] <= _GRAM_COND_MAX * ev[0]:
        R1 = np.linalg.cholesky(G).T
        X1 = T0 @ tri_inv(R1)
        if not refine and ev[-1] <= _ONE_PASS_COND_MAX * ev[0]:
            return X1, d, np.linalg.svd(R1, compute_uv=False) * c
        R2 = np.linalg.cholesky(_gram(A, X1, engine)).T
        X = X1 @ tri_inv(R2)
        return X, d, np.linalg.svd(R2 @ R1, compute_uv=False) * c
    R = tsqr_r(_r_factor, A, shared=(c, engine))
    W, s, Vt = np.linalg.svd(R)
    rank = int(np.sum(s > rcond * s[0])) if s.size and s[0] > 0 else 0
    return Vt[:rank].T / (s[:rank] * c), rank, s * c


def _gram(A, T, engine):
    return reduce_rows(_gram_block, A, shape=(T.shape[1], T.shape[1]), shared=(T, engine))


def _gram_block(row0, a, T, engine):
    K, xp = block_engine(engine)
    return K.gram(_block(a, engine) @ xp.asarray(T))


def tsqr_r(block_r, *arrays, shared=()):
    """The ``k x k`` R factor of a dask matrix with ``k`` columns from its row blocks' R factors.

    ``block_r(row0, *blocks, *shared)`` returns one block's matrix as its R (:func:`chunk_r`);
    the stacked R factors are factored once more on the client (one pass over the chunks).
    """
    Rs = combine_rows(block_r, *arrays, combine=np.concatenate, shared=shared)
    return scipy.linalg.qr(Rs, mode="r", check_finite=False)[0][:Rs.shape[1]]


def chunk_r(Y, K):
    """The R factor of one block ``Y`` by the kernels ``K`` of its engine (host array)."""
    return K.r_factor(Y) if Y.shape[0] else _array.to_host(Y)


def _r_factor(row0, a, c, engine):
    return chunk_r(_block(a, engine) / c, block_engine(engine)[0])


def _block(a, engine="cpu"):
    # One chunk of A on its engine (CuPy for 'gpu'), its values checked when it is computed.
    a = check_array(a, "A", min_size=0)
    return _array.to_engine(a, engine).astype(np.float64, copy=False)


def block_engine(engine):
    """``(K, xp)``: the sampling kernels and array module of ``engine``, looked up in the block.

    The drivers pass the engine of a dask ``A`` (``'gpu'`` for CuPy chunks, from its meta) to
    every per-block function, which runs on its block's device: ``nla_gpu.sampling`` and CuPy
    for device chunks; small host factors are moved over with ``xp.asarray``.
    """
    return _array.kernels("sampling", engine), _array.namespaces(engine)[0]


def row_meta(engine, ndim=1):
    """``meta`` of per-row outputs: an empty NumPy or CuPy array (the chunks' library)."""
    return _array.namespaces(engine)[0].empty((0,) * ndim, dtype=np.float64)


class DaskBasis:
    """``U = A X`` for a dask ``A``, used only through passes over its chunks (the
    operations of ``nla.sampling._distortion._Basis``)."""

    def __init__(self, A, X):
        self.A, self.X = A, X
        self.U = map_rows(_times, A, tail=(X.shape[1],), shared=(X,))

    def rows(self, indices):
        return self.U[indices].compute() if len(indices) else np.zeros((0, self.X.shape[1]))

    def top_leverage(self, unsampled, k):
        """The ``k`` rows of highest leverage, then the ``k`` such rows among ``unsampled``."""
        import dask
        import dask.array as da

        lev = (self.U * self.U).sum(axis=1)
        missing = da.where(da.from_array(unsampled, chunks=lev.chunks), lev, -np.inf)
        k_missing = min(k, int(unsampled.sum()))
        top, top_missing = dask.compute(da.argtopk(lev, min(k, lev.shape[0])),
                                        da.argtopk(missing, max(k_missing, 1)))
        return top, top_missing[:k_missing]

    def _sums(self, Z, p, grad):
        # Global column maxima S, sum (|U Z| / S)^p and U^T (sign (|U Z| / S)^(p-1)), from
        # per-chunk sums taken on each chunk's own maxima and rescaled here.
        parts = combine_rows(_sums_block, self.A, shared=(self.X, Z, p, grad))
        top = np.max([part[0] for part in parts], axis=0)
        ratio = [part[0] / np.where(top > 0, top, 1.0) for part in parts]
        total = sum(part[1] * r ** p for part, r in zip(parts, ratio))
        g = sum(part[2] * r ** (p - 1.0) for part, r in zip(parts, ratio)) if grad else None
        return top, total, g

    def norms(self, Z, p):
        top, total, _ = self._sums(Z, p, False)
        return np.where(top > 0, top, 1.0) * total ** (1.0 / p)

    def log_norm_and_grad(self, z, p):
        top, total, g = self._sums(z[:, None], p, True)
        scale = max(float(top[0]), 1e-300)
        return np.log(scale) + np.log(float(total[0])) / p, g[:, 0] / (scale * total[0])


def _times(row0, a, X):
    return _block(a) @ X


def _sums_block(row0, a, X, Z, p, grad):
    U = _times(0, a, X)
    Y = U @ Z
    aY = np.abs(Y)
    top = aY.max(axis=0, initial=0.0)
    scaled = aY / np.where(top > 0, top, 1.0)
    g = U.T @ (np.sign(Y) * scaled ** (p - 1.0)) if grad else None
    return top, (scaled ** p).sum(axis=0), g
