"""``python -m nla tour``: every capability on built-in synthetic data, timed beside its peer.

Each capability contributes rows from ``nla/<area>/_tour.py``, a module with a function
``rows()`` yielding :class:`TourRow`. Areas are listed in :data:`AREAS`; one that is not
built yet is skipped, so the tour grows as capabilities land.
"""

import importlib
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

    @property
    def ratio(self):
        return self.peer_seconds / self.nla_seconds if self.nla_seconds > 0 else float("nan")


def timed(fn, *args, repeat=1, **kwargs):
    """``(best wall seconds over repeat runs, last result)`` of ``fn(*args, **kwargs)``."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, out


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


def format_table(rows):
    """The tour table as text."""
    head = ("capability", "problem size", "accuracy", "nla s", "peer", "peer s", "speed-up")
    body = [(r.capability, r.size, r.accuracy, f"{r.nla_seconds:.3f}", r.peer,
             f"{r.peer_seconds:.3f}", f"{r.ratio:.1f}x") for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    line = "  ".join("{:<%d}" % w for w in widths)
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line.format(*head), sep] + [line.format(*b) for b in body])


def run_tour(areas=None, verbose=True):
    """Run the tour (optionally only ``areas``) and return its rows."""
    chosen = [(a, m) for a, m in available_areas() if areas is None or a in areas]
    rows = []
    for area, module in progress(chosen, verbose=verbose, desc="nla tour"):
        rows.extend(module.rows())
    return rows
