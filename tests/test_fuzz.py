"""Property-based fuzzing of every public callable of ``nla`` (issue 19).

A table of valid calls (small, fresh random inputs), one row per public function, class and
estimator method; each row says what kind of value every argument is. Three properties, each
over every row, with examples drawn by hypothesis (fresh ones every run; a failure prints the
drawn seed, argument and corruption):

* one argument corrupted (NaN/inf, empty, wrong ndim, complex/str/object dtype, sparse NaN,
  out-of-range or wrongly typed parameters, sizes of 10**12) raises ``ValueError`` or
  ``TypeError`` whose message names that argument, and no input is modified;
* a valid but unusual form of one argument (Fortran order, read-only, strided, int dtype,
  sparse with unsorted / duplicate / int64 indices or in COO/CSC, NumPy scalars) is accepted
  and gives the plain call's result;
* where the mathematics is homogeneous, inputs scaled by ``c`` in [1e-300, 1e300] give the
  scaled result.

The example budget is a hypothesis profile: ``nla-ci`` (the default, 6 examples per property and
row: about 20 s on two cores) or ``NLA_FUZZ_PROFILE=nla-deep`` (200: 3-5 minutes) for a long
local run; ``--hypothesis-seed=N`` replays a run.
"""

import os
import re

import numpy as np
import pytest
import scipy.sparse as sp

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import nla  # noqa: E402

_QUIET = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck),
              print_blob=False)
# Fresh examples in CI too (derandomized in 50cf1f3 while 200-example runs still found failing
# rows; after their fixes three nla-deep runs, hypothesis seeds 12345, 777 and 4242, passed).
settings.register_profile("nla-ci", max_examples=6, **_QUIET)
settings.register_profile("nla-deep", max_examples=200, **_QUIET)
FUZZ = settings.get_profile(os.environ.get("NLA_FUZZ_PROFILE", "nla-ci"))

pytestmark = [pytest.mark.filterwarnings("ignore::nla.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore::nla.DataDimensionalityWarning"),
              pytest.mark.filterwarnings("ignore::RuntimeWarning")]

HUGE = 10**12
ERRORS = (ValueError, TypeError)


# --- what each argument is, and how to corrupt it -------------------------------------------

class Arr:
    """A dense array argument.

    ``ndims``: the accepted numbers of dimensions (the first is the valid call's);
    ``complex_ok``: complex input is valid; ``bad``: extra (label, function of the valid value)
    corruptions specific to this argument (a negative adjacency, a non-square matrix, ...);
    ``int_ok``: integer-valued input of int dtype is valid (the variant rounds the data first).
    """

    def __init__(self, ndims=(2,), *, complex_ok=False, bad=(), int_ok=True, unusual=True,
                 empty_ok=False):
        self.ndims, self.complex_ok, self.extra = tuple(ndims), complex_ok, tuple(bad)
        self.int_ok, self.unusual_ok, self.empty_ok = int_ok, unusual, empty_ok

    def bad(self, x, rng):
        x = np.asarray(x)
        out = []
        flat = rng.integers(x.size)
        for label, value in (("NaN", np.nan), ("inf", np.inf), ("-inf", -np.inf)):
            y = x.astype(np.result_type(x, np.float64))
            y.flat[flat] = value
            out.append((label, y))
        if not self.empty_ok:
            out.append(("empty", x[:0]))
            if x.ndim >= 2:
                out.append(("empty axis 1", x[:, :0]))
        for ndim in range(0, 4):
            if ndim not in self.ndims:
                y = x.reshape(x.shape + (1,) * (ndim - x.ndim)) if ndim > x.ndim else (
                    x.reshape(x.shape[:max(ndim - 1, 0)] + (-1,) * (ndim > 0)) if ndim else
                    x.flat[0])
                out.append((f"{ndim}-D", np.asarray(y)))
        if not self.complex_ok:
            out.append(("complex", x + 1j * x))
        out.append(("str", x.astype(str)))
        objects = np.empty(x.shape, dtype=object)
        objects.fill(object())
        out.append(("object", objects))
        out.extend((label, make(x)) for label, make in self.extra)
        return out

    def unusual(self, x, rng):
        if not self.unusual_ok:
            return []
        x = np.asarray(x)
        ro = x.copy()
        ro.setflags(write=False)
        big = np.zeros(tuple(2 * s for s in x.shape), dtype=x.dtype)
        view = big[tuple(slice(None, None, 2) for _ in x.shape)]
        view[...] = x
        out = [("read-only", x, ro), ("strided", x, view)]
        if x.ndim >= 2:
            out.append(("Fortran order", x, np.asfortranarray(x)))
        if self.int_ok and x.dtype.kind == "f":
            ints = np.round(x).astype(np.int64)
            out.append(("int64 dtype", ints.astype(np.float64), ints))
        if x.dtype == np.float64 and x.ndim:
            out.append(("object dtype", x, x.astype(object)))
        return out


class Sparse:
    """A scipy.sparse argument (CSR in the valid call)."""

    def __init__(self, bad=()):
        self.extra = tuple(bad)

    def bad(self, x, rng):
        out = []
        for label, value in (("NaN", np.nan), ("inf", np.inf)):
            y = x.copy().astype(np.float64)
            y.data[rng.integers(y.nnz)] = value
            out.append((f"sparse {label}", y))
        out.append(("sparse complex", x.astype(np.complex128) * (1 + 1j)))
        out.extend((label, make(x)) for label, make in self.extra)
        return out

    def unusual(self, x, rng):
        x = x.tocsr()
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        order = np.lexsort((-x.indices, rows))  # descending columns within each row
        unsorted = sp.csr_matrix((x.data[order], x.indices[order], x.indptr), shape=x.shape)
        unsorted.has_sorted_indices = False
        half = x.data / 2  # exact: two halves sum back to each entry
        dup = sp.csr_matrix(sp.coo_matrix((np.r_[half, half], (np.r_[rows, rows],
                                                              np.r_[x.indices, x.indices])),
                                          shape=x.shape))
        wide = x.copy()
        wide.indices, wide.indptr = x.indices.astype(np.int64), x.indptr.astype(np.int64)
        return [("unsorted indices", x, unsorted), ("duplicate entries", x, dup),
                ("int64 indices", x, wide), ("COO", x, x.tocoo()), ("CSC", x, x.tocsc())]


