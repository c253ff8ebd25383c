"""Tests of the ptd area: HiPPO matrices, perturb-then-diagonalize, transfer functions,
discretisation and pseudospectra."""

import numpy as np
import pytest
import scipy.linalg

import nla
from nla.ssm import _kernels
from nla.ssm._perturb import kappa_and_gradient


# ---------------------------------------------------------------- HiPPO, entry by entry

def _legs_ref(N):
    A, B = np.zeros((N, N)), np.zeros(N)
    for n in range(N):
        B[n] = np.sqrt(2 * n + 1)
        for k in range(N):
            if n > k:
                A[n, k] = -np.sqrt(2 * n + 1) * np.sqrt(2 * k + 1)
            elif n == k:
                A[n, k] = -(n + 1)
    return A, B


def _legt_ref(N):
    A, B = np.zeros((N, N)), np.zeros(N)
    for n in range(N):
        B[n] = 0.5 * np.sqrt(2 * n + 1)
        for k in range(N):
            sign = 1.0 if n >= k else (-1.0) ** (n - k)
            A[n, k] = -0.5 * np.sqrt(2 * n + 1) * np.sqrt(2 * k + 1) * sign
    return A, B


def _fourier_ref(N, diag):
    B = np.array([1.0] + [np.sqrt(2.0) if n % 2 == 0 else 0.0 for n in range(1, N)])
    A = np.zeros((N, N))
    for j in range(1, N // 2):          # frequency j rotates the (cosine, sine) pair (2j, 2j+1)
        rate = 2 * np.pi * j if diag else np.pi * j      # FouD: 2 pi j; FouT: pi j
        A[2 * j + 1, 2 * j], A[2 * j, 2 * j + 1] = rate, -rate
    if diag:
        return A - 0.5 * np.eye(N), B
    return A - np.outer(B, B), B


@pytest.mark.parametrize("N", [1, 2, 3, 5, 6])
def test_hippo_legs_legt_match_definitions(N):
    for kind, ref in [("legs", _legs_ref), ("legt", _legt_ref)]:
        h = nla.hippo(N, kind)
        A, B = ref(N)
        np.testing.assert_array_equal(h.A, A) if kind == "legs" else \
            np.testing.assert_allclose(h.A, A, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(h.B, B, rtol=1e-15)


@pytest.mark.parametrize("N", [2, 4, 8])
def test_hippo_fourier_match_definitions(N):
    for kind, diag in [("fout", False), ("foud", True)]:
        h = nla.hippo(N, kind)
        A, B = _fourier_ref(N, diag)
        np.testing.assert_allclose(h.A, A, atol=1e-14)
        np.testing.assert_allclose(h.B, B)


@pytest.mark.parametrize("kind", ["legs", "legt", "fout", "foud"])
def test_hippo_normal_plus_low_rank(kind):
    h = nla.hippo(10, kind)
    S = h.A + h.P.T @ h.P
    np.testing.assert_allclose(S, h.S, atol=1e-12)
    np.testing.assert_allclose(S + S.T, 2 * h.shift * np.eye(10), atol=1e-12)   # c I + skew
    np.testing.assert_allclose(S @ S.T, S.T @ S, atol=1e-9 * np.abs(S).max() ** 2)


def test_legs_low_rank_factor_is_half_B():
    h = nla.hippo(7)
    np.testing.assert_allclose(h.P.T @ h.P, 0.5 * np.outer(h.B, h.B), rtol=1e-14)
    np.testing.assert_allclose(np.sort(np.linalg.eigvals(h.A).real), -np.arange(7, 0, -1))


def test_hippo_diagonal_is_an_exact_unitary_diagonalisation():
    d = nla.hippo_diagonal(24)
    h = nla.hippo(24)
    np.testing.assert_allclose(d.V.conj().T @ d.V, np.eye(24), atol=1e-12)
    np.testing.assert_allclose((d.V * d.eigenvalues) @ d.V.conj().T, h.S, atol=1e-11)
    np.testing.assert_allclose(d.eigenvalues.real, -0.5)
    assert abs(np.abs(d.eigenvalues.imag).max() - 24 ** 2 / np.pi) < 0.01 * 24 ** 2 / np.pi


@pytest.mark.parametrize("args, exc", [((0,), ValueError), ((-3,), ValueError),
                                        ((2.5,), TypeError), ((4, "legx"), ValueError),
                                        ((5, "fout"), ValueError), ((3, "foud"), ValueError)])
def test_hippo_bad_input(args, exc):
    with pytest.raises(exc, match="N|kind"):
        nla.hippo(*args)


# ---------------------------------------------------------------- perturb-then-diagonalize

def test_naive_eig_of_legs_is_meaningless():
    A = nla.hippo(64).A
    lam, V = np.linalg.eig(A)
    recon = (V * lam) @ np.linalg.inv(V)
    assert np.linalg.norm(recon - A, 2) / np.linalg.norm(A, 2) > 1.0


def test_kappa_gradient_matches_central_differences(rng):
    M = rng.standard_normal((7, 7))
    D = rng.standard_normal((7, 7))
    kappa, grad, _ = kappa_and_gradient(M, 1e-12)
    h = 1e-6 * kappa
    fd = (kappa_and_gradient(M + h / kappa * D, 1e-12)[0]
          - kappa_and_gradient(M - h / kappa * D, 1e-12)[0]) / (2 * h / kappa)
    assert np.isclose(np.sum(grad * D), fd, rtol=1e-5, atol=1e-7 * kappa)


def _check_ptd(r, A):
    info = r.info
    lam, V, V_inv, E = r.eigenvalues, r.V, r.V_inv, r.E
    normA = np.linalg.norm(A, 2)
    assert np.isrealobj(E)
    # backward error recomputed here, not trusted from info; the two agree up to the rounding
    # of V Lambda V^-1 (about N eps kappa: BLAS thread counts change its last digits)
    back = np.linalg.norm(A + E - (V * lam) @ V_inv, 2) / normA
    rounding = len(lam) * np.finfo(float).eps * info.kappa
    assert back < 1e-10 and np.isclose(info.backward_error, back, rtol=0.5, atol=rounding)
    assert np.isclose(info.kappa, np.linalg.cond(V))
    assert np.isclose(info.rel_norm_E, np.linalg.norm(E, 2) / normA)
    np.testing.assert_allclose(np.linalg.norm(V, axis=0), 1.0)
    np.testing.assert_allclose(np.sort_complex(lam), np.sort_complex(lam.conj()), atol=1e-12)
    np.testing.assert_allclose(V @ V_inv, np.eye(len(lam)), atol=1e-10)


@pytest.mark.parametrize("N", [32, 64])
def test_ptd_legs_well_conditioned_small_and_stable(N, seed):
    A = nla.hippo(N).A
    r = nla.ptd(A, gamma=0.2, random_state=seed)
    _check_ptd(r, A)
    assert r.info.kappa < 20
    assert r.info.rel_norm_E < 0.05
    assert r.info.n_reflected == 0 and r.eigenvalues.real.max() < 0   # stable on its own
    assert r.info.objective[-1] <= r.info.objective[0]


def test_ptd_optimized_beats_random_perturbation_of_same_size(seed):
    A = nla.hippo(64).A
    opt = nla.ptd(A, gamma=0.2, random_state=seed)
    rnd = nla.ptd(A, method="random", eps=opt.info.rel_norm_E, random_state=seed,
                  keep_stable=False)
    _check_ptd(rnd, A)
    assert np.isclose(rnd.info.rel_norm_E, opt.info.rel_norm_E)
    assert rnd.info.kappa > 3 * opt.info.kappa          # measured: 6x to 40x at N = 64


def test_ptd_keep_stable_reflects_and_refolds_E(seed):
    A = nla.hippo(64).A
    loose = nla.ptd(A, method="random", eps=0.05, random_state=seed, keep_stable=False)
    assert loose.info.max_real > 0                      # random E this large destabilises LegS
    r = nla.ptd(A, method="random", eps=0.05, random_state=seed)
    _check_ptd(r, A)
    assert r.info.n_reflected > 0 and r.eigenvalues.real.max() < 0


def test_ptd_same_seed_same_result(seed):
    A = nla.hippo(16).A
    r1, r2 = nla.ptd(A, random_state=seed), nla.ptd(A, random_state=seed)
    np.testing.assert_array_equal(r1.E, r2.E)


def test_ptd_backward_error_failure_raises():
    A = nla.hippo(48).A
    with pytest.raises(np.linalg.LinAlgError, match="backward-error"):
        nla.ptd(A, method="random", eps=1e-15, random_state=0, keep_stable=False)


def test_ptd_bad_input(rng):
    A = rng.standard_normal((5, 5))
    with pytest.raises(ValueError, match="A must be square"):
        nla.ptd(rng.standard_normal((4, 5)))
    with pytest.raises((TypeError, ValueError), match="A must be real"):
        nla.ptd(A + 1j * rng.standard_normal((5, 5)))
    with pytest.raises(ValueError, match="gamma"):
        nla.ptd(A, gamma=0.0)
    with pytest.raises(ValueError, match="gamma"):
        nla.ptd(A, gamma=-1.0)
    with pytest.raises(ValueError, match="eps"):
        nla.ptd(A, method="random")
    with pytest.raises(ValueError, match="eps"):
        nla.ptd(A, method="random", eps=1.5)
    with pytest.raises(ValueError, match="method"):
        nla.ptd(A, method="adam")
    with pytest.raises(ValueError, match="A contains NaN"):
        nla.ptd(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="weights"):
        nla.ptd(A, weights=np.ones((4, 4)))
    # Parameters of the other method are checked too, never silently ignored.
    rand = dict(method="random", eps=0.1)
    for name, value, error, other in [("eps", "x", TypeError, {}), ("eps", 2.0, ValueError, {}),
                                      ("weights", "x", ValueError, rand),
                                      ("callback", 3, TypeError, rand),
                                      ("keep_stable", "yes", TypeError, rand),
                                      ("random_state", "abc", TypeError, rand)]:
        with pytest.raises(error, match=name):
            nla.ptd(A, max_iter=2, **other, **{name: value})
    with pytest.raises(ValueError, match="N is too large"):
        nla.hippo(10**9)


def test_ptd_does_not_modify_input(rng):
    A = nla.hippo(8).A + 0.1 * rng.standard_normal((8, 8))
    copy = A.copy()
    nla.ptd(A, random_state=1)
    np.testing.assert_array_equal(A, copy)


# ---------------------------------------------------------------- transfer functions

def _fine_grid(N, extra=()):
    w = np.concatenate([np.linspace(0.0, 10.0, 2001), np.geomspace(10.0, 4.0 * N * N, 20000),
                        np.abs(np.asarray(extra))])
    return 1j * w


@pytest.mark.parametrize("N", [8, 33])
def test_dense_transfer_function_of_legs_is_one_over_s_plus_one(N, rng):
    h = nla.hippo(N)
    s = rng.standard_normal(200) * 10 + 1j * rng.standard_normal(200) * N * N
    G = nla.transfer_function(h.A, h.B, np.eye(N)[0], s)
    np.testing.assert_allclose(G, 1 / (s + 1), rtol=1e-10, atol=1e-13)


def _dense_reference(A, B, C, s, D=0):
    return np.array([C @ np.linalg.solve(z * np.eye(A.shape[0]) - A, B) for z in s]) + D


def test_transfer_function_diagonal_and_dense_agree_with_direct_solves(rng):
    N, P, Q, M = 9, 2, 3, 40
    lam = -rng.random(N) + 1j * rng.standard_normal(N)
    B = rng.standard_normal((N, P)) + 1j * rng.standard_normal((N, P))
    C = rng.standard_normal((Q, N)) + 1j * rng.standard_normal((Q, N))
    D = rng.standard_normal((Q, P))
    s = 1j * rng.standard_normal(M) * 3
    G = nla.transfer_function(lam, B, C, s, D)
    assert G.shape == (M, Q, P)
    np.testing.assert_allclose(G, _dense_reference(np.diag(lam), B, C, s, D), rtol=1e-11)
    A = rng.standard_normal((N, N))
    Gd = nla.transfer_function(A, B, C, s.reshape(4, 10))
    assert Gd.shape == (4, 10, Q, P)
    np.testing.assert_allclose(Gd.reshape(M, Q, P), _dense_reference(A, B, C, s), rtol=1e-10)
    g = nla.transfer_function(lam, B[:, 0], C[0], s)           # SISO: shape of s
    np.testing.assert_allclose(g, G[:, 0, 0] - D[0, 0], rtol=1e-12)


def test_transfer_function_pole_gives_inf_with_warning(rng):
    lam = np.array([-1.0 + 2j, -3.0])
    with pytest.warns(RuntimeWarning, match="poles"):
        G = nla.transfer_function(lam, np.ones(2), np.ones(2), np.array([-3.0, 1j]))
    assert np.isinf(G[0]) and np.isfinite(G[1])


def test_dense_transfer_function_pole_gives_inf_with_warning():
    # HiPPO-LegS is triangular with eigenvalues -1, -2, ...: s = -1 hits one exactly.
    h = nla.hippo(8)
    with pytest.warns(RuntimeWarning, match="poles"):
        G = nla.transfer_function(h.A, h.B, np.eye(8)[0], np.array([-1.0 + 0j, 1j]))
    assert np.isinf(G[0])
    np.testing.assert_allclose(G[1], 1 / (1j + 1), rtol=1e-12)


def test_object_arrays_of_numbers_are_accepted_like_elsewhere(rng):
    lam = np.array([-1.0 + 2j, -3.0])
    b, c, s = rng.standard_normal(2), rng.standard_normal(2), 1j * rng.standard_normal(3)
    G = nla.transfer_function(lam, b, c, s)
    np.testing.assert_array_equal(
        nla.transfer_function(lam.astype(object), b.astype(object), c, s.astype(object)), G)
    d = nla.discretize(lam, b, 0.1)
    np.testing.assert_array_equal(nla.discretize(lam.astype(object), b, 0.1).B, d.B)
    with pytest.raises(TypeError, match="eigenvalues must hold numbers"):
        nla.discretize(np.array(["a", -1.0], dtype=object), b, 0.1)


def test_ptd_system_tracks_exact_transfer_function_s4d_does_not(seed):
    # B = LegS B and C = e_0: the exact transfer function is 1 / (s + 1) for every N.
    N = 64
    h = nla.hippo(N)
    r = nla.ptd(h.A, gamma=0.2, weights="graded", random_state=seed)
    assert r.info.kappa < 20 and r.info.rel_norm_E < 0.05
    d = nla.hippo_diagonal(N)
    s = _fine_grid(N, np.concatenate([r.eigenvalues.imag, d.eigenvalues.imag]))
    exact = 1 / (s + 1)
    G_ptd = nla.transfer_function(r.eigenvalues, r.V_inv @ h.B, r.V[0], s)
    assert np.abs(G_ptd - exact).max() < 0.1
    G_s4d = nla.transfer_function(d.eigenvalues, d.B, d.V[0], s)
    err = np.abs(G_s4d - exact)
    spike = s[np.argmax(err)].imag
    assert 1.2 < err.max() < 1.35                      # about 4 / pi, whatever N is
    assert abs(spike - N ** 2 / np.pi) < 0.01 * N ** 2 / np.pi
    # the unweighted objective (the paper's) still has a uniform, O(||E||) error bound
    plain = nla.ptd(h.A, gamma=0.2, random_state=seed)
    G_plain = nla.transfer_function(plain.eigenvalues, plain.V_inv @ h.B, plain.V[0], s)
    assert np.abs(G_plain - exact).max() < 0.5


def test_transfer_function_bad_input(rng):
    lam = rng.standard_normal(4) + 0j
    with pytest.raises(ValueError, match="B must have 4 rows"):
        nla.transfer_function(lam, np.ones(3), np.ones(4), [1j])
    with pytest.raises(ValueError, match="C must have 4 columns"):
        nla.transfer_function(lam, np.ones(4), np.ones((2, 3)), [1j])
    with pytest.raises(ValueError, match="A must be square"):
        nla.transfer_function(np.ones((4, 3)), np.ones(4), np.ones(4), [1j])
    with pytest.raises(ValueError, match="s contains NaN"):
        nla.transfer_function(lam, np.ones(4), np.ones(4), [np.nan])
    with pytest.raises(TypeError, match="s must hold numbers"):
        nla.transfer_function(lam, np.ones(4), np.ones(4), ["a"])
    with pytest.raises(ValueError, match="D must broadcast"):
        nla.transfer_function(lam, np.ones(4), np.ones(4), [1j], D=np.ones(3))


def test_transfer_function_does_not_modify_inputs(rng):
    lam = -rng.random(5) + 1j * rng.standard_normal(5)
    B, C, s = rng.standard_normal(5), rng.standard_normal(5), 1j * rng.standard_normal(7)
    copies = [x.copy() for x in (lam, B, C, s)]
    nla.transfer_function(lam, B, C, s)
    for x, c in zip((lam, B, C, s), copies):
        np.testing.assert_array_equal(x, c)


def test_torch_in_torch_out(rng):
    torch = pytest.importorskip("torch")
    lam = -rng.random(5) + 1j * rng.standard_normal(5)
    s = torch.from_numpy(1j * rng.standard_normal(6))
    G = nla.transfer_function(lam, np.ones(5), np.ones(5), s)
    assert isinstance(G, torch.Tensor)
    np.testing.assert_allclose(G.numpy(), nla.transfer_function(lam, np.ones(5), np.ones(5),
                                                                s.numpy()))
    r = nla.ptd(torch.from_numpy(nla.hippo(8).A), random_state=0)
    assert isinstance(r.V, torch.Tensor) and isinstance(r.E, torch.Tensor)


# ---------------------------------------------------------------- discretisation

def test_zoh_matches_matrix_exponential(rng):
    lam = -rng.random(6) + 1j * rng.standard_normal(6)
    lam[0] = 0.0
    b = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    dt = float(rng.uniform(0.01, 0.5))
    d = nla.discretize(lam, b, dt, method="zoh")
    for n in range(6):   # expm of [[lam, b], [0, 0]] dt holds exp(lam dt) and the ZOH input term
        M = scipy.linalg.expm(np.array([[lam[n], b[n]], [0, 0]]) * dt)
        assert np.isclose(d.eigenvalues[n], M[0, 0], rtol=1e-13)
        assert np.isclose(d.B[n], M[0, 1], rtol=1e-12)


def test_bilinear_formula_and_stability(rng):
    lam = -rng.random(50) * 100 + 1j * rng.standard_normal(50) * 1000
    b = rng.standard_normal((50, 2))
    dt = rng.uniform(0.001, 0.1, size=(3, 1))               # three channels, own steps
    d = nla.discretize(lam, b, dt, method="bilinear")
    assert d.eigenvalues.shape == (3, 50) and d.B.shape == (3, 50, 2)
    np.testing.assert_allclose(d.eigenvalues, (2 + dt * lam) / (2 - dt * lam))
    np.testing.assert_allclose(d.B, (dt / (1 - dt * lam / 2))[..., None] * b)
    assert np.abs(d.eigenvalues).max() < 1


def test_discretize_bad_input():
    with pytest.raises(ValueError, match="dt"):
        nla.discretize(np.array([-1.0]), np.ones(1), 0.0)
    with pytest.raises(ValueError, match="method"):
        nla.discretize(np.array([-1.0]), np.ones(1), 0.1, method="euler")
    with pytest.raises(ValueError, match="B must have 1 rows"):
        nla.discretize(np.array([-1.0]), np.ones(2), 0.1)
    for dt in (True, np.array([True])):
        with pytest.raises(TypeError, match="dt"):
            nla.discretize(np.array([-1.0]), np.ones(1), dt)


def test_discretize_overflow_and_bilinear_pole_raise():
    # exp(1000) overflows float64: a named FloatingPointError rather than inf and a NumPy
    # warning; dt * lambda = 2 is the pole of the bilinear map.
    with pytest.raises(FloatingPointError, match="dt"):
        nla.discretize(np.array([1000.0, -1.0]), np.ones(2), 1.0)
    with pytest.raises(ValueError, match="bilinear"):
        nla.discretize(np.array([2.0, -1.0]), np.ones(2), 1.0, method="bilinear")
    # Just inside the range both stay finite and exact.
    d = nla.discretize(np.array([700.0]), np.ones(1), 1.0)
    np.testing.assert_allclose(d.eigenvalues, np.exp(700.0), rtol=1e-14)


# ---------------------------------------------------------------- pseudospectra

def _svd_smin(A, z):
    return np.array([np.linalg.svd(zz * np.eye(A.shape[0]) - A, compute_uv=False)[-1]
                     for zz in z.ravel()]).reshape(z.shape)


@pytest.mark.parametrize("case", ["random", "legs"])
def test_pseudospectrum_matches_dense_svd(case, rng):
    if case == "random":
        A = rng.standard_normal((30, 30)) + np.diag(np.arange(30.0))
    else:
        A = nla.hippo(24).A
    scale = np.linalg.norm(A, 2)
    z = (rng.uniform(-1, 1, (6, 7)) + 1j * rng.uniform(-1, 1, (6, 7))) * scale / 2
    r = nla.pseudospectrum(A, z)
    ref = _svd_smin(A, z)
    assert r.sigma_min.shape == z.shape
    # Both computations are exact for a matrix within rounding of A: agreement to eps ||A||.
    np.testing.assert_allclose(r.sigma_min, ref, rtol=1e-6, atol=1e-12 * scale)
    np.testing.assert_allclose(nla.pseudospectrum(A, z, method="svd").sigma_min, ref,
                               rtol=1e-12, atol=1e-14 * scale)


def test_pseudospectrum_at_eigenvalues_is_zero_and_normal_case_is_distance(rng):
    lam = rng.standard_normal(6)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    A = (Q * lam) @ Q.T                                     # normal: sigma_min = distance
    z = rng.standard_normal(20) + 1j * rng.standard_normal(20)
    r = nla.pseudospectrum(A, z)
    np.testing.assert_allclose(r.sigma_min, np.abs(z[:, None] - lam).min(1), rtol=1e-8)
    T = np.triu(rng.standard_normal((5, 5)))
    assert np.all(nla.pseudospectrum(T, np.diag(T).astype(complex)).sigma_min == 0)


def test_pseudospectrum_and_discretize_do_not_modify_inputs(rng):
    A = rng.standard_normal((6, 6))
    z = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    lam, b = z[0].copy(), rng.standard_normal(4)
    copies = [x.copy() for x in (A, z, lam, b)]
    nla.pseudospectrum(A, z)
    nla.discretize(lam, b, 0.1)
    for x, c in zip((A, z, lam, b), copies):
        np.testing.assert_array_equal(x, c)


def test_pseudospectrum_bad_input(rng):
    with pytest.raises(ValueError, match="A must be square"):
        nla.pseudospectrum(rng.standard_normal((3, 4)), [0j])
    with pytest.raises((TypeError, ValueError), match="A must be real"):
        nla.pseudospectrum(np.eye(3) * 1j, [0j])
    with pytest.raises(ValueError, match="grid contains NaN"):
        nla.pseudospectrum(np.eye(3), [np.nan])
    with pytest.raises(ValueError, match="method"):
        nla.pseudospectrum(np.eye(3), [0j], method="qr")


# ---------------------------------------------------------------- GPU driver code, on NumPy

def test_gpu_twin_matches_numba_kernels(gpu_twin, rng):
    gpu = gpu_twin("ssm")
    N = 12
    lam = -rng.random(N) + 1j * rng.standard_normal(N)
    W = rng.standard_normal((3, N)) + 1j * rng.standard_normal((3, N))
    s = 1j * rng.standard_normal(70)
    d = rng.standard_normal(3) + 0j
    np.testing.assert_allclose(gpu.diagonal_tf(lam, W, s, d), _kernels.diagonal_tf(lam, W, s, d),
                               rtol=1e-12)
    A = rng.standard_normal((N, N))
    B = rng.standard_normal((N, 2)) + 0j
    C = rng.standard_normal((3, N)) + 0j
    np.testing.assert_allclose(gpu.dense_tf(A, B, C, s), _kernels.dense_tf(A, B, C, s),
                               rtol=1e-10)
    T, _ = _kernels.schur(A)
    z = s + rng.standard_normal(70)
    np.testing.assert_allclose(gpu.sigma_min_grid(T, z, 1e-10, 50)[0],
                               _kernels.sigma_min_grid(T, z, 1e-10, 50)[0], rtol=1e-7)
    lam_g, V_g = gpu.eig(A)
    np.testing.assert_allclose(np.sort_complex(lam_g), np.sort_complex(np.linalg.eigvals(A)),
                               rtol=1e-12)


def test_ptd_odd_size_general_matrix_and_callback(rng):
    # A generic non-normal real matrix of odd size: one real eigenvalue at least, exact pairs.
    A = np.triu(rng.standard_normal((17, 17)), 1) * 3 - np.diag(rng.random(17) + 0.5)
    calls = []
    r = nla.ptd(A, gamma=0.5, random_state=int(rng.integers(100)),
                callback=lambda it, f: calls.append((it, f)))
    _check_ptd(r, A)
    assert len(calls) == r.info.n_iter and calls[-1][1] == r.info.objective[-1]
    assert r.info.kappa < np.linalg.cond(np.linalg.eig(A)[1])


def test_nla_ptd_is_the_function_after_importing_the_area():
    import nla.ssm  # noqa: F401  (the area package is named apart from its function)
    assert nla.ptd is nla.ssm.ptd and callable(nla.ptd)
    assert nla.ptd(nla.hippo(6).A, random_state=0).info.backward_error < 1e-12
