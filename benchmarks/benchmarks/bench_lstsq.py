"""Least squares: ``nla.lstsq`` beside LAPACK, Cholesky normal equations, LSQR and LSMR.

Issue 17's configurations, sizes times ``NLA_BENCH_SCALE`` (1 gives the issue's):

* dense ``2**20 x 50`` at cond 1e2 with ``||r|| = ||A x||`` and at cond 1e8 with
  ``||r|| = 1e-6 ||A x||``; dense ``2**18 x 500`` at the same two. Targets: ``auto`` at least
  8x (``d = 50``) / 4x (``d = 500``) faster than gelsd, at most 1.5x / 2x the time of Cholesky
  normal equations (``track_speedup_vs_normal`` at least 0.67 / 0.5), relative error at most
  10x gelsd's (``track_error_*``). ``d = 500`` scales with ``sqrt(NLA_BENCH_SCALE)`` (at
  least 50), so the smoke run's LAPACK solves stay short;
* sparse CSR ``1e6 x 1000`` with ``1e7`` nonzeros and column scales over 1e-3..1e3, the same
  with a few dense rows, and a well-conditioned one: ``auto`` at least 5x faster than
  ``scipy.sparse.linalg.lsqr`` / ``lsmr`` run to the normal-equation relative residual
  ``||A^T r|| / (||A||_F ||r||) <= 1e-10`` (their ``atol``; iteration cap
  :data:`ITER_CAP`), no slower on the well-conditioned one. ``track_normal_residual_*``
  shows what each solver reached. ``d`` scales with ``n`` here (at least 50), so the smoke
  run's iterative peers stay short.

Every problem plants its exact solution ``x0``: rows come in equal pairs ``[G; G]`` with
opposite residuals ``[e; -e]``, so ``A^T r = G^T e - G^T e = 0`` and ``b = A x0 + r`` has
the least-squares solution ``x0`` for the stored ``A`` (no QR of ``A`` needed to build it).
``track_error_*`` is ``||x - x0|| / ||x0||``; ratios come from :func:`_common.speedup`
(both sides timed in one process, interleaved; ``peer/nla``, above 1 means nla is faster).
``track_first_call`` is the first full-size ``auto`` call of the benchmark's process over
a repeated one (issue target at most 1.5).

Accuracy tracks solve each (problem, solver) once, in ``setup_cache`` (they measure results,
not time, so one process serves all of them). Below scale 0.5 (the CI smoke run) the suite
runs two problems of each kind (one per ``auto`` path and per ``d``) and caps LSQR / LSMR at
:func:`_common.scaled` ``(ITER_CAP, 100)`` iterations, so that the run takes about a
minute (66 s wall, loaded, 2026-12-07); scale 1 runs every configuration above.
"""

import time
import warnings

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import nla

from ._common import SCALE, rel_error, scaled, speedup, track

#: Below this scale the suite is a smoke run: fewer problems, a lower iteration cap.
SMOKE = SCALE < 0.5
#: Iteration cap of LSQR / LSMR (each iteration is two sparse products).
ITER_CAP = scaled(2000, 100) if SMOKE else 2000
#: Normal-equation relative residual the iterative peers are run to.
PEER_ATOL = 1e-10

DENSE = {  # name: (n, d, cond, ||r|| / ||A x0||)
    "2^20x50 cond 1e2": (2**20, 50, 1e2, 1.0),
    "2^20x50 cond 1e8": (2**20, 50, 1e8, 1e-6),
    "2^18x500 cond 1e2": (2**18, 500, 1e2, 1.0),
    "2^18x500 cond 1e8": (2**18, 500, 1e8, 1e-6),
}
SPARSE = {  # name: (n, d, nonzeros per row, column scales 1e-3..1e3, dense rows)
    "1e6x1000 scaled": (10**6, 1000, 10, True, 0),
    "1e6x1000 scaled dense rows": (10**6, 1000, 10, True, 10),
    "1e6x1000 well conditioned": (10**6, 1000, 10, False, 0),
}
#: The problems run: all of them, or in the smoke run the Cholesky-QR path at d = 50, the
#: normal-equation path at d = 500 (scaled), and the ill and well conditioned sparse ones.
DENSE_RUN = (["2^20x50 cond 1e8", "2^18x500 cond 1e2"] if SMOKE else list(DENSE))
SPARSE_RUN = (["1e6x1000 scaled dense rows", "1e6x1000 well conditioned"] if SMOKE
              else list(SPARSE))


def _paired(G, x0, ratio, rng):
    """``A = [G; G]`` and ``b = A x0 + [e; -e]`` with ``||r|| = ratio ||A x0||``: LS solution x0."""
    stack = sp.vstack if sp.issparse(G) else np.concatenate
    A = stack([G, G])
    if sp.issparse(A):
        A = A.tocsr()
    Ax = A @ x0
    e = rng.standard_normal(G.shape[0])
    e *= ratio * np.linalg.norm(Ax) / (np.sqrt(2) * np.linalg.norm(e))
    return A, Ax + np.concatenate([e, -e])


