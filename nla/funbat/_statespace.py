"""Matérn Gaussian processes as linear state-space chains, and exact smoothing on them (Numba).

A Matérn-ν GP with ν = p + 1/2 is the first coordinate of a d = p + 1 dimensional linear SDE.
Sampled at sorted coordinates it becomes the Markov chain ``s_j = A(Δ_j) s_{j-1} + q_j`` with
``q_j ~ N(0, Q(Δ_j))`` and ``s_1 ~ N(0, P∞)``. This module holds the closed forms of ``A`` and
``Q`` (no matrix exponential), the Kalman filter + Rauch-Tung-Striebel smoother for one mode of
FunBaT, and exact interpolation / extrapolation of the smoothed chain to arbitrary coordinates.

The ``r`` latent functions of a mode are independent a priori and share one kernel; the state
of the mode stacks them component-major: index ``c * d + i`` is derivative ``i`` of component
``c``, so the observation matrix ``H`` picks the indices ``c * d``. Pseudo-observations of the
``r`` function values are Gaussian factors ``exp(-u'Λu/2 + η'u)`` given in natural parameters,
which may be singular (or zero), so the filter uses the information form of the update.
"""

import numpy as np
from numba import njit

from .._jit import run_parts

#: Kernel codes used by the kernels (``kernel`` strings map to these).
MATERN12 = 0
MATERN32 = 1
KERNEL_CODES = {"matern12": MATERN12, "matern32": MATERN32}


@njit(cache=True)
def state_dim(kind):
    """State dimension d of one latent function (1 for Matérn-1/2, 2 for Matérn-3/2)."""
    return 1 if kind == MATERN12 else 2


@njit(cache=True)
def stationary_cov(kind, ell, var):
    """P∞ (d x d), the stationary state covariance (solves F P + P F' + L Qc L' = 0)."""
    d = state_dim(kind)
    P = np.empty((d, d))  # not np.zeros: its overload is one more compilation
    P[0, 0] = var
    if kind == MATERN32:
        lam = np.sqrt(3.0) / ell
        P[0, 1] = P[1, 0] = 0.0
        P[1, 1] = lam * lam * var
    return P


@njit(cache=True)
def transition(kind, ell, var, delta):
    """``(A, Q)`` for a step ``delta >= 0``: A = expm(F delta), Q = P∞ - A P∞ A'."""
    d = state_dim(kind)
    A = np.empty((d, d))
    Q = np.empty((d, d))
    _transition_into(kind, ell, var, delta, A, Q)
    return A, Q


@njit(cache=True)
def _transition_into(kind, ell, var, delta, A, Q):
    # transition() written into A and Q (d x d): kernels call it once per step, allocating
    # nothing.
    if kind == MATERN12:
        e = np.exp(-delta / ell)
        A[0, 0] = e
        Q[0, 0] = var * (1.0 - e * e)
        return
    lam = np.sqrt(3.0) / ell
    x = lam * delta
    e1 = np.exp(-x)
    A[0, 0] = e1 * (1.0 + x)
    A[0, 1] = e1 * delta
    A[1, 0] = -e1 * lam * x
    A[1, 1] = e1 * (1.0 - x)
    e2 = e1 * e1
    # 1 - e2 * (...) written with expm1 keeps Q accurate (and PSD) for tiny steps.
    Q[0, 0] = var * (-np.expm1(-2.0 * x) - e2 * (2.0 * x + 2.0 * x * x))
    Q[0, 1] = 2.0 * var * lam * x * x * e2
    Q[1, 0] = Q[0, 1]
    Q[1, 1] = var * lam * lam * (-np.expm1(-2.0 * x) - e2 * (-2.0 * x + 2.0 * x * x))


@njit(cache=True)
def _symmetrize(P):
    n = P.shape[0]
    for a in range(n):
        for b in range(a + 1, n):
            v = 0.5 * (P[a, b] + P[b, a])
            P[a, b] = v
            P[b, a] = v


@njit(cache=True)
def _block_left(Ad, X, out):
    # out = (I_r ⊗ Ad) @ X: the stacked transition applied block by block.
    d = Ad.shape[0]
    D, m = X.shape
    for c0 in range(0, D, d):
        for a in range(d):
            for j in range(m):
                acc = 0.0
                for b in range(d):
                    acc += Ad[a, b] * X[c0 + b, j]
                out[c0 + a, j] = acc


