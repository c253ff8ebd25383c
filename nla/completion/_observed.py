"""Observed entries of a partially known matrix: input formats, checks and row/column views.

Accepted inputs (all on the CPU or all on the GPU):

* a tuple ``(rows, cols, vals)`` of COO triplets, with ``shape`` given separately;
* a sparse matrix (scipy.sparse or cupyx.scipy.sparse): every *stored* entry is an
  observation, explicit zeros included;
* a dense array (NumPy, CuPy, torch, ...) with NaN marking missing entries;
* an integer array of shape ``(q, 2)`` of ``(row, col)`` pairs with the values passed as
  ``y`` (the scikit-learn layout: one sample per observation, so cross-validation splitters
  and ``GridSearchCV`` work on it); ``shape`` defaults to one past the largest ids.
"""

import numpy as np

from .._array import engine_of, is_cupy_sparse, is_sparse, namespaces, to_engine
from .._validation import check_choice, check_int

DUPLICATES = ("raise", "mean")


class Observations:
    """Observed entries in two sorted views, built once per fit.

    ``row_view`` is CSR by rows (``indices`` are column ids) and ``col_view`` is CSR of the
    transpose (``indices`` are row ids); each is a tuple ``(indptr, indices, data)``.
    """

    def __init__(self, rows, cols, vals, shape, xp):
        self.shape = shape
        self.xp = xp
        self.nnz = int(vals.shape[0])
        self.rows, self.cols, self.vals = rows, cols, vals
        self.row_view = _csr(rows, cols, vals, shape[0], shape[1], xp)
        self.col_view = _csr(cols, rows, vals, shape[1], shape[0], xp)

    def counts(self, axis):
        """Observations per row (``axis=0``) or per column (``axis=1``)."""
        indptr = (self.row_view if axis == 0 else self.col_view)[0]
        return indptr[1:] - indptr[:-1]

    def shifted(self, offset):
        """The same observations with ``offset`` added to every value (no re-sorting)."""
        new = object.__new__(Observations)
        new.__dict__.update(self.__dict__)
        new.vals = self.vals + offset
        new.row_view = self.row_view[:2] + (self.row_view[2] + offset,)
        new.col_view = self.col_view[:2] + (self.col_view[2] + offset,)
        return new

    def subset(self, mask):
        """The observations selected by a boolean ``mask`` (for sample splitting)."""
        return Observations(self.rows[mask], self.cols[mask], self.vals[mask], self.shape,
                            self.xp)

    def matrices(self):
        """``(P_Omega(M), P_Omega(M)^T)`` as CSR matrices of the engine."""
        _, xsp = namespaces("gpu" if self.xp is not np else "cpu")
        m, n = self.shape
        p, i, d = self.row_view
        pt, it, dt = self.col_view
        return (xsp.csr_matrix((d, i, p), shape=(m, n)),
                xsp.csr_matrix((dt, it, pt), shape=(n, m)))


def _csr(rows, cols, vals, m, n, xp):
    # Sort by (row, col) with one stable argsort of a combined key; m * n < 2**63 is checked.
    order = xp.argsort(rows * n + cols, kind="stable")
    counts = xp.bincount(rows, minlength=m)
    indptr = xp.zeros(m + 1, dtype=xp.int64)
    xp.cumsum(counts, out=indptr[1:])
    return indptr, xp.ascontiguousarray(cols[order]), xp.ascontiguousarray(vals[order])


