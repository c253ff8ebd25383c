"""Numba kernels of the completion area (CPU twin of ``nla_gpu.completion``).

One half-step of alternating minimization solves an independent least-squares problem per
row: ``min_x ||A x - y||^2 + reg c ||x||^2`` with ``A = F[cols]`` the rows of the other
factor at the row's ``c`` observed columns and ``y`` the observed values. The row solver runs
in parallel over contiguous parts of the rows (:func:`nla._jit.run_parts`: threads over a
``nogil`` kernel, which compiles in half the time of a ``prange`` loop); each part allocates its
scratch once and gathers each row's ``A`` into a contiguous buffer, so every later pass over
``A`` is cache friendly. No two threads write the same memory.

Solvers (``solver`` codes below):

* ``CHOLESKY``: Gram ``A^T A`` (BLAS, single threaded inside prange), Cholesky, two
  triangular solves: ``O(c k^2 + k^3)`` per row, exact.
* ``CG``: conjugate gradients on the normal equations, matrix free (``A^T (A p)`` costs
  ``2 c k``), warm started from the current factor and stopped when the residual has dropped
  by the forcing factor ``eta``: ``O(c k)`` per step, a few steps per row.
* ``SKETCH``: the same CG preconditioned by the Gram of a CountSketch ``S A`` with ``s`` rows
  (Gu et al.'s sketch-and-precondition solver; pays off only when ``c >> s``, since forming
  and factoring the sketched Gram costs ``s k^2 + k^3``).

Rows with no observation get a zero solution; rows with fewer than ``k`` observations
(underdetermined, no ridge) get the minimum-norm solution; a row whose Gram is numerically
singular or whose CG hits the step cap falls back to the exact path.
"""

import numpy as np
from numba import njit

from .._jit import copy_jit, run_parts
from .._random import below_jit, hash_jit
from .._threads import one_blas_thread

CHOLESKY, CG, SKETCH = 0, 1, 2
SOLVERS = {"cholesky": CHOLESKY, "cg": CG, "sketch": SKETCH}

#: Floating-point flags: reassociation and contraction only (no NaN/inf assumptions), so the
#: guards against NaN and breakdown keep working.
_FM = {"reassoc", "contract", "arcp"}

# Row status codes written to ``status``.
_OK, _EMPTY, _MIN_NORM, _FALLBACK = 0, 1, 2, 3
_FALLBACK_MIN_NORM = 4  # internal: CG capped and the exact path needs the minimum norm


@njit(cache=True, fastmath=_FM)
def _dot(a, b):
    s = 0.0
    for t in range(a.shape[0]):
        s += a[t] * b[t]
    return s


@njit(cache=True, fastmath=_FM)
def _gram_apply(A, c, p, out):
    """``out = A[:c]^T (A[:c] p)``; returns ``||A[:c] p||^2``.

    One pass over ``A``: each row is read once for its dot product and its update.
    """
    out[:] = 0.0
    app = 0.0
    for t in range(c):
        row = A[t]
        s = _dot(row, p)
        app += s * s
        for a in range(out.shape[0]):
            out[a] += s * row[a]
    return app


@njit(cache=True, fastmath=_FM)
def _normal_residual(A, y, c, x, r, b):
    """``r = A^T (y - A x)`` and ``b = A^T y`` in one pass over ``A``."""
    r[:] = 0.0
    b[:] = 0.0
    for t in range(c):
        row = A[t]
        e = y[t] - _dot(row, x)
        for a in range(r.shape[0]):
            r[a] += e * row[a]
            b[a] += y[t] * row[a]


@njit(cache=True)
def _cholesky_inplace(G, tiny):
    """Lower Cholesky factor of ``G`` in its lower triangle; False if a pivot is <= ``tiny``."""
    k = G.shape[0]
    for j in range(k):
        d = G[j, j]
        for t in range(j):
            d -= G[j, t] * G[j, t]
        if not d > tiny:  # also catches NaN
            return False
        d = np.sqrt(d)
        G[j, j] = d
        for i in range(j + 1, k):
            s = G[i, j]
            for t in range(j):
                s -= G[i, t] * G[j, t]
            G[i, j] = s / d
    return True


@njit(cache=True)
def _cholesky_solve(L, x):
    """Overwrite ``x`` with ``(L L^T)^{-1} x``."""
    k = L.shape[0]
    for i in range(k):
        s = x[i]
        for t in range(i):
            s -= L[i, t] * x[t]
        x[i] = s / L[i, i]
    for i in range(k - 1, -1, -1):
        s = x[i]
        for t in range(i + 1, k):
            s -= L[t, i] * x[t]
        x[i] = s / L[i, i]


