"""Chebyshev–Tucker (nla.ChebTucker) beside its peers.

* Fit + Tucker form on an n^3 grid (n = 128) vs the grid-based route: sample f on the
  full grid and run ``tensorly.decomposition.tucker`` at the ranks nla found (so both reach
  about the same accuracy); time and peak memory.
* Evaluation at 10^6 scattered points vs ``numpy.polynomial.chebyshev.chebval3d`` on the
  full coefficient tensor of the same interpolant (in blocks of points: chebval3d's
  intermediates are ``m^2 x points``).

``track_speedup`` is the peer's seconds over nla's in the same process; ``track_*_error`` the
relative max error of each Tucker form against the sampled grid (the accuracy both reach), and
of nla's evaluation against chebval3d. ``NLA_BENCH_SCALE`` scales the number of points and the
grid's volume (128^3 at 1).

``python benchmarks/benchmarks/bench_chebtucker.py`` times the same pairs directly (best of
a few runs) and prints the ratios; ``... bench_chebtucker.py ranks`` prints the degrees, ranks
and errors of the particle problem over many random draws (the figures quoted in the docs).
"""

import numpy as np

try:
    from ._common import SCALE, best_seconds, speedup, track
except ImportError:  # run as a script from this folder
    from _common import SCALE, best_seconds, speedup, track

N_GRID = max(32, round(128 * min(SCALE, 1) ** (1 / 3)))
N_POINTS = max(1000, int(10**6 * SCALE))


def gaussians():
    """A sum of 6 tilted Gaussians of random width on [-1, 1]^3 (not exactly low rank)."""
    from nla.chebtucker._tour import gaussian_mix
    return gaussian_mix(), np.array([[-1.0, 1.0]] * 3), 1e-10


def particles(seed=0, n=50, a=1.0):
    """Long-range part erf(r/a)/r of the potential of 50 random charges in [-5, 5]^3
    (sampled by nla's Numba kernel for both contestants)."""
    from nla.chebtucker import LongRangePotential
    rng = np.random.default_rng(seed)
    f = LongRangePotential(rng.uniform(-5, 5, (n, 3)), rng.choice([-1.0, 1.0], n), a)
    return f, np.array([[-5.0, 5.0]] * 3), 1e-8


PROBLEMS = {"gaussians": gaussians, "particles": particles}


def grid_axes(box, n):
    return [np.linspace(lo, hi, n) for lo, hi in box]


def nla_fit_tucker(f, box, tol, axes):
    from nla.chebtucker import ChebTucker
    ft = ChebTucker.fit(f, box, tol=tol)
    return ft, ft.on_grid(*axes, form="tucker")


def tensorly_grid_tucker(f, axes, ranks):
    from tensorly.decomposition import tucker
    X = f(axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :])
    return X, tucker(X, rank=list(ranks))


def chebval3d_blocks(P, C, block=20000):
    from numpy.polynomial.chebyshev import chebval3d
    out = np.empty(P.shape[0])
    for i in range(0, P.shape[0], block):
        p = P[i:i + block]
        out[i:i + block] = chebval3d(p[:, 0], p[:, 1], p[:, 2], C)
    return out


