"""nla on dask arrays larger than the cluster's memory (issue 15, "Out of core").

Usage::

    python benchmarks/dask_out_of_core.py lstsq                 # 2**25 x 64 float64 (17 GB)
    python benchmarks/dask_out_of_core.py projection            # 20 GB, 1024 columns -> 256
    python benchmarks/dask_out_of_core.py tsqr                  # 2**24 x 64 persisted, vs TSQR
    python benchmarks/dask_out_of_core.py lstsq --rows 1000000 --note "small check"

``lstsq`` and ``projection`` run on a LocalCluster of 2 worker processes with one thread and
``--memory-limit`` (4GB) each. The data are generated lazily per chunk of about ``--chunk-mb``
(128) MB on the workers (seeded ``da.random``; :func:`bench_dask.planted_lstsq` for least
squares, whose exact solution is known) and never materialised; the projection is reduced to
two numbers, ``||X||_F^2`` and ``||X R||_F^2``, in the same pass (their ratio is close to 1
for a Johnson-Lindenstrauss map), and its first chunk is compared with the in-core projection
of that chunk. ``tsqr`` measures the in-memory ratio of the asv suite ``bench_dask.LstsqTSQR``
(the same function) at the issue's size; its workers keep the default memory limit.

Recorded: wall seconds of the call, peak memory of each worker process (its ``ru_maxrss``,
read in the worker at the end, and the scheduler's view polled every 0.2 s for the cluster
total), and whether any worker left or was restarted (worker addresses seen while running
against those at the start). One summary line is printed and appended to
``benchmarks/results/dask_out_of_core.log``, with the load average, since the machine may be
shared: pass ``--note`` to say what else ran.
"""

import argparse
import datetime
import os
import resource
import subprocess
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmarks"))
from bench_dask import (WORKERS, local_cluster, lstsq_vs_tsqr, planted_lstsq,  # noqa: E402
                        rel_error, row_chunk)

import nla  # noqa: E402

LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "dask_out_of_core.log")
GB = 1e9
GIB = float(1 << 30)


def _peak_rss():
    # Run in each worker (by value: this module is __main__): the process's peak RSS in bytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class WorkerWatch:
    """Peak worker memory and lost/restarted workers while the block runs.

    The scheduler's per-worker process memory is polled in a thread (it is refreshed by the
    workers' heartbeats, so a spike shorter than a heartbeat can be missed: the per-worker
    peaks come from ``ru_maxrss`` instead); the cluster total is the largest sum at one poll.
    """

    def __init__(self, client, interval=0.2):
        self.client, self.interval = client, interval
        self.peak_total, self.seen, self._stop = 0, set(), threading.Event()

    def _workers(self):
        return self.client.scheduler_info(n_workers=-1)["workers"]

    def _poll(self):
        while not self._stop.wait(self.interval):
            try:
                workers = self._workers()
            except Exception:  # the scheduler is busy or closing: next poll
                continue
            self.seen |= set(workers)
            total = sum(w["metrics"]["memory"] for w in workers.values())
            self.peak_total = max(self.peak_total, total)

    def __enter__(self):
        self.start = set(self._workers())
        self.seen = set(self.start)
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        end = set(self._workers())
        self.seen |= end
        self.peak_rss = self.client.run(_peak_rss)  # {address: bytes} of the live workers
        self.lost = len(self.seen - end)  # a restarted worker comes back at a new address
        self.restarted = len(self.seen - self.start)
        return False

    def summary(self):
        peaks = "/".join(f"{v / GIB:.2f}" for v in sorted(self.peak_rss.values()))
        return (f"peak_worker_rss_gib={peaks} peak_cluster_gib={self.peak_total / GIB:.2f} "
                f"workers_lost={self.lost} workers_restarted={self.restarted}")