def dense_problem(name, seed=0):
    n, d, cond, ratio = DENSE[name]
    rng = np.random.default_rng(seed)
    d = max(min(d, 50), int(d * SCALE**0.5))  # LAPACK's n d^2 stays small in the smoke run
    half = scaled(n, 4 * d) // 2
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    # singular values over [1/cond, 1] in mixed columns: no column scaling undoes them
    G = rng.standard_normal((half, d)) @ (np.logspace(0, -np.log10(cond), d)[:, None] * V.T)
    x0 = rng.standard_normal(d)
    return (*_paired(G, x0, ratio, rng), x0)


def sparse_problem(name, seed=0):
    n, d, per_row, scaled_columns, dense_rows = SPARSE[name]
    rng = np.random.default_rng(seed)
    d = scaled(d, 50)
    half = scaled(n, 8 * d) // 2
    rows = np.repeat(np.arange(half), per_row)
    cols = rng.integers(0, d, rows.size)  # repeats are summed: about per_row entries a row
    G = sp.coo_matrix((rng.standard_normal(rows.size), (rows, cols)), shape=(half, d)).tocsr()
    if dense_rows:
        G = sp.vstack([G[:half - dense_rows], sp.csr_matrix(rng.standard_normal((dense_rows, d)))])
    if scaled_columns:
        G = G @ sp.diags(rng.permutation(np.logspace(-3, 3, d)))
    x0 = rng.standard_normal(d)
    A, b = _paired(G.tocsr(), x0, 1.0, rng)
    return A, b, x0


def normal_equations(A, b):
    """The fast exact-enough solve a user writes: Cholesky of ``A^T A``."""
    return scipy.linalg.cho_solve(scipy.linalg.cho_factor(A.T @ A), A.T @ b)


def gelsd(A, b):
    return scipy.linalg.lstsq(A, b, lapack_driver="gelsd", check_finite=False)[0]


def gelsy(A, b):
    return scipy.linalg.lstsq(A, b, lapack_driver="gelsy", check_finite=False)[0]


def lsqr(A, b):
    return spla.lsqr(A, b, atol=PEER_ATOL, btol=PEER_ATOL, conlim=1e16, iter_lim=ITER_CAP)[0]


def lsmr(A, b):
    return spla.lsmr(A, b, atol=PEER_ATOL, btol=PEER_ATOL, conlim=1e16, maxiter=ITER_CAP)[0]


def normal_residual(A, b, x):
    """``||A^T r|| / (||A||_F ||r||)``, the measure LSQR and LSMR stop on (their atol test)."""
    r = b - A @ x
    norm_A = spla.norm(A) if sp.issparse(A) else np.linalg.norm(A)
    return float(np.linalg.norm(A.T @ r) / (norm_A * np.linalg.norm(r)))


def _nla(method):
    def solve(A, b):
        # sketch-and-solve at the l_inf bound's eps = 0.1 where d = 50 (at smoke sizes its
        # sketch exceeds n / 2: solved exactly), 0.5 at d = 500
        kw = {"eps": 0.1 if A.shape[1] <= 50 else 0.5} if method == "sketch" else {}
        with warnings.catch_warnings():  # a capped run warns; the tracks show its accuracy
            warnings.simplefilter("ignore", RuntimeWarning)
            return nla.lstsq(A, b, method=method, random_state=0, **kw).x
    return solve


class _Suite:
    """The problem and the solvers; subclasses hold one benchmark function per measure,
    parametrized by problem and solver, since asv pays a process start per function (which
    dominates the smoke run)."""

    version = "1"
    timeout = 900
    number = 1
    repeat = 1
    warmup_time = 0

    def setup(self, problem, solver):
        self.A, self.b, self.x0 = self.make(problem)
        small = slice(0, 8 * self.A.shape[1])
        for name in {solver} & set(NLA_METHODS):  # compile (cached kernels load)
            self.solvers[name](self.A[small], self.b[small])

    def _run(self, solver):
        return self.solvers[solver](self.A, self.b)


class _Solves(_Suite):
    def time_solve(self, problem, solver):
        self._run(solver)


class _Accuracy:
    """Accuracy of every (problem, solver), each solved once in ``setup_cache`` (defined in
    each subclass: asv keys the cache by where the function is written)."""

    version = "1"
    timeout = 3600  # scale 1: every solver on every problem in one process
    number = 1
    repeat = 1
    warmup_time = 0

    def _solve_all(self):
        out = {}
        for problem in self.params[0]:
            A, b, x0 = self.make(problem)
            for solver in self.params[1]:
                x = self.solvers[solver](A, b)
                out[problem, solver] = {"error": rel_error(x, x0),
                                        "normal_residual": normal_residual(A, b, x)}
        return out

    @track("||x - x0|| / ||x0||")
    def track_error(self, results, problem, solver):
        return results[problem, solver]["error"]