class FitVsGridTucker:
    """fit + Tucker form on the 128^3 grid vs full-grid sampling + tensorly tucker."""

    params = (["gaussians", "particles"],)
    param_names = ["function"]
    version = "1"
    timeout = 900

    def setup(self, name):
        self.f, self.box, self.tol = PROBLEMS[name]()
        self.axes = grid_axes(self.box, N_GRID)
        ft, _ = nla_fit_tucker(self.f, self.box, self.tol, self.axes)   # also compiles
        self.ranks = ft.ranks

    def time_nla_fit_on_grid(self, name):
        nla_fit_tucker(self.f, self.box, self.tol, self.axes)

    def time_tensorly_grid_tucker(self, name):
        tensorly_grid_tucker(self.f, self.axes, self.ranks)

    def peakmem_nla_fit_on_grid(self, name):
        nla_fit_tucker(self.f, self.box, self.tol, self.axes)

    def peakmem_tensorly_grid_tucker(self, name):
        tensorly_grid_tucker(self.f, self.axes, self.ranks)

    @track("peer/nla")
    def track_speedup(self, name):
        return speedup(lambda: nla_fit_tucker(self.f, self.box, self.tol, self.axes),
                       lambda: tensorly_grid_tucker(self.f, self.axes, self.ranks))

    def _errors(self):
        from nla.chebtucker._tucker import full_tensor
        _, (core, Us) = nla_fit_tucker(self.f, self.box, self.tol, self.axes)
        X, T = tensorly_grid_tucker(self.f, self.axes, self.ranks)
        scale = np.abs(X).max()
        return (np.abs(full_tensor(np, core, Us) - X).max() / scale,
                np.abs(full_tensor(np, T.core, T.factors) - X).max() / scale)

    @track("relative max error")
    def track_nla_error(self, name):
        return float(self._errors()[0])

    @track("relative max error")
    def track_tensorly_error(self, name):
        return float(self._errors()[1])


class ScatteredEvaluation:
    """Evaluation at 10^6 random points vs chebval3d on the full coefficient tensor."""

    version = "1"
    timeout = 1200

    def setup(self):
        from nla.chebtucker import ChebTucker
        f, box, tol = gaussians()
        self.ft = ChebTucker.fit(f, box, tol=tol)
        self.C = self.ft.coefficients()
        rng = np.random.default_rng(1)
        self.P = rng.uniform(-1, 1, (N_POINTS, 3))
        self.ft(self.P[:10])                                          # compile

    def time_nla_eval(self):
        self.ft(self.P)

    def time_chebval3d(self):
        chebval3d_blocks(self.P, self.C)

    def peakmem_nla_eval(self):
        self.ft(self.P)

    @track("peer/nla")
    def track_speedup(self):
        return speedup(lambda: self.ft(self.P), lambda: chebval3d_blocks(self.P, self.C),
                       repeat=1)

    @track("relative max difference")
    def track_diff_vs_chebval3d(self):
        v, w = self.ft(self.P), chebval3d_blocks(self.P, self.C)
        return float(np.abs(v - w).max() / np.abs(w).max())


def _peak_mb(fn):
    import tracemalloc
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main(repeat=3, peer_points=N_POINTS):
    from nla.chebtucker._tucker import full_tensor
    for name, make in PROBLEMS.items():
        f, box, tol = make()
        axes = grid_axes(box, N_GRID)
        nla_fit_tucker(f, box, tol, axes)
        t_nla, (ft, (core, Us)) = best_seconds(lambda: nla_fit_tucker(f, box, tol, axes), repeat)
        t_peer, (X, T) = best_seconds(lambda: tensorly_grid_tucker(f, axes, ft.ranks), repeat)
        t_sample, _ = best_seconds(lambda: f(axes[0][:, None, None], axes[1][None, :, None],
                                      axes[2][None, None, :]), repeat)
        scale = np.abs(X).max()
        err_nla = np.abs(full_tensor(np, core, Us) - X).max() / scale
        err_peer = np.abs(full_tensor(np, T.core, T.factors) - X).max() / scale
        m_nla = _peak_mb(lambda: nla_fit_tucker(f, box, tol, axes))
        m_peer = _peak_mb(lambda: tensorly_grid_tucker(f, axes, ft.ranks))
        print(f"[{name}] degrees {ft.degrees} ranks {ft.ranks}: nla fit+grid Tucker "
              f"{t_nla:.3f} s (rel. max err {err_nla:.1e}, peak {m_nla:.0f} MB) | grid sampling + "
              f"tensorly tucker {t_peer:.3f} s (of which sampling {t_sample:.3f} s; rel. max err "
              f"{err_peer:.1e}, peak {m_peer:.0f} MB) | speed-up {t_peer / t_nla:.1f}x "
              f"(tucker alone {(t_peer - t_sample) / t_nla:.1f}x), memory {m_peer / m_nla:.1f}x")
    bench = ScatteredEvaluation()
    bench.setup()
    t_nla, v = best_seconds(lambda: bench.ft(bench.P), repeat)
    P = bench.P[:peer_points]
    t_peer, w = best_seconds(lambda: chebval3d_blocks(P, bench.C), 1)
    t_peer *= bench.P.shape[0] / P.shape[0]
    print(f"[eval] {bench.P.shape[0]} points, degrees {bench.ft.degrees}, ranks {bench.ft.ranks}: "
          f"nla {t_nla:.3f} s | chebval3d {t_peer:.3f} s"
          f"{'' if P.shape[0] == bench.P.shape[0] else f' (timed on {P.shape[0]} points, scaled)'}"
          f" | speed-up {t_peer / t_nla:.1f}x | max diff {np.abs(v[:len(w)] - w).max():.1e}")


