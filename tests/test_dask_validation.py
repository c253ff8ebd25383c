"""Bad input on dask arrays, one table over every dask-capable public callable (issue 19).

Each row is a valid call on small row-chunked dask arrays; each dask argument is corrupted in
turn (NaN or inf in one randomly chosen chunk, the wrong number of dimensions, unknown (NaN)
chunk sizes, a length that does not match the other arguments) and must raise ``ValueError``
or ``TypeError`` naming that argument. Where the error is raised is part of the contract
(:mod:`nla._dask`): shapes, dimensions and chunk sizes are checked at the call without
computing; values are checked by the per-chunk tasks, so NaN/inf raise at the call when the
call itself makes a pass over the data (concrete results), and only at compute time for a lazy
result. A 2-D array chunked across columns is valid: rechunked to whole rows with a warning,
giving the row-chunked result. Runs on the session's LocalCluster (``dask_client``).
"""

import re

import numpy as np
import pytest

import nla

da = pytest.importorskip("dask.array")
pytest.importorskip("dask.distributed")

ERRORS = (ValueError, TypeError)
ROWS = 40   # rows per chunk: every array below has 3 or 4 row chunks


def _chunked(x):
    return da.from_array(x, chunks=(ROWS,) + (-1,) * (x.ndim - 1))


def _computed(out):
    """``out`` with every dask array in it computed (a Result's fields, tuples)."""
    import dask

    if isinstance(out, dict):
        return type(out)({k: _computed(v) for k, v in out.items()})
    if isinstance(out, (tuple, list)):
        return type(out)(_computed(v) for v in out)
    return dask.compute(out)[0] if isinstance(out, da.Array) else out


def _flat(out):
    """Every number of a computed result, as one vector (Result fields in key order)."""
    if isinstance(out, dict):
        out = [out[k] for k in sorted(out) if isinstance(out[k], (np.ndarray, float, int))
               and not isinstance(out[k], bool)]
    if isinstance(out, (tuple, list)):
        return np.concatenate([_flat(v) for v in out] or [np.zeros(0)])
    return np.asarray(out.toarray() if hasattr(out, "toarray") else out, dtype=float).ravel()


class Row:
    """``make(rng)`` -> (in-memory arguments, the call); ``dask``: the arguments passed as dask
    arrays; ``lazy``: NaN/inf surface at compute, not at the call; ``other_length``: the
    argument corrupted to a length the others do not match, and how."""

    def __init__(self, name, make, call, dask, *, lazy=False, other_length=None):
        self.name, self.make, self.call, self.dask = name, make, call, dask
        self.lazy, self.other_length = lazy, other_length

    def __repr__(self):
        return self.name


def _problem(rng, n=150, d=3):
    A = rng.standard_normal((n, d))
    return dict(A=A, b=A @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n))


def _graph(rng, n=150):
    G = (rng.random((n, n)) < 0.05) * rng.random((n, n))
    return dict(adjacency=G + G.T + np.eye(n))


def _srp_transform(X):
    est = nla.SparseRandomProjection(5, random_state=1).fit(np.zeros((2, 30)))   # 30 features
    return est.transform(X)


def _with_sample(rng):
    kw = _problem(rng)
    kw["sample"] = nla.sensitivity_sample(np.c_[kw["A"], kw["b"]], 1.0, 60, random_state=2)
    return kw


ROWS_TABLE = [
    Row("lstsq", _problem, lambda A, b: nla.lstsq(A, b, random_state=3).x, ("A", "b"),
        other_length=("b", lambda b: b[:-1])),
    Row("SketchOperator.apply", lambda rng: dict(A=rng.standard_normal((150, 3))),
        lambda A: nla.sketch("gaussian", 10, 150, random_state=3).apply(A), ("A",)),
    Row("SparseRandomProjection.transform", lambda rng: dict(X=rng.standard_normal((150, 30))),
        _srp_transform, ("X",), lazy=True, other_length=("X", lambda X: X[:, :-1])),
    Row("SparseRandomProjection.fit_transform",
        lambda rng: dict(X=rng.standard_normal((150, 30))),
        lambda X: nla.SparseRandomProjection(5, random_state=1).fit_transform(X), ("X",),
        lazy=True),
    Row("fastrp", _graph, lambda adjacency: nla.fastrp(adjacency, dim=4, random_state=3),
        ("adjacency",), other_length=("adjacency", lambda G: G[:, :-1])),
    Row("leverage_scores", lambda rng: dict(A=rng.standard_normal((150, 3))),
        lambda A: nla.leverage_scores(A), ("A",)),
    Row("leverage_scores sketch", lambda rng: dict(A=rng.standard_normal((150, 3))),
        lambda A: nla.leverage_scores(A, method="sketch", sketch_size=40, random_state=3),
        ("A",)),
    Row("lp_regression", _with_sample,
        lambda A, b, sample: nla.lp_regression(A, b, 1.0, sample=sample).x, ("A", "b"),
        other_length=("b", lambda b: b[:-1])),
    Row("lp_regression sample=m", _problem,
        lambda A, b: nla.lp_regression(A, b, 1.5, sample=60, random_state=2).x, ("A", "b"),
        other_length=("b", lambda b: b[:-1])),
    Row("lewis_weights", lambda rng: dict(A=rng.standard_normal((150, 3))),
        lambda A: nla.lewis_weights(A, 1.5).weights, ("A",)),
    Row("lp_sensitivities", lambda rng: dict(A=rng.standard_normal((150, 3))),
        lambda A: nla.lp_sensitivities(A, 1.5, method="root_leverage"), ("A",)),
    Row("sensitivity_sample", lambda rng: dict(A=rng.standard_normal((150, 3))),
        lambda A: nla.sensitivity_sample(A, 1.0, 50, random_state=2).indices, ("A",)),
    Row("embedding_distortion",
        lambda rng: (lambda A: dict(A=A, sample=nla.sensitivity_sample(A, 2.0, 60,
                                                                       random_state=2)))(
            rng.standard_normal((150, 3))),
        lambda A, sample: nla.embedding_distortion(A, sample, 2.0).distortion, ("A",),
        other_length=("A", lambda A: A[:-1])),
]


