"""Lewis weights of a row-chunked dask ``A``: the in-core iteration, per-row state on the cluster.

The basis ``U = A X`` is never formed (``X``, ``d x r``, from passes over the chunks, see
:func:`nla.sampling._distortion_dask.basis_coordinates`). Each iteration is two passes over
the chunks of ``A``: a :func:`nla._dask.reduce_rows` for the weighted Gram matrix
``U^T G U`` (``r x r``, factored on the client) and a :func:`nla._dask.map_rows` for the
per-row step ``log tau_i - u_i``. The log weights ``u``, the steps and Anderson's secant
vectors (``memory`` vectors of length ``n``, like ``u``) stay on the cluster as persisted dask
arrays, each released once nothing refers to it, so the graph does not grow with the
iterations; only scalars (maxima, the residual) and ``r x r`` / ``memory x memory`` matrices
reach the client. The loop itself is the in-core one (:func:`nla.sampling._lewis.iterate`):
same start, stopping rule, damping, back-off and Anderson steps, so the weights equal the
in-core ones up to the rounding of sums taken in another order. Each per-block function runs
on the chunks' engine (CuPy chunks: ``nla_gpu.sampling``), the small results on the host.
"""

import numpy as np

from .. import _array
from .._dask import combine_rows, map_rows, reduce_rows
from .._result import Result
from ._basis import nonzero_rows, tri_inv
from ._distortion_dask import _block, basis_coordinates, block_engine, chunk_r, row_meta, tsqr_r
from ._lewis import _GRAM_COND_MAX, _LOG_TINY, _Anderson, iterate
from ._scores_dask import squared_row_norms


def lewis_dask(A, p, *, tol, max_iter, eta, anderson, init, rcond, verbose, callback):
    """:func:`nla.sampling._lewis.lewis_core` for a float64 dask ``A`` (lazy weights)."""
    import dask.array as da

    n, engine = A.shape[0], _array.engine_of(A)
    X, rank, _ = basis_coordinates(A, rcond, refine=(p == 2.0))
    done = dict(n_iter=0, converged=True, residual=0.0, history=[], damping=eta)
    if rank == 0:
        return Result(weights=da.zeros(n, chunks=A.chunks[0], meta=row_meta(engine)), rank=0,
                      **done)
    if p == 2.0:  # Lewis weights of p = 2 are the leverage scores
        return Result(weights=squared_row_norms(A, X), rank=rank, **done)
    first = _keep(map_rows(_start_block, A, tail=(2,), meta=row_meta(engine, 2),
                           shared=(X, engine)))
    tau, mask = first[:, 0], first[:, 1] > 0   # zero rows: left out, weight 0
    u = da.zeros_like(tau)
    if init == "leverage":
        u = 0.5 * p * da.log(da.maximum(tau, 1e-300))
        u = u + (np.log(rank) - float(da.log(da.sum(da.where(mask, da.exp(u), 0.0)))))
    u = _keep(da.where(mask, u, _LOG_TINY))
    c = 1.0 - 2.0 / p

    def step_of(u):
        # G on each block's own largest weight, rescaled to the global one (top) here
        top, G = combine_rows(_gram_block, A, u, combine=_rescaled_sum,
                              shared=(X, c, engine))
        ev = np.linalg.eigvalsh(G)
        if ev[0] > 0 and ev[-1] <= _GRAM_COND_MAX * ev[0]:
            T, forms = tri_inv(np.linalg.cholesky(G), lower=True), True
        else:  # a TSQR of the scaled basis, as in core a QR replaces the Gram matrix
            R = tsqr_r(_scaled_r_block, A, u, shared=(X, c, top, engine))
            _, s, Vt = np.linalg.svd(R)
            k = int(np.sum(s > rank * np.finfo(np.float64).eps * s[0]))
            T, forms = Vt[:k].T / s[:k], False
        return _keep(map_rows(_step_block, A, u, meta=row_meta(engine),
                              shared=(X, c, top, T, forms, engine)))

    def weights_of(u):
        return da.where(mask, da.exp(u), 0.0)

    u, out = iterate(u, step_of, weights_of, da, p=p, tol=tol, max_iter=max_iter, eta=eta,
                     anderson=anderson, verbose=verbose, callback=callback, keep=_keep,
                     accelerator=_DaskAnderson)
    return Result(weights=weights_of(u), rank=rank, **out)


class _DaskAnderson(_Anderson):
    """Anderson's small products in one pass over the (persisted) vectors' chunks."""

    def products(self, dF, f):
        k = len(dF)
        Z = reduce_rows(_outer_block, *dF, f, shape=(k + 1, k + 1))
        return Z[:k, :k], Z[:k, k]

    def combination(self, gamma, dG):
        return sum(float(g) * v for g, v in zip(gamma, dG))


def _outer_block(row0, *vectors):
    V = _array.namespaces(_array.engine_of(vectors[0]))[0].stack(vectors)
    return _array.to_host(V @ V.T)


def _rescaled_sum(parts):
    top = max(t for t, _ in parts)
    return top, sum(np.exp(t - top) * G for t, G in parts if t > -np.inf)


def _keep(x):
    # On the cluster (or in memory on a local scheduler) from here on: later graphs start here.
    return x.persist()


def _scaled(a, u, X, c, top, engine):
    # U block, its nonzero rows and the row weights g = exp(c u - max c u) (0 on zero rows),
    # on the block's engine
    K, xp = block_engine(engine)
    a = _block(a, engine)
    U = xp.ascontiguousarray(a @ xp.asarray(X))
    nz = nonzero_rows(a, xp)
    return U, nz, xp.exp(xp.where(nz, c * xp.asarray(u) - top, -np.inf)), K, xp


def _start_block(row0, a, X, engine):
    # leverage scores (0 on zero rows) and the nonzero-row flag, the start of the iteration
    K, xp = block_engine(engine)
    a = _block(a, engine)
    nz = nonzero_rows(a, xp)
    tau = xp.where(nz, K.row_sq_norms(xp.ascontiguousarray(a @ xp.asarray(X))), 0.0)
    return xp.column_stack([tau, nz.astype(xp.float64)])


def _gram_block(row0, a, u, X, c, engine):
    # (log of the block's largest weight, the block's G relative to it)
    xp = block_engine(engine)[1]
    cu = c * xp.asarray(u)[nonzero_rows(_block(a, engine), xp)]
    top = float(xp.max(cu)) if cu.shape[0] else -np.inf
    U, _, g, K, xp = _scaled(a, u, X, c, top if top > -np.inf else 0.0, engine)
    # as in core: rows below 1e-150 of the largest weight cannot move G in float64
    return top, K.gram(U, xp.where(g < 1e-150, 0.0, g))


def _scaled_r_block(row0, a, u, X, c, top, engine):
    U, _, g, K, xp = _scaled(a, u, X, c, top, engine)
    return chunk_r(U * xp.sqrt(g)[:, None], K)


def _step_block(row0, a, u, X, c, top, T, forms, engine):
    U, nz, g, K, xp = _scaled(a, u, X, c, top, engine)
    T = xp.asarray(T)
    tau = g * (K.row_quadratic_forms(U, T) if forms else K.row_sq_norms(U @ T))
    return xp.where(nz, xp.log(xp.maximum(tau, 1e-300)) - xp.asarray(u), 0.0)
