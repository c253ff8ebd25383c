#!/usr/bin/env bash
# The whole GPU check in one call, sized to finish in under 8 minutes on an H100/H200.
#
#   bash benchmarks/gpu_check.sh wheels   # here (no GPU): fetch the wheels the GPU image lacks into .whl/
#   bash benchmarks/gpu_check.sh          # on the GPU machine, from the repository root
#
# The run writes one log (device, date, software versions, tests/gpu, the engine benchmarks and
# the GPU-peer comparison) to $OUT/gpu-check.log (or ./gpu-check.log); commit it, edited into a
# dated markdown file, under benchmarks/results/.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "wheels" ]; then
    # Pure-Python dependencies missing from the GPU image (it has NumPy, SciPy, Numba, CuPy, torch).
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux2014_x86_64 --platform any -d .whl \
        tensorly array-api-compat "dask[array,distributed]" distributed partd locket \
        tblib zict tornado sortedcontainers pytest-timeout
    exit
fi

log="${OUT:-.}/gpu-check.log"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH=".:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
{
    echo "# GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    echo "CPU cores: $(nproc)"
    python3 - <<'PY'
import importlib
for name in ("numpy", "scipy", "numba", "cupy", "torch", "sklearn", "tensorly", "dask"):
    try:
        print(f"{name} {importlib.import_module(name).__version__}")
    except Exception as exc:
        print(f"{name}: not available ({type(exc).__name__})")
PY
    echo "## tests/gpu"
    per_test=$(python3 -c "import pytest_timeout" 2>/dev/null && echo "--timeout 150")
    timeout 270 python3 -m pytest tests/gpu -q -p no:cacheprovider -x $per_test
    echo "## engines: GPU (CuPy) against CPU (Numba, all cores), same inputs"
    timeout 120 python3 benchmarks/benchmarks/bench_gpu.py
    echo "## GPU peers: nla on the GPU against what a GPU user would call instead"
    timeout 60 python3 benchmarks/benchmarks/bench_gpu_peers.py
} 2>&1 | tee "$log"
