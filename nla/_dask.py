"""Row-block helpers: the one place where ``nla`` streams a dask array by row chunks.

Every capability that Dask scales is one pass (or a few) over the rows of its data: per-row
outputs (a projection, leverage scores) or a small sum over blocks (``S A``, a Gram matrix, a
normal-equation residual). Drivers express a pass as a function of ``(row0, *blocks)``, the
global index of the block's first row and the aligned row blocks of each argument, and call

* :func:`map_rows` for per-row outputs: a lazy dask array with the input's row chunks;
* :func:`reduce_rows` for a small result: per-block values tree-summed by dask and computed
  on whatever scheduler is active (a ``dask.distributed`` client included);
* :func:`combine_rows` for a small result that is not a plain sum (a maximum, an ``l_p`` sum
  taken on each block's own scale, stacked R factors): the per-block values, combined on the
  client.

Arguments are validated lazily by :func:`check_rows` (shape, chunks, dtype: no compute); each
per-block function checks its own block's values (NaN/inf) when it runs, so bad data is found
at compute time with an error naming the argument.

Dask is imported only when a dask array is seen, so ``nla`` never needs it.
"""

import sys
import warnings

import numpy as np

from ._threads import threads_for


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


def check_rows(x, name, *, ndim=2, dtype=None, sparse=False):
    """``x`` checked for a row-streaming pass without computing anything.

    :func:`row_chunked`, then the dimensions, the chunk kind (scipy.sparse/cupyx chunks only
    with ``sparse``) and the dtype: other real dtypes are cast (lazily) to the first of
    ``dtype`` (default ``(float64, float32)``), as :func:`nla._validation.check_array` does
    in core. Values (NaN, inf) are left to the per-block functions, which see them at compute
    time: ``check_array(block, name, min_size=0)``.
    """
    from ._array import is_sparse
    from ._validation import FLOATS

    dtype = FLOATS if dtype is None else dtype
    x = row_chunked(x, name)
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got a dask array of shape {x.shape}")
    if is_sparse(x._meta) and not sparse:
        raise TypeError(f"{name} must be a dense array; sparse input is not supported here")
    kind = np.dtype(x.dtype).kind
    if kind == "c":
        raise ValueError(f"{name} must be real: Complex data not supported (dtype {x.dtype})")
    if kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if min(x.shape) < 1:
        raise ValueError(f"{name} is empty (shape={x.shape})")
    if x.dtype not in [np.dtype(d) for d in dtype]:
        x = x.astype(dtype[0])
    return x


def _shared(objects):
    # Each object one graph key (a dask.delayed), so that a large matrix or vector is sent
    # once per worker instead of being copied into every task.
    import dask
    from dask.delayed import Delayed

    return [o if isinstance(o, Delayed) else dask.delayed(o, pure=True) for o in objects]


def row_offsets(x):
    """Global index of the first row of each row chunk of ``x``."""
    return np.concatenate([[0], np.cumsum(x.chunks[0][:-1])]).astype(np.int64)


class _OneThread:
    # ``func`` with one Numba thread: dask runs one task per worker thread, so a task must not
    # start a thread team of its own (dask's workers set OMP_NUM_THREADS=1 for the same
    # reason). NUMBA_NUM_THREADS in a LocalCluster's ``env`` is not enough: a spawned worker
    # re-imports the client's script, hence Numba, before that ``env`` is applied.
    def __init__(self, func):
        self.func = func
        # The task's name in dask's dashboard and task stream: the function's, or its class's.
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, *args):
        with threads_for(0, minimum=1):
            return self.func(*args)


def task(func, nout=None):
    """``dask.delayed(func, pure=True, nout=nout)``, each call run on one Numba thread."""
    import dask

    return dask.delayed(_OneThread(func), pure=True, nout=nout)


def _per_block(func, arrays, shared):
    # One delayed ``func(row0, *blocks, *shared)`` per row chunk of arrays[0].
    call = task(func)
    shared = _shared(shared)
    arrays = _aligned(arrays)
    blocks = zip(*[a.to_delayed().reshape(-1) for a in arrays])
    return [call(int(row0), *block, *shared)
            for row0, block in zip(row_offsets(arrays[0]), blocks)]


