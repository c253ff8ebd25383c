"""Row samplers for scores of a row-chunked dask ``A``: the in-core samples, small results only.

The scores (one per row) stay on the cluster (persisted); the client sees only scalars, the
``m`` largest scores and the sampled rows. Both samplers draw the in-core uniforms, keyed by
the global row (Bernoulli) or draw (i.i.d.) index, so for equal scores the sample is the
in-core one whatever the chunking, except in a measure-zero case: the quantities the uniforms
are compared with (``q_i = min(1, alpha s_i)``, the cumulative scores) are float sums taken in
another order, so they may differ from in-core in the last bits, and a uniform (a multiple of
``2^-53``) falling between the two roundings flips one row: probability about ``m`` times the
relative rounding difference (1e-14 or less for the sums here). The per-block functions run on
the chunks' engine (CuPy chunks: ``nla_gpu.sampling``); what they return is host data.
"""

import numpy as np

from .. import _array
from .._dask import combine_rows, map_rows, reduce_rows, row_offsets
from .._random import uniform_xp
from .._validation import check_array
from ._basis import nonzero_rows
from ._distortion_dask import _block, block_engine, row_meta


def uniform_scores(A):
    """1 on the nonzero rows of ``A``, 0 on the others (lazy; values checked per chunk)."""
    engine = _array.engine_of(A)
    return map_rows(_uniform_block, A, meta=row_meta(engine), shared=(engine,))


def _uniform_block(row0, a, engine):
    xp = block_engine(engine)[1]
    return nonzero_rows(_block(a, engine), xp).astype(xp.float64)


def custom_scores(A, scores):
    """The caller's ``scores`` (dask, row-aligned with ``A``) checked per chunk, 0 on zero rows.

    A block of ``scores`` on the other engine than ``A``'s (a NumPy vector beside CuPy
    chunks) is moved to ``A``'s, as the scores are small next to ``A``.
    """
    engine = _array.engine_of(A)
    return map_rows(_custom_block, A, scores, meta=row_meta(engine), shared=(engine,))


def _custom_block(row0, a, s, engine):
    xp = block_engine(engine)[1]
    s = _array.to_engine(check_array(s, "scheme", ndim=1, min_size=0), engine)
    s = s.astype(xp.float64, copy=False)
    if bool(xp.any(s < 0)):
        raise ValueError("scheme scores must be nonnegative")
    return xp.where(nonzero_rows(_block(a, engine), xp), s, 0.0)


def bernoulli(scores, m, key):
    """``(indices, weights, probabilities)`` of the Poisson sample of expected size ``m``."""
    import dask
    import dask.array as da

    from ._sample import inclusion_alpha

    engine = _array.engine_of(scores)
    n_pos, top = dask.compute((scores > 0).sum(), da.topk(scores, m))
    n_pos, top = int(n_pos), _array.to_host(top)
    if m >= n_pos:
        q = (scores > 0).astype(np.float64)
    else:
        # the sum of the scores outside the top m (ties at the m-th one counted once each)
        t = top[-1]
        below, ties = dask.compute(da.where(scores < t, scores, 0.0).sum(), (scores == t).sum())
        rest = float(below) + float(int(ties) - np.sum(top == t)) * t
        q = da.minimum(inclusion_alpha(top, rest, m) * scores, 1.0)
    idx, prob = combine_rows(_bernoulli_block, q, combine=_concatenate, shared=(key, engine))
    return idx, 1.0 / prob, prob


def _bernoulli_block(row0, q, key, engine):
    K, xp = block_engine(engine)
    idx = xp.flatnonzero(K.bernoulli_mask(key, q, row0))
    return _array.to_host(idx) + row0, _array.to_host(q[idx])


def _concatenate(parts):
    return tuple(np.concatenate(column) for column in zip(*parts))


def iid(scores, m, key):
    """``(indices, weights, probabilities)`` of ``m`` i.i.d. draws, duplicates merged.

    The cumulative scores are each chunk's own ``cumsum`` plus the sequential sum of the
    chunk totals before it: a monotone sequence ending at the total, equal to the in-core
    ``cumsum`` for one chunk. Draw ``j`` is the row whose interval holds
    ``U(key, j, 0) * total``, counted chunk by chunk.
    """
    engine = _array.engine_of(scores)
    totals, lasts = combine_rows(_total_block, scores, combine=lambda parts: zip(*parts),
                                 shared=(engine,))
    offsets = np.zeros(len(totals) + 1)
    for b, t in enumerate(totals):   # sequential, as the in-core cumsum adds
        offsets[b + 1] = offsets[b] + t
    total, last = offsets[-1], max(lasts)
    if not total > 0:  # nothing to sample (A is all zeros)
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty
    draws = uniform_xp(np, key, np.arange(m), np.zeros(m)) * total
    below = reduce_rows(_count_block, scores, shape=(m,), dtype=np.int64,
                        shared=(draws, row_offsets(scores), offsets[:-1], engine))
    idx, counts = np.unique(np.minimum(below, last), return_counts=True)
    prob = _array.to_host(scores[idx].compute()) / total
    return idx.astype(np.int64), counts / (m * prob), prob


def _total_block(row0, s, engine):
    xp = block_engine(engine)[1]
    pos = xp.flatnonzero(s > 0)
    return float(xp.cumsum(s)[-1]) if s.shape[0] else 0.0, int(row0 + pos[-1]) if pos.size else -1


def _count_block(row0, s, draws, starts, offsets, engine):
    # entries of the global cumulative scores in this chunk that are <= each draw
    xp = block_engine(engine)[1]
    cdf = float(offsets[np.searchsorted(starts, row0)]) + xp.cumsum(s)
    return _array.to_host(xp.searchsorted(cdf, xp.asarray(draws), side="right")).astype(np.int64)
