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

from .._array import Origin, engine_of, is_sparse, kernels
from .._random import STREAM_GAUSS, STREAM_INDEX, STREAM_SIGN, stream_key
from .._validation import check_array, check_choice, check_dtype, check_int, check_seed
from ._hashing import (STREAM_PERMUTE, STREAM_SAMPLE, permutation_keys, permute_index,
                       permute_params, sparse_sign_entries)

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

    def __init__(self, sketch_size, n, random_state=None, dtype=np.float64):
        self.sketch_size = check_int(sketch_size, "sketch_size", low=1)
        self.n = check_int(n, "n", low=1)
        self.seed = check_seed(random_state)
        self.dtype = check_dtype(dtype)

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
            Dense, in the caller's framework and on its device.
        """
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
        if is_sparse(X):
            out = self._apply_sparse(K, X, row0)
        else:
            out = self._apply_dense(K, K.xp.ascontiguousarray(X), row0)
        if not bool(K.xp.isfinite(out).all()):
            raise ValueError("A contains NaN or infinity (or entries too large to sketch)")
        return origin.restore(out[:, 0] if ndim == 1 else out)

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


class _HadamardBase(SketchOperator):
    def __init__(self, sketch_size, n, random_state=None, dtype=np.float64):
        super().__init__(sketch_size, n, random_state, dtype)
        self.bits = max(0, int(self.n - 1).bit_length())
        self.padded_size = 1 << self.bits
        if self.sketch_size > self.padded_size:
            raise ValueError(f"sketch_size must be at most {self.padded_size} (n={self.n} "
                             f"padded to a power of two), got {self.sketch_size}")
        self._pkeys = permutation_keys(self.seed, STREAM_PERMUTE)


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
    nnz : int, default 8
        Nonzeros per column, at most ``sketch_size``.

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

    def __init__(self, sketch_size, n, random_state=None, dtype=np.float64, nnz=8):
        super().__init__(sketch_size, n, random_state, dtype)
        self.nnz = check_int(nnz, "nnz", low=1, high=self.sketch_size)

    def __repr__(self):
        return super().__repr__()[:-1] + f", nnz={self.nnz})"

    def _keys(self):
        return stream_key(self.seed, STREAM_INDEX), stream_key(self.seed, STREAM_SIGN)

    def _apply_dense(self, K, X, row0):
        bucket, sign = self._keys()
        return K.sparse_sign_apply(bucket, sign, self.sketch_size, self.nnz, X, row0,
                                   1.0 / np.sqrt(self.nnz))

    def _apply_sparse(self, K, X, row0):
        bucket, sign = self._keys()
        rows, cols, values = sparse_sign_entries(K.xp, bucket, sign, self.sketch_size, self.nnz,
                                                 row0, X.shape[0], 1.0 / np.sqrt(self.nnz))
        S = K.csr_matrix(values.astype(X.dtype), rows, cols, (self.sketch_size, X.shape[0]))
        out = S @ X
        return out.toarray() if hasattr(out, "toarray") else out


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
    Y : numpy.ndarray or cupy.ndarray, shape (N,) or (N, k)
        C-contiguous float64 or float32 array, ``N`` a power of two. A CuPy array is
        transformed on its GPU by a CUDA kernel, a NumPy array by the Numba kernel.

    Returns
    -------
    ndarray
        ``Y`` itself, now holding ``H_N @ Y`` (``H_N`` the Sylvester-ordered Hadamard matrix,
        entries +-1), at a cost of ``N k log2 N`` additions.

    Examples
    --------
    >>> import numpy as np
    >>> from nla.sketching import fwht
    >>> fwht(np.array([1.0, 0.0, 0.0, 0.0])).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    kind = type(Y).__module__.split(".")[0]
    if not (isinstance(Y, np.ndarray) or kind == "cupy"):
        raise TypeError(f"Y must be a NumPy or CuPy array (it is transformed in place), got "
                        f"{type(Y).__name__}")
    return kernels("sketching", engine_of(Y)).fwht(Y)
