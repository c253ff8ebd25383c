"""
Coordinate-wise (l_inf) error of sketch-and-solve
=================================================

Sketch-and-solve replaces ``min ||A x - b||`` by the ``m``-row problem ``min ||S A x - S b||``.
With a dense sketch the error of every coordinate is, with probability ``1 - delta``,

    ``|x'_i - x*_i| <= eps / sqrt(d) * ||A x* - b|| * ||A^+||``,

and ``eps`` falls like ``1 / sqrt(m)``. We plot ``eps_eff = sqrt(d) ||x' - x*||_inf /
(||r|| ||A^+||)`` against ``m`` on the hard instance of the research note: ``A = [I_d; 0]`` and
``b`` a unit spike on a zero row (``x* = 0``, ``||r|| = ||A^+|| = 1``). Sparse sketches are
exact most of the time but, when the spike's bucket meets one of the heavy rows, they are
off by the whole error scale: their tail does not shrink with ``m``.

The second figure is the cost model: the time of the sketch (``O(n d log n)`` for the SRHT)
and of the small solve (``O(m d^2)``) beside LAPACK's ``O(n d^2)``, as ``n / d`` grows.
"""

import time

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter, ScalarFormatter
import numpy as np
import scipy.linalg

import nla
from nla.sketching._lstsq import linf_eps

rng = np.random.default_rng(0)
n, d, trials = 2048, 16, 200
sizes = [64, 128, 256, 512]
A = np.zeros((n, d))
A[:d] = np.eye(d)

fig, ax = plt.subplots(figsize=(6.4, 4.2))
for kind, style in [("gaussian", "o-"), ("srht", "s-"), ("hgp", "^-"),
                    ("sparse_sign", "v--"), ("countsketch", "x--")]:
    q95 = []
    for m in sizes:
        errs = []
        for _ in range(trials):
            b = np.zeros(n)
            b[rng.integers(d, n)] = 1.0
            S = nla.sketch(kind, m, n, random_state=int(rng.integers(2**63)))
            SAb = S @ np.column_stack([A, b])
            x = np.linalg.lstsq(SAb[:, :d], SAb[:, d], rcond=None)[0]
            errs.append(np.sqrt(d) * np.abs(x).max())
        q95.append(np.quantile(errs, 0.95))
    ax.semilogx(sizes, q95, style, label=kind)   # linear in eps: an exact sketch's 0 is drawn
ax.semilogx(sizes, [linf_eps(m, d, 0.05) for m in sizes], "k:",
            label="guaranteed eps (delta=5%)")
ax.set_xticks(sizes)
ax.xaxis.set_major_formatter(ScalarFormatter())
ax.xaxis.set_minor_formatter(NullFormatter())
ax.set_xlabel("sketch size m")
ax.set_ylabel("95th percentile of eps_eff")
ax.set_title(f"spike instance, n={n}, d={d}, {trials} sketches per point")
ax.legend(fontsize=8)
fig.tight_layout()

# %%
# Cost model: sketch + small solve against LAPACK as n / d grows (d = 32, eps = 0.5).

d = 32
ns = [2**12, 2**13, 2**14, 2**15, 2**16, 2**17]
t_sketch, t_solve, t_lapack = [], [], []


def best_of_3(f):
    """The fastest of three calls, in seconds: the figure is about cost, not about load."""
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


nla.lstsq(rng.standard_normal((4096, d)), rng.standard_normal(4096), sketch_size=300)
for n in ns:
    A = rng.standard_normal((n, d))
    b = A @ rng.standard_normal(d) + rng.standard_normal(n)
    m = min(n // 2, 800)
    S = nla.sketch("srht", m, n, random_state=0)
    Ab = np.column_stack([A, b])
    SAb = S @ Ab
    t_sketch.append(best_of_3(lambda: S @ Ab))
    t_solve.append(best_of_3(lambda: np.linalg.lstsq(SAb[:, :d], SAb[:, d], rcond=None)))
    t_lapack.append(best_of_3(lambda: scipy.linalg.lstsq(A, b, lapack_driver="gelsd")))

fig, ax = plt.subplots(figsize=(6.4, 4.2))
ratio = np.array(ns) / d
ax.loglog(ratio, t_sketch, "o-", label="SRHT sketch of [A | b]")
ax.loglog(ratio, t_solve, "s-", label="QR solve of the m x d sketch")
ax.loglog(ratio, np.add(t_sketch, t_solve), "k-", label="sketch-and-solve total")
ax.loglog(ratio, t_lapack, "^--", label="scipy gelsd on A")
ax.set_xticks(ratio)
ax.xaxis.set_major_formatter(ScalarFormatter())
ax.xaxis.set_minor_formatter(NullFormatter())
ax.set_xlabel("n / d  (d = 32, m = 800)")
ax.set_ylabel("seconds (this machine)")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
