"""Numba kernels of FunBaT: per-coordinate message sums, core statistics, predictions.

Shapes shared by every kernel (the GPU twin ``nla_gpu.funbat`` has the same names):

- ``inv`` (N, K) int64: index of each observation's coordinate among its mode's sorted unique
  coordinates.
- ``m_all`` (K, Jmax, rmax), ``M2_all`` (K, Jmax, rmax, rmax): posterior mean and second
  moment ``V + m m'`` of the latent functions of every mode at its unique coordinates, padded
  with zeros to the largest J and r.
- ``digits`` (P, K) int64: row ``s`` is the multi-index of entry ``s`` of a Kronecker product
  over some modes, first listed mode slowest (C order); columns of other modes are unused.
  One convention everywhere: vec(W) is C order, and the mode-k unfolding lists the remaining
  modes in increasing order, so ``a_k = W_(k) (⊗_{i≠k} u_i)`` agrees with ``w' (⊗_i u_i)``.

Observations are grouped by coordinate through ``order`` (observations sorted by their
coordinate in the mode) and ``indptr`` (CSR pointers), so each coordinate's sum is owned by
one thread: parallel, race free and independent of the thread count.
"""

import numpy as np
from numba import njit, prange

from ._statespace import interpolate, kalman_smoother  # noqa: F401  (kernel API)

#: Observation chunks of the reductions over all observations; fixed, so that sums do not
#: depend on the number of threads.
N_CHUNKS = 64


@njit(cache=True, parallel=True)
def cp_mode_sums(inv, y, order, indptr, m_all, M2_all, k, r):
    """Σ over the observations at each coordinate of mode k of ⊙_{i≠k} M2_i and y ⊙_{i≠k} m_i.

    Returns ``lam`` (J, r, r) and ``eta`` (J, r): the CP messages before the factor E[τ].
    """
    J = indptr.shape[0] - 1
    K = inv.shape[1]
    lam = np.zeros((J, r, r))
    eta = np.zeros((J, r))
    for j in prange(J):
        a = np.empty(r)
        aa = np.empty((r, r))
        for t in range(indptr[j], indptr[j + 1]):
            n = order[t]
            a[:] = 1.0
            aa[:, :] = 1.0
            for i in range(K):
                if i == k:
                    continue
                ji = inv[n, i]
                for p in range(r):
                    a[p] *= m_all[i, ji, p]
                    for q in range(r):
                        aa[p, q] *= M2_all[i, ji, p, q]
            for p in range(r):
                eta[j, p] += y[n] * a[p]
                for q in range(r):
                    lam[j, p, q] += aa[p, q]
    return lam, eta


@njit(cache=True, parallel=True)
def tucker_mode_sums(inv, y, order, indptr, m_all, M2_all, k, digits):
    """Σ over the observations at each coordinate of mode k of ⊗_{i≠k} M2_i and y ⊗_{i≠k} m_i.

    Returns ``Z2`` (J, P, P) and ``z`` (J, P), P = ∏_{i≠k} r_i; the driver contracts them with
    the core moments (one GEMM) into the mode-k messages.
    """
    J = indptr.shape[0] - 1
    K = inv.shape[1]
    P = digits.shape[0]
    Z2 = np.zeros((J, P, P))
    z = np.zeros((J, P))
    for j in prange(J):
        for t in range(indptr[j], indptr[j + 1]):
            n = order[t]
            for s in range(P):
                v = 1.0
                for i in range(K):
                    if i != k:
                        v *= m_all[i, inv[n, i], digits[s, i]]
                z[j, s] += y[n] * v
                for u in range(s, P):
                    w = 1.0
                    for i in range(K):
                        if i != k:
                            w *= M2_all[i, inv[n, i], digits[s, i], digits[u, i]]
                    Z2[j, s, u] += w
        for s in range(P):
            for u in range(s + 1, P):
                Z2[j, u, s] = Z2[j, s, u]
    return Z2, z


