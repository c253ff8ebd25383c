"""Sketch operators: random ``m x n`` matrices applied as linear operators, never stored.

Every operator is defined by ``(kind, sketch_size, n, seed)`` alone. Its random quantities
(signs, buckets, Gaussian entries, slots) are hashes of the global data-row index in
:mod:`nla._random`, so:

* ``S @ A`` is the same on the CPU and the GPU (bit for bit for the sign and sparse sketches,
  up to libm rounding for the Gaussian ones);
* ``sum(S.apply(A[a:b], row0=a) for each row chunk [a, b))`` equals ``S @ A``: a row-chunked
  (e.g. Dask) matrix is sketched exactly.

All operators use the isometry scale, ``E[S.T @ S] = I_n``.
"""

import numpy as np
import scipy.sparse as sp

from .._array import Origin, engine_of, is_sparse, kernels, on_gpu, to_cupy
from .._dask import is_dask
from .._random import (STREAM_GAUSS, STREAM_INDEX, STREAM_SIGN, gaussian_block_jit, gaussian_xp,
                       sign_xp, stream_key)
from .._validation import (check_array, check_choice, check_dtype, check_finite, check_int,
                           check_memory, check_seed)
from ._hashing import STREAM_PERMUTE, STREAM_SAMPLE, permutation_keys, permute_index, permute_params

_DENSE_LIMIT = 1 << 26  # entries allowed in todense()


