"""Shared by the benchmark suites."""

import os

#: Problem-size factor for the heavy suites. 1 gives the sizes the issues name; CI's smoke run
#: (`.ci/run`) sets a small value so that every benchmark still runs once in minutes.
SCALE = float(os.environ.get("NLA_BENCH_SCALE", "1"))
