"""CuPy twin of ``nla.funbat._kernels``: FunBaT's message sums and predictions on the GPU.

Per-observation Kronecker moments are built by batched outer products of gathered factor
moments; per-coordinate sums are one sparse-dense product (cuSPARSE SpMM) with the coordinate
one-hot matrix (deterministic, unlike atomic scatter-adds). The driver turns these sums into
messages, and into the core statistics Σ_n ⊗_i M2_i, with one GEMM each (cuBLAS).
Observations are processed in chunks to bound device memory.

The Kalman filter / RTS smoother is a sequential recursion over each mode's few thousand unique
coordinates with tiny matrices; it runs on the host (Numba), with the messages copied over
and the factor moments copied back once per mode and epoch. Interpolating the factor
posteriors at query coordinates (``predict``, ``latent_functions``) also runs on the host;
the resulting moments are copied over and the predictive contractions run on the device.
"""

import cupy
import cupyx.scipy.sparse as csp
import numpy as np

from nla.funbat._statespace import kalman_smoother as _host_smoother

#: Array namespace of this engine, used by the driver for its small dense algebra.
xp = cupy

#: Rough number of float64 entries of per-observation temporaries per chunk.
_CHUNK_ENTRIES = 2 ** 25


def _chunks(N, width):
    step = max(1, _CHUNK_ENTRIES // max(int(width), 1))
    for lo in range(0, N, step):
        yield lo, min(N, lo + step)


def _ranks(ranks, modes):
    ranks = cupy.asnumpy(ranks)
    return [int(ranks[i]) for i in modes]


def _kron_rows(factors, n):
    out = cupy.ones((n, 1))
    for f in factors:
        out = (out[:, :, None] * f[:, None, :]).reshape(n, -1)
    return out


def _kron_mats(factors, n):
    out = cupy.ones((n, 1, 1))
    for f in factors:
        a, b = out.shape[1], f.shape[1]
        out = (out[:, :, None, :, None] * f[:, None, :, None, :]).reshape(n, a * b, a * b)
    return out


def _gather(inv, m_all, M2_all, i, r, lo, hi):
    idx = inv[lo:hi, i]
    return m_all[i][idx, :r], M2_all[i][idx, :r, :r]


def _segment_sum(inv_k, lo, hi, J, values):
    # One-hot (J x n) coordinate matrix times the per-observation values (n x width).
    n = hi - lo
    onehot = csp.coo_matrix((cupy.ones(n), (inv_k[lo:hi], cupy.arange(n))), shape=(J, n))
    return onehot.tocsr() @ values


def cp_mode_sums(inv, y, order, indptr, m_all, M2_all, k, r):
    """See :func:`nla.funbat._kernels.cp_mode_sums`."""
    N, K = inv.shape
    J = int(indptr.shape[0]) - 1
    lam = cupy.zeros((J, r * r))
    eta = cupy.zeros((J, r))
    for lo, hi in _chunks(N, r * r + r):
        a = cupy.ones((hi - lo, r))
        aa = cupy.ones((hi - lo, r, r))
        for i in range(K):
            if i != k:
                m, M2 = _gather(inv, m_all, M2_all, i, r, lo, hi)
                a = a * m
                aa = aa * M2
        lam += _segment_sum(inv[:, k], lo, hi, J, aa.reshape(hi - lo, r * r))
        eta += _segment_sum(inv[:, k], lo, hi, J, y[lo:hi, None] * a)
    return lam.reshape(J, r, r), eta


def tucker_mode_sums(inv, y, order, indptr, m_all, M2_all, k, ranks):
    """See :func:`nla.funbat._kernels.tucker_mode_sums`."""
    N, K = inv.shape
    J = int(indptr.shape[0]) - 1
    others = [i for i in range(K) if i != k]
    ranks = _ranks(ranks, others)
    P = int(np.prod(ranks)) if ranks else 1
    Z2 = cupy.zeros((J, P * P))
    z = cupy.zeros((J, P))
    for lo, hi in _chunks(N, P * P + P):
        n = hi - lo
        moments = [_gather(inv, m_all, M2_all, i, r, lo, hi) for i, r in zip(others, ranks)]
        zn = _kron_rows([m for m, _ in moments], n)
        Zn = _kron_mats([M2 for _, M2 in moments], n)
        Z2 += _segment_sum(inv[:, k], lo, hi, J, Zn.reshape(n, P * P))
        z += _segment_sum(inv[:, k], lo, hi, J, y[lo:hi, None] * zn)
    return Z2.reshape(J, P, P), z


def cp_predict(inv, m_all, M2_all, r, second):
    """See :func:`nla.funbat._kernels.cp_predict`."""
    N, K = inv.shape
    mean = cupy.empty(N)
    sec = cupy.empty(N if second else 0)
    for lo, hi in _chunks(N, r * r):
        a = cupy.ones((hi - lo, r))
        aa = cupy.ones((hi - lo, r, r)) if second else None
        for i in range(K):
            m, M2 = _gather(inv, m_all, M2_all, i, r, lo, hi)
            a = a * m
            if second:
                aa = aa * M2
        mean[lo:hi] = a.sum(axis=1)
        if second:
            sec[lo:hi] = aa.sum(axis=(1, 2))
    return mean, sec


def tucker_predict(inv, m_all, M2_all, ranks, mu, Ew2, second):
    """See :func:`nla.funbat._kernels.tucker_predict`."""
    N, K = inv.shape
    ranks = _ranks(ranks, range(K))
    R = int(np.prod(ranks))
    mean = cupy.empty(N)
    sec = cupy.empty(N if second else 0)
    for lo, hi in _chunks(N, R * R if second else R):
        n = hi - lo
        moments = [_gather(inv, m_all, M2_all, i, r, lo, hi) for i, r in enumerate(ranks)]
        mean[lo:hi] = _kron_rows([m for m, _ in moments], n) @ mu
        if second:
            sec[lo:hi] = _kron_mats([M2 for _, M2 in moments], n).reshape(n, R * R) \
                @ Ew2.reshape(R * R)
    return mean, sec


def cp_sq_error(inv, y, m_all, M2_all, r):
    """See :func:`nla.funbat._kernels.cp_sq_error`."""
    mean, sec = cp_predict(inv, m_all, M2_all, r, True)
    return float(cupy.sum(y * y - 2.0 * y * mean + sec))


def kalman_smoother(gaps, lam, eta, kind, ell, var):
    """Host Kalman/RTS smoother (sequential; see :func:`nla.funbat._statespace.kalman_smoother`).

    Returns host (NumPy) arrays.
    """
    return _host_smoother(np.asarray(gaps), np.ascontiguousarray(cupy.asnumpy(lam)),
                          np.ascontiguousarray(cupy.asnumpy(eta)), kind, ell, var)
