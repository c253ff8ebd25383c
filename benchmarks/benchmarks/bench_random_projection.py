"""Very sparse random projection beside scikit-learn; FastRP beside scipy.sparse products.

Sizes scale with ``NLA_BENCH_SCALE`` (rows of the dense and CSR inputs, nodes of the synthetic
graph). ``track_distortion_*`` is the largest relative change of a squared pairwise distance
over 200 rows (the Johnson-Lindenstrauss quantity), ``track_speedup`` scikit-learn's (scipy's)
seconds over nla's in the same process.
"""

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.io import loadmat
from sklearn.random_projection import SparseRandomProjection as SklearnRP

import nla
from nla.random_projection._tour import fastrp_scipy, random_graph

from ._common import scaled, speedup, track

GRAPHS = Path(__file__).resolve().parents[3] / "shared" / "data" / "graphs"
DIM = 256


def _nla(X):
    return nla.SparseRandomProjection(DIM, random_state=0).fit_transform(X)


def _sklearn(X):
    return SklearnRP(DIM, random_state=0).fit_transform(X)


def distortion(X, Y, n_rows=200):
    """max |d_Y(i, j)^2 / d_X(i, j)^2 - 1| over the pairs of the first ``n_rows`` rows."""
    def squared_distances(Z):
        Z = Z[:n_rows]
        G = Z @ Z.T
        G = G.toarray() if sp.issparse(G) else np.asarray(G)
        d = np.diag(G)
        return (d[:, None] + d[None, :] - 2 * G)[np.triu_indices(G.shape[0], 1)]

    dx, dy = squared_distances(X), squared_distances(Y)
    keep = dx > 0
    return float(np.abs(dy[keep] / dx[keep] - 1).max())


class SparseRPDense:
    """Dense 20000 x 5000 -> 256 (issue target: nla >= 8x faster than scikit-learn)."""

    version = "1"
    timeout = 600
    number = 1
    repeat = (1, 3, 30.0)

    def setup(self):
        self.X = np.random.default_rng(0).standard_normal((scaled(20_000, 500), 5_000))
        _nla(self.X[:8])  # compile

    def time_nla(self):
        _nla(self.X)

    def time_sklearn(self):
        _sklearn(self.X)

    def peakmem_nla(self):
        _nla(self.X)

    def peakmem_sklearn(self):
        _sklearn(self.X)

    @track("peer/nla")
    def track_speedup(self):
        return speedup(lambda: _nla(self.X), lambda: _sklearn(self.X))

    @track("max distance distortion")
    def track_distortion_nla(self):
        return distortion(self.X, _nla(self.X[:200]))

    @track("max distance distortion")
    def track_distortion_sklearn(self):
        return distortion(self.X, _sklearn(self.X[:200]))


class SparseRPCSR:
    """CSR 100000 x 100000 with 1e6 nonzeros -> 256, sparse output (target >= 2x)."""

    version = "1"
    timeout = 300
    number = 1
    repeat = (1, 5, 20.0)

    def setup_cache(self):
        rng = np.random.default_rng(0)
        n, nnz = scaled(100_000, 2_000), scaled(1_000_000, 20_000)
        return sp.csr_matrix((rng.standard_normal(nnz),
                              (rng.integers(0, n, nnz), rng.integers(0, 100_000, nnz))),
                             shape=(n, 100_000))

    def setup(self, X):
        _nla(X[:8])

    def time_nla(self, X):
        _nla(X)

    def time_sklearn(self, X):
        _sklearn(X)

    @track("peer/nla")
    def track_speedup(self, X):
        return speedup(lambda: _nla(X), lambda: _sklearn(X))

    @track("max distance distortion")
    def track_distortion_nla(self, X):
        return distortion(X, _nla(X[:200]))


class FastRPBlogCatalog:
    """BlogCatalog, d = 512, the paper's weights (target: >= 2.5x faster than scipy.sparse)."""

    version = "1"
    timeout = 300
    number = 1
    repeat = (1, 5, 20.0)
    kw = dict(weights=(0, 0, 1, 6.67), beta=-0.64)

    def setup(self):
        path = GRAPHS / "blogcatalog.mat"
        if not path.exists():
            raise NotImplementedError(f"{path} missing")  # asv skips the benchmark
        self.S = loadmat(path)["network"].tocsr().astype(np.float32)
        nla.fastrp(self.S[:50, :50], dim=8)

    def _nla(self):
        return nla.fastrp(self.S, dim=512, random_state=0, **self.kw)

    def _scipy(self):
        return fastrp_scipy(self.S, 512, self.kw["weights"], self.kw["beta"], 0)

    def time_nla(self):
        self._nla()

    def time_scipy(self):
        self._scipy()

    @track("peer/nla")
    def track_speedup(self):
        return speedup(self._nla, self._scipy)

    @track("max abs difference")
    def track_max_diff_vs_scipy(self):
        """Same R, same formula: the embeddings agree to float32 rounding."""
        return float(np.abs(self._nla() - self._scipy()).max())


class FastRPLarge:
    """Synthetic graph with 1M nodes and ~10M undirected edges at d = 128 (nla only, recorded)."""

    version = "1"
    timeout = 900
    number = 1
    repeat = (1, 1, 60.0)

    def setup_cache(self):
        return random_graph(scaled(1_000_000, 10_000), 20, seed=0)

    def _nla(self, S):
        return nla.fastrp(S, dim=128, weights=(0, 0, 1, 6.67), beta=-0.64, random_state=0)

    def setup(self, S):
        nla.fastrp(S[:50, :50], dim=8)

    def time_nla(self, S):
        self._nla(S)

    def peakmem_nla(self, S):
        self._nla(S)
