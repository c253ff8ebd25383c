"""The array layer: which engine runs, zero-copy import, and results handed back in kind.

Drivers call :func:`engine_of` on their inputs, convert them with :func:`to_engine` (a
zero-copy view wherever the exchange protocol allows) and give every result to
:meth:`Origin.restore`, which returns it in the caller's framework and on the caller's
device. NumPy and scipy.sparse pass through untouched; objects with ``__dlpack__`` (torch,
JAX, array-api-strict, CuPy) are imported through DLPack; anything else through
``__array__``. Namespace detection is array-api-compat's.
"""

import importlib

import array_api_compat
import numpy as np
import scipy.sparse as sp

from ._dask import is_dask

#: DLPack device types that live in GPU memory (kDLCUDA, kDLCUDAManaged).
_DLPACK_GPU = (2, 13)


def is_cupy_sparse(x):
    return type(x).__module__.startswith("cupyx.scipy.sparse")


def is_sparse(x):
    """True for a SciPy or a cupyx.scipy.sparse matrix/array."""
    return sp.issparse(x) or is_cupy_sparse(x)


def on_gpu(x):
    """True when ``x`` lives in CUDA memory (CuPy, CUDA torch tensors, JAX on GPU, ...).

    A dask array is judged by its ``_meta`` (the kind of its chunks): CuPy or cupyx chunks
    are device data, so they run through the CuPy kernels chunk by chunk.
    """
    if is_dask(x):
        return on_gpu(x._meta)
    if is_cupy_sparse(x):
        return True
    if isinstance(x, (np.ndarray, np.generic)) or sp.issparse(x):
        return False
    device = getattr(x, "__dlpack_device__", None)
    if device is not None:
        try:
            return device()[0] in _DLPACK_GPU
        except Exception:  # a protocol object that cannot tell is treated as host data
            return False
    return hasattr(x, "__cuda_array_interface__")


def engine_of(*arrays):
    """``'gpu'`` if the array inputs live on a CUDA device, else ``'cpu'``.

    ``None`` entries and Python scalars are ignored. Mixing host and device arrays is an error,
    because silently copying one side would hide a slow transfer.
    """
    flags = {on_gpu(a) for a in arrays if a is not None and not np.isscalar(a)}
    if len(flags) > 1:
        raise ValueError("inputs mix host (CPU) and device (GPU) arrays; move them to one place")
    return "gpu" if flags == {True} else "cpu"


def kernels(area, engine):
    """The kernel module of ``area`` for ``engine``: ``nla.<area>._kernels`` or ``nla_gpu.<area>``.

    ``nla_gpu`` is imported only here, only for GPU data, so ``nla`` never needs CuPy.
    """
    if engine == "gpu":
        try:
            return importlib.import_module(f"nla_gpu.{area}")
        except ImportError as exc:  # pragma: no cover - needs a CUDA machine without CuPy
            raise ImportError(
                "GPU input needs CuPy: pip install 'nla[gpu]' (or cupy-cuda12x / cupy-cuda13x)"
            ) from exc
    return importlib.import_module(f"nla.{area}._kernels")


def to_numpy(x):
    """A NumPy view of ``x`` without copying when the protocol allows (scipy.sparse kept)."""
    if isinstance(x, np.ndarray) or sp.issparse(x):
        return x
    if on_gpu(x):
        raise TypeError(f"expected host data, got a device array ({type(x).__name__})")
    if hasattr(x, "__dlpack__"):
        try:
            return np.from_dlpack(x)
        except (BufferError, TypeError, RuntimeError):
            pass  # e.g. torch tensors that require grad, or unsupported dtypes: fall through
    if hasattr(x, "detach"):  # a torch tensor that requires grad
        x = x.detach()
    return np.asarray(x)


def to_cupy(x):
    """A CuPy view of device data ``x`` (zero-copy via DLPack); host data is copied over."""
    import cupy

    if isinstance(x, cupy.ndarray) or is_cupy_sparse(x):
        return x
    if sp.issparse(x):
        import cupyx.scipy.sparse as csp

        return csp.csr_matrix(x.tocsr())
    if on_gpu(x):
        return cupy.from_dlpack(x)
    return cupy.asarray(to_numpy(x))


def to_engine(x, engine):
    """``x`` as an array of ``engine``: NumPy/scipy.sparse for ``'cpu'``, CuPy for ``'gpu'``."""
    return to_cupy(x) if engine == "gpu" else to_numpy(x)


class Origin:
    """Where an input came from, so that results go back to the same framework and device.

    Parameters
    ----------
    x : array-like
        The caller's input (NumPy, scipy.sparse, CuPy, torch, JAX, array-api-strict, ...).

    Examples
    --------
    >>> import numpy as np
    >>> origin = Origin(np.ones(3))
    >>> origin.restore(np.zeros(2)).__class__.__name__
    'ndarray'
    """

    def __init__(self, x):
        self.engine = engine_of(x)
        self.kind = "numpy"
        self.xp = None
        self.device = None
        if isinstance(x, np.ndarray) or sp.issparse(x) or np.isscalar(x) or isinstance(x, (list, tuple)):
            return
        if is_dask(x):  # drivers build dask results themselves: handed back as they are
            self.kind = "dask"
            return
        if is_cupy_sparse(x) or type(x).__module__.split(".")[0] == "cupy":
            self.kind = "cupy"
            return
        try:
            self.xp = array_api_compat.array_namespace(x)
        except TypeError:
            return  # an object with only __array__: NumPy results are the best we can do
        self.kind = "foreign"
        self.device = array_api_compat.device(x)

    def restore(self, result):
        """``result`` (NumPy or CuPy array, or scipy.sparse) in the caller's framework."""
        if result is None or self.kind in ("numpy", "cupy", "dask") or sp.issparse(result) \
                or is_cupy_sparse(result):
            return result
        xp = self.xp
        if hasattr(xp, "from_dlpack"):
            try:
                out = xp.from_dlpack(result)
                if array_api_compat.device(out) == self.device:
                    return out
            except (BufferError, TypeError, RuntimeError, ValueError, AttributeError):
                pass
        return xp.asarray(to_host(result), device=self.device)


def to_host(x):
    """NumPy copy of an engine array (identity for NumPy); used for small results and checks."""
    if isinstance(x, np.ndarray) or sp.issparse(x):
        return x
    get = getattr(x, "get", None)
    return get() if get is not None else np.asarray(x)


def namespaces(engine):
    """``(array module, sparse module)`` of ``engine``: NumPy/SciPy or CuPy/cupyx."""
    if engine == "gpu":
        import cupy
        import cupyx.scipy.sparse as csp

        return cupy, csp
    return np, sp
