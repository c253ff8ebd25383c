"""FastRP: the explicit-matrix definition, the spec's hand example, graph edge cases, bad input,
and (slow) node classification on BlogCatalog."""

from pathlib import Path

import numba
import numpy as np
import pytest
import scipy.sparse as sp

import nla
from nla.random_projection import _kernels

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "graphs"


def _random_graph(rng, n, p):
    upper = sp.triu(sp.random(n, n, density=p, random_state=int(rng.integers(2**31)),
                              data_rvs=lambda k: rng.uniform(0.5, 2.0, k)), 1)
    return (upper + upper.T).tocsr()


def _explicit(S, dim, weights, beta, seed, s, normalize, self_weight=0.0):
    # sum_i alpha_i nu(A^i L R) from dense matrix powers: the definition, term by term.
    S = S.toarray()
    deg = S.sum(1)
    inv = np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)
    A = inv[:, None] * S
    ell = np.where(deg > 0, (np.where(deg > 0, deg, 1) / deg.sum()) ** beta, 0.0)
    R = _kernels.generate(seed, S.shape[0], dim, 1 / s, 1.0, np.float64).toarray()
    nu = (lambda M: M / np.where(np.linalg.norm(M, axis=1) > 0,
                                 np.linalg.norm(M, axis=1), 1)[:, None]) if normalize else \
        (lambda M: M)
    term = ell[:, None] * R
    out = self_weight * nu(term)
    for w in weights:
        term = A @ term
        out = out + w * nu(term)
    return out


def test_spec_hand_example(monkeypatch):
    # Triangle 0-1-2 plus pendant 0-3 with the spec's R (d = 2) and beta = -1.
    S = sp.csr_matrix((np.ones(8), ([0, 1, 1, 2, 0, 2, 0, 3], [1, 0, 2, 1, 2, 0, 3, 0])),
                      shape=(4, 4))
    R = np.array([[1, 0], [0, -1], [-1, 1], [0, 1]], dtype=float)
    monkeypatch.setattr(_kernels, "generate", lambda *args: sp.csr_matrix(R))
    kw = dict(dim=2, beta=-1.0, standardize=False, dtype=np.float64)
    np.testing.assert_allclose(
        nla.fastrp(S, weights=(1, 1), normalize=False, **kw),
        [[-2 / 9, 8 / 3], [-2 / 3, 7 / 3], [1 / 3, 1 / 3], [4 / 3, 8 / 3]], rtol=1e-14)
    np.testing.assert_allclose(
        nla.fastrp(S, weights=(1, 1), **kw),
        [[0.552786, 0.894427], [-0.316228, 1.948683], [0.160781, 0.087095],
         [0.552786, 0.894427]], atol=1e-6)
    np.testing.assert_allclose(
        nla.fastrp(S, weights=(0, 1, 1), **kw),
        [[0.599181, 0.916157], [0.047565, 1.998868], [0.563907, 1.206493],
         [0.552786, 0.894427]], atol=1e-6)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("normalize", [True, False])
def test_iteration_matches_explicit_powers(rng, seed, dtype, rtol, normalize):
    S = _random_graph(rng, 400, 0.04)
    weights, beta, s = (0.0, 0.0, 1.0, 6.67), -0.5, np.sqrt(400)
    got = nla.fastrp(S, dim=64, weights=weights, beta=beta, s=s, normalize=normalize,
                     standardize=False, random_state=seed, dtype=dtype)
    want = _explicit(S, 64, weights, beta, seed, s, normalize)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
    z = nla.fastrp(S, dim=64, weights=weights, beta=beta, s=s, normalize=normalize,
                   random_state=seed, dtype=dtype)
    want_z = (want - want.mean(0)) / want.std(0)
    np.testing.assert_allclose(z, want_z, rtol=100 * rtol, atol=100 * rtol)


def test_self_weight_isolated_nodes_and_self_loops(rng, seed):
    S = _random_graph(rng, 120, 0.05).tolil()
    S[7, :] = 0
    S[:, 7] = 0  # node 7 isolated
    S[3, 3] = 2.0  # a self loop counts in the degree and in A[3, 3]
    S = S.tocsr()
    kw = dict(dim=32, weights=(1.0, 0.5), beta=-0.7, s=3.0, random_state=seed,
              standardize=False, dtype=np.float64)
    E = nla.fastrp(S, **kw)
    assert np.all(np.isfinite(E)) and np.all(E[7] == 0)
    np.testing.assert_allclose(E, _explicit(S, 32, (1.0, 0.5), -0.7, seed, 3.0, True),
                               rtol=1e-12, atol=1e-12)
    E = nla.fastrp(S, self_weight=2.0, **kw)
    assert np.all(E[7] == 0)  # L is 0 on isolated nodes, so even their own vector vanishes
    np.testing.assert_allclose(E, _explicit(S, 32, (1.0, 0.5), -0.7, seed, 3.0, True, 2.0),
                               rtol=1e-12, atol=1e-12)
    Z = nla.fastrp(S, dim=32, weights=(1.0,), random_state=seed)  # standardized
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-5)


