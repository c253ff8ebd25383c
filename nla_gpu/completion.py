"""CuPy kernels of the completion area (GPU twin of ``nla.completion._kernels``).

Same functions, same arguments, CuPy arrays. Instead of one thread per row, the GPU runs
every row problem of a half-step in lock step:

* ``'cg'``: batched conjugate gradients across all rows. The matrix-free product
  ``A_i^T (A_i p_i)`` of every row at once is a gather-dot over the observations (SDDMM:
  ``t = sum(F[cols] * P[rows], 1)``) followed by a sparse-times-dense product
  (SpMM, cuSPARSE: ``csr(t) @ F``). Each row keeps its own step sizes and stopping test.
* ``'cholesky'``: rows are gathered into zero-padded stacks ``(B, c_max, k)``, their Grams
  formed by one batched GEMM and solved by a batched solve.
* ``'sketch'``: the padded stacks are CountSketched (an SpMM with the sketch matrix), the
  sketched Grams inverted in a batch and used as preconditioners of the batched CG.

Rows without observations get zero, underdetermined rows the minimum-norm solution (batched
SVD), exactly as on the CPU.
"""


import cupy
import cupyx.scipy.sparse as csp
import numpy

from nla._random import hash_xp

_EMPTY, _MIN_NORM, _FALLBACK = 1, 2, 3

#: Upper bound on the entries of one padded (rows, c_max, k) stack.
_STACK_ENTRIES = 2**26
#: Observations per gather-dot chunk (bounds the (chunk, k) gather).
_GATHER_ENTRIES = 2**25


def _row_of(indptr, nnz):
    return cupy.searchsorted(indptr[1:], cupy.arange(nnz), side="right")