class Int:
    """An integer parameter in ``[low, high]``; ``size``: 10**12 must be a range error."""

    def __init__(self, low=None, high=None, *, size=False, none_ok=False, array_ok=False):
        self.low, self.high, self.size, self.none_ok = low, high, size, none_ok
        self.array_ok = array_ok   # an array of values is valid too (one result per value)

    def bad(self, x, rng):
        out = [("float", 1.5), ("str", "3"), ("bool", True)] + (
            [] if self.array_ok else [("list", [3])])
        if self.low is not None:
            out.append(("below range", self.low - 1))
        if self.high is not None:
            out.append(("above range", self.high + 1))
        if self.size:
            out.append(("10**12", HUGE))
        if not self.none_ok:
            out.append(("None", None))
        return out

    def unusual(self, x, rng):
        return [] if x is None else [("numpy int", x, np.int64(x))]


class Real:
    """A real parameter within (open or closed) bounds."""

    def __init__(self, low=None, high=None, *, low_open=False, high_open=False, none_ok=False,
                 array_ok=False):
        self.low, self.high = low, high
        self.low_open, self.high_open, self.none_ok = low_open, high_open, none_ok
        self.array_ok = array_ok   # an array of values is valid too (one result per value)

    def bad(self, x, rng):
        out = [("NaN", np.nan), ("inf", np.inf), ("str", "0.1"), ("complex", 0.1j),
               ("bool", True)] + ([] if self.array_ok else [("list", [0.1])])
        if self.low is not None:
            out.append(("below range", self.low if self.low_open else self.low - 1.0))
        if self.high is not None:
            out.append(("above range", self.high if self.high_open else self.high + 1.0))
        if not self.none_ok:
            out.append(("None", None))
        return out

    def unusual(self, x, rng):
        return [] if x is None else [("numpy float", x, np.float64(x))]


class Choice:
    def __init__(self, *options):
        self.options = options

    def bad(self, x, rng):
        return [("unknown", "bogus"), ("int", 3), ("list", [x])]

    def unusual(self, x, rng):
        return []


class Bool:
    def bad(self, x, rng):
        return [("str", "yes"), ("int", 2), ("None", None)]

    def unusual(self, x, rng):
        return [("numpy bool", x, np.bool_(x))]


class Seed:
    def bad(self, x, rng):
        return [("str", "abc"), ("float", 1.5), ("negative", -1), ("too large", 2**64),
                ("list", [1])]

    def unusual(self, x, rng):
        return [("numpy int", x, np.uint64(x))]


class Func:
    def bad(self, x, rng):
        return [("int", 3), ("str", "f")]

    def unusual(self, x, rng):
        return []


class Dtype:
    def bad(self, x, rng):
        return [("unknown", "bogus"), ("int32", np.int32), ("complex", np.complex128),
                ("bool", True)]

    def unusual(self, x, rng):
        return [("name", x, np.dtype(x).name)]


class Other:
    """An argument with bespoke corruptions only (a sample object, a shape pair, ...)."""

    def __init__(self, *bad, unusual=()):
        self.extra, self.variants = bad, unusual

    def bad(self, x, rng):
        return [(label, make(x)) for label, make in self.extra]

    def unusual(self, x, rng):
        return [(label, x, make(x)) for label, make in self.variants]


# --- the table of valid calls ---------------------------------------------------------------

class Case:
    """One public callable: ``make(rng)`` -> valid keyword arguments of ``call``.

    ``scale``: (names scaled by c, power p) pairs: the result of ``out`` for the scaled inputs
    is ``c**p`` times the plain one, to a relative ``scale_rtol`` (see test_scale_invariance).
    ``rtol`` and ``scale_rtol`` may be functions of the drawn keyword arguments, where the
    achievable accuracy depends on them.
    """

    def __init__(self, name, make, call, specs, *, out=None, scale=(), scale_rtol=1e-10,
                 rtol=0.0, mutates=(), names=None):
        self.name, self.make, self.call, self.specs = name, make, call, specs
        # the name a message must use, where the table's key differs from the parameter's
        self.names = names or {}
        self.out = out or (lambda r: r)
        self.scale, self.scale_rtol, self.rtol, self.mutates = scale, scale_rtol, rtol, mutates

    def __repr__(self):
        return self.name

    def tol(self, which, kw):
        value = getattr(self, which)
        return value(kw) if callable(value) else value


def _lp_tol(tight):
    # IRLS at p = 1 floors residuals at 1e-10 of the largest (nla.sampling._regression), so its
    # weighted least-squares problems weigh rows up to 1e10 apart: an input change at rounding
    # level (eps) moves the unconverged iterate by up to ~1e10 eps = 2e-6 relative (measured:
    # up to 1.6e-6 for c = 1.37 or 1.0000001 alike, while 200 iterations leave x 1e-3 from the
    # LAD optimum, reported as converged=False). HiGHS and p > 1 keep the tight tolerance.
    return lambda kw: 1e-5 if kw["solver"] == "irls" and kw["p"] == 1.0 else tight


def _graph(rng, n=30, density=0.15):
    G = sp.random(n, n, density=density, format="csr", random_state=rng)
    return (G + G.T + sp.eye(n, format="csr")).tocsr()


def _negative(x):
    y = x.copy()
    if sp.issparse(y):
        y.data[0] = -1.0
    else:
        y.flat[0] = -1.0
    return y


def _not_square(x):
    return x[:-1]


def _problem(rng, n=40, d=3):
    A = rng.standard_normal((n, d))
    return A, A @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)


def _srp(**kw):
    keys = ("n_components", "density", "eps", "dense_output", "compute_inverse_components",
            "random_state")
    return nla.SparseRandomProjection(**{k: kw.pop(k) for k in keys if k in kw}), kw


def _srp_fit_transform(**kw):
    est, kw = _srp(**kw)
    return est.fit_transform(kw["X"])


def _srp_transform(**kw):
    est, kw = _srp(**kw)
    return est.fit(kw["X_fit"]).transform(kw["X"])


def _srp_inverse(**kw):
    est, kw = _srp(**kw)
    return est.fit(kw["X_fit"]).inverse_transform(kw["X"])


def _sketch_apply(kind, sketch_size, n, random_state, A, row0=None):
    return nla.sketch(kind, sketch_size, n, random_state=random_state).apply(A, row0=row0)


def _sketch_rapply(kind, sketch_size, n, random_state, Y):
    return nla.sketch(kind, sketch_size, n, random_state=random_state).rapply(Y)


_SKETCH_CLASSES = {"GaussianSketch": nla.GaussianSketch, "SRHTSketch": nla.SRHTSketch,
                   "CountSketch": nla.CountSketch, "SparseSignSketch": nla.SparseSignSketch,
                   "PooledHadamardSketch": nla.PooledHadamardSketch}


