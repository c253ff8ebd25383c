"""Tucker machinery on an array namespace ``xp`` (NumPy or CuPy): ε-rank ST-HOSVD, HOOI,
recompression of a Tucker tensor with non-orthogonal factors.

Why not ``tensorly.decomposition.tucker``: it takes the ranks as input (there is no
ε-rank selection), and its reconstruction error ``sqrt(|X|^2 - |G|^2)`` loses every digit
below about 1e-8 relative, so it can neither choose ranks nor stop HOOI at the tolerances
used here (1e-8 .. 1e-13). It also switches backends globally, which does not mix with
device-follows-data. TensorLy serves as the peer in the benchmarks and as a reference in
the tests.
"""

import math
import warnings

import numpy as np


def mode_product(xp, X, M, k):
    """``X x_k M``: axis ``k`` of ``X`` (length ``M.shape[1]``) replaced by ``M.shape[0]``.

    One GEMM through ``tensordot``; BLAS (cuBLAS on the GPU) beats any hand-written loop here.
    """
    return xp.moveaxis(xp.tensordot(M, X, axes=(1, k)), 0, k)


def full_tensor(xp, core, factors):
    """``core x_1 factors[0] ... x_d factors[d-1]`` as a dense array."""
    X = core
    for k, U in enumerate(factors):
        X = mode_product(xp, X, U, k)
    return X


def unfold(xp, X, k):
    """Mode-``k`` unfolding, ``X.shape[k] x prod(other sizes)``."""
    return xp.moveaxis(X, k, 0).reshape(X.shape[k], -1)


def left_singular(xp, A):
    """Left singular vectors and singular values of the short, wide matrix ``A``.

    For ``A`` (``m x M``, ``M >= m``) the triangular factor of ``A^T = Q R`` carries the
    same left singular vectors (``A = R^T Q^T``), so only an ``m x m`` SVD is needed. Unlike
    the Gram route (``eigh(A A^T)``), this keeps singular values down to ``1e-16 * s_max``,
    which the small tolerances of function approximation need.
    """
    if A.shape[1] >= A.shape[0]:
        R = xp.linalg.qr(A.T, mode="r")
        U, s, _ = xp.linalg.svd(R.T)
    else:
        U, s, _ = xp.linalg.svd(A, full_matrices=False)
    return U, s


def rank_for(s, threshold):
    """Smallest ``r >= 1`` with ``sqrt(sum_{j >= r} s_j^2) <= threshold`` (``s`` descending)."""
    s = np.asarray(s, dtype=np.float64)
    tail = np.sqrt(np.cumsum((s * s)[::-1])[::-1])     # tail[r] = ||s[r:]||
    tail = np.append(tail, 0.0)
    return max(1, int(np.argmax(tail <= threshold)))