def _gather_dot(F, P, indices, row_of):
    """``t[q] = F[indices[q]] . P[row_of[q]]`` (SDDMM), in chunks of observations."""
    nnz, k = indices.shape[0], F.shape[1]
    out = cupy.empty(nnz, dtype=F.dtype)
    step = max(1, _GATHER_ENTRIES // max(k, 1))
    for a in range(0, nnz, step):
        b = min(nnz, a + step)
        out[a:b] = (F[indices[a:b]] * P[row_of[a:b]]).sum(axis=1)
    return out


def _padded(indptr, indices, data, F, rows):
    """Zero-padded stacks ``A`` (rows, c_max, k) and ``y`` (rows, c_max) of the row problems."""
    counts = indptr[rows + 1] - indptr[rows]
    cmax = max(int(counts.max()) if rows.shape[0] else 0, 1)
    k = F.shape[1]
    A = cupy.zeros((rows.shape[0], cmax, k), dtype=F.dtype)
    y = cupy.zeros((rows.shape[0], cmax), dtype=F.dtype)
    total = int(counts.sum())
    if total:
        local = cupy.repeat(cupy.arange(rows.shape[0]), counts.tolist())
        starts = cupy.cumsum(counts) - counts
        pos = cupy.arange(total) - starts[local]
        src = indptr[rows][local] + pos
        A[local, pos] = F[indices[src]]
        y[local, pos] = data[src]
    return A, y


def _chunks(indptr, rows, k):
    """Split ``rows`` into chunks whose padded stacks stay below ``_STACK_ENTRIES``."""
    if rows.shape[0] == 0:
        return []
    counts = indptr[rows + 1] - indptr[rows]
    cmax = max(int(counts.max()), 1)
    size = max(1, _STACK_ENTRIES // (cmax * k))
    return [rows[a:a + size] for a in range(0, rows.shape[0], size)]


def _min_norm(A, y):
    """Minimum-norm least-squares solutions of the stacked problems ``A[b] x = y[b]``."""
    u, s, vt = cupy.linalg.svd(A, full_matrices=False)
    cutoff = s.max(axis=1, keepdims=True) * max(A.shape[1:]) * numpy.finfo(A.dtype).eps
    inv = cupy.where(s > cutoff, 1.0 / cupy.where(s > 0, s, 1), 0.0)
    coef = (u.transpose(0, 2, 1) @ y[:, :, None])[:, :, 0] * inv
    return (vt.transpose(0, 2, 1) @ coef[:, :, None])[:, :, 0]


def _grams(A, ridge):
    G = A.transpose(0, 2, 1) @ A
    k = A.shape[2]
    idx = cupy.arange(k)
    G[:, idx, idx] += ridge[:, None]
    return G


def _exact_rows(indptr, indices, data, F, X, rows, ridge, status):
    """Exact solves of ``rows``: batched Grams and LU solves; min-norm where singular."""
    k = F.shape[1]
    for chunk in _chunks(indptr, rows, k):
        A, y = _padded(indptr, indices, data, F, chunk)
        counts = indptr[chunk + 1] - indptr[chunk]
        r = ridge[chunk]
        under = (counts < k) & (r == 0)
        G = _grams(A, r)
        b = (A.transpose(0, 2, 1) @ y[:, :, None])[:, :, 0]
        G[under] = cupy.eye(k, dtype=F.dtype)  # solved below by the min-norm path
        try:
            x = cupy.linalg.solve(G, b[:, :, None])[:, :, 0]
            bad = under | ~cupy.isfinite(x).all(axis=1)
        except numpy.linalg.LinAlgError:  # NumPy raises for an exactly singular stack
            x = cupy.zeros_like(b)
            bad = cupy.ones(chunk.shape[0], dtype=bool)
        if bool(bad.any()):
            x[bad] = _min_norm(A[bad], y[bad])
            status[chunk[bad]] = _MIN_NORM
        X[chunk] = x


def _sketch_preconditioners(indptr, indices, data, F, rows, ridge, key, s):
    """Inverses of ``(S A_i)^T (S A_i) + ridge_i I`` for ``rows`` (``S = I`` when ``c <= s``)."""
    k = F.shape[1]
    out = cupy.empty((rows.shape[0], k, k), dtype=F.dtype)
    done = 0
    for chunk in _chunks(indptr, rows, k):
        A, _ = _padded(indptr, indices, data, F, chunk)
        counts = indptr[chunk + 1] - indptr[chunk]
        nb, cmax = A.shape[0], A.shape[1]
        local = cupy.repeat(cupy.arange(nb), counts.tolist())
        total = int(counts.sum())
        starts = cupy.cumsum(counts) - counts
        pos = cupy.arange(total) - starts[local]
        cols = indices[indptr[chunk][local] + pos]
        bits = hash_xp(cupy, key, chunk[local], cols)
        bucket = ((bits >> numpy.uint64(32)) * numpy.uint64(s)) >> numpy.uint64(32)
        sign = (1 - 2 * (bits & numpy.uint64(1)).astype(cupy.int8)).astype(F.dtype)
        big = counts[local] > s  # rows with c <= s use A itself
        # sketched rows go to their bucket, rows of small problems to a plain copy below
        target = cupy.where(big, local * s + bucket.astype(cupy.int64),
                            nb * s + local * cmax + pos)
        S = csp.coo_matrix((cupy.where(big, sign, 1).astype(F.dtype),
                            (target, local * cmax + pos)),
                           shape=(nb * s + nb * cmax, nb * cmax)).tocsr()
        SA = S @ A.reshape(nb * cmax, k)
        sketched = SA[:nb * s].reshape(nb, s, k)
        plain = SA[nb * s:].reshape(nb, cmax, k)
        G = _grams(sketched, ridge[chunk]) + plain.transpose(0, 2, 1) @ plain
        # A row whose few observations fall into fewer than k buckets has a singular sketched
        # Gram, singular only up to rounding; its inverse would stall CG. Refuse it by the
        # CPU kernel's rule (a Cholesky pivot below 1e3 eps of the largest diagonal entry),
        # here on the smallest eigenvalue.
        scale = cupy.diagonal(G, axis1=1, axis2=2).max(axis=1)
        ok = cupy.linalg.eigvalsh(G)[:, 0] > 1e3 * numpy.finfo(G.dtype).eps * scale
        # refused rows get the identity (no preconditioning): inv(I) = I
        out[done:done + nb] = cupy.linalg.inv(
            cupy.where(ok[:, None, None], G, cupy.eye(k, dtype=G.dtype)))
        done += nb
    return out


def solve_rows(indptr, indices, data, F, X, solver, *, eta=0.1, floor=0.0, max_iter=50,
               reg=0.0, key=0, sketch_size=0):
    """Batched twin of :func:`nla.completion._kernels.solve_rows` (same contract)."""
    m, k = X.shape
    counts = indptr[1:] - indptr[:-1]
    ridge = (reg * counts).astype(F.dtype)
    status = cupy.zeros(m, dtype=cupy.int8)
    iters = cupy.zeros(m, dtype=cupy.int32)
    empty = counts == 0
    X[empty] = 0
    status[empty] = _EMPTY
    exact = (~empty) & (counts < k) & (ridge == 0)
    if solver == "cholesky":
        exact = ~empty
    _exact_rows(indptr, indices, data, F, X, cupy.nonzero(exact)[0], ridge, status)
    if solver == "cholesky":
        return X, iters, status
    active_rows = cupy.nonzero(~(exact | empty))[0]
    precond = None
    if solver == "sketch":
        precond = _sketch_preconditioners(indptr, indices, data, F, active_rows, ridge, key,
                                          sketch_size)
        good = cupy.isfinite(precond).all(axis=(1, 2))
        eye = cupy.eye(k, dtype=F.dtype)
        precond = cupy.where(good[:, None, None], precond, eye)
    capped = _batched_cg(indptr, indices, data, F, X, active_rows, ridge, eta, floor,
                         max_iter, precond, iters)
    if capped.shape[0]:
        status[capped] = _FALLBACK
        _exact_rows(indptr, indices, data, F, X, capped, ridge, status)
        status[capped] = _FALLBACK
    return X, iters, status


def _batched_cg(indptr, indices, data, F, X, rows, ridge, eta, floor, max_iter, precond,
                iters):
    """CG on every row of ``rows`` at once; returns the rows that hit ``max_iter``."""
    m, n = X.shape[0], F.shape[0]
    nnz = indices.shape[0]
    row_of = _row_of(indptr, nnz)

    def gram_times(P):
        t = _gather_dot(F, P, indices, row_of)
        GP = csp.csr_matrix((t, indices, indptr), shape=(m, n)) @ F + ridge[:, None] * P
        return GP, cupy.bincount(row_of, weights=t * t, minlength=m)

    b = csp.csr_matrix((data, indices, indptr), shape=(m, n)) @ F
    GX, _ = gram_times(X)
    R = (b - GX)[rows]
    x = X[rows]
    rr = (R * R).sum(axis=1)
    tol2 = cupy.maximum(eta * eta * rr, floor * floor * (b[rows] * b[rows]).sum(axis=1))
    active = rr > tol2
    full = cupy.zeros_like(X)
    Z = R if precond is None else (precond @ R[:, :, None])[:, :, 0]
    rz = (R * Z).sum(axis=1)
    P = Z.copy()
    steps = cupy.zeros(rows.shape[0], dtype=cupy.int32)
    for _ in range(max_iter):
        if not bool(active.any()):
            break
        full[rows] = P * active[:, None]
        GP, ap2 = gram_times(full)
        GP = GP[rows]
        pgp = ap2[rows] + ridge[rows] * (P * P).sum(axis=1)
        ok = active & (pgp > 0)
        alpha = cupy.where(ok, rz / cupy.where(ok, pgp, 1), 0)
        x += alpha[:, None] * P
        R -= alpha[:, None] * GP
        steps += active
        rr = (R * R).sum(axis=1)
        active = ok & (rr > tol2)
        Z = R if precond is None else (precond @ R[:, :, None])[:, :, 0]
        rz_new = (R * Z).sum(axis=1)
        beta = cupy.where(active, rz_new / cupy.where(rz != 0, rz, 1), 0)
        rz = rz_new
        P = Z + beta[:, None] * P
    X[rows] = x
    iters[rows] = steps
    return rows[active]


def observed_sse(indptr, indices, data, U, V):
    """Twin of :func:`nla.completion._kernels.observed_sse` (gather-dot)."""
    row_of = _row_of(indptr, indices.shape[0])
    pred = _gather_dot(V, U, indices, row_of)
    return float(((pred - data) ** 2).sum())


def predict(rows, cols, U, V):
    """Twin of :func:`nla.completion._kernels.predict` (gather-dot)."""
    return _gather_dot(V, U, cols, rows)