def _sample(rng, A, p=1.0, m=25):
    return nla.sensitivity_sample(A, p, m, random_state=int(rng.integers(2**32)))


def _estimator(cls, data_keys, kw):
    params = {k: v for k, v in kw.items() if k not in data_keys}
    return cls(**params), {k: kw[k] for k in data_keys if k in kw}


def _altmin(**kw):
    est, data = _estimator(nla.AltMinCompleter, ("X", "y", "shape", "rows", "cols"), kw)
    est.fit(data["X"], data["y"], shape=data["shape"])
    return est.predict(data["rows"], data["cols"])


def _altmin_problem(rng):
    m, n = 12, 10
    M = rng.standard_normal((m, 2)) @ rng.standard_normal((2, n))
    pairs = np.argwhere(rng.random((m, n)) < 0.7)
    return dict(X=pairs, y=M[pairs[:, 0], pairs[:, 1]], shape=(m, n), rank=2, max_iter=5,
                tol=1e-10, reg=0.0, random_state=int(rng.integers(2**32)), solver="cg",
                biases=False, verbose=False, rows=rng.integers(0, m, 5),
                cols=rng.integers(0, n, 5))


def _altmin_score(Xs, ys, **kw):
    est, data = _estimator(nla.AltMinCompleter, ("X", "y", "shape", "rows", "cols"), kw)
    return est.fit(data["X"], data["y"], shape=data["shape"]).score(Xs, ys)


def _altmin_score_problem(rng):
    kw = _altmin_problem(rng)
    m, n = kw["shape"]
    M = np.zeros((m, n))
    M[kw["X"][:, 0], kw["X"][:, 1]] = kw["y"]
    Xs = kw["X"][rng.choice(len(kw["y"]), 8, replace=False)]
    return dict(kw, Xs=Xs, ys=M[Xs[:, 0], Xs[:, 1]] + 0.1 * rng.standard_normal(8))


def _altmin_fold_in(Xf, yf, **kw):
    est, data = _estimator(nla.AltMinCompleter, ("X", "y", "shape", "rows", "cols"), kw)
    return est.fit(data["X"], data["y"], shape=data["shape"]).fold_in(Xf, yf).U


def _altmin_fold_in_problem(rng):
    kw = _altmin_problem(rng)
    n = kw["shape"][1]
    Xf = np.c_[np.repeat(np.arange(3), n), np.tile(np.arange(n), 3)]   # 3 new, full rows
    return dict(kw, Xf=Xf, yf=rng.standard_normal(3 * n))


def _altmin_dense(**kw):
    est, data = _estimator(nla.AltMinCompleter, ("X", "y", "shape", "rows", "cols"), kw)
    return est.fit(data["X"], data["y"], shape=data["shape"]).to_dense()


def _subgm(**kw):
    est, data = _estimator(nla.SubGMRecovery, ("A", "y"), kw)
    return est.fit(nla.DenseMeasurements(data["A"]), data["y"]).X_


def _subgm_problem(rng):
    d, m = 6, 80
    A = rng.standard_normal((m, d, d))
    U = rng.standard_normal((d, 2))
    y = np.einsum("ijk,jk->i", A, U @ U.T)
    return dict(A=A, y=y, rank=2, max_iter=30, step=0.2, decay=0.98, init_scale=1e-4,
                tol=1e-10, loss="l1", symmetric=True, holdout=0.0,
                random_state=int(rng.integers(2**32)), verbose=False)


def _funbat(**kw):
    est, data = _estimator(nla.FunBaT, ("coords", "y", "coords_new"), kw)
    return est.fit(data["coords"], data["y"]).predict(data["coords_new"])


def _funbat_problem(rng):
    X = rng.uniform(size=(40, 2))
    return dict(coords=X, y=np.sin(3 * X[:, 0]) + X[:, 1], coords_new=rng.uniform(size=(5, 2)),
                rank=2, lengthscale=0.3, variance=1.0, n_epochs=3, damping=0.5, warmup_epochs=1,
                cp=False, random_state=int(rng.integers(2**32)), verbose=False, n_init=1)


def _funbat_score(coords_s, ys, **kw):
    est, data = _estimator(nla.FunBaT, ("coords", "y", "coords_new"), kw)
    return est.fit(data["coords"], data["y"]).score(coords_s, ys)


def _funbat_score_problem(rng):
    kw = _funbat_problem(rng)
    X = rng.uniform(size=(8, 2))
    return dict(kw, coords_s=X, ys=np.sin(3 * X[:, 0]) + X[:, 1])


def _cos_sum(scale):
    return lambda x, y: scale * np.cos(x + 0.5 * y)


def _chebtucker(**kw):
    c = kw.pop("c")
    points = kw.pop("points")
    return nla.ChebTucker.fit(_cos_sum(c), **kw)(points)


def _hippo_A(rng, N=6):
    return nla.hippo(N).A + 0.01 * rng.standard_normal((N, N))


