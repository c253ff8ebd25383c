"""Linear measurement operators ``X -> (<A_1, X>, ..., <A_m, X>)`` for low-rank recovery.

Each operator stores its data on one engine (NumPy for the CPU, CuPy for the GPU) and
provides, in the fast forms of the research note, the three actions :class:`SubGMRecovery`
needs for a model ``X = U V^T`` (``V = U`` when symmetric):

* ``_forward(U, V)``: the measurements of the model, without forming ``X`` where possible;
* ``_fused(U, V, y, mode)``: residuals ``r = A(U V^T) - y``, the weights ``w`` (signs for the
  l1 loss) and ``(G V, G^T U)`` with ``G = sum_i w_i A_i`` formed once (never ``sum_i w_i A_i U``
  term by term, which costs ``r'`` times more);
* ``_adjoint(w)``: the pair ``(V -> G V, U -> G^T U)`` for a fixed ``w`` (step calibration);
* ``_subset(idx)``: the operator of a subset of the measurements (hold-out validation).
"""

import numpy as np

from .._array import Origin, engine_of, kernels, on_gpu, to_engine, to_host
from .._random import stream_key
from .._threads import one_blas_thread
from .._validation import (check_array, check_bool, check_choice, check_dtype, check_int,
                           check_memory, check_seed)
from ._kernels import MODE_ADJOINT

#: Stream of :mod:`nla._random` that draws Gaussian measurement matrices.
STREAM_MEASUREMENTS = 16


def namespace(engine):
    """NumPy for ``'cpu'``, CuPy for ``'gpu'``."""
    if engine == "gpu":
        import cupy

        return cupy
    return np


def _check_shape(shape):
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be a pair (d1, d2), got {shape!r}")
    return (check_int(shape[0], "shape[0]", low=1), check_int(shape[1], "shape[1]", low=1))