@njit(cache=True)
def _exact(A, y, c, ridge, G, x, rel_tiny):
    """Exact solution into ``x``; returns ``_OK``, or ``_MIN_NORM`` when the row is
    underdetermined or singular (``x`` then left for :func:`solve_rows` to fill with the
    minimum-norm solution: a rare case, kept out of the kernel, whose LAPACK ``gelsd`` path
    would cost seconds of compilation on every first call)."""
    k = x.shape[0]
    if c >= k or ridge > 0.0:
        Ac = A[:c]
        np.dot(Ac.T, Ac, G)
        scale = 0.0
        for a in range(k):
            G[a, a] += ridge
            scale = max(scale, G[a, a])
        np.dot(Ac.T, y[:c], x)
        if _cholesky_inplace(G, rel_tiny * scale):
            _cholesky_solve(G, x)
            return _OK
    return _MIN_NORM


@njit(cache=True)
def _countsketch(A, y, c, i, cols, key, s, SA):
    # SA[:s] = S A with S a CountSketch: observation t goes to bucket h(i, col) with a sign.
    SA[:s, :] = 0.0
    for t in range(c):
        bits = hash_jit(key, np.uint64(i), np.uint64(cols[t]))
        h = below_jit(bits, s)
        sg = 1.0 - 2.0 * np.float64(bits & np.uint64(1))
        for a in range(A.shape[1]):
            SA[h, a] += sg * A[t, a]


@njit(cache=True, fastmath=_FM)
def _pcg(A, y, c, ridge, x, eta, floor, max_iter, L, precondition, r, z, p, gp):
    """(Preconditioned) CG on ``(A^T A + ridge I) x = A^T y`` from the warm start ``x``.

    Stops when ``||r|| <= max(eta ||r0||, floor ||A^T y||)``. ``L`` is the Cholesky factor of
    the preconditioner when ``precondition``. Returns the number of steps, or -1 at the cap.
    """
    _normal_residual(A, y, c, x, r, gp)     # gp holds b = A^T y for now
    bb = _dot(gp, gp)
    for a in range(r.shape[0]):
        r[a] -= ridge * x[a]
    rr = _dot(r, r)
    tol2 = max(eta * eta * rr, floor * floor * bb)
    if rr <= tol2:
        return 0
    copy_jit(z, r)
    if precondition:
        _cholesky_solve(L, z)
    rz = _dot(r, z)
    copy_jit(p, z)
    for it in range(max_iter):
        pgp = _gram_apply(A, c, p, gp) + ridge * _dot(p, p)
        if not pgp > 0.0:
            return it + 1
        alpha = rz / pgp
        for a in range(x.shape[0]):
            x[a] += alpha * p[a]
            r[a] -= alpha * (gp[a] + ridge * p[a])
        rr = _dot(r, r)
        if rr <= tol2:
            return it + 1
        copy_jit(z, r)
        if precondition:
            _cholesky_solve(L, z)
        rz_new = _dot(r, z)
        beta = rz_new / rz
        rz = rz_new
        for a in range(p.shape[0]):
            p[a] = z[a] + beta * p[a]
    return -1


@njit(cache=True, nogil=True)
def _solve_rows(start, stop, cmax, indptr, indices, data, F, X, solver, eta, floor, max_iter,
                reg, key, s, rel_tiny, iters, status):
    """Rows ``start:stop``; run in parallel parts by :func:`nla._jit.run_parts`."""
    k = X.shape[1]
    A = np.empty((max(cmax, 1), k), dtype=F.dtype)
    y = np.empty(max(cmax, 1), dtype=F.dtype)
    G = np.empty((k, k), dtype=F.dtype)
    SA = np.empty((max(s, 1), k), dtype=F.dtype)
    x = np.empty(k, dtype=F.dtype)
    r = np.empty(k, dtype=F.dtype)
    z = np.empty(k, dtype=F.dtype)
    p = np.empty(k, dtype=F.dtype)
    gp = np.empty(k, dtype=F.dtype)
    for i in range(start, stop):
        a0, c = indptr[i], indptr[i + 1] - indptr[i]
        iters[i] = 0
        if c == 0:
            X[i, :] = 0.0
            status[i] = _EMPTY
            continue
        for t in range(c):
            copy_jit(A[t], F[indices[a0 + t]])
            y[t] = data[a0 + t]
        ridge = reg * c
        if solver == CHOLESKY or (c < k and ridge == 0.0):
            status[i] = _exact(A, y, c, ridge, G, x, rel_tiny)
            copy_jit(X[i], x)
            continue
        copy_jit(x, X[i])
        precondition = False
        if solver == SKETCH:
            if c > s:  # sketch the rows of A; else A itself is already small
                _countsketch(A, y, c, i, indices[a0:a0 + c], key, s, SA)
                np.dot(SA[:s].T, SA[:s], G)
            else:
                np.dot(A[:c].T, A[:c], G)
            scale = 0.0
            for a in range(k):
                G[a, a] += ridge
                scale = max(scale, G[a, a])
            precondition = _cholesky_inplace(G, rel_tiny * scale)
        steps = _pcg(A, y, c, ridge, x, eta, floor, max_iter, G, precondition, r, z, p, gp)
        if steps < 0:  # hit the cap: solve this row exactly
            iters[i] = max_iter
            exact = _exact(A, y, c, ridge, G, x, rel_tiny)
            status[i] = _FALLBACK if exact == _OK else _FALLBACK_MIN_NORM
        else:
            status[i] = _OK
            iters[i] = steps
        copy_jit(X[i], x)


