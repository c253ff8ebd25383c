"""Sketch operators as SciPy linear operators: transpose, adjoint, ``ndarray @ S``, ``S @ sparse``.

The reference is the explicit matrix ``S.todense()`` (built by ``S @ I``, i.e. by the forward
kernels): the transpose is computed from the hashes without it, so agreement shows that both
directions are one matrix. Products are compared to ``eps * (number of terms) * |S| |Y|``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import aslinearoperator, svds

from nla import fwht
from nla.sketching import sketch
from nla.sketching._operators import KINDS

EPS = np.finfo(np.float64).eps


def _close(got, want, S_abs, Y_abs, dtype=np.float64):
    # |error| <= (terms summed) * eps * (|S| |Y|): a rounding bound for the two products.
    terms = max(S_abs.shape)
    bound = 4 * terms * np.finfo(dtype).eps * (S_abs @ Y_abs) + np.finfo(dtype).tiny
    assert np.all(np.abs(np.asarray(got) - want) <= bound)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [37, 64])   # padded (37 -> 64) and exact powers of two
def test_transpose_is_the_explicit_transpose(kind, n, rng, seed):
    S = sketch(kind, 16, n, random_state=seed)
    M = S.todense()
    Y = rng.standard_normal((16, 3))
    Y0 = Y.copy()
    _close(S.rapply(Y), M.T @ Y, np.abs(M.T), np.abs(Y))
    _close(S.rapply(Y[:, 0]), M.T @ Y[:, 0], np.abs(M.T), np.abs(Y[:, 0]))
    _close(S.T @ Y, M.T @ Y, np.abs(M.T), np.abs(Y))
    assert S.T.T is S and S.H.shape == (n, 16) and S.adjoint().shape == (n, 16)
    np.testing.assert_array_equal(S.T.todense(), M.T)
    # B @ S and B @ S.T through __rmatmul__ (NumPy defers to it)
    B = rng.standard_normal((5, 16))
    _close(B @ S, B @ M, np.abs(B), np.abs(M))
    C = rng.standard_normal((4, n))
    _close(C @ S.T, C @ M.T, np.abs(C), np.abs(M.T))
    _close(Y[:, 0] @ S, Y[:, 0] @ M, np.abs(Y[:, 0]), np.abs(M))
    assert np.array_equal(Y, Y0)


@pytest.mark.parametrize("kind", KINDS)
def test_aslinearoperator_and_sparse_input(kind, rng, seed):
    n = 50
    S = sketch(kind, 12, n, random_state=seed)
    M = S.todense()
    L = aslinearoperator(S)
    assert L.shape == (12, n) and L.dtype == np.float64
    x, y = rng.standard_normal(n), rng.standard_normal(12)
    X, Y = rng.standard_normal((n, 3)), rng.standard_normal((12, 2))
    _close(L.matvec(x), M @ x, np.abs(M), np.abs(x))
    _close(L.rmatvec(y), M.T @ y, np.abs(M.T), np.abs(y))
    _close(L.matmat(X), M @ X, np.abs(M), np.abs(X))
    _close(L.rmatmat(Y), M.T @ Y, np.abs(M.T), np.abs(Y))
    _close(L.H.matvec(y), M.T @ y, np.abs(M.T), np.abs(y))
    _close(L.adjoint().matmat(Y), M.T @ Y, np.abs(M.T), np.abs(Y))
    _close(aslinearoperator(S.T).matvec(y), M.T @ y, np.abs(M.T), np.abs(y))
    # a SciPy solver that needs both directions: the singular values of the explicit matrix
    s = svds(L, k=3, return_singular_vectors=False, random_state=0)
    np.testing.assert_allclose(np.sort(s), np.sort(np.linalg.svd(M, compute_uv=False))[-3:],
                               rtol=1e-8)
    # S @ sparse (CSR and CSC) and S.T @ sparse equal the dense products
    A = sp.random(n, 4, density=0.3, random_state=int(rng.integers(2**31)), format="csr")
    _close(S @ A, M @ A.toarray(), np.abs(M), np.abs(A.toarray()))
    _close(S @ A.tocsc(), M @ A.toarray(), np.abs(M), np.abs(A.toarray()))
    Ys = sp.random(12, 3, density=0.5, random_state=1, format="csr")
    _close(S.T @ Ys, M.T @ Ys.toarray(), np.abs(M.T), np.abs(Ys.toarray()))


@pytest.mark.parametrize("kind", KINDS)
def test_transpose_at_scale_dot_test(kind, rng, seed):
    # <S x, y> = <x, S^T y> for an n where todense() would be costly; float32 stays float32.
    n, m = 30_000, 64
    S = sketch(kind, m, n, random_state=seed)
    x, y = rng.standard_normal(n), rng.standard_normal(m)
    lhs, rhs = float((S @ x) @ y), float(x @ S.rapply(y))
    scale = np.linalg.norm(x) * np.linalg.norm(y) * max(1.0, np.sqrt(n / m))
    assert abs(lhs - rhs) <= 64 * np.sqrt(n) * EPS * scale
    S32 = sketch(kind, m, n, random_state=seed, dtype=np.float32)
    assert S32.rapply(y.astype(np.float32)).dtype == np.float32


def test_transpose_framework_and_bad_input(rng):
    S = sketch("srht", 8, 20, random_state=0)
    torch = pytest.importorskip("torch")
    y = torch.from_numpy(rng.standard_normal(8))
    out = S.rapply(y)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), S.todense().T @ y.numpy(), atol=1e-13)
    B = torch.from_numpy(rng.standard_normal((3, 8)))
    prod = B @ S
    assert isinstance(prod, torch.Tensor) and tuple(prod.shape) == (3, 20)
    with pytest.raises(ValueError, match="Y must have sketch_size=8 rows"):
        S.rapply(np.ones(9))
    with pytest.raises(ValueError, match="Y must be 1-D or 2-D"):
        S.rapply(np.ones((8, 2, 2)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        S.rapply(np.full(8, np.nan))
    with pytest.raises(ValueError, match="Complex"):
        S.rapply(np.ones(8, dtype=complex))


@pytest.mark.parametrize("kind", KINDS)
def test_gpu_twin_transpose_matches_numba(kind, gpu_twin, rng, seed, monkeypatch):
    mod = gpu_twin("sketching")
    from nla.sketching import _kernels

    monkeypatch.setattr(mod, "fwht", _kernels.fwht)  # the CUDA FWHT is tested in tests/gpu
    S = sketch(kind, 16, 45, random_state=seed)
    Y = np.ascontiguousarray(rng.standard_normal((16, 3)))
    np.testing.assert_allclose(S._rapply_dense(mod, Y), S.rapply(Y), rtol=1e-12, atol=1e-13)


# --- fwht: the caller's framework, in place; bad input named ----------------------------------

def test_fwht_in_place_in_the_callers_framework(rng):
    from scipy.linalg import hadamard

    Y = rng.standard_normal((16, 2))
    ref = hadamard(16) @ Y
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(Y.copy())
    assert fwht(t) is t
    np.testing.assert_allclose(t.numpy(), ref, atol=1e-12)
    xps = pytest.importorskip("array_api_strict")
    a = xps.asarray(Y.copy())
    assert fwht(a) is a
    np.testing.assert_allclose(np.from_dlpack(a), ref, atol=1e-12)


def test_fwht_bad_input_is_named():
    ro = np.ones(8)
    ro.flags.writeable = False
    cases = [(np.zeros((8, 0)), ValueError, "at least one column"),
             (np.zeros(0), ValueError, "power-of-two"),
             (ro, ValueError, "read-only"),
             (np.array([1.0, np.nan, 0.0, 0.0]), ValueError, "Y contains NaN"),
             (np.array([1.0, np.inf]), ValueError, "Y contains NaN"),
             (np.ones((8, 2)).T, ValueError, "C-contiguous"),
             (np.ones((4, 2, 2)), ValueError, "1-D or 2-D"),
             (np.ones(4, dtype=np.int64), TypeError, "float64 or float32"),
             (np.ones(4, dtype=complex), TypeError, "float64 or float32"),
             ([1.0, 1.0], TypeError, "Y must be a NumPy or CuPy array")]
    for Y, error, match in cases:
        with pytest.raises(error, match=match):
            fwht(Y)
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="detach"):
        fwht(torch.ones(4, dtype=torch.float64, requires_grad=True))


# --- measurement operators of nla.recovery as LinearOperators on vec(X) ------------------------

def _measurement_cases(rng, seed, d1=5, d2=4, m=12):
    from nla import (DenseMeasurements, EntrySampling, GaussianMeasurements,
                     RankOneMeasurements)

    A = rng.standard_normal((m, d1, d2))
    a, b = rng.standard_normal((m, d1)), rng.standard_normal((m, d2))
    rows, cols = np.divmod(rng.permutation(d1 * d2)[:m], d2)   # distinct entries
    E = np.zeros((m, d1, d2))
    E[np.arange(m), rows, cols] = 1.0
    stored = GaussianMeasurements(m, (d1, d2), random_state=seed)
    fly = GaussianMeasurements(m, (d1, d2), stored=False, random_state=seed)
    return [(DenseMeasurements(A), A), (RankOneMeasurements(a, b), a[:, :, None] * b[:, None, :]),
            (RankOneMeasurements(a), a[:, :, None] * a[:, None, :]),
            (EntrySampling(rows, cols, (d1, d2)), E), (stored, stored.toarray()),
            (fly, fly.toarray())]


def test_measurement_operators_as_linear_operators(rng, seed):
    for op, A in _measurement_cases(rng, seed):
        M = A.reshape(A.shape[0], -1)          # row i is vec(A_i), row-major
        assert op.shape == M.shape and op.matrix_shape == A.shape[1:]
        x, w = rng.standard_normal(M.shape[1]), rng.standard_normal(M.shape[0])
        X, W = rng.standard_normal((M.shape[1], 3)), rng.standard_normal((M.shape[0], 3))
        x0, w0 = x.copy(), w.copy()
        for L in (aslinearoperator(op), op.aslinearoperator()):
            assert L.shape == M.shape and L.dtype == np.float64
            _close(L.matvec(x), M @ x, np.abs(M), np.abs(x))
            _close(L.rmatvec(w), M.T @ w, np.abs(M.T), np.abs(w))
            _close(L.matmat(X), M @ X, np.abs(M), np.abs(X))
            _close(L.rmatmat(W), M.T @ W, np.abs(M.T), np.abs(W))
            _close(L.T.matvec(w), M.T @ w, np.abs(M.T), np.abs(w))
            _close(L.H.matmat(np.eye(M.shape[0])), M.T, np.abs(M.T), np.eye(M.shape[0]))
            _close(L.adjoint().matvec(w), M.T @ w, np.abs(M.T), np.abs(w))
        # the operator's own protocol methods, its adjoint and @
        _close(op @ x, M @ x, np.abs(M), np.abs(x))
        _close(op.matmat(X), M @ X, np.abs(M), np.abs(X))
        _close(op.rmatmat(W), M.T @ W, np.abs(M.T), np.abs(W))
        _close(op.T @ w, M.T @ w, np.abs(M.T), np.abs(w))
        _close(op.H.matvec(w), M.T @ w, np.abs(M.T), np.abs(w))
        assert np.array_equal(x, x0) and np.array_equal(w, w0)
        # the same measurements as the operator's own call on a factored matrix
        d1, d2 = op.matrix_shape
        U, V = rng.standard_normal((d1, 2)), rng.standard_normal((d2, 2))
        np.testing.assert_allclose(op.matvec((U @ V.T).ravel()), op(U, V), rtol=1e-12,
                                   atol=1e-12)
        with pytest.raises(ValueError, match=f"x must have {M.shape[1]} rows"):
            op.matvec(np.ones(M.shape[1] + 1))
        with pytest.raises(ValueError, match=f"w must have {M.shape[0]} rows"):
            op.rmatvec(np.ones(M.shape[1]))
        with pytest.raises(ValueError, match="x contains NaN"):
            op.matvec(np.full(M.shape[1], np.nan))


def test_measurement_operator_products_follow_the_caller(rng, seed):
    torch = pytest.importorskip("torch")
    op, A = _measurement_cases(rng, seed)[0]
    M = A.reshape(A.shape[0], -1)
    x = rng.standard_normal(M.shape[1])
    out = op.matvec(torch.from_numpy(x))
    assert isinstance(out, torch.Tensor)
    _close(out.numpy(), M @ x, np.abs(M), np.abs(x))