def _corruptions(row):
    """(label, argument) pairs: every corruption of every dask argument of the row."""
    out = []
    for name in row.dask:
        out += [("NaN in one chunk", name), ("inf in one chunk", name), ("wrong ndim", name),
                ("unknown chunk sizes", name)]
    if row.other_length:
        out.append(("other length", row.other_length[0]))
    return out


CASES = [(row, label, name) for row in ROWS_TABLE for label, name in _corruptions(row)]


def _names(message, name):
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", message) is not None


def _dask_args(row, kw):
    return {k: _chunked(v) if k in row.dask else v for k, v in kw.items()}


@pytest.mark.parametrize("row, label, name", CASES,
                         ids=[f"{r.name}-{label}-{n}" for r, label, n in CASES])
def test_bad_dask_input_is_named(dask_client, rng, row, label, name):
    kw = row.make(rng)
    x = kw[name]
    args = _dask_args(row, kw)
    at_compute = False
    if label in ("NaN in one chunk", "inf in one chunk"):
        bad = x.astype(np.float64)   # a copy: the caller's data stays as it was
        chunk = int(rng.integers(-(-x.shape[0] // ROWS)))
        i = chunk * ROWS + int(rng.integers(min(ROWS, x.shape[0] - chunk * ROWS)))
        bad[(i,) + tuple(int(rng.integers(s)) for s in x.shape[1:])] = (
            np.nan if label.startswith("NaN") else np.inf)
        args[name] = _chunked(bad)
        at_compute = row.lazy
    elif label == "wrong ndim":   # 3-D (a 1-D b as a column is a valid 2-D b for lstsq)
        args[name] = _chunked(x.reshape(x.shape + (1,) * (3 - x.ndim)))
    elif label == "unknown chunk sizes":
        d = _chunked(x)
        args[name] = d[(d[:, 0] if d.ndim == 2 else d) == (d[:, 0] if d.ndim == 2 else d)]
        assert np.isnan(args[name].chunks[0][0])
    else:
        args[name] = _chunked(row.other_length[1](x))
    before = {k: v.copy() for k, v in kw.items() if isinstance(v, np.ndarray)}
    if at_compute:
        out = row.call(**args)   # lazy: nothing computed yet, so nothing is found yet
        with pytest.raises(ERRORS) as info:
            _computed(out)
    else:
        with pytest.raises(ERRORS) as info:
            row.call(**args)
    assert _names(str(info.value), name), f"{row.name}: {name} ({label}): {info.value}"
    for k, v in before.items():
        np.testing.assert_array_equal(kw[k], v)


@pytest.mark.parametrize("row", [r for r in ROWS_TABLE if any(
    r.make(np.random.default_rng(0))[n].ndim == 2 for n in r.dask)], ids=repr)
def test_column_chunks_are_rechunked_with_a_warning(dask_client, rng, row):
    kw = row.make(rng)
    ref = _flat(_computed(row.call(**_dask_args(row, kw))))
    args = _dask_args(row, kw)
    for name in row.dask:
        if kw[name].ndim == 2:
            args[name] = da.from_array(kw[name], chunks=(ROWS, max(1, kw[name].shape[1] // 2)))
    with pytest.warns(UserWarning, match="chunked across columns"):
        got = _flat(_computed(row.call(**args)))
    # the same whole-row chunks after the rechunk: the same numbers in the same order
    np.testing.assert_array_equal(got, ref)
