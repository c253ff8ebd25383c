"""The mesh-free Chebyshev–Tucker format (Benner, Khoromskij, Khoromskaia, Sun 2025).

A function on a box ``[lo_1, hi_1] x ... x [lo_d, hi_d]`` is stored as

    f(x) ~ sum_{a_1..a_d} G[a_1, ..., a_d] prod_k phi^k_{a_k}(x_k),
    phi^k_a(x_k) = sum_j V_k[j, a] T_j(t_k(x_k)),

a Tucker decomposition ``C ~ G x_1 V_1 ... x_d V_d`` of the tensor ``C`` of Chebyshev
coefficients of the tensor-product interpolant. The columns of ``V_k`` are orthonormal in the
Chebyshev-weighted L2 inner product (coefficient vectors with the ``T_0`` entry counted
twice, see ``_chebyshev.weigh``); the scale lives in the core, ``||G||_F`` is the weighted L2
norm of f (up to a constant) and truncation errors are measured in that norm, as a HOSVD of
sampled values would measure them. Evaluation never forms a grid: Clenshaw on the factors,
then a core contraction.
"""

import math
import numbers
import time
import warnings

import numpy as np

from .._array import Origin, engine_of, kernels, to_engine, to_host
from .._result import Result
from .._validation import (check_array, check_bool, check_choice, check_int, check_scalar,
                           unit_scale)
from ._chebyshev import (cheb_points, coefficient_decay, derivative, from_unit,
                         integral_weights, to_unit, unweigh, weigh, weigh_tensor)
from ._tucker import (chop_degrees, full_tensor, hooi, mode_product, recompress, rhosvd,
                      st_hosvd)

#: Points per mode where the adaptive degree search starts: Chebfun's 17 up to 3-D, 9 above
#: (17^6 samples would already be 190 MB); see _next_points for how the grid grows.
_START_POINTS = {1: 17, 2: 17, 3: 17}
#: Relative slack allowed for points on the boundary of the box (rounding in the map).
_EDGE_SLACK = 1e-12
#: Points handed to the user's function per call while sampling the grid (memory cap).
_SAMPLE_CHUNK = 2**21


