"""nla's estimators under scikit-learn's own estimator checks, and the contract around them.

``parametrize_with_checks`` runs every check of the installed scikit-learn on every estimator.
Checks that do not apply are listed, with the reason, in ``expected_failed_checks``; the
xfails are strict, so a listed check that starts to pass fails here and the list is updated.
The two estimators with lists do not take ``(n_samples, n_features)`` data at all:
``AltMinCompleter.fit(X, y)`` reads ``X`` as ``(row, col)`` pairs of one matrix and ``y`` as
their values, ``SubGMRecovery.fit(operator, y)`` a measurement operator.
"""

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
import sklearn.exceptions as skexc
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import nla

# Small instances keep the ~200 checks at a few seconds.
ESTIMATORS = [
    nla.SparseRandomProjection(n_components=3, random_state=0),
    nla.FunBaT(rank=1, n_epochs=5, random_state=0),
    nla.AltMinCompleter(rank=1, max_iter=5, random_state=0),
    nla.SubGMRecovery(rank=1, max_iter=50, random_state=0),
]

_PAIRS = ("fit(X, y) reads X as (row, col) index pairs of one matrix and y as their values "
          "(or X as the matrix itself: NaN-masked dense, sparse, triplets); the check feeds "
          "(n_samples, n_features) data with a target")
_ALTMIN_FAILS = [
    "check_complex_data", "check_dict_unchanged", "check_dont_overwrite_parameters",
    "check_dtype_object", "check_estimator_sparse_array", "check_estimator_sparse_matrix",
    "check_estimator_sparse_tag", "check_estimators_dtypes", "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self", "check_estimators_overwrite_params",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_fit2d_1feature",
    "check_fit2d_1sample", "check_fit2d_predict1d", "check_fit_check_is_fitted",
    "check_fit_idempotent", "check_fit_score_takes_y", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in", "check_n_features_in_after_fitting",
    "check_pipeline_consistency", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
]
_OPERATOR = ("fit(operator, y) takes a measurement operator (nla.DenseMeasurements, ...), "
             "not (n_samples, n_features) data; the operator refuses it with a TypeError")
_SUBGM_FAILS = _ALTMIN_FAILS + [
    "check_estimators_nan_inf", "check_fit1d", "check_non_transformer_estimators_n_iter",
    "check_regressor_data_not_an_array", "check_regressors_int",
    "check_regressors_no_decision_function", "check_regressors_train", "check_requires_y_none",
    "check_supervised_y_2d", "check_supervised_y_no_nan",
]


def expected_failed_checks(estimator):
    if isinstance(estimator, nla.AltMinCompleter):
        return dict.fromkeys(_ALTMIN_FAILS, _PAIRS)
    if isinstance(estimator, nla.SubGMRecovery):
        return dict.fromkeys(_SUBGM_FAILS, _OPERATOR)
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks,
                         xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        # AltMin/SubGM warn about unconverged tiny fits and unidentifiable samples; the
        # checks are about the contract, not the fit quality.
        warnings.simplefilter("ignore", nla.ConvergenceWarning)
        check(estimator)


def test_every_estimator_is_checked():
    # Every BaseEstimator among nla's public names is in ESTIMATORS (a new one must be added).
    found = {name for name in nla.__all__ if isinstance(getattr(nla, name), type)
             and issubclass(getattr(nla, name), sklearn.base.BaseEstimator)}
    assert found == {type(e).__name__ for e in ESTIMATORS}


def test_all_lists_every_public_name():
    # nla.__all__ is spelled out (import nla stays light); it must equal the areas' __all__.
    from nla._tour import AREAS

    names = {"ConvergenceWarning", "DataDimensionalityWarning", "Result", "__version__"}
    for area in AREAS:
        try:
            module = importlib.import_module(f"nla.{area}")
        except ModuleNotFoundError:
            continue
        names.update(module.__all__)
    assert sorted(nla.__all__) == sorted(names)
    assert len(nla.__all__) == len(set(nla.__all__))
    for name in nla.__all__:
        assert getattr(nla, name) is not None


