"""Data preparation and one epoch of FunBaT's conditional-EP updates (engine neutral).

:class:`Problem` holds everything that depends only on the training data (sorted unique
coordinates per mode, the inverse maps, the observation grouping, Kronecker index tables);
:class:`State` holds the approximate posterior and the damped message sums. :func:`run_epoch`
is the algorithm: per-mode messages, Kalman/RTS smoothing, core update, noise update. Arrays
live on the engine of the data (NumPy or CuPy, through ``kern.xp``); the sequential smoother
runs on the host.
"""

from dataclasses import dataclass

import numpy as np

from .._random import stream_key, uniform_xp
from ._statespace import KERNEL_CODES

#: Random streams of FunBaT's initialisation (see nla._random; >= 16 are per-area).
STREAM_FACTOR_INIT = 16
STREAM_CORE_INIT = 17

#: Initial posterior variance of factor values and core entries (small: a large initial
#: variance acts as a ridge on the first updates and drives the multilinear fit to zero).
INIT_VAR = 0.01


def kron_digits(ranks, modes):
    """(P, K) table: row s holds the multi-index of entry s of ⊗_{i in modes} (C order)."""
    K = len(ranks)
    shape = [ranks[i] for i in modes]
    P = int(np.prod(shape)) if shape else 1
    digits = np.zeros((P, K), dtype=np.int64)
    if shape:
        idx = np.indices(shape).reshape(len(shape), -1).T
        for col, i in enumerate(modes):
            digits[:, i] = idx[:, col]
    return digits


@dataclass
class Problem:
    """Training data in the form the updates need (built once per fit)."""

    inv: object            # (N, K) int64, engine array
    y: object              # (N,) float64, standardised, engine array
    coords: list           # per mode: sorted unique scaled coordinates (host)
    gaps: list             # per mode: differences of coords (host; gaps[0] = 0)
    order: list            # per mode: observations sorted by coordinate (engine)
    indptr: list           # per mode: CSR pointers into order (engine)
    ranks: tuple
    kinds: tuple           # kernel codes per mode
    ells: tuple
    variances: tuple
    cp: bool
    ranks_arr: object = None   # ranks as an int64 engine array (kernel argument)
    core_digits: object = None # (R, K) multi-index of every core entry (host)
    core_mode: int = 0         # mode whose coordinate sums build the core statistics
    sum_y2: float = 0.0
    a0: float = 1.0       # Gamma prior of τ (shape, rate)
    b0: float = 1.0

    @property
    def n_modes(self):
        return len(self.ranks)