def particle_ranks(draws=60, tols=(1e-8, 5e-8, 1e-7, 3e-7, 1e-6), n_check=5000):
    """Degrees, ranks and relative max errors (over ``n_check`` random points) of the adaptive
    fit of :func:`particles` (50 charges, a = 1) over ``draws`` random draws per ``tol``;
    then, at tol = 5e-8, ranks for 200 charges, the ε-ranks of the samples on a uniform 48^3
    grid (grid-based Tucker) and the ranks and storage at the paper's fixed degree 128."""
    from nla.chebtucker import ChebTucker
    from nla.chebtucker._tucker import st_hosvd

    def summary(values):
        return f"{min(values)}..{max(values)}"
    for tol in tols:
        rel, deg, rank, ratio = [], [], [], []
        for seed in range(draws):
            f, box, _ = particles(seed)
            ft = ChebTucker.fit(f, box, tol=tol)
            P = np.random.default_rng(10**6 + seed).uniform(-5, 5, (n_check, 3))
            v = f(*P.T)
            rel.append(np.abs(ft(P) - v).max() / np.abs(v).max())
            deg += ft.degrees
            rank += ft.ranks
            ratio += [r / m for r, m in zip(ft.ranks, ft.degrees)]
        print(f"[particles, tol {tol:g}, {draws} draws] degrees {summary(deg)}, ranks "
              f"{summary(rank)}, rank/degree {np.mean(ratio):.2f}, rel. max err min "
              f"{min(rel):.1e} median {np.median(rel):.1e} max {max(rel):.1e}, "
              f"{sum(r >= 1e-6 for r in rel)} draws >= 1e-6")
    tol, x = 5e-8, np.linspace(-5, 5, 48)
    for seed in range(min(draws, 30)):
        f, box, _ = particles(seed)
        ft = ChebTucker.fit(f, box, tol=tol)
        grid = st_hosvd(np, f(x[:, None, None], x[None, :, None], x[None, None, :]),
                        tol=tol)[0].shape
        f200, _, _ = particles(seed, n=200)
        line = (f"[seed {seed}, tol {tol:g}] degrees {ft.degrees} ranks {ft.ranks} | grid 48^3 "
                f"HOSVD {grid} | 200 charges {ChebTucker.fit(f200, box, tol=tol).ranks}")
        if seed < 5:
            fixed = ChebTucker.fit(f, box, degree=128, tol=tol, hooi_iters=0)
            line += (f" | degree 128: ranks {fixed.ranks}, full coefficient tensor / Tucker "
                     f"storage {8 * 129**3 / fixed.nbytes:.0f}x")
        print(line)


if __name__ == "__main__":
    import sys
    if sys.argv[1:2] == ["ranks"]:
        particle_ranks()
    else:
        main(peer_points=int(sys.argv[1]) if len(sys.argv) > 1 else N_POINTS)
