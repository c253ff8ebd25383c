"""AltMin matrix completion: per-sweep time of solver='cg' vs 'cholesky', and a NumPy ALS.

Problem of the issue: 20,000 x 20,000, 2,000,000 uniformly sampled observations of a random
rank-16 matrix plus noise (about 100 per row and column), fit rank k = 16 ... 128. With 100
observations per row, k = 128 is underdetermined row by row, so every solver fits a small
ridge (``reg=0.1``, relative to a row's typical Gram eigenvalue) and all solve the same
problems. Each timing is one steady-state sweep (V-half + U-half), warm-started from three
earlier CG sweeps, without the initial SVD (which costs the same for every solver).

The peer is plain NumPy ALS: a Python loop of ``numpy.linalg.lstsq`` per row and column.

Run ``python benchmarks/benchmarks/bench_completion.py`` for the ratios table of the docs.

``MovieLensFolds``: the issue's acceptance on the MovieLens 100K folds u2..u5 (read from
``../shared/data/ml-100k``; skipped when absent). nla's rank, reg and number of sweeps are
chosen on a 10 % validation part of the training fold only (``nla.completion._movielens``),
then refitted on the whole training fold; the peers are scikit-surprise's SVD and SVD++
with their defaults, fitted on the same training fold in the same process. Tracked: test
RMSE of each, and Surprise SVD's fit time over nla's final fit time (above 1: nla faster;
best of 3 interleaved; nla's time includes building its CSR views from the triplets,
Surprise's excludes building its trainset).
At ``NLA_BENCH_SCALE`` < 1 (the CI smoke run) only u2 runs, with a two-point grid and
without SVD++ (10-20 s per fold). ``python benchmarks/benchmarks/bench_completion.py
movielens`` prints the table of the docs.

``RatingLikeSynthetic``: the issue's scale check, a 100,000 x 20,000 rating-like matrix with
10M observations (rank 10 + user and item offsets + noise, rounded and clipped to 1..5 stars;
times ``NLA_BENCH_SCALE``), fitted with ``biases=True``. Timed: seconds per sweep (difference
of a 6-sweep and a 2-sweep fit, so the spectral initialization cancels) and peak memory of
the fit. ``python benchmarks/benchmarks/bench_completion.py synthetic`` prints both.
"""

import time
from pathlib import Path

import numpy as np

from nla._threads import one_blas_thread
from nla.completion import _kernels, _movielens
from nla.completion import AltMinCompleter
from nla.completion._altmin import sweep
from nla.completion._observed import Observations

try:
    from ._common import SCALE, best_seconds, scaled
except ImportError:  # run as a script from this folder
    from _common import SCALE, best_seconds, scaled

#: The checkout's shared data, found from this file (asv runs it from a temporary folder).
ML100K = Path(__file__).resolve().parents[3] / "shared" / "data" / "ml-100k"
M = N = int(20_000 * SCALE)
NNZ = int(2_000_000 * SCALE)
REG = 0.1


def make_observations(m=M, n=N, nnz=NNZ, true_rank=16, seed=0):
    rng = np.random.default_rng(seed)
    lin = np.unique(rng.integers(0, m * n, int(nnz * 1.01)))[:nnz]
    rng.shuffle(lin)
    rows, cols = lin // n, lin % n
    A = rng.standard_normal((m, true_rank))
    B = rng.standard_normal((n, true_rank)) / np.sqrt(true_rank)
    vals = np.einsum("ij,ij->i", A[rows], B[cols]) + 0.1 * rng.standard_normal(rows.size)
    return Observations(rows, cols, vals, (m, n), np)


def warm_state(obs, k, n_sweeps=3, seed=1):
    """A state after ``n_sweeps`` CG sweeps from a random orthonormal U."""
    rng = np.random.default_rng(seed)
    U_hat = np.ascontiguousarray(np.linalg.qr(rng.standard_normal((obs.shape[0], k)))[0])
    V_warm = np.zeros((obs.shape[1], k))
    for _ in range(n_sweeps):
        _, _, U_hat, V_warm, _, _ = one_sweep(obs, U_hat, V_warm, "cg")
    return U_hat, V_warm