CASES = [
    # random projection
    Case("SparseRandomProjection.fit_transform",
         lambda rng: dict(X=rng.standard_normal((15, 60)), n_components=8, density=0.3,
                          eps=0.5, dense_output=False, compute_inverse_components=False,
                          random_state=int(rng.integers(2**32))),
         _srp_fit_transform,
         dict(X=Arr(), n_components=Int(1, size=True), density=Real(0, 1, low_open=True),
              eps=Real(0, 1, low_open=True, high_open=True), dense_output=Bool(),
              compute_inverse_components=Bool(), random_state=Seed()),
         scale=[(("X",), 1)]),
    Case("SparseRandomProjection.fit_transform sparse",
         lambda rng: dict(X=sp.random(15, 60, density=0.3, format="csr", random_state=rng),
                          n_components=8, random_state=int(rng.integers(2**32))),
         _srp_fit_transform, dict(X=Sparse()), scale=[(("X",), 1)]),
    Case("SparseRandomProjection.transform",
         lambda rng: dict(X_fit=rng.standard_normal((10, 40)), X=rng.standard_normal((6, 40)),
                          n_components=5, random_state=int(rng.integers(2**32))),
         _srp_transform, dict(X=Arr(bad=[("other features", lambda x: x[:, :-1])])),
         scale=[(("X",), 1)]),
    Case("SparseRandomProjection.inverse_transform",
         lambda rng: dict(X_fit=rng.standard_normal((10, 40)), X=rng.standard_normal((6, 5)),
                          n_components=5, compute_inverse_components=True,
                          random_state=int(rng.integers(2**32))),
         _srp_inverse, dict(X=Arr(bad=[("other components", lambda x: x[:, :-1])])),
         scale=[(("X",), 1)], scale_rtol=1e-9),
    Case("fastrp",
         lambda rng: dict(adjacency=_graph(rng), dim=8, weights=(0.0, 1.0, 1.0), beta=-0.3,
                          normalize=True, standardize=False, self_weight=0.5, direction="out",
                          random_state=int(rng.integers(2**32)), dtype=np.float64),
         nla.fastrp,
         dict(adjacency=Sparse(bad=[("negative", _negative), ("not square", _not_square)]),
              dim=Int(1, size=True), beta=Real(), normalize=Bool(), standardize=Bool(),
              self_weight=Real(), direction=Choice("out", "in", "symmetrize"),
              random_state=Seed(), dtype=Dtype(),
              weights=Other(("NaN weight", lambda w: (np.nan,) + tuple(w[1:])),
                            ("str weight", lambda w: ("a",) + tuple(w[1:])),
                            ("empty", lambda w: ()), ("2-D", lambda w: [list(w)]))),
         scale=[(("adjacency",), 0)], scale_rtol=1e-10),
    Case("fastrp dense",
         lambda rng: dict(adjacency=_graph(rng).toarray(), dim=8, dtype=np.float64,
                          random_state=int(rng.integers(2**32))),
         nla.fastrp, dict(adjacency=Arr(bad=[("negative", _negative),
                                             ("not square", _not_square)]))),
    Case("johnson_lindenstrauss_min_dim",
         lambda rng: dict(n_samples=int(rng.integers(2, 10**6)), eps=float(rng.uniform(0.05, 0.9))),
         nla.johnson_lindenstrauss_min_dim,
         dict(n_samples=Int(1, array_ok=True), eps=Real(0, 1, low_open=True, high_open=True, array_ok=True))),
    # sketching
    Case("sketch",
         lambda rng: dict(kind=str(rng.choice(["gaussian", "srht", "countsketch", "sparse_sign",
                                               "hgp", "linf"])),
                          sketch_size=8, n=50, random_state=int(rng.integers(2**32)),
                          dtype=np.float64),
         lambda **kw: nla.sketch(**kw).todense(),
         dict(kind=Choice(), sketch_size=Int(1, size=True), n=Int(1), random_state=Seed(),
              dtype=Dtype())),
    *[Case(name, lambda rng: dict(sketch_size=8, n=50, random_state=int(rng.integers(2**32))),
           lambda cls=cls, **kw: cls(**kw).todense(),
           dict(sketch_size=Int(1, size=True), n=Int(1), random_state=Seed()))
      for name, cls in _SKETCH_CLASSES.items()],
    Case("SketchOperator.apply",
         lambda rng: dict(kind=str(rng.choice(["gaussian", "srht", "countsketch", "sparse_sign",
                                               "hgp"])),
                          sketch_size=8, n=50, random_state=int(rng.integers(2**32)),
                          A=rng.standard_normal((50, 3))),
         _sketch_apply,
         dict(A=Arr((2, 1), bad=[("wrong rows", lambda x: x[:-1])])),
         scale=[(("A",), 1)], rtol=1e-12),
    Case("SketchOperator.apply sparse",
         lambda rng: dict(kind=str(rng.choice(["gaussian", "srht", "countsketch", "sparse_sign",
                                               "hgp"])),
                          sketch_size=8, n=50, random_state=int(rng.integers(2**32)),
                          A=sp.random(50, 4, density=0.4, format="csr", random_state=rng)),
         _sketch_apply, dict(A=Sparse()), rtol=1e-12),
    Case("SketchOperator.apply row0",
         lambda rng: dict(kind="sparse_sign", sketch_size=8, n=50, row0=10,
                          random_state=int(rng.integers(2**32)),
                          A=rng.standard_normal((20, 3))),
         _sketch_apply, dict(row0=Int(0, 30, none_ok=True))),
    Case("SketchOperator.rapply",
         lambda rng: dict(kind=str(rng.choice(["gaussian", "srht", "countsketch", "sparse_sign",
                                               "hgp"])),
                          sketch_size=8, n=50, random_state=int(rng.integers(2**32)),
                          Y=rng.standard_normal((8, 2))),
         _sketch_rapply, dict(Y=Arr((2, 1), bad=[("wrong rows", lambda x: x[:-1])])),
         scale=[(("Y",), 1)], rtol=1e-12),
    Case("fwht",
         lambda rng: dict(Y=rng.standard_normal((16, 3))),
         nla.fwht, dict(Y=Arr((2, 1), bad=[("not a power of two", lambda x: x[:-1].copy())],
                              unusual=False)),
         scale=[(("Y",), 1)], mutates=("Y",)),
    Case("lstsq",
         lambda rng: dict(zip("Ab", _problem(rng)),
                          method=str(rng.choice(["auto", "sketch", "precondition", "exact"])),
                          random_state=int(rng.integers(2**32)), tol=1e-12, maxiter=50,
                          eps=0.5, delta=0.01, sketch_size=None, sketch=None),
         nla.lstsq,
         dict(A=Arr(bad=[("fewer rows than b", lambda x: x[:-1])]),
              b=Arr((1, 2), bad=[("wrong rows", lambda x: x[:-1])]),
              method=Choice(), random_state=Seed(), tol=Real(0, low_open=True),
              maxiter=Int(1), eps=Real(0, 1, low_open=True), delta=Real(0, 1, low_open=True,
                                                                        high_open=True),
              sketch_size=Int(3, 40, size=True, none_ok=True),   # [d, n]
              sketch=Other(("unknown", lambda s: "bogus"), ("int", lambda s: 3))),
         out=lambda r: r.x, scale=[(("A", "b"), 0), (("b",), 1)], scale_rtol=1e-8, rtol=1e-9),
    Case("lstsq sparse",
         lambda rng: dict(A=sp.random(60, 3, density=0.5, format="csr", random_state=rng),
                          b=rng.standard_normal(60), random_state=int(rng.integers(2**32))),
         nla.lstsq, dict(A=Sparse()), out=lambda r: r.x, rtol=1e-9,
         scale=[(("A", "b"), 0), (("b",), 1)], scale_rtol=1e-8),
    # sampling
    Case("leverage_scores",
         lambda rng: dict(A=rng.standard_normal((40, 3)),
                          method=str(rng.choice(["exact", "sketch"])), rcond=None,
                          sketch="sparse_sign", sketch_size=None, jl_dim=None,
                          random_state=int(rng.integers(2**32)), return_rank=False),
         nla.leverage_scores,
         dict(A=Arr(), method=Choice(), rcond=Real(0, 1, high_open=True, none_ok=True),
              sketch=Choice(), sketch_size=Int(3, size=True, none_ok=True),  # >= n: exact
              jl_dim=Int(1, none_ok=True), random_state=Seed(), return_rank=Bool()),
         scale=[(("A",), 0)], scale_rtol=1e-10, rtol=1e-10),
    Case("lewis_weights",
         lambda rng: dict(A=rng.standard_normal((40, 3)), p=float(rng.uniform(1, 4)),
                          tol=1e-10, max_iter=200, anderson=4, init="leverage", rcond=None,
                          damping=None, verbose=False, callback=None),
         nla.lewis_weights,
         dict(A=Arr(), p=Real(1, 100), tol=Real(0, low_open=True),
              max_iter=Int(1), anderson=Int(0), init=Choice(),
              rcond=Real(0, 1, high_open=True, none_ok=True),
              damping=Real(0, 1, low_open=True, none_ok=True), verbose=Bool(),
              callback=Func()),
         out=lambda r: r.weights, scale=[(("A",), 0)], scale_rtol=1e-8, rtol=1e-9),
    Case("lp_sensitivities",
         lambda rng: dict(A=rng.standard_normal((40, 3)), p=float(rng.uniform(1, 2)),
                          method=str(rng.choice(["lewis", "root_leverage", "wcb"])),
                          random_state=int(rng.integers(2**32))),
         nla.lp_sensitivities,
         dict(A=Arr(), p=Real(1, 100), method=Choice(), random_state=Seed()),
         scale=[(("A",), 0)], scale_rtol=1e-8, rtol=1e-9),
    Case("sensitivity_sample",
         lambda rng: dict(A=rng.standard_normal((40, 3)), p=float(rng.uniform(1, 2)), m=20,
                          scheme=str(rng.choice(["lewis", "sensitivity", "root_leverage",
                                                 "leverage", "uniform", "combined"])),
                          replace=bool(rng.integers(2)), random_state=int(rng.integers(2**32))),
         nla.sensitivity_sample,
         dict(A=Arr(), p=Real(1, 100), m=Int(1, 40, size=True),
              scheme=Other(("unknown", lambda s: "bogus"), ("int", lambda s: 3),
                           ("all-zero scores", lambda s: np.zeros(40)),
                           ("NaN scores", lambda s: np.full(40, np.nan)),
                           ("wrong length", lambda s: np.ones(39))),
              replace=Bool(), random_state=Seed()),
         out=lambda r: np.r_[r.indices, r.row_scale], scale=[(("A",), 0)], scale_rtol=1e-8),
    Case("LpSample.apply",
         lambda rng: (lambda A: dict(A=A, sample=_sample(rng, A)))(rng.standard_normal((40, 3))),
         lambda A, sample: sample.apply(A),
         dict(A=Arr(bad=[("other rows", lambda x: x[:-1])])), scale=[(("A",), 1)]),
    Case("lp_regression",
         lambda rng: (lambda solver: dict(
             zip("Ab", _problem(rng)), sample=None, scheme="lewis", replace=False, tol=1e-10,
             solver=solver, p=1.0 if solver == "highs" else float(rng.choice([1.0, 1.5, 3.0])),
             max_iter=200, random_state=int(rng.integers(2**32))))(
                 str(rng.choice(["auto", "highs", "irls"]))),
         nla.lp_regression,
         dict(A=Arr(bad=[("fewer rows than b", lambda x: x[:-1])]),
              b=Arr((1,), bad=[("wrong rows", lambda x: x[:-1])]),
              p=Real(1, 100), sample=Other(("str", lambda s: "all"), ("negative", lambda s: -5),
                                           ("float", lambda s: 2.5)),
              scheme=Choice(), replace=Bool(), solver=Choice(), tol=Real(0, low_open=True),
              max_iter=Int(1), random_state=Seed()),
         out=lambda r: r.x, scale=[(("A", "b"), 0), (("b",), 1)], scale_rtol=_lp_tol(1e-6),
         rtol=_lp_tol(1e-8)),
    Case("embedding_distortion",
         lambda rng: (lambda A, p: dict(A=A, sample=_sample(rng, A, p), p=p, n_directions=20,
                                        refine=1, random_state=int(rng.integers(2**32))))(
             rng.standard_normal((40, 3)), float(rng.choice([1.0, 2.0, 3.0]))),
         nla.embedding_distortion,
         dict(A=Arr(bad=[("other rows", lambda x: x[:-1])]), p=Real(1, 100),
              sample=Other(("None", lambda s: None), ("int", lambda s: 3),
                           ("indices", lambda s: np.asarray(s.indices))),
              n_directions=Int(1, size=True), refine=Int(0), random_state=Seed()),
         out=lambda r: r.distortion, scale=[(("A",), 0)], scale_rtol=1e-6, rtol=1e-8),
    # completion and recovery
    Case("AltMinCompleter.fit/predict", _altmin_problem, _altmin,
         dict(X=Arr(bad=[("3 columns", lambda x: np.c_[x, x[:, 0]]),
                         ("negative index", _negative), ("float index", lambda x: x + 0.5)],
                    int_ok=False),
              y=Arr((1,), bad=[("wrong length", lambda x: x[:-1])]),
              shape=Other(("too small", lambda s: (2, 2)), ("str", lambda s: "big"),
                          ("three", lambda s: s + (1,))),
              rows=Arr((1,), int_ok=False, bad=[("out of range", lambda x: x + 100)]),
              rank=Int(1, size=True), max_iter=Int(1), tol=Real(0), reg=Real(0),
              random_state=Seed(), solver=Choice(), biases=Bool(), verbose=Bool()),
         scale=[(("y",), 1)], scale_rtol=1e-8, rtol=1e-9),
    Case("AltMinCompleter.score", _altmin_score_problem, _altmin_score,
         dict(Xs=Arr(bad=[("3 columns", lambda x: np.c_[x, x[:, 0]]),
                          ("out of range", lambda x: x + 100)], int_ok=False),
              ys=Arr((1,), bad=[("wrong length", lambda x: x[:-1])])),
         scale=[(("y", "ys"), 1)], scale_rtol=1e-8, rtol=1e-9, names={"Xs": "X", "ys": "y"}),
    Case("AltMinCompleter.fold_in", _altmin_fold_in_problem, _altmin_fold_in,
         dict(Xf=Arr(bad=[("3 columns", lambda x: np.c_[x, x[:, 0]]),
                          ("column out of range", lambda x: x + [0, 100]),
                          ("negative index", _negative)], int_ok=False),
              yf=Arr((1,), bad=[("wrong length", lambda x: x[:-1])])),
         # U_ and V_ are balanced (each carries sqrt(c)), so the folded-in U scales as sqrt(c)
         scale=[(("y", "yf"), 0.5)], scale_rtol=1e-8, rtol=1e-9, names={"Xf": "X", "yf": "y"}),
    Case("AltMinCompleter.to_dense", _altmin_problem, _altmin_dense, {},
         scale=[(("y",), 1)], scale_rtol=1e-8, rtol=1e-9),
    Case("SubGMRecovery.fit", _subgm_problem, _subgm,
         dict(y=Arr((1,), bad=[("wrong length", lambda x: x[:-1])]),
              A=Arr((3,)),
              rank=Int(1, 6, size=True), max_iter=Int(1), step=Real(0, low_open=True),
              decay=Real(0, 1, low_open=True), init_scale=Real(0, low_open=True),
              tol=Real(0), loss=Choice(), symmetric=Bool(), holdout=Real(0, 1, high_open=True),
              random_state=Seed(), verbose=Bool()),
         scale=[(("y",), 1)], scale_rtol=1e-8, rtol=1e-9),
    Case("DenseMeasurements",
         lambda rng: dict(A=rng.standard_normal((20, 4, 3)), U=rng.standard_normal((4, 2)),
                          V=rng.standard_normal((3, 2))),
         lambda A, U, V: nla.DenseMeasurements(A)(U, V),
         dict(A=Arr((3,)), U=Arr(bad=[("wrong rows", lambda x: x[:-1])]), V=Arr()),
         scale=[(("A",), 1), (("U",), 1)], rtol=1e-12),
    Case("GaussianMeasurements",
         lambda rng: dict(n_measurements=30, shape=(4, 4), stored=True,
                          random_state=int(rng.integers(2**32)), dtype=np.float64,
                          U=rng.standard_normal((4, 2))),
         lambda U, **kw: nla.GaussianMeasurements(**kw)(U),
         dict(n_measurements=Int(1, size=True), stored=Bool(), random_state=Seed(),
              dtype=Dtype(), U=Arr(),
              shape=Other(("str", lambda s: "4x4"), ("one", lambda s: (4,)),
                          ("zero", lambda s: (0, 4)), ("huge", lambda s: (HUGE, HUGE)))),
         scale=[(("U",), 2)], rtol=1e-12),
    Case("RankOneMeasurements",
         lambda rng: dict(a=rng.standard_normal((20, 4)), b=rng.standard_normal((20, 3)),
                          U=rng.standard_normal((4, 2)), V=rng.standard_normal((3, 2))),
         lambda a, b, U, V: nla.RankOneMeasurements(a, b)(U, V),
         dict(a=Arr(), b=Arr(bad=[("other rows", lambda x: x[:-1])]), U=Arr(), V=Arr()),
         scale=[(("a",), 1), (("V",), 1)], rtol=1e-12),
    Case("EntrySampling",
         lambda rng: (lambda idx: dict(rows=idx // 5, cols=idx % 5, shape=(6, 5),
                                       U=rng.standard_normal((6, 2)),
                                       V=rng.standard_normal((5, 2))))(
             rng.choice(30, 12, replace=False)),
         lambda rows, cols, shape, U, V: nla.EntrySampling(rows, cols, shape)(U, V),
         dict(rows=Arr((1,), int_ok=False, bad=[("out of range", lambda x: x + 10),
                                                 ("float", lambda x: x + 0.5),
                                                 ("other length", lambda x: x[:-1])]),
              cols=Arr((1,), int_ok=False, bad=[("negative", lambda x: x - 10)]),
              shape=Other(("too small", lambda s: (1, 1)), ("str", lambda s: "6x5")),
              U=Arr()),
         scale=[(("U",), 1)], rtol=1e-12),
    # chebtucker, funbat, ssm
    Case("ChebTucker.fit",
         lambda rng: dict(c=float(rng.uniform(0.5, 2)), domain=[[-1.0, 1.0], [-0.5, 2.0]],
                          degree=None, rank=None, tol=1e-12, max_degree=64, hooi_iters=2,
                          vectorized=True, verbose=False,
                          points=rng.uniform([-1, -0.5], [1, 2], size=(5, 2))),
         _chebtucker,
         dict(domain=Arr(bad=[("empty box", lambda d: np.array([[1.0, 1.0], [0.0, 1.0]])),
                              ("reversed", lambda d: np.asarray(d)[:, ::-1]),
                              ("3 columns", lambda d: np.c_[d, d])], int_ok=False,
                         unusual=False),
              points=Arr((2, 1), bad=[("outside", lambda p: p + 10)], int_ok=False),
              tol=Real(0, 1, low_open=True, high_open=True), max_degree=Int(1),
              hooi_iters=Int(0),
              vectorized=Bool(), verbose=Bool()),
         scale=[(("c",), 1)], scale_rtol=1e-10, rtol=1e-12),
    Case("ChebTucker",
         lambda rng: dict(core=rng.standard_normal((2, 3)),
                          factors=[rng.standard_normal((5, 2)), rng.standard_normal((4, 3))],
                          domain=[[-1.0, 1.0], [0.0, 1.0]], tol=1e-12,
                          points=rng.uniform([-1, 0], [1, 1], size=(4, 2))),
         lambda points, **kw: nla.ChebTucker(**kw)(points),
         dict(core=Arr(bad=[("wrong ranks", lambda c: c[:, :-1])]),
              factors=Other(("None", lambda f: None), ("one", lambda f: f[:1]),
                            ("NaN", lambda f: [np.full_like(f[0], np.nan), f[1]]),
                            ("wrong rank", lambda f: [f[0][:, :1], f[1]])),
              domain=Arr(unusual=False, int_ok=False), tol=Real(0, low_open=True)),
         scale=[(("core",), 1)], rtol=1e-12),
    Case("LongRangePotential",
         lambda rng: dict(centers=rng.standard_normal((4, 3)), charges=rng.standard_normal(4),
                          a=float(rng.uniform(0.5, 2)), x=rng.standard_normal(5),
                          y=rng.standard_normal(5), z=rng.standard_normal(5)),
         lambda centers, charges, a, x, y, z: nla.LongRangePotential(centers, charges, a)(x, y,
                                                                                          z),
         dict(centers=Arr(bad=[("2 columns", lambda c: c[:, :2])]),
              charges=Arr((1,), bad=[("other length", lambda q: q[:-1])]),
              a=Real(0, low_open=True), x=Arr((1, 0, 2, 3), empty_ok=True),
              z=Arr((1, 0, 2, 3), empty_ok=True, bad=[("other shape", lambda z: z[:-1])])),
         scale=[(("charges",), 1)], rtol=1e-12),
    Case("FunBaT.fit/predict", _funbat_problem, _funbat,
         dict(coords=Arr(bad=[("other rows", lambda x: x[:-1])]),
              y=Arr((1, 2), bad=[("other length", lambda x: x[:-1]),   # (n, 1): flattened
                                 ("2 columns", lambda x: np.c_[x, x])]),
              coords_new=Arr(bad=[("other columns", lambda x: x[:, :1])]),
              rank=Int(1, size=True), lengthscale=Real(0, low_open=True),
              variance=Real(0, low_open=True), n_epochs=Int(1), damping=Real(0, 1, high_open=True),
              warmup_epochs=Int(0), cp=Bool(), random_state=Seed(), verbose=Bool(),
              n_init=Int(1)),
         scale=[(("y",), 1)], scale_rtol=1e-8, rtol=1e-9, names={"coords_new": "coords"}),
    Case("FunBaT.score", _funbat_score_problem, _funbat_score,
         dict(coords_s=Arr(bad=[("other rows", lambda x: x[:-1]),
                                ("other columns", lambda x: x[:, :1])]),
              ys=Arr((1, 2), bad=[("other length", lambda x: x[:-1]),   # (n, 1): flattened
                                  ("2 columns", lambda x: np.c_[x, x])])),
         scale=[(("y", "ys"), 0)], scale_rtol=1e-8, rtol=1e-9,
         names={"coords_s": "coords", "ys": "y"}),
    Case("hippo",
         lambda rng: dict(N=2 * int(rng.integers(1, 6)), kind=str(rng.choice(["legs", "legt",
                                                                               "fout"]))),
         nla.hippo, dict(N=Int(1, size=True), kind=Choice())),
    Case("hippo_diagonal",
         lambda rng: dict(N=int(rng.integers(1, 12)), kind="legs"),
         nla.hippo_diagonal, dict(N=Int(1, size=True), kind=Choice())),
    Case("ptd",
         lambda rng: dict(A=_hippo_A(rng), gamma=0.2, method=str(rng.choice(["optimize",
                                                                             "random"])),
                          eps=0.05, max_iter=30, init_scale=0.1, tol=1e-10, keep_stable=True,
                          backward_tol=1e-6, random_state=int(rng.integers(2**32)),
                          callback=None, weights=None),
         nla.ptd,
         dict(A=Arr(bad=[("not square", _not_square)]), gamma=Real(0, low_open=True),
              method=Choice(), eps=Real(0, 1, low_open=True, high_open=True, none_ok=True),
              max_iter=Int(1), init_scale=Real(0, low_open=True), tol=Real(0, low_open=True),
              keep_stable=Bool(), backward_tol=Real(0, low_open=True), random_state=Seed(),
              callback=Func(),
              weights=Other(("unknown", lambda w: "bogus"), ("wrong shape", lambda w: np.ones(3)),
                            ("NaN", lambda w: np.full((6, 6), np.nan)))),
         out=lambda r: r.eigenvalues, rtol=1e-8),  # 'optimize' has no scale row: see below
    # E is eps ||A|| G / ||G||: homogeneous; eigenvalues move by about kappa(V) eps (N = 6)
    Case("ptd random",
         lambda rng: dict(A=_hippo_A(rng), method="random", eps=float(rng.uniform(0.01, 0.5)),
                          random_state=int(rng.integers(2**32))),
         nla.ptd, dict(eps=Real(0, 1, low_open=True, high_open=True)),
         out=lambda r: r.eigenvalues, scale=[(("A",), 1)], scale_rtol=1e-10, rtol=1e-8),
    Case("transfer_function",
         lambda rng: dict(A=_hippo_A(rng), B=rng.standard_normal(6), C=rng.standard_normal(6),
                          s=1j * rng.uniform(0.1, 5, 4), D=None),
         nla.transfer_function,
         dict(A=Arr((2, 1), complex_ok=True, bad=[("not square", _not_square)]),
              B=Arr((1, 2), complex_ok=True, bad=[("other length", lambda b: b[:-1])]),
              C=Arr((1, 2), complex_ok=True), s=Arr((1, 0, 2, 3), complex_ok=True,
                                                    empty_ok=True),
              D=Other(("str", lambda d: "x"), ("NaN", lambda d: np.nan),
                      ("wrong shape", lambda d: np.ones((3, 3))))),
         scale=[(("B",), 1), (("C",), 1)], rtol=1e-12),
    Case("discretize",
         lambda rng: dict(eigenvalues=-rng.uniform(0.1, 2, 5) + 1j * rng.standard_normal(5),
                          B=rng.standard_normal(5), dt=float(rng.uniform(0.01, 0.5)),
                          method=str(rng.choice(["zoh", "bilinear"]))),
         nla.discretize,
         dict(eigenvalues=Arr((1,), complex_ok=True),
              B=Arr((1, 2), complex_ok=True, bad=[("other length", lambda b: b[:-1])]),
              dt=Real(0, low_open=True, array_ok=True), method=Choice()),
         out=lambda r: r.B, scale=[(("B",), 1)], rtol=1e-12),
    Case("pseudospectrum",
         lambda rng: dict(A=_hippo_A(rng), grid=rng.standard_normal(3) + 1j * rng.standard_normal(3),
                          method=str(rng.choice(["lanczos", "svd"])), tol=1e-10, max_steps=6),
         nla.pseudospectrum,
         dict(A=Arr(bad=[("not square", _not_square)]), grid=Arr((1, 0, 2, 3), complex_ok=True,
                                                                empty_ok=True),
              method=Choice(), tol=Real(0, low_open=True), max_steps=Int(1)),
         # Lanczos stops at a relative Ritz change of tol = 1e-10: a scaled run may stop a step
         # apart, so the scale check allows 100 tol
         out=lambda r: r.sigma_min, scale=[(("A", "grid"), 1)], scale_rtol=1e-8, rtol=1e-9),
]

