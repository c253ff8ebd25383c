"""Numba kernels of FunBaT: per-coordinate message sums, predictions, noise statistics.

Shapes shared by every kernel (the GPU twin ``nla_gpu.funbat`` has the same names):

- ``inv`` (N, K) int64: index of each observation's coordinate among its mode's sorted unique
  coordinates.
- ``m_all`` (K, Jmax, rmax), ``M2_all`` (K, Jmax, rmax, rmax): posterior mean and second
  moment ``V + m m'`` of the latent functions of every mode at its unique coordinates, padded
  with zeros to the largest J and r.
- ``ranks`` (K,) int64. Kronecker products run over modes in increasing order, first mode
  slowest (C order). One convention everywhere: vec(W) is C order, and the mode-k unfolding
  lists the remaining modes in increasing order, so ``a_k = W_(k) (⊗_{i≠k} u_i)`` agrees
  with ``w' (⊗_i u_i)``.

Observations are grouped by coordinate through ``order`` (observations sorted by their
coordinate in the mode) and ``indptr`` (CSR pointers), so each coordinate's sum is owned by
one thread: parallel, race free and independent of the thread count. The loops run as
``nogil`` kernels over contiguous parts (:func:`nla._jit.run_parts`) rather than ``prange``:
same parallelism, half the first-call compile time.
"""

import numpy as np
from numba import njit

from .._jit import run_parts

from ._statespace import kalman_smoother  # noqa: F401  (kernel API: host smoother)

#: Array namespace of this engine, used by the driver for its small dense algebra.
xp = np

#: Observation chunks of the reductions over all observations; fixed, so that sums do not
#: depend on the number of threads.
N_CHUNKS = 64


@njit(cache=True, nogil=True)
def _cp_mode_sums(start, stop, inv, y, order, indptr, m_all, M2_all, k, lam, eta):
    K = inv.shape[1]
    r = eta.shape[1]
    a = np.empty(r)
    aa = np.empty((r, r))
    for j in range(start, stop):
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


def cp_mode_sums(inv, y, order, indptr, m_all, M2_all, k, r):
    """Σ over the observations at each coordinate of mode k of ⊙_{i≠k} M2_i and y ⊙_{i≠k} m_i.

    Returns ``lam`` (J, r, r) and ``eta`` (J, r): the CP messages before the factor E[τ].
    """
    J = indptr.shape[0] - 1
    lam = np.zeros((J, r, r))
    eta = np.zeros((J, r))
    run_parts(_cp_mode_sums, J, inv, y, order, indptr, m_all, M2_all, int(k), lam, eta)
    return lam, eta


@njit(cache=True)
def _kron_obs(n, inv, m_all, M2_all, ranks, skip, z, zt, Z, Zt, with_matrix):
    """⊗_{i≠skip} m_i and (if ``with_matrix``) ⊗_{i≠skip} M2_i of observation n.

    Built one mode at a time (first mode slowest), so each entry costs one product; the
    buffers are swapped between modes and the ones holding the result are returned.
    """
    K = inv.shape[1]
    size = 1
    z[0] = 1.0
    Z[0, 0] = 1.0
    for i in range(K):
        if i == skip:
            continue
        ri = ranks[i]
        ji = inv[n, i]
        for a in range(size):
            za = z[a]
            for b in range(ri):
                zt[a * ri + b] = za * m_all[i, ji, b]
        if with_matrix:
            for a in range(size):
                for c in range(size):
                    v = Z[a, c]
                    for b in range(ri):
                        for d in range(ri):
                            Zt[a * ri + b, c * ri + d] = v * M2_all[i, ji, b, d]
            Z, Zt = Zt, Z
        z, zt = zt, z
        size *= ri
    return z, Z


def _other_modes(ranks, k):
    """P = ∏_{i≠k} r_i."""
    return int(np.prod([r for i, r in enumerate(ranks) if i != k], dtype=np.int64))


