"""nla: randomized and low-rank numerical linear algebra on the CPU (Numba) and GPU (CuPy).

Public names live in one sub-package per capability (``nla.random_projection``,
``nla.sketching``, ...) and are re-exported here on first use, so ``import nla`` stays light:
an area, and Numba, are loaded only when one of its names is touched.
"""

import importlib

from ._compile import configure_cache as _configure_cache
from ._estimator import ConvergenceWarning
from ._result import Result
from ._tour import AREAS as _AREAS
from ._version import __version__

# Before any kernel is decorated (none of the imports above loads Numba): a writable Numba
# cache for read-only installs.
_configure_cache()


def _area_modules():
    for area in _AREAS:
        try:
            yield importlib.import_module(f"{__name__}.{area}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{area}":
                raise


def __getattr__(name):
    if not name.startswith("_"):
        for module in _area_modules():
            if name in getattr(module, "__all__", ()):
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module 'nla' has no attribute {name!r}")


def __dir__():
    names = {"ConvergenceWarning", "Result", "__version__"}
    for module in _area_modules():
        names.update(getattr(module, "__all__", ()))
    return sorted(names)


__all__ = ["ConvergenceWarning", "Result", "__version__"]
