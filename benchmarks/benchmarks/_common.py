"""Helpers shared by the benchmark suites."""

import os

#: Scale factor for benchmark problem sizes; CI's quick run keeps the default.
SCALE = float(os.environ.get("NLA_BENCH_SCALE", "1"))