def _aligned(arrays):
    # The arrays, all on the first one's row chunks.
    first = arrays[0]
    for a in arrays:
        if a.shape[0] != first.shape[0]:
            raise ValueError(f"row counts differ: {first.shape[0]} and {a.shape[0]}")
    return [a if a.chunks[0] == first.chunks[0] else a.rechunk({0: first.chunks[0]})
            for a in arrays]


def map_rows(func, *arrays, tail=(), dtype=np.float64, meta=None, shared=()):
    """Lazy per-row output ``func(row0, *blocks, *shared)`` for each row chunk, concatenated.

    Parameters
    ----------
    func : callable
        ``func(row0, *blocks, *shared) -> array`` of shape ``(rows of the block,) + tail``.
        Picklable (a module-level function or a small class) for ``dask.distributed``.
    *arrays : dask arrays
        Row-chunked (see :func:`row_chunked`); later ones are aligned to the first's chunks.
    tail : tuple of int
        Trailing shape of each output block.
    dtype, meta
        Output dtype and dask ``meta`` (for example a CuPy or scipy.sparse empty array).
    shared : sequence
        Objects (arrays, matrices, ``dask.delayed`` values) passed whole to every call; each
        is one key of the graph, sent once to each worker rather than copied into every task.

    Returns
    -------
    dask.array.Array
        Shape ``(n,) + tail`` with the first array's row chunks.
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    # One task per row chunk, keyed as the output's chunk itself: no layer of alias tasks
    # that the scheduler could place on another worker than the data.
    arrays = _aligned(arrays)
    shared = _shared(shared)
    call = _OneThread(func)
    name = f"{call.__name__}-{tokenize(func, *arrays, tail, dtype, *shared)}"
    index = (0,) * len(tail)
    layer = {(name, i) + index: (call, int(row0), *[(a.name, i) + (0,) * (a.ndim - 1)
                                                    for a in arrays], *[s.key for s in shared])
             for i, row0 in enumerate(row_offsets(arrays[0]))}
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[*arrays, *shared])
    chunks = (arrays[0].chunks[0],) + tuple((size,) for size in tail)
    return da.Array(graph, name, chunks, dtype=dtype, meta=meta)


def reduce_rows(func, *arrays, shape, dtype=np.float64, meta=None, compute=True, shared=()):
    """``sum over row chunks of func(row0, *blocks, *shared)``, tree-reduced by dask.

    Parameters
    ----------
    func : callable
        ``func(row0, *blocks, *shared) -> array`` of the fixed ``shape`` (a small result).
    *arrays : dask arrays
        Row-chunked; later ones are aligned to the first's chunks.
    shape : tuple of int
        Shape of each block's contribution and of the sum.
    shared : sequence
        As in :func:`map_rows`: objects passed whole to every call, one graph key each.
    compute : bool
        Return the computed sum (default) or the lazy dask array.

    Returns
    -------
    array or dask.array.Array
        The sum, concrete (NumPy, or CuPy for CuPy chunks) unless ``compute=False``.
    """
    import dask.array as da

    parts = [da.from_delayed(part, tuple(shape), dtype=dtype, meta=meta)
             for part in _per_block(func, arrays, shared)]
    total = da.stack(parts).sum(axis=0)
    return total.compute() if compute else total


def combine_rows(func, *arrays, combine=list, shared=()):
    """``combine([func(row0, *blocks, *shared) for each row chunk])``, one pass, on the client.

    For small per-block results that a sum cannot merge exactly (block maxima, scale-safe
    ``l_p`` sums, R factors for a TSQR, indices of sampled rows): all blocks are computed in
    one ``dask.compute`` on the active scheduler and handed, in row order, to ``combine``.

    Parameters
    ----------
    func : callable
        ``func(row0, *blocks, *shared)``, any small picklable result.
    *arrays : dask arrays
        Row-chunked; later ones are aligned to the first's chunks.
    combine : callable
        Applied to the list of per-block results (default: the list itself).
    shared : sequence
        As in :func:`map_rows`.
    """
    import dask

    return combine(list(dask.compute(*_per_block(func, arrays, shared))))
