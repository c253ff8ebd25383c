"""Pseudospectra: the smallest singular value of ``z I - A`` over a grid of points ``z``.

The epsilon-pseudospectrum ``{z : sigma_min(z I - A) < eps}`` is the set of eigenvalues of all
perturbations ``A + E`` with ``||E||_2 < eps`` (Trefethen & Embree, *Spectra and
Pseudospectra*, 2005), the natural picture of how far perturb-then-diagonalize may move the
spectrum. Following EigTool, ``A`` is reduced once to complex Schur form ``T`` (``O(N^3)``);
each grid point then costs a few inverse-Lanczos steps on ``(R^H R)^-1``, ``R = z I - T``, each
two ``O(N^2)`` triangular solves.
"""

import numpy as np

from .._array import Origin, kernels, to_engine, to_host
from .._result import Result
from .._validation import check_choice, check_int, check_scalar, unit_scale
from ._perturb import check_square
from ._ssm import _engine, check_numbers


def pseudospectrum(A, grid, *, method="lanczos", tol=1e-10, max_steps=60):
    """Smallest singular value of ``z I - A`` at every point ``z`` of ``grid``.

    Parameters
    ----------
    A : (N, N) array_like, real
    grid : array_like, complex
        Points ``z``, any shape (e.g. ``X + 1j * Y`` from ``numpy.meshgrid``).
    method : {'lanczos', 'svd'}
        ``'lanczos'``: Schur form once, then inverse Lanczos per point (Numba, parallel over
        points). ``'svd'``: a dense SVD per point (``O(N^3)`` each), the exact reference.
    tol : float, default 1e-10
        Lanczos stops when the relative change of the largest Ritz value of ``(R^H R)^-1``
        falls below ``tol``.
    max_steps : int, default 60
        Most Lanczos steps per point (at most ``N``).

    Returns
    -------
    Result
        ``sigma_min`` (``grid.shape``, float64, 0 at eigenvalues), ``eigenvalues`` (the Schur
        diagonal), ``steps`` (Lanczos steps per point; 0 for ``'svd'``), ``method``.

    Notes
    -----
    On the GPU the Schur form is computed on the host; ``sigma_min`` comes from batched dense
    SVDs on the device for ``N <= 32`` and from the host's inverse Lanczos for larger ``N``
    (cuSOLVER batches SVDs only up to 32 x 32; looping over the points measured 5x slower than
    the host kernel at ``N = 64`` on an H200). Results are returned on the device either way.

    Examples
    --------
    >>> import numpy as np, nla
    >>> A = np.array([[-1.0, 10.0], [0.0, -2.0]])
    >>> r = nla.pseudospectrum(A, np.array([0.0, -1.5 + 1j]))
    >>> bool(np.allclose(r.sigma_min, nla.pseudospectrum(A, np.array([0.0, -1.5 + 1j]),
    ...                                                    method="svd").sigma_min))
    True
    """
    origin = Origin(grid)
    engine = _engine(A, grid)
    K = kernels("ssm", engine)
    A = check_square(A)
    z = check_numbers(grid, "grid", tuple(range(0, 33)), engine)
    method = check_choice(method, "method", {"lanczos", "svd"})
    tol = check_scalar(tol, "tol", low=0.0, high=1.0, low_open=True)
    max_steps = check_int(max_steps, "max_steps", low=1)
    # sigma_min(c z I - c A) = c sigma_min(z I - A): solve for A / s and z / s (s a power of two,
    # exact), since (R^H R)^-1 of the Lanczos overflows for entries near 1e-300.
    s = unit_scale(max(float(abs(A).max()), float(abs(z).max(initial=0.0))))
    A, z = A / s, z / s
    T, _ = K.schur(to_host(A))
    eigenvalues = np.diag(T) * s
    flat = z.reshape(-1)
    if method == "svd":
        smin = K.sigma_min_svd(A, flat)
        steps = K.xp.zeros(flat.shape[0], dtype=np.int64)
    else:
        smin, steps = K.sigma_min_grid(to_engine(T, engine), flat, tol, max_steps)
    smin = smin * s
    return Result(sigma_min=origin.restore(smin.reshape(z.shape)),
                  eigenvalues=origin.restore(to_engine(eigenvalues, engine)),
                  steps=origin.restore(steps.reshape(z.shape)), method=method)
