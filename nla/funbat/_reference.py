"""A plain NumPy FunBaT with per-observation message storage (the reference code's layout).

Slow and memory hungry on purpose: every observation keeps its own damped messages to every
factor (N x r x r per mode), to the core (N x R x R) and to the noise precision, and the
Kalman smoother is a Python loop. It is the oracle that the per-coordinate sums of the Numba
and CuPy kernels must reproduce (damping is linear, so the two agree up to rounding), and the
peer of the speed benchmark. Not part of the public API.
"""

import numpy as np

from ._statespace import MATERN12, stationary_cov, transition


def _kron_rows(factors):
    # Row-wise Kronecker product of (N, a), (N, b), ... (first factor slowest).
    out = np.ones((factors[0].shape[0], 1)) if factors else None
    for f in factors:
        out = (out[:, :, None] * f[:, None, :]).reshape(out.shape[0], -1)
    return out


def _kron_mats(factors, N):
    # Per-row Kronecker product of (N, a, a), (N, b, b), ... -> (N, ab, ab).
    out = np.ones((N, 1, 1))
    for f in factors:
        a, b = out.shape[1], f.shape[1]
        out = (out[:, :, None, :, None] * f[:, None, :, None, :]).reshape(N, a * b, a * b)
    return out


def kalman_smoother_loop(gaps, lam, eta, kind, ell, var):
    """Kalman filter + RTS smoother as a Python loop (same outputs as the Numba kernel)."""
    J, r = eta.shape
    d = 1 if kind == MATERN12 else 2
    D = d * r
    H = np.zeros((r, D))
    H[np.arange(r), np.arange(r) * d] = 1.0
    eye_r = np.eye(r)
    Pinf = np.kron(eye_r, stationary_cov.py_func(kind, ell, var))
    mf, Pf = np.zeros((J, D)), np.zeros((J, D, D))
    mp, Pp = np.zeros((J, D)), np.zeros((J, D, D))
    As = np.zeros((J, D, D))
    for j in range(J):
        if j == 0:
            Pp[j] = Pinf
        else:
            A, Q = transition.py_func(kind, ell, var, gaps[j])
            As[j] = np.kron(eye_r, A)
            mp[j] = As[j] @ mf[j - 1]
            Pp[j] = As[j] @ Pf[j - 1] @ As[j].T + np.kron(eye_r, Q)
        PHt = Pp[j] @ H.T
        M = eye_r + lam[j] @ H @ PHt
        mf[j] = mp[j] + PHt @ np.linalg.solve(M, eta[j] - lam[j] @ H @ mp[j])
        S = np.linalg.solve(M, lam[j])
        Pf[j] = Pp[j] - PHt @ (0.5 * (S + S.T)) @ PHt.T
        Pf[j] = 0.5 * (Pf[j] + Pf[j].T)
    ms, Ps = mf.copy(), Pf.copy()
    for j in range(J - 2, -1, -1):
        G = np.linalg.solve(Pp[j + 1], As[j + 1] @ Pf[j]).T
        ms[j] = mf[j] + G @ (ms[j + 1] - mp[j + 1])
        Ps[j] = Pf[j] + G @ (Ps[j + 1] - Pp[j + 1]) @ G.T
        Ps[j] = 0.5 * (Ps[j] + Ps[j].T)
    return mf, Pf, ms, Ps