def solve_rows(indptr, indices, data, F, X, solver, *, eta=0.1, floor=0.0, max_iter=50,
               reg=0.0, key=0, sketch_size=0):
    """Solve every row problem of one half-step, overwriting ``X`` (the warm start).

    Parameters
    ----------
    indptr, indices, data : ndarray
        CSR arrays of the observations, one row per problem (``indices`` index rows of ``F``).
    F : ndarray, shape (n, k)
        The fixed factor (C-contiguous).
    X : ndarray, shape (m, k)
        Warm start on entry (used by ``'cg'`` and ``'sketch'``), solutions on exit.
    solver : {'cholesky', 'cg', 'sketch'}
    eta, floor : float
        Forcing factor (relative to the warm start's residual) and absolute floor (relative
        to ``||A^T y||``) of the iterative solvers' stopping test.
    max_iter : int
        CG step cap per row; a row that hits it is solved exactly.
    reg : float
        Ridge ``reg * c`` for a row with ``c`` observations (ALS-WR scaling).
    key : int
        Hash key of the CountSketch (``'sketch'``).
    sketch_size : int
        Rows of the CountSketch (``'sketch'``).

    Returns
    -------
    X : ndarray
        The solutions (the same array).
    iters : ndarray of int32
        CG steps per row (0 for exact solves).
    status : ndarray of int8
        0 solved, 1 empty row (zero solution), 2 minimum-norm, 3 CG cap reached (solved
        exactly).
    """
    m = X.shape[0]
    iters = np.zeros(m, dtype=np.int32)
    status = np.zeros(m, dtype=np.int8)
    with one_blas_thread():
        cmax = int(np.diff(indptr).max(initial=0))
        run_parts(_solve_rows, m, cmax, indptr, indices, data, F, X, SOLVERS[solver],
                  float(eta), float(floor), int(max_iter), float(reg), np.uint64(key),
                  int(sketch_size), 1e3 * float(np.finfo(X.dtype).eps), iters, status)
    for i in np.flatnonzero((status == _MIN_NORM) | (status == _FALLBACK_MIN_NORM)):
        span = slice(indptr[i], indptr[i + 1])
        X[i] = np.linalg.lstsq(F[indices[span]], data[span], rcond=None)[0]
    status[status == _FALLBACK_MIN_NORM] = _FALLBACK
    return X, iters, status


@njit(cache=True, nogil=True)
def _observed_sse(start, stop, indptr, indices, data, U, V, out):
    for i in range(start, stop):
        acc = 0.0
        for t in range(indptr[i], indptr[i + 1]):
            e = _dot(U[i], V[indices[t]]) - data[t]
            acc += e * e
        out[i] = acc


def observed_sse(indptr, indices, data, U, V):
    """``sum over observations (i, j) of (U[i] . V[j] - value)^2`` (CSR by rows of ``U``).

    Per-row sums added in row order, so the result does not depend on the thread count."""
    per_row = np.empty(U.shape[0])
    run_parts(_observed_sse, U.shape[0], indptr, indices, data, U, V, per_row)
    return float(per_row.sum())


@njit(cache=True, nogil=True)
def _predict(start, stop, rows, cols, U, V, out):
    for t in range(start, stop):
        out[t] = _dot(U[rows[t]], V[cols[t]])


def predict(rows, cols, U, V):
    """``U[rows[t]] . V[cols[t]]`` for every ``t`` (gather-dot)."""
    out = np.empty(rows.shape[0], dtype=U.dtype)
    run_parts(_predict, rows.shape[0], rows, cols, U, V, out)
    return out
