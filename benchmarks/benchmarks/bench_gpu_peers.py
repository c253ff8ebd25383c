"""nla's GPU engine beside what a GPU user would call instead, in the same process.

``bench_gpu.py`` compares nla's two engines; this suite compares nla on the GPU with GPU peers:
``cupy.linalg.lstsq`` and ``torch.linalg.lstsq`` for least squares, a dense Gaussian projection
drawn by torch (and cuML's ``SparseRandomProjection`` where it is installed) for random
projection, and a ``torch.linalg.svd``-based principal component pursuit for robust PCA. Every
case is skipped where CuPy sees no CUDA device or the peer is missing.

Run as a script on a GPU machine for a table of times, ratios and accuracies:
``python benchmarks/benchmarks/bench_gpu_peers.py`` (sizes scale with ``NLA_BENCH_SCALE``).
"""

import sys
import time

import numpy as np

import nla

try:
    from ._common import SCALE
    from .bench_gpu import _cupy, _size
except ImportError:  # run as a script from this folder
    from _common import SCALE
    from bench_gpu import _cupy, _size


def _torch():
    try:
        import torch
    except ImportError:
        raise NotImplementedError("torch is not installed") from None
    if not torch.cuda.is_available():
        raise NotImplementedError("torch sees no CUDA device")
    return torch


def _seconds(fn, sync, repeat=3):
    """Median wall seconds of ``fn()`` over ``repeat`` runs after one warm-up, device synced."""
    out = fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        sync()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


class _Peers:
    """``cases()`` yields ``(name, callable, accuracy of its output)``; the first is nla's."""

    version = "1"
    timeout = 900

    def setup(self):
        self.cupy = _cupy()
        self.torch = _torch()
        self.make(np.random.default_rng(0))
        self.results = {name: _seconds(fn, self.sync) + (acc,) for name, fn, acc in self.cases()}

    def sync(self):
        self.cupy.cuda.Device().synchronize()
        self.torch.cuda.synchronize()

    def track_fastest_peer_ratio(self):
        """Fastest peer's seconds over nla's (above 1: nla is faster)."""
        (t0, *_), *peers = self.results.values()
        return min(t for t, *_ in peers) / t0

    def rows(self):
        nla_seconds = next(iter(self.results.values()))[0]
        for name, (t, out, acc) in self.results.items():
            yield name, t, t / nla_seconds, acc(out)


class LstsqPeers(_Peers):
    """Least squares 2^20 x 50, cond(A) = 1e2, ||r|| = ||A x||: relative error of x."""

    def make(self, rng):
        cp, torch = self.cupy, self.torch
        n, d = _size(1 << 20), 50
        U = np.linalg.qr(rng.standard_normal((n, d)))[0]
        A = (U * np.geomspace(1, 1e-2, d)) @ np.linalg.qr(rng.standard_normal((d, d)))[0]
        x = rng.standard_normal(d)
        b = A @ x
        r = rng.standard_normal(n)
        r -= U @ (U.T @ r)
        b = b + r * (np.linalg.norm(b) / np.linalg.norm(r))
        self.x = x
        self.A, self.b = cp.asarray(A), cp.asarray(b)
        self.At, self.bt = torch.from_dlpack(self.A), torch.from_dlpack(self.b)

    def cases(self):
        cp, torch = self.cupy, self.torch

        def err(x):
            x = x.get() if hasattr(x, "get") else x.cpu().numpy()
            return f"rel err {np.linalg.norm(x - self.x) / np.linalg.norm(self.x):.1e}"

        yield "nla.lstsq (default)", lambda: nla.lstsq(self.A, self.b).x, err
        yield "cupy.linalg.lstsq", lambda: cp.linalg.lstsq(self.A, self.b, rcond=None)[0], err
        yield "torch.linalg.lstsq", \
            lambda: torch.linalg.lstsq(self.At, self.bt[:, None]).solution[:, 0], err

    def time_nla(self):
        nla.lstsq(self.A, self.b)
        self.sync()


