"""Tour rows of the Chebyshev–Tucker area (``python -m nla tour``)."""

import numpy as np

from .._tour import TourRow, timed


def gaussian_mix(seed=0, terms=6):
    """A sum of tilted Gaussians of random width on [-1, 1]^3: smooth, not exactly low rank
    (the tilt couples x and y), used by the tour and the benchmarks."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-0.8, 0.8, (terms, 3))
    widths = rng.uniform(2, 6, terms)

    def f(x, y, z):
        out = 0.0
        for c, s in zip(centers, widths):
            u, v, w = x - c[0], y - c[1], z - c[2]
            out = out + np.exp(-s * (u * u + v * v + w * w + 0.5 * u * v))
        return out
    return f


def rows():
    from numpy.polynomial.chebyshev import chebval3d
    from tensorly.decomposition import tucker

    from ._chebtucker import ChebTucker
    from ._tucker import full_tensor

    f = gaussian_mix()
    box = [[-1.0, 1.0]] * 3
    n = 64
    x = np.linspace(-1, 1, n)

    def nla_fit():
        ft = ChebTucker.fit(f, box, tol=1e-10)
        return ft, ft.on_grid(x, x, x, form="tucker")

    def grid_tucker(ranks):
        X = f(x[:, None, None], x[None, :, None], x[None, None, :])
        return X, tucker(X, rank=list(ranks))

    t_nla, (ft, (core, Us)) = timed(nla_fit)
    t_peer, (X, T) = timed(grid_tucker, ft.ranks)
    scale = np.abs(X).max()
    err_nla = np.abs(full_tensor(np, core, Us) - X).max() / scale
    err_peer = np.abs(full_tensor(np, T.core, T.factors) - X).max() / scale
    yield TourRow("Chebyshev-Tucker fit + grid Tucker", f"3-D, {n}^3 grid, ranks {ft.ranks}",
                  f"max rel err {err_nla:.0e} (peer {err_peer:.0e})", t_nla,
                  "grid + tensorly tucker", t_peer,
                  metric="max |approximation - f| / max |f| on the grid; the peer samples f "
                  "on the grid and runs TensorLy's Tucker at the same ranks")

    P = np.random.default_rng(1).uniform(-1, 1, (5000, 3))
    C = ft.coefficients()
    t_nla, v = timed(ft, P)
    t_peer, w = timed(chebval3d, P[:, 0], P[:, 1], P[:, 2], C)
    yield TourRow("Chebyshev-Tucker evaluation", f"5000 points, degree {max(ft.degrees)}",
                  f"max rel diff {np.abs(v - w).max() / np.abs(w).max():.0e}", t_nla,
                  "numpy chebval3d", t_peer,
                  metric="max |nla - numpy| / max |numpy| at random points: the same "
                  "polynomial evaluated in Tucker form and from the full coefficient tensor")
