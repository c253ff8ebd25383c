"""Very sparse random projection (Li, Hastie & Church 2006), scikit-learn compatible."""

import warnings

import numpy as np
import scipy.sparse as sp

from .._array import Origin, engine_of, is_sparse, kernels, namespaces, to_engine, to_host
from .._dask import check_rows, is_dask, map_rows
from .._estimator import (BaseEstimator, DataDimensionalityWarning, TransformerMixin,
                          check_features, check_is_fitted)
from .._validation import (check_array, check_bool, check_finite, check_int, check_memory,
                           check_scalar, check_seed)


def johnson_lindenstrauss_min_dim(n_samples, *, eps=0.1):
    """Smallest dimension that keeps ``n_samples`` points an ``eps``-embedding (JL lemma).

    ``k >= 4 log(n) / (eps^2 / 2 - eps^3 / 3)``: with it, a random projection keeps every
    squared pairwise distance within ``(1 +- eps)`` with high probability. The bound depends
    on the number of samples only, not on their dimension. Same formula and conventions as
    :func:`sklearn.random_projection.johnson_lindenstrauss_min_dim`.

    Parameters
    ----------
    n_samples : int or array-like of int
        Number of points (> 0).
    eps : float or array-like of float
        Distortion, in (0, 1).

    Returns
    -------
    int or array of int64
        An int for scalar input; for array input an array in the framework of the array
        argument (``n_samples`` first: torch in, torch out).

    Examples
    --------
    >>> johnson_lindenstrauss_min_dim(1_000_000, eps=0.5)
    663
    >>> johnson_lindenstrauss_min_dim(25, eps=0.1)
    2759
    """
    origin = Origin(next((v for v in (n_samples, eps) if Origin(v).kind != "numpy"), eps))
    n_samples, eps = (v if np.isscalar(v) else to_host(to_engine(v, engine_of(v)))
                      for v in (n_samples, eps))
    eps_arr = np.asarray(eps)
    if eps_arr.dtype.kind not in "iuf":   # '0.1', complex, bools, objects: not a real number
        raise TypeError(f"eps must be a real number or an array of them, got {eps!r}")
    eps_arr = eps_arr.astype(np.float64)
    n_arr = np.asarray(n_samples)
    if n_arr.dtype.kind not in "iu" and not (n_arr.dtype.kind == "f"
                                             and np.all(n_arr == np.round(n_arr))):
        raise TypeError(f"n_samples must be integer, got {n_samples!r}")
    if not np.all(np.isfinite(eps_arr)) or np.any(eps_arr <= 0) or np.any(eps_arr >= 1):
        raise ValueError(f"eps must be in (0, 1), got {eps!r}")
    if np.any(n_arr <= 0):
        raise ValueError(f"n_samples must be > 0, got {n_samples!r}")
    k = 4 * np.log(n_arr) / (eps_arr**2 / 2 - eps_arr**3 / 3)
    k = k.astype(np.int64)
    return int(k) if k.ndim == 0 else origin.restore(k)