def parse_observed(X, shape=None, duplicates="raise", y=None):
    """``(rows, cols, vals, shape, engine)`` from any accepted input, checked.

    Raises ``TypeError`` for non-integer indices or non-real values and ``ValueError`` for
    indices out of range, NaN/inf values, an empty set of observations, a bad ``shape`` and
    (with ``duplicates='raise'``) repeated ``(row, col)`` pairs. ``duplicates='mean'``
    averages repeated pairs instead. The inputs are never modified.
    """
    check_choice(duplicates, "duplicates", DUPLICATES)
    values, ids = "vals", ("rows", "cols")  # names in messages
    if y is not None:
        engine = engine_of(X, y)
        X, y = (to_engine(_as_array(a), engine) for a in (X, y))
        if X.ndim != 2 or X.shape[1] != 2:
            raise ValueError("X must be an array of (row, col) pairs of shape (q, 2) when y "
                             f"holds the values, got shape {tuple(X.shape)}")
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"y must be 1-D with one value per row of X ({X.shape[0]}), got "
                             f"shape {tuple(y.shape)}")
        if X.shape[0] == 0:
            raise ValueError("X has no observed entries")
        if X.dtype.kind not in "iu":   # before the sizes are read off the ids
            raise TypeError(f"X[:, 0] must be integer indices, got dtype {X.dtype}")
        rows, cols, vals, values, ids = X[:, 0], X[:, 1], y, "y", ("X[:, 0]", "X[:, 1]")
        # missing sizes default to one past the largest id
        shape = (None, None) if shape is None else shape
        if len(shape) == 2:
            shape = tuple(int(ids.max()) + 1 if size is None else size
                          for size, ids in zip(shape, (rows, cols)))
        shape = _check_shape(shape)
    elif isinstance(X, tuple):
        if len(X) != 3:
            raise ValueError(f"X as a tuple must be (rows, cols, vals), got {len(X)} items")
        if shape is None:
            raise ValueError("shape is required when X is given as (rows, cols, vals) triplets")
        rows, cols, vals = X
        engine = engine_of(rows, cols, vals)
        rows, cols, vals = (to_engine(_as_array(a), engine) for a in (rows, cols, vals))
        shape = _check_shape(shape)
    elif is_sparse(X):
        engine = "gpu" if is_cupy_sparse(X) else "cpu"
        values = "X"
        coo = X.tocoo()  # keeps explicit zeros and duplicates as stored
        rows, cols, vals = coo.row, coo.col, coo.data
        shape = _check_shape(X.shape if shape is None else shape)
        if tuple(X.shape) != shape:
            raise ValueError(f"shape {shape} does not match X.shape {tuple(X.shape)}")
    else:
        engine = engine_of(X)
        X = to_engine(_as_array(X), engine)
        values = "X"
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D with NaN for missing entries, got shape {X.shape}")
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X is empty (shape {tuple(X.shape)})")
        X = _check_real(X, "X")
        if X.dtype.kind != "f":
            X = X.astype(np.float64)
        shape = _check_shape(X.shape if shape is None else shape)
        if tuple(X.shape) != shape:
            raise ValueError(f"shape {shape} does not match X.shape {tuple(X.shape)}")
        xp, _ = namespaces(engine)
        rows, cols = xp.nonzero(~xp.isnan(X))
        vals = X[rows, cols]
    xp, _ = namespaces(engine)
    rows = _check_index(rows, ids[0], shape[0], xp)
    cols = _check_index(cols, ids[1], shape[1], xp)
    vals = _check_values(vals, xp, values)
    if not rows.shape == cols.shape == vals.shape or rows.ndim != 1:
        raise ValueError(f"rows, cols and vals must be 1-D of one length, got shapes "
                         f"{rows.shape}, {cols.shape}, {vals.shape}")
    if vals.shape[0] == 0:
        raise ValueError("X has no observed entries")
    rows, cols, vals = _deduplicate(rows, cols, vals, shape, duplicates, xp)
    return rows, cols, vals, shape, engine


def _as_array(a):
    return np.asarray(a) if isinstance(a, (list, tuple)) else a


def _check_shape(shape):
    try:
        m, n = shape
    except (TypeError, ValueError):
        raise ValueError(f"shape must be a pair (m, n), got {shape!r}") from None
    m, n = check_int(m, "shape[0]", low=1), check_int(n, "shape[1]", low=1)
    if m * n >= 2**62:
        raise ValueError(f"shape {(m, n)} is too large (m * n must be < 2**62)")
    return m, n


def _check_real(a, name):
    if a.dtype.kind == "O":  # numeric objects (Python floats, Fractions, ...) are accepted
        try:
            return a.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must hold real numbers, got objects that are not") from None
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    return a


def _check_index(idx, name, size, xp):
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer indices, got dtype {idx.dtype}")
    idx = idx.astype(xp.int64)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        raise ValueError(f"{name} out of range: indices must be in [0, {size}) (the matrix "
                         f"shape), got [{int(idx.min())}, {int(idx.max())}]")
    return idx


def _check_values(vals, xp, name="vals"):
    vals = _check_real(vals, name)
    if vals.dtype.kind != "f" or vals.dtype not in (np.float32, np.float64):
        vals = vals.astype(xp.float64)
    bad = int(xp.count_nonzero(~xp.isfinite(vals)))
    if bad:
        raise ValueError(f"{name} (the observed values) contain {bad} NaN or infinite entries")
    return vals


def _deduplicate(rows, cols, vals, shape, duplicates, xp):
    key = rows * shape[1] + cols
    order = xp.argsort(key, kind="stable")
    sorted_key = key[order]
    repeated = sorted_key[1:] == sorted_key[:-1]
    n_dup = int(xp.count_nonzero(repeated))
    if n_dup == 0:
        return rows, cols, vals
    if duplicates == "raise":
        first = int(xp.nonzero(repeated)[0][0])
        k = int(sorted_key[first])
        raise ValueError(f"X has {n_dup} duplicate (row, col) pairs, e.g. {divmod(k, shape[1])}; "
                         "pass duplicates='mean' to average them")
    unique, inverse, counts = xp.unique(key, return_inverse=True, return_counts=True)
    sums = xp.bincount(inverse.ravel(), weights=vals.astype(xp.float64),
                       minlength=unique.shape[0])
    means = (sums / counts).astype(vals.dtype)
    return unique // shape[1], unique % shape[1], means