#: Public names that are not callables to fuzz (data records, warning classes, the version).
NOT_FUZZED = {"ConvergenceWarning", "DataDimensionalityWarning", "Result", "__version__",
              "SketchOperator", "Measurements", "LpSample"}


def test_every_public_callable_has_a_row():
    covered = {case.name.split(".")[0].split()[0] for case in CASES}
    assert set(nla.__all__) - NOT_FUZZED <= covered, set(nla.__all__) - NOT_FUZZED - covered


# --- helpers ---------------------------------------------------------------------------------

def _snapshot(value):
    if sp.issparse(value):
        return ("sparse", value.format, [a.copy() for a in _parts(value)])
    if isinstance(value, np.ndarray):
        return ("dense", value.copy())
    if isinstance(value, (list, tuple)):
        return ("seq", type(value), [_snapshot(v) for v in value])
    return ("other", value)


def _parts(x):
    return (x.data, x.row, x.col) if x.format == "coo" else (x.data, x.indices, x.indptr)


def _same_snapshot(before, value):
    kind = before[0]
    if kind == "sparse":
        return before[1] == value.format and all(
            a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
            for a, b in zip(before[2], _parts(value)))
    if kind == "dense":
        a = before[1]
        return a.dtype == value.dtype and (np.array_equal(a, value, equal_nan=True)
                                           if a.dtype.kind in "fc" else
                                           bool(np.all(a == value)))
    if kind == "seq":
        return all(_same_snapshot(b, v) for b, v in zip(before[2], value))
    return True


