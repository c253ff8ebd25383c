"""Sensitivity bounds from a well-conditioned ``l_p`` basis (``lp_sensitivities(method='wcb')``).

The classical route to ``l_p`` row sampling (Dasgupta, Drineas, Harb, Kumar, Mahoney, SICOMP
2009; Clarkson 2005; Sohler-Woodruff 2011): find a basis ``U = A X`` of ``col(A)`` in which
``||U z||_p`` is comparable to the size of the coordinates ``z``, then bound every row by
Hoelder's inequality. Here:

1. ``X`` comes from a QR of a sparse ``l_p`` embedding ``S A`` (a CountSketch of the rows
   scaled by ``E_i^(-1/p)``, ``E_i`` exponential), and the columns of ``U`` are scaled to unit
   ``l_p`` norm. The sketch only decides how *tight* the bound is, never whether it holds.
2. For each coordinate ``j`` the constant ``beta_j >= sup_z |z_j| / ||U z||_p`` is
   *certified* by duality: for any ``v`` orthogonal to the other columns of ``U``,
   ``||U z||_p >= |v^T U_j| / ||v||_q`` whenever ``z_j = 1`` (``1/p + 1/q = 1``). The ``v``
   are the dual vectors ``sign(r)|r|^(p-1)`` of approximate minimisers of
   ``min{||U z||_p : z_j = 1}`` (IRLS on a row sample), projected exactly onto that
   orthogonality constraint on all ``n`` rows; the rounding left in the projection is
   charged to ``beta_j`` explicitly.
3. ``|u_i z| <= sum_j |U_ij| |z_j| <= (sum_j |U_ij| beta_j) ||U z||_p`` gives
   ``s_i <= (sum_j |U_ij| beta_j)^p``.
"""

import numpy as np

from .._array import to_host
from .._random import stream_key
from ._basis import _as_engine, default_rcond, nonzero_rows, orthonormal_basis, tri_inv

#: Stream of the ``l_p`` sketch (>= 16: area-private streams).
STREAM_WCB_SKETCH = 17
#: Stream of the row sample on which the certificate's minimisers are fitted.
STREAM_WCB_SAMPLE = 18

#: Rows of the sample on which the ``d`` coordinate problems are solved, per column.
_SAMPLE_ROWS_PER_COLUMN = 20


def default_wcb_sketch_size(d):
    """Sketch rows: ``max(10 d, d^2)``, the CountSketch size of a subspace embedding."""
    return max(10 * d, d * d)


def wcb_bounds(A, p, K, xp, seed, sketch_size=None):
    """``(bounds, info)``: the bounds of the module docstring on float64 engine ``A``.

    ``info`` (host values): ``rank``, ``beta`` (the certified ``beta_j``, one per column of
    the unit-column basis, so also its conditioning factors ``kappa_j = beta_j ||U_j||_p``),
    ``alpha_p`` (``sum_ij |U_ij|^p = rank``) and ``total_bound`` (``rank^(p-1) sum beta_j^p``).
    """
    n = A.shape[0]
    mask = nonzero_rows(A, xp)
    out = xp.zeros(n, dtype=xp.float64)
    rows = xp.nonzero(mask)[0]
    if rows.shape[0] == 0:
        return out, dict(rank=0, beta=np.zeros(0), alpha_p=0.0, total_bound=0.0)
    B = A[rows] if rows.shape[0] < n else A
    U, rank = _sketched_basis(B, p, K, xp, seed, sketch_size)
    if rank == 0:
        return out, dict(rank=0, beta=np.zeros(0), alpha_p=0.0, total_bound=0.0)
    colnorm = K.col_lp_norms(U, p)
    U = U * _as_engine(1.0 / colnorm, U)[None, :]  # unit l_p columns: alpha^p = rank
    beta = _certified_betas(U, p, K, xp, seed)
    if np.all(np.isfinite(beta)):
        out[rows] = K.row_weighted_l1_pow(U, _as_engine(beta, U), p)
    else:  # a certificate failed (never seen): fall back to the trivial bound s_i <= 1
        out[rows] = 1.0
    total_bound = float(rank) ** (p - 1.0) * float(np.sum(beta ** p))
    return out, dict(rank=rank, beta=beta, alpha_p=float(rank), total_bound=total_bound)


