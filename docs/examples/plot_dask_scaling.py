"""
Scaling out with Dask: least squares and a random projection on a LocalCluster
===============================================================================

The same calls as in core, on a row-chunked ``dask.array`` and a ``dask.distributed``
cluster of two worker processes. ``lstsq`` streams the chunks (sketch and refinement passes,
small dense work here) and returns a concrete ``x``; ``SparseRandomProjection`` returns a lazy
dask array with the input's row chunks. Both equal the in-core results: the random matrices
are generated from the global row index, so the chunking does not change them.

Left: the least-squares coefficients from the cluster against the true ones. Right: the
squared norm of each projected row over the original one (a Johnson-Lindenstrauss map keeps
it near 1), computed on the workers, only the ratios brought back.
"""

import warnings

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster

import nla

if __name__ == "__main__":  # worker processes import the main module: start them only once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # port and dashboard notices of a local cluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="1GB",
                               dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"})
    client = Client(cluster)

    n, d = 100_000, 200
    rng = da.random.default_rng(0)
    A = rng.standard_normal((n, d), chunks=(15_000, d))  # 7 row chunks, the last one shorter
    x_true = np.linspace(-1, 1, d)
    b = A @ x_true + 0.5 * rng.standard_normal(n, chunks=15_000)

    x = nla.lstsq(A, b, random_state=0).x  # concrete NumPy array
    x_in_core = nla.lstsq(A.compute(), b.compute(), random_state=0).x
    print("lstsq: max |x(cluster) - x(in core)| / max |x| =",
          f"{np.abs(x - x_in_core).max() / np.abs(x).max():.1e}")

    k = 64
    rp = nla.SparseRandomProjection(k, random_state=0)
    Y = rp.fit_transform(A)  # lazy: nothing computed yet
    print("projection:", type(Y).__name__, Y.shape, "row chunks", Y.chunks[0])
    ratio = ((Y * Y).sum(axis=1) / (A * A).sum(axis=1)).compute()
    first = Y[:15_000].compute()
    print("projection: first chunk equal to in core:",
          bool(np.array_equal(first, rp.transform(A[:15_000].compute()))))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(x_true, x_true, color="0.7", label="x = x_true")
    ax1.plot(x_true, x, "o", label="nla.lstsq on the cluster")
    ax1.set_xlabel("true coefficient")
    ax1.set_ylabel("estimate")
    ax1.set_title(f"lstsq, {n:,} x {d} dask array, 2 workers")
    ax1.legend()
    ax2.hist(ratio, bins=80, density=True, histtype="step")
    ax2.axvline(1, color="0.5", linestyle=":")
    ax2.set_xlabel("||row of A R||^2 / ||row of A||^2")
    ax2.set_ylabel("density (rows)")
    ax2.set_title(f"SparseRandomProjection to k = {k}")
    fig.tight_layout()
    plt.show()

    client.close()
    cluster.close()