def check_ranks(ranks, shape):
    """Ranks clipped to what a tensor of ``shape`` allows (with a warning when clipped)."""
    size = math.prod(shape)
    allowed = tuple(min(m, size // m) for m in shape)
    clipped = tuple(min(r, a) for r, a in zip(ranks, allowed))
    if clipped != tuple(ranks):
        warnings.warn(f"rank {tuple(ranks)} exceeds what the coefficient tensor of shape "
                      f"{tuple(shape)} allows; using {clipped}", RuntimeWarning, stacklevel=4)
    return clipped


def st_hosvd(xp, C, *, tol=None, ranks=None, norm=None):
    """Sequentially truncated HOSVD of ``C``.

    With ``tol``, mode ``k`` keeps the fewest singular vectors whose discarded tail is at most
    ``tol * norm / sqrt(d)`` (``norm`` defaults to ``||C||_F``), so that
    ``||C - G x U|| <= tol * norm``. With ``ranks``, those ranks are kept.

    Returns ``core, factors, singular_values, bound`` where ``bound`` is the norm of all
    discarded singular values (an upper bound of the Frobenius error).
    """
    d = C.ndim
    if norm is None:
        norm = float(xp.linalg.norm(C.ravel()))
    threshold = None if tol is None else tol * norm / math.sqrt(d)
    if ranks is not None:
        ranks = check_ranks(ranks, C.shape)
    X = C
    factors, svals = [], []
    discarded = 0.0
    for k in range(d):
        U, s = left_singular(xp, unfold(xp, X, k))
        s_host = np.asarray(s.get() if hasattr(s, "get") else s, dtype=np.float64)
        r = rank_for(s_host, threshold) if ranks is None else min(ranks[k], s_host.size)
        discarded += float(np.sum(s_host[r:] ** 2))
        U = U[:, :r]
        factors.append(U)
        svals.append(s_host)
        X = mode_product(xp, X, U.T, k)
    return X, factors, svals, math.sqrt(discarded)


def project(xp, C, factors, skip=None):
    """``C x_k U_k^T`` for every mode ``k`` except ``skip``."""
    X = C
    for k, U in enumerate(factors):
        if k != skip:
            X = mode_product(xp, X, U.T, k)
    return X


def hooi(xp, C, factors, *, iters, rtol=1e-15):
    """At most ``iters`` HOOI (ALS) sweeps at fixed ranks, started from ``factors``.

    The stopping rule is the relative change of ``||G||_F`` (which HOOI increases), never
    the reconstruction "fit" (see the module docstring). Returns ``core, factors, sweeps``.
    """
    factors = list(factors)
    core = project(xp, C, factors)
    previous = float(xp.linalg.norm(core.ravel()))
    sweeps = 0
    for sweeps in range(1, iters + 1):
        for k in range(C.ndim):
            U, _ = left_singular(xp, unfold(xp, project(xp, C, factors, skip=k), k))
            factors[k] = U[:, :factors[k].shape[1]]
        core = project(xp, C, factors)
        current = float(xp.linalg.norm(core.ravel()))
        if abs(current - previous) <= rtol * max(current, 1e-300):
            break
        previous = current
    return core, factors, sweeps


def recompress(xp, core, factors, *, tol=None, ranks=None, norm=None):
    """Tucker tensor ``core x_k factors[k]`` (any factors) with orthonormal factors and
    ranks chosen by ``tol`` (relative to ``norm``, default ``||core x V||_F``) or ``ranks``.

    QR of each factor ``V_k = Q_k R_k``, HOSVD of the small tensor ``core x_k R_k``, then
    ``V_k <- Q_k W_k``: cost ``O(sum m_k r_k^2 + r^(d+1))``, never the full tensor.
    """
    Qs = []
    H = core
    for k, V in enumerate(factors):
        Q, R = xp.linalg.qr(V)
        Qs.append(Q)
        H = mode_product(xp, H, R, k)
    if norm is None:
        norm = float(xp.linalg.norm(H.ravel()))
    H, W, svals, bound = st_hosvd(xp, H, tol=tol, ranks=ranks, norm=norm)
    return H, [Q @ w for Q, w in zip(Qs, W)], svals, bound


def rhosvd(xp, weights, factors, *, tol):
    """Reduced HOSVD of the CP tensor ``sum_r weights[r] prod_k factors[k][:, r]``.

    Each factor matrix is truncated by its own SVD, ``F_k ~ Y_k (S_k Z_k^T)``, and the core is
    assembled from the CP weights and the small ``r_k x R`` matrices in one GEMM, so no tensor
    of the full size is ever formed. Columns are normalised first (norms folded into the
    weights); the per-mode threshold ``tol ||A|| / (d ||w||_2)`` then bounds the error by
    ``tol ||A||_F`` because ``||A - A_r|| <= ||w||_2 sum_k tail_k`` for unit columns.

    Returns ``core, bases`` with orthonormal ``bases[k]`` (``m_k x r_k``).
    """
    d = len(factors)
    w = xp.asarray(weights, dtype=xp.float64)
    unit = []
    for F in factors:
        norms = xp.linalg.norm(F, axis=0)
        w = w * norms
        unit.append(F / xp.where(norms > 0, norms, 1.0))
    gram = xp.ones((w.shape[0], w.shape[0]))
    for F in unit:
        gram = gram * (F.T @ F)
    norm = math.sqrt(max(float(w @ gram @ w), 0.0))
    threshold = tol * norm / (d * max(float(xp.linalg.norm(w)), 1e-300))
    bases, small = [], []
    for F in unit:
        Y, s, Zt = xp.linalg.svd(F, full_matrices=False)
        s_host = np.asarray(s.get() if hasattr(s, "get") else s, dtype=np.float64)
        r = rank_for(s_host, threshold)
        bases.append(Y[:, :r])
        small.append(s[:r, None] * Zt[:r])                        # r_k x R
    # core[a_1, ..., a_d] = sum_r w_r prod_k small_k[a_k, r]: Khatri-Rao of modes 2..d, one GEMM
    kr = small[-1]
    for Z in reversed(small[1:-1]):
        kr = (Z[:, None, :] * kr[None, :, :]).reshape(-1, kr.shape[1])
    core = (small[0] * w) @ kr.T if d > 1 else (small[0] @ w)[:, None]
    return core.reshape(tuple(B.shape[1] for B in bases)), bases


def chop_degrees(xp, core, factors, *, tol):
    """Drop trailing Chebyshev rows of orthonormal ``factors`` whose share of the
    coefficient tensor ``C = core x V`` is negligible (at most ``tol ||C|| / sqrt(d)`` per
    mode, so at most ``tol ||C||`` in all), then restore orthonormality by QR.

    The share of rows ``j >= J`` of mode ``k`` is ``||V_k[J:] unfold_k(core)||_F``, computed
    from the small Gram matrix of the unfolded core. At least two rows are kept.
    """
    d = core.ndim
    norm = float(xp.linalg.norm(core.ravel()))
    limit = (tol * norm) ** 2 / d
    out = list(factors)
    for k, V in enumerate(factors):
        Gk = unfold(xp, core, k)
        rows = xp.sum((V @ (Gk @ Gk.T)) * V, axis=1)             # ||row j of C_(k)||^2
        tail = np.cumsum(np.asarray(rows.get() if hasattr(rows, "get") else rows)[::-1])[::-1]
        keep = max(2, int(np.count_nonzero(tail > limit)))
        if keep < V.shape[0]:
            Q, R = xp.linalg.qr(V[:keep])
            out[k] = Q
            core = mode_product(xp, core, R, k)
    return core, out