def _sketched_basis(A, p, K, xp, seed, sketch_size, retry=True):
    """``U = A X`` spanning ``col(A)``, ``X`` from the R factor of the ``l_p`` sketch ``S A``."""
    n, d = A.shape
    k = default_wcb_sketch_size(d) if sketch_size is None else sketch_size
    SA = K.lp_countsketch(A, stream_key(seed, STREAM_WCB_SKETCH), min(k, n), p)
    R = np.linalg.qr(SA, mode="r")
    W, s, Vt = np.linalg.svd(R)
    rank = int(np.sum(s > default_rcond(A.shape) * s[0])) if s[0] > 0 else 0
    if rank == d:
        return K.times_upper(A, _as_engine(tri_inv(R), A)), d
    # Rank-deficient sketch: keep it only if the dropped directions are null directions of A
    # itself (otherwise the basis would miss part of col(A) and the bound could fail).
    null = Vt[rank:].T
    lost = float(xp.max(xp.abs(A @ _as_engine(null, A)))) if null.size else 0.0
    if lost <= default_rcond(A.shape) * float(xp.max(xp.abs(A))) * d:
        X = Vt[:rank].T / s[:rank]
        return A @ _as_engine(X, A), rank
    Q, rank, _, _ = orthonormal_basis(A, K)  # the sketch missed a direction: sketch Q instead
    if not retry:  # Q has full column rank; if even its sketch drops one, use Q itself
        return Q, rank
    return _sketched_basis(Q, p, K, xp, seed, sketch_size, retry=False)


def _certified_betas(U, p, K, xp, seed):
    """Certified ``beta_j >= sup{|z_j| : ||U z||_p <= 1}`` for every column ``j`` of ``U``."""
    n, r = U.shape
    Z = _approximate_minimisers(U, p, K, xp, seed)
    G = K.gram(U)  # host r x r
    Ze = _as_engine(Z, U)
    V = U @ Ze  # residuals of the r coordinate problems, one per column
    if p == 1.0:
        V = xp.sign(V)
    else:
        V = xp.sign(V) * (xp.abs(V) / xp.max(xp.abs(V), axis=0)[None, :]) ** (p - 1.0)
    C = to_host(U.T @ V)
    corr = np.zeros((r, r))
    for j in range(r):  # v_j -= U c_j with c_j (zero at j) cancelling U_{-j}^T v_j
        o = np.arange(r) != j
        corr[o, j] = np.linalg.solve(G[np.ix_(o, o)], C[o, j])
    V = V - U @ _as_engine(corr, U)
    D = to_host(U.T @ V)  # D[j, j] = U_j^T v_j; the rest of column j is rounding residue
    if p == 1.0:
        qnorm = to_host(xp.max(xp.abs(V), axis=0))
    else:
        q = p / (p - 1.0)
        vmax = xp.max(xp.abs(V), axis=0)
        qnorm = to_host(vmax * xp.sum((xp.abs(V) / vmax[None, :]) ** q, axis=0) ** (1.0 / q))
    # |v^T U z| <= ||v||_q ||U z||_p, and v^T U z = D_jj + delta^T z_{-j} with
    # |delta^T z_{-j}| <= ||delta||_2 ||z||_2 <= ||delta||_2 c_p ||U z||_p / sigma_min(U),
    # c_p = max(1, n^(1/2 - 1/p)) (||y||_2 <= c_p ||y||_p on R^n).
    sigma_min = np.sqrt(max(float(np.linalg.eigvalsh(G)[0]), 0.0))
    c_p = max(1.0, float(n) ** (0.5 - 1.0 / p))
    t = np.abs(np.diag(D))
    delta = np.sqrt(np.maximum(np.sum(D * D, axis=0) - np.diag(D) ** 2, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        slack = np.where(delta > 0, c_p * delta / sigma_min, 0.0) if sigma_min > 0 else np.inf
        beta = (qnorm + slack) / t
    return np.where(np.isfinite(beta) & (t > 0), beta, np.inf)


def _approximate_minimisers(U, p, K, xp, seed):
    """``Z[:, j] ~ argmin{||U z||_p : z_j = 1}``, by IRLS on a row sample of ``U``.

    Only the certificate's tightness depends on these; any ``Z`` with ``Z[j, j] = 1`` gives
    valid ``beta_j``.
    """
    from ._regression import solve_weighted
    from ._sample import inclusion_probabilities

    n, r = U.shape
    m = min(n, _SAMPLE_ROWS_PER_COLUMN * r)
    if m < n:
        scores = K.row_weighted_l1_pow(U, _as_engine(np.ones(r), U), 1.0)  # ||U_i||_1
        prob = inclusion_probabilities(scores, m, xp)
        keep = xp.nonzero(K.bernoulli_mask(stream_key(seed, STREAM_WCB_SAMPLE), prob))[0]
        Us, omega = to_host(U[keep]), 1.0 / to_host(prob[keep])
    else:
        Us, omega = to_host(U), np.ones(n)
    hostK = _host_kernels()
    Z = np.eye(r)
    if r == 1 or Us.shape[0] <= r:
        return Z
    for j in range(r):
        o = np.arange(r) != j
        fit = solve_weighted(Us[:, o], -Us[:, j], p, omega, "irls", hostK, np, tol=1e-8,
                             max_iter=100)
        Z[o, j] = fit.x
    return Z


def _host_kernels():
    from .._array import kernels

    return kernels("sampling", "cpu")
