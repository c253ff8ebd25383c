"""CuPy kernels of the Chebyshev–Tucker area (GPU twin of ``nla.chebtucker._kernels``).

Same names and meanings as the CPU module. ``cupyx.scipy.fft.dct`` has no type I, so the
values-to-coefficients map is a GEMM per mode with the ``m x m`` type-I cosine matrix
(``m <= ~1000`` here, so the GEMM is cheap and exact to rounding); scattered evaluation is
batched GEMMs: the Chebyshev–Vandermonde block of each coordinate times the factor, then
the core contraction as one GEMM and row-wise reductions.
"""

import math

import cupy

from nla.chebtucker._chebyshev import dct1_scaling

xp = cupy

#: Points per batch of the scattered evaluation (bounds the ``batch x prod(r)`` workspace).
_BATCH_ENTRIES = 2**24


def _dct1_matrix(m):
    """``M`` with ``M @ v`` = the Chebyshev coefficients of values ``v`` at the ascending
    2nd-kind points: ``M[k, j] = s_k w_j 2 cos(pi k j / N)``, ``w`` = 1/2 at both ends."""
    n = m - 1
    k = cupy.arange(m, dtype=cupy.float64)
    M = 2.0 * cupy.cos(cupy.pi * cupy.outer(k, k) / n)
    M[:, 0] *= 0.5
    M[:, -1] *= 0.5
    return dct1_scaling(cupy, m)[:, None] * M


def values_to_coeffs(V, axes=None):
    """Chebyshev coefficients of samples ``V`` on the 2nd-kind grid, along ``axes`` (all by
    default)."""
    C = V
    for k in range(V.ndim) if axes is None else axes:
        C = cupy.moveaxis(cupy.tensordot(_dct1_matrix(V.shape[k]), C, axes=(1, k)), 0, k)
    return C


def vandermonde(t, m):
    """``T[i, j] = T_j(t[i])`` for ``j < m`` (three-term recurrence, vectorised over points)."""
    t = cupy.asarray(t, dtype=cupy.float64)
    out = cupy.empty((t.shape[0], int(m)))
    out[:, 0] = 1.0
    if m > 1:
        out[:, 1] = t
    for j in range(2, int(m)):
        out[:, j] = 2.0 * t * out[:, j - 1] - out[:, j - 2]
    return out


def eval_points(t, factors, core):
    """Values at points ``t`` (``n x d``, mapped to ``[-1, 1]``) of the Chebyshev–Tucker
    function ``core x_k factors[k]``."""
    n, d = t.shape
    out = cupy.empty(n)
    ranks = core.shape
    batch = max(1, _BATCH_ENTRIES // max(1, math.prod(ranks)))
    G = core.reshape(ranks[0], -1)
    for i0 in range(0, n, batch):
        tb = t[i0:i0 + batch]
        E = [vandermonde(tb[:, k], V.shape[0]) @ V for k, V in enumerate(factors)]
        A = E[0] @ G                                   # (b, r_2 ... r_d)
        for k in range(1, d):
            A = (A.reshape(A.shape[0], ranks[k], -1) * E[k][:, :, None]).sum(axis=1)
        out[i0:i0 + batch] = A.reshape(-1)
    return out


def erf_potential(x, y, z, centers, charges, a):
    """``sum_p q_p erf(|x - c_p| / a) / |x - c_p|`` at the points ``(x, y, z)`` (1-D arrays):
    one fused elementwise pass per charge."""
    from cupyx.scipy.special import erf

    limit = 2.0 / (a * math.sqrt(math.pi))
    out = cupy.zeros(x.shape[0])
    for c, q in zip(cupy.asnumpy(centers), cupy.asnumpy(charges)):
        r = cupy.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2)
        safe = cupy.where(r > 1e-150, r, 1.0)
        out += q * cupy.where(r > 1e-150, erf(safe / a) / safe, limit)
    return out
