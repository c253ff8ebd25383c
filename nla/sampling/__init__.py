"""l_p sensitivity sampling: leverage scores, Lewis weights, sensitivities, l_p regression."""

from ._leverage import leverage_scores
from ._lewis import lewis_weights

__all__ = ["leverage_scores", "lewis_weights"]
