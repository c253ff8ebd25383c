"""The passes of the least-squares driver over the rows of ``A``, in core or on Dask.

Every pass over ``A`` that :func:`nla.lstsq` makes is one of three primitives, each a small
sum over row blocks:

* ``sketch(S, with_b)``: ``S @ [A | B]``, or ``S @ A``;
* ``gram(T)``: ``(Y.T @ Y, Y.T @ B)`` with ``Y = A`` or ``Y = A @ T``;
* ``residual(V)``: ``(Y.T @ (B - A @ V), ||B - A @ V||**2)`` (``B = 0`` on request).

:class:`InCore` runs them with the engine's kernels on the whole array; :class:`OnDask` runs
the same kernels on each row chunk and tree-sums the small results with
:func:`nla._dask.reduce_rows`, so the algorithm is written once.
"""

import numpy as np

from .._array import is_sparse


class InCore:
    """Passes over an in-core dense or sparse ``A`` (NumPy/SciPy or CuPy)."""

    def __init__(self, K, A, B):
        self.K, self.A, self.B = K, A, B
        self.shape = A.shape
        self.sparse = is_sparse(A)

    def sketch(self, S, with_b=True):
        xp = self.K.xp
        if not with_b:
            return S @ self.A
        if S.kind == "gaussian" and not self.sparse:  # its cost is the random numbers: draw
            return S @ xp.concatenate([self.A, self.B], axis=1)  # them once for [A | B]
        return xp.concatenate([S @ self.A, S @ self.B], axis=1)

    def gram(self, T=None):
        return self.K.gram_pass(self.A, self.B, T)

    def residual(self, V, with_b=True, T=None):
        return self.K.residual_pass(self.A, V, self.B if with_b else None, T)

    def all_finite(self):
        from .._validation import check_finite

        check_finite(self.A, "A")

    def b_max(self):
        return float(abs(self.B).max()) if self.B.size else 0.0

    def b_norms(self):
        from .._array import to_host

        return to_host(self.K.xp.sqrt((self.B * self.B).sum(axis=0)))


class OnOperator(InCore):
    """Passes over a :class:`scipy.sparse.linalg.LinearOperator`: products ``A @ V`` and
    ``A.T @ R`` only (no Gram matrix, so the driver goes straight to sketch-and-precondition).
    """

    #: Bytes of one block of ``S.T`` handed to ``A.rmatmat`` while sketching.
    BLOCK_BYTES = 1 << 25

    def __init__(self, K, A, B):
        super().__init__(K, A, B)
        self.sparse = True

    def sketch(self, S, with_b=True):
        # S A = (A^T S^T)^T: the adjoint applied to blocks of the sketch's rows, explicit as a
        # sparse matrix (sparse kinds only), so sketching costs m adjoint products.
        n = self.shape[0]
        rows = _sparse_rows(S, self.B.dtype)
        width = max(1, min(S.sketch_size, self.BLOCK_BYTES // (8 * n)))
        SA = np.empty((S.sketch_size, self.shape[1]), dtype=self.B.dtype)
        for i in range(0, S.sketch_size, width):
            block = rows[i:i + width].T.toarray()
            SA[i:i + width] = np.asarray(self.A.rmatmat(block), dtype=SA.dtype).T
        if not np.isfinite(SA).all():
            raise ValueError("A contains NaN or infinity (its adjoint products are not finite)")
        return np.concatenate([SA, rows @ self.B], axis=1) if with_b else SA

    def gram(self, T=None):
        raise NotImplementedError("a LinearOperator has no Gram pass")

    def residual(self, V, with_b=True, T=None):
        AV = np.asarray(self.A.matmat(V), dtype=V.dtype)
        r = self.B - AV if with_b else -AV
        g = np.asarray(self.A.rmatmat(r), dtype=V.dtype)
        return (g if T is None else T.T @ g), (r * r).sum(axis=0)

    def all_finite(self):
        pass  # an operator is checked through its products (see sketch)


class OnDask:
    """Passes over a row-chunked dask ``A`` (and ``B``): per-chunk kernels, tree-summed."""

    def __init__(self, K, A, B):
        self.K, self.A, self.B = K, A, B
        self.shape = A.shape
        self.sparse = False
        self.dtype = A.dtype

    def _reduce(self, func, shape):
        from .._dask import reduce_rows

        return reduce_rows(func, self.A, self.B, shape=shape, dtype=self.dtype)

    def sketch(self, S, with_b=True):
        k = self.B.shape[1] if with_b else 0
        return self._reduce(_SketchBlock(S, with_b), (S.sketch_size, self.shape[1] + k))

    def gram(self, T=None):
        d, k = self.shape[1], self.B.shape[1]
        out = self._reduce(_GramBlock(self.K, T), (d, d + k))
        return out[:, :d], out[:, d:]

    def residual(self, V, with_b=True, T=None):
        d = self.shape[1] if T is None else T.shape[1]
        out = self._reduce(_ResidualBlock(self.K, V, with_b, T), (d + 1, V.shape[1]))
        return out[:d], out[d]

    def all_finite(self):
        import dask.array as da

        if not bool(da.isfinite(self.A).all().compute()):
            raise ValueError("A contains NaN or infinity")

    def b_max(self):
        return float(abs(self.B).max().compute())

    def b_norms(self):
        return np.sqrt((self.B * self.B).sum(axis=0).compute())


def _sparse_rows(S, dtype):
    """A sparse sign sketch as an explicit SciPy CSR matrix (``nnz * n`` entries)."""
    import scipy.sparse as sp

    from ._hashing import sparse_sign_entries

    bucket, sign = S._keys()
    rows, cols, values = sparse_sign_entries(np, bucket, sign, S.sketch_size, S.nnz, 0, S.n,
                                             1.0 / np.sqrt(S.nnz))
    return sp.csr_matrix((values.astype(dtype), (rows, cols)), shape=S.shape)


# Per-chunk functions as small classes (picklable for dask.distributed workers).

class _SketchBlock:
    def __init__(self, S, with_b):
        self.S, self.with_b = S, with_b

    def __call__(self, row0, a, b):
        return self.S.apply(np.concatenate([a, b], axis=1) if self.with_b else a, row0=row0)


class _GramBlock:
    def __init__(self, K, T):
        self.K, self.T = K, T

    def __call__(self, row0, a, b):
        G, H = self.K.gram_pass(np.ascontiguousarray(a), b, self.T)
        return np.concatenate([G, H], axis=1)


class _ResidualBlock:
    def __init__(self, K, V, with_b, T):
        self.K, self.V, self.with_b, self.T = K, V, with_b, T

    def __call__(self, row0, a, b):
        g, rss = self.K.residual_pass(np.ascontiguousarray(a), self.V,
                                      b if self.with_b else None, self.T)
        return np.concatenate([g, rss[None, :]], axis=0)