class _Ratios(_Suite):
    def setup(self, problem, peer):
        super().setup(problem, "auto")

    @track("peer/nla")
    def track_speedup(self, problem, peer):
        """Peer seconds over ``auto`` seconds, timed interleaved in this process."""
        return speedup(lambda: self._run("auto"), lambda: self._run(peer),
                       repeat=3 if peer == "normal" else 1)


NLA_METHODS = ("auto", "precondition", "sketch")
DENSE_SOLVERS = {"auto": _nla("auto"), "precondition": _nla("precondition"),
                 "sketch": _nla("sketch"), "gelsd": gelsd, "gelsy": gelsy,
                 "normal": normal_equations}
SPARSE_SOLVERS = {"auto": _nla("auto"), "lsqr": lsqr, "lsmr": lsmr}


class LstsqDense(_Solves):
    """Dense tall ``A``: nla's methods beside gelsd, gelsy and Cholesky normal equations."""

    params = [DENSE_RUN, list(DENSE_SOLVERS)]
    param_names = ["problem", "solver"]
    solvers = DENSE_SOLVERS
    make = staticmethod(dense_problem)


class LstsqDenseAccuracy(_Accuracy):
    """Errors to the planted solution of the solvers of :class:`LstsqDense`."""

    params = LstsqDense.params
    param_names = LstsqDense.param_names
    solvers = DENSE_SOLVERS
    make = staticmethod(dense_problem)

    def setup_cache(self):
        return self._solve_all()


class LstsqDenseRatios(_Ratios):
    """``auto`` over gelsd and over normal equations."""

    params = [DENSE_RUN, ["gelsd", "normal"]]
    param_names = ["problem", "peer"]
    solvers = DENSE_SOLVERS
    make = staticmethod(dense_problem)


class LstsqFirstCall(_Suite):
    """The first full-size ``auto`` call of the benchmark's process over a repeated one
    (kernels already compiled on a small slice in setup)."""

    params = [DENSE_RUN]
    param_names = ["problem"]
    solvers = DENSE_SOLVERS
    make = staticmethod(dense_problem)

    def setup(self, problem):
        super().setup(problem, "auto")

    @track("first/repeated")
    def track_first_call(self, problem):
        start = time.perf_counter()
        self._run("auto")
        first = time.perf_counter() - start
        repeated = np.inf
        for _ in range(2):
            start = time.perf_counter()
            self._run("auto")
            repeated = min(repeated, time.perf_counter() - start)
        return first / repeated


class LstsqSparse(_Solves):
    """Sparse CSR ``A``: nla ``auto`` beside LSQR and LSMR run to the normal-equation residual."""

    params = [SPARSE_RUN, list(SPARSE_SOLVERS)]
    param_names = ["problem", "solver"]
    solvers = SPARSE_SOLVERS
    make = staticmethod(sparse_problem)


class LstsqSparseAccuracy(_Accuracy):
    """Errors and normal-equation residuals of the solvers of :class:`LstsqSparse`."""

    params = LstsqSparse.params
    param_names = LstsqSparse.param_names
    solvers = SPARSE_SOLVERS
    make = staticmethod(sparse_problem)

    def setup_cache(self):
        return self._solve_all()

    @track("||A^T r|| / (||A|| ||r||)")
    def track_normal_residual(self, results, problem, solver):
        return results[problem, solver]["normal_residual"]


class LstsqSparseRatios(_Ratios):
    """``auto`` over LSQR and over LSMR."""

    params = [SPARSE_RUN, ["lsqr", "lsmr"]]
    param_names = ["problem", "peer"]
    solvers = SPARSE_SOLVERS
    make = staticmethod(sparse_problem)


if __name__ == "__main__":
    # Quick same-process ratios without asv: cd benchmarks && python -m benchmarks.bench_lstsq
    # [problem ...] (default: the 2^20 x 50 ones).
    import sys

    auto = DENSE_SOLVERS["auto"]
    for name in sys.argv[1:] or [p for p in DENSE if p.startswith("2^20")]:
        A, b, x0 = dense_problem(name)
        auto(A[:8 * A.shape[1]], b[:8 * A.shape[1]])
        vs_normal = speedup(lambda: auto(A, b), lambda: normal_equations(A, b), repeat=5)
        vs_gelsd = speedup(lambda: auto(A, b), lambda: gelsd(A, b), repeat=1)
        print(f"{name}: auto at {1 / vs_normal:.2f}x normal equations' time, "
              f"{vs_gelsd:.1f}x faster than gelsd; error auto "
              f"{rel_error(auto(A, b), x0):.1e}, gelsd {rel_error(gelsd(A, b), x0):.1e}",
              flush=True)
