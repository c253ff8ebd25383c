"""scikit-learn's estimator contract for nla's estimators.

Estimators derive from scikit-learn's ``BaseEstimator`` and mixins, so parameters, ``clone``,
tags, ``set_output``, ``feature_names_in_`` and ``NotFittedError`` are scikit-learn's own.
Input validation stays nla's (:func:`nla._validation.check_array`), because it keeps arrays
in their framework; :func:`check_features` runs only scikit-learn's feature-name and
feature-count checks, which read ``X`` without converting it.

scikit-learn is imported here, not by ``import nla``: this module loads with the first area
that has an estimator.
"""

from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin  # noqa: F401
from sklearn.exceptions import ConvergenceWarning as _SkConvergenceWarning
from sklearn.exceptions import DataDimensionalityWarning as _SkDataDimensionalityWarning
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted as _sk_check_is_fitted
from sklearn.utils.validation import validate_data

__all__ = ["BaseEstimator", "RegressorMixin", "TransformerMixin", "ConvergenceWarning",
           "DataDimensionalityWarning", "NotFittedError", "check_features", "check_is_fitted"]


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


def check_features(estimator, X, *, reset):
    """scikit-learn's feature-name and feature-count checks on ``X``.

    ``reset=True`` (in ``fit``) records ``feature_names_in_`` for a DataFrame with string
    column names (and ``n_features_in_``); ``reset=False`` (after fit) warns or raises as
    scikit-learn does for missing, extra or reordered columns. ``X`` is neither converted nor
    returned: nla's own validation follows.

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
    validate_data(estimator, X, reset=reset, skip_check_array=True)
