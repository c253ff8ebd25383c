"""Numba kernels of the ssm area (PTD, HiPPO, transfer functions) (CPU twin of ``nla_gpu.ssm``).

``diagonal_tf`` and ``schur_tf`` evaluate transfer functions at many frequencies (parallel over
frequencies); ``sigma_min_grid`` runs inverse Lanczos on the complex Schur form at every grid
point of a pseudospectrum (parallel over points). No ``fastmath``: near-pole cancellations and
the triangular solves need IEEE arithmetic.
"""

import numpy as np
import scipy.linalg
from numba import njit, prange

#: Array namespace of this engine, for the drivers' elementwise code.
xp = np

#: Frequencies per block in the Cauchy sum: the inner loop runs over a block, so it vectorises.
_BLOCK = 32


def eig(M):
    """Eigenvalues and unit-column eigenvectors of a dense matrix (LAPACK geev)."""
    return np.linalg.eig(M)


def schur(A):
    """Complex Schur form ``A = Z T Z^H`` as ``(T, Z)``, on the host."""
    return scipy.linalg.schur(np.asarray(A, dtype=complex), output="complex")


@njit(parallel=True, cache=True)
def _cauchy(lr, li, wr, wi, sr, si, out_r, out_i):
    # out[m, j] = sum_n w[j, n] / (s[m] - lam[n]) for len(s) a multiple of _BLOCK. Real and
    # imaginary parts are kept apart and the innermost loop runs over a block of frequencies,
    # so it is plain SIMD float code; 1 / (s - lam) = conj(s - lam) / |s - lam|^2 (exact to a few
    # ulps unless |s - lam| leaves [1e-154, 1e154]) is formed once per (n, block) and reused
    # for every output j.
    J, N = wr.shape
    for b in prange(sr.shape[0] // _BLOCK):
        m0 = b * _BLOCK
        xr = sr[m0:m0 + _BLOCK]
        xi = si[m0:m0 + _BLOCK]
        qr = np.empty(_BLOCK)
        qi = np.empty(_BLOCK)
        acc_r = np.zeros((J, _BLOCK))
        acc_i = np.zeros((J, _BLOCK))
        for n in range(N):
            l_r = lr[n]
            l_i = li[n]
            for t in range(_BLOCK):
                a = xr[t] - l_r
                c = xi[t] - l_i
                inv = 1.0 / (a * a + c * c)
                qr[t] = a * inv
                qi[t] = -c * inv
            for j in range(J):
                w_r = wr[j, n]
                w_i = wi[j, n]
                ar = acc_r[j]
                ai = acc_i[j]
                for t in range(_BLOCK):
                    ar[t] += w_r * qr[t] - w_i * qi[t]
                    ai[t] += w_r * qi[t] + w_i * qr[t]
        for j in range(J):
            out_r[m0:m0 + _BLOCK, j] = acc_r[j]
            out_i[m0:m0 + _BLOCK, j] = acc_i[j]


@njit(parallel=True, cache=True)
def _cauchy_siso(lr, li, wr, wi, sr, si, out_r, out_i):
    # One output (the common case): the reciprocal is fused into the accumulation, which keeps
    # everything in registers (about 2x faster than the general kernel).
    N = lr.shape[0]
    for b in prange(sr.shape[0] // _BLOCK):
        m0 = b * _BLOCK
        xr = sr[m0:m0 + _BLOCK]
        xi = si[m0:m0 + _BLOCK]
        ar = np.zeros(_BLOCK)
        ai = np.zeros(_BLOCK)
        for n in range(N):
            l_r = lr[n]
            l_i = li[n]
            w_r = wr[0, n]
            w_i = wi[0, n]
            for t in range(_BLOCK):
                a = xr[t] - l_r
                c = xi[t] - l_i
                inv = 1.0 / (a * a + c * c)
                q_r = a * inv
                q_i = -c * inv
                ar[t] += w_r * q_r - w_i * q_i
                ai[t] += w_r * q_i + w_i * q_r
        out_r[m0:m0 + _BLOCK, 0] = ar
        out_i[m0:m0 + _BLOCK, 0] = ai


def diagonal_tf(lam, W, s, d):
    """``G[m, j] = sum_n W[j, n] / (s[m] - lam[n]) + d[j]`` for all frequencies ``s`` (complex)."""
    M, J = s.shape[0], W.shape[0]
    Mp = -(-M // _BLOCK) * _BLOCK                   # pad to whole blocks
    sr = np.zeros(Mp)
    si = np.zeros(Mp)
    sr[:M] = s.real
    si[:M] = s.imag
    if Mp > M:                                      # padding far from every eigenvalue
        sr[M:] = np.abs(lam).max() + 1.0
    out_r = np.empty((Mp, J))
    out_i = np.empty((Mp, J))
    c = np.ascontiguousarray
    kernel = _cauchy_siso if J == 1 else _cauchy
    kernel(c(lam.real), c(lam.imag), c(W.real), c(W.imag), sr, si, out_r, out_i)
    return (out_r[:M] + d.real) + 1j * (out_i[:M] + d.imag)


@njit(parallel=True, cache=True)
def _schur_solve(T, Bh, Ch, s, out):
    # out[m] = Ch (s I - T)^-1 Bh with T upper triangular: one back substitution per column
    # of Bh per frequency, O(N^2) each; TT = T^T is read so that the updates run along rows.
    N = T.shape[0]
    TT = np.ascontiguousarray(T.T)
    P = Bh.shape[1]
    for m in prange(s.shape[0]):
        z = s[m]
        x = np.empty(N, dtype=np.complex128)
        pole = False
        for j in range(N):                          # s at an eigenvalue: G is inf there
            pole = pole or z == T[j, j]
        for p in range(P if not pole else 0):
            for i in range(N):
                x[i] = Bh[i, p]
            for j in range(N - 1, -1, -1):          # (z I - T) x = b, column-oriented
                xj = x[j] / (z - T[j, j])
                x[j] = xj
                col = TT[j]
                for i in range(j):
                    x[i] += col[i] * xj
            for q in range(Ch.shape[0]):
                acc = 0j
                for i in range(N):
                    acc += Ch[q, i] * x[i]
                out[m, q, p] = acc
        if pole:
            out[m] = complex(np.inf, 0.0)


def schur_tf(T, Bh, Ch, s):
    """``G[m] = Ch (s[m] I - T)^-1 Bh`` for upper-triangular ``T``; shape (M, Q, P)."""
    out = np.empty((s.shape[0], Ch.shape[0], Bh.shape[1]), dtype=np.complex128)
    c = np.ascontiguousarray
    _schur_solve(c(T), c(Bh), c(Ch), c(s), out)
    return out


@njit(cache=True)
def _apply_inverse(T, TT, z, x, y, half):
    # y = c R^-1 R^-H x with R = z I - T upper triangular and c = half**2 (both solves
    # column-oriented); scaling between the solves keeps the magnitudes near 1.
    N = T.shape[0]
    for i in range(N):
        y[i] = x[i]
    for j in range(N):                              # R^H y = x: row j of R gives column j of R^H
        yj = y[j] / np.conj(z - T[j, j])
        y[j] = yj
        row = T[j]
        for i in range(j + 1, N):
            y[i] += np.conj(row[i]) * yj
    for i in range(N):
        y[i] *= half
    for j in range(N - 1, -1, -1):                  # R y = y
        yj = y[j] / (z - T[j, j])
        y[j] = yj
        col = TT[j]
        for i in range(j):
            y[i] += col[i] * yj
    for i in range(N):
        y[i] *= half


@njit(cache=True)
def _upper_solve_norm(T, TT, z, x, y):
    # ||R^-1 x|| (inf on overflow): sets the scale of the Lanczos operator at this point.
    N = T.shape[0]
    for i in range(N):
        y[i] = x[i]
    for j in range(N - 1, -1, -1):
        yj = y[j] / (z - T[j, j])
        y[j] = yj
        col = TT[j]
        for i in range(j):
            y[i] += col[i] * yj
    big = 0.0
    for i in range(N):
        big = max(big, abs(y[i]))
    if not np.isfinite(big):
        return np.inf
    acc = 0.0
    for i in range(N):
        acc += abs(y[i] / big) ** 2
    return big * np.sqrt(acc)


@njit(parallel=True, cache=True)
def _inverse_lanczos(T, z, tol, max_steps, smin, steps):
    # Largest eigenvalue theta of the Hermitian operator (R^H R)^-1, R = z I - T, by Lanczos
    # with full reorthogonalisation; sigma_min(R) = theta^(-1/2). A fixed start vector makes
    # the result deterministic.
    N = T.shape[0]
    TT = np.ascontiguousarray(T.T)
    k_max = min(max_steps, N)
    for g in prange(z.shape[0]):
        zg = z[g]
        singular = False
        for i in range(N):
            if zg == T[i, i]:
                singular = True
        if singular:
            smin[g] = 0.0
            steps[g] = 0
            continue
        Q = np.zeros((k_max + 1, N), dtype=np.complex128)
        alpha = np.zeros(k_max)
        beta = np.zeros(k_max)
        w = np.empty(N, dtype=np.complex128)
        norm = 0.0
        for i in range(N):
            Q[0, i] = 1.0 + 0.5 * np.sin(1.0 + i) + 0.25j * np.cos(2.0 * i)
            norm += abs(Q[0, i]) ** 2
        norm = np.sqrt(norm)
        for i in range(N):
            Q[0, i] /= norm
        # Scale c = 1 / ||R^-1 q0||^2 ~ sigma_min^2, so c (R^H R)^-1 has eigenvalues near 1 and
        # nothing overflows unless R is singular to working precision (then sigma_min = 0).
        r0 = _upper_solve_norm(T, TT, zg, Q[0], w)
        if not (r0 < 1e150):
            smin[g] = 0.0
            steps[g] = 0
            continue
        half = 1.0 / r0
        theta_old = 0.0
        theta = 0.0
        k_used = 0
        failed = False
        for k in range(k_max):
            _apply_inverse(T, TT, zg, Q[k], w, half)
            a = 0.0
            for i in range(N):
                a += (np.conj(Q[k, i]) * w[i]).real
            if not np.isfinite(a):
                failed = True
                break
            alpha[k] = a
            for r in range(2):                       # full reorthogonalisation, twice
                for l in range(k + 1):
                    h = 0j
                    for i in range(N):
                        h += np.conj(Q[l, i]) * w[i]
                    for i in range(N):
                        w[i] -= h * Q[l, i]
            b = 0.0
            for i in range(N):
                b += abs(w[i]) ** 2
            b = np.sqrt(b)
            beta[k] = b
            Tk = np.zeros((k + 1, k + 1))
            for i in range(k + 1):
                Tk[i, i] = alpha[i]
                if i < k:
                    Tk[i, i + 1] = beta[i]
                    Tk[i + 1, i] = beta[i]
            theta = np.linalg.eigvalsh(Tk)[k]
            k_used = k + 1
            if abs(theta - theta_old) <= tol * theta or b <= 1e-14 * theta:
                break
            theta_old = theta
            for i in range(N):
                Q[k + 1, i] = w[i] / b
        if failed or not theta > 0:
            smin[g] = 0.0
            steps[g] = k_used
            continue
        smin[g] = r0 ** -1 / np.sqrt(theta)
        steps[g] = k_used


def sigma_min_grid(T, z, tol, max_steps):
    """``sigma_min(z_g I - T)`` for upper-triangular ``T`` at every point of the 1-D array ``z``;
    returns ``(sigma_min, lanczos_steps)``."""
    smin = np.empty(z.shape[0])
    steps = np.empty(z.shape[0], dtype=np.int64)
    _inverse_lanczos(np.ascontiguousarray(T), np.ascontiguousarray(z), float(tol),
                     int(max_steps), smin, steps)
    return smin, steps


def dense_tf(A, B, C, s):
    """``G[m] = C (s[m] I - A)^-1 B`` for a dense ``A`` via its complex Schur form; (M, Q, P)."""
    T, Z = schur(A)
    return schur_tf(T, Z.conj().T @ B, C @ Z, s)


def sigma_min_svd(A, z):
    """Reference: ``sigma_min(z_g I - A)`` by a dense SVD per point."""
    eye = np.eye(A.shape[0])
    return np.array([np.linalg.svd(zg * eye - A, compute_uv=False)[-1] for zg in z])
