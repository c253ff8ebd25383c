"""CuPy kernels of nla, one module per capability area (``nla_gpu.<area>``).

``nla`` imports these lazily, only when its inputs live on a CUDA device (a CuPy array, a
CUDA torch tensor, ...); ``nla`` itself never needs CuPy. Each module mirrors the function
names of ``nla.<area>._kernels``, its CPU twin, so a driver calls the same names on either
engine (see :func:`nla._array.kernels`).
"""
