"""Random quantities of the sketches as plain array code (Numba scalars, NumPy or CuPy arrays).

Shared by the operators, the Numba kernels and the CuPy kernels, so that every engine derives
the same slots, buckets and signs from the same hashes of :mod:`nla._random`.
"""

import numpy as np

from .._random import below_xp, hash_xp, stream_key

#: Stream numbers of this area (the foundation reserves those below 16).
STREAM_PERMUTE = 16
STREAM_SAMPLE = 17
_ROUNDS = 4


def permutation_keys(seed, stream):
    """The ``2 * 4`` uint64 keys of a keyed bijection (multipliers forced odd)."""
    key = stream_key(seed, stream)
    with np.errstate(over="ignore"):
        keys = hash_xp(np, key, np.arange(2 * _ROUNDS), np.zeros(2 * _ROUNDS))
    keys[0::2] |= np.uint64(1)
    return keys


def permute_params(bits):
    """``(mask, shift)`` of the keyed bijection of ``[0, 2**bits)``."""
    return np.uint64((1 << bits) - 1), np.uint64(max(1, (bits + 1) // 2))


def permute_index(keys, mask, shift, x):
    """Image of ``x`` under the keyed bijection of ``[0, mask + 1)`` (``mask + 1`` a power of 2).

    Each round multiplies by an odd key and adds a key modulo ``2**bits`` (carries spread low
    bits upwards), then xors with a right shift (spreads high bits down). Both steps are
    bijections, so distinct rows land in distinct slots. ``x`` is a uint64 scalar or array.
    """
    for r in range(keys.shape[0] // 2):
        x = (x * keys[2 * r] + keys[2 * r + 1]) & mask
        x = x ^ (x >> shift)
    return x


def sparse_sign_entries(xp, bucket_key, sign_key, m, nnz, row0, n_rows, scale):
    """COO triplets ``(rows, cols, values)`` of columns ``row0 .. row0 + n_rows`` of the
    partitioned sparse sign sketch (``cols`` relative to ``row0``).

    Nonzero ``t`` of column ``j`` lies in row block ``[t m / nnz, (t + 1) m / nnz)`` at the
    position ``below(hash(bucket_key, j, t), block size)`` with sign ``hash(sign_key, j, t)``.
    """
    cols = xp.repeat(xp.arange(row0, row0 + n_rows, dtype=xp.uint64), nnz)
    t = xp.tile(xp.arange(nnz, dtype=xp.uint64), n_rows)
    lo = (t * np.uint64(m)) // np.uint64(nnz)
    size = ((t + np.uint64(1)) * np.uint64(m)) // np.uint64(nnz) - lo
    with np.errstate(over="ignore"):
        rows = lo + below_xp(hash_xp(xp, bucket_key, cols, t), size)
        bits = hash_xp(xp, sign_key, cols, t)
    values = (1.0 - 2.0 * (bits >> np.uint64(63)).astype(xp.float64)) * scale
    return rows.astype(xp.int64), (cols - np.uint64(row0)).astype(xp.int64), values