class SketchOperator:
    """Base class of the sketch operators: an ``m x n`` random matrix as a linear operator.

    Parameters
    ----------
    sketch_size : int
        Number of rows ``m`` of the sketch.
    n : int
        Number of columns, i.e. rows of the matrices it is applied to.
    random_state : None, int, numpy.random.Generator or RandomState
        Seed of the counter-based generator; the operator is a function of it alone.
    dtype : {numpy.float64, numpy.float32}
        Working precision; ``S @ A`` is computed in the promoted type of ``dtype`` and ``A``.
    """

    kind = None
    #: True for the dense families (Gaussian, SRHT, pooled Hadamard) that carry the l_inf
    #: guarantee of sketch-and-solve; sparse sketches do not (see the module docs).
    dense_family = True
    #: False for the Hadamard families, whose transform mixes all rows at once: a row chunk's
    #: contribution would cost a full-length transform, so dask input is refused for them.
    chunk_separable = True

    def __init__(self, sketch_size, n, random_state=None, dtype=np.float64):
        self.sketch_size = check_int(sketch_size, "sketch_size", low=1)
        self.n = check_int(n, "n", low=1)
        self.seed = check_seed(random_state)
        self.dtype = check_dtype(dtype)
        # S @ A has sketch_size rows: refuse one that cannot be held even for one column of A
        # (n is not limited: a row-chunked dask A of any length is sketched chunk by chunk).
        check_memory(self.sketch_size, "sketch_size", itemsize=self.dtype.itemsize)

    @property
    def shape(self):
        return (self.sketch_size, self.n)

    def __repr__(self):
        return (f"{type(self).__name__}(sketch_size={self.sketch_size}, n={self.n}, "
                f"seed={self.seed}, dtype={self.dtype.name})")

    def __matmul__(self, A):
        return self.apply(A)

    def apply(self, A, row0=None):
        """``S @ A``, or with ``row0`` the contribution ``S[:, row0:row0 + len(A)] @ A``.

        Parameters
        ----------
        A : array-like or sparse matrix, shape (r,) or (r, k)
            Dense (NumPy, CuPy, torch, ...) or scipy.sparse data. Without ``row0`` it must
            have ``n`` rows.
        row0 : int, optional
            Global index of the first row of ``A``; the row-chunked results sum to ``S @ A``.

        Returns
        -------
        array, shape (m,) or (m, k)
            Dense, in the caller's framework and on its device. For a row-chunked dask ``A``
            (dense or scipy.sparse chunks) a concrete array: one contribution per chunk,
            tree-summed on the active scheduler (exact: ``S`` is keyed by the global row).
        """
        if is_dask(A):
            return self._apply_dask(A, row0)
        origin = Origin(A)
        ndim = 2 if sp.issparse(A) else getattr(A, "ndim", np.ndim(A))
        if ndim not in (1, 2):
            raise ValueError(f"A must be 1-D or 2-D, got {ndim}-D")
        # NaN/inf are caught on the (small) output: every sketch here mixes each row of A into
        # some output entry, so a non-finite input always gives a non-finite output.
        X = check_array(A, "A", ndim=ndim, sparse=True, finite=False)
        rows = X.shape[0]
        if row0 is None:
            if rows != self.n:
                raise ValueError(f"A must have n={self.n} rows to be sketched, got {rows}")
            row0 = 0
        else:
            row0 = check_int(row0, "row0", low=0, high=self.n - rows)
        dtype = np.promote_types(self.dtype, X.dtype)
        if X.dtype != dtype:
            X = X.astype(dtype)
        K = kernels("sketching", engine_of(X))
        if ndim == 1:
            X = X.reshape(-1, 1)
        check_memory(self.sketch_size * X.shape[1], "sketch_size", itemsize=dtype.itemsize)
        if is_sparse(X):
            out = self._apply_sparse(K, X, row0)
        else:
            out = self._apply_dense(K, K.xp.ascontiguousarray(X), row0)
        if not bool(K.xp.isfinite(out).all()):
            raise ValueError("A contains NaN or infinity (or entries too large to sketch)")
        return origin.restore(out[:, 0] if ndim == 1 else out)

    def _apply_dask(self, A, row0):
        # One pass: each chunk's S[:, rows] @ block (its NaN/inf found there, naming A).
        from .._dask import check_rows, reduce_rows

        if not self.chunk_separable:
            raise TypeError(f"A is a dask array and the {self.kind!r} sketch is not "
                            "chunk-separable (its Hadamard transform mixes every row); use "
                            "kind 'sparse_sign', 'countsketch' or 'gaussian' for dask input")
        ndim = A.ndim
        A = check_rows(A, "A", ndim=ndim, sparse=True)
        if row0 is None:   # the whole of A, as for in-core input
            if A.shape[0] != self.n:
                raise ValueError(f"A must have n={self.n} rows to be sketched, got {A.shape[0]}")
            row0 = 0
        else:
            row0 = check_int(row0, "row0", low=0, high=self.n - A.shape[0])
        dtype = np.promote_types(self.dtype, A.dtype)
        meta = getattr(A._meta, "toarray", lambda: A._meta)()  # dense output, chunk's library
        return reduce_rows(_ChunkApply(row0), A, shape=(self.sketch_size,) + A.shape[1:],
                           dtype=dtype, meta=meta, shared=(self,))

    def _apply_sparse(self, K, X, row0):
        # Dense families: densify column chunks (memory n x 64 at a time).
        X = X.tocsc()
        k = X.shape[1]
        out = K.xp.empty((self.sketch_size, k), dtype=X.dtype)
        for c0 in range(0, k, 64):
            c1 = min(k, c0 + 64)
            out[:, c0:c1] = self._apply_dense(K, K.xp.ascontiguousarray(X[:, c0:c1].toarray()),
                                              row0)
        return out

    def todense(self):
        """The explicit ``m x n`` matrix (small operators only; for tests and teaching)."""
        m, n = self.shape
        if m * n > _DENSE_LIMIT:
            raise ValueError(f"todense() of a {m} x {n} sketch would hold {m * n} entries; "
                             f"apply the operator instead")
        return self.apply(np.eye(n, dtype=self.dtype))

    # --- the transpose and SciPy's LinearOperator protocol ------------------------------------
    #: NumPy defers ``ndarray @ S`` to :meth:`__rmatmul__` instead of coercing ``S``.
    __array_ufunc__ = None

    def rapply(self, Y):
        """``S.T @ Y``, computed from the same hashes as ``S @ A``, without forming ``S``.

        Each kind applies its factors in reverse: a gather from the hashed rows (sparse sign,
        CountSketch), the Gaussian blocks transposed, and for the Hadamard sketches a scatter
        into the padded length, one FWHT (``H`` is symmetric) and a gather of the data rows.

        Parameters
        ----------
        Y : array-like or sparse matrix, shape (m,) or (m, k)
            Dense (NumPy, CuPy, torch, ...) or scipy.sparse (densified: ``m`` is small).

        Returns
        -------
        array, shape (n,) or (n, k)
            Dense, in the caller's framework and on its device.

        Examples
        --------
        >>> import numpy as np
        >>> from nla.sketching import sketch
        >>> S = sketch("srht", 8, 20, random_state=0)
        >>> y = np.arange(8.0)
        >>> bool(np.allclose(S.rapply(y), S.todense().T @ y))
        True
        """
        origin = Origin(Y)
        ndim = 2 if is_sparse(Y) else getattr(Y, "ndim", np.ndim(Y))
        if ndim not in (1, 2):
            raise ValueError(f"Y must be 1-D or 2-D, got {ndim}-D")
        X = check_array(Y, "Y", ndim=ndim, sparse=True, finite=False)
        if X.shape[0] != self.sketch_size:
            raise ValueError(f"Y must have sketch_size={self.sketch_size} rows to apply S.T, "
                             f"got {X.shape[0]}")
        if is_sparse(X):
            X = X.toarray()
        dtype = np.promote_types(self.dtype, X.dtype)
        check_memory(self.n * (X.shape[1] if ndim == 2 else 1), "n", itemsize=dtype.itemsize)
        K = kernels("sketching", engine_of(X))
        X = K.xp.ascontiguousarray(X.reshape(-1, 1) if ndim == 1 else X, dtype=dtype)
        out = self._rapply_dense(K, X)
        if not bool(K.xp.isfinite(out).all()):
            raise ValueError("Y contains NaN or infinity (or entries too large to sketch)")
        return origin.restore(out[:, 0] if ndim == 1 else out)

    def __rmatmul__(self, B):
        """``B @ S`` for ``B`` of shape (q, m) or (m,): ``(S.T @ B.T).T``."""
        if getattr(B, "ndim", np.ndim(B)) == 1:
            return self.rapply(B)
        return self.rapply(B.T).T

    @property
    def T(self):
        """The transpose ``S.T`` (``n x m``) as an operator: ``S.T @ Y`` is :meth:`rapply`."""
        return TransposedSketch(self)

    #: The adjoint equals the transpose (real operators).
    H = T

    def adjoint(self):
        """The adjoint operator ``S.H`` (= ``S.T``), as :meth:`LinearOperator.adjoint`."""
        return self.T

    # scipy.sparse.linalg.aslinearoperator(S) reads shape, dtype, matvec, rmatvec, rmatmat.
    def matvec(self, x):
        """``S @ x`` (SciPy's LinearOperator protocol)."""
        return self.apply(x)

    def matmat(self, X):
        """``S @ X``."""
        return self.apply(X)

    def rmatvec(self, y):
        """``S.T @ y``."""
        return self.rapply(y)

    def rmatmat(self, Y):
        """``S.T @ Y``."""
        return self.rapply(Y)