def build_problem(scaled, y, ranks, kinds, ells, variances, cp, kern):
    """``Problem`` from scaled host coordinates (N, K) and standardised host targets (N,)."""
    xp = kern.xp
    N, K = scaled.shape
    inv = np.empty((N, K), dtype=np.int64)
    coords, gaps, order, indptr = [], [], [], []
    for k in range(K):
        uniq, inv[:, k] = np.unique(scaled[:, k], return_inverse=True)
        if uniq.size < 2:
            raise ValueError(f"coords: mode {k} has {uniq.size} unique coordinate; "
                             "each mode needs at least 2")
        coords.append(uniq)
        gaps.append(np.concatenate([[0.0], np.diff(uniq)]))
        order.append(xp.asarray(np.argsort(inv[:, k], kind="stable")))
        counts = np.bincount(inv[:, k], minlength=uniq.size)
        indptr.append(xp.asarray(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)))
    prob = Problem(inv=xp.asarray(inv), y=xp.asarray(y), coords=coords, gaps=gaps, order=order,
                   indptr=indptr, ranks=tuple(ranks), kinds=tuple(KERNEL_CODES[k] for k in kinds),
                   ells=tuple(ells), variances=tuple(variances), cp=cp,
                   sum_y2=float(np.dot(y, y)))
    prob.ranks_arr = xp.asarray(np.asarray(ranks, dtype=np.int64))
    prob.core_digits = kron_digits(ranks, list(range(K)))
    # Σ_n ⊗_i M2_i = Σ_j M2_k(c_j) ⊗ (Σ_{n at c_j} ⊗_{i≠k} M2_i): the per-observation work is
    # (R/r_k)^2 instead of R^2; pick the mode with the cheapest total.
    R = int(np.prod(ranks))
    cost = [N * (R // r) ** 2 + c.size * R * R for r, c in zip(ranks, coords)]
    prob.core_mode = int(np.argmin(cost))
    return prob


@dataclass
class State:
    """Approximate posterior q(U) q(W) q(τ) and the damped message sums."""

    m_all: object          # (K, Jmax, rmax) posterior means of the factors at coordinates
    M2_all: object         # (K, Jmax, rmax, rmax) second moments
    lam: list              # per mode (J, r, r) damped message precisions
    eta: list              # per mode (J, r) damped message shifts
    chains: list           # per mode (mf, Pf, ms, Ps) of the last smoothing (host)
    mu: object = None      # (R,) core mean (Tucker)
    Sw: object = None      # (R, R) core covariance (Tucker)
    core_lam: object = None
    core_eta: object = None
    tau: float = 1.0       # E[τ]
    tau_rate_msg: float = None   # damped Σ β_n (None until the first τ update)
    ZZ: object = None      # last core statistics (Tucker)
    yz: object = None


def initial_state(prob, seed, tau_init, kern):
    """Random factor means U(0, 1) per unique coordinate, small variances, core likewise.

    Draws are keyed by the coordinate value (not by the mode or the row), so shuffling the
    rows or permuting the modes of the data permutes the initial state exactly.
    """
    xp = kern.xp
    K = prob.n_modes
    rmax = max(prob.ranks)
    Jmax = max(c.size for c in prob.coords)
    m_all = np.zeros((K, Jmax, rmax))
    M2_all = np.zeros((K, Jmax, rmax, rmax))
    key = stream_key(seed, STREAM_FACTOR_INIT)
    for k, (c, r) in enumerate(zip(prob.coords, prob.ranks)):
        rows = np.ascontiguousarray(c).view(np.uint64)
        m = uniform_xp(np, key, rows[:, None], np.arange(r, dtype=np.uint64)[None, :])
        m_all[k, :c.size, :r] = m
        M2_all[k, :c.size, :r, :r] = INIT_VAR * np.eye(r) + m[:, :, None] * m[:, None, :]
    st = State(m_all=xp.asarray(m_all), M2_all=xp.asarray(M2_all),
               lam=[xp.zeros((c.size, r, r)) for c, r in zip(prob.coords, prob.ranks)],
               eta=[xp.zeros((c.size, r)) for c, r in zip(prob.coords, prob.ranks)],
               chains=[None] * K, tau=float(tau_init))
    if not prob.cp:
        R = prob.core_digits.shape[0]
        # Keyed by the sorted multi-index: a symmetric function, hence mode-permutation equivariant.
        multi = np.sort(prob.core_digits, axis=1)
        code = np.zeros(R, dtype=np.uint64)
        for col in range(K):
            code = code * np.uint64(64) + multi[:, col].astype(np.uint64)
        mu = uniform_xp(np, stream_key(seed, STREAM_CORE_INIT), code, np.zeros(R, np.uint64))
        st.mu = xp.asarray(mu)
        st.Sw = xp.asarray(INIT_VAR * np.eye(R))
        st.core_lam = xp.zeros((R, R))
        st.core_eta = xp.zeros(R)
    return st


def _core_second_moment(st, xp):
    return st.Sw + xp.outer(st.mu, st.mu)


def mode_messages(prob, st, k, kern):
    """Undamped messages (Λ̄_j, η̄_j) of all coordinates of mode k (includes E[τ])."""
    xp = kern.xp
    r = prob.ranks[k]
    if prob.cp:
        lam, eta = kern.cp_mode_sums(prob.inv, prob.y, prob.order[k], prob.indptr[k],
                                     st.m_all, st.M2_all, k, r)
        return st.tau * lam, st.tau * eta
    K = prob.n_modes
    J = prob.coords[k].size
    ranks = prob.ranks
    P = int(np.prod(ranks)) // r
    Z2, z = kern.tucker_mode_sums(prob.inv, prob.y, prob.order[k], prob.indptr[k],
                                  st.m_all, st.M2_all, k, prob.ranks_arr)
    # E[W_(k) Z2 W_(k)'] = Σ_{s,t} E[W(p,s) W(q,t)] Z2[s,t]: E[ww'] rearranged to (P², r²).
    others = [i for i in range(K) if i != k]
    E = _core_second_moment(st, xp).reshape(ranks + ranks)
    E = xp.transpose(E, [k] + others + [K + k] + [K + i for i in others])
    E = E.reshape(r, P, r, P).transpose(1, 3, 0, 2).reshape(P * P, r * r)
    lam = (Z2.reshape(J, P * P) @ E).reshape(J, r, r)
    lam = 0.5 * (lam + lam.transpose(0, 2, 1))
    Mk = xp.moveaxis(st.mu.reshape(ranks), k, 0).reshape(r, P)
    eta = z @ Mk.T
    return st.tau * lam, st.tau * eta


def smooth_mode(prob, st, k, kern):
    """Kalman/RTS on the damped sums of mode k; refresh its factor moments."""
    xp = kern.xp
    r = prob.ranks[k]
    J = prob.coords[k].size
    mf, Pf, ms, Ps = kern.kalman_smoother(prob.gaps[k], st.lam[k], st.eta[k], prob.kinds[k],
                                          prob.ells[k], prob.variances[k])
    st.chains[k] = (mf, Pf, ms, Ps)
    d = mf.shape[1] // r
    h = np.arange(r) * d
    m = ms[:, h]
    V = Ps[:, h[:, None], h[None, :]]
    st.m_all[k, :J, :r] = xp.asarray(m)
    st.M2_all[k, :J, :r, :r] = xp.asarray(V + m[:, :, None] * m[:, None, :])


def run_epoch(prob, st, damping, update_tau, gauss_seidel, core_prior_var, kern):
    """One sweep of conditional EP: factors, core (Tucker), noise precision."""
    xp = kern.xp
    rho_u, rho_w, rho_t = damping
    K = prob.n_modes

    def damp_mode(k):
        lam, eta = mode_messages(prob, st, k, kern)
        st.lam[k] = rho_u * st.lam[k] + (1.0 - rho_u) * lam
        st.eta[k] = rho_u * st.eta[k] + (1.0 - rho_u) * eta

    if gauss_seidel:
        for k in range(K):
            damp_mode(k)
            smooth_mode(prob, st, k, kern)
    else:  # Jacobi: all messages from the same old posterior, then all smoothers
        for k in range(K):
            damp_mode(k)
        for k in range(K):
            smooth_mode(prob, st, k, kern)
    if not prob.cp:
        R = prob.core_digits.shape[0]
        st.ZZ, st.yz = core_statistics(prob, st, kern)
        st.core_lam = rho_w * st.core_lam + (1.0 - rho_w) * st.tau * st.ZZ
        st.core_eta = rho_w * st.core_eta + (1.0 - rho_w) * st.tau * st.yz
        prec = st.core_lam + xp.eye(R) / core_prior_var
        st.Sw = xp.linalg.inv(0.5 * (prec + prec.T))
        st.Sw = 0.5 * (st.Sw + st.Sw.T)
        st.mu = st.Sw @ st.core_eta
    if update_tau:
        rate = 0.5 * expected_sq_error(prob, st, kern)
        st.tau_rate_msg = rate if st.tau_rate_msg is None else \
            rho_t * st.tau_rate_msg + (1.0 - rho_t) * rate
        st.tau = (prob.a0 + 0.5 * prob.y.shape[0]) / (prob.b0 + st.tau_rate_msg)


def core_statistics(prob, st, kern):
    """``ZZ`` = Σ_n ⊗_i M2_i (R, R) and ``yz`` = Σ_n y_n ⊗_i m_i (R,) (core messages / E[τ]).

    The per-coordinate sums of one mode k (a kernel) contracted with mode k's own moments by
    one GEMM, then the axes put back in C order.
    """
    xp = kern.xp
    k, ranks, K = prob.core_mode, prob.ranks, prob.n_modes
    r, J = ranks[k], prob.coords[k].size
    R = int(np.prod(ranks))
    P = R // r
    Z2, z = kern.tucker_mode_sums(prob.inv, prob.y, prob.order[k], prob.indptr[k],
                                  st.m_all, st.M2_all, k, prob.ranks_arr)
    M2k = st.M2_all[k, :J, :r, :r].reshape(J, r * r)
    S = (M2k.T @ Z2.reshape(J, P * P)).reshape(r, r, P, P).transpose(0, 2, 1, 3)
    others = [ranks[i] for i in range(K) if i != k]
    S = S.reshape([r] + others + [r] + others)
    ZZ = xp.moveaxis(S, (0, K), (k, K + k)).reshape(R, R)
    yz = xp.moveaxis((st.m_all[k, :J, :r].T @ z).reshape([r] + others), 0, k).reshape(R)
    return 0.5 * (ZZ + ZZ.T), yz


def expected_sq_error(prob, st, kern):
    """Σ_n E_q[(y_n - f_n)^2] under the current posterior."""
    xp = kern.xp
    if prob.cp:
        return float(kern.cp_sq_error(prob.inv, prob.y, st.m_all, st.M2_all, prob.ranks[0]))
    E = _core_second_moment(st, xp)
    return float(prob.sum_y2 - 2.0 * st.mu @ st.yz + xp.sum(E * st.ZZ))


def predict_moments(prob, st, inv, m_all, M2_all, second, kern):
    """Mean and second moment of f at rows ``inv`` of the moment tables ``m_all``, ``M2_all``."""
    xp = kern.xp
    if prob.cp:
        return kern.cp_predict(inv, m_all, M2_all, prob.ranks[0], second)
    Ew2 = _core_second_moment(st, xp) if second else xp.zeros((1, 1))
    return kern.tucker_predict(inv, m_all, M2_all, prob.ranks_arr, st.mu, Ew2, second)
