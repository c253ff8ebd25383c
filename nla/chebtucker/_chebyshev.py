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


def dct1_scaling(xp, m):
    """Per-axis factors turning a type-I DCT of ascending-node values into coefficients.

    With ``N = m - 1`` and values ``v_j`` at the ascending nodes ``-cos(j pi / N)``,
    ``c_k = (-1)^k h_k DCT-I(v)_k / N`` where ``h_k = 1/2`` at ``k = 0, N`` and 1 otherwise;
    the sign undoes the reversal of the node order.
    """
    s = xp.full(m, 1.0 / (m - 1))
    s[1::2] *= -1.0
    s[0] *= 0.5
    s[-1] *= 0.5
    return s


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


#: sqrt(2): ``int T_0^2 w = pi`` but ``int T_j^2 w = pi / 2`` for ``j >= 1`` (``w = 1/sqrt(1-t^2)``)
_T0_WEIGHT = 2.0 ** 0.5


def weigh(V):
    """Coefficient rows -> coordinates in which the Euclidean norm is the Chebyshev-weighted
    L2 norm (up to ``sqrt(pi / 2)``): row 0 (the ``T_0`` coefficients) times ``sqrt(2)``.

    Tucker truncation in these coordinates measures errors as the weighted L2 norm of the
    function, as a HOSVD of sampled values does; in raw coefficients the constant part would
    count half and ranks would come out one or two larger.
    """
    W = V.copy()
    W[0] = W[0] * _T0_WEIGHT
    return W


def unweigh(W):
    """Inverse of :func:`weigh`."""
    V = W.copy()
    V[0] = V[0] / _T0_WEIGHT
    return V


def weigh_tensor(C):
    """:func:`weigh` applied along every mode of the coefficient tensor ``C``."""
    C = C.copy()
    for k in range(C.ndim):
        index = [slice(None)] * C.ndim
        index[k] = 0
        C[tuple(index)] *= _T0_WEIGHT
    return C
