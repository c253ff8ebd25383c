"""Tour row: AltMin completion on MovieLens 100K beside scikit-surprise's SVD when the data
(``../shared/data/ml-100k``) and surprise are present; otherwise exact recovery of a synthetic
matrix (solver='cg') beside plain NumPy ALS (per-row lstsq loops)."""

import numpy as np

from .._tour import TourRow, timed
from . import _movielens
from ._altmin import AltMinCompleter


def synthetic(m, n, k, p, kappa, seed):
    """A random rank-``k`` matrix (condition ``kappa``) and ``p * m * n`` sampled entries.

    Returns ``((U, s, V), (rows, cols, vals))``: the truth ``U diag(s) V^T`` with orthonormal
    ``U``, ``V`` and entries of order one, and the observations as COO triplets.
    """
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((m, k)))[0]
    V = np.linalg.qr(rng.standard_normal((n, k)))[0]
    s = np.geomspace(1, 1 / kappa, k) * np.sqrt(m * n / k)
    lin = rng.choice(m * n, int(p * m * n), replace=False)
    rows, cols = lin // n, lin % n
    return (U, s, V), (rows, cols, np.einsum("ij,ij->i", U[rows] * s, V[cols]))


def relative_error(truth, U_hat, V_hat):
    """``||U S V^T - U_hat V_hat^T||_F / ||S||_F`` via two small QRs (no cancellation)."""
    U, s, V = truth
    Ra = np.linalg.qr(np.hstack([U * s, -U_hat]), mode="r")
    Rb = np.linalg.qr(np.hstack([V, V_hat]), mode="r")
    return float(np.linalg.norm(Ra @ Rb.T) / np.linalg.norm(s))


def numpy_als(rows, cols, vals, shape, k, n_sweeps, seed=0):
    """Plain ALS: a Python loop of ``numpy.linalg.lstsq`` per column, then per row."""
    m, n = shape
    U = np.linalg.qr(np.random.default_rng(seed).standard_normal((m, k)))[0]
    by_col = [np.flatnonzero(cols == j) for j in range(n)]
    by_row = [np.flatnonzero(rows == i) for i in range(m)]
    for _ in range(n_sweeps):
        V = np.array([np.linalg.lstsq(U[rows[t]], vals[t], rcond=None)[0] for t in by_col])
        V = np.linalg.qr(V)[0]
        U = np.array([np.linalg.lstsq(V[cols[t]], vals[t], rcond=None)[0] for t in by_row])
    return U, V


def movielens_row():
    """MovieLens u2: rank 10, reg and sweeps picked on a validation part of u2.base only (a
    two-point grid, to keep the tour short), final fit timed beside Surprise's SVD."""
    train, test = _movielens.load_fold(2)
    final, table = _movielens.tuned_fit(train, ranks=(10,), regs=(0.1, 0.13))
    trainset = _movielens.surprise_trainset(train)
    svd = _movielens.surprise_algo("SVD")
    nla_s, _ = timed(_movielens.fit, final, train, repeat=2)
    peer_s, _ = timed(svd.fit, trainset, repeat=2)
    _, rank, reg, sweeps = table[0]
    peer_rmse = _movielens.surprise_rmse(svd, test)
    return TourRow("matrix completion (ALS + biases)", f"MovieLens 100K u2, k={rank}",
                   f"test RMSE {-final.score(test[0]):.3f} (SVD {peer_rmse:.3f})", nla_s,
                   f"Surprise SVD ({sweeps} sweeps vs 20 epochs)", peer_s)


def rows():
    try:
        import surprise  # noqa: F401
        ready = _movielens.available()
    except ImportError:
        ready = False
    if ready:
        yield movielens_row()
        return
    shape, k = (1000, 1000), 10
    truth, (r, c, v) = synthetic(*shape, k, 0.1, 10, seed=0)
    est = AltMinCompleter(k, random_state=0, max_iter=30, tol=1e-12)
    est.fit((r, c, v), shape=shape)  # compile outside the timing
    nla_s, est = timed(lambda: est.fit((r, c, v), shape=shape))
    err = relative_error(truth, est.U_, est.V_)
    peer_s, (U, V) = timed(numpy_als, r, c, v, shape, k, est.n_iter_)
    yield TourRow("matrix completion (AltMin, cg)", f"1000x1000 k={k} 10% obs",
                  f"rel err {err:.0e} (NumPy ALS {relative_error(truth, U, V):.0e})", nla_s,
                  f"NumPy lstsq ALS ({est.n_iter_} sweeps)", peer_s)
