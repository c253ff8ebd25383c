"""HiPPO state matrices and their normal-plus-low-rank (NPLR) split.

Conventions follow the S4 code base (``state-spaces/s4``, ``src/models/hippo/hippo.py``): the
state dimension is ``N``, indices run ``n, k = 0 .. N-1`` and ``r_n = sqrt(2 n + 1)``. For every
kind, ``S = A + P.T @ P`` (``P`` has shape ``(rank, N)``) satisfies ``S + S.T = 2 c I``, i.e. ``S``
is a multiple of the identity plus a skew-symmetric matrix and therefore normal.
"""

import numpy as np

from .._result import Result
from .._validation import check_choice, check_int, check_memory

#: Accepted ``kind`` names and the canonical one they stand for.
KINDS = {"legs": "legs", "legt": "legt", "fout": "fout", "fourier": "fout", "foud": "foud",
         "fourier_diag": "foud"}


def _legs(N):
    r = np.sqrt(2.0 * np.arange(N) + 1.0)
    A = np.tril(-np.outer(r, r), -1) - np.diag(np.arange(N) + 1.0)
    P = np.sqrt(np.arange(N) + 0.5)[None, :]
    return A, r.copy(), P


def _legt(N):
    # The S4 code halves A and B of the HiPPO paper's LegT "for timescale correctness".
    r = np.sqrt(2.0 * np.arange(N) + 1.0)
    n = np.arange(N)
    sign = np.where(n[:, None] >= n[None, :], 1.0, (-1.0) ** ((n[:, None] - n[None, :]) % 2))
    A = -0.5 * np.outer(r, r) * sign
    P = np.zeros((2, N))
    P[0, 1::2] = r[1::2]
    P[1, 0::2] = r[0::2]
    return A, 0.5 * r, P / np.sqrt(2.0)


def _fourier_b(N):
    B = np.zeros(N)
    B[0::2] = np.sqrt(2.0)
    B[0] = 1.0
    return B


def _fout(N):
    half = np.arange(N // 2, dtype=np.float64)
    d = np.stack([np.zeros(N // 2), half], axis=-1).reshape(-1)[1:]   # 0, 0, 1, 0, 2, ...
    B = _fourier_b(N)
    A = np.pi * (np.diag(d, -1) - np.diag(d, 1)) - np.outer(B, B)
    return A, B, B[None, :].copy()


def _foud(N):
    half = np.arange(N // 2, dtype=np.float64)
    d = np.stack([half, np.zeros(N // 2)], axis=-1).reshape(-1)[:-1]  # 0, 0, 1, 0, 2, ...
    A = 2.0 * np.pi * (np.diag(d, -1) - np.diag(d, 1)) - 0.5 * np.eye(N)
    return A, _fourier_b(N), np.zeros((1, N))


_BUILDERS = {"legs": _legs, "legt": _legt, "fout": _fout, "foud": _foud}


def _checked(N, kind):
    N = check_int(N, "N", low=1)
    check_memory(4 * N * N, "N")   # A, S, P and a temporary, each N x N float64
    kind = KINDS[check_choice(kind, "kind", KINDS)]
    if kind in ("fout", "foud") and N % 2:
        raise ValueError(f"N must be even for kind={kind!r} (states come in cosine/sine pairs), "
                         f"got {N}")
    return N, kind


def hippo(N, kind="legs"):
    """HiPPO state matrix ``A``, input vector ``B`` and the normal-plus-low-rank split.

    Parameters
    ----------
    N : int
        State dimension, ``N >= 1`` (even for the Fourier kinds).
    kind : {'legs', 'legt', 'fout', 'foud'}
        ``'legs'``: scaled Legendre (lower triangular, eigenvalues ``-1, ..., -N``);
        ``'legt'``: translated Legendre with the S4 code's factor 1/2; ``'fout'`` (alias
        ``'fourier'``): translated Fourier; ``'foud'`` (alias ``'fourier_diag'``): the diagonal
        Fourier variant of S4D, already normal. Definitions: see :doc:`/api/ptd`.

    Returns
    -------
    Result
        ``A`` (N, N) and ``B`` (N,) float64; ``P`` (rank, N) with ``S = A + P.T @ P`` normal;
        ``S``; ``shift``, the real number ``c`` with ``S + S.T = 2 c I``; ``kind``.

    Examples
    --------
    >>> import nla
    >>> h = nla.hippo(3)
    >>> h.A.round(3)
    array([[-1.   ,  0.   ,  0.   ],
           [-1.732, -2.   ,  0.   ],
           [-2.236, -3.873, -3.   ]])
    >>> h.shift
    -0.5
    """
    N, kind = _checked(N, kind)
    A, B, P = _BUILDERS[kind](N)
    S = A + P.T @ P
    return Result(A=A, B=B, P=P, S=S, shift=round(float(np.mean(np.diag(S))), 12), kind=kind)


def hippo_diagonal(N, kind="legs"):
    """The S4D / S5 diagonal initialisation: the normal part of HiPPO, diagonalised.

    The low-rank term of ``A = S - P.T @ P`` is dropped and ``S = c I + K`` (``K`` skew) is
    diagonalised through the Hermitian eigenproblem of ``-i K``, so ``V`` is unitary and the
    result is exact to rounding. The diagonal system ``(eigenvalues, V^H B)`` is a *different*
    system from ``(A, B)``: its transfer function has a spike of height about 1.27 near
    ``omega = N^2 / pi`` for LegS (see :func:`transfer_function`).

    Parameters
    ----------
    N : int
        State dimension.
    kind : str
        As in :func:`hippo`.

    Returns
    -------
    Result
        ``eigenvalues`` (N,) complex (real part ``c``), ``V`` (N, N) unitary with
        ``S = V diag(eigenvalues) V^H``, ``B`` = ``V^H B`` (N,) complex, ``kind``.

    Examples
    --------
    >>> import nla
    >>> d = nla.hippo_diagonal(4)
    >>> d.eigenvalues.real
    array([-0.5, -0.5, -0.5, -0.5])
    """
    h = hippo(N, kind)
    K = h.S - h.shift * np.eye(h.S.shape[0])
    omega, V = np.linalg.eigh(-1j * 0.5 * (K - K.T))   # Hermitian: V unitary, omega real
    eigenvalues = h.shift + 1j * omega
    return Result(eigenvalues=eigenvalues, V=V, B=V.conj().T @ h.B, kind=h.kind)
