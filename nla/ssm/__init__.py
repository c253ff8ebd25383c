"""State-space models: HiPPO matrices, perturb-then-diagonalize (PTD), transfer functions
and pseudospectra."""

from ._hippo import hippo, hippo_diagonal
from ._perturb import ptd
from ._pseudo import pseudospectrum
from ._ssm import discretize, transfer_function

__all__ = ["hippo", "hippo_diagonal", "ptd", "transfer_function", "discretize", "pseudospectrum"]