def one_sweep(obs, U_hat, V_warm, solver):
    with one_blas_thread():  # as in fit: the QRs too
        return sweep(obs, obs, U_hat, V_warm.copy(), _kernels, np, solver=solver, eta=0.1,
                     floor=1e-14, max_iter=50, reg=REG, sketch_size=0)


def numpy_als_sweep(obs, U_hat, V_warm, rows_limit=None):
    """Plain NumPy ALS sweep: one ``numpy.linalg.lstsq`` per column, then per row.

    With ``rows_limit`` only that many problems of each half are solved (for
    extrapolation); returns the number of problems solved.
    """
    m, n = obs.shape
    k = U_hat.shape[1]
    solved = 0
    for (indptr, indices, data), F, size in ((obs.col_view, U_hat, m), (obs.row_view, None, n)):
        if F is None:  # U-half uses the orthonormalized V of the V-half
            F = np.linalg.qr(out)[0]
        count = indptr.shape[0] - 1 if rows_limit is None else rows_limit
        out = np.zeros((indptr.shape[0] - 1, k))
        for i in range(count):
            cols = indices[indptr[i]:indptr[i + 1]]
            ridge = np.sqrt(REG * cols.size / size)
            A = np.vstack([F[cols], ridge * np.eye(k)])
            y = np.concatenate([data[indptr[i]:indptr[i + 1]], np.zeros(k)])
            out[i] = np.linalg.lstsq(A, y, rcond=None)[0]
        solved += count
    return solved


class CompletionSweep:
    """Seconds per steady-state sweep, nla 'cg' vs nla 'cholesky', k = 16 ... 128."""

    params = ([16, 32, 64, 128], ["cg", "cholesky"])
    param_names = ["k", "solver"]
    number = 1
    repeat = 1
    warmup_time = 0
    version = "1"
    timeout = 600

    def setup_cache(self):
        obs = make_observations()
        return obs.rows, obs.cols, obs.vals   # picklable

    def setup(self, triplets, k, solver):
        self.obs = Observations(*triplets, (M, N), np)
        # also compiles: every solver is the same Numba function (the solver is an argument)
        self.state = warm_state(self.obs, k)

    def time_sweep(self, triplets, k, solver):
        one_sweep(self.obs, *self.state, solver)


class NumpyALSSweep:
    """Plain NumPy ALS (per-row numpy.linalg.lstsq loop), k = 32: the peer."""

    number = 1
    repeat = 1
    warmup_time = 0
    version = "1"
    timeout = 600

    def setup(self):
        self.obs = make_observations()
        self.state = warm_state(self.obs, 32, n_sweeps=1)

    def time_sweep_numpy_lstsq(self):
        numpy_als_sweep(self.obs, *self.state)


def movielens_fold(fold, full=SCALE >= 1, repeat=3):
    """The acceptance evaluation of one fold: a dict of RMSEs, fit seconds and the pick."""
    train, test = _movielens.load_fold(fold, ML100K)
    grid = (_movielens.RANKS, _movielens.REGS) if full else ((10,), (0.1, 0.13))
    est, table = _movielens.tuned_fit(train, *grid)
    _, rank, reg, sweeps = table[0]
    out = dict(fold=fold, rank=rank, reg=reg, sweeps=sweeps, nla_rmse=-est.score(test[0]),
               svd_rmse=np.nan, svdpp_rmse=np.nan, svd_s=np.nan, svdpp_s=np.nan)
    final = _movielens.final_estimator(rank, reg, sweeps)
    fit_nla = lambda: _movielens.fit(final, train)  # noqa: E731
    try:
        trainset = _movielens.surprise_trainset(train)
    except ImportError:
        out["nla_s"] = _best(fit_nla, repeat)[0]
        return out
    svd = _movielens.surprise_algo("SVD")
    fit_svd = lambda: svd.fit(trainset)  # noqa: E731
    times = {"nla": np.inf, "svd": np.inf}
    for _ in range(repeat):  # interleaved: both sides see the same background load
        times["nla"] = min(times["nla"], _best(fit_nla, 1)[0])
        times["svd"] = min(times["svd"], _best(fit_svd, 1)[0])
    out["nla_s"], out["svd_s"] = times["nla"], times["svd"]
    out["svd_rmse"] = _movielens.surprise_rmse(svd, test)
    if full:
        svdpp = _movielens.surprise_algo("SVDpp")
        start = time.perf_counter()
        svdpp.fit(trainset)
        out["svdpp_s"] = time.perf_counter() - start
        out["svdpp_rmse"] = _movielens.surprise_rmse(svdpp, test)
    return out