def test_warnings_and_errors_are_sklearns():
    assert issubclass(nla.ConvergenceWarning, skexc.ConvergenceWarning)
    assert issubclass(nla.DataDimensionalityWarning, skexc.DataDimensionalityWarning)
    X = np.random.default_rng(0).standard_normal((5, 4))
    for est, call in [(nla.SparseRandomProjection(2), lambda e: e.transform(X)),
                      (nla.FunBaT(), lambda e: e.predict(X)),
                      (nla.AltMinCompleter(1), lambda e: e.predict([0], [0])),
                      (nla.SubGMRecovery(1), lambda e: e.X_)]:
        with pytest.raises(skexc.NotFittedError, match=type(est).__name__):
            call(est)


def test_tags_say_what_fit_accepts(rng):
    # AltMinCompleter: sparse (stored entries observed) and NaN (missing) are both accepted.
    tags = nla.AltMinCompleter(1).__sklearn_tags__()
    assert tags.input_tags.sparse and tags.input_tags.allow_nan
    M = rng.standard_normal((12, 1)) @ rng.standard_normal((1, 10))
    mask = rng.random(M.shape) < 0.7
    dense = np.where(mask, M, np.nan)
    coo = sp.coo_matrix((M[mask], np.nonzero(mask)), shape=M.shape)
    a = nla.AltMinCompleter(1, random_state=0).fit(dense).to_dense()
    b = nla.AltMinCompleter(1, random_state=0).fit(coo).to_dense()
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert nla.SparseRandomProjection().__sklearn_tags__().input_tags.sparse
    assert nla.FunBaT().__sklearn_tags__().estimator_type == "regressor"
    assert not nla.FunBaT().__sklearn_tags__().input_tags.allow_nan


def test_funbat_score_is_r2_and_cross_validates(rng):
    X = rng.uniform(size=(80, 2))
    y = np.sin(2 * np.pi * X[:, 0]) + X[:, 1]
    est = nla.FunBaT(rank=1, n_epochs=10, random_state=0).fit(X, y)
    assert est.score(X, y) == pytest.approx(r2_score(y, est.predict(X)), rel=1e-12)
    scores = cross_val_score(clone(est), X, y, cv=2)
    assert scores.shape == (2,) and np.all(np.isfinite(scores))
    # a column-vector y is flattened with scikit-learn's warning, to the same model
    with pytest.warns(skexc.DataConversionWarning):
        col = nla.FunBaT(rank=1, n_epochs=10, random_state=0).fit(X, y[:, None])
    np.testing.assert_array_equal(col.predict(X), est.predict(X))
    with pytest.raises(ValueError, match="requires y to be passed"):
        nla.FunBaT().fit(X, None)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        nla.FunBaT().fit(X, y[:-1])


def test_set_output_pandas_and_feature_names(rng):
    df = pd.DataFrame(rng.standard_normal((30, 6)), columns=list("abcdef"))
    pipe = make_pipeline(StandardScaler(), nla.SparseRandomProjection(3, random_state=0))
    out = pipe.set_output(transform="pandas").fit_transform(df)
    assert isinstance(out, pd.DataFrame) and out.shape == (30, 3)
    assert list(out.columns) == [f"sparserandomprojection{i}" for i in range(3)]
    ref = nla.SparseRandomProjection(3, random_state=0).fit_transform(
        StandardScaler().fit_transform(df.to_numpy()))
    np.testing.assert_allclose(out.to_numpy(), ref, rtol=1e-12)
    for est in (nla.SparseRandomProjection(3, random_state=0),
                nla.FunBaT(rank=1, n_epochs=3, random_state=0)):
        X = df.iloc[:, :2] if isinstance(est, nla.FunBaT) else df
        est.fit(X, rng.standard_normal(30))
        assert list(est.feature_names_in_) == list(X.columns)
        apply = est.predict if isinstance(est, nla.FunBaT) else est.transform
        with pytest.raises(ValueError, match="Feature names must be in the same order"):
            apply(X[X.columns[::-1]])
        with pytest.raises(ValueError, match="Feature names unseen at fit time"):
            apply(X.rename(columns={X.columns[0]: "zz"}))
        with pytest.warns(UserWarning, match="does not have valid feature names"):
            apply(X.to_numpy())