def _as_tuple(value, d, name):
    """An int or a length-``d`` sequence of ints as a tuple of ``d`` ints >= 1."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        value = (value,) * d
    try:
        values = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, a sequence of {d} ints, a float tolerance "
                        f"or None, got {value!r}") from None
    if len(values) != d:
        raise ValueError(f"{name} must have one entry per dimension ({d}), got {len(values)}")
    return tuple(check_int(v, name, low=1) for v in values)


def _fixed_or_tol(value, d, name, default_tol):
    """``(fixed tuple, None)`` for ints, ``(None, tol)`` for None or a float tolerance."""
    if value is None:
        return None, default_tol
    if isinstance(value, float):
        return None, check_scalar(value, name, low=0.0, high=1.0, low_open=True, high_open=True)
    return _as_tuple(value, d, name), None


def _check_domain(domain):
    dom = to_host(check_array(domain, "domain", ndim=2))
    if dom.shape[1] != 2 or not 1 <= dom.shape[0] <= 6:
        raise ValueError(f"domain must have shape (d, 2) with d in 1..6 (one [lo, hi] row per "
                         f"dimension), got {dom.shape}")
    bad = np.flatnonzero(dom[:, 0] >= dom[:, 1])
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"domain is degenerate along axis {k}: lo = {dom[k, 0]} must be less "
                         f"than hi = {dom[k, 1]}")
    return np.array(dom, dtype=np.float64)


class ChebTucker:
    """A multivariate function in Chebyshev–Tucker format on a box.

    Build one with :meth:`fit` (from a function) or :meth:`from_cp` (from a canonical
    decomposition); the constructor takes the parts of an existing representation.

    Parameters
    ----------
    core : array, shape (r_1, ..., r_d)
        Tucker core.
    factors : sequence of d arrays, shapes (m_k, r_k)
        Chebyshev coefficients (degree ``m_k - 1``) of the univariate factor functions, one
        column per factor function.
    domain : array-like, shape (d, 2)
        The box, one ``[lo, hi]`` row per dimension.
    tol : float
        Relative tolerance used when this object is recompressed after arithmetic.
    info : dict, optional
        Diagnostics of the construction (kept as :attr:`info`).

    Attributes
    ----------
    core, factors, domain : arrays
        The representation (on the engine it was built on: NumPy or CuPy).
    info : nla.Result
        What :meth:`fit` found: degrees tried, coefficient decay per mode, singular values of
        the unfoldings, the Frobenius error bound of the truncation, function evaluations and
        timings.

    Notes
    -----
    Everything is computed in float64: the format targets accuracies far below float32
    rounding. On the GPU (``domain`` given as a CuPy array) all arrays live on the device.

    Examples
    --------
    >>> import numpy as np
    >>> from nla import ChebTucker
    >>> f = lambda x, y, z: np.exp(-(x**2 + y**2 + z**2))
    >>> ft = ChebTucker.fit(f, [[-1, 1]] * 3)
    >>> ft.ranks
    (1, 1, 1)
    >>> x = np.array([[0.1, -0.2, 0.3]])
    >>> bool(abs(ft(x)[0] - f(*x.T)[0]) < 1e-13)
    True
    >>> from math import erf, pi, sqrt
    >>> bool(abs(ft.integrate() - (sqrt(pi) * erf(1)) ** 3) < 1e-12)
    True
    >>> round(float(ft.diff(0)(x)[0]), 10)    # d/dx exp(-|x|^2) = -2 x exp(-|x|^2)
    -0.1738716471
    """

    def __init__(self, core, factors, domain, *, tol=1e-12, info=None):
        self.domain = _check_domain(domain)
        d = self.domain.shape[0]
        if isinstance(factors, (str, bytes)) or not hasattr(factors, "__len__"):
            raise TypeError(f"factors must be a sequence of {d} matrices (one per dimension), "
                            f"got {type(factors).__name__}")
        engine = engine_of(core, *factors)
        self._K = kernels("chebtucker", engine)
        xp = self._K.xp
        self.core = xp.asarray(check_array(core, "core", ndim=d), dtype=xp.float64)
        if len(factors) != d:
            raise ValueError(f"factors must hold {d} matrices (one per dimension), "
                             f"got {len(factors)}")
        self.factors = [xp.asarray(check_array(V, f"factors[{k}]"), dtype=xp.float64)
                        for k, V in enumerate(factors)]
        for k, V in enumerate(self.factors):
            if V.shape[1] != self.core.shape[k]:
                raise ValueError(f"factors[{k}] has {V.shape[1]} columns but the core has "
                                 f"{self.core.shape[k]} entries along axis {k}")
        self.tol = check_scalar(tol, "tol", low=0.0, high=1.0, low_open=True, high_open=True)
        self.info = Result(info or {})

    # ------------------------------------------------------------------ construction
    @classmethod
    def fit(cls, f, domain, degree=None, rank=None, *, tol=1e-12, max_degree=256,
            hooi_iters=2, vectorized=True, max_samples=2**25, verbose=False):
        """Approximate ``f`` on the box ``domain``.

        Samples ``f`` on a tensor grid of 2nd-kind Chebyshev points, turns the samples into
        the Chebyshev coefficient tensor by a type-I DCT along every axis, and compresses
        that tensor by an ε-rank HOSVD followed by HOOI sweeps.

        Parameters
        ----------
        f : callable
            ``f(x_1, ..., x_d)`` evaluated elementwise on broadcastable arrays (NumPy, or CuPy
            for a CuPy ``domain``); it is called on open tensor grids in ``'ij'`` order
            (``x_1`` varies along axis 0). It must return finite real values.
        domain : array-like, shape (d, 2)
            The box, one ``[lo, hi]`` row per dimension, ``1 <= d <= 6``. A CuPy array runs
            the construction on the GPU.
        degree : None, float, int or tuple of ints
            Polynomial degree per dimension. ``None`` (or a float tolerance) chooses it
            adaptively: starting at 16 (8 for ``d > 3``), the degree of every mode whose
            trailing coefficients are not yet below ``tol * max|C|`` is raised (to the
            degree the geometric decay seen so far predicts, plus 25 %, at most doubled), up
            to ``max_degree``; then trailing coefficients below that level are chopped.
        rank : None, float, int or tuple of ints
            Tucker ranks. ``None`` (or a float tolerance) keeps the fewest ranks for which
            the HOSVD discards at most ``tol`` relative to the Chebyshev-weighted L2 norm of
            the interpolant (computed exactly from its coefficients).
        tol : float
            Relative tolerance used when ``degree`` or ``rank`` is None (default ``1e-12``).
            Tolerances far below ``1e-14`` cannot be met in float64.
        max_degree : int
            Cap of the adaptive degree per dimension; a ``RuntimeWarning`` reports modes
            still unresolved there.
        hooi_iters : int
            HOOI (ALS) sweeps at the chosen ranks after the HOSVD (0 for the HOSVD only).
        vectorized : bool
            If False, ``f`` takes scalars and is wrapped by :func:`numpy.vectorize` (slow).
        max_samples : int
            Refuse grids with more points than this (memory guard; the coefficient tensor
            needs 8 bytes per point, the construction about three times that).
        verbose : bool
            Print the degrees tried and the ranks found.

        Returns
        -------
        ChebTucker
        """
        if not callable(f):
            raise TypeError(f"f must be callable, got {type(f).__name__}")
        engine = engine_of(domain)
        K = kernels("chebtucker", engine)
        xp = K.xp
        dom = _check_domain(domain)
        d = dom.shape[0]
        fixed_degree, degree_tol = _fixed_or_tol(degree, d, "degree", tol)
        fixed_rank, rank_tol = _fixed_or_tol(rank, d, "rank", tol)
        check_scalar(tol, "tol", low=0.0, high=1.0, low_open=True, high_open=True)
        max_degree = check_int(max_degree, "max_degree", low=1)
        hooi_iters = check_int(hooi_iters, "hooi_iters", low=0)
        max_samples = check_int(max_samples, "max_samples", low=1)
        vectorized, verbose = check_bool(vectorized, "vectorized"), check_bool(verbose, "verbose")
        if not vectorized:
            f = np.vectorize(f, otypes=[np.float64])
        else:
            _check_vectorized(f, dom, xp)

        times = {"sample": 0.0, "coefficients": 0.0, "tucker": 0.0}
        if fixed_degree is not None:
            points = [p + 1 for p in fixed_degree]
        else:
            points = [min(_START_POINTS.get(d, 9), max_degree + 1)] * d
        history, n_evals = [], 0
        while True:
            if math.prod(points) > max_samples:
                raise ValueError(f"the Chebyshev grid {tuple(points)} has more than max_samples "
                                 f"= {max_samples} points; lower degree/max_degree or raise "
                                 f"max_samples")
            start = time.perf_counter()
            values = _sample(f, dom, points, xp)
            n_evals += values.size
            # Work on f / unit (exact: a power of two) so that squared norms of values near
            # 1e+-200 neither underflow nor overflow; the core is scaled back below.
            unit = unit_scale(xp.abs(values).max())
            values = values / unit
            times["sample"] += time.perf_counter() - start
            start = time.perf_counter()
            C = K.values_to_coeffs(values)
            del values
            times["coefficients"] += time.perf_counter() - start
            decay = [np.asarray(to_host(c)) for c in coefficient_decay(xp, C)]
            scale = max(float(c.max()) for c in decay)
            tails = [float(c[-max(2, c.size // 8):].max()) for c in decay]
            history.append(tuple(p - 1 for p in points))
            if verbose:
                print(f"ChebTucker.fit: degrees {history[-1]}, relative tails "
                      f"{[f'{t / max(scale, 1e-300):.1e}' for t in tails]}")
            if fixed_degree is not None:
                break
            level = degree_tol * scale
            unresolved = [k for k in range(d) if tails[k] > level]
            growable = [k for k in unresolved if points[k] - 1 < max_degree]
            if not unresolved or not growable:
                break
            for k in growable:
                points[k] = min(_next_points(decay[k], level), max_degree + 1)

        resolved = [t <= degree_tol * scale for t in tails] if fixed_degree is None else None
        if fixed_degree is None:
            if not all(resolved):
                bad = [k for k in range(d) if not resolved[k]]
                warnings.warn(f"ChebTucker.fit: modes {bad} are not resolved at max_degree = "
                              f"{max_degree} (relative trailing coefficients "
                              f"{[f'{tails[k] / scale:.1e}' for k in bad]} > {degree_tol:g}); "
                              f"the interpolation error dominates", RuntimeWarning, stacklevel=2)
            # chop trailing coefficients below the tolerance (chebfun-style), keeping >= 2
            keep = []
            for c in decay:
                above = np.flatnonzero(c > degree_tol * scale)
                keep.append(max(2, int(above[-1]) + 1 if above.size else 2))
            C = C[tuple(slice(0, n) for n in keep)]

        start = time.perf_counter()
        Cw = weigh_tensor(C)                 # Tucker in the weighted L2 norm of f (see weigh)
        del C
        core, factors, svals, bound = st_hosvd(xp, Cw, tol=rank_tol, ranks=fixed_rank)
        sweeps = 0
        if hooi_iters:
            core, factors, sweeps = hooi(xp, Cw, factors, iters=hooi_iters)
        factors = [unweigh(U) for U in factors]
        core = core * unit
        times["tucker"] = time.perf_counter() - start
        norm = float(xp.linalg.norm(Cw.ravel()))
        info = dict(degree_history=history, coefficient_decay=[c * unit for c in decay],
                    relative_tails=[t / max(scale, 1e-300) for t in tails], resolved=resolved,
                    singular_values=[sv * unit for sv in svals],
                    tucker_error_bound=bound / max(norm, 1e-300), hooi_sweeps=sweeps,
                    n_evaluations=n_evals, times=times)
        out = cls(core, factors, dom, tol=rank_tol or tol, info=info)
        if verbose:
            print(f"ChebTucker.fit: ranks {out.ranks}, degrees {out.degrees}")
        return out

    @classmethod
    def from_cp(cls, weights, factors, domain, *, grids=None, degree=128, rank=None, tol=1e-7):
        """Chebyshev–Tucker form of a CP (canonical) function
        ``f(x) = sum_r weights[r] prod_k u_{k,r}(x_k)`` without forming any full tensor
        (the paper's Algorithm 4, "reduced HOSVD").

        Each factor column is interpolated at ``degree + 1`` Chebyshev points, turned into
        Chebyshev coefficients (DCT-I by columns), and the coefficient matrices are truncated
        by their SVDs; the core is assembled from the CP weights in one GEMM and recompressed
        by an ε-rank HOSVD. Cost ``O(sum_k m_k R min(m_k, R) + prod(r) R)``.

        Parameters
        ----------
        weights : array-like, shape (R,)
            CP weights.
        factors : sequence of d arrays, shapes (n_k, R)
            Samples of the univariate factor functions: at the points ``grids[k]`` or, with
            ``grids=None``, at the ``degree + 1`` Chebyshev points of ``domain[k]`` (ascending).
        domain : array-like, shape (d, 2)
            The box.
        grids : sequence of d 1-D arrays, optional
            Ascending sample coordinates of each factor; the columns are interpolated by
            not-a-knot cubic splines. They must reach each side of the box to within one grid
            step (cell-centred grids are extrapolated by at most that much).
        degree : int or tuple of ints
            Chebyshev degree per dimension (default 128, as in the paper).
        rank : None, float, int or tuple of ints
            Tucker ranks. ``None`` (or a float tolerance) keeps the fewest ranks for which
            the HOSVD of the assembled core discards at most ``tol`` relative to the
            weighted L2 norm of the interpolant (as in :meth:`fit`); an int or tuple fixes
            them (clipped, with a warning, to what the CP rank and degree allow).
        tol : float
            Relative tolerance of the compression when ``rank`` is None (default ``1e-7``).

        Returns
        -------
        ChebTucker
        """
        from scipy.interpolate import CubicSpline

        dom = _check_domain(domain)
        d = dom.shape[0]
        degrees = _as_tuple(degree, d, "degree")
        tol = check_scalar(tol, "tol", low=0.0, high=1.0, low_open=True, high_open=True)
        fixed_rank, rank_tol = _fixed_or_tol(rank, d, "rank", tol)
        if len(factors) != d:
            raise ValueError(f"factors must hold {d} matrices (one per dimension), "
                             f"got {len(factors)}")
        engine = engine_of(weights, *factors)
        K = kernels("chebtucker", engine)
        xp = K.xp
        w = check_array(weights, "weights", ndim=1)
        mats = [check_array(F, f"factors[{k}]") for k, F in enumerate(factors)]
        R = w.shape[0]
        if grids is not None and len(grids) != d:
            raise ValueError(f"grids must hold {d} coordinate arrays, got {len(grids)}")
        samples = []
        for k, F in enumerate(mats):
            if F.shape[1] != R:
                raise ValueError(f"factors[{k}] has {F.shape[1]} columns, expected R = {R} "
                                 f"(the length of weights)")
            m = degrees[k] + 1
            if grids is None:
                if F.shape[0] != m:
                    raise ValueError(f"factors[{k}] must hold the values at the {m} Chebyshev "
                                     f"points of degree {degrees[k]}, got {F.shape[0]} rows")
                samples.append(xp.asarray(F, dtype=xp.float64))
                continue
            g = np.asarray(to_host(check_array(grids[k], f"grids[{k}]", ndim=1)), np.float64)
            if g.shape[0] != F.shape[0] or g.shape[0] < 4 or np.any(np.diff(g) <= 0):
                raise ValueError(f"grids[{k}] must be strictly increasing with one entry per "
                                 f"row of factors[{k}] (at least 4), got {g.shape[0]} entries")
            lo, hi = dom[k]
            step = max(g[1] - g[0], g[-1] - g[-2])
            if g[0] > lo + step * (1 + 1e-9) or g[-1] < hi - step * (1 + 1e-9):
                raise ValueError(f"grids[{k}] covers [{g[0]}, {g[-1]}], which does not reach "
                                 f"the box side [{lo}, {hi}] to within one grid step")
            spline = CubicSpline(g, np.asarray(to_host(F)), axis=0, bc_type="not-a-knot")
            samples.append(xp.asarray(spline(from_unit(cheb_points(m), lo, hi))))
        coeffs = [weigh(K.values_to_coeffs(S, axes=(0,))) for S in samples]
        # The factor-wise truncation bounds the error through ||weights||, blind to the
        # cancellation between terms of both signs, so it only prunes what is negligible
        # (tol / 10, or near rounding for fixed ranks); the ranks come from the HOSVD of the
        # assembled core, which sees the cancellation.
        pre = rank_tol / 10 if fixed_rank is None else 1e-14
        core, bases = rhosvd(xp, w, coeffs, tol=pre)
        core, small, svals, bound = st_hosvd(xp, core, tol=rank_tol, ranks=fixed_rank)
        return cls(core, [unweigh(B @ W) for B, W in zip(bases, small)], dom,
                   tol=rank_tol or tol,
                   info=dict(singular_values=svals,
                             tucker_error_bound=bound / max(
                                 float(xp.linalg.norm(core.ravel())), 1e-300)))

    # ------------------------------------------------------------------ properties
    @property
    def ndim(self):
        """Number of dimensions ``d``."""
        return self.domain.shape[0]

    @property
    def ranks(self):
        """Tucker ranks ``(r_1, ..., r_d)``."""
        return tuple(int(s) for s in self.core.shape)

    @property
    def degrees(self):
        """Polynomial degree per dimension (``m_k - 1``)."""
        return tuple(int(V.shape[0]) - 1 for V in self.factors)

    @property
    def nbytes(self):
        """Bytes held by the core and factors."""
        return int(self.core.nbytes + sum(V.nbytes for V in self.factors))

    def __repr__(self):
        return (f"ChebTucker(ndim={self.ndim}, degrees={self.degrees}, ranks={self.ranks}, "
                f"domain={self.domain.tolist()})")

    # ------------------------------------------------------------------ evaluation
    def _unit(self, x, k, extrapolate, name):
        lo, hi = self.domain[k]
        t = to_unit(x, lo, hi)
        if not extrapolate:
            xp = self._K.xp
            outside = xp.abs(t) > 1.0 + _EDGE_SLACK
            if bool(outside.any()):
                i = int(xp.argmax(outside))
                raise ValueError(f"{name} has a value outside the domain along axis {k}: "
                                 f"{float(x[i])} not in [{lo}, {hi}] (entry {i}); pass "
                                 f"extrapolate=True to evaluate the polynomial there")
            t = xp.clip(t, -1.0, 1.0)
        return t

    def __call__(self, points, *, extrapolate=False):
        """Values at scattered points.

        Parameters
        ----------
        points : array-like, shape (n, d) or (d,)
            Points in the box (any array framework; the result comes back in it).
        extrapolate : bool
            Points outside the box raise ``ValueError`` unless this is True, in which case
            the polynomial is evaluated there (it grows quickly away from the box).

        Returns
        -------
        array, shape (n,) or ()
        """
        origin = Origin(points)
        ndim = getattr(points, "ndim", None)
        ndim = np.ndim(points) if ndim is None else ndim
        P = check_array(points, "points", ndim=1 if ndim == 1 else 2)
        single = P.ndim == 1
        P = to_engine(P.reshape(1, -1) if single else P, engine_of(self.core))
        if P.shape[1] != self.ndim:
            raise ValueError(f"points must have {self.ndim} columns (one per dimension), "
                             f"got shape {tuple(P.shape)}")
        xp = self._K.xp
        T = xp.stack([self._unit(P[:, k].astype(xp.float64), k, extrapolate, "points")
                      for k in range(self.ndim)], axis=1)
        values = self._K.eval_points(T, self.factors, self.core)
        return origin.restore(values[0] if single else values)

    def on_grid(self, *axes, form="full", extrapolate=False):
        """Values on the tensor grid spanned by ``axes`` (``'ij'`` order).

        Parameters
        ----------
        *axes : d 1-D arrays
            Grid coordinates per dimension (any order).
        form : {'full', 'tucker'}
            ``'full'`` returns the ``n_1 x ... x n_d`` array; ``'tucker'`` returns
            ``(core, [U_1, ..., U_d])`` with ``U_k = T_k V_k`` (``n_k x r_k``), the algebraic
            Tucker decomposition of that array, which costs ``O(sum n_k m_k r_k)`` only.
        extrapolate : bool
            As in :meth:`__call__`.
        """
        check_choice(form, "form", {"full", "tucker"})
        if len(axes) != self.ndim:
            raise ValueError(f"on_grid needs {self.ndim} axes, got {len(axes)}")
        origin = Origin(axes[0])
        xp = self._K.xp
        Us = []
        for k, x in enumerate(axes):
            x = to_engine(check_array(x, f"axes[{k}]", ndim=1), engine_of(self.core))
            t = self._unit(x.astype(xp.float64), k, extrapolate, f"axes[{k}]")
            V = self.factors[k]
            Us.append(self._K.vandermonde(t, V.shape[0]) @ V)
        if form == "tucker":
            return origin.restore(self.core), [origin.restore(U) for U in Us]
        return origin.restore(full_tensor(xp, self.core, Us))

    def coefficients(self):
        """The full tensor of Chebyshev coefficients, shape ``(m_1, m_2, ..)``.

        It needs ``8 prod(m_k)`` bytes: meant for inspection and small degrees.
        """
        return full_tensor(self._K.xp, self.core, self.factors)

    # ------------------------------------------------------------------ calculus
    def integrate(self, axes=None):
        """Integral over the given axes (all by default).

        Returns a float when every axis is integrated, otherwise a :class:`ChebTucker` over
        the remaining axes. Each factor is integrated exactly (Clenshaw–Curtis weights of the
        Chebyshev basis, times the half-length of the side).
        """
        d = self.ndim
        axes = tuple(range(d)) if axes is None else tuple(
            check_int(a, "axes", low=-d, high=d - 1) % d for a in np.atleast_1d(axes))
        if len(set(axes)) != len(axes):
            raise ValueError(f"axes must not repeat, got {axes}")
        xp = self._K.xp
        X = self.core
        for k in sorted(axes, reverse=True):
            lo, hi = self.domain[k]
            w = integral_weights(xp, self.factors[k].shape[0]) * (0.5 * (hi - lo))
            X = xp.tensordot(X, w @ self.factors[k], axes=([k], [0]))
        if len(axes) == d:
            return float(X)
        keep = [k for k in range(d) if k not in axes]
        return ChebTucker(X, [self.factors[k] for k in keep], self.domain[keep], tol=self.tol)

    def diff(self, axis, order=1):
        """Partial derivative ``d^order f / dx_axis^order`` in Chebyshev–Tucker format.

        Only factor ``axis`` changes (its columns are differentiated and scaled by
        ``(2 / (hi - lo))^order``); it is re-orthonormalised by a QR whose triangle goes
        into the core, so ranks never grow.
        """
        axis = check_int(axis, "axis", low=-self.ndim, high=self.ndim - 1) % self.ndim
        order = check_int(order, "order", low=1)
        xp = self._K.xp
        lo, hi = self.domain[axis]
        V = self.factors[axis]
        for _ in range(order):
            V = derivative(xp, V) * (2.0 / (hi - lo))
        Q, R = xp.linalg.qr(weigh(V))
        core = mode_product(xp, self.core, R, axis)
        factors = list(self.factors)
        factors[axis] = unweigh(Q)
        return ChebTucker(core, factors, self.domain, tol=self.tol)

    # ------------------------------------------------------------------ compression
    def compress(self, tol=None, rank=None):
        """A recompressed copy: ranks by relative tolerance ``tol`` (default: this object's)
        or fixed ``rank`` (int or tuple)."""
        if tol is not None:
            tol = check_scalar(tol, "tol", low=0.0, high=1.0, low_open=True, high_open=True)
        ranks = None if rank is None else _as_tuple(rank, self.ndim, "rank")
        if ranks is None and tol is None:
            tol = self.tol
        core, factors, svals, bound = recompress(self._K.xp, self.core,
                                                 [weigh(V) for V in self.factors],
                                                 tol=tol, ranks=ranks)
        factors = [unweigh(V) for V in factors]
        return ChebTucker(core, factors, self.domain, tol=tol or self.tol,
                          info=dict(singular_values=svals))

    # ------------------------------------------------------------------ arithmetic
    def _constant(self, value):
        xp = self._K.xp
        return ChebTucker(xp.full((1,) * self.ndim, float(value)),
                          [xp.ones((1, 1)) for _ in range(self.ndim)], self.domain, tol=self.tol)

    def add(self, other, tol=None):
        """``self + other`` recompressed to relative tolerance ``tol``.

        ``other`` is a ChebTucker on the same box or a number. The sum's factors are the
        zero-padded, concatenated factors and its core is block diagonal; recompression
        (:meth:`compress`) then keeps the ranks small. The tolerance is relative to
        ``||self|| + ||other||`` (weighted L2 norms), so cancellation does not inflate ranks.
        Default: the larger tolerance of the two operands.
        """
        if isinstance(other, numbers.Real):
            other = self._constant(other)
        tol = self._partner_tol(other, tol)
        xp = self._K.xp
        factors = []
        for Va, Vb in zip(self.factors, other.factors):
            m = max(Va.shape[0], Vb.shape[0])
            V = xp.zeros((m, Va.shape[1] + Vb.shape[1]))
            V[:Va.shape[0], :Va.shape[1]] = Va
            V[:Vb.shape[0], Va.shape[1]:] = Vb
            factors.append(V)
        core = xp.zeros(tuple(a + b for a, b in zip(self.ranks, other.ranks)))
        core[tuple(slice(0, r) for r in self.ranks)] = self.core
        core[tuple(slice(r, None) for r in self.ranks)] = other.core
        norm = float(xp.linalg.norm(self.core.ravel()) + xp.linalg.norm(other.core.ravel()))
        return self._recompressed(core, factors, tol, norm)

    def _recompressed(self, core, factors, tol, norm=None):
        # recompression and degree chopping in the weighted coordinates of fit
        xp = self._K.xp
        core, factors, _, _ = recompress(xp, core, [weigh(V) for V in factors], tol=tol,
                                         norm=norm)
        core, factors = chop_degrees(xp, core, factors, tol=tol)
        return ChebTucker(core, [unweigh(V) for V in factors], self.domain, tol=tol)

    def __add__(self, other):
        if not isinstance(other, (ChebTucker, numbers.Real)):
            return NotImplemented
        return self.add(other)

    __radd__ = __add__

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        if not isinstance(other, (ChebTucker, numbers.Real)):
            return NotImplemented
        return self.add(-other)

    def __rsub__(self, other):
        if not isinstance(other, numbers.Real):
            return NotImplemented
        return (-self).add(other)

    def _partner_tol(self, other, tol):
        """Check the other operand of a binary operation; return the recompression tol
        (default: the larger of the operands' tolerances)."""
        if not isinstance(other, ChebTucker):
            raise TypeError(f"other must be a ChebTucker or a real number, got "
                            f"{type(other).__name__}")
        if other.ndim != self.ndim or not np.array_equal(other.domain, self.domain):
            raise ValueError("other lives on a different domain; inconsistent domains "
                             f"{self.domain.tolist()} and {other.domain.tolist()}")
        if engine_of(self.core) != engine_of(other.core):
            raise ValueError("other lives on a different engine (CPU vs GPU)")
        if tol is None:
            return max(self.tol, other.tol)
        return check_scalar(tol, "tol", low=0.0, high=1.0, low_open=True, high_open=True)

    def multiply(self, other, tol=None):
        """Pointwise product ``self * other`` recompressed to relative tolerance ``tol``.

        Factor columns are multiplied pairwise (exactly: both are sampled at
        ``m_a + m_b - 1`` Chebyshev points, multiplied, and transformed back), the core is
        the Kronecker product of the cores, then :meth:`compress` runs. The uncompressed
        core has ``prod_k r_k^a r_k^b`` entries, so compress the operands first if that is
        large. Default ``tol``: the larger of the operands' tolerances.
        """
        if isinstance(other, numbers.Real):
            return self * other
        tol = self._partner_tol(other, tol)
        size = math.prod(a * b for a, b in zip(self.ranks, other.ranks))
        if size > 2**26:
            raise ValueError(f"the product core would have {size} entries; compress the "
                             f"operands to smaller ranks first")
        xp, K = self._K.xp, self._K
        factors = []
        for Va, Vb in zip(self.factors, other.factors):
            m = Va.shape[0] + Vb.shape[0] - 1
            t = xp.asarray(cheb_points(m))
            Ua, Ub = K.vandermonde(t, Va.shape[0]) @ Va, K.vandermonde(t, Vb.shape[0]) @ Vb
            W = (Ua[:, :, None] * Ub[:, None, :]).reshape(m, -1)
            factors.append(K.values_to_coeffs(W, axes=(0,)))
        core = xp.kron(self.core, other.core)      # index (a, b) -> a * r_b + b, as in W
        return self._recompressed(core, factors, tol)

    def __mul__(self, other):
        """Scaling by a number (the core is scaled; ranks are unchanged) or the pointwise
        product with another ChebTucker (see :meth:`multiply`)."""
        if isinstance(other, ChebTucker):
            return self.multiply(other)
        if not isinstance(other, numbers.Real):
            return NotImplemented
        return ChebTucker(self.core * float(other), self.factors, self.domain, tol=self.tol)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if not isinstance(other, numbers.Real):
            return NotImplemented
        return self * (1.0 / other)


def _next_points(decay, level):
    """Points for the next try of a mode whose coefficients ``decay`` are not yet below
    ``level``.

    Samples are not reused between tries, so the grid need not be nested: where the envelope
    of the coefficients already decays geometrically, extrapolate it to ``level`` and ask for
    25 % more than that (at least ``m + m/4``); otherwise double (``2m - 1``) as Chebfun does.
    """
    m = decay.size
    envelope = np.maximum.accumulate(decay[::-1])[::-1]       # non-increasing upper envelope
    half = envelope[m // 2:]
    doubled = 2 * m - 1
    if half[-1] <= 0 or half[0] <= 0:
        return doubled
    slope = (math.log(half[-1]) - math.log(half[0])) / max(half.size - 1, 1)
    if slope >= -1e-3 or envelope[0] <= 0:
        return doubled
    needed = m - 1 + (math.log(level) - math.log(half[-1])) / slope
    return int(min(doubled, max(m + m // 4, math.ceil(1.25 * needed) + 2)))


# ---------------------------------------------------------------------- sampling helpers
def _open_grid(axes):
    """Axes reshaped to broadcast as an ``'ij'`` tensor grid."""
    d = len(axes)
    return [x.reshape((1,) * k + (-1,) + (1,) * (d - k - 1)) for k, x in enumerate(axes)]


def _call(f, args, shape, xp, where):
    """``f(*args)`` as a float64 array of ``shape``, with clear errors."""
    try:
        out = f(*args)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"f failed on arrays of points ({exc}); f must be vectorized: "
                        f"elementwise on broadcastable arrays. Pass vectorized=False for a "
                        f"scalar function") from exc
    out = xp.asarray(out)
    if out.dtype.kind == "c":
        raise TypeError(f"f must return real values, got dtype {out.dtype}")
    if out.dtype.kind not in "biuf":
        raise TypeError(f"f must return real numbers, got dtype {out.dtype}")
    try:
        out = xp.broadcast_to(out, shape)
    except ValueError:
        raise ValueError(f"f returned shape {tuple(out.shape)} for {where} of shape {shape}; f "
                         f"must be vectorized (elementwise on broadcastable arrays)") from None
    return out.astype(xp.float64)


def _check_vectorized(f, dom, xp):
    """Compare ``f`` on a batch of points with ``f`` on each point alone (catches functions
    that reduce over their inputs, e.g. ``np.sum(x)``, instead of acting elementwise)."""
    fractions = np.array([0.2113248654, 0.5772156649, 0.8346268417])
    P = [xp.asarray(from_unit(2 * np.roll(fractions, k) - 1, *dom[k])) for k in range(len(dom))]
    batch = to_host(_call(f, P, (3,), xp, "a batch of 3 points"))
    single = np.array([float(to_host(_call(f, [p[i:i + 1] for p in P], (1,), xp,
                                           "a single point"))[0]) for i in range(3)])
    scale = max(np.max(np.abs(single)), 1e-300)
    if not np.allclose(batch, single, rtol=1e-10, atol=1e-13 * scale, equal_nan=True):
        raise TypeError("f is not vectorized: its values on a batch of points differ from its "
                        "values on each point alone; pass vectorized=False for a scalar function")


def _sample(f, dom, points, xp):
    """``f`` on the 2nd-kind Chebyshev tensor grid with ``points[k]`` points per mode,
    called on chunks along axis 0 (memory cap); non-finite values are reported by location."""
    axes = [xp.asarray(from_unit(cheb_points(m), *dom[k])) for k, m in enumerate(points)]
    shape = tuple(points)
    values = xp.empty(shape)
    per_slab = max(1, math.prod(shape[1:]))
    step = max(1, _SAMPLE_CHUNK // per_slab)
    for i0 in range(0, shape[0], step):
        chunk = [axes[0][i0:i0 + step]] + axes[1:]
        block_shape = (len(chunk[0]),) + shape[1:]
        values[i0:i0 + step] = _call(f, _open_grid(chunk), block_shape, xp,
                                     "a tensor grid block")
    finite = xp.isfinite(values)
    if not bool(finite.all()):
        idx = np.unravel_index(int(xp.argmin(finite.ravel())), shape)
        point = tuple(float(axes[k][i]) for k, i in enumerate(idx))
        raise ValueError(f"f returned a non-finite value ({float(values[idx])}) at the point "
                         f"{point}; f must be finite on the whole domain")
    return values
