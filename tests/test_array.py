"""The array layer: engine detection, zero-copy import, results in the caller's framework."""

import numpy as np
import pytest
import scipy.sparse as sp

from nla._array import Origin, engine_of, on_gpu, to_numpy


def test_numpy_and_sparse_pass_through(rng):
    x = rng.standard_normal((3, 4))
    s = sp.random(5, 5, density=0.3, format="csr", random_state=1)
    assert to_numpy(x) is x and to_numpy(s) is s
    assert engine_of(x, s, None, 3.0) == "cpu"
    assert Origin(x).restore(x) is x


def test_torch_zero_copy_and_round_trip(rng):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(rng.standard_normal((4, 3)).astype(np.float32))
    view = to_numpy(t)
    assert np.shares_memory(view, t.numpy())  # imported without a copy
    assert not on_gpu(t) and engine_of(t) == "cpu"
    back = Origin(t).restore(view * 2)
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32
    np.testing.assert_allclose(back.numpy(), 2 * t.numpy())
    grad = torch.ones(2, 2, requires_grad=True)
    np.testing.assert_array_equal(to_numpy(grad), np.ones((2, 2)))


def test_array_api_strict_round_trip(rng):
    xps = pytest.importorskip("array_api_strict")
    x = xps.asarray(rng.standard_normal((3, 2)))
    view = to_numpy(x)
    assert isinstance(view, np.ndarray) and view.shape == (3, 2)
    back = Origin(x).restore(view + 1)
    assert type(back) is type(x)
    np.testing.assert_allclose(np.asarray(back), view + 1)


def test_plain_array_protocol_objects():
    class OnlyArray:
        def __array__(self, dtype=None, copy=None):
            return np.arange(6.0).reshape(2, 3)

    assert to_numpy(OnlyArray()).shape == (2, 3)
    assert Origin(OnlyArray()).restore(np.zeros(2)).__class__ is np.ndarray


def test_mixed_engines_refused():
    class FakeDevice:
        def __dlpack_device__(self):
            return (2, 0)  # kDLCUDA

    assert on_gpu(FakeDevice())
    with pytest.raises(ValueError, match="mix host"):
        engine_of(np.ones(2), FakeDevice())


@pytest.mark.parametrize("framework", ["torch", "array_api_strict"])
def test_public_functions_answer_in_the_callers_framework(framework, rng):
    # inverse_transform, johnson_lindenstrauss_min_dim and LongRangePotential (fwht: see
    # tests/test_sklearn_operators.py) take and give arrays of the caller's framework.
    mod = pytest.importorskip(framework)
    wrap = mod.from_numpy if framework == "torch" else mod.asarray
    import nla

    X = rng.standard_normal((6, 40))
    rp = nla.SparseRandomProjection(8, random_state=0).fit(X)
    Z = rp.transform(X)
    back = rp.inverse_transform(wrap(Z))
    assert type(back) is type(wrap(Z))
    np.testing.assert_allclose(np.from_dlpack(back), rp.inverse_transform(Z), rtol=1e-13)
    n = np.array([10, 1000])
    k = nla.johnson_lindenstrauss_min_dim(wrap(n), eps=0.5)
    assert type(k) is type(wrap(n))
    np.testing.assert_array_equal(np.from_dlpack(k), nla.johnson_lindenstrauss_min_dim(n, eps=0.5))
    k = nla.johnson_lindenstrauss_min_dim(100, eps=wrap(np.array([0.1, 0.5])))
    assert type(k) is type(wrap(n))
    V = nla.LongRangePotential(rng.standard_normal((3, 3)), rng.standard_normal(3), a=0.7)
    pts = rng.standard_normal((3, 5))
    out = V(*(wrap(p) for p in pts))
    assert type(out) is type(wrap(pts[0]))
    np.testing.assert_array_equal(np.from_dlpack(out), V(*pts))
