"""nla: randomized and low-rank numerical linear algebra on the CPU (Numba) and GPU (CuPy).

Public names live in one sub-package per capability (``nla.random_projection``,
``nla.sketching``, ...) and are re-exported here on first use, so ``import nla`` stays light:
an area, and Numba, are loaded only when one of its names is touched.
"""

import importlib

from ._compile import configure_cache as _configure_cache
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
    if name in _WARNINGS:  # from nla._estimator, which imports scikit-learn: only on demand
        from . import _estimator

        value = globals()[name] = getattr(_estimator, name)
        return value
    if not name.startswith("_"):
        for module in _area_modules():
            if name in getattr(module, "__all__", ()):
                value = getattr(module, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module 'nla' has no attribute {name!r}")


def __dir__():
    names = {"Result", "__version__", *_WARNINGS}
    for module in _area_modules():
        names.update(getattr(module, "__all__", ()))
    return sorted(names)


_WARNINGS = ("ConvergenceWarning", "DataDimensionalityWarning")

# Every public name, spelled out so that ``import nla`` need not load the areas to list them
# (tests/test_sklearn_api.py checks it against the areas' own ``__all__``).
__all__ = [
    "ConvergenceWarning", "DataDimensionalityWarning", "Result", "__version__",
    # random_projection
    "SparseRandomProjection", "fastrp", "johnson_lindenstrauss_min_dim",
    # sketching
    "sketch", "lstsq", "fwht", "SketchOperator", "GaussianSketch", "SRHTSketch", "CountSketch",
    "SparseSignSketch", "PooledHadamardSketch",
    # sampling
    "LpSample", "embedding_distortion", "leverage_scores", "lewis_weights", "lp_regression",
    "lp_sensitivities", "sensitivity_sample",
    # completion, recovery
    "AltMinCompleter", "SubGMRecovery", "Measurements", "DenseMeasurements",
    "GaussianMeasurements", "RankOneMeasurements", "EntrySampling",
    # chebtucker, funbat, ssm
    "ChebTucker", "LongRangePotential", "FunBaT",
    "hippo", "hippo_diagonal", "ptd", "transfer_function", "discretize", "pseudospectrum",
]