class Measurements:
    """Base class of the measurement operators (the interface :class:`SubGMRecovery` uses).

    Attributes
    ----------
    n_measurements : int
        Number of measurements ``m``.
    matrix_shape : tuple of int
        Shape ``(d1, d2)`` of the matrices measured.
    shape : tuple of int
        ``(n_measurements, d1 * d2)``: the shape of the operator on ``vec(X)`` (``X``
        flattened row-major), SciPy's convention, so that
        :func:`scipy.sparse.linalg.aslinearoperator` reads the operator directly.
    dtype : numpy.dtype or None
        Float type of the stored data (``None``: taken from ``y`` at fit time).
    engine : {'cpu', 'gpu'}
        Where the data live; the fit runs there.
    """

    n_measurements = 0
    matrix_shape = (0, 0)
    dtype = None
    engine = "cpu"

    @property
    def _xp(self):
        return namespace(self.engine)

    @property
    def _kernels(self):
        return kernels("recovery", self.engine)

    def __call__(self, U, V=None):
        """The measurements ``A(U V^T)`` (``A(U U^T)`` when ``V`` is None) of a factored matrix.

        Parameters
        ----------
        U : array-like of shape (d1, k)
        V : array-like of shape (d2, k), optional

        Returns
        -------
        y : array of shape (n_measurements,), in the framework of ``U``
        """
        origin = Origin(U)
        U = check_array(U, "U", dtype=(self.dtype or np.float64,))
        V = U if V is None else check_array(V, "V", dtype=(U.dtype,))
        if U.shape[0] != self.matrix_shape[0] or V.shape[0] != self.matrix_shape[1] or U.shape[1] != V.shape[1]:
            raise ValueError(f"U and V must have shapes ({self.matrix_shape[0]}, k) and "
                             f"({self.matrix_shape[1]}, k), got {U.shape} and {V.shape}")
        U, V = to_engine(U, self.engine), to_engine(V, self.engine)
        with one_blas_thread():  # a BLAS product's rounding depends on its thread count
            return origin.restore(self._forward(U, V))

    def __repr__(self):
        return (f"{type(self).__name__}(n_measurements={self.n_measurements}, "
                f"shape={self.matrix_shape}, engine={self.engine!r})")

    @property
    def shape(self):
        d1, d2 = self.matrix_shape
        return (self.n_measurements, d1 * d2)

    # SciPy's LinearOperator protocol on vec(X): aslinearoperator(op) reads shape, dtype,
    # matvec, rmatvec and rmatmat. Each product runs the fast passes of the fit (no A_i is
    # formed) on the operator's engine; results go back to the caller's framework.
    def matvec(self, x):
        """``A(X)`` for ``x = vec(X)`` of shape ``(d1 d2,)`` (row-major)."""
        return self._product(x, "x", adjoint=False)

    def matmat(self, X):
        """``A`` applied to each column of ``X``, shape ``(d1 d2, k)``."""
        return self._product(X, "X", adjoint=False)

    def rmatvec(self, w):
        """The adjoint ``vec(sum_i w_i A_i)`` for ``w`` of shape ``(n_measurements,)``."""
        return self._product(w, "w", adjoint=True)

    def rmatmat(self, W):
        """The adjoint applied to each column of ``W``, shape ``(n_measurements, k)``."""
        return self._product(W, "W", adjoint=True)

    def __matmul__(self, x):
        return self._product(x, "x", adjoint=False)

    def aslinearoperator(self):
        """The operator as a :class:`scipy.sparse.linalg.LinearOperator` on ``vec(X)``.

        The same as ``scipy.sparse.linalg.aslinearoperator(op)``; ``.T``, ``.H`` and
        ``adjoint()`` are its adjoint.

        Examples
        --------
        >>> import numpy as np
        >>> from nla import EntrySampling
        >>> L = EntrySampling([0, 1], [2, 0], (2, 3)).aslinearoperator()
        >>> L.shape, L.matvec(np.arange(6.0)).tolist(), L.rmatvec(np.ones(2)).tolist()
        ((2, 6), [2.0, 3.0], [0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
        """
        from scipy.sparse.linalg import aslinearoperator

        return aslinearoperator(self)

    @property
    def T(self):
        """The adjoint ``w -> vec(sum_i w_i A_i)`` as a LinearOperator."""
        return self.aslinearoperator().T

    H = T

    def adjoint(self):
        """The adjoint (= ``op.T``; the operators are real)."""
        return self.T

    def _product(self, x, name, adjoint):
        origin = Origin(x)
        dtype = np.dtype(self.dtype or np.float64)
        ndim = getattr(x, "ndim", np.ndim(x))
        x = to_engine(check_array(x, name, ndim=2 if ndim == 2 else 1, dtype=(dtype,)),
                      self.engine)
        n_in = self.shape[1 if not adjoint else 0]
        if x.shape[0] != n_in:
            raise ValueError(f"{name} must have {n_in} rows (operator shape {self.shape}), "
                             f"got shape {x.shape}")
        xp, (d1, d2) = self._xp, self.matrix_shape
        eye = xp.eye(d2, dtype=dtype)
        cols = x.reshape(n_in, -1).T
        with one_blas_thread():   # bitwise the same on any thread count, as the fit
            if adjoint:
                out = [self._adjoint(xp.ascontiguousarray(w))[0](eye).ravel() for w in cols]
            else:   # A(X I^T) = A(X)
                out = [self._forward(xp.ascontiguousarray(c.reshape(d1, d2)), eye) for c in cols]
        out = xp.stack(out, axis=1)
        out = out if x.ndim == 2 else out[:, 0]
        # NumPy in, NumPy out even from a GPU operator: SciPy's solvers work on the host
        return to_host(out) if origin.kind == "numpy" else origin.restore(out)