def run_lstsq(client, args):
    n, d = args.rows or 2**25, args.cols or 64
    A, b, x0 = planted_lstsq(n, d, rows=row_chunk(d, chunk_bytes=args.chunk_mb << 20))
    start = time.perf_counter()
    x = nla.lstsq(A, b, random_state=0).x
    seconds = time.perf_counter() - start
    return seconds, n, d, f"rel_error={rel_error(x, x0):.2e}"


def run_projection(client, args):
    import dask.array as da

    d, k = args.cols or 1024, args.components
    n = args.rows or -(-int(20 * GB) // (8 * d))
    X = da.random.default_rng(0).standard_normal(
        (n, d), chunks=(row_chunk(d, chunk_bytes=args.chunk_mb << 20), d))
    rp = nla.SparseRandomProjection(k, random_state=0)
    start = time.perf_counter()
    Y = rp.fit_transform(X)
    x2, y2 = da.compute((X * X).sum(), (Y * Y).sum())
    seconds = time.perf_counter() - start
    rows = X.chunks[0][0]
    first = np.abs(Y[:rows].compute() - rp.transform(X[:rows].compute())).max()
    return seconds, n, d, (f"components={k} norm2_ratio={y2 / x2:.5f} "
                           f"first_chunk_max_abs_diff_vs_in_core={first:.1e} "
                           f"rows_per_s={n / seconds:.3g}")


def run_tsqr(client, args):
    n, d = args.rows or 2**24, args.cols or 64
    start = time.perf_counter()
    out = lstsq_vs_tsqr(client, n, d, repeat=args.repeat)
    seconds = time.perf_counter() - start
    return seconds, n, d, (f"speedup_vs_tsqr={out['speedup']:.2f} "
                           f"rel_error_nla={out['rel_error_nla']:.2e} "
                           f"rel_error_tsqr={out['rel_error_dask']:.2e} repeat={args.repeat}")


MODES = {"lstsq": run_lstsq, "projection": run_projection, "tsqr": run_tsqr}


def _commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=os.path.dirname(LOG)).stdout.strip()
    except OSError:
        return "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--rows", type=int, help="rows (default: the issue's size)")
    parser.add_argument("--cols", type=int, help="columns (lstsq/tsqr 64, projection 1024)")
    parser.add_argument("--components", type=int, default=256, help="projection: output size")
    parser.add_argument("--chunk-mb", type=int, default=128, help="MB per row chunk")
    parser.add_argument("--memory-limit", default=None,
                        help="per worker (default 4GB; tsqr: dask's default)")
    parser.add_argument("--repeat", type=int, default=1, help="tsqr: interleaved repeats")
    parser.add_argument("--note", default="", help="free text for the log (machine load...)")
    parser.add_argument("--no-log", action="store_true", help="print only")
    args = parser.parse_args(argv)

    limit = args.memory_limit or ("auto" if args.mode == "tsqr" else "4GB")
    load0 = os.getloadavg()
    with local_cluster(memory_limit=limit) as client:
        with WorkerWatch(client) as watch:
            error = None
            try:
                seconds, n, d, figures = MODES[args.mode](client, args)
            except Exception as err:  # a KilledWorker, say: logged as the run's outcome
                error = err
                seconds, n, d, figures = float("nan"), args.rows, args.cols, f"FAILED {err!r}"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = "/".join(f"{v:.1f}" for v in load0 + os.getloadavg())
    size = f"{n * d * 8 / GB:.1f}GB" if n and d else "?"
    line = (f"{when} commit={_commit()} mode={args.mode} n={n} d={d} size={size} "
            f"workers={WORKERS}x1thread memory_limit={limit} chunk_mb={args.chunk_mb} "
            f"wall_s={seconds:.1f} {figures} {watch.summary()} "
            f"load_avg_before/after={load} cpus={os.cpu_count()}"
            + (f" note={args.note!r}" if args.note else ""))
    print(line)
    if not args.no_log:
        with open(LOG, "a") as log:
            log.write(line + "\n")
    return 1 if error is not None else 0


if __name__ == "__main__":
    sys.exit(main())
