"""Synthetic graphs generated lazily by row chunk, for the Dask scale runs of FastRP."""

import numpy as np
import scipy.sparse as sp


def random_digraph(n_nodes, n_edges, *, chunk_rows=1 << 16, seed=0):
    """A directed random graph as a row-chunked dask array of CSR chunks, built on the workers.

    Each row chunk holds about ``n_edges * rows / n_nodes`` edges from uniformly drawn rows of
    the chunk to uniformly drawn nodes, with weights in ``[0.5, 2)`` (duplicates summed); it
    is drawn from ``(seed, first row)`` by the task that needs it, so the graph is never
    held whole anywhere. (Another ``chunk_rows`` gives another graph.)

    Parameters
    ----------
    n_nodes, n_edges : int
    chunk_rows : int
        Rows per chunk.
    seed : int

    Returns
    -------
    dask.array.Array of shape (n_nodes, n_nodes), float64, with scipy.sparse CSR chunks

    Examples
    --------
    >>> G = random_digraph(1000, 5000, chunk_rows=300, seed=1)
    >>> G.chunks[0], G.compute().nnz
    ((300, 300, 300, 100), 4988)
    """
    import dask
    import dask.array as da

    meta = sp.csr_matrix((0, n_nodes))
    parts = []
    for row0 in range(0, n_nodes, chunk_rows):
        rows = min(chunk_rows, n_nodes - row0)
        edges = int(round(n_edges * rows / n_nodes))
        block = dask.delayed(_block, pure=True)(n_nodes, row0, rows, edges, seed)
        parts.append(da.from_delayed(block, (rows, n_nodes), dtype=np.float64, meta=meta))
    return da.concatenate(parts)


def _block(n_nodes, row0, rows, edges, seed):
    rng = np.random.default_rng((seed, row0))
    src = rng.integers(0, rows, edges)
    dst = rng.integers(0, n_nodes, edges)
    weight = rng.uniform(0.5, 2.0, edges)
    out = sp.csr_matrix((weight, (src, dst)), shape=(rows, n_nodes))
    out.sum_duplicates()
    return out
