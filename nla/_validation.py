"""Shared input checks. Every message names the argument and what was expected."""

import numbers
import operator
import os
import secrets

import numpy as np
from numba import njit, prange

FLOATS = (np.float64, np.float32)


def check_int(value, name, *, low=None, high=None):
    """``value`` as a Python int in ``[low, high]``; bools and non-integral numbers are refused."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be in {_interval(low, high)}, got {value}")
    return value


def _interval(low, high, low_open=False, high_open=False):
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    return f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"


def check_scalar(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite float within the given (open or closed) bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        raise ValueError(f"{name} must be in {_interval(low, high, low_open, high_open)}, "
                         f"got {value}")
    return value


def check_bool(value, name):
    """``value`` as a Python bool; only ``True``/``False`` (and NumPy bools) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_callable(value, name):
    """``value`` if it is ``None`` or callable, so a bad callback fails before any work."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable or None, got {value!r}")
    return value


def check_dtype(dtype, name="dtype", options=FLOATS):
    """``dtype`` as a NumPy dtype, one of ``options`` (float64 / float32 by default)."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    allowed = [np.dtype(d) for d in options]
    if resolved is None or resolved not in allowed or isinstance(dtype, (bool, np.bool_)):
        raise TypeError(f"{name} must be one of {[d.name for d in allowed]}, got {dtype!r}")
    return resolved


def _memory_limit():
    # Physical memory where the platform reports it, else 2**46 bytes (64 TiB).
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 2**46


def check_memory(n_entries, name, *, itemsize=8):
    """Refuse, before allocating, a request of ``n_entries`` values of ``itemsize`` bytes that
    cannot fit in this machine's memory; the ``ValueError`` names the size parameter ``name``.
    """
    need = int(n_entries) * int(itemsize)
    limit = _memory_limit()
    if need > limit:
        raise ValueError(f"{name} is too large: it needs about {need / 2**30:.3g} GiB of memory "
                         f"and this machine has {limit / 2**30:.3g} GiB")
    return need


def unit_scale(largest):
    """A power of two near ``largest`` (1 for 0 or non-finite): dividing data by it is exact
    and brings magnitudes near 1e+-300 to O(1), so squares and norms neither overflow nor
    underflow. Drivers scale internally by it and undo the scaling on the results."""
    largest = abs(float(largest))
    if largest == 0 or not np.isfinite(largest):
        return 1.0
    return float(np.ldexp(1.0, int(np.frexp(largest)[1]) - 1))


def check_choice(value, name, options):
    """``value`` if it is one of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


def check_seed(random_state):
    """A 64-bit seed for the counter-based generator (see :mod:`nla._random`).

    ``None`` draws fresh entropy; an int is used as is (it must be in ``[0, 2**64)``); a
    ``numpy.random.RandomState`` or ``Generator`` is asked for one draw, so scikit-learn style
    code that passes those keeps working.
    """
    if random_state is None:
        return secrets.randbits(64)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    return check_int(random_state, "random_state", low=0, high=2**64 - 1)


@njit(parallel=True, cache=True)
def _parallel_sum(flat):
    total = 0.0
    for i in prange(flat.shape[0]):
        total += flat[i]
    return total


def check_finite(x, name):
    """Raise if the dense array or sparse matrix ``x`` holds NaN or inf."""
    data = x.data if hasattr(x, "tocsr") else x
    if data.dtype.kind not in "fc":
        return
    # Fast path: a finite sum means finite entries (an overflow falls through to the exact
    # check). Large real NumPy arrays are summed on all cores: this pass reads all of x.
    contiguous = isinstance(data, np.ndarray) and (data.flags.c_contiguous
                                                    or data.flags.f_contiguous)
    with np.errstate(over="ignore", invalid="ignore"):
        if contiguous and data.size >= 2**20 and data.dtype.kind == "f":
            total = _parallel_sum(data.ravel(order="K"))
        else:
            total = data.sum()
        if bool(np.isfinite(total)):
            return
    if not bool(np.isfinite(data).all()):
        raise ValueError(f"{name} contains NaN or infinity")


def from_object(x, name, *, complex_ok=False):
    """An object array of numbers as float64 (complex128 if ``complex_ok`` and needed); the one
    rule for object input, so every validator accepts and refuses the same arrays."""
    for dtype in (np.float64, np.complex128) if complex_ok else (np.float64,):
        try:
            return x.astype(dtype)
        except (TypeError, ValueError) as exc:
            error = exc
    raise TypeError(f"{name} must hold {'numbers' if complex_ok else 'real numbers'} "
                    f"({error})") from None


def check_array(x, name, *, ndim=2, dtype=FLOATS, sparse=False, finite=True, min_size=1):
    """``x`` checked for use, on its own engine.

    Host input comes back as a NumPy array (a zero-copy view where possible) or, with
    ``sparse``, a SciPy CSR matrix with canonical (sorted, summed) indices. Device input
    (CuPy, CUDA torch, ...) comes back as the CuPy equivalent. Inputs are never modified.

    Parameters
    ----------
    x : array-like or sparse matrix
        The argument to check.
    name : str
        Argument name used in messages.
    ndim : int
        Required number of dimensions (sparse matrices are always 2-D).
    dtype : tuple of dtypes
        Accepted float dtypes; other real input (int, bool) is cast to the first. Complex,
        object and string data raise ``TypeError``.
    sparse : bool
        Accept sparse input.
    finite : bool
        Reject NaN and infinity.
    min_size : int
        Each dimension must have at least this many entries.

    Examples
    --------
    >>> check_array([[1, 2], [3, 4]], "X").dtype
    dtype('float64')
    >>> check_array([[1.0, float("nan")]], "X")
    Traceback (most recent call last):
    ...
    ValueError: X contains NaN or infinity
    """
    from ._array import is_sparse as _sparse, on_gpu, to_engine

    is_sparse = _sparse(x)
    if is_sparse and not sparse:
        raise TypeError(f"{name} must be a dense array; sparse input is not supported here")
    if not is_sparse and isinstance(x, (list, tuple)):
        x = np.asarray(x)
    x = to_engine(x, "gpu" if on_gpu(x) else "cpu")
    if x.dtype == object:  # numbers stored as objects are accepted, like scikit-learn does
        x = from_object(x, name)
    if x.dtype.kind in "USV":
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if x.dtype.kind == "c":  # a ValueError, as scikit-learn raises
        raise ValueError(f"{name} must be real: Complex data not supported (dtype {x.dtype})")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if is_sparse:
        x = x.tocsr()
        if not x.has_canonical_format:
            x = x.copy()
            x.sum_duplicates()
    elif x.ndim != ndim:
        hint = " Reshape your data (X.reshape(-1, 1) for one feature)." if ndim == 2 else ""
        raise ValueError(f"{name} must be {ndim}-D, got an array of shape {x.shape}.{hint}")
    if x.dtype not in [np.dtype(d) for d in dtype]:
        x = x.astype(dtype[0])
    for axis, size in enumerate(x.shape):
        if size < min_size:  # scikit-learn's wording, which its estimator checks expect
            what = ("sample(s)", "feature(s)")[axis] if len(x.shape) == 2 else f"entries on axis {axis}"
            raise ValueError(f"{name} has {size} {what} (shape={tuple(x.shape)}) while a "
                             f"minimum of {min_size} is required.")
    if finite:
        check_finite(x, name)
    return x
