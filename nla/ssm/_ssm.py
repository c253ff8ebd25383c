"""Transfer functions and discretisation of linear state-space models (SSMs).

For ``x' = A x + B u``, ``y = C x + D u`` the transfer function is
``G(s) = C (s I - A)^-1 B + D``. For a diagonal system (``A = diag(lam)``) this is the Cauchy
sum ``G(s) = sum_n C[:, n] B[n, :] / (s - lam_n) + D``, ``O(N)`` per frequency and output pair;
for a dense ``A`` the complex Schur form ``A = Z T Z^H`` is computed once and each frequency
costs one ``O(N^2)`` triangular solve per input.
"""

import warnings

import numpy as np

from .._array import Origin, engine_of, kernels, on_gpu, to_engine
from .._result import Result
from .._validation import check_choice, check_finite, from_object

_NUMBER_KINDS = "biufc"


def check_numbers(x, name, ndims, engine):
    """``x`` as a complex128 array of one of the dimensions ``ndims`` on ``engine``; complex
    input allowed (the foundation's ``check_array`` accepts real data only)."""
    small = isinstance(x, (list, tuple)) or np.isscalar(x)   # Python data may go anywhere
    if small:
        x = np.asarray(x)
    elif engine_of(x) != engine:
        raise ValueError(f"{name} lives on a different device from the other inputs")
    x = to_engine(x, engine)
    if x.dtype == object:   # the shared rule for numbers stored as objects
        x = from_object(x, name, complex_ok=True)
    if x.dtype.kind not in _NUMBER_KINDS:
        raise TypeError(f"{name} must hold numbers, got dtype {x.dtype}")
    if x.ndim not in ndims:
        raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in ndims)}, "
                         f"got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} must not be empty")
    x = x.astype(np.complex128)   # a new array: inputs are never modified
    check_finite(x, name)
    return x


def _engine(*arrays):
    return "gpu" if any(on_gpu(a) for a in arrays if a is not None) else "cpu"


def _io(B, C, N, engine):
    # B: (N,) or (N, P); C: (N,) or (Q, N). Returns 2-D forms and the trailing output shape.
    B = check_numbers(B, "B", (1, 2), engine)
    C = check_numbers(C, "C", (1, 2), engine)
    if B.shape[0] != N:
        raise ValueError(f"B must have {N} rows (one per state), got shape {B.shape}")
    if C.shape[-1] != N:
        raise ValueError(f"C must have {N} columns (one per state), got shape {C.shape}")
    tail = C.shape[:-1] + B.shape[1:]
    return B.reshape(N, -1), C.reshape(-1, N), tail


def transfer_function(A, B, C, s, D=None):
    """Transfer function ``G(s) = C (s I - A)^-1 B + D`` at many frequencies ``s``.

    Parameters
    ----------
    A : (N,) or (N, N) array_like
        The eigenvalues of a diagonal system (1-D, complex allowed), or a dense state matrix.
    B : (N,) or (N, P) array_like
        Input matrix (complex allowed).
    C : (N,) or (Q, N) array_like
        Output matrix (complex allowed).
    s : array_like
        Frequencies (complex; ``1j * omega`` on the imaginary axis), any shape.
    D : scalar or (Q, P) array_like, optional
        Feed-through term.

    Returns
    -------
    G : complex128 array of shape ``s.shape + C.shape[:-1] + B.shape[1:]``
        In the framework of ``s``. A frequency that hits an eigenvalue (a pole) gives ``inf``
        (with a ``RuntimeWarning``), for diagonal and dense ``A`` alike.

    Notes
    -----
    Diagonal systems use a Numba Cauchy-sum kernel, parallel over blocks of frequencies (a CuPy
    chunked Cauchy matrix times ``W`` on the GPU). Dense systems are reduced once to the complex
    Schur form on the host; each frequency then costs ``O(N^2)`` per input column (on the GPU,
    batched dense solves). Arithmetic is complex128 whatever the input dtype.

    Examples
    --------
    HiPPO-LegS read out by ``C = e_0`` has the exact transfer function ``1 / (s + 1)``:

    >>> import numpy as np, nla
    >>> h = nla.hippo(16)
    >>> s = 1j * np.array([0.0, 1.0, 100.0])
    >>> G = nla.transfer_function(h.A, h.B, np.eye(16)[0], s)
    >>> bool(np.allclose(G, 1 / (s + 1)))
    True
    """
    origin = Origin(s)
    engine = _engine(A, B, C, s, D)
    K = kernels("ssm", engine)
    A = check_numbers(A, "A", (1, 2), engine)
    N = A.shape[0]
    if A.ndim == 2 and A.shape[1] != N:
        raise ValueError(f"A must be square (or 1-D eigenvalues), got shape {A.shape}")
    B2, C2, tail = _io(B, C, N, engine)
    s = check_numbers(s, "s", tuple(range(0, 33)), engine)
    shape = s.shape
    s = s.reshape(-1)
    if D is None:
        D2 = K.xp.zeros((C2.shape[0], B2.shape[1]), dtype=np.complex128)
    else:
        D2 = check_numbers(D, "D", (0, 1, 2), engine)
        try:
            D2 = K.xp.broadcast_to(D2.reshape(D2.shape + (1,) * (2 - D2.ndim)),
                                   (C2.shape[0], B2.shape[1]))
        except ValueError:
            raise ValueError(f"D must broadcast to the output shape {tail}, got {D2.shape}") \
                from None
    if A.ndim == 1:
        # W[(q, p), n] = C[q, n] B[n, p]: one weight row per input/output pair.
        W = (C2[:, None, :] * B2.T[None, :, :]).reshape(-1, N)
        G = K.diagonal_tf(A, W, s, D2.reshape(-1))
    else:
        G = K.dense_tf(A, B2, C2, s).reshape(s.shape[0], -1) + D2.reshape(1, -1)
    if not bool(K.xp.isfinite(G).all()):
        warnings.warn("some frequencies s coincide with eigenvalues (poles): G is inf there",
                      RuntimeWarning, stacklevel=2)
        G = K.xp.where(K.xp.isfinite(G), G, complex(np.inf, 0))
    return origin.restore(G.reshape(shape + tail))


