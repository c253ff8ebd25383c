"""Univariate Chebyshev building blocks, written against an array namespace ``xp``.

Conventions: 2nd-kind (Chebyshev–Lobatto) points in ascending order, coefficient vectors
``c`` meaning ``sum_j c_j T_j(t)`` on ``[-1, 1]``; a box side ``[lo, hi]`` is mapped to
``[-1, 1]`` by ``t = (2 x - (lo + hi)) / (hi - lo)``.
"""

import numpy as np


def cheb_points(m):
    """The ``m`` 2nd-kind Chebyshev points ``-cos(j pi / (m - 1))``, ascending (NumPy).

    Written as a sine of a symmetric angle so that the set is exactly symmetric about 0.
    """
    n = m - 1
    j = np.arange(m)
    return np.sin(np.pi * (2 * j - n) / (2 * n))


def to_unit(x, lo, hi):
    """Map ``x`` from ``[lo, hi]`` to ``[-1, 1]``."""
    return (2.0 * x - (lo + hi)) / (hi - lo)


def from_unit(t, lo, hi):
    """Map ``t`` from ``[-1, 1]`` to ``[lo, hi]``."""
    return 0.5 * (hi - lo) * t + 0.5 * (hi + lo)


def integral_weights(xp, m):
    """``w_j = int_{-1}^{1} T_j(t) dt``: ``2 / (1 - j^2)`` for even ``j``, 0 for odd ``j``."""
    j = np.arange(m, dtype=np.float64)
    w = np.zeros(m)
    even = j[::2]
    w[::2] = 2.0 / (1.0 - even * even)
    return xp.asarray(w)


def derivative(xp, V):
    """Coefficients (rows) of the derivative of the Chebyshev series in each column of ``V``.

    Backward recurrence ``d_{j-1} = d_{j+1} + 2 j c_j`` with ``d_0`` halved; the result has
    one row fewer (at least one row, a zero row for a constant).
    """
    m = V.shape[0]
    if m == 1:
        return xp.zeros_like(V)
    D = xp.zeros((m - 1,) + V.shape[1:], dtype=V.dtype)
    nxt = xp.zeros(V.shape[1:], dtype=V.dtype)     # d_{j+1}
    cur = xp.zeros(V.shape[1:], dtype=V.dtype)     # d_j
    for j in range(m - 1, 0, -1):
        new = nxt + 2.0 * j * V[j]                 # d_{j-1}
        D[j - 1] = new
        nxt, cur = cur, new
    D[0] = 0.5 * D[0]
    return D


def coefficient_decay(xp, C):
    """Per mode ``k``: the largest ``|C|`` over all other indices, as a function of the
    index along ``k`` (the curve whose tail decides whether mode ``k`` is resolved)."""
    A = xp.abs(C)
    axes = tuple(range(C.ndim))
    return [A.max(axis=tuple(a for a in axes if a != k)) if C.ndim > 1 else A for k in axes]