@njit(cache=True)
def _solve(M, rhs, work, n, m):
    # rhs[:n, :m] <- M[:n, :n]^-1 rhs[:n, :m] by Gaussian elimination with partial pivoting
    # (M is copied to work).
    for i in range(n):
        for j in range(n):
            work[i, j] = M[i, j]
    for col in range(n):
        piv = col
        for i in range(col + 1, n):
            if abs(work[i, col]) > abs(work[piv, col]):
                piv = i
        if piv != col:
            for j in range(n):
                work[col, j], work[piv, j] = work[piv, j], work[col, j]
            for j in range(m):
                rhs[col, j], rhs[piv, j] = rhs[piv, j], rhs[col, j]
        inv = 1.0 / work[col, col]
        for i in range(col + 1, n):
            f = work[i, col] * inv
            if f != 0.0:
                for j in range(col, n):
                    work[i, j] -= f * work[col, j]
                for j in range(m):
                    rhs[i, j] -= f * rhs[col, j]
    for col in range(n - 1, -1, -1):
        inv = 1.0 / work[col, col]
        for j in range(m):
            acc = rhs[col, j]
            for t in range(col + 1, n):
                acc -= work[col, t] * rhs[t, j]
            rhs[col, j] = acc * inv


def kalman_smoother(gaps, lam, eta, kind, ell, var):
    """Kalman filter + RTS smoother of one mode over its sorted unique coordinates.

    Parameters
    ----------
    gaps : (J,) float64
        ``c_j - c_{j-1}`` (``gaps[0]`` unused).
    lam, eta : (J, r, r), (J, r) float64
        Natural parameters of the pseudo-observation of the r function values at each
        coordinate (summed messages); ``lam`` symmetric PSD, possibly singular.
    kind, ell, var : int, float, float
        Kernel code, lengthscale and variance.

    Returns
    -------
    mf, Pf, ms, Ps : (J, D), (J, D, D), (J, D), (J, D, D)
        Filtered and smoothed state means and covariances (D = d r).

    Notes
    -----
    One kernel (:func:`_kalman_rts`) written with small in-place loops (no allocation per
    step) on the block structure of the stacked transition, because a mode can have as many
    unique coordinates as there are observations. Its arrays are allocated here, and its
    loops written out rather than calls to the small helpers: Numba compiles every helper on
    its own and then again inside each caller, and NumPy allocations inside a kernel compile
    their own overloads (``FunBaT.fit``'s first call pays this compilation).
    """
    J, r = eta.shape
    d = state_dim(kind)
    D = d * r
    mf, mp = np.zeros((J, D)), np.zeros((J, D))
    Pf, Pp = np.zeros((J, D, D)), np.zeros((J, D, D))
    AQ = np.zeros((J, 2, d, d))
    ms, Ps = np.empty((J, D)), np.empty((J, D, D))
    work = np.empty((5, D, D + 1))
    _kalman_rts(gaps, lam, eta, int(kind), float(ell), float(var), mf, Pf, mp, Pp, AQ, ms, Ps,
                work)
    return mf, Pf, ms, Ps


