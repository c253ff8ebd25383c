"""Robust low-rank matrix recovery by the sub-gradient method with small initialization.

:class:`SubGMRecovery` fits ``X = U U^T`` (or ``U V^T``) to linear measurements with gross
outliers by minimising the l1 loss (Ma & Fattahi, JMLR 2023). The measurements are given by
an operator: :class:`DenseMeasurements` (explicit ``A_i``), :class:`GaussianMeasurements`
(stored or regenerated on the fly), :class:`RankOneMeasurements` (``a_i b_i^T``) or
:class:`EntrySampling` (robust matrix completion).
"""

from ._operators import (DenseMeasurements, EntrySampling, GaussianMeasurements, Measurements,
                         RankOneMeasurements)
from ._subgm import SubGMRecovery

__all__ = ["SubGMRecovery", "Measurements", "DenseMeasurements", "GaussianMeasurements",
           "RankOneMeasurements", "EntrySampling"]