def test_directed_graphs(rng, seed):
    S = sp.random(150, 150, density=0.04, random_state=int(rng.integers(2**31)), format="csr")
    kw = dict(dim=16, weights=(1.0, 1.0), random_state=seed, standardize=False,
              dtype=np.float64)
    out_edges = nla.fastrp(S, **kw)
    np.testing.assert_allclose(nla.fastrp(S, direction="in", **kw), nla.fastrp(S.T, **kw))
    np.testing.assert_allclose(nla.fastrp(S, direction="symmetrize", **kw),
                               nla.fastrp(S + S.T, **kw))
    sinks = np.asarray(S.sum(1)).ravel() == 0
    assert np.all(out_edges[sinks] == 0) and np.all(np.isfinite(out_edges))


def test_deterministic_across_threads_and_inputs_untouched(rng, seed):
    S = _random_graph(rng, 300, 0.03)
    before = S.copy()
    a = nla.fastrp(S, dim=32, random_state=seed)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        b = nla.fastrp(S, dim=32, random_state=seed)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(a, b)
    assert (S != before).nnz == 0
    np.testing.assert_allclose(nla.fastrp(S.toarray(), dim=32, random_state=seed), a,
                               rtol=1e-6, atol=1e-6)  # dense adjacency gives the same


def test_torch_adjacency(rng, seed):
    torch = pytest.importorskip("torch")
    S = _random_graph(rng, 60, 0.1).toarray()
    E = nla.fastrp(torch.from_numpy(S), dim=8, random_state=seed)
    assert isinstance(E, torch.Tensor)
    np.testing.assert_allclose(E.numpy(), nla.fastrp(S, dim=8, random_state=seed), rtol=1e-6)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"dim": 0}, ValueError, "dim"), ({"dim": 2.5}, TypeError, "dim"),
    ({"weights": ()}, ValueError, "weights"), ({"weights": (0, 0)}, ValueError, "weights"),
    ({"weights": (1, np.nan)}, ValueError, "weights"), ({"beta": np.inf}, ValueError, "beta"),
    ({"s": 0.5}, ValueError, "s must be"), ({"direction": "up"}, ValueError, "direction"),
    ({"dtype": np.int32}, TypeError, "dtype"), ({"random_state": -2}, ValueError, "random_state"),
])
def test_bad_parameters(rng, kwargs, error, match):
    S = _random_graph(rng, 30, 0.2)
    with pytest.raises(error, match=match):
        nla.fastrp(S, **kwargs)


def test_bad_adjacency(rng):
    S = _random_graph(rng, 30, 0.2)
    with pytest.raises(ValueError, match="adjacency must be square"):
        nla.fastrp(S[:, :20])
    neg = S.copy()
    neg.data[0] = -1.0
    with pytest.raises(ValueError, match="negative"):
        nla.fastrp(neg)
    nan = S.copy()
    nan.data[0] = np.nan
    with pytest.raises(ValueError, match="adjacency contains NaN"):
        nla.fastrp(nan)


def _f1_top_k(E, Y, train_frac, seed):
    # One-vs-rest logistic regression; predict each test node's true number of labels.
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.multiclass import OneVsRestClassifier

    order = np.random.default_rng(seed).permutation(E.shape[0])
    cut = int(train_frac * E.shape[0])
    tr, te = order[:cut], order[cut:]
    clf = OneVsRestClassifier(LogisticRegression(C=0.1, solver="liblinear"))
    clf.fit(E[tr], Y[tr])
    scores = clf.predict_proba(E[te])
    k = np.asarray(Y[te].sum(1)).ravel().astype(int)
    pred = np.zeros_like(scores, dtype=int)
    top = np.argsort(-scores, axis=1)
    for i, kk in enumerate(k):
        pred[i, top[i, :kk]] = 1
    truth = Y[te].toarray()
    return f1_score(truth, pred, average="micro"), f1_score(truth, pred, average="macro")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Label not:UserWarning")
def test_blogcatalog_node_classification(seed):
    from scipy.io import loadmat

    path = DATA / "blogcatalog.mat"
    if not path.exists():
        pytest.skip(f"{path} not present")
    mat = loadmat(path)
    E = nla.fastrp(mat["network"], dim=512, weights=(0, 0, 1, 6.67), beta=-0.64,
                   random_state=seed)
    Y = sp.csr_matrix(mat["group"])
    scores = np.array([_f1_top_k(E, Y, 0.1, seed + i) for i in range(3)])
    micro, macro = scores.mean(0)
    print(f"BlogCatalog 10% train: Micro-F1 {micro:.4f}, Macro-F1 {macro:.4f}")
    assert micro >= 0.36 and macro >= 0.21
