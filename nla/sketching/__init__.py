"""Sketching: random sketch operators and sketched least squares with an l_inf guarantee.

Operators (:func:`sketch` and the classes) are random ``m x n`` matrices applied blockwise,
generated from :mod:`nla._random` so that CPU, GPU and row-chunked results agree.
:func:`lstsq` solves tall least-squares problems by sketch-and-solve (with the coordinate-wise
error bound), sketch-and-precondition (full accuracy) or LAPACK.
"""

from ._lstsq import lstsq
from ._operators import (CountSketch, GaussianSketch, PooledHadamardSketch,
                         SketchOperator, SparseSignSketch, SRHTSketch, fwht, sketch)

__all__ = ["sketch", "lstsq", "fwht", "SketchOperator", "GaussianSketch", "SRHTSketch",
           "CountSketch", "SparseSignSketch", "PooledHadamardSketch"]