@njit(cache=True)
def _kalman_rts(gaps, lam, eta, kind, ell, var, mf, Pf, mp, Pp, AQ, ms, Ps, work):
    # kalman_smoother's filter (mf, Pf; predicted mp, Pp; AQ[j] = (A, Q) of the step from
    # j - 1 to j) and smoother (ms, Ps), all written in place; work: five (D, D + 1) buffers.
    J, r = eta.shape
    d = AQ.shape[2]
    D = d * r
    T1, T2, G, W, X = work[0], work[1], work[2], work[3], work[4]
    pinf = stationary_cov(kind, ell, var)
    for j in range(J):
        if j == 0:
            for c0 in range(0, D, d):  # P- = I_r ⊗ P∞
                for a in range(d):
                    for b in range(d):
                        Pp[0, c0 + a, c0 + b] = pinf[a, b]
        else:
            Ad, Qd = AQ[j, 0], AQ[j, 1]
            _transition_into(kind, ell, var, gaps[j], Ad, Qd)
            for c0 in range(0, D, d):
                for a in range(d):
                    acc = 0.0
                    for b in range(d):
                        acc += Ad[a, b] * mf[j - 1, c0 + b]
                    mp[j, c0 + a] = acc  # m- = (I_r ⊗ A) m
                    for t in range(D):  # T1 = (A P)'
                        acc = 0.0
                        for b in range(d):
                            acc += Ad[a, b] * Pf[j - 1, c0 + b, t]
                        T1[t, c0 + a] = acc
            for c0 in range(0, D, d):  # T2 = A (A P)' + I_r ⊗ Q
                for a in range(d):
                    for t in range(D):
                        acc = 0.0
                        for b in range(d):
                            acc += Ad[a, b] * T1[c0 + b, t]
                        T2[c0 + a, t] = acc
                    for b in range(d):
                        T2[c0 + a, c0 + b] += Qd[a, b]
            for a in range(D):
                for b in range(D):
                    Pp[j, a, b] = 0.5 * (T2[a, b] + T2[b, a])
        # Information-form update: with B = H P- H' and M = I + Λ B,
        # m = m- + P-H' M^-1 (η - Λ H m-),  P = P- - P-H' (M^-1 Λ) H P-.
        # G[:, :r] holds P-H', W[:r, :r] M, X[:r, :r + 1] the right-hand sides.
        for a in range(D):
            for c in range(r):
                G[a, c] = Pp[j, a, c * d]
        for a in range(r):
            resid = eta[j, a]
            for c in range(r):
                resid -= lam[j, a, c] * mp[j, c * d]
                acc = 0.0
                for t in range(r):
                    acc += lam[j, a, t] * G[t * d, c]
                W[a, c] = acc + (1.0 if a == c else 0.0)
                X[a, c + 1] = lam[j, a, c]
            X[a, 0] = resid
        _solve(W, X, T2, r, r + 1)
        for a in range(D):
            acc = mp[j, a]
            for c in range(r):
                acc += G[a, c] * X[c, 0]
            mf[j, a] = acc
        # S = M^-1 Λ = (Λ^-1 + B)^-1 is symmetric: use its symmetric part.
        for a in range(r):
            for c in range(r):
                W[a, c] = 0.5 * (X[a, c + 1] + X[c, a + 1])
        for a in range(D):
            for c in range(r):
                acc = 0.0
                for t in range(r):
                    acc += G[a, t] * W[t, c]
                T1[a, c] = acc
        for a in range(D):
            for b in range(a, D):
                acc = 0.0
                for c in range(r):
                    acc += T1[a, c] * G[b, c]
                val = Pp[j, a, b] - acc
                Pf[j, a, b] = val
                Pf[j, b, a] = val
    for j in range(J):
        for a in range(D):
            ms[j, a] = mf[j, a]
            for b in range(D):
                Ps[j, a, b] = Pf[j, a, b]
    for j in range(J - 2, -1, -1):
        # G = Pf A' Pp^-1 = (Pp^-1 A Pf)' (Pp symmetric).
        for c0 in range(0, D, d):
            for a in range(d):
                for t in range(D):
                    acc = 0.0
                    for b in range(d):
                        acc += AQ[j + 1, 0, a, b] * Pf[j, c0 + b, t]
                    T1[c0 + a, t] = acc
        _solve(Pp[j + 1], T1, W, D, D)
        for a in range(D):
            for b in range(D):
                G[a, b] = T1[b, a]
        for a in range(D):
            acc = 0.0
            for b in range(D):
                acc += G[a, b] * (ms[j + 1, b] - mp[j + 1, b])
            ms[j, a] = mf[j, a] + acc
        for a in range(D):
            for b in range(D):
                T2[a, b] = Ps[j + 1, a, b] - Pp[j + 1, a, b]
        for a in range(D):  # T1 = G (Ps - Pp)
            for b in range(D):
                acc = 0.0
                for t in range(D):
                    acc += G[a, t] * T2[t, b]
                T1[a, b] = acc
        for a in range(D):  # Ps = Pf + sym(T1 G')
            for b in range(a, D):
                acc = 0.0
                acc2 = 0.0
                for t in range(D):
                    acc += T1[a, t] * G[b, t]
                    acc2 += T1[b, t] * G[a, t]
                val = Pf[j, a, b] + 0.5 * (acc + acc2)
                Ps[j, a, b] = val
                Ps[j, b, a] = val


@njit(cache=True)
def _block_vec(Ad, v, out):
    # out = (I_r ⊗ Ad) @ v for a stacked state vector.
    d = Ad.shape[0]
    for c0 in range(0, v.shape[0], d):
        for a in range(d):
            acc = 0.0
            for b in range(d):
                acc += Ad[a, b] * v[c0 + b]
            out[c0 + a] = acc


@njit(cache=True)
def _sandwich(Ad, P, T, out):
    # out = (I_r ⊗ Ad) P (I_r ⊗ Ad)' for symmetric P, as A (A P)' (T is workspace).
    _block_left(Ad, P, out)
    D = P.shape[0]
    for a in range(D):
        for b in range(D):
            T[a, b] = out[b, a]
    _block_left(Ad, T, out)


@njit(cache=True)
def _add_block(P, Qd):
    # P += I_r ⊗ Qd
    d = Qd.shape[0]
    for c0 in range(0, P.shape[0], d):
        for a in range(d):
            for b in range(d):
                P[c0 + a, c0 + b] += Qd[a, b]