def discretize(eigenvalues, B, dt, method="zoh"):
    """Discretise the diagonal SSM ``x' = diag(eigenvalues) x + B u`` with step ``dt``.

    Parameters
    ----------
    eigenvalues : (N,) array_like, complex allowed
    B : (N,) or (N, P) array_like, complex allowed
    dt : float or array_like
        Step(s), positive; broadcast against ``eigenvalues`` (e.g. shape (H, 1) for H channels
        with their own steps).
    method : {'zoh', 'bilinear'}
        Zero-order hold: ``lam_bar = exp(dt lam)``, ``B_bar = (lam_bar - 1) / lam B`` (computed as
        ``dt expm1(dt lam) / (dt lam)``, exact as ``lam -> 0``). Bilinear (Tustin):
        ``lam_bar = (1 + dt lam / 2) / (1 - dt lam / 2)``, ``B_bar = dt / (1 - dt lam / 2) B``;
        it maps the open left half-plane into the unit disc.

    Returns
    -------
    Result
        ``eigenvalues`` (``lam_bar``), ``B`` (``B_bar``, shape broadcast with a trailing input
        axis when ``B`` is 2-D), ``dt``, ``method``; arrays in the caller's framework.

    Examples
    --------
    >>> import numpy as np, nla
    >>> d = nla.discretize(np.array([-1.0, 0.0]), np.ones(2), 0.5)
    >>> np.round(d.eigenvalues.real, 4), np.round(d.B.real, 4)
    (array([0.6065, 1.    ]), array([0.3935, 0.5   ]))
    """
    origin = Origin(eigenvalues)
    engine = _engine(eigenvalues, B, dt)
    K = kernels("ssm", engine)
    xp = K.xp
    method = check_choice(method, "method", {"zoh", "bilinear"})
    lam = check_numbers(eigenvalues, "eigenvalues", (1,), engine)
    B2 = check_numbers(B, "B", (1, 2), engine)
    if B2.shape[0] != lam.shape[0]:
        raise ValueError(f"B must have {lam.shape[0]} rows, got shape {B2.shape}")
    if isinstance(dt, (bool, np.bool_)) or getattr(dt, "dtype", None) == np.bool_:
        raise TypeError(f"dt must be a positive real number or array, got {dt!r}")
    dt_ = check_numbers(dt, "dt", tuple(range(0, 8)), engine)
    if bool((dt_.imag != 0).any()) or not bool((dt_.real > 0).all()):
        raise ValueError("dt must be real and positive")
    dt_ = dt_.real
    z = dt_ * lam
    with np.errstate(all="ignore"):   # a non-finite result is reported below, by name
        if method == "zoh":
            lam_bar = xp.exp(z)
            factor = dt_ * _phi1(xp, z)
        else:
            den = 1.0 - z / 2
            if not bool((den != 0).all()):
                raise ValueError("dt * eigenvalue = 2 for some eigenvalue: the bilinear map has "
                                 "a pole there; use method='zoh' or another dt")
            lam_bar = (1.0 + z / 2) / den
            factor = dt_ / den
        B_bar = factor * B2 if B2.ndim == 1 else factor[..., None] * B2
    if not (bool(xp.isfinite(lam_bar).all()) and bool(xp.isfinite(B_bar).all())):
        raise FloatingPointError(
            f"the discretized system overflows (largest Re(dt * eigenvalue) = "
            f"{float(z.real.max()):.3g}; exp overflows above ~709): the system is strongly "
            f"unstable at this dt; use a smaller dt")
    return Result(eigenvalues=origin.restore(lam_bar), B=origin.restore(B_bar), dt=dt,
                  method=method)


def _phi1(xp, z):
    # expm1(z) / z for complex z, accurate near 0 and for any xp with real expm1/cos/sin:
    # e^x (cos y + i sin y) - 1 = (expm1(x) cos y - 2 sin^2(y / 2)) + i e^x sin y.
    x, y = z.real, z.imag
    em1 = (xp.expm1(x) * xp.cos(y) - 2.0 * xp.sin(y / 2) ** 2) + 1j * (xp.exp(x) * xp.sin(y))
    tiny = xp.abs(z) < 1e-8
    safe = xp.where(tiny, 1.0, z)
    return xp.where(tiny, 1.0 + z / 2, em1 / safe)