class DenseMeasurements(Measurements):
    """Measurements with explicit matrices ``A_i`` (stored as an ``m x d1 d2`` array).

    Parameters
    ----------
    A : array-like of shape (m, d1, d2)
        The measurement matrices; ``y_i = <A_i, X> = sum_jk A_ijk X_jk``. Float32 stays
        float32. CuPy (or CUDA torch) input runs the fit on the GPU.

    Notes
    -----
    One sub-gradient step reads ``A`` once: a fused kernel computes ``r_i = <A_i, X> - y_i``,
    its sign and ``G += sign(r_i) A_i`` row by row in thread-local accumulators. Storage is
    ``m d1 d2`` numbers; beyond memory use :class:`GaussianMeasurements` with
    ``stored=False``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.arange(8.0).reshape(2, 2, 2)
    >>> op = DenseMeasurements(A)
    >>> op(np.eye(2)).tolist()          # traces of A_1 and A_2
    [3.0, 11.0]
    """

    def __init__(self, A):
        A = check_array(A, "A", ndim=3)
        self._init_stored(A.reshape(A.shape[0], -1), A.shape[1:])

    def _init_stored(self, A2, shape):
        self.engine = "gpu" if on_gpu(A2) else "cpu"
        self._A = self._xp.ascontiguousarray(A2)
        self.n_measurements = int(A2.shape[0])
        self.matrix_shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(A2.dtype)

    def toarray(self):
        """The measurement matrices as an ``(m, d1, d2)`` array (a view of the stored data)."""
        return self._A.reshape(self.n_measurements, *self.matrix_shape)

    def _forward(self, U, V):
        return self._A @ (U @ V.T).ravel()

    def _fused(self, U, V, y, mode):
        xp = self._xp
        res = xp.empty(self.n_measurements, dtype=self._A.dtype)
        G = self._kernels.dense_pass(self._A, (U @ V.T).ravel(), y, mode, res)
        G = G.reshape(self.matrix_shape)
        return res, G @ V, G.T @ U

    def _adjoint(self, w):
        G = (w @ self._A).reshape(self.matrix_shape)
        return (lambda V: G @ V), (lambda U: G.T @ U)

    def _subset(self, idx):
        out = DenseMeasurements.__new__(DenseMeasurements)
        out._init_stored(self._A[to_engine(idx, self.engine)], self.matrix_shape)
        return out