def _flat(result):
    """Every number of a result, as one complex vector (Result fields in key order)."""
    if isinstance(result, dict):
        keys = [k for k in sorted(result) if not isinstance(result[k], (str, bool, type(None)))]
        return np.concatenate([_flat(result[k]) for k in keys] or [np.zeros(0)])
    if sp.issparse(result):
        return _flat(result.toarray())
    if isinstance(result, (list, tuple)):
        return np.concatenate([_flat(x) for x in result] or [np.zeros(0)])
    return np.asarray(result, dtype=np.complex128).ravel()


def _names(message, name):
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", message) is not None


def _draw_case(case, data):
    seed = data.draw(st.integers(0, 2**63 - 1), label="seed")
    rng = np.random.default_rng(seed)
    return rng, case.make(rng)


# --- the properties --------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=repr)
def test_valid_call_works(case):
    rng = np.random.default_rng()
    kw = case.make(rng)
    before = {k: _snapshot(v) for k, v in kw.items()}
    out = _flat(case.out(case.call(**kw)))
    assert np.all(np.isfinite(out))
    for k, v in kw.items():
        assert k in case.mutates or _same_snapshot(before[k], v), f"{k} was modified"


@pytest.mark.parametrize("case", [c for c in CASES if c.specs], ids=repr)
@FUZZ
@given(data=st.data())
def test_corrupted_argument_is_named(case, data):
    rng, kw = _draw_case(case, data)
    name = data.draw(st.sampled_from(sorted(case.specs)), label="argument")
    options = case.specs[name].bad(kw.get(name), rng)
    label = data.draw(st.sampled_from([label for label, _ in options]), label="corruption")
    kw[name] = dict(options)[label]
    before = {k: _snapshot(v) for k, v in kw.items()}
    with pytest.raises(ERRORS) as info:
        case.call(**kw)
    assert _names(str(info.value), case.names.get(name, name)), (
        f"{case.name}: {name} ({label}) raised {type(info.value).__name__}: {info.value}")
    for k, v in kw.items():  # inputs never modified, not even on the way to an error
        assert _same_snapshot(before[k], v), f"{k} was modified"


