"""SciPy-style result records."""


class Result(dict):
    """A dictionary whose keys are also attributes, like :class:`scipy.optimize.OptimizeResult`.

    Examples
    --------
    >>> r = Result(x=1.0, converged=True)
    >>> r.x, r["converged"]
    (1.0, True)
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    __setattr__ = dict.__setitem__
    __delattr__ = dict.__delitem__

    def __repr__(self):
        if not self:
            return f"{type(self).__name__}()"
        width = max(map(len, self)) + 1
        return "\n".join(f"{k.rjust(width)}: {_short(v)}" for k, v in self.items())

    def __dir__(self):
        return list(self)


def _short(value):
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) and max(shape) > 6:
        return f"<{type(value).__name__} shape={tuple(shape)} dtype={getattr(value, 'dtype', '?')}>"
    return repr(value)