class _ChunkApply:
    # Picklable per-chunk function of SketchOperator._apply_dask.
    def __init__(self, row0):
        self.row0 = row0

    def __call__(self, row0, block, S):
        return S.apply(block, row0=self.row0 + row0)


class TransposedSketch:
    """``S.T`` of a sketch operator ``S``: an ``n x m`` operator sharing ``S``'s hashes.

    ``S.T @ Y`` is ``S.rapply(Y)``, ``S.T.T`` is ``S``; works with
    :func:`scipy.sparse.linalg.aslinearoperator` like ``S`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> from nla.sketching import sketch
    >>> S = sketch("countsketch", 4, 10, random_state=0)
    >>> (S.T @ np.ones(4)).shape, S.T.T is S
    ((10,), True)
    """

    __array_ufunc__ = None

    def __init__(self, sketch):
        self._sketch = sketch
        self.dtype = sketch.dtype

    @property
    def shape(self):
        return self._sketch.shape[::-1]

    def __repr__(self):
        return f"{self._sketch!r}.T"

    @property
    def T(self):
        return self._sketch

    H = T

    def adjoint(self):
        return self._sketch

    def __matmul__(self, Y):
        return self._sketch.rapply(Y)

    def __rmatmul__(self, B):
        """``B @ S.T`` for ``B`` of shape (q, n) or (n,): ``(S @ B.T).T``."""
        if getattr(B, "ndim", np.ndim(B)) == 1:
            return self._sketch.apply(B)
        return self._sketch.apply(B.T).T

    def todense(self):
        return self._sketch.todense().T

    matvec = matmat = __matmul__

    def rmatvec(self, x):
        return self._sketch.apply(x)

    rmatmat = rmatvec


