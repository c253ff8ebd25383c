"""nla: randomized and low-rank numerical linear algebra on the CPU (Numba) and GPU (CuPy).

Public names live in one sub-package per capability (``nla.random_projection``,
``nla.sketching``, ...) and are re-exported here on first use, so ``import nla`` stays light:
an area, and Numba, are loaded only when one of its names is touched.
"""

import importlib

from ._compile import configure_cache as _configure_cache
from ._result import Result
from ._version import __version__

# Before any kernel is decorated (none of the imports above loads Numba): a writable Numba
# cache for read-only installs.
_configure_cache()


def __getattr__(name):
    if name in _WARNINGS:  # from nla._estimator, which imports scikit-learn: only on demand
        from . import _estimator

        value = globals()[name] = getattr(_estimator, name)
        return value
    area = _HOME.get(name)
    if area is not None:  # import that area only (random_projection would load scikit-learn)
        value = globals()[name] = getattr(importlib.import_module(f"{__name__}.{area}"), name)
        return value
    raise AttributeError(f"module 'nla' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})


_WARNINGS = ("ConvergenceWarning", "DataDimensionalityWarning")

# Every public name by its area, spelled out so that ``import nla`` need not load the areas to
# list them and ``nla.<name>`` loads only its own area (tests/test_sklearn_api.py checks it
# against the areas' own ``__all__``).
_AREA_NAMES = {
    "random_projection": ("SparseRandomProjection", "fastrp", "johnson_lindenstrauss_min_dim"),
    "sketching": ("sketch", "lstsq", "fwht", "SketchOperator", "GaussianSketch", "SRHTSketch",
                  "CountSketch", "SparseSignSketch", "PooledHadamardSketch"),
    "sampling": ("LpSample", "embedding_distortion", "leverage_scores", "lewis_weights",
                 "lp_regression", "lp_sensitivities", "sensitivity_sample"),
    "completion": ("AltMinCompleter",),
    "recovery": ("SubGMRecovery", "Measurements", "DenseMeasurements", "GaussianMeasurements",
                 "RankOneMeasurements", "EntrySampling"),
    "chebtucker": ("ChebTucker", "LongRangePotential"),
    "funbat": ("FunBaT",),
    "ssm": ("hippo", "hippo_diagonal", "ptd", "transfer_function", "discretize",
            "pseudospectrum"),
}
_HOME = {name: area for area, names in _AREA_NAMES.items() for name in names}
__all__ = ["ConvergenceWarning", "DataDimensionalityWarning", "Result", "__version__", *_HOME]