class GaussianMeasurements(DenseMeasurements):
    """Gaussian measurements: ``A_i`` with i.i.d. standard normal entries.

    Entry ``(j, k)`` of ``A_i`` is the counter-based Gaussian of ``(seed, i, j d2 + k)``
    (:mod:`nla._random`), so the same ``random_state`` gives the same operator whether it is
    stored or regenerated, on any number of threads, on the CPU or the GPU.

    Parameters
    ----------
    n_measurements : int
        Number of measurements ``m``.
    shape : tuple of int
        ``(d1, d2)``, the shape of the matrices measured.
    stored : bool, default True
        Store the ``m x d1 d2`` matrix (fast, memory ``8 m d1 d2`` bytes) or regenerate every
        ``A_i`` inside the kernel at each pass (no memory, but a hashed Box-Muller Gaussian per
        entry: about 200x more time per pass than the stored matrix on one CPU core).
    random_state : int, numpy Generator or None
        Seed of the measurements.
    dtype : {numpy.float64, numpy.float32}
        Float type of the stored matrix (regenerated entries are computed in float64).
    device : {'cpu', 'gpu'}
        Where the measurements live (``'gpu'`` needs CuPy).

    Examples
    --------
    >>> import numpy as np
    >>> stored = GaussianMeasurements(100, (4, 4), random_state=0)
    >>> fly = GaussianMeasurements(100, (4, 4), stored=False, random_state=0)
    >>> U = np.ones((4, 1))
    >>> bool(np.allclose(stored(U), fly(U)))
    True
    """

    def __init__(self, n_measurements, shape, *, stored=True, random_state=None,
                 dtype=np.float64, device="cpu"):
        m = check_int(n_measurements, "n_measurements", low=1)
        shape = _check_shape(shape)
        dtype = check_dtype(dtype)
        self.engine = check_choice(device, "device", ("cpu", "gpu"))
        self.stored = check_bool(stored, "stored")
        self._key = stream_key(check_seed(random_state), STREAM_MEASUREMENTS)
        self.n_measurements, self.matrix_shape, self.dtype = m, shape, dtype
        D = shape[0] * shape[1]
        if self.stored:
            check_memory(m * D, "n_measurements x shape", itemsize=dtype.itemsize)
            A2 = self._kernels.gaussian_matrix(self._key, m, D, self.dtype)
            self._init_stored(A2, shape)
        else:
            self._ids = self._xp.arange(m, dtype=self._xp.int64)

    def toarray(self):
        """The measurement matrices as an ``(m, d1, d2)`` array (generated if not stored)."""
        if self.stored:
            return super().toarray()
        A = self._kernels.gaussian_matrix(self._key, int(self._ids.max()) + 1, self._D,
                                          self.dtype)
        return A[self._ids].reshape(self.n_measurements, *self.matrix_shape)

    @property
    def _D(self):
        return self.matrix_shape[0] * self.matrix_shape[1]

    def _forward(self, U, V):
        if self.stored:
            return super()._forward(U, V)
        return self._kernels.gaussian_forward(self._key, self._ids, self._D, (U @ V.T).ravel())

    def _fused(self, U, V, y, mode):
        if self.stored:
            return super()._fused(U, V, y, mode)
        res = self._xp.empty(self.n_measurements, dtype=U.dtype)
        G = self._kernels.gaussian_pass(self._key, self._ids, self._D, (U @ V.T).ravel(), y,
                                        mode, res).reshape(self.matrix_shape)
        return res, G @ V, G.T @ U

    def _adjoint(self, w):
        if self.stored:
            return super()._adjoint(w)
        G = self._kernels.gaussian_pass(self._key, self._ids, self._D, w, w, MODE_ADJOINT,
                                        w).reshape(self.matrix_shape)
        return (lambda V: G @ V), (lambda U: G.T @ U)

    def _subset(self, idx):
        if self.stored:
            return super()._subset(idx)
        out = GaussianMeasurements.__new__(GaussianMeasurements)
        out.__dict__.update(self.__dict__)
        out._ids = self._ids[to_engine(idx, self.engine)]
        out.n_measurements = int(out._ids.shape[0])
        return out


class RankOneMeasurements(Measurements):
    """Rank-one measurements ``A_i = a_i b_i^T``, i.e. ``y_i = a_i^T X b_i``.

    Parameters
    ----------
    a : array-like of shape (m, d1)
        Left vectors, one per row.
    b : array-like of shape (m, d2), optional
        Right vectors; ``None`` means ``b = a`` (quadratic sensing ``y_i = a_i^T X a_i``).

    Notes
    -----
    Nothing of size ``d1 d2`` is formed: ``A(U V^T)_i = <U^T a_i, V^T b_i>`` and
    ``G V = a^T diag(w) (b V)`` are matrix products of cost ``O(m (d1 + d2) k)``.

    Quadratic sensing (``b = a``) of a PSD matrix gives mostly positive ``y``, and the sign
    matrix ``sum_i sign(y_i) a_i a_i^T`` then carries a multiple of the identity; the
    calibrated step of :class:`SubGMRecovery` comes out small, so use a slow decay there:
    with d = 20, rank 2, m = 400 and 20 % outliers, ``decay=0.99`` froze 9 of 300 fits near
    relative error 0.5, ``decay=0.995`` (``max_iter=6000``) none of 400.
    This measurement model is outside the Gaussian-sensing theory of Ma & Fattahi.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> RankOneMeasurements(a)(np.eye(2)).tolist()   # ||a_i||^2
    [1.0, 2.0]
    """

    def __init__(self, a, b=None):
        a = check_array(a, "a")
        b_ = a if b is None else check_array(b, "b", dtype=(a.dtype,))
        if engine_of(a, b_) == "gpu" and not on_gpu(a):
            raise ValueError("a and b must live on the same device")
        if b_.shape[0] != a.shape[0]:
            raise ValueError(f"a and b must have the same number of rows, got {a.shape[0]} "
                             f"and {b_.shape[0]}")
        self._init(a, b_)

    def _init(self, a, b):
        self.engine = "gpu" if on_gpu(a) else "cpu"
        self._a, self._b = a, b
        self.n_measurements = int(a.shape[0])
        self.matrix_shape = (int(a.shape[1]), int(b.shape[1]))
        self.dtype = np.dtype(a.dtype)

    def _forward(self, U, V):
        return ((self._a @ U) * (self._b @ V)).sum(axis=1)

    def _fused(self, U, V, y, mode):
        P, Q = self._a @ U, self._b @ V
        res, w = self._kernels.rowdot_pass(P, Q, y, mode)
        return res, self._a.T @ (w[:, None] * Q), self._b.T @ (w[:, None] * P)

    def _adjoint(self, w):
        a, b = self._a, self._b
        return (lambda V: a.T @ (w[:, None] * (b @ V))), (lambda U: b.T @ (w[:, None] * (a @ U)))

    def _subset(self, idx):
        idx = to_engine(idx, self.engine)
        out = RankOneMeasurements.__new__(RankOneMeasurements)
        out._init(self._a[idx], self._a[idx] if self._b is self._a else self._b[idx])
        return out