@pytest.mark.parametrize("case", CASES, ids=repr)
@FUZZ
@given(data=st.data())
def test_unusual_valid_argument_gives_the_same_result(case, data):
    rng, kw = _draw_case(case, data)
    options = [(name, label, plain, odd) for name in sorted(case.specs)
               for label, plain, odd in case.specs[name].unusual(kw.get(name), rng)]
    if not options:
        return
    pick = data.draw(st.sampled_from([f"{name}: {label}" for name, label, _, _ in options]),
                     label="variant")
    name, label, plain, odd = options[[f"{n}: {l}" for n, l, _, _ in options].index(pick)]
    ref = _flat(case.out(case.call(**dict(kw, **{name: plain}))))
    before = _snapshot(odd)
    got = _flat(case.out(case.call(**dict(kw, **{name: odd}))))
    assert name in case.mutates or _same_snapshot(before, odd), f"{name} was modified"
    # rtol 0 where the same numbers are computed in the same order; else a few ulps of
    # reordering (another BLAS path for a Fortran-ordered copy) times the case's conditioning
    rtol = case.tol("rtol", kw)
    np.testing.assert_allclose(got, ref, rtol=rtol,
                               atol=rtol * float(np.max(np.abs(ref), initial=0.0)))


@pytest.mark.parametrize("case", [c for c in CASES if c.scale], ids=repr)
@FUZZ
@given(data=st.data())
def test_scale_invariance(case, data):
    rng, kw = _draw_case(case, data)
    names, power = data.draw(st.sampled_from(case.scale), label="scaled, power")
    top = 300 // max(power, 1) - 1   # c**power stays a finite float
    exponent = data.draw(st.integers(-top, top), label="decimal exponent")
    c = float(data.draw(st.floats(1.0, 9.999), label="mantissa")) * 10.0**exponent
    fresh = {k: kw[k].copy() for k in case.mutates}   # fwht transforms in place
    ref = _flat(case.out(case.call(**kw)))
    scaled = {n: (fresh.get(n, kw[n])) * c for n in names}
    got = _flat(case.out(case.call(**dict(kw, **{**fresh, **scaled}))))
    # The scaled inputs are the exact ones rounded (relative 2**-53, or an absolute 5e-324
    # for subnormals), so the results agree to the case's conditioning times that, or to its
    # iterative tolerance; the comparison is normwise, in units of c**power.
    assert np.all(np.isfinite(got)), f"non-finite result at c={c:g}"
    unit = c**power if power else 1.0
    rtol = case.tol("scale_rtol", kw)
    np.testing.assert_allclose(got / unit, ref, rtol=rtol,
                               atol=rtol * float(np.max(np.abs(ref), initial=0.0)))


def test_ptd_optimize_does_not_scale_and_says_so():
    # The objective kappa(V(A + E)) + gamma ||E||_F has an absolute gamma (the paper's), so
    # ptd(c A) is another problem: for a tiny A the optimum E swamps it, and the error says so.
    A = _hippo_A(np.random.default_rng())
    with pytest.raises(np.linalg.LinAlgError, match="gamma and init_scale are absolute"):
        nla.ptd(A * 1e-100, max_iter=30, backward_tol=1e-6, random_state=0)
