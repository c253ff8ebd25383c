"""First-call (compile) time of each capability, each in a fresh process with an empty Numba cache.

Usage::

    python benchmarks/first_call.py                 # every capability
    python benchmarks/first_call.py lstsq fastrp    # some of them
    python benchmarks/first_call.py --per-kernel    # plus the compile time of each kernel

For each capability a child process is started with ``NUMBA_CACHE_DIR`` set to a new, empty
temporary directory (nothing cached from earlier runs, nothing left behind). The child imports
nla, builds a small typical input, and times the first call (compilation + run) and a second
call (run only). Reported per capability: import, first and second call wall seconds, CPU
seconds of the first call (``resource.getrusage(RUSAGE_SELF)`` around it, all threads) and CPU
seconds of the whole child (``RUSAGE_CHILDREN`` in the parent). Numba compiles on one thread,
so on a shared, loaded machine the CPU seconds are the robust figure: wall time grows with the
load, compile CPU time hardly does.

``--per-kernel`` listens to Numba's ``numba:compile`` events (fired only on a cache miss, i.e.
a real compilation) and lists each compiled specialization with its own seconds (exclusive of
kernels compiled inside it, which Numba compiles when the caller is typed).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

#: name -> (setup code, the timed call). Inputs are small and typical (float64, the defaults).
CAPABILITIES = {
    "AltMinCompleter.fit": (
        "from nla.completion import AltMinCompleter\n"
        "m, n, k = 300, 200, 3\n"
        "X = rng.standard_normal((m, k)) @ rng.standard_normal((k, n))\n"
        "lin = rng.choice(m * n, m * n // 4, replace=False)\n"
        "r, c = lin // n, lin % n\n"
        "obs = (r, c, X[r, c])\n",
        "AltMinCompleter(k, max_iter=5, random_state=0).fit(obs, shape=(m, n))"),
    "fastrp": (
        "import scipy.sparse as sp\n"
        "from nla.random_projection import fastrp\n"
        "S = sp.random(500, 500, density=0.02, random_state=0, format='csr')\n"
        "G = (S + S.T).tocsr()\n",
        "fastrp(G, dim=32, random_state=0)"),
    "FunBaT.fit": (
        "from nla.funbat import FunBaT\n"
        "X = rng.uniform(size=(200, 3))\n"
        "y = np.sin(3 * X).sum(1) + 0.1 * rng.standard_normal(200)\n",
        "FunBaT(rank=2, n_epochs=5, warmup_epochs=2, random_state=0).fit(X, y)"),
    # predict's own kernels only: the fit in the setup has compiled (and cached) fit's.
    "FunBaT.predict": (
        "from nla.funbat import FunBaT\n"
        "X = rng.uniform(size=(200, 3))\n"
        "y = np.sin(3 * X).sum(1) + 0.1 * rng.standard_normal(200)\n"
        "est = FunBaT(rank=2, n_epochs=5, warmup_epochs=2, random_state=0).fit(X, y)\n"
        "Xq = rng.uniform(size=(1000, 3))\n",
        "est.predict(Xq, return_std=True)"),
    "lstsq": (
        "import nla\n"
        "A = rng.standard_normal((2000, 20))\n"
        "b = rng.standard_normal(2000)\n",
        "nla.lstsq(A, b, random_state=0)"),
    "SubGMRecovery+EntrySampling": (
        "from nla.recovery import EntrySampling, SubGMRecovery\n"
        "d, r = 40, 2\n"
        "U = rng.standard_normal((d, r))\n"
        "M = U @ rng.standard_normal((r, d))\n"
        "lin = rng.choice(d * d, d * d // 2, replace=False)\n"
        "rows, cols = lin // d, lin % d\n"
        "op = EntrySampling(rows, cols, (d, d))\n"
        "y = M[rows, cols]\n",
        "SubGMRecovery(r, symmetric=False, max_iter=50, random_state=0).fit(op, y)"),
    "SparseRandomProjection": (
        "from nla.random_projection import SparseRandomProjection\n"
        "X = rng.standard_normal((200, 1000))\n",
        "SparseRandomProjection(50, random_state=0).fit_transform(X)"),
    "lp_regression(sample)": (
        "from nla.sampling import lp_regression\n"
        "A = rng.standard_normal((2000, 5))\n"
        "b = A @ rng.standard_normal(5) + rng.standard_normal(2000)\n",
        "lp_regression(A, b, 1.0, sample=300, random_state=0)"),
    "lewis_weights": (
        "from nla.sampling import lewis_weights\n"
        "A = rng.standard_normal((2000, 5))\n",
        "lewis_weights(A, 1.0)"),
    "ChebTucker.fit": (
        "from nla.chebtucker import ChebTucker\n"
        "f = lambda x, y, z: np.exp(-(x * x + y * y + z * z))\n"
        "points = rng.uniform(-1, 1, (1000, 3))\n",
        "ChebTucker.fit(f, [[-1, 1]] * 3, tol=1e-8)(points)"),
    "ptd+transfer_function": (
        "from nla.ssm import hippo, ptd, transfer_function\n"
        "h = hippo(32)\n"
        "s = 1j * np.linspace(0.1, 100, 200)\n",
        "d = ptd(h.A, gamma=0.2, random_state=0)\n"
        "transfer_function(d.eigenvalues, d.V_inv @ h.B, np.ones(32) @ d.V, s)"),
}

# The child: imports, sets up, then times first and second call; prints one JSON line last.
_CHILD = r'''
import json, resource, sys, time
per_kernel = {per_kernel}
records = []
if per_kernel:
    from numba.core import event

    class _Listener(event.Listener):
        """Seconds per outermost compiled specialization, with what Numba compiled inside it
        (overloads of NumPy functions, inlined helpers) counted in."""
        def __init__(self):
            self.stack = []
        def on_start(self, ev):
            self.stack.append((time.perf_counter(), time.thread_time()))
        def on_end(self, ev):
            wall0, cpu0 = self.stack.pop()
            if self.stack:
                return
            disp = ev.data["dispatcher"]
            name = disp.py_func.__module__ + "." + disp.py_func.__qualname__
            args = ", ".join(str(a) for a in ev.data["args"])
            records.append([name, args, time.perf_counter() - wall0,
                            time.thread_time() - cpu0])

    event.register("numba:compile", _Listener())
t0 = time.perf_counter()
import numpy as np
import nla
t_import = time.perf_counter() - t0
rng = np.random.default_rng(0)
exec(compile({setup!r}, "setup", "exec"))
def call():
    exec(compile({call!r}, "call", "exec"))
cpu0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
call()
t_first = time.perf_counter() - t0
cpu1 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
call()
t_second = time.perf_counter() - t0
print(json.dumps(dict(import_s=t_import, first_s=t_first, second_s=t_second,
                      first_cpu_s=(cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
                      kernels=records)))
'''


def measure(name, per_kernel=False):
    """Run capability ``name`` in a fresh child with an empty Numba cache; return its figures."""
    setup, call = CAPABILITIES[name]
    code = _CHILD.format(per_kernel=per_kernel, setup=setup, call=call)
    with tempfile.TemporaryDirectory(prefix="nla-first-call-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    out["process_cpu_s"] = ((after.ru_utime + after.ru_stime)
                            - (before.ru_utime + before.ru_stime))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"capabilities (default all): "
                        f"{', '.join(CAPABILITIES)}")
    parser.add_argument("--per-kernel", action="store_true",
                        help="list the compile seconds of each kernel specialization")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(CAPABILITIES))
    if unknown:
        parser.error(f"unknown {', '.join(unknown)}; choose from {', '.join(CAPABILITIES)}")
    names = args.names or list(CAPABILITIES)
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    print(f"{'capability':30s} {'import':>7s} {'first':>7s} {'1st cpu':>7s} {'second':>8s} "
          f"{'proc cpu':>8s}")
    total_wall = total_cpu = 0.0
    for name in names:
        r = measure(name, args.per_kernel)
        total_wall += r["first_s"]
        total_cpu += r["first_cpu_s"]
        print(f"{name:30s} {r['import_s']:7.2f} {r['first_s']:7.2f} {r['first_cpu_s']:7.2f} "
              f"{r['second_s']:8.4f} {r['process_cpu_s']:8.2f}", flush=True)
        if args.per_kernel:
            print(f"    {'wall':>6s} {'cpu':>6s}  kernel(argument types)")
            for kname, sig, wall, cpu in sorted(r["kernels"], key=lambda k: -k[3]):
                print(f"    {wall:6.2f} {cpu:6.2f}  {kname}({sig})")
            print(f"    {sum(k[2] for k in r['kernels']):6.2f} "
                  f"{sum(k[3] for k in r['kernels']):6.2f}  all {len(r['kernels'])} compilations")
    print(f"{'sum of first calls':30s} {'':7s} {total_wall:7.2f} {total_cpu:7.2f}")


if __name__ == "__main__":
    main()