@njit(cache=True, nogil=True)
def _tucker_mode_sums(start, stop, inv, y, order, indptr, m_all, M2_all, k, ranks, Z2, z):
    P = z.shape[1]
    b1 = np.empty(P)
    b2 = np.empty(P)
    B1 = np.empty((P, P))
    B2 = np.empty((P, P))
    for j in range(start, stop):
        for t in range(indptr[j], indptr[j + 1]):
            n = order[t]
            zn, Zn = _kron_obs(n, inv, m_all, M2_all, ranks, k, b1, b2, B1, B2, np.bool_(True))
            yn = y[n]
            for s in range(P):
                z[j, s] += yn * zn[s]
                for u in range(P):
                    Z2[j, s, u] += Zn[s, u]


def tucker_mode_sums(inv, y, order, indptr, m_all, M2_all, k, ranks):
    """Σ over the observations at each coordinate of mode k of ⊗_{i≠k} M2_i and y ⊗_{i≠k} m_i.

    Returns ``Z2`` (J, P, P) and ``z`` (J, P), P = ∏_{i≠k} r_i (other modes in increasing
    order, first slowest). The driver contracts them with the core moments (one GEMM) into the
    mode-k messages, and with mode k's own moments into the core statistics.
    """
    J = indptr.shape[0] - 1
    P = _other_modes(ranks, k)
    Z2 = np.zeros((J, P, P))
    z = np.zeros((J, P))
    run_parts(_tucker_mode_sums, J, inv, y, order, indptr, m_all, M2_all, int(k), ranks, Z2, z)
    return Z2, z


@njit(cache=True, nogil=True)
def _cp_predict(start, stop, inv, m_all, M2_all, r, mean, sec):
    K = inv.shape[1]
    second = sec.shape[0] > 0
    for n in range(start, stop):
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


def cp_predict(inv, m_all, M2_all, r, second):
    """CP mean Σ_c ∏_i m_ic and (if ``second``) second moment Σ_{c,c'} ∏_i M2_icc' per row."""
    N = inv.shape[0]
    mean = np.zeros(N)
    sec = np.zeros(N if second else 0)
    run_parts(_cp_predict, N, inv, m_all, M2_all, int(r), mean, sec)
    return mean, sec


@njit(cache=True, nogil=True)
def _tucker_predict(start, stop, inv, m_all, M2_all, ranks, mu, Ew2, mean, sec):
    R = mu.shape[0]
    second = sec.shape[0] > 0
    Rm = R if second else 1
    b1 = np.empty(R)
    b2 = np.empty(R)
    B1 = np.empty((Rm, Rm))
    B2 = np.empty((Rm, Rm))
    for n in range(start, stop):
        zn, Zn = _kron_obs(n, inv, m_all, M2_all, ranks, np.int64(-1), b1, b2, B1, B2, second)
        f = 0.0
        for s in range(R):
            f += mu[s] * zn[s]
        mean[n] = f
        if second:
            f2 = 0.0
            for s in range(R):
                for u in range(R):
                    f2 += Ew2[s, u] * Zn[s, u]
            sec[n] = f2


def tucker_predict(inv, m_all, M2_all, ranks, mu, Ew2, second):
    """Tucker mean μ'(⊗_i m_i) and (if ``second``) second moment tr(E[ww'] ⊗_i M2_i) per row."""
    N = inv.shape[0]
    mean = np.zeros(N)
    sec = np.zeros(N if second else 0)
    run_parts(_tucker_predict, N, inv, m_all, M2_all, ranks, mu, Ew2, mean, sec)
    return mean, sec


@njit(cache=True, nogil=True)
def _cp_sq_error(start, stop, inv, y, m_all, M2_all, r, acc):
    N, K = inv.shape
    n_chunks = acc.shape[0]
    for c in range(start, stop):
        total = 0.0
        for n in range(c * N // n_chunks, (c + 1) * N // n_chunks):
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


def cp_sq_error(inv, y, m_all, M2_all, r):
    """Σ_n E[(y_n - f_n)^2] for CP (the noise-precision message), chunked reduction."""
    acc = np.zeros(N_CHUNKS)
    run_parts(_cp_sq_error, N_CHUNKS, inv, y, m_all, M2_all, int(r), acc)
    return acc.sum()