class EntrySampling(Measurements):
    """Observed entries ``y_t = X[rows[t], cols[t]]`` (robust matrix completion / PCA).

    Parameters
    ----------
    rows, cols : array-like of int, shape (m,)
        Coordinates of the observed entries, in the order of ``y``; no pair may repeat.
    shape : tuple of int
        ``(d1, d2)``, the shape of the full matrix.

    Notes
    -----
    The observations are kept sorted both by row and by column, so both halves of the
    sub-gradient, ``G V`` and ``G^T U``, are loops over output rows without write conflicts;
    one step costs ``O(m k)``.

    In a symmetric fit (``X = U U^T``) the loss is the l1 norm of the residual over the
    observed entries of the symmetric matrix: an off-diagonal pair listed once stands for both
    ``(j, k)`` and ``(k, j)``. Listing each unordered pair once or in both orientations is
    therefore the same fit (pairs listed once cost half as much per step).

    Examples
    --------
    >>> import numpy as np
    >>> op = EntrySampling([0, 1], [1, 1], (2, 2))
    >>> op(np.array([[1.0], [2.0]])).tolist()      # entries (0, 1) and (1, 1) of u u^T
    [2.0, 4.0]
    """

    def __init__(self, rows, cols, shape):
        self.matrix_shape = _check_shape(shape)
        self.engine = engine_of(rows, cols)
        rows = self._check_index(rows, "rows", self.matrix_shape[0])
        cols = self._check_index(cols, "cols", self.matrix_shape[1])
        if rows.shape != cols.shape:
            raise ValueError(f"rows and cols must have the same length, got {rows.shape[0]} "
                             f"and {cols.shape[0]}")
        self._init(rows, cols)
        xp = self._xp
        rs, cs = self._rows_s, self._cols_s
        dup = (rs[1:] == rs[:-1]) & (cs[1:] == cs[:-1])
        if bool(dup.any()):
            t = int(xp.argmax(dup))
            raise ValueError(f"rows/cols contain the entry ({int(rs[t])}, {int(cs[t])}) more "
                             "than once; each entry may be observed once")

    def _check_index(self, x, name, n):
        x = to_engine(np.asarray(x) if isinstance(x, (list, tuple)) else x, self.engine)
        if x.ndim != 1 or x.shape[0] < 1:
            raise ValueError(f"{name} must be a non-empty 1-D array, got shape {x.shape}")
        if x.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
        if bool((x < 0).any()) or bool((x >= n).any()):
            axis = "shape[0]" if name == "rows" else "shape[1]"
            raise ValueError(f"{name} must lie in [0, {n - 1}] ({axis} = {n}), got entries in "
                             f"[{int(x.min())}, {int(x.max())}]: {name} or shape is wrong")
        return x.astype(self._xp.int64)

    def _init(self, rows, cols):
        xp = self._xp
        d1, d2 = self.matrix_shape
        self._rows, self._cols = rows, cols
        self.n_measurements = int(rows.shape[0])
        self._order = xp.lexsort(xp.stack([cols, rows]))      # sorted by (row, col)
        self._rows_s, self._cols_s = rows[self._order], cols[self._order]
        self._indptr = xp.concatenate([xp.zeros(1, dtype=xp.int64),
                                       xp.cumsum(xp.bincount(self._rows_s, minlength=d1))])
        self._corder = xp.argsort(self._cols_s, kind="stable")  # positions sorted by column
        self._rows_c = self._rows_s[self._corder]
        self._cptr = xp.concatenate([xp.zeros(1, dtype=xp.int64),
                                     xp.cumsum(xp.bincount(self._cols_s, minlength=d2))])

    def _forward(self, U, V):
        return self._kernels.entry_forward(self._rows, self._cols, U, V)

    def _fused(self, U, V, y, mode):
        K = self._kernels
        res_s, w_s, GV = K.entry_rows_pass(self._indptr, self._cols_s, y[self._order], U, V,
                                           mode)
        GtU = K.entry_cols_pass(self._cptr, self._rows_c, w_s[self._corder], U)
        res = self._xp.empty_like(res_s)
        res[self._order] = res_s
        return res, GV, GtU

    def _adjoint(self, w):
        K, ws = self._kernels, w[self._order]
        wc = ws[self._corder]
        return (lambda V: K.entry_rows_pass(self._indptr, self._cols_s, ws, V, V,
                                            MODE_ADJOINT)[2],
                lambda U: K.entry_cols_pass(self._cptr, self._rows_c, wc, U))

    def _subset(self, idx):
        idx = to_engine(idx, self.engine)
        out = EntrySampling.__new__(EntrySampling)
        out.matrix_shape, out.engine = self.matrix_shape, self.engine
        out._init(self._rows[idx], self._cols[idx])
        return out

    def _symmetric(self, y):
        """``(operator, y)`` for a symmetric fit, weighted as the entries of ``U U^T``.

        The l1 loss of a symmetric fit is taken over the observed entries of the symmetric
        matrix, so an off-diagonal pair listed once counts twice. Counted once, a diagonal
        observation would weigh as much as a whole pair (twice its share), and its
        sub-gradient ``2 sign(r) u_j`` grows with ``u_j`` alone: a large positive outlier there
        pulls ``||u_j||^2`` towards itself and traps the iterate. Three cases:

        * every off-diagonal pair listed in both orientations: the operator as it is;
        * every pair listed once: a view with ``_pairs_once = (positions, rows)`` of the
          diagonal observations, from which :func:`nla.recovery._subgm.subgradient` forms the
          weighted sub-gradient at no extra cost;
        * a mixture: the mirrors of the pairs listed once are appended (with their ``y``).
        """
        xp = self._xp
        r, c = self._rows, self._cols
        off = r != c
        key = xp.minimum(r, c) * self.matrix_shape[0] + xp.maximum(r, c)
        ks = xp.sort(key[off])
        twice = ks[1:][ks[1:] == ks[:-1]]      # pairs observed in both orientations
        n_off, n_twice = int(ks.shape[0]), int(twice.shape[0])
        if 2 * n_twice == n_off:
            return self, y
        if n_twice == 0:
            out = EntrySampling.__new__(EntrySampling)
            out.__dict__.update(self.__dict__)
            pos = xp.nonzero(~off)[0]
            out._pairs_once = (pos, r[pos])
            return out, y
        at = xp.minimum(xp.searchsorted(twice, key), n_twice - 1)
        once = off & (twice[at] != key)
        out = EntrySampling.__new__(EntrySampling)
        out.matrix_shape, out.engine = self.matrix_shape, self.engine
        out._init(xp.concatenate([r, c[once]]), xp.concatenate([c, r[once]]))
        return out, xp.concatenate([y, y[once]])
