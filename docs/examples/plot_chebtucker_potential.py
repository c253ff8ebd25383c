"""
Chebyshev–Tucker: long-range potential of 50 charges
====================================================

The long-range part of the electrostatic potential of 50 random charges in
:math:`[-5, 5]^3`, :math:`V(x) = \\sum_i q_i \\operatorname{erf}(|x - x_i| / a) / |x - x_i|`
with :math:`a = 1` (the smooth half of the range-separated Newton kernel
:math:`1/r = \\operatorname{erf}(r/a)/r + \\operatorname{erfc}(r/a)/r`), is approximated by
:class:`nla.ChebTucker` to a relative tolerance of :math:`10^{-8}`.

Left: the decay of the Chebyshev coefficients along each mode (largest :math:`|C|` over the
other indices), which decides the degree adaptively. Middle: the singular values of the
unfoldings of the coefficient tensor, which decide the Tucker ranks. Right: the error on the
plane :math:`z = 0` against the direct sum over the charges, on a grid the fit never saw.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import erf

import nla

rng = np.random.default_rng(0)
centers = rng.uniform(-5, 5, (50, 3))
charges = rng.choice([-1.0, 1.0], 50)
a = 1.0


def potential(x, y, z):
    out = 0.0
    for c, q in zip(centers, charges):
        r = np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2)
        safe = np.where(r > 1e-12, r, 1.0)
        out = out + q * np.where(r > 1e-12, erf(safe / a) / safe, 2 / (a * math.sqrt(math.pi)))
    return out


box = [[-5.0, 5.0]] * 3
ft = nla.ChebTucker.fit(potential, box, tol=1e-8)
print(ft)
print("degrees tried:", ft.info.degree_history)
print(f"storage: {ft.nbytes / 1e3:.0f} kB instead of {8 * 128**3 / 1e6:.0f} MB for a 128^3 grid")

xs = np.linspace(-5, 5, 201)
approx = ft.on_grid(xs, xs, np.array([0.0]))[:, :, 0]
exact = potential(xs[:, None], xs[None, :], 0.0)
err = np.abs(approx - exact) / np.abs(exact).max()
print(f"max relative error on the plane z = 0: {err.max():.1e}")

fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for k, decay in enumerate(ft.info.coefficient_decay):
    axes[0].semilogy(decay / decay.max(), ".-", label=f"mode {k + 1}")
axes[0].axhline(1e-8, color="gray", ls=":", label="tol")
axes[0].set(xlabel="Chebyshev index", ylabel="max |C| / max", title="coefficient decay")
axes[0].legend()
for k, s in enumerate(ft.info.singular_values):
    axes[1].semilogy(s / s[0], ".-", label=f"mode {k + 1} (rank {ft.ranks[k]})")
axes[1].set(xlabel="index", ylabel="singular value / largest",
            title="singular values of the unfoldings")
axes[1].legend()
im = axes[2].pcolormesh(xs, xs, np.log10(err.T + 1e-17), shading="auto", cmap="viridis")
axes[2].plot(*centers[np.abs(centers[:, 2]) < 1][:, :2].T, "w.", ms=4)
axes[2].set(xlabel="x", ylabel="y", title="log10 relative error, z = 0", aspect="equal")
fig.colorbar(im, ax=axes[2])
fig.tight_layout()
plt.show()
