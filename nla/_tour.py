"""``python -m nla tour``: every capability on built-in synthetic data, timed beside its peer.

Each capability contributes rows from ``nla/<area>/_tour.py``, a module with a function
``rows()`` yielding :class:`TourRow`. Areas are listed in :data:`AREAS`; one that is not
built yet is skipped, so the tour grows as capabilities land.

How it times: before an area's rows run, its kernels are compiled (:mod:`nla._compile`, the
same warm-up as ``python -m nla compile``) and that time is reported in its own column; then
nla and its peer are timed the same way by :func:`timed` (one untimed warm-up call, the median
of the same number of timed calls).
"""

import importlib
import resource
import statistics
import sys
import textwrap
import time
from dataclasses import dataclass

from ._progress import progress

#: Capability areas in tour order (sub-packages of ``nla``).
AREAS = ("random_projection", "sketching", "sampling", "completion", "recovery",
         "chebtucker", "funbat", "ssm")


@dataclass
class TourRow:
    """One line of the tour table."""

    capability: str
    size: str
    accuracy: str
    nla_seconds: float
    peer: str
    peer_seconds: float
    #: what the accuracy cell measures, in words (printed under the table)
    metric: str = ""
    #: seconds the area's first use spent compiling kernels (set by :func:`run_tour`)
    compile_seconds: float = float("nan")

    @property
    def ratio(self):
        return self.peer_seconds / self.nla_seconds if self.nla_seconds > 0 else float("nan")


def timed(fn, *args, repeat=3, **kwargs):
    """``(median wall seconds of repeat runs, last result)`` of ``fn(*args, **kwargs)``.

    One untimed call comes first (compilation, imports, first-touch of memory), so nla and its
    peer are both measured warm; use the same ``repeat`` for both sides of a row.

    Examples
    --------
    >>> seconds, out = timed(sum, [1, 2, 3])
    >>> out, seconds >= 0
    (6, True)
    """
    out = fn(*args, **kwargs)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def available_areas():
    """Areas whose tour module exists."""
    found = []
    for area in AREAS:
        try:
            found.append((area, importlib.import_module(f"nla.{area}._tour")))
        except ModuleNotFoundError as exc:
            if exc.name not in (f"nla.{area}", f"nla.{area}._tour"):
                raise
    return found


def peak_memory_mb():
    """Peak resident memory of this process so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2 ** 20 if sys.platform == "darwin" else peak / 2 ** 10  # bytes vs KiB


def format_table(rows, total_seconds=None):
    """The tour table as text, with the footer that explains its columns.

    Examples
    --------
    >>> row = TourRow("demo", "10x10", "rel err 1e-16", 0.5, "numpy", 1.0,
    ...               metric="rel err: ||x - x_exact|| / ||x_exact||", compile_seconds=2.0)
    >>> print(format_table([row]).splitlines()[2])
    demo        10x10         rel err 1e-16  2.0        0.500  numpy  1.000   2.0x
    """
    head = ("capability", "problem size", "accuracy", "compile s", "nla s", "peer", "peer s",
            "speed-up")
    body = [(r.capability, r.size, r.accuracy,
             "" if r.compile_seconds != r.compile_seconds else f"{r.compile_seconds:.1f}",
             f"{r.nla_seconds:.3f}", r.peer, f"{r.peer_seconds:.3f}", f"{r.ratio:.1f}x")
            for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    line = "  ".join("{:<%d}" % w for w in widths)
    sep = "  ".join("-" * w for w in widths)
    notes = [textwrap.fill(f"{r.capability}: {r.metric}", 100, initial_indent="  ",
                           subsequent_indent="    ") for r in rows if r.metric]
    foot = ["",
            "nla s, peer s: median of the same number of timed calls, each side after one "
            "untimed warm-up call;",
            "speed-up: peer s / nla s. compile s: Numba compiling the area's kernels on first "
            "use (once per",
            "install, cached afterwards, or ahead of time with `python -m nla compile`); not "
            "in nla s."]
    if notes:
        foot += ["accuracy:"] + notes
    if total_seconds is not None:
        foot.append(f"total tour time {total_seconds:.1f} s, peak memory "
                    f"{peak_memory_mb():.0f} MB")
    table = [line.format(*head), sep] + [line.format(*b) for b in body]
    return "\n".join([t.rstrip() for t in table] + foot)


def run_tour(areas=None, verbose=True):
    """Run the tour (optionally only ``areas``) and return its rows.

    Each area's kernels are compiled first and the time stored in the area's first row.
    """
    from ._compile import WARMUPS, compile_areas

    chosen = [(a, m) for a, m in available_areas() if areas is None or a in areas]
    rows = []
    for area, module in progress(chosen, verbose=verbose, desc="nla tour"):
        seconds = compile_areas([area], verbose=False)[area] if area in WARMUPS else 0.0
        first = len(rows)
        rows.extend(module.rows())
        if len(rows) > first:
            rows[first].compile_seconds = seconds
    return rows
