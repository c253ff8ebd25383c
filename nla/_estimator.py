"""A scikit-learn compatible estimator base that does not import scikit-learn.

Parameters live in ``__init__`` and are stored unchanged; learned state ends with ``_``.
``get_params``/``set_params`` read the ``__init__`` signature, so ``sklearn.clone``,
pipelines and grid search work. scikit-learn is imported only when it asks for our tags.
"""

import inspect


class BaseEstimator:
    """Parameter handling shared by every ``nla`` estimator."""

    _estimator_type = None  # "transformer", "regressor", ... (scikit-learn tags)

    @classmethod
    def _param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values()
                      if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep=True):
        """Parameters of this estimator as a dict (``deep`` is accepted for compatibility)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set parameters by name; unknown names raise ``ValueError``. Returns ``self``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; "
                                 f"valid parameters are {valid}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__)
                    .parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items()
                   if not _same(v, defaults.get(k))]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_is_fitted__(self):
        return any(k.endswith("_") and not k.startswith("__") for k in vars(self))

    def __sklearn_tags__(self):
        from sklearn.utils import Tags, TargetTags, TransformerTags, InputTags

        tags = Tags(estimator_type=self._estimator_type, target_tags=TargetTags(required=False),
                    input_tags=InputTags(**self._input_tags()))
        if self._estimator_type == "transformer":
            tags.transformer_tags = TransformerTags()
        return tags

    def _input_tags(self):
        return {}


def _same(a, b):
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b


def check_is_fitted(estimator, attribute):
    """Raise scikit-learn's ``NotFittedError`` style error when ``attribute`` is missing."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(f"this {type(estimator).__name__} instance is not fitted yet; "
                             "call 'fit' first")


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped at its iteration limit before meeting its tolerance."""


class NotFittedError(ValueError, AttributeError):
    """Raised when an unfitted estimator is used (a ValueError, as in scikit-learn)."""
