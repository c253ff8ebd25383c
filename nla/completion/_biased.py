"""Regularized alternating least squares with offsets (ALS-WR with biases) for noisy data.

The model of a rating-like matrix is ``X_ij ~ mu + b_i + c_j + u_i . v_j``, fitted by
minimizing the ALS-WR objective

    sum over (i, j) in Omega of (X_ij - mu - b_i - c_j - u_i . v_j)^2
        + reg * (sum_i n_i (|u_i|^2 + b_i^2) + sum_j n_j (|v_j|^2 + c_j^2))

(``n_i``, ``n_j`` the observation counts). With ``(v_j, c_j)`` fixed, the ``(u_i, b_i)`` of
every row is one ridge problem with the design rows ``[v_j, 1]`` and targets
``X_ij - mu - c_j``: the per-row kernels of the exact-recovery algorithm with one column more,
so a sweep costs what a rank-``k + 1`` sweep costs there, ``O(|Omega| k)`` times a few CG
steps. Each half-step and the update of the unregularized ``mu`` (the mean residual) minimize
the objective exactly over their block (with ``solver='cholesky'``), so it never increases.
"""

import numpy as np

from .._random import stream_key


class BiasedALS:
    """State and sweeps of the biased model; ``U``, ``V`` hold ``[u_i, b_i]``, ``[v_j, c_j]``.

    Parameters
    ----------
    obs : Observations
        Training observations (already scaled by the driver).
    params : dict
        Checked parameters of :class:`AltMinCompleter`.
    U0, V0 : array, shape (m, k) and (n, k)
        Starting factors (the balanced spectral init of the centred data).
    sketch_key : int
        Key of the CountSketch stream (``solver='sketch'``).
    """

    def __init__(self, obs, params, K, xp, U0, V0, sketch_key, mu):
        self.obs, self.params, self.K, self.xp = obs, params, K, xp
        self.k = params["rank"]
        self.mu = float(mu)
        zeros = xp.zeros
        self.U = xp.ascontiguousarray(xp.concatenate([U0, zeros((U0.shape[0], 1), U0.dtype)], 1))
        self.V = xp.ascontiguousarray(xp.concatenate([V0, zeros((V0.shape[0], 1), V0.dtype)], 1))
        self.sketch_key = sketch_key
        self.resid_mean = 0.0

    def sweep(self, it, eta):
        """V-half, then U-half (``mu`` first takes the last mean residual); returns CG steps."""
        self.mu += self.resid_mean
        self.resid_mean = 0.0
        obs = self.obs
        steps = self._half(obs.col_view, self.U, self.V, stream_key(self.sketch_key, 2 * it),
                           eta)
        steps += self._half(obs.row_view, self.V, self.U,
                            stream_key(self.sketch_key, 2 * it + 1), eta)
        return steps

    def _half(self, view, other, X, key, eta):
        p = self.params
        F = design(other, self.xp)
        indptr, indices, data = view
        target = data - data.dtype.type(self.mu) - other[indices, self.k]
        _, iters, _ = self.K.solve_rows(indptr, indices, target, F, X, p["solver"], eta=eta,
                                        floor=p["floor"], max_iter=p["cg_max_iter"],
                                        reg=p["reg"], key=key, sketch_size=p["sketch_size"])
        return float(iters.sum())

    def augmented(self):
        """``(A, B)`` with ``A B^T = b 1^T + 1 c^T + U V^T`` (``[U, b, 1]`` and ``[V, 1, c]``)."""
        xp, k = self.xp, self.k
        one_u = xp.ones((self.U.shape[0], 1), self.U.dtype)
        one_v = xp.ones((self.V.shape[0], 1), self.V.dtype)
        A = xp.concatenate([self.U, one_u], 1)
        B = xp.concatenate([self.V[:, :k], one_v, self.V[:, k:]], 1)
        return xp.ascontiguousarray(A), xp.ascontiguousarray(B)

    def factors(self, scale):
        """``(U, V)`` without the offsets, in the data's units (for callbacks)."""
        root = self.U.dtype.type(np.sqrt(scale))
        return self.U[:, :self.k] * root, self.V[:, :self.k] * root

    def train_rmse(self):
        """RMSE on the training observations.

        Also records the mean residual (the next ``mu``) and ``objective``, the ALS-WR
        objective divided by ``|Omega|`` (in the scaled units of the fit).
        """
        obs, xp = self.obs, self.xp
        resid = obs.vals - predict(self.K, self.mu, *self.augmented(), obs.rows, obs.cols)
        self.resid_mean = float(xp.mean(resid))
        mse = float(xp.mean(resid * resid))
        penalty = sum(float(xp.sum(obs.counts(axis) * xp.sum(F * F, axis=1)))
                      for axis, F in ((0, self.U), (1, self.V)))
        self.objective = mse + self.params["reg"] * penalty / obs.nnz
        return float(np.sqrt(mse))

    def snapshot(self):
        return self.mu, self.U.copy(), self.V.copy(), self.resid_mean

    def restore(self, snap):
        self.mu, self.U, self.V, self.resid_mean = snap


def design(factor, xp):
    """``[factor[:, :k], 1]``: the design of a half-step from the other side's ``[u, b]``."""
    F = xp.empty_like(factor)
    F[:, :-1] = factor[:, :-1]
    F[:, -1] = 1
    return F


def predict(K, mu, A, B, rows, cols):
    """``mu + A[rows] . B[cols]`` (a gather-dot kernel of the engine)."""
    return K.predict(rows, cols, A, B) + A.dtype.type(mu)
