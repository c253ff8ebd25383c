"""l_p sensitivity sampling: leverage scores, Lewis weights, sensitivities, l_p regression.

Scores of the rows of a tall matrix ``A`` that say how much each row can matter for
``||A x||_p``, samplers that keep few rows with unbiased weights, and ``l_p`` regression on
the sample (Woodruff & Yasuda, ICML 2023; Cohen & Peng 2015; Drineas et al. 2012).
"""

from ._distortion import embedding_distortion
from ._leverage import leverage_scores
from ._lewis import lewis_weights
from ._regression import lp_regression
from ._sample import LpSample, sensitivity_sample
from ._sensitivity import lp_sensitivities

__all__ = ["LpSample", "embedding_distortion", "leverage_scores", "lewis_weights",
           "lp_regression", "lp_sensitivities", "sensitivity_sample"]
