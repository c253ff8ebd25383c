"""Row sampling by l_p importance scores (sensitivities, Lewis weights, leverage, ...).

Weights live in the p-th-power domain: a kept row ``i`` carries ``omega_i`` with
``E sum_{i kept} omega_i |a_i x|^p = ||A x||_p^p`` for every ``x``; the rescaled rows of the
sample matrix ``S A`` are ``omega_i^(1/p) a_i``.
"""


import numpy as np

from .._array import Origin, engine_of, to_engine, to_host
from .._dask import check_rows, is_dask
from .._random import stream_key
from .._result import Result
from .._validation import check_array, check_bool, check_choice, check_int, check_seed
from ._basis import check_p, engine_input, nonzero_rows
from ._leverage import exact_leverage
from ._lewis import lewis_core
from ._sensitivity import sensitivity_bounds

#: Stream of the sampling uniforms (area-private streams are >= 16).
STREAM_SAMPLE = 17

#: Lewis-weight accuracy for sampling: constant-factor weights are all sampling needs.
SAMPLING_TOL = 1e-2

SCHEMES = ("sensitivity", "lewis", "root_leverage", "leverage", "uniform", "combined")


class LpSample(Result):
    """Sampled rows and their weights (a :class:`nla.Result`).

    Fields: ``indices`` (sorted, distinct), ``weights`` (``omega``, p-th-power domain, for
    ``sample_weight``-style use), ``row_scale`` (``omega^(1/p)``, multiplies rows),
    ``probabilities`` (inclusion probability ``q_i``, or per-draw probability with
    replacement), ``p``, ``scheme``, ``replace``, ``expected_size``, ``n_rows`` (rows of the
    sampled matrix: the sample applies only to a matrix with that many rows).
    """

    def apply(self, A):
        """The rescaled sample matrix ``diag(row_scale) A[indices]``."""
        origin, ndim = Origin(A), getattr(A, "ndim", None)
        A = check_array(A, "A", ndim=ndim if ndim in (1, 2) else 2)
        if A.shape[0] != self.get("n_rows", A.shape[0]):
            raise ValueError(f"A has {A.shape[0]} rows but the sample was drawn from a matrix "
                             f"of {self.n_rows} rows")
        idx = self.indices
        return origin.restore(self.row_scale[:, None] * A[idx] if A.ndim == 2
                              else self.row_scale * A[idx])


