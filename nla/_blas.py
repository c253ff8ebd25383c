"""BLAS routines that Numba kernels call without the GIL.

NumPy has no triangular or rank-k product, and SciPy's Python BLAS wrappers keep the GIL
(measured: two threads calling ``scipy.linalg.blas.dtrmm`` take as long as one). SciPy's
``cython_blas`` functions are registered here as LLVM symbols, the way Numba reaches LAPACK
for ``np.linalg``, and declared as external functions: a kernel calls them by name, so it is
cached like any other and links to the symbols in whichever process loads it.

Matrices are column-major, as BLAS sees them: a C-ordered NumPy ``(m, d)`` array is the
column-major ``d x m`` matrix of its transpose.
"""

import llvmlite.binding as ll
import numpy as np
from numba import njit, types
from numba.extending import get_cython_function_address

for _name in ("dtrmm", "ssyrk"):
    ll.add_symbol("nla_" + _name, get_cython_function_address("scipy.linalg.cython_blas", _name))

_P = types.voidptr
_dtrmm = types.ExternalFunction("nla_dtrmm", types.void(*[_P] * 11))
_ssyrk = types.ExternalFunction("nla_ssyrk", types.void(*[_P] * 10))


@njit(nogil=True, cache=True)
def trmm_t(T, W):
    """``W := T^T W`` in place, for the upper triangular ``T`` (``d x d``, Fortran-ordered)
    and the column-major ``d x m`` matrix ``W`` held by a C-ordered ``(m, d)`` float64 array.

    For the C-ordered ``Y = W``'s rows this is ``Y := Y @ T``.
    """
    flags = np.array([ord("L"), ord("U"), ord("T"), ord("N")], dtype=np.uint8)
    sizes = np.array([T.shape[0], W.shape[0]], dtype=np.int32)  # d, m
    one = np.ones(1)
    _dtrmm(flags[0:].ctypes, flags[1:].ctypes, flags[2:].ctypes, flags[3:].ctypes,
           sizes[0:].ctypes, sizes[1:].ctypes, one.ctypes, T.ctypes, sizes[0:].ctypes,
           W.ctypes, sizes[0:].ctypes)


@njit(nogil=True, cache=True)
def syrk_upper(W, C):
    """``C := W W^T`` on the upper triangle (column-major, so the lower triangle of the
    C-ordered ``(d, d)`` float32 array ``C``), for ``W`` as in :func:`trmm_t` but float32.

    That is ``Y^T Y`` for the C-ordered ``(m, d)`` array ``Y = W``; the other triangle of
    ``C`` is left as it was.
    """
    flags = np.array([ord("U"), ord("N")], dtype=np.uint8)
    sizes = np.array([W.shape[1], W.shape[0]], dtype=np.int32)  # d, m
    scalars = np.array([1.0, 0.0], dtype=np.float32)
    _ssyrk(flags[0:].ctypes, flags[1:].ctypes, sizes[0:].ctypes, sizes[1:].ctypes,
           scalars[0:].ctypes, W.ctypes, sizes[0:].ctypes, scalars[1:].ctypes, C.ctypes,
           sizes[0:].ctypes)
