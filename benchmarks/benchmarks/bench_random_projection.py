"""Very sparse random projection beside scikit-learn; FastRP beside scipy.sparse products."""

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.io import loadmat
from sklearn.random_projection import SparseRandomProjection as SklearnRP

import nla
from nla.random_projection._tour import fastrp_scipy, random_graph

GRAPHS = Path(__file__).resolve().parents[3] / "shared" / "data" / "graphs"


class SparseRPDense:
    """Dense 20000 x 5000 -> 256 (issue target: nla >= 8x faster than scikit-learn)."""

    timeout = 600
    number = 1
    repeat = (1, 3, 30.0)

    def setup(self):
        self.X = np.random.default_rng(0).standard_normal((20_000, 5_000))
        nla.SparseRandomProjection(256, random_state=0).fit_transform(self.X[:8])  # compile

    def time_nla(self):
        nla.SparseRandomProjection(256, random_state=0).fit_transform(self.X)

    def time_sklearn(self):
        SklearnRP(256, random_state=0).fit_transform(self.X)

    def peakmem_nla(self):
        nla.SparseRandomProjection(256, random_state=0).fit_transform(self.X)

    def peakmem_sklearn(self):
        SklearnRP(256, random_state=0).fit_transform(self.X)


class SparseRPCSR:
    """CSR 100000 x 100000 with 1e6 nonzeros -> 256, sparse output (target >= 2x)."""

    timeout = 300
    number = 1
    repeat = (1, 5, 20.0)

    def setup(self):
        rng = np.random.default_rng(0)
        n, nnz = 100_000, 1_000_000
        self.X = sp.csr_matrix((rng.standard_normal(nnz),
                                (rng.integers(0, n, nnz), rng.integers(0, n, nnz))), shape=(n, n))
        nla.SparseRandomProjection(256, random_state=0).fit_transform(self.X[:8])

    def time_nla(self):
        nla.SparseRandomProjection(256, random_state=0).fit_transform(self.X)

    def time_sklearn(self):
        SklearnRP(256, random_state=0).fit_transform(self.X)


class FastRPBlogCatalog:
    """BlogCatalog, d = 512, the paper's weights (target: >= 2.5x faster than scipy.sparse)."""

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

    def time_nla(self):
        nla.fastrp(self.S, dim=512, random_state=0, **self.kw)

    def time_scipy(self):
        fastrp_scipy(self.S, 512, self.kw["weights"], self.kw["beta"], 0)


class FastRPLarge:
    """Synthetic graph with 1M nodes and ~10M undirected edges at d = 128 (nla only, recorded)."""

    timeout = 900
    number = 1
    repeat = (1, 1, 60.0)

    def setup(self):
        self.S = random_graph(1_000_000, 20, seed=0)

    def time_nla(self):
        nla.fastrp(self.S, dim=128, weights=(0, 0, 1, 6.67), beta=-0.64, random_state=0)
