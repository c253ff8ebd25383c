"""scikit-learn's estimator contract for nla's estimators.

Estimators derive from scikit-learn's ``BaseEstimator`` and mixins, so parameters, ``clone``,
tags, ``set_output``, ``feature_names_in_`` and ``NotFittedError`` are scikit-learn's own.
Input validation stays nla's (:func:`nla._validation.check_array`), because it keeps arrays
in their framework; :func:`check_features` runs only scikit-learn's feature-name and
feature-count checks, which read ``X`` without converting it.

scikit-learn is imported here, not by ``import nla``: this module loads with the first area
that has an estimator.
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin  # noqa: F401
from sklearn.exceptions import ConvergenceWarning as _SkConvergenceWarning
from sklearn.exceptions import DataConversionWarning
from sklearn.exceptions import DataDimensionalityWarning as _SkDataDimensionalityWarning
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted as _sk_check_is_fitted
from sklearn.utils.validation import validate_data

__all__ = ["BaseEstimator", "RegressorMixin", "TransformerMixin", "ConvergenceWarning",
           "DataDimensionalityWarning", "NotFittedError", "check_features", "check_is_fitted",
           "check_target"]


class ConvergenceWarning(_SkConvergenceWarning):
    """An iterative fit stopped at its iteration limit before meeting its tolerance.

    A subclass of :class:`sklearn.exceptions.ConvergenceWarning`, so filters set for
    scikit-learn's warning apply to nla's too.

    Examples
    --------
    >>> import sklearn.exceptions
    >>> issubclass(ConvergenceWarning, sklearn.exceptions.ConvergenceWarning)
    True
    """


class DataDimensionalityWarning(_SkDataDimensionalityWarning):
    """A projection does not reduce the dimension (more components than features).

    A subclass of :class:`sklearn.exceptions.DataDimensionalityWarning`.

    Examples
    --------
    >>> import sklearn.exceptions
    >>> issubclass(DataDimensionalityWarning, sklearn.exceptions.DataDimensionalityWarning)
    True
    """


def check_is_fitted(estimator, attribute):
    """Raise scikit-learn's :class:`~sklearn.exceptions.NotFittedError` unless fitted.

    Examples
    --------
    >>> from nla import SparseRandomProjection
    >>> check_is_fitted(SparseRandomProjection(), "components_")
    Traceback (most recent call last):
    ...
    sklearn.exceptions.NotFittedError: This SparseRandomProjection instance is not fitted yet. ...
    """
    _sk_check_is_fitted(estimator, attribute)


def check_features(estimator, X, *, reset, name="X"):
    """scikit-learn's feature-name and feature-count checks on ``X``.

    ``reset=True`` (in ``fit``) records ``feature_names_in_`` for a DataFrame with string
    column names (and ``n_features_in_``); ``reset=False`` (after fit) warns or raises as
    scikit-learn does for missing, extra or reordered columns. ``X`` is neither converted nor
    returned: nla's own validation follows. A message keeps scikit-learn's wording and is
    prefixed by ``name`` where the argument is not called ``X``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.base import BaseEstimator
    >>> est = BaseEstimator()
    >>> check_features(est, pd.DataFrame({"a": [1.0], "b": [2.0]}), reset=True)
    >>> list(est.feature_names_in_), est.n_features_in_
    (['a', 'b'], 2)
    """
    if getattr(X, "ndim", 2) != 2:
        return   # nla's validation names the wrong shape ("Reshape your data")
    try:
        validate_data(estimator, X, reset=reset, skip_check_array=True)
    except ValueError as exc:
        if name == "X":
            raise
        raise ValueError(f"{name}: {exc}") from None


def check_target(estimator, y, n_samples, x_name="X"):
    """The target ``y`` of a supervised ``fit``, checked as 1-D with ``n_samples`` values (the
    rows of the argument ``x_name``).

    nla's :func:`~nla._validation.check_array` (so ``y`` stays in its framework), plus
    scikit-learn's conventions: ``y=None`` is refused with scikit-learn's wording and a column
    vector ``(n, 1)`` is flattened with a :class:`~sklearn.exceptions.DataConversionWarning`.

    Examples
    --------
    >>> from nla import FunBaT
    >>> check_target(FunBaT(), [1.0, 2.0], 2)
    array([1., 2.])
    >>> check_target(FunBaT(), None, 2)
    Traceback (most recent call last):
    ...
    ValueError: FunBaT requires y to be passed, but the target y is None
    """
    from ._validation import check_array

    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y "
                         "is None")
    if getattr(y, "shape", None) is None:   # lists and other array-likes
        y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected; it is "
                      "flattened (pass y.ravel() to silence this)", DataConversionWarning,
                      stacklevel=3)
        y = check_array(y, "y", ndim=2)[:, 0]
    else:
        y = check_array(y, "y", ndim=1)
    if y.shape[0] != n_samples:
        raise ValueError(f"y has {y.shape[0]} values but {x_name} has {n_samples} samples: "
                         "inconsistent numbers of samples")
    return y
