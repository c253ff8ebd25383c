"""FastRP on a row-chunked dask adjacency: the in-core passes, one task per row chunk.

Each power ``N_i = A N_{i-1}`` is one task per row chunk, ``A[rows] @ N_{i-1}``, with the whole
previous power as one shared graph key (the ``n x dim`` embedding fits a worker's memory, the
adjacency need not fit one). Every task runs the in-core kernels on its rows, so each row is
the same sequence of operations as in core; only the column sums of ``standardize`` are
added in another order (tree-summed over the chunks).
"""

import numpy as np

from .._array import is_cupy_sparse, kernels, namespaces
from .._dask import map_rows, reduce_rows, row_offsets, task
from .._validation import check_array
from ._fastrp import add_normalized_rows, checked_adjacency, seeded_rows


class Propagation:
    """The walk matrix of a dask ``adjacency``, checked chunk by chunk, and its passes."""

    def __init__(self, S, direction, engine):
        self.engine, self.n = engine, S.shape[0]
        meta = namespaces(engine)[1].csr_matrix((0, self.n))
        checked = map_rows(_Checked(engine), S, tail=(self.n,), meta=meta)
        self.S = checked if direction == "out" else _transposed(checked, direction, meta)

    def degrees(self):
        """The weighted out-degree of every node, computed now (NumPy or CuPy vector)."""
        xp = namespaces(self.engine)[0]
        return map_rows(_RowSums(self.engine), self.S, meta=xp.empty(0)).compute()

    def embedding(self, inv_deg, ell, seed, dim, density, weights, self_weight, normalize,
                  standardize, dtype, overflow):
        """The lazy ``n x dim`` embedding (see :func:`nla.fastrp` for the parameters)."""
        import dask.array as da

        engine = self.engine
        blocks = self.S.to_delayed().ravel()
        spans = [(int(r0), int(r0) + rows) for r0, rows in zip(row_offsets(self.S),
                                                                 self.S.chunks[0])]
        LR = task(_seeded)(engine, seed, self.n, dim, density, ell, dtype)
        A = [task(_transition)(engine, b, inv_deg[r0:r1], dtype)
             for b, (r0, r1) in zip(blocks, spans)]
        parts = [task(_first, 2)(engine, a, LR, r0, self_weight, weights[0], normalize, dtype)
                 for a, (r0, _) in zip(A, spans)]
        for w in weights[1:]:
            full = task(_stack)(engine, *[N for N, _ in parts])
            parts = [task(_step, 2)(engine, a, full, acc, w, normalize)
                     for a, (_, acc) in zip(A, parts)]
        meta = namespaces(engine)[0].empty((0, dim), dtype=dtype)
        E = da.concatenate([da.from_delayed(task(_finite)(engine, acc, overflow),
                                            (r1 - r0, dim), dtype=dtype, meta=meta)
                            for (_, acc), (r0, r1) in zip(parts, spans)])
        if not standardize:
            return E
        z = _Standardized(engine, self.n)
        sums = reduce_rows(z.moments, E, shape=(2, dim), meta=meta, compute=False)
        return map_rows(z, E, tail=(dim,), dtype=dtype, meta=meta,
                        shared=(sums.rechunk(-1).to_delayed().ravel()[0],))


# Per-chunk functions: module-level, or small classes, so that workers can unpickle them.

class _Checked:
    def __init__(self, engine):
        self.engine = engine

    def __call__(self, row0, block):
        block = check_array(block, "adjacency", sparse=True, dtype=(np.float64,), min_size=0)
        return checked_adjacency(block, namespaces(self.engine)[1])


class _RowSums:
    def __init__(self, engine):
        self.engine = engine

    def __call__(self, row0, S):
        return namespaces(self.engine)[0].asarray(S.sum(axis=1)).ravel()


def _transposed(S, direction, meta):
    # Row chunk j of S^T is (S[:, rows j])^T: the column slices of every row chunk, stacked.
    import dask
    import dask.array as da

    blocks = S.to_delayed().ravel()
    out = []
    for j, (c0, cols) in enumerate(zip(row_offsets(S), S.chunks[0])):
        pieces = [dask.delayed(_columns, pure=True)(b, int(c0), int(c0) + cols) for b in blocks]
        part = dask.delayed(_transposed_rows, pure=True)(blocks[j], direction, *pieces)
        out.append(da.from_delayed(part, (cols, S.shape[1]), dtype=S.dtype, meta=meta))
    return da.concatenate(out)


def _columns(S, c0, c1):
    return S[:, c0:c1]


def _transposed_rows(own, direction, *pieces):
    sparse = namespaces("gpu" if is_cupy_sparse(own) else "cpu")[1]
    St = sparse.vstack(pieces).T.tocsr()
    return St if direction == "in" else (own + St).tocsr()


def _seeded(engine, seed, n, dim, density, ell, dtype):
    return seeded_rows(kernels("random_projection", engine), seed, n, dim, density, ell, dtype)


def _transition(engine, S, inv_deg, dtype):
    return kernels("random_projection", engine).scale_rows(S, inv_deg, dtype)


def _first(engine, A, LR, row0, self_weight, weight, normalize, dtype):
    # The rows of the first power, A LR, and the embedding's start (as in core, in order).
    K, xp = kernels("random_projection", engine), namespaces(engine)[0]
    acc = xp.zeros((A.shape[0], LR.shape[1]), dtype=dtype)
    if self_weight:
        add_normalized_rows(acc, LR[row0:row0 + A.shape[0]].toarray(), self_weight, normalize)
    N = K.project_sparse(A, LR, True)
    if weight:
        add_normalized_rows(acc, N, weight, normalize)
    return N, acc


def _stack(engine, *parts):
    return namespaces(engine)[0].concatenate(parts)


def _step(engine, A, N, acc, weight, normalize):
    # acc is another task's result: added to a copy, never in place.
    K, xp = kernels("random_projection", engine), namespaces(engine)[0]
    acc = acc.copy()
    out = xp.empty((A.shape[0], N.shape[1]), dtype=N.dtype)
    return K.propagate(A, N, out, acc, weight, normalize), acc


def _finite(engine, acc, overflow):
    if not bool(namespaces(engine)[0].isfinite(acc).all()):
        raise FloatingPointError(overflow)
    return acc


class _Standardized:
    # Column z-scores from tree-summed moments, with the in-core kernel's formula.
    def __init__(self, engine, n):
        self.engine, self.n = engine, n

    def moments(self, row0, E):
        E = E.astype(np.float64)
        return namespaces(self.engine)[0].stack([E.sum(axis=0), (E * E).sum(axis=0)])

    def __call__(self, row0, E, sums):
        xp = namespaces(self.engine)[0]
        mean = sums[0] / self.n
        var = xp.maximum(sums[1] / self.n - mean * mean, 0.0)
        scale = xp.where(var > 0.0, 1.0 / xp.sqrt(xp.where(var > 0.0, var, 1.0)), 0.0)
        return ((E.astype(np.float64) - mean) * scale).astype(E.dtype)
