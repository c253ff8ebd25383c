#!/usr/bin/env bash
# Add the reference machine's results for commits of main to benchmarks/results/ (committed):
#
#   bash benchmarks/record.sh            # the newest commit of main
#   bash benchmarks/record.sh A..B       # a range (asv's syntax: git revisions)
#
# then `git add benchmarks/results && git commit`. The machine is a shared, loaded 2-core VM, so
# the recorded runs use a small scale (NLA_BENCH_SCALE, 0.05 unless set), one round and one
# repeat per benchmark, and leave out the suites that need hardware absent here (bench_gpu*).
# Every recorded suite's sizes follow NLA_BENCH_SCALE. Compare a series only
# within one scale (the committed history: 0.05). See docs/benchmarks.rst.
set -euo pipefail
cd "$(dirname "$0")"
range="${1:-main^!}"
export NLA_BENCH_SCALE="${NLA_BENCH_SCALE:-0.05}"
machine="${NLA_ASV_MACHINE:-nla-ref-2core}"
bench="${NLA_ASV_BENCH:-^bench_(random_projection|sketching|lstsq|sampling|recovery|chebtucker|funbat|ptd|completion|dask)\.}"
# The machine's description (committed as results/$machine/machine.json): asv's own defaults
# under our name (`asv machine --machine NAME --yes` stores only the name).
python -c "import sys; from asv.machine import Machine, MachineCollection as M
M.save(sys.argv[1], {**Machine.get_defaults(), 'machine': sys.argv[1]})" "$machine"
asv run --machine "$machine" --skip-existing-commits --show-stderr -b "$bench" \
    -a rounds=1 -a repeat=1 -a warmup_time=0 "$range"
