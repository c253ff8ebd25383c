"""Numba kernels of the Chebyshev–Tucker area (CPU twin of ``nla_gpu.chebtucker``).

The driver (:mod:`nla.chebtucker._chebtucker`) calls the same names on either engine:

* ``xp`` - the array namespace of the engine (NumPy here, CuPy on the GPU);
* ``values_to_coeffs(V)`` - Chebyshev coefficients of values sampled on the tensor grid of
  2nd-kind (Chebyshev–Lobatto) points, by a type-I DCT along every axis;
* ``vandermonde(t, m)`` - the matrix ``T_j(t_i)``, ``j < m``;
* ``eval_points(t, factors, core)`` - the Chebyshev–Tucker function at scattered points;
* ``erf_potential(x, y, z, centers, charges, a)`` - the long-range Coulomb sum (a sampler
  for the paper's multi-particle application).

Mode products and SVDs are left to BLAS/LAPACK (through ``xp.tensordot`` / ``xp.linalg``):
they are GEMM-shaped, and a hand-written Numba loop would only be slower.
"""

import math

import numpy as np
import scipy.fft
from numba import njit, prange

from ._chebyshev import dct1_scaling

xp = np

#: Points per work item of the parallel evaluation loop (buffers are allocated per item).
_CHUNK = 256


def values_to_coeffs(V, axes=None):
    """Chebyshev coefficients of samples ``V`` on the 2nd-kind grid, along ``axes`` (all by
    default; e.g. ``(0,)`` for the columns of a matrix of univariate samples).

    Every transformed axis needs at least 2 points (a length-1 type-I DCT is undefined).
    """
    axes = tuple(range(V.ndim)) if axes is None else tuple(axes)
    C = scipy.fft.dctn(V, type=1, axes=axes, workers=-1)
    for k in axes:
        shape = [1] * V.ndim
        shape[k] = V.shape[k]
        C *= dct1_scaling(np, V.shape[k]).reshape(shape)
    return C


@njit(parallel=True, cache=True)
def _vandermonde(t, out):
    m = out.shape[1]
    for i in prange(t.shape[0]):
        x = t[i]
        out[i, 0] = 1.0
        if m > 1:
            out[i, 1] = x
        for j in range(2, m):
            out[i, j] = 2.0 * x * out[i, j - 1] - out[i, j - 2]


def vandermonde(t, m):
    """``T[i, j] = T_j(t[i])`` for ``j < m`` (three-term recurrence, parallel over points)."""
    t = np.ascontiguousarray(t, dtype=np.float64)
    out = np.empty((t.shape[0], int(m)))
    _vandermonde(t, out)
    return out


@njit(parallel=True, cache=True)
def _eval_points(t, vflat, voff, ms, rs, core, out):
    # Per point: Clenshaw on all r_k columns of factor k at once gives e_k = V_k^T T(t_k);
    # then the core is contracted with e_d, e_{d-1}, ..., e_1 (last mode first, so every
    # inner loop runs over contiguous memory). Buffers live per chunk of points, so the
    # loop body allocates nothing.
    n, d = t.shape
    rmax = 1
    for k in range(d):
        rmax = max(rmax, rs[k])
    work = max(1, core.size // rs[d - 1])
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    for c in prange(n_chunks):
        e = np.empty((d, rmax))
        b1 = np.empty(rmax)
        b2 = np.empty(rmax)
        w1 = np.empty(work)
        w2 = np.empty(work)
        for i in range(c * _CHUNK, min(n, (c + 1) * _CHUNK)):
            for k in range(d):
                x = t[i, k]
                two_x = 2.0 * x
                m = ms[k]
                r = rs[k]
                off = voff[k]
                for a in range(r):
                    b1[a] = 0.0
                    b2[a] = 0.0
                for j in range(m - 1, 0, -1):
                    base = off + j * r
                    for a in range(r):
                        b0 = two_x * b1[a] - b2[a] + vflat[base + a]
                        b2[a] = b1[a]
                        b1[a] = b0
                for a in range(r):
                    e[k, a] = x * b1[a] - b2[a] + vflat[off + a]
            src = core
            size = core.size
            flip = True
            for k in range(d - 1, -1, -1):
                r = rs[k]
                dst = w1 if flip else w2
                flip = not flip
                size //= r
                for p in range(size):
                    acc = 0.0
                    base = p * r
                    for a in range(r):
                        acc += src[base + a] * e[k, a]
                    dst[p] = acc
                src = dst
            out[i] = src[0]


def eval_points(t, factors, core):
    """Values at points ``t`` (``n x d``, mapped to ``[-1, 1]``) of the Chebyshev–Tucker
    function with coefficient factors ``factors[k]`` (``m_k x r_k``) and ``core``."""
    t = np.ascontiguousarray(t, dtype=np.float64)
    ms = np.array([V.shape[0] for V in factors], dtype=np.int64)
    rs = np.array([V.shape[1] for V in factors], dtype=np.int64)
    voff = np.zeros(len(factors), dtype=np.int64)
    voff[1:] = np.cumsum(ms * rs)[:-1]
    vflat = np.concatenate([np.ascontiguousarray(V, dtype=np.float64).ravel() for V in factors])
    out = np.empty(t.shape[0])
    if t.shape[0]:
        _eval_points(t, vflat, voff, ms, rs, np.ascontiguousarray(core, dtype=np.float64).ravel(),
                     out)
    return out



@njit(parallel=True, cache=True)
def _erf_potential(x, y, z, centers, charges, a, out):
    # out[i] = sum_p q_p erf(r_ip / a) / r_ip, with the limit 2 / (a sqrt(pi)) at r = 0
    limit = 2.0 / (a * math.sqrt(math.pi))
    for i in prange(x.shape[0]):
        acc = 0.0
        for p in range(centers.shape[0]):
            dx = x[i] - centers[p, 0]
            dy = y[i] - centers[p, 1]
            dz = z[i] - centers[p, 2]
            r = math.sqrt(dx * dx + dy * dy + dz * dz)
            if r > 1e-150:
                acc += charges[p] * math.erf(r / a) / r
            else:
                acc += charges[p] * limit
        out[i] = acc


def erf_potential(x, y, z, centers, charges, a):
    """``sum_p q_p erf(|x - c_p| / a) / |x - c_p|`` at the points ``(x, y, z)`` (1-D arrays),
    parallel over points."""
    out = np.empty(x.shape[0])
    _erf_potential(np.ascontiguousarray(x, dtype=np.float64),
                   np.ascontiguousarray(y, dtype=np.float64),
                   np.ascontiguousarray(z, dtype=np.float64),
                   np.ascontiguousarray(centers, dtype=np.float64),
                   np.ascontiguousarray(charges, dtype=np.float64), float(a), out)
    return out