class GaussianSketch(SketchOperator):
    """Dense Gaussian sketch ``S = G / sqrt(m)`` with iid standard normal ``G``.

    The reference distribution: sketch-and-solve with it has an exactly known error law, and
    the l_inf guarantee holds at ``m ~ d + 2 d ln(2d/delta) / eps**2``. Costs ``O(m n k)``
    flops plus ``m n`` normal draws, generated block by block on the fly.

    Examples
    --------
    >>> import numpy as np
    >>> from nla.sketching import GaussianSketch
    >>> S = GaussianSketch(4, 100, random_state=0)
    >>> S.shape, (S @ np.ones((100, 3))).shape
    ((4, 100), (4, 3))
    """

    kind = "gaussian"

    def _apply_dense(self, K, X, row0):
        key = stream_key(self.seed, STREAM_GAUSS)
        return K.gaussian_apply(key, self.sketch_size, X, row0, 1.0 / np.sqrt(self.sketch_size))

    def _rapply_dense(self, K, Y):
        # Row j of S.T is column j of S: the Gaussians at (j, 0..m), generated a block of rows
        # at a time as in apply (the same entries, so S.T is exactly the transpose).
        key, m, n = stream_key(self.seed, STREAM_GAUSS), self.sketch_size, self.n
        xp = K.xp
        step = max(64, min(8192, (1 << 24) // m))
        out = xp.empty((n, Y.shape[1]), dtype=Y.dtype)
        cols = xp.arange(m, dtype=xp.uint64)
        for s in range(0, n, step):
            e = min(n, s + step)
            if xp is np:
                G = gaussian_block_jit(np.uint64(key), np.uint64(s), np.uint64(0),
                                       np.empty((e - s, m)))
            else:
                G = gaussian_xp(xp, key, xp.arange(s, e, dtype=xp.uint64)[:, None], cols[None, :])
            out[s:e] = G.astype(Y.dtype, copy=False) @ Y
        out *= Y.dtype.type(1.0 / np.sqrt(m))
        return out


class _HadamardBase(SketchOperator):
    chunk_separable = False

    def __init__(self, sketch_size, n, random_state=None, dtype=np.float64):
        super().__init__(sketch_size, n, random_state, dtype)
        self.bits = max(0, int(self.n - 1).bit_length())
        self.padded_size = 1 << self.bits
        if self.sketch_size > self.padded_size:
            raise ValueError(f"sketch_size must be at most {self.padded_size} (n={self.n} "
                             f"padded to a power of two), got {self.sketch_size}")
        self._pkeys = permutation_keys(self.seed, STREAM_PERMUTE)

    def _row_slots_signs(self, xp, dtype, permute):
        # Slot in the padded length and random sign of each data row (as the kernels hash them).
        rows = xp.arange(self.n, dtype=xp.uint64)
        slots = rows
        if permute:
            mask, shift = permute_params(self.bits)
            slots = permute_index(xp.asarray(self._pkeys), mask, shift, rows)
        signs = sign_xp(xp, stream_key(self.seed, STREAM_SIGN), rows,
                        xp.zeros(self.n, dtype=xp.uint64), dtype)
        return slots.astype(xp.int64), signs

    def _padded_transpose(self, K, Y, fill, slots, signs):
        # D P^T H Z for Z = fill(columns of Y) in the padded length, column chunk by chunk.
        N, k = self.padded_size, Y.shape[1]
        out = K.xp.empty((self.n, k), dtype=Y.dtype)
        width = max(1, min(k, (1 << 29) // (N * Y.dtype.itemsize)))
        for c0 in range(0, k, width):
            Z = fill(Y[:, c0:c0 + width])
            K.fwht(Z)
            out[:, c0:c0 + width] = signs[:, None] * Z[slots]
        return out


class SRHTSketch(_HadamardBase):
    """Subsampled randomized Hadamard transform ``S = sqrt(1/m) R H P D``.

    ``D`` random signs; ``P`` scatters the ``n`` rows to pseudo-random slots of a zero-padded
    length ``N = 2**ceil(log2 n)`` (a keyed bijection: without it, data whose energy sits on a
    few contiguous rows embeds badly); ``H`` the unnormalised Walsh-Hadamard transform (fast,
    ``O(N k log N)``); ``R`` keeps ``m`` distinct rows (the first ``m`` images of a second
    keyed bijection, i.e. sampling without replacement).

    Examples
    --------
    >>> import numpy as np
    >>> from nla.sketching import SRHTSketch
    >>> S = SRHTSketch(8, 20, random_state=1)
    >>> M = S.todense()
    >>> bool(np.allclose(np.abs(M), 1 / np.sqrt(8)))
    True
    """

    kind = "srht"

    def __init__(self, sketch_size, n, random_state=None, dtype=np.float64):
        super().__init__(sketch_size, n, random_state, dtype)
        self._rows = None

    def sampled_rows(self, xp=np):
        """Indices in ``[0, N)`` of the Hadamard rows kept (distinct)."""
        if self._rows is None:
            mask, shift = permute_params(self.bits)
            keys = permutation_keys(self.seed, STREAM_SAMPLE)
            with np.errstate(over="ignore"):
                first = np.arange(self.sketch_size, dtype=np.uint64)
                rows = permute_index(keys, mask, shift, first)
            self._rows = rows.astype(np.int64)
        return xp.asarray(self._rows)

    def _apply_dense(self, K, X, row0):
        return K.srht_apply(stream_key(self.seed, STREAM_SIGN), K.xp.asarray(self._pkeys),
                            self.bits, self.sampled_rows(K.xp), X, row0,
                            1.0 / np.sqrt(self.sketch_size))

    def _rapply_dense(self, K, Y):
        # S.T = sqrt(1/m) D P^T H R^T: Y into the sampled rows of the padded length, FWHT, gather.
        xp, N = K.xp, self.padded_size
        rows = self.sampled_rows(xp)
        slots, signs = self._row_slots_signs(xp, Y.dtype, permute=True)

        def fill(block):
            Z = xp.zeros((N, block.shape[1]), dtype=Y.dtype)
            Z[rows] = block
            return Z

        out = self._padded_transpose(K, Y, fill, slots, signs)
        out *= Y.dtype.type(1.0 / np.sqrt(self.sketch_size))
        return out


class PooledHadamardSketch(_HadamardBase):
    """Hadamard Gaussian-pooled sketch, the dense l_inf sketch of the research note.

    ``S = B D_gamma Pi F D_sigma J``: zero padding ``J`` to ``N = 2**ceil(log2 n)``, random
    signs ``D_sigma``, normalised Walsh-Hadamard ``F = H / sqrt(N)``, a keyed permutation ``Pi``,
    iid standard normal weights ``D_gamma`` and ``B`` summing ``m`` consecutive blocks of about
    ``N / m`` rows. Given ``(D_sigma, Pi)`` its rows are independent Gaussian vectors, which is
    the independence the coordinate-wise (l_inf) analysis needs; it applies in
    ``O(N k log N)`` like the SRHT. Experimental: the construction comes from an unreviewed
    manuscript (Song and Zhang), run here without its extra padding.

    Examples
    --------
    >>> import numpy as np
    >>> from nla.sketching import PooledHadamardSketch
    >>> S = PooledHadamardSketch(4, 16, random_state=2)
    >>> (S @ np.ones(16)).shape
    (4,)
    """

    kind = "hgp"

    def _apply_dense(self, K, X, row0):
        return K.hgp_apply(stream_key(self.seed, STREAM_SIGN), K.xp.asarray(self._pkeys),
                           self.bits, stream_key(self.seed, STREAM_GAUSS), self.sketch_size, X,
                           row0)

    def _rapply_dense(self, K, Y):
        # S.T = J^T D_sigma F Pi^T D_gamma B^T: padded slot t takes weight(t) * Y[bucket(t)].
        xp, N, m = K.xp, self.padded_size, self.sketch_size
        mask, shift = permute_params(self.bits)
        t = xp.arange(N, dtype=xp.uint64)
        p = permute_index(xp.asarray(self._pkeys), mask, shift, t)
        weights = gaussian_xp(xp, stream_key(self.seed, STREAM_GAUSS), p,
                              xp.zeros(N, dtype=xp.uint64)) / np.sqrt(N)
        buckets = (p.astype(xp.int64) * m) // N
        weights = weights.astype(Y.dtype)[:, None]
        slots, signs = self._row_slots_signs(xp, Y.dtype, permute=False)
        return self._padded_transpose(K, Y, lambda block: weights * block[buckets], slots, signs)


class SparseSignSketch(SketchOperator):
    """Sparse sign sketch (SASO / OSNAP): ``nnz`` entries ``+-1/sqrt(nnz)`` per column.

    Partitioned construction: the output rows are split into ``nnz`` blocks and column ``j``
    has one nonzero in each, at a hashed position with a hashed sign. Applying it costs
    ``O(nnz * nnz(A))``, independent of ``m``. A good embedding for sketch-and-precondition
    (``m`` a few times ``d``), but no l_inf guarantee for sketch-and-solve: a heavy row that
    collides with the residual's support shifts a coordinate by ``O(1/nnz)`` whatever ``m``.

    Parameters
    ----------
    sketch_size, n, random_state, dtype
        As for :class:`SketchOperator`.
    nnz : int, optional
        Nonzeros per column, at most ``sketch_size``; default ``min(8, sketch_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> from nla.sketching import SparseSignSketch
    >>> S = SparseSignSketch(16, 40, nnz=4, random_state=0)
    >>> int(np.count_nonzero(S.todense()[:, 0]))
    4
    """

    kind = "sparse_sign"
    dense_family = False

    def __init__(self, sketch_size, n, random_state=None, dtype=np.float64, nnz=None):
        super().__init__(sketch_size, n, random_state, dtype)
        # the default fits any sketch_size (8 for 4 rows was an error about an unpassed nnz)
        self.nnz = (min(8, self.sketch_size) if nnz is None else
                    check_int(nnz, "nnz", low=1, high=self.sketch_size))

    def __repr__(self):
        return super().__repr__()[:-1] + f", nnz={self.nnz})"

    def _keys(self):
        return stream_key(self.seed, STREAM_INDEX), stream_key(self.seed, STREAM_SIGN)

    def _apply_dense(self, K, X, row0):
        bucket, sign = self._keys()
        return K.sparse_sign_apply(bucket, sign, self.sketch_size, self.nnz, X, row0,
                                   1.0 / np.sqrt(self.nnz))

    def _rapply_dense(self, K, Y):
        # S.T as a CSR matrix of its n * nnz hashed entries (O(n nnz) memory, never m x n).
        from .._array import namespaces
        from ._hashing import sparse_sign_entries

        bucket, sign = self._keys()
        rows, cols, values = sparse_sign_entries(K.xp, bucket, sign, self.sketch_size, self.nnz,
                                                 0, self.n, 1.0 / np.sqrt(self.nnz))
        ST = namespaces("gpu" if K.xp is not np else "cpu")[1].csr_matrix(
            (values.astype(Y.dtype), (cols, rows)), shape=(self.n, self.sketch_size))
        return K.xp.asarray(ST @ Y)

    def _apply_sparse(self, K, X, row0):
        bucket, sign = self._keys()
        return K.sparse_sign_apply_sparse(bucket, sign, self.sketch_size, self.nnz, X, row0,
                                          1.0 / np.sqrt(self.nnz))


class CountSketch(SparseSignSketch):
    """CountSketch (Clarkson-Woodruff): one ``+-1`` per column at a hashed row.

    The sparse sign sketch with ``nnz=1``; costs ``O(nnz(A))``. Same caveat: no l_inf
    guarantee (a residual row colliding with a heavy row of ``A`` moves a coordinate by the
    full error scale with probability about ``d / m``).

    Examples
    --------
    >>> import numpy as np
    >>> from nla.sketching import CountSketch
    >>> S = CountSketch(5, 12, random_state=3)
    >>> np.abs(S.todense()).sum(axis=0).tolist() == [1.0] * 12
    True
    """

    kind = "countsketch"

    def __init__(self, sketch_size, n, random_state=None, dtype=np.float64):
        super().__init__(sketch_size, n, random_state, dtype, nnz=1)

    def __repr__(self):
        return SketchOperator.__repr__(self)


_KINDS = {cls.kind: cls for cls in (GaussianSketch, SRHTSketch, CountSketch, SparseSignSketch,
                                   PooledHadamardSketch)}
_KINDS["linf"] = PooledHadamardSketch
#: Sketch kinds accepted by :func:`sketch` (``'linf'`` is an alias of ``'hgp'``).
KINDS = tuple(_KINDS)


def sketch(kind, sketch_size, n, random_state=None, dtype=np.float64, **options):
    """Make a sketch operator of the given kind.

    Parameters
    ----------
    kind : {'gaussian', 'srht', 'countsketch', 'sparse_sign', 'hgp', 'linf'}
        Distribution; ``'linf'`` is an alias of ``'hgp'`` (:class:`PooledHadamardSketch`).
    sketch_size : int
        Rows ``m`` of the sketch.
    n : int
        Columns of the sketch (rows of the data).
    random_state : None, int, numpy.random.Generator or RandomState
        Seed of the counter-based generator.
    dtype : {numpy.float64, numpy.float32}
        Working precision.
    **options
        Extra parameters of the class (``nnz`` for ``'sparse_sign'``).

    Returns
    -------
    SketchOperator
        ``S`` with ``S @ A``, ``S.apply(A, row0=...)``, ``S.shape`` and ``S.todense()``.

    Examples
    --------
    >>> import numpy as np
    >>> import nla
    >>> S = nla.sketch("srht", 64, 1000, random_state=0)
    >>> A = np.random.default_rng(0).standard_normal((1000, 5))
    >>> SA = S @ A
    >>> print(SA.shape, round(float(np.linalg.norm(SA) / np.linalg.norm(A)), 1))
    (64, 5) 1.0
    """
    check_choice(kind, "kind", _KINDS)
    return _KINDS[kind](sketch_size, n, random_state=random_state, dtype=dtype, **options)


def fwht(Y):
    """Unnormalised fast Walsh-Hadamard transform along axis 0, in place.

    Parameters
    ----------
    Y : array, shape (N,) or (N, k)
        Writable, C-contiguous, finite float64 or float32 array, ``N`` a power of two and
        ``k >= 1``. NumPy and CuPy arrays are transformed in place; an array of another
        framework (torch, array-api-strict, ...) through a zero-copy DLPack view of its memory,
        so it is transformed in place too. Device arrays (CuPy, CUDA torch) run a CUDA kernel
        on their GPU, host arrays the Numba kernel.

    Returns
    -------
    array
        ``Y`` itself (same object, same framework), now holding ``H_N @ Y`` (``H_N`` the
        Sylvester-ordered Hadamard matrix, entries +-1), at a cost of ``N k log2 N`` additions.

    Raises
    ------
    TypeError
        ``Y`` is not an array whose memory can be shared (a list, a torch tensor that
        requires grad, ...), or not float32/float64.
    ValueError
        A bad shape (not 1-D/2-D, ``N`` not a power of two, no columns), a read-only or
        non-contiguous ``Y``, or NaN/inf in it.

    Examples
    --------
    >>> import numpy as np
    >>> from nla.sketching import fwht
    >>> fwht(np.array([1.0, 0.0, 0.0, 0.0])).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    view = _shared_view(Y, "Y")
    if view.ndim not in (1, 2):
        raise ValueError(f"Y must be 1-D or 2-D, got shape {tuple(view.shape)}")
    if view.dtype not in (np.float64, np.float32):
        raise TypeError(f"Y must be float64 or float32, got dtype {view.dtype}")
    N = view.shape[0]
    if N == 0 or N & (N - 1) or (view.ndim == 2 and view.shape[1] == 0):
        raise ValueError("Y must have a power-of-two length along axis 0 and at least one "
                         f"column, got shape {tuple(view.shape)}")
    if not getattr(view.flags, "writeable", True):
        raise ValueError("Y is read-only; fwht transforms in place: pass a writable copy")
    if not view.flags.c_contiguous:
        raise ValueError("Y must be C-contiguous (fwht transforms in place): pass "
                         "np.ascontiguousarray(Y)")
    check_finite(view, "Y")
    kernels("sketching", engine_of(view)).fwht(view)
    return Y


def _shared_view(Y, name):
    # NumPy/CuPy as they are; another framework's array as a zero-copy DLPack view, or refused.
    if isinstance(Y, np.ndarray) or type(Y).__module__.split(".")[0] == "cupy":
        return Y
    if hasattr(Y, "__dlpack__"):
        try:
            return to_cupy(Y) if on_gpu(Y) else np.from_dlpack(Y)
        except (BufferError, TypeError, RuntimeError, ValueError) as exc:
            reason = f" ({exc})"
    else:
        reason = ""
    raise TypeError(f"{name} must be a NumPy or CuPy array, or share its memory through DLPack "
                    f"(torch, ...), since it is transformed in place; got "
                    f"{type(Y).__name__}{reason}")