class ReferenceFunBaT:
    """Per-observation FunBaT epochs on a prepared problem and initial state (NumPy only).

    Parameters
    ----------
    prob : nla.funbat._model.Problem
        Prepared data (NumPy engine).
    st : nla.funbat._model.State
        Initial state; updated in place by :meth:`epoch`.
    damping : (float, float, float)
    core_prior_var : float
    """

    def __init__(self, prob, st, damping, core_prior_var=1.0):
        self.prob, self.st = prob, st
        self.damping = damping
        self.core_prior_var = core_prior_var
        N = prob.inv.shape[0]
        self.msg_lam = [np.zeros((N, r, r)) for r in prob.ranks]
        self.msg_eta = [np.zeros((N, r)) for r in prob.ranks]
        if not prob.cp:
            R = prob.core_digits.shape[0]
            self.msg_core_lam = np.zeros((N, R, R))
            self.msg_core_eta = np.zeros((N, R))
        self.msg_rate = None

    def _gather(self, i):
        prob, st = self.prob, self.st
        r = prob.ranks[i]
        idx = prob.inv[:, i]
        return st.m_all[i, idx, :r], st.M2_all[i, idx, :r, :r]

    def _mode(self, k):
        prob, st = self.prob, self.st
        N, K = prob.inv.shape
        r = prob.ranks[k]
        others = [i for i in range(K) if i != k]
        ms, M2s = zip(*[self._gather(i) for i in others]) if others else ((), ())
        if prob.cp:
            Ea = np.prod(np.stack(ms), axis=0) if ms else np.ones((N, r))
            Eaa = np.prod(np.stack(M2s), axis=0) if M2s else np.ones((N, r, r))
        else:
            z = _kron_rows(list(ms))
            Z2 = _kron_mats(list(M2s), N)
            ranks = prob.ranks
            W = st.mu.reshape(ranks)
            Wk = np.moveaxis(W, k, 0).reshape(r, -1)
            E = (st.Sw + np.outer(st.mu, st.mu)).reshape(ranks + ranks)
            E = np.transpose(E, [k] + others + [K + k] + [K + i for i in others])
            E = E.reshape(r, Wk.shape[1], r, Wk.shape[1])
            Ea = z @ Wk.T
            Eaa = np.einsum("nst,psqt->npq", Z2, E)
        rho = self.damping[0]
        self.msg_lam[k] = rho * self.msg_lam[k] + (1 - rho) * st.tau * Eaa
        self.msg_eta[k] = rho * self.msg_eta[k] + (1 - rho) * st.tau * prob.y[:, None] * Ea

    def _smooth(self, k):
        prob, st = self.prob, self.st
        J, r = prob.coords[k].size, prob.ranks[k]
        lam = np.zeros((J, r, r))
        eta = np.zeros((J, r))
        np.add.at(lam, prob.inv[:, k], self.msg_lam[k])
        np.add.at(eta, prob.inv[:, k], self.msg_eta[k])
        lam = 0.5 * (lam + lam.transpose(0, 2, 1))
        chain = kalman_smoother_loop(prob.gaps[k], lam, eta, prob.kinds[k], prob.ells[k],
                                     prob.variances[k])
        st.chains[k] = chain
        d = chain[0].shape[1] // r
        h = np.arange(r) * d
        m = chain[2][:, h]
        V = chain[3][:, h[:, None], h[None, :]]
        st.m_all[k, :J, :r] = m
        st.M2_all[k, :J, :r, :r] = V + m[:, :, None] * m[:, None, :]

    def epoch(self, update_tau, gauss_seidel=True):
        prob, st = self.prob, self.st
        N, K = prob.inv.shape
        if gauss_seidel:
            for k in range(K):
                self._mode(k)
                self._smooth(k)
        else:
            for k in range(K):
                self._mode(k)
            for k in range(K):
                self._smooth(k)
        if prob.cp:
            ms, M2s = zip(*[self._gather(i) for i in range(K)])
            f = np.prod(np.stack(ms), axis=0).sum(axis=1)
            f2 = np.prod(np.stack(M2s), axis=0).sum(axis=(1, 2))
            beta = 0.5 * (prob.y ** 2 - 2 * prob.y * f + f2)
        else:
            ms, M2s = zip(*[self._gather(i) for i in range(K)])
            z = _kron_rows(list(ms))
            ZZ = _kron_mats(list(M2s), N)
            rho = self.damping[1]
            self.msg_core_lam = rho * self.msg_core_lam + (1 - rho) * st.tau * ZZ
            self.msg_core_eta = rho * self.msg_core_eta + (1 - rho) * st.tau * prob.y[:, None] * z
            R = z.shape[1]
            prec = self.msg_core_lam.sum(axis=0) + np.eye(R) / self.core_prior_var
            st.Sw = np.linalg.inv(0.5 * (prec + prec.T))
            st.Sw = 0.5 * (st.Sw + st.Sw.T)
            st.mu = st.Sw @ self.msg_core_eta.sum(axis=0)
            E = st.Sw + np.outer(st.mu, st.mu)
            beta = 0.5 * (prob.y ** 2 - 2 * prob.y * (z @ st.mu)
                          + np.einsum("nst,st->n", ZZ, E))
        if update_tau:
            rho = self.damping[2]
            self.msg_rate = beta if self.msg_rate is None else \
                rho * self.msg_rate + (1 - rho) * beta
            st.tau = (prob.a0 + 0.5 * N) / (prob.b0 + self.msg_rate.sum())