class MovieLensFolds:
    """MovieLens 100K, folds u2..u5: nla (tuned on the training fold) vs Surprise SVD, SVD++."""

    params = [2, 3, 4, 5] if SCALE >= 1 else [2]
    param_names = ["fold"]
    number = 1
    repeat = 1
    warmup_time = 0
    version = "1"
    timeout = 1800

    def setup_cache(self):
        if not _movielens.available(ML100K):
            return {}   # not None: asv passes a None cache to setup as no argument at all
        # compile outside the timings
        _movielens.fit(_movielens.final_estimator(10, 0.1, 2),
                       _movielens.load_fold(self.params[0], ML100K)[0])
        return {fold: movielens_fold(fold) for fold in self.params}

    def setup(self, results, fold):
        if not results:
            raise NotImplementedError(f"MovieLens 100K not found at {ML100K}")
        self.r = results[fold]
        self.train = _movielens.load_fold(fold, ML100K)[0]
        self.final = _movielens.final_estimator(self.r["rank"], self.r["reg"], self.r["sweeps"])

    def track_rmse_nla(self, results, fold):
        return self.r["nla_rmse"]

    def track_rmse_surprise_svd(self, results, fold):
        return self.r["svd_rmse"]

    def track_rmse_surprise_svdpp(self, results, fold):
        return self.r["svdpp_rmse"]

    def track_speedup_vs_surprise_svd(self, results, fold):
        return self.r["svd_s"] / self.r["nla_s"]

    track_speedup_vs_surprise_svd.unit = "peer/nla"

    def time_fit_nla(self, results, fold):
        _movielens.fit(self.final, self.train)


SYN_M, SYN_N, SYN_NNZ = scaled(100_000), scaled(20_000), scaled(10_000_000)


def rating_like(m=SYN_M, n=SYN_N, nnz=SYN_NNZ, rank=10, seed=0):
    """``((rows, cols, stars), shape)``: low rank + offsets + noise, rounded to 1..5 stars."""
    rng = np.random.default_rng(seed)
    lin = np.unique(rng.integers(0, m * n, int(nnz * 1.1) + 10))  # distinct entries, then
    lin = np.sort(rng.choice(lin, min(nnz, lin.size), replace=False))  # an unbiased subset
    rows, cols = (lin // n).astype(np.int32), (lin % n).astype(np.int32)
    U = rng.standard_normal((m, rank)) * (0.5 / np.sqrt(rank))
    V = rng.standard_normal((n, rank))
    values = (3.5 + 0.4 * rng.standard_normal(m)[rows] + 0.6 * rng.standard_normal(n)[cols]
              + np.einsum("ij,ij->i", U[rows], V[cols]) + 0.8 * rng.standard_normal(rows.size))
    return (rows, cols, np.clip(np.rint(values), 1, 5)), (m, n)


def synthetic_fit(data, sweeps, rank=10):
    est = AltMinCompleter(rank, biases=True, reg=0.05, solver="cholesky", value_range=(1, 5),
                          max_iter=sweeps, tol=0, random_state=0)
    return est.fit(data[0], shape=data[1])


def two_and_six_sweeps(data):
    """Seconds of a 2-sweep and a 6-sweep fit (compiled first), and the 6-sweep model."""
    synthetic_fit(data, 1)
    (two, _), (six, est) = (best_seconds(lambda s=s: synthetic_fit(data, s), 1) for s in (2, 6))
    return two, six, est


class RatingLikeSynthetic:
    """Biased AltMin on the issue's 100,000 x 20,000 / 10M-observation rating-like matrix."""

    version = "1"
    timeout = 1800

    def setup_cache(self):
        data = rating_like()
        two, six, _ = two_and_six_sweeps(data)
        return data, (six - two) / 4

    def track_seconds_per_sweep(self, cache):
        return cache[1]

    track_seconds_per_sweep.unit = "seconds"

    def peakmem_fit_six_sweeps(self, cache):
        synthetic_fit(cache[0], 6)


def _synthetic_table():
    import resource

    data = rating_like()
    two, six, est = two_and_six_sweeps(data)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rows, cols, stars = data[0]
    rmse = float(np.sqrt(np.mean((est.predict(rows, cols) - stars) ** 2)))
    print(f"{SYN_M} x {SYN_N}, {stars.size} observations, rank 10, biases: 2 sweeps {two:.1f} s, "
          f"6 sweeps {six:.1f} s, {(six - two) / 4:.2f} s per sweep, peak RSS {peak:.2f} GB, "
          f"training RMSE {rmse:.3f}")


def _movielens_table():
    print("fold  pick (rank, reg, sweeps)  nla RMSE  SVD RMSE  SVD++ RMSE  nla fit s  SVD fit s"
          "  SVD/nla  SVD++ fit s")
    for fold in (2, 3, 4, 5):
        r = movielens_fold(fold)
        print(f"u{fold}    ({r['rank']:2d}, {r['reg']:.2f}, {r['sweeps']:2d})          "
              f"{r['nla_rmse']:.4f}    {r['svd_rmse']:.4f}    {r['svdpp_rmse']:.4f}      "
              f"{r['nla_s']:.3f}      {r['svd_s']:.3f}      {r['svd_s'] / r['nla_s']:4.1f}"
              f"     {r['svdpp_s']:.1f}", flush=True)


def _best(fn, repeat):
    """``(best wall seconds, best CPU seconds of the process)`` over ``repeat`` runs.

    CPU seconds (all threads) are reported too because on a shared machine the wall time
    also counts the time our threads wait for a core.
    """
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), out


