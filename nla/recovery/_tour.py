"""Tour rows of the recovery area: robust sensing with outliers, and robust PCA vs TensorLy."""

import numpy as np

from .._threads import one_blas_thread
from .._tour import TourRow, timed
from ._operators import EntrySampling, GaussianMeasurements
from ._subgm import SubGMRecovery


#: Peer steps per timed call: one step takes ~7 ms, too short to time alone on a shared machine
#: (one stray millisecond is multiplied by the fit's ~1000 iterations).
_PEER_STEPS = 10


def _rel(X, Xs):
    return float(np.linalg.norm(X - Xs) / np.linalg.norm(Xs))


def _naive_steps(A, U, y, steps=_PEER_STEPS):
    # The per-measurement form sum_i sign(r_i) (A_i + A_i^T) U that the fused pass replaces.
    for _ in range(steps):
        Q = np.zeros_like(U)
        for Ai, yi in zip(A, y):
            AU = Ai @ U
            Q += np.sign(np.sum(U * AU) - yi) * (AU + Ai.T @ U)
        U = U - 1e-3 * Q / len(y)
    return U


def _sensing_row():
    d, r, m = 30, 3, 900
    gen = np.random.default_rng(0)
    V = np.linalg.qr(gen.standard_normal((d, r)))[0]
    op = GaussianMeasurements(m, (d, d), random_state=0)
    y = op(V) + (gen.random(m) < 0.2) * gen.normal(0, 10 * np.sqrt(r), m)
    t, est = timed(SubGMRecovery(r, random_state=0).fit, op, y)
    l2 = SubGMRecovery(r, loss="l2", decay=1.0, max_iter=300, random_state=0).fit(op, y)
    A, U = op.toarray(), 1e-3 * gen.standard_normal((d, r))
    with one_blas_thread():   # tiny products: BLAS threads only contend with each other
        t_naive = timed(_naive_steps, A, U, y)[0] * est.n_iter_ / _PEER_STEPS
    return TourRow("robust sensing, 20% outliers (l1 SubGM)", f"d={d} r={r} m={m}",
                   f"rel err {_rel(est.X_, V @ V.T):.0e} (l2 loss {_rel(l2.X_, V @ V.T):.1f})",
                   t, "NumPy per-measurement loop (same its)", t_naive,
                   metric="||X - X*||_F / ||X*||_F of the recovered matrix; in parentheses the "
                   "same fit with the squared loss, which the outliers spoil")


def _rpca_row():
    from tensorly.decomposition import robust_pca

    n, r = 100, 5
    gen = np.random.default_rng(1)
    L = gen.standard_normal((n, r)) @ gen.standard_normal((r, n)) / np.sqrt(r)
    M = L + (gen.random((n, n)) < 0.05) * gen.uniform(-10, 10, (n, n))
    rows, cols = np.divmod(np.arange(n * n), n)
    op = EntrySampling(rows, cols, (n, n))
    est = SubGMRecovery(r, decay=0.99, tol=1e-7, symmetric=False, random_state=0)
    # Both sides on one BLAS thread: a 100x100 SVD gains nothing from threads, and on shared
    # cores TensorLy's 100 of them swung between 0.4 s and 76 s with the default threads.
    with one_blas_thread():
        t, est = timed(est.fit, op, M.ravel())
        t_tl, (D, _) = timed(robust_pca, M, reg_E=1 / np.sqrt(n), reg_J=0.5, n_iter_max=100,
                             tol=1e-9, verbose=0)
    return TourRow("robust PCA (l1 SubGM, entry sampling)", f"{n}x{n} rank {r} + 5% sparse",
                   f"rel err {_rel(est.X_, L):.0e} (TensorLy {_rel(D, L):.0e})", t,
                   "tensorly robust_pca", t_tl,
                   metric="||L_hat - L||_F / ||L||_F of the recovered low-rank part; TensorLy "
                   "runs its (convex) robust PCA for up to 100 iterations")


def rows():
    """One row for Gaussian sensing with outliers, one for robust PCA against TensorLy."""
    yield _sensing_row()
    yield _rpca_row()
