"""Very sparse random projection and FastRP graph embeddings."""

from ._fastrp import fastrp
from ._sparse_rp import (DataDimensionalityWarning, SparseRandomProjection,
                         johnson_lindenstrauss_min_dim)

__all__ = ["DataDimensionalityWarning", "SparseRandomProjection", "fastrp",
           "johnson_lindenstrauss_min_dim"]
