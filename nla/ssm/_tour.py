"""Tour rows of the ssm area: PTD of HiPPO-LegS (against the reference code's optimiser) and
transfer-function evaluation (against NumPy broadcasting)."""

import numpy as np

from .._threads import one_blas_thread
from .._tour import TourRow, timed
from ._hippo import hippo, hippo_diagonal
from ._perturb import kappa_and_gradient, ptd
from ._ssm import transfer_function


def adam_reference(A, lam=1.0, lr=0.1, steps=3000, seed=0):
    """The reference code's optimiser (S4-PTD ``s4_PTD.py`` settings): Adam on
    ``kappa(V)^2 + lam ||E||_F`` from ``E0 = U[0, 0.1)``, returning the final ``E``; real ``E``
    and our analytic gradient instead of autograd through a complex ``eig``."""
    E = 0.1 * np.random.default_rng(seed).random(A.shape)
    m, v = np.zeros_like(E), np.zeros_like(E)
    floor = 1e-12 * np.linalg.norm(A, 2)
    with one_blas_thread():
        for t in range(1, steps + 1):
            kappa, grad, _ = kappa_and_gradient(A + E, floor)
            g = 2 * kappa * grad + lam * E / np.linalg.norm(E)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            E -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    return E


def _cauchy_numpy(lam, b, c, s, chunk=10_000):
    # The obvious NumPy code: broadcast (M, N) Cauchy blocks and sum.
    w = c * b
    out = np.empty(s.shape[0], dtype=complex)
    for i in range(0, s.shape[0], chunk):
        out[i:i + chunk] = (w / (s[i:i + chunk, None] - lam[None, :])).sum(axis=1)
    return out


def rows():
    N = 32
    h = hippo(N)
    normA = np.linalg.norm(h.A, 2)
    t_ptd, r = timed(ptd, h.A, gamma=0.2, random_state=0, repeat=1)
    t_adam, E = timed(adam_reference, h.A, repeat=1)
    lam_adam, V_adam = np.linalg.eig(h.A + E)
    top = lam_adam.real.max()
    stable = "stable" if top < 0 else f"unstable, max Re {top:+.0f}"
    yield TourRow("PTD of HiPPO-LegS", f"N={N}",
                  f"cond(V) {r.info.kappa:.1f} at |E|/|A| {r.info.rel_norm_E:.2f} "
                  f"(Adam: {np.linalg.cond(V_adam):.1f} at "
                  f"{np.linalg.norm(E, 2) / normA:.2f}, {stable})",
                  t_ptd, "Adam 3000 steps (reference)", t_adam,
                  metric="condition number of the eigenvectors V of the perturbed A + E (lower: "
                  "a more trustworthy diagonal form) at perturbation size ||E||/||A||; nla's "
                  "result keeps every eigenvalue in the left half-plane (stable)")

    N = 256
    d = hippo_diagonal(N)                                   # S4D-LegS: diagonal normal part
    b, c, lam = d.B, d.V[0], d.eigenvalues
    s = 1j * np.sort(np.concatenate([np.geomspace(1e-2, 4.0 * N * N, 100_000 - N),
                                     np.abs(lam.imag)]))
    t_nla, G = timed(transfer_function, lam, b, c, s)
    t_np, G_np = timed(_cauchy_numpy, lam, b, c, s)
    err = np.abs(G - 1 / (s + 1))
    yield TourRow("SSM transfer function", f"N={N}, 1e5 freqs",
                  f"max |diff| vs numpy {np.abs(G - G_np).max() / np.abs(G_np).max():.0e}; "
                  f"S4D spike {err.max():.2f} at {s[np.argmax(err)].imag / (N * N / np.pi):.3f}"
                  " N^2/pi", t_nla, "numpy broadcast", t_np,
                  metric="largest difference from the NumPy evaluation relative to max |G|; "
                  "then the largest error of S4D-LegS as an approximation of 1/(s+1): the "
                  "known spike of the diagonal (S4D) form near omega = N^2/pi")