class RandomProjectionPeers(_Peers):
    """Dense 20000 x 5000 float32 projected to 256: distortion of one pairwise distance."""

    def make(self, rng):
        X = rng.standard_normal((_size(20_000), 5_000)).astype(np.float32)
        self.X = self.cupy.asarray(X)
        self.Xt = self.torch.from_dlpack(self.X)
        self.rp = nla.SparseRandomProjection(256, random_state=0).fit(X[:2])
        self.d0 = float(np.linalg.norm(X[0] - X[1]))

    def cases(self):
        torch = self.torch

        def distortion(Y):
            Y = Y.get() if hasattr(Y, "get") else Y.cpu().numpy()
            return f"distance ratio {np.linalg.norm(Y[0] - Y[1]) / self.d0:.3f}"

        def torch_gaussian():  # what scikit-learn's GaussianRandomProjection does, on the GPU
            R = torch.randn(5_000, 256, device="cuda", dtype=torch.float32) / 16.0
            return self.Xt @ R

        yield "nla.SparseRandomProjection", lambda: self.rp.transform(self.X), distortion
        yield "torch Gaussian projection", torch_gaussian, distortion
        try:
            from cuml.random_projection import SparseRandomProjection
        except ImportError:
            return
        cu = SparseRandomProjection(n_components=256, random_state=0).fit(self.X[:2])
        yield "cuml SparseRandomProjection", lambda: cu.transform(self.X), distortion

    def time_nla(self):
        self.rp.transform(self.X)
        self.sync()


class RobustPCAPeers(_Peers):
    """Robust PCA of a 1000 x 1000 rank-10 matrix with 5 % gross outliers: rel err of L."""

    def make(self, rng):
        n, r = _size(1000, low=200), 10
        L = rng.standard_normal((n, r)) @ rng.standard_normal((r, n)) / np.sqrt(r)
        M = L + (rng.random((n, n)) < 0.05) * rng.uniform(-10, 10, (n, n))
        rows, cols = np.divmod(np.arange(n * n), n)
        cp = self.cupy
        self.op = nla.EntrySampling(cp.asarray(rows), cp.asarray(cols), (n, n))
        self.m, self.L, self.r = cp.asarray(M.ravel()), L, r
        self.Mt = self.torch.from_dlpack(cp.asarray(M))

    def _pcp(self, n_iter=100):
        # Principal component pursuit by the inexact augmented Lagrangian method: each step
        # one full SVD (torch.linalg.svd) and one soft threshold.
        torch, M = self.torch, self.Mt
        lam = 1 / np.sqrt(max(M.shape))
        mu = M.numel() / (4 * M.abs().sum())
        S = torch.zeros_like(M)
        Y = torch.zeros_like(M)
        for _ in range(n_iter):
            U, s, Vh = torch.linalg.svd(M - S + Y / mu, full_matrices=False)
            Lk = (U * torch.clamp(s - 1 / mu, min=0)) @ Vh
            T = M - Lk + Y / mu
            S = torch.sign(T) * torch.clamp(T.abs() - lam / mu, min=0)
            Y = Y + mu * (M - Lk - S)
        return Lk

    def cases(self):
        def err(X):
            X = X.get() if hasattr(X, "get") else X.cpu().numpy()
            return f"rel err {np.linalg.norm(X - self.L) / np.linalg.norm(self.L):.1e}"

        est = nla.SubGMRecovery(self.r, decay=0.99, tol=1e-7, symmetric=False, random_state=0)
        yield "nla.SubGMRecovery", lambda: est.fit(self.op, self.m).X_, err
        yield "torch.linalg.svd PCP (100 its)", self._pcp, err

    def time_nla(self):
        nla.SubGMRecovery(self.r, decay=0.99, tol=1e-7, symmetric=False,
                          random_state=0).fit(self.op, self.m)
        self.sync()


SUITES = [LstsqPeers, RandomProjectionPeers, RobustPCAPeers]


def main(names=()):
    print(f"scale {SCALE}; ratio = peer seconds / nla seconds (above 1: nla faster)")
    print(f"{'suite':24s} {'implementation':32s} {'seconds':>9s} {'ratio':>7s}  accuracy")
    for cls in SUITES:
        if names and cls.__name__ not in names:
            continue
        suite = cls()
        try:
            suite.setup()
            for name, t, ratio, acc in suite.rows():
                print(f"{cls.__name__:24s} {name:32s} {t:9.4f} {ratio:6.1f}x  {acc}", flush=True)
        except Exception as exc:  # report and go on: one broken suite must not hide the rest
            print(f"{cls.__name__:24s} FAILED: {type(exc).__name__}: {exc}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
