"""Shared by the benchmark suites: the problem-size factor and the same-process ratio timer.

Ratios survive a noisy machine where absolute times do not: ``speedup(nla_fn, peer_fn)`` times
both sides in one call, interleaved, and a suite returns it from a ``track_speedup`` member
(unit ``"peer/nla"``; above 1 means nla is faster). The dashboards then show that series beside
the ``time_`` ones, and a regression is judged on it first (docs/benchmarks.rst).
"""

import os
import time

import numpy as np


def _scale(text):
    """``NLA_BENCH_SCALE`` as a float in (0, 10]; anything else stops the run with a clear message."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not np.isfinite(value) or not 0 < value <= 10:
        raise ValueError(f"NLA_BENCH_SCALE must be a number in (0, 10] (1 gives the sizes the "
                         f"issues name, 0.05 the CI smoke run), got {text!r}")
    return value


#: Problem-size factor for the heavy suites. 1 gives the sizes the issues name; CI's smoke run
#: (`.ci/run`) sets a small value so that every benchmark still runs once in minutes.
SCALE = _scale(os.environ.get("NLA_BENCH_SCALE", "1"))


def scaled(n, low=1):
    """``n`` times ``SCALE``, at least ``low``."""
    return max(low, int(n * SCALE))


def best_seconds(fn, repeat=3):
    """(least wall seconds of ``repeat`` calls of ``fn()``, the last call's result)."""
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


#: Seconds of idle before each call that :func:`speedup` times. BLAS and OpenMP threads
#: spin-wait for about 0.1 s after a call returns: measured, OpenBLAS's threads after a
#: Cholesky normal-equation solve made the sketch of the next ``nla.lstsq`` call 1.6x slower
#: (0.060 -> 0.096 s) on 2 cores, charging one side for the other's threads.
SETTLE = 0.15


def speedup(nla_fn, peer_fn, repeat=3):
    """Peer seconds over nla seconds, both timed here, best of ``repeat`` interleaved runs.

    Interleaving (nla, peer, nla, peer, ...) exposes both sides to the same background load, so
    the ratio stays put when the machine's speed drifts; each timed call starts after
    :data:`SETTLE` seconds of idle. Callers compile (warm up) beforehand.
    """
    t_nla = t_peer = np.inf
    for _ in range(repeat):
        time.sleep(SETTLE)
        t_nla = min(t_nla, best_seconds(nla_fn, 1)[0])
        time.sleep(SETTLE)
        t_peer = min(t_peer, best_seconds(peer_fn, 1)[0])
    return float(t_peer / t_nla)


def rel_error(x, ref):
    """Relative Frobenius (2-) norm error ``||x - ref|| / ||ref||``."""
    x, ref = np.asarray(x), np.asarray(ref)
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def track(unit):
    """Decorator giving a ``track_`` member its unit (asv shows it on the dashboard axis)."""
    def mark(fn):
        fn.unit = unit
        return fn
    return mark
