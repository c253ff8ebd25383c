"""Tour rows: sparse random projection beside scikit-learn, FastRP beside scipy.sparse."""

import numpy as np
import scipy.sparse as sp

from .._tour import TourRow, timed
from . import _kernels
from ._fastrp import fastrp
from ._sparse_rp import SparseRandomProjection


def fastrp_scipy(S, dim, weights, beta, seed, dtype=np.float32):
    """FastRP with plain scipy.sparse products (the reference code's approach), same ``R``.

    The peer for benchmarks: normalized powers, standardized columns, ``s = sqrt(n)``.
    """
    n = S.shape[0]
    deg = np.asarray(S.sum(axis=1)).ravel()
    A = (sp.diags(1.0 / deg) @ S).astype(dtype).tocsr()
    R = _kernels.generate(seed, n, dim, 1.0 / np.sqrt(n), 1.0, dtype)
    N = (A @ (sp.diags((deg / deg.sum()) ** beta) @ R).astype(dtype)).toarray()
    acc = np.zeros_like(N)
    for i, w in enumerate(weights):
        if i:
            N = A @ N
        if w:
            acc += w * N / np.linalg.norm(N, axis=1, keepdims=True)
    return (acc - acc.mean(axis=0)) / acc.std(axis=0)


def random_graph(n, avg_degree, seed):
    """Symmetric random graph with about ``n * avg_degree`` stored entries and no isolated node."""
    rng = np.random.default_rng(seed)
    m = n * avg_degree // 2
    rows = np.concatenate([rng.integers(0, n, m), np.arange(n)])
    cols = np.concatenate([rng.integers(0, n, m), (np.arange(n) + 1) % n])  # a ring
    S = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n, n))
    S = S + S.T
    S.data[:] = 1.0
    return S


def rows():
    from sklearn.random_projection import SparseRandomProjection as Peer

    X = np.random.default_rng(0).standard_normal((4000, 5000))
    nla_s, Y = timed(lambda: SparseRandomProjection(256, random_state=0).fit_transform(X),
                     repeat=3)
    peer_s, _ = timed(lambda: Peer(256, random_state=0).fit_transform(X))
    i, j = np.triu_indices(300, 1)
    ratio = (((Y[i] - Y[j]) ** 2).sum(1) / ((X[i] - X[j]) ** 2).sum(1))
    yield TourRow("sparse random projection", "4000x5000 -> 256",
                  f"distance ratio sd {ratio.std():.3f}", nla_s, "scikit-learn", peer_s)

    S = random_graph(50_000, 20, seed=0)
    kw = dict(dim=128, weights=(0, 0, 1, 6.67), beta=-0.64)
    nla_s, E = timed(lambda: fastrp(S, random_state=0, **kw), repeat=3)
    peer_s, E_ref = timed(lambda: fastrp_scipy(S, 128, kw["weights"], kw["beta"], 0))
    yield TourRow("FastRP embedding", f"{S.shape[0]} nodes, {S.nnz} entries, d=128",
                  f"max diff vs scipy {np.abs(E - E_ref).max():.1e}", nla_s, "scipy.sparse",
                  peer_s)