@njit(cache=True, nogil=True)
def _interpolate(start, stop, xq, coords, mf, Pf, ms, Ps, kind, ell, var, mean, cov):
    # Queries start..stop of interpolate(), with small in-place loops on the block structure
    # (I_r ⊗ A) instead of `@` and np.linalg.solve: those cost seconds of compilation (BLAS
    # and LAPACK bindings) for D x D matrices with D = d r <= a few dozen.
    J, D = mf.shape
    d = state_dim(kind)
    r = D // d
    pinf = stationary_cov(kind, ell, var)  # diagonal d x d
    m = np.empty(D)
    m0 = np.empty(D)
    v = np.empty(D)
    P = np.empty((D, D))
    P0 = np.empty((D, D))
    Pn = np.empty((D, D))
    T1 = np.empty((D, D))
    T2 = np.empty((D, D))
    G = np.empty((D, D))
    work = np.empty((D, D))
    Gd = np.empty((d, d))
    A1, Q1 = np.empty((d, d)), np.empty((d, d))  # (A, Q) of the steps into / out of x
    A2, Q2 = np.empty((d, d)), np.empty((d, d))
    for t in range(start, stop):
        x = xq[t]
        j = np.searchsorted(coords, x)  # coords[j-1] < x <= coords[j]
        if j < J and coords[j] == x:
            for a in range(D):
                m[a] = ms[j, a]
                for b in range(D):
                    P[a, b] = Ps[j, a, b]
        elif j == J:
            _transition_into(kind, ell, var, x - coords[J - 1], A1, Q1)
            _block_vec(A1, ms[J - 1], m)
            _sandwich(A1, Ps[J - 1], T1, P)
            _add_block(P, Q1)
        elif j == 0:
            # Backward kernel of the stationary chain: s(x) | s(c_1) has gain P∞ A' P∞^-1,
            # block diagonal like A (P∞ is diagonal).
            _transition_into(kind, ell, var, coords[0] - x, A1, Q1)
            for a in range(d):
                for b in range(d):
                    Gd[a, b] = pinf[a, a] * A1[b, a] / pinf[b, b]
            _block_vec(Gd, ms[0], m)
            for a in range(D):
                for b in range(D):
                    T2[a, b] = Ps[0, a, b]
            for c0 in range(0, D, d):  # Ps[0] - P∞
                for a in range(d):
                    T2[c0 + a, c0 + a] -= pinf[a, a]
            _sandwich(Gd, T2, T1, P)
            for c0 in range(0, D, d):  # + P∞
                for a in range(d):
                    P[c0 + a, c0 + a] += pinf[a, a]
        else:
            _transition_into(kind, ell, var, x - coords[j - 1], A1, Q1)
            _transition_into(kind, ell, var, coords[j] - x, A2, Q2)
            _block_vec(A1, mf[j - 1], m0)
            _sandwich(A1, Pf[j - 1], T1, P0)
            _add_block(P0, Q1)
            _symmetrize(P0)
            _sandwich(A2, P0, T1, Pn)
            _add_block(Pn, Q2)
            # G = (Pn^-1 A2 P0)' (Pn, P0 symmetric)
            _block_left(A2, P0, T1)
            _solve(Pn, T1, work, D, D)
            for a in range(D):
                for b in range(D):
                    G[a, b] = T1[b, a]
            _block_vec(A2, m0, v)
            for a in range(D):
                v[a] = ms[j, a] - v[a]
            for a in range(D):
                acc = m0[a]
                for b in range(D):
                    acc += G[a, b] * v[b]
                m[a] = acc
            for a in range(D):
                for b in range(D):
                    T2[a, b] = Ps[j, a, b] - Pn[a, b]
            for a in range(D):  # T1 = G (Ps - Pn)
                for b in range(D):
                    acc = 0.0
                    for u in range(D):
                        acc += G[a, u] * T2[u, b]
                    T1[a, b] = acc
            for a in range(D):  # P = T1 G' + P0
                for b in range(D):
                    acc = 0.0
                    for u in range(D):
                        acc += T1[a, u] * G[b, u]
                    P[a, b] = acc + P0[a, b]
        for a in range(r):
            mean[t, a] = m[a * d]
            for b in range(r):
                cov[t, a, b] = 0.5 * (P[a * d, b * d] + P[b * d, a * d])


def interpolate(xq, coords, mf, Pf, ms, Ps, kind, ell, var):
    """Posterior marginals of the r functions of a mode at arbitrary coordinates ``xq``.

    Exact for the linear-Gaussian chain: a training coordinate returns the smoothed marginal;
    between two training coordinates the query is inserted into the chain (filtered left
    neighbour, smoothed right neighbour); right of the data the chain is run forward; left of
    it the stationary chain is run backwards in time (never with expm(-F Δ)). Queries are
    independent: they run in parts on Numba's thread count (:func:`nla._jit.run_parts`).

    Returns
    -------
    mean, cov : (M, r), (M, r, r)
    """
    M = xq.shape[0]
    r = mf.shape[1] // state_dim(kind)
    mean = np.empty((M, r))
    cov = np.empty((M, r, r))
    run_parts(_interpolate, M, xq, coords, mf, Pf, ms, Ps, kind, float(ell), float(var),
              mean, cov)
    return mean, cov
