"""HiPPO matrices, perturb-then-diagonalize, SSM transfer functions and pseudospectra.

The package shares its name with its main function, so ``nla.ptd`` may resolve to this module
(once any of its names has been imported) instead of the function. The module is therefore made
callable: ``nla.ptd(A, ...)`` runs :func:`nla.ptd.ptd` either way.
"""

import sys
import types

from ._hippo import hippo, hippo_diagonal
from ._perturb import ptd

__all__ = ["hippo", "hippo_diagonal", "ptd"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return ptd(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