def _ratios(ks=(16, 32, 64, 128), repeat=3, numpy_rows=2000):
    """Print seconds per sweep and ratios; the NumPy loop is extrapolated from a subset."""
    obs = make_observations()
    print(f"{M} x {N}, {obs.nnz} observations, reg={REG}; best of {repeat}; "
          "wall s / CPU s (all threads)")
    table = []
    for k in ks:
        state = warm_state(obs, k)
        res = {}
        for solver in ("cg", "cholesky"):
            one_sweep(obs, *state, solver)
            res[solver] = _best(lambda: one_sweep(obs, *state, solver), repeat)
        steps = res["cg"][2][5] / (obs.shape[0] + obs.shape[1])
        (cw, cc, _), (hw, hc, _) = res["cg"], res["cholesky"]
        line = (f"k={k:4d}  cg {cw:7.3f} / {cc:7.3f} ({steps:.1f} steps/row)  cholesky "
                f"{hw:7.3f} / {hc:7.3f}  ratio wall {hw / cw:5.2f} cpu {hc / cc:5.2f}")
        if k == 32:
            nw, nc, solved = _best(lambda: numpy_als_sweep(obs, *state, rows_limit=numpy_rows),
                                   1)
            scale = (obs.shape[0] + obs.shape[1]) / solved
            line += (f"\n        numpy-lstsq ALS {nw * scale:7.2f} / {nc * scale:7.2f} "
                     f"(extrapolated from {solved} of {obs.shape[0] + obs.shape[1]} problems)"
                     f"  ratio vs cg wall {nw * scale / cw:5.1f} cpu {nc * scale / cc:5.1f}")
        print(line, flush=True)
        table.append((k, cw, hw, cc, hc))
    t = np.array(table)
    logk = np.log(t[:, 0])
    for name, a, b in (("wall", 1, 2), ("cpu", 3, 4)):
        print(f"{name}: exponent in k of cg time {np.polyfit(logk, np.log(t[:, a]), 1)[0]:.2f}, "
              f"cholesky {np.polyfit(logk, np.log(t[:, b]), 1)[0]:.2f}, ratio "
              f"{np.polyfit(logk, np.log(t[:, b] / t[:, a]), 1)[0]:.2f}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["movielens"]:
        _movielens_table()
    elif sys.argv[1:] == ["synthetic"]:
        _synthetic_table()
    else:
        _ratios(ks=tuple(int(a) for a in sys.argv[1:]) or (16, 32, 64, 128))