class SparseRandomProjection(TransformerMixin, BaseEstimator):
    """Very sparse random projection, generated on the fly from a counter-based seed.

    The projection matrix ``R`` (``n_features x n_components``) has independent entries
    ``+-sqrt(s / n_components)`` with probability ``1 / (2 s)`` each and ``0`` otherwise,
    ``s = 1 / density``. Row ``j`` of ``R`` is a function of ``(seed, j)`` only, built in time
    proportional to its nonzeros, so the same ``random_state`` gives the same matrix with any
    number of threads and on the CPU and GPU. ``R`` is stored sparse (never dense).

    Parameters
    ----------
    n_components : int or 'auto'
        Target dimension. ``'auto'`` uses :func:`johnson_lindenstrauss_min_dim` of the number
        of samples seen in ``fit`` and ``eps`` (an error if that exceeds ``n_features``).
    density : float in (0, 1] or 'auto'
        Probability that an entry is nonzero; ``'auto'`` is ``1 / sqrt(n_features)`` (Li et al.).
        ``1`` gives a dense Rademacher projection.
    eps : float
        JL distortion used when ``n_components='auto'``, in (0, 1).
    dense_output : bool
        Return a dense array for sparse input too. A sparse input with ``False`` gives CSR.
    compute_inverse_components : bool
        Store the pseudo-inverse of the components at fit (for ``inverse_transform``).
    random_state : None, int, RandomState or Generator
        Seed of the counter-based generator (see :func:`nla._validation.check_seed`).

    Attributes
    ----------
    n_components_ : int
    density_ : float
    components_ : scipy.sparse.csr_matrix of shape (n_components, n_features)
        The projection, transposed (scikit-learn layout): ``transform(X) = X @ components_.T``.
    seed_ : int
        The 64-bit seed the components were generated from.
    n_features_in_ : int
    inverse_components_ : ndarray, only with ``compute_inverse_components``

    Notes
    -----
    Dense input runs a gather kernel (each output entry sums the ``~n_features * density``
    stored entries of one component against one input row); CSR input scatters rows of ``R``
    (a Gustavson product when the output is sparse). Both are parallel over samples. float32
    input stays float32. CuPy (or CUDA torch) input runs on the GPU with the same matrix.

    A row-chunked dask array (dense or scipy.sparse/CuPy chunks) is projected chunk by chunk
    on the active dask scheduler: ``fit`` reads only its shape and dtype, ``transform`` and
    ``inverse_transform`` return lazy dask arrays with the input's row chunks (CSR chunks for
    sparse input unless ``dense_output``), equal to the in-core result bit for bit. NaN or inf
    in a chunk raise ``ValueError`` naming ``X`` when that chunk is computed.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((100, 10_000))
    >>> rp = SparseRandomProjection(n_components=256, random_state=0).fit(X)
    >>> rp.transform(X).shape, round(rp.density_, 4)
    ((100, 256), 0.01)

    On a dask array (here on the default scheduler; a ``dask.distributed`` client works the
    same), nothing is computed until asked:

    >>> import dask.array as da
    >>> Y = rp.transform(da.from_array(X, chunks=(30, -1)))
    >>> Y.chunks[0], bool((Y.compute() == rp.transform(X)).all())
    ((30, 30, 30, 10), True)
    """

    def __init__(self, n_components="auto", *, density="auto", eps=0.1, dense_output=False,
                 compute_inverse_components=False, random_state=None):
        self.n_components = n_components
        self.density = density
        self.eps = eps
        self.dense_output = dense_output
        self.compute_inverse_components = compute_inverse_components
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y=None):
        """Draw the projection for data shaped like ``X`` (only its shape and dtype are used).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        check_features(self, X, reset=True)
        self._fit(check_rows(X, "X", sparse=True) if is_dask(X) else
                  check_array(X, "X", sparse=True))
        return self

    def _fit(self, X):
        n_samples, n_features = X.shape
        eps = check_scalar(self.eps, "eps", low=0, high=1, low_open=True, high_open=True)
        if isinstance(self.n_components, str) and self.n_components == "auto":
            k = johnson_lindenstrauss_min_dim(n_samples, eps=eps)
            if k <= 0:
                raise ValueError(f"eps={eps} and n_samples={n_samples} give a target dimension "
                                 f"of {k}; n_components='auto' needs more than 1 sample")
            if k > n_features:
                raise ValueError(  # scikit-learn's words, which its tests match
                    f"eps={eps:f} and n_samples={n_samples} lead to a target dimension of {k} "
                    f"which is larger than the original space with n_features={n_features}; "
                    "pass n_components explicitly or a larger eps")
        else:
            k = check_int(self.n_components, "n_components", low=1)
            if k > n_features:
                warnings.warn("The number of components is higher than the number of "
                              f"features: n_features < n_components ({n_features} < {k}); "
                              "the dimension is not reduced", DataDimensionalityWarning,
                              stacklevel=2)
        if isinstance(self.density, str) and self.density == "auto":
            density = 1.0 / np.sqrt(n_features)
        else:
            density = check_scalar(self.density, "density", low=0, high=1, low_open=True)
        # R holds about density * n_features * k (value, index) pairs and k + 1 row pointers
        check_memory(k + 1 + 2 * density * n_features * k, "n_components")
        check_bool(self.dense_output, "dense_output")
        if check_bool(self.compute_inverse_components, "compute_inverse_components"):
            check_memory(2 * n_features * k, "n_components")  # the dense pseudo-inverse
        self.seed_ = check_seed(self.random_state)
        self._projections = {}
        self.n_components_ = k
        self.density_ = float(density)
        self.n_features_in_ = n_features
        self.components_ = self._generate("cpu", X.dtype)[1]
        if self.compute_inverse_components:
            self.inverse_components_ = np.linalg.pinv(self.components_.toarray())

    def _generate(self, engine, dtype):
        # (R, R^T) as CSR on `engine` in `dtype`, cached. A GPU copy is generated on the device
        # from the same seed (identical bits), never transferred.
        key = (engine, np.dtype(dtype).name)
        cache = self.__dict__.setdefault("_projections", {})
        if key not in cache:
            scale = np.sqrt(1.0 / self.density_) / np.sqrt(self.n_components_)
            R = kernels("random_projection", engine).generate(
                self.seed_, self.n_features_in_, self.n_components_, self.density_, scale, dtype)
            cache[key] = (R, R.T.tocsr())
        return cache[key]

    def transform(self, X):
        """Project ``X``: ``X @ components_.T``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        array of shape (n_samples, n_components)
            Dense for dense input (in the caller's framework); CSR for sparse input unless
            ``dense_output``. A lazy dask array for dask input.
        """
        check_is_fitted(self, "components_")
        check_features(self, X, reset=False)
        return self._project(*self._validated(X))

    @staticmethod
    def _validated(X):
        # (X checked, the caller's Origin); dask input is checked lazily and has no Origin.
        if is_dask(X):
            return check_rows(X, "X", sparse=True), None
        origin = Origin(X)
        return check_array(X, "X", sparse=True, finite=is_sparse(X)), origin

    def _project(self, X, origin):
        if origin is None:
            return self._transform_dask(X)
        return origin.restore(self._transform(X))

    def _transform(self, X):
        engine = engine_of(X)
        R, components = self._generate(engine, X.dtype)
        return _ProjectRows(engine, R, components, self.dense_output).project(X)

    def _transform_dask(self, X):
        # One task per row chunk, all sharing the one seeded matrix (one graph key).
        engine = engine_of(X)
        R, components = self._generate(engine, X.dtype)
        k = self.n_components_
        xp, sparse = namespaces(engine)
        sparse_out = is_sparse(X._meta) and not self.dense_output
        meta = (sparse.csr_matrix((0, k), dtype=X.dtype) if sparse_out
                else xp.empty((0, k), dtype=X.dtype))
        return map_rows(_ProjectRows(engine, None, None, self.dense_output), X, tail=(k,),
                        dtype=X.dtype, meta=meta, shared=(R, components))

    def fit_transform(self, X, y=None):
        """``fit(X).transform(X)``, validating ``X`` once."""
        check_features(self, X, reset=True)
        X, origin = self._validated(X)
        self._fit(X)
        return self._project(X, origin)

    def inverse_transform(self, X):
        """Map projected data back: ``X @ pinv(components_).T`` (dense, ``n x n_features``).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_components)

        Returns
        -------
        array of shape (n_samples, n_features)
            Dense, in the caller's framework and on its device (computed on the host). A lazy
            dask array, row by row, for dask input.
        """
        check_is_fitted(self, "components_")
        on_dask = is_dask(X)
        origin = None if on_dask else Origin(X)
        X = check_rows(X, "X", sparse=True) if on_dask else check_array(X, "X", sparse=True)
        if X.shape[1] != self.n_components_:
            raise ValueError(f"X has {X.shape[1]} columns, expected n_components_="
                             f"{self.n_components_}")
        inverse = getattr(self, "inverse_components_", None)
        if inverse is None:
            inverse = np.linalg.pinv(self.components_.toarray())
        if on_dask:
            engine = engine_of(X)
            dtype = np.result_type(X.dtype, inverse.dtype)
            meta = namespaces(engine)[0].empty((0, self.n_features_in_), dtype=dtype)
            return map_rows(_inverse_rows, X, tail=(self.n_features_in_,), dtype=dtype,
                            meta=meta, shared=(inverse, engine))
        return origin.restore(_inverse(X, inverse, origin.engine))

    def get_feature_names_out(self, input_features=None):
        """Output feature names ``sparserandomprojection0, ...``."""
        check_is_fitted(self, "components_")
        return np.asarray([f"sparserandomprojection{i}" for i in range(self.n_components_)],
                          dtype=object)


class _ProjectRows:
    """``X @ R`` for one block of rows (the whole of an in-core ``X``, or one dask chunk).

    A small picklable class: on dask it runs on the workers, with ``R`` and its transpose
    passed as shared graph keys and each chunk's values checked there (NaN/inf name ``X``).
    """

    def __init__(self, engine, R, components, dense_output):
        self.engine, self.R, self.components = engine, R, components
        self.dense_output = bool(dense_output)

    def __call__(self, row0, block, R, components):
        X = check_array(block, "X", sparse=True, finite=is_sparse(block), min_size=0)
        return _ProjectRows(self.engine, R, components, self.dense_output).project(X)

    def project(self, X):
        K = kernels("random_projection", self.engine)
        if hasattr(X, "tocsr"):
            return K.project_sparse(X, self.R, self.dense_output)
        # Dense X is checked for NaN/inf by the projection pass itself (saves a read of X).
        out, finite = K.project_dense(X, self.components)
        if not finite:
            check_finite(X, "X")  # raises for NaN/inf; otherwise a sum merely overflowed
        return out


def _inverse_rows(row0, block, inverse, engine):
    # One dask chunk: its values checked here, at compute time.
    return _inverse(check_array(block, "X", sparse=True, min_size=0), inverse, engine)


def _inverse(X, inverse, engine):
    # Rows of X @ pinv(components_).T, computed on the host, returned on X's engine.
    X = to_host(X)
    out = X @ inverse.T
    out = np.asarray(out.toarray() if sp.issparse(out) else out)
    return to_engine(out, engine)