def sensitivity_sample(A, p, m, *, scheme="lewis", replace=False, random_state=None):
    """Sample about ``m`` rows of ``A`` by ``l_p`` importance scores, with unbiased weights.

    Parameters
    ----------
    A : array-like, shape (n, d)
        Rows to sample (for regression pass ``[A b]``). Zero rows have score 0 and are never
        sampled.
    p : float
        ``1 <= p <= 100``.
    m : int
        Expected sample size, ``d <= m <= n``. If ``m`` reaches the number of rows with a
        positive score, every such row is kept with weight 1.
    scheme : str or array-like of shape (n,)
        Scores: ``'lewis'`` (Lewis weights), ``'sensitivity'`` (the sensitivity upper bounds
        of :func:`lp_sensitivities`; same as ``'lewis'`` up to the cap at 1),
        ``'root_leverage'`` (``tau^(p/2)``, ``p <= 2``), ``'leverage'`` (``tau``),
        ``'uniform'`` (all nonzero rows alike), ``'combined'`` (``s/sum(s) + tau/rank``: half
        sensitivity, half leverage, the mixture analysed for ``p > 2`` and recommended as
        ``l_2`` augmentation for ``p < 2``), or nonnegative scores of your own.
    replace : bool
        ``False`` (default): independent (Poisson) sampling, row ``i`` kept with probability
        ``q_i = min(1, alpha s_i)``, ``alpha`` chosen so that ``sum q = m``, weight ``1/q_i``;
        rows with ``q_i = 1`` are kept deterministically with weight 1. The realised size has
        mean ``m`` and variance at most ``m``. ``True``: exactly ``m`` i.i.d. draws with
        probabilities ``pi_i = s_i / sum s``; a row drawn ``k_i`` times gets weight
        ``k_i / (m pi_i)`` (duplicates merged).
    random_state : None, int, RandomState or Generator
        Seed (counter-based: identical samples on CPU and GPU).

    Returns
    -------
    LpSample
        ``indices``, ``weights``, ``row_scale``, ``probabilities``, ``p``, ``scheme``,
        ``replace``, ``expected_size``; arrays in the caller's framework.

    Notes
    -----
    A row-chunked dask ``A`` (NumPy or CuPy chunks; ``scheme`` scores may be a dask or NumPy
    vector) is sampled at the call and the sample is concrete arrays (NumPy; CuPy for CuPy
    chunks, as for a CuPy ``A``): the scores are computed
    by the passes of their scheme (see :func:`lewis_weights`, :func:`leverage_scores`) and
    persisted on the cluster, then the sampler makes a few passes over them (Bernoulli: the
    ``m`` largest scores and the sum of the others, then the kept rows chunk by chunk, with
    the uniforms keyed by the global row index; ``replace=True``: chunk totals, then the draws
    counted chunk by chunk). For the same seed the sample equals the in-core one for any
    chunking, unless a uniform falls within the last-bit rounding difference of the sums
    (measure zero in practice). NaN/inf in a chunk raise ``ValueError`` naming ``A`` (or
    ``scheme``).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.random.default_rng(0).standard_normal((5000, 4))
    >>> s = sensitivity_sample(A, 1.0, 400, random_state=0)
    >>> 300 < len(s.indices) < 500, s.expected_size
    (True, 400)
    """
    origin = Origin(A)
    A, K, xp = engine_input(A)
    p = check_p(p)
    n, d = A.shape
    m = check_int(m, "m", low=d, high=n)
    seed = check_seed(random_state)
    replace = check_bool(replace, "replace")
    on_dask = is_dask(A)
    if isinstance(scheme, str):
        scheme = check_choice(scheme, "scheme", set(SCHEMES))
        scores = importance_scores(A, p, scheme, K, xp)
    else:
        scores = _custom_scores(A, scheme, xp)
        scheme = "custom"
    key = stream_key(seed, STREAM_SAMPLE)
    if on_dask:  # the scores stay on the cluster; only the sample comes back
        from . import _sample_dask

        sampler = _sample_dask.iid if replace else _sample_dask.bernoulli
        # host arrays, on the device for CuPy chunks as the in-core CuPy sample is
        idx, weights, prob = (to_engine(v, engine_of(A)) for v in
                              sampler(scores.persist(), m, key))
    elif replace:
        idx, weights, prob = _sample_iid(scores, m, key, K, xp)
    else:
        idx, weights, prob = _sample_bernoulli(scores, m, key, K, xp)
    out = LpSample(indices=idx, weights=weights, row_scale=weights ** (1.0 / p),
                   probabilities=prob)
    for name in ("indices", "weights", "row_scale", "probabilities"):
        out[name] = origin.restore(out[name])
    out.update(p=p, scheme=scheme, replace=bool(replace), expected_size=m, n_rows=n)
    return out


def _custom_scores(A, scheme, xp):
    """The caller's scores, checked (length, sign, finite), 0 on the zero rows of ``A``."""
    n = A.shape[0]
    if is_dask(A):
        import dask.array as da

        from ._sample_dask import custom_scores

        scores = check_rows(scheme, "scheme", ndim=1) if is_dask(scheme) else \
            check_array(scheme, "scheme", ndim=1)
        if scores.shape[0] != n:
            raise ValueError(f"scheme scores must have {n} entries, got {scores.shape[0]}")
        if not is_dask(scores):
            scores = da.from_array(scores, chunks=(A.chunks[0],))
        scores = custom_scores(A, scores).persist()
        positive, any_row = da.compute((scores > 0).any(), (A != 0).any())
    else:
        scores = check_array(scheme, "scheme", ndim=1).astype(xp.float64, copy=False)
        if scores.shape[0] != n:
            raise ValueError(f"scheme scores must have {n} entries, got {scores.shape[0]}")
        if bool(xp.any(scores < 0)):
            raise ValueError("scheme scores must be nonnegative")
        scores = xp.where(nonzero_rows(A, xp), scores, 0.0)
        positive, any_row = bool(xp.any(scores > 0)), bool(xp.any(nonzero_rows(A, xp)))
    if not positive and any_row:
        raise ValueError("scheme scores are zero on every nonzero row of A: nothing to sample")
    return scores


