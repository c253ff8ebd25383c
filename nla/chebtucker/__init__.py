"""Mesh-free Chebyshev–Tucker approximation of multivariate functions.

:class:`ChebTucker` samples a function on a tensor Chebyshev grid, compresses the tensor of
Chebyshev coefficients to Tucker format (ε-rank HOSVD + HOOI), and evaluates, integrates,
differentiates and adds functions in that format without ever forming a fine grid.
"""

from ._chebtucker import ChebTucker
from ._potential import LongRangePotential

__all__ = ["ChebTucker", "LongRangePotential"]
