"""Row-block helpers: the one place where ``nla`` streams a dask array by row chunks.

Every capability that Dask scales is one pass (or a few) over the rows of its data: per-row
outputs (a projection, leverage scores) or a small sum over blocks (``S A``, a Gram matrix, a
normal-equation residual). Drivers express a pass as a function of ``(row0, *blocks)``, the
global index of the block's first row and the aligned row blocks of each argument, and call

* :func:`map_rows` for per-row outputs: a lazy dask array with the input's row chunks;
* :func:`reduce_rows` for a small result: per-block values tree-summed by dask and computed
  on whatever scheduler is active (a ``dask.distributed`` client included).

Dask is imported only when a dask array is seen, so ``nla`` never needs it.
"""

import sys
import warnings

import numpy as np


def is_dask(x):
    """True for a ``dask.array.Array`` (checked without importing dask)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(x, da.Array)


def row_chunked(x, name):
    """``x`` as a dask array chunked by rows only (1-D or 2-D, known chunk sizes).

    A 2-D array split across columns is rechunked to whole rows with a warning, since every
    pass streams complete rows. Unknown (NaN) chunk sizes are refused: a row offset must be
    known for the counter-based randomness to be exact.
    """
    if x.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D or 2-D, got a {x.ndim}-D dask array")
    if any(np.isnan(c) for axis in x.chunks for c in axis):
        raise ValueError(f"{name} has unknown chunk sizes (NaN in {name}.chunks); call "
                         f"{name}.compute_chunk_sizes() first")
    if x.ndim == 2 and len(x.chunks[1]) > 1:
        warnings.warn(f"{name} is chunked across columns {x.chunks[1]}; rechunking it to "
                      "whole rows, which every row-streaming pass needs", stacklevel=3)
        x = x.rechunk({1: -1})
    return x


def row_offsets(x):
    """Global index of the first row of each row chunk of ``x``."""
    return np.concatenate([[0], np.cumsum(x.chunks[0][:-1])]).astype(np.int64)


def _aligned_blocks(arrays):
    # Row blocks of each array, all on the first array's row chunks.
    first = arrays[0]
    blocks = []
    for a in arrays:
        if a.shape[0] != first.shape[0]:
            raise ValueError(f"row counts differ: {first.shape[0]} and {a.shape[0]}")
        if a.chunks[0] != first.chunks[0]:
            a = a.rechunk({0: first.chunks[0]})
        blocks.append(a.to_delayed().reshape(-1))
    return list(zip(*blocks))


def map_rows(func, *arrays, tail=(), dtype=np.float64, meta=None):
    """Lazy per-row output ``func(row0, *blocks)`` for each row chunk, concatenated.

    Parameters
    ----------
    func : callable
        ``func(row0, *blocks) -> array`` of shape ``(rows of the block,) + tail``.
    *arrays : dask arrays
        Row-chunked (see :func:`row_chunked`); later ones are aligned to the first's chunks.
    tail : tuple of int
        Trailing shape of each output block.
    dtype, meta
        Output dtype and dask ``meta`` (for example a CuPy or scipy.sparse empty array).

    Returns
    -------
    dask.array.Array
        Shape ``(n,) + tail`` with the first array's row chunks.
    """
    import dask
    import dask.array as da

    pieces = []
    for row0, rows, blocks in zip(row_offsets(arrays[0]), arrays[0].chunks[0],
                                  _aligned_blocks(arrays)):
        part = dask.delayed(func, pure=True)(int(row0), *blocks)
        pieces.append(da.from_delayed(part, (rows,) + tuple(tail), dtype=dtype, meta=meta))
    return da.concatenate(pieces, axis=0)


def reduce_rows(func, *arrays, shape, dtype=np.float64, meta=None, compute=True):
    """``sum over row chunks of func(row0, *blocks)``, tree-reduced by dask.

    Parameters
    ----------
    func : callable
        ``func(row0, *blocks) -> array`` of the fixed ``shape`` (a small result).
    *arrays : dask arrays
        Row-chunked; later ones are aligned to the first's chunks.
    shape : tuple of int
        Shape of each block's contribution and of the sum.
    compute : bool
        Return the computed sum (default) or the lazy dask array.

    Returns
    -------
    array or dask.array.Array
        The sum, concrete (NumPy, or CuPy for CuPy chunks) unless ``compute=False``.
    """
    import dask
    import dask.array as da

    parts = [da.from_delayed(dask.delayed(func, pure=True)(int(row0), *blocks), tuple(shape),
                             dtype=dtype, meta=meta)
             for row0, blocks in zip(row_offsets(arrays[0]), _aligned_blocks(arrays))]
    total = da.stack(parts).sum(axis=0)
    return total.compute() if compute else total