@njit(cache=True, parallel=True)
def core_sums(inv, y, m_all, M2_all, digits):
    """``ZZ`` = Σ_n ⊗_i M2_i (R, R) and ``yz`` = Σ_n y_n ⊗_i m_i (R,), the core statistics."""
    N, K = inv.shape
    R = digits.shape[0]
    acc = np.zeros((N_CHUNKS, R, R))
    accz = np.zeros((N_CHUNKS, R))
    for c in prange(N_CHUNKS):
        for n in range(c * N // N_CHUNKS, (c + 1) * N // N_CHUNKS):
            for s in range(R):
                v = 1.0
                for i in range(K):
                    v *= m_all[i, inv[n, i], digits[s, i]]
                accz[c, s] += y[n] * v
                for u in range(s, R):
                    w = 1.0
                    for i in range(K):
                        w *= M2_all[i, inv[n, i], digits[s, i], digits[u, i]]
                    acc[c, s, u] += w
    ZZ = np.zeros((R, R))
    yz = np.zeros(R)
    for c in range(N_CHUNKS):
        ZZ += acc[c]
        yz += accz[c]
    for s in range(R):
        for u in range(s + 1, R):
            ZZ[u, s] = ZZ[s, u]
    return ZZ, yz


@njit(cache=True, parallel=True)
def cp_predict(inv, m_all, M2_all, r, second):
    """CP mean Σ_c ∏_i m_ic and (if ``second``) second moment Σ_{c,c'} ∏_i M2_icc' per row."""
    N, K = inv.shape
    mean = np.zeros(N)
    sec = np.zeros(N if second else 0)
    for n in prange(N):
        f = 0.0
        for c in range(r):
            v = 1.0
            for i in range(K):
                v *= m_all[i, inv[n, i], c]
            f += v
        mean[n] = f
        if second:
            f2 = 0.0
            for c in range(r):
                for c2 in range(r):
                    v = 1.0
                    for i in range(K):
                        v *= M2_all[i, inv[n, i], c, c2]
                    f2 += v
            sec[n] = f2
    return mean, sec


@njit(cache=True, parallel=True)
def tucker_predict(inv, m_all, M2_all, digits, mu, Ew2, second):
    """Tucker mean μ'(⊗_i m_i) and (if ``second``) second moment tr(E[ww'] ⊗_i M2_i) per row."""
    N, K = inv.shape
    R = digits.shape[0]
    mean = np.zeros(N)
    sec = np.zeros(N if second else 0)
    for n in prange(N):
        f = 0.0
        for s in range(R):
            v = 1.0
            for i in range(K):
                v *= m_all[i, inv[n, i], digits[s, i]]
            f += mu[s] * v
        mean[n] = f
        if second:
            f2 = 0.0
            for s in range(R):
                for u in range(R):
                    v = 1.0
                    for i in range(K):
                        v *= M2_all[i, inv[n, i], digits[s, i], digits[u, i]]
                    f2 += Ew2[s, u] * v
            sec[n] = f2
    return mean, sec


@njit(cache=True, parallel=True)
def cp_sq_error(inv, y, m_all, M2_all, r):
    """Σ_n E[(y_n - f_n)^2] for CP (the noise-precision message), chunked reduction."""
    N, K = inv.shape
    acc = np.zeros(N_CHUNKS)
    for c in prange(N_CHUNKS):
        total = 0.0
        for n in range(c * N // N_CHUNKS, (c + 1) * N // N_CHUNKS):
            f = 0.0
            f2 = 0.0
            for p in range(r):
                v = 1.0
                for i in range(K):
                    v *= m_all[i, inv[n, i], p]
                f += v
                for q in range(r):
                    w = 1.0
                    for i in range(K):
                        w *= M2_all[i, inv[n, i], p, q]
                    f2 += w
            total += y[n] * y[n] - 2.0 * y[n] * f + f2
        acc[c] = total
    return acc.sum()
