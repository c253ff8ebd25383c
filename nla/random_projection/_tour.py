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
    from scipy.spatial.distance import pdist
    from sklearn.random_projection import SparseRandomProjection as Peer

    # 4000x5000 float64 is 160 MB; the distortion is checked on 300 points' pairs (pdist),
    # not on a (pairs x features) difference array (that peaked at 3.9 GB).
    X = np.random.default_rng(0).standard_normal((4000, 5000))
    k = 256
    nla_s, Y = timed(lambda: SparseRandomProjection(k, random_state=0).fit_transform(X))
    peer_s, _ = timed(lambda: Peer(k, random_state=0).fit_transform(X))
    ratio = pdist(Y[:300], "sqeuclidean") / pdist(X[:300], "sqeuclidean")
    yield TourRow("sparse random projection", f"4000x5000 -> {k}",
                  f"dist^2 ratio {ratio.mean():.2f} +- {ratio.std():.3f} "
                  f"(JL {np.sqrt(2 / k):.3f})", nla_s, "scikit-learn", peer_s,
                  metric="squared-distance ratio ||f(x)-f(y)||^2 / ||x-y||^2 over 300 points' "
                  "pairs: mean should be 1, spread near the Johnson-Lindenstrauss sqrt(2/k)")

    S = random_graph(50_000, 20, seed=0)
    kw = dict(dim=128, weights=(0, 0, 1, 6.67), beta=-0.64)
    nla_s, E = timed(lambda: fastrp(S, random_state=0, **kw))
    peer_s, E_ref = timed(lambda: fastrp_scipy(S, 128, kw["weights"], kw["beta"], 0))
    yield TourRow("FastRP embedding", f"{S.shape[0]} nodes, {S.nnz} entries, d=128",
                  f"max |diff| {np.abs(E - E_ref).max():.0e}", nla_s, "scipy.sparse", peer_s,
                  metric="largest entry-wise difference from the scipy.sparse computation "
                  "with the same random matrix (standardized embeddings, float32)")
