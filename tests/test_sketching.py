"""Sketch operators: explicit matrices, row chunking, isometry in expectation, engines, errors."""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp

from nla._random import (STREAM_GAUSS, STREAM_INDEX, STREAM_SIGN, below_xp, gaussian_xp, hash_xp,
                         sign_xp, stream_key)
from nla.sketching import (CountSketch, GaussianSketch, PooledHadamardSketch, SparseSignSketch,
                           SRHTSketch, fwht, sketch)
from nla.sketching._hashing import (STREAM_PERMUTE, permutation_keys, permute_index,
                                    permute_params)

KINDS = ["gaussian", "srht", "countsketch", "sparse_sign", "hgp"]


# --- slow, obviously correct references built from the definitions --------------------------

def _signs(seed, n):
    return sign_xp(np, stream_key(seed, STREAM_SIGN), np.arange(n), np.zeros(n), np.float64)


def _slots(seed, bits, idx):
    mask, shift = permute_params(bits)
    return permute_index(permutation_keys(seed, STREAM_PERMUTE), mask, shift,
                         np.asarray(idx, dtype=np.uint64)).astype(np.int64)


def reference_matrix(S):
    m, n = S.shape
    seed = S.seed
    if S.kind == "gaussian":
        j, i = np.meshgrid(np.arange(n), np.arange(m))
        return gaussian_xp(np, stream_key(seed, STREAM_GAUSS), j, i) / np.sqrt(m)
    if S.kind in ("countsketch", "sparse_sign"):
        M = np.zeros((m, n))
        bucket, sign = stream_key(seed, STREAM_INDEX), stream_key(seed, STREAM_SIGN)
        for j in range(n):
            for t in range(S.nnz):
                lo, hi = t * m // S.nnz, (t + 1) * m // S.nnz
                bits = hash_xp(np, bucket, np.array([j]), np.array([t]))
                row = lo + int(below_xp(bits, np.uint64(hi - lo))[0])
                s = 1.0 - 2.0 * float(hash_xp(np, sign, np.array([j]), np.array([t]))[0] >> 63)
                M[row, j] += s / np.sqrt(S.nnz)
        return M
    N = S.padded_size
    H = scipy.linalg.hadamard(N).astype(float)
    D = _signs(seed, n)
    if S.kind == "srht":
        rows = S.sampled_rows()
        return H[np.ix_(rows, _slots(seed, S.bits, np.arange(n)))] * D / np.sqrt(m)
    # hgp: B D_gamma Pi (H / sqrt N) D_sigma J
    F = H[:, :n] * D / np.sqrt(N)
    p = _slots(seed, S.bits, np.arange(N))
    gamma = gaussian_xp(np, stream_key(seed, STREAM_GAUSS), p, np.zeros(N))
    M = np.zeros((m, n))
    for t in range(N):
        M[(p[t] * m) // N] += gamma[t] * F[t]
    return M


@pytest.mark.parametrize("kind", KINDS)
def test_operator_equals_explicit_matrix(kind, rng, seed):
    n = int(rng.integers(20, 70))
    S = sketch(kind, 16, n, random_state=seed)
    M = reference_matrix(S)
    np.testing.assert_allclose(S.todense(), M, rtol=1e-12, atol=1e-12)
    A = rng.standard_normal((n, 3))
    np.testing.assert_allclose(S @ A, M @ A, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(S @ A[:, 1], M @ A[:, 1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(S @ sp.csr_matrix(A), M @ A, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_row_chunks_give_the_same_sketch(kind, rng, seed):
    n, k = 300, 4
    S = sketch(kind, 32, n, random_state=seed)
    A = rng.standard_normal((n, k))
    cuts = np.sort(rng.choice(np.arange(1, n), size=4, replace=False))
    bounds = list(zip([0, *cuts], [*cuts, n]))
    whole = S @ A
    parts = sum(S.apply(A[a:b], row0=a) for a, b in bounds)
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=1e-12)
    # the columns of S themselves are identical (not just close) in any chunking
    M = S.todense()
    for a, b in bounds:
        assert np.array_equal(S.apply(np.eye(b - a), row0=a), M[:, a:b])
    # sparse input, chunked
    parts = sum(S.apply(sp.csr_matrix(A[a:b]), row0=a) for a, b in bounds)
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_isometry_in_expectation(kind, rng):
    # E[S^T S] = I: average over T independent sketches; each entry of S^T S has variance
    # at most 3/m (2/m Gaussian diagonal, <= 1/m off-diagonal for the sign sketches).
    n, m, T = 6, 8, 800
    seeds = rng.integers(0, 2**63, size=T)
    acc = np.zeros((n, n))
    for s in seeds:
        M = sketch(kind, m, n, random_state=int(s)).todense()
        acc += M.T @ M
    acc /= T
    assert np.abs(acc - np.eye(n)).max() < 6 * np.sqrt(3 / (m * T))


def test_structure(rng, seed):
    n, m = 50, 16
    M = SRHTSketch(m, n, random_state=seed).todense()
    np.testing.assert_allclose(np.abs(M), 1 / np.sqrt(m))
    rows = SRHTSketch(m, n, random_state=seed).sampled_rows()
    assert len(set(rows.tolist())) == m and rows.max() < 64
    M = CountSketch(m, n, random_state=seed).todense()
    assert (np.count_nonzero(M, axis=0) == 1).all() and set(np.abs(M[M != 0])) == {1.0}
    M = SparseSignSketch(m, n, nnz=4, random_state=seed).todense()
    assert (np.count_nonzero(M, axis=0) == 4).all()
    np.testing.assert_allclose(np.abs(M[M != 0]), 0.5)
    # one nonzero per row block of size m / nnz
    assert (np.count_nonzero(M.reshape(4, 4, n), axis=1) == 1).all()


@pytest.mark.parametrize("bits", [0, 1, 2, 5, 10, 13])
def test_keyed_permutation_is_a_bijection(bits, seed):
    N = 1 << bits
    p = _slots(seed, bits, np.arange(N))
    assert np.array_equal(np.sort(p), np.arange(N))


def test_keyed_permutation_scatters_contiguous_rows(seed):
    # a contiguous run of rows must not stay contiguous (the reason for the permutation)
    p = _slots(seed, 12, np.arange(64))
    assert np.ptp(p) > 1024 and np.unique(p // 256).size > 8


@pytest.mark.parametrize("N", [1, 2, 8, 64, 2048, 4096])
def test_fwht_matches_hadamard(N, rng):
    Y = rng.standard_normal((N, 3))
    ref = scipy.linalg.hadamard(N) @ Y
    np.testing.assert_allclose(fwht(Y.copy()), ref, atol=1e-10 * np.sqrt(N))
    y = rng.standard_normal(N).astype(np.float32)
    out = y.copy()
    fwht(out)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, scipy.linalg.hadamard(N) @ y, atol=1e-4 * np.sqrt(N))


def test_fwht_refuses_what_it_cannot_transform_in_place():
    with pytest.raises(TypeError, match="Y must be a NumPy or CuPy array"):
        fwht([1.0, -1.0])
    with pytest.raises(ValueError, match="power-of-two"):
        fwht(np.ones(6))


def test_fwht_large_blocked_levels(rng):
    # N = 2**21 exercises both cache-blocking levels with the enlarged block (2**11 rows).
    # H^2 = N I, and spot rows against H[i, j] = (-1)**popcount(i & j).
    N = 1 << 21
    Y = rng.standard_normal((N, 2))
    Z = fwht(Y.copy())
    j = np.arange(N)
    for i in rng.integers(0, N, size=4):
        parity = np.unpackbits((i & j).astype(">u4").view(np.uint8)).reshape(N, 32).sum(1) % 2
        np.testing.assert_allclose(Z[i], (1.0 - 2.0 * parity) @ Y, atol=1e-9)
    np.testing.assert_allclose(fwht(Z) / N, Y, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_embedding_preserves_norms(kind, rng, seed):
    # a subspace embedding of range(A): singular values of S U within [0.5, 1.5]
    n, d, m = 4000, 5, 400
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    s = np.linalg.svd(sketch(kind, m, n, random_state=seed) @ U, compute_uv=False)
    assert 0.5 < s.min() and s.max() < 1.5


def test_float32_and_dtype_promotion(rng, seed):
    A = rng.standard_normal((100, 3)).astype(np.float32)
    S32 = sketch("srht", 16, 100, random_state=seed, dtype=np.float32)
    assert (S32 @ A).dtype == np.float32
    S64 = sketch("srht", 16, 100, random_state=seed)
    out = S64 @ A
    assert out.dtype == np.float64
    np.testing.assert_allclose(S32 @ A, out, rtol=1e-5, atol=1e-5)
    assert (S64 @ A.astype(int)).dtype == np.float64


def test_torch_in_torch_out(rng, seed):
    torch = pytest.importorskip("torch")
    A = rng.standard_normal((80, 3))
    S = sketch("countsketch", 10, 80, random_state=seed)
    out = S @ torch.from_numpy(A)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), S @ A)


def test_same_seed_same_operator_and_generators(rng):
    A = rng.standard_normal((40, 2))
    S1 = sketch("hgp", 8, 40, random_state=123)
    S2 = PooledHadamardSketch(8, 40, random_state=123)
    assert np.array_equal(S1 @ A, S2 @ A)
    assert sketch("linf", 8, 40, random_state=123).kind == "hgp"
    assert not np.array_equal(S1 @ A, sketch("hgp", 8, 40, random_state=124) @ A)
    S3 = GaussianSketch(8, 40, random_state=np.random.default_rng(5))
    assert isinstance(S3.seed, int)
    assert "GaussianSketch(sketch_size=8, n=40" in repr(S3)


def test_bad_input(rng, seed):
    S = sketch("srht", 8, 30, random_state=seed)
    A = rng.standard_normal((30, 2))
    A0 = A.copy()
    with pytest.raises(ValueError, match="A must have n=30 rows"):
        S @ A[:29]
    with pytest.raises(ValueError, match="A must be 1-D or 2-D"):
        S @ A[:, :, None]
    bad = A.copy()
    bad[3, 1] = np.nan
    for kind in KINDS:
        with pytest.raises(ValueError, match="NaN or infinity"):
            sketch(kind, 8, 30, random_state=seed) @ bad
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        sketch("countsketch", 8, 30, random_state=seed) @ bad
    with pytest.raises((TypeError, ValueError), match="A must be real"):
        S @ (A + 1j)
    with pytest.raises(ValueError, match="row0"):
        S.apply(A[:10], row0=25)
    with pytest.raises(ValueError, match="kind must be one of"):
        sketch("fjlt", 8, 30)
    with pytest.raises(ValueError, match="sketch_size must be at most 32"):
        sketch("srht", 33, 30)
    with pytest.raises(ValueError, match="sketch_size"):
        sketch("gaussian", 0, 30)
    with pytest.raises(ValueError, match="nnz"):
        sketch("sparse_sign", 4, 30, nnz=5)
    with pytest.raises(TypeError, match="dtype"):
        sketch("gaussian", 4, 30, dtype=np.int64)
    with pytest.raises(ValueError, match="todense"):
        sketch("countsketch", 10**4, 10**5).todense()
    assert np.array_equal(A, A0)


@pytest.mark.parametrize("kind", KINDS)
def test_gpu_twin_matches_numba(kind, gpu_twin, rng, seed, monkeypatch):
    mod = gpu_twin("sketching")
    from nla.sketching import _kernels

    # The GPU FWHT is a CUDA kernel (tests/gpu checks it against this one on a device).
    monkeypatch.setattr(mod, "fwht", _kernels.fwht)

    n = 200
    S = sketch(kind, 24, n, random_state=seed)
    A = rng.standard_normal((n, 3))
    cpu = S.apply(A[50:], row0=50)
    twin = S._apply_dense(mod, np.ascontiguousarray(A[50:]), 50)
    np.testing.assert_allclose(twin, cpu, rtol=1e-12, atol=1e-12)
    B = rng.standard_normal((n, 2))
    np.testing.assert_allclose(mod.normal_residual(A, B[:3], B),
                               _kernels.normal_residual(A, B[:3], B), atol=1e-10)
