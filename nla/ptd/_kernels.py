"""Numba kernels of the ptd area (CPU twin of ``nla_gpu.ptd``)."""

import numpy as np

#: Array namespace of this engine, for the drivers' elementwise code.
xp = np


def eig(M):
    """Eigenvalues and unit-column eigenvectors of a dense matrix (LAPACK geev)."""
    return np.linalg.eig(M)
