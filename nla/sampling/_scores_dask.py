"""Row scores of a row-chunked dask ``A``: small factors from passes, per-row scores lazy.

The basis ``U = A X`` of ``col(A)`` is never formed: ``X`` (``d x r``) comes from passes over
the chunks (:func:`nla.sampling._distortion_dask.basis_coordinates`, or a sketch ``S A``), and
the scores ``||u_i||^2`` are one lazy task per row chunk of ``A``, with its row chunks, on
the chunks' engine (CuPy chunks: the kernels of ``nla_gpu.sampling``, CuPy scores).
"""

from .. import _array
from .._dask import map_rows
from ._basis import nonzero_rows
from ._distortion_dask import _block, basis_coordinates, block_engine, row_meta


def leverage(A, rcond=None):
    """``(tau, rank)``: exact leverage scores of a dask ``A`` (lazy ``tau``, concrete rank)."""
    X, rank, _ = basis_coordinates(A, rcond)
    return squared_row_norms(A, X), rank


def squared_row_norms(A, X):
    """Lazy ``||a_i X||^2`` per row (exact zeros on the zero rows of ``A``)."""
    engine = _array.engine_of(A)
    return map_rows(_sq_norms_block, A, meta=row_meta(engine), shared=(X, engine))


def _sq_norms_block(row0, a, X, engine):
    K, xp = block_engine(engine)
    a = _block(a, engine)
    tau = K.row_sq_norms(a @ xp.asarray(X))
    tau[~nonzero_rows(a, xp)] = 0.0  # exact zeros, as in core
    return tau
