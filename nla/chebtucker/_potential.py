"""The paper's application: the long-range part of a multi-particle Coulomb potential."""

import numpy as np

from .._array import Origin, engine_of, kernels, to_engine, to_host
from .._validation import check_array, check_scalar


class LongRangePotential:
    """``V(x) = sum_i q_i erf(|x - x_i| / a) / |x - x_i|`` as a vectorized function of
    ``(x, y, z)``, ready for :meth:`ChebTucker.fit`.

    This is the smooth part of the range-separated Newton kernel
    ``1/r = erf(r/a)/r + erfc(r/a)/r``: bounded (``2 / (a sqrt(pi))`` at a particle) and
    analytic, so Chebyshev interpolation converges geometrically, with a degree that grows
    like ``(box length) / a``. The sum is evaluated by a Numba kernel parallel over points
    (CuPy on the GPU, following the engine of the coordinates).

    Parameters
    ----------
    centers : array-like, shape (n, 3)
        Particle positions.
    charges : array-like, shape (n,)
        Particle charges.
    a : float
        Splitting length (> 0); smaller ``a`` keeps more of ``1/r`` and needs a higher degree.

    Examples
    --------
    >>> import numpy as np
    >>> from nla import ChebTucker, LongRangePotential
    >>> V = LongRangePotential([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [1.0, -1.0], a=1.0)
    >>> round(float(V(np.array([0.0]), np.array([0.0]), np.array([0.0]))[0]), 6)
    0.285678
    >>> ft = ChebTucker.fit(V, [[-2, 2]] * 3, tol=1e-10)
    >>> x = np.array([[0.3, -0.4, 0.5]])
    >>> bool(abs(ft(x)[0] - V(*x.T)[0]) < 1e-9)
    True
    """

    def __init__(self, centers, charges, a):
        self.centers = np.array(to_host(check_array(centers, "centers", ndim=2)), dtype=np.float64)
        if self.centers.shape[1] != 3:
            raise ValueError(f"centers must have shape (n, 3), got {self.centers.shape}")
        self.charges = np.array(to_host(check_array(charges, "charges", ndim=1)),
                                dtype=np.float64)
        if self.charges.shape[0] != self.centers.shape[0]:
            raise ValueError(f"charges must have one entry per center ({self.centers.shape[0]}), "
                             f"got {self.charges.shape[0]}")
        self.a = check_scalar(a, "a", low=0.0, low_open=True)

    def __call__(self, x, y, z):
        engine = engine_of(x, y, z)
        # the values come back in the framework of the first array argument (torch in, torch out)
        origin = Origin(next((v for v in (x, y, z) if not np.isscalar(v)), x))
        K = kernels("chebtucker", engine)
        xp = K.xp
        x, y, z = (check_array(to_engine(_listed(v), engine), name, ndim=np.ndim(_listed(v)),
                               min_size=0) for v, name in ((x, "x"), (y, "y"), (z, "z")))
        try:
            x, y, z = xp.broadcast_arrays(*(xp.asarray(v, dtype=xp.float64) for v in (x, y, z)))
        except ValueError:
            raise ValueError(f"x, y and z must broadcast to one shape, got {x.shape}, {y.shape} "
                             f"and {z.shape}") from None
        shape = x.shape
        values = K.erf_potential(x.ravel(), y.ravel(), z.ravel(), xp.asarray(self.centers),
                                 xp.asarray(self.charges), self.a)
        return origin.restore(values.reshape(shape))

    def __repr__(self):
        return f"LongRangePotential(n={self.charges.shape[0]}, a={self.a})"


def _listed(v):
    # Python scalars and lists as NumPy arrays; arrays of any framework as they are
    return np.asarray(v) if np.isscalar(v) or isinstance(v, (list, tuple)) else v