def check_sample(sample, n, p, name="sample"):
    """``sample`` if it is an :class:`LpSample` drawn for ``p`` from a matrix of ``n`` rows."""
    if not isinstance(sample, LpSample):
        raise TypeError(f"{name} must be an LpSample from sensitivity_sample, got "
                        f"{type(sample).__name__}")
    if sample.get("n_rows", n) != n:
        raise ValueError(f"A has {n} rows but {name} was drawn from a matrix of "
                         f"{sample.n_rows} rows")
    if sample.p != p:
        raise ValueError(f"{name} was drawn for p = {sample.p}, not p = {p}")
    return sample


def importance_scores(A, p, scheme, K, xp):
    """Nonnegative scores of ``scheme`` (engine array, zero on zero rows)."""
    if scheme == "uniform":
        if is_dask(A):
            from ._sample_dask import uniform_scores

            return uniform_scores(A)
        return nonzero_rows(A, xp).astype(xp.float64)
    if scheme == "leverage":
        return exact_leverage(A, K, xp)[0]
    if scheme == "root_leverage":
        if p > 2:
            raise ValueError(f"scheme='root_leverage' is defined for p <= 2, got p = {p}")
        return exact_leverage(A, K, xp)[0] ** (0.5 * p)
    if scheme == "lewis":
        return lewis_core(A, p, K, xp, tol=SAMPLING_TOL, max_iter=1000,
                          eta=4.0 / (p + 2.0)).weights
    s = sensitivity_bounds(A, p, K, xp, "lewis", tol=SAMPLING_TOL)
    if scheme == "sensitivity":
        return s
    tau, rank = exact_leverage(A, K, xp)  # 'combined'
    total = float(xp.sum(s))
    return s / total + tau / max(rank, 1) if total > 0 else tau


def inclusion_probabilities(scores, m, xp):
    """``q = min(1, alpha s)`` with ``sum q = m`` (exact, by sorting), ``0 < m``."""
    positive = scores > 0
    n_pos = int(xp.sum(positive))
    if m >= n_pos:
        return positive.astype(xp.float64)
    desc = xp.sort(scores[positive])[::-1]
    alpha = inclusion_alpha(to_host(desc[:m]), float(xp.sum(desc[m:])), m)
    return xp.minimum(alpha * scores, 1.0)


def inclusion_alpha(top, rest, m):
    """``alpha`` with ``sum min(1, alpha s) = m`` from the ``m`` largest scores and the rest.

    ``top`` holds the ``m`` largest scores in descending order (host array), ``rest`` the sum
    of all the others; fewer than ``m`` rows are capped at 1, so nothing else matters.
    """
    # tails[k] = rest + sum(top[k:]), accumulated from the smallest as a cumsum would
    tails = np.cumsum(np.concatenate([[rest], top[::-1]]))[:0:-1]
    alphas = (m - np.arange(m)) / tails
    # Capping the k largest rows leaves alpha_k for the rest; the first k whose next row is
    # not capped is the answer (k = m - 1 always qualifies, so the search stays below m).
    ok = (alphas * top) <= 1.0
    return float(alphas[int(np.argmax(ok))])


def _sample_bernoulli(scores, m, key, K, xp):
    q = inclusion_probabilities(scores, m, xp)
    idx = xp.nonzero(K.bernoulli_mask(key, q))[0].astype(xp.int64)
    prob = q[idx]
    return idx, 1.0 / prob, prob


def _sample_iid(scores, m, key, K, xp):
    cdf = xp.cumsum(scores)
    if not float(cdf[-1]) > 0:  # nothing to sample (A is all zeros)
        empty = xp.zeros(0)
        return empty.astype(xp.int64), empty, empty
    last = int(to_host(xp.nonzero(scores > 0)[0][-1:])[0])
    draws = K.iid_indices(key, cdf, m, last)
    idx, counts = xp.unique(draws, return_counts=True)
    prob = scores[idx] / cdf[-1]
    return idx.astype(xp.int64), counts / (m * prob), prob
