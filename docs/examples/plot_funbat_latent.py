"""
Functional Bayesian Tucker decomposition
========================================

:class:`nla.FunBaT` fits a tensor whose indices are continuous coordinates. Here 675 noisy
samples of ``y = u1(x1) u2(x2)`` with ``u1(t) = sin²(2πt) cos(2πt)`` and
``u2(t) = e^{-2t} sin(1.5πt)`` are scattered over the unit square, with no training data for
``0.45 < x1 < 0.7``. A rank-1 FunBaT-CP model learns the two latent functions with Matérn-3/2
GP priors. Their posterior bands are narrow where there is data, widen across the gap, and
return to the prior outside the training range (the model extrapolates exactly with the
state-space chain, so the mean decays to zero there).
"""

import matplotlib.pyplot as plt
import numpy as np

import nla

rng = np.random.default_rng(3)
X = rng.uniform(size=(900, 2))
X = X[(X[:, 0] < 0.45) | (X[:, 0] > 0.7)][:675]


def u1(t):
    return np.sin(2 * np.pi * t) ** 2 * np.cos(2 * np.pi * t)


def u2(t):
    return np.exp(-2 * t) * np.sin(1.5 * np.pi * t)


y = u1(X[:, 0]) * u2(X[:, 1]) + 0.005 * rng.normal(size=len(X))

model = nla.FunBaT(rank=1, cp=True, lengthscale=0.1, variance=0.5, n_epochs=60,
                   random_state=0).fit(X, y)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
grid = np.linspace(-0.15, 1.15, 400)
for mode, (ax, truth) in enumerate(zip(axes[:2], (u1, u2))):
    mean, std = model.latent_functions(mode, grid)
    # CP rank 1 is identified up to the scale and sign of each factor: match to the truth.
    inside = (grid >= 0) & (grid <= 1)
    scale = np.dot(mean[inside, 0], truth(grid[inside])) / np.dot(mean[inside, 0],
                                                                   mean[inside, 0])
    ax.fill_between(grid, scale * (mean[:, 0] - 2 * std[:, 0]),
                    scale * (mean[:, 0] + 2 * std[:, 0]), alpha=0.3, label="±2 std")
    ax.plot(grid, scale * mean[:, 0], label="posterior mean")
    ax.plot(grid, truth(grid), "k--", lw=1, label="truth")
    ax.plot(model.unique_coords_[mode], np.full(model.unique_coords_[mode].size,
                                                ax.get_ylim()[0]), "|", color="gray",
            label="training coordinates")
    ax.set_title(f"latent function of mode {mode + 1}")
    ax.set_xlabel(f"x{mode + 1}")
    ax.set_ylabel(f"u{mode + 1}(x{mode + 1})")
axes[0].axvspan(0.45, 0.7, color="orange", alpha=0.1, label="no training data")
axes[0].legend(loc="upper right", fontsize=7)

axes[2].semilogy(model.history_["train_rmse"])
axes[2].set_xlabel("epoch")
axes[2].set_ylabel("training RMSE")
axes[2].set_title("convergence")
fig.tight_layout()

Xq = np.c_[[0.1, 0.35, 0.57, 0.85, 1.1], np.full(5, 0.3)]
mean, std = model.predict(Xq, return_std=True)
print("x1   prediction   std     truth")
for x1, m, s, t in zip(Xq[:, 0], mean, std, u1(Xq[:, 0]) * u2(0.3)):
    print(f"{x1:.2f}  {m:+.4f}     {s:.4f}  {t:+.4f}")
