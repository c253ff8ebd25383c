"""Ahead-of-use compilation: ``python -m nla compile [area ...]`` and the Numba cache location.

Numba compiles a kernel on its first call and caches the machine code (``cache=True``) next to
the source, in ``__pycache__``. Two things go wrong for a newcomer: the first call of each
capability pays seconds of compilation, and a read-only install (system site-packages, a
container image) has no writable ``__pycache__``. Numba then tries a user-wide directory, and
when that is not writable either (no home directory, a read-only one) it refuses to decorate a
cached function at all, so ``import`` fails. :func:`configure_cache` picks a writable directory
before any kernel is decorated; :func:`compile_areas` runs every area's kernels once on tiny
inputs of each dtype and layout the drivers pass them, so later calls load from the cache.

One registry (:data:`WARMUPS`) lists, per area, calls that reach every kernel of that area; the
drivers normalize dtype, layout and index width before calling kernels, so these few calls
cover the specializations a user meets.
"""

import os
import sys
import tempfile

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _writable(path):
    """Whether ``path`` (created if missing) accepts a new file, tried rather than assumed
    (``os.access`` says yes to root on a read-only mount)."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        return True
    except OSError:
        return False


def user_cache_dir():
    """``$XDG_CACHE_HOME/nla/numba`` (``~/.cache/nla/numba`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "nla", "numba")


def configure_cache():
    """Point Numba's cache at a writable directory when nla's own is not; return the choice.

    A ``NUMBA_CACHE_DIR`` set by the user is kept. Otherwise, when the package's
    ``__pycache__`` is writable, Numba's default (in-tree) is kept and ``None`` returned;
    when it is not, the first writable of :func:`user_cache_dir` and a per-user temporary
    directory is set, before any nla kernel is decorated (Numba picks the location at
    decoration time).

    Examples
    --------
    >>> configure_cache() is None or os.path.isdir(configure_cache())
    True
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    if _writable(os.path.join(_PACKAGE, "__pycache__")):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    for path in (user_cache_dir(), os.path.join(tempfile.gettempdir(), f"nla-numba-{uid}")):
        if _writable(path):
            os.environ["NUMBA_CACHE_DIR"] = path
            numba = sys.modules.get("numba")
            if numba is not None:  # already imported (by the user): set its live config too
                numba.config.CACHE_DIR = path
            return path
    return None  # nowhere writable: Numba compiles without caching (its own fallback)


# -- what to run per area -------------------------------------------------------------------

def _rng():
    import numpy as np

    return np.random.default_rng(0)


def _graph(n=60):
    import scipy.sparse as sp

    S = sp.random(n, n, density=0.1, random_state=0, format="csr")
    return (S + S.T + sp.eye(n)).tocsr()


def _random_projection():
    import numpy as np
    import scipy.sparse as sp

    from .random_projection import SparseRandomProjection, fastrp

    X = _rng().standard_normal((40, 80))
    for dtype in (np.float64, np.float32):
        SparseRandomProjection(8, random_state=0).fit_transform(X.astype(dtype))
        SparseRandomProjection(8, random_state=0).fit_transform(sp.csr_matrix(X.astype(dtype)))
        fastrp(_graph().astype(dtype), dim=8, random_state=0)


def _sketching():
    import numpy as np

    from .sketching import lstsq, sketch

    rng = _rng()
    for dtype in (np.float64, np.float32):
        A = rng.standard_normal((600, 6)).astype(dtype)
        b = rng.standard_normal(600).astype(dtype)
        for method in ("auto", "sketch", "precondition"):
            lstsq(A, b, method=method, random_state=0)
        for kind in ("gaussian", "srht", "countsketch", "sparse_sign", "hgp"):
            sketch(kind, 40, A.shape[0], random_state=0, dtype=dtype) @ A


def _sampling():
    import numpy as np

    from .sampling import leverage_scores, lewis_weights, lp_regression, sensitivity_sample

    rng = _rng()
    for dtype in (np.float64, np.float32):
        A = rng.standard_normal((300, 4)).astype(dtype)
        b = rng.standard_normal(300).astype(dtype)
        leverage_scores(A)
        leverage_scores(A, method="sketch", random_state=0)
        lewis_weights(A, 1.0)
        sensitivity_sample(A, 1.0, 60, random_state=0)
        lp_regression(A, b, 1.0, sample=80, random_state=0)


def _completion():
    import warnings

    import numpy as np

    from .completion import AltMinCompleter

    rng = _rng()
    m, n, k = 30, 25, 2
    X = rng.standard_normal((m, k)) @ rng.standard_normal((k, n))
    lin = rng.choice(m * n, m * n // 2, replace=False)
    r, c = lin // n, lin % n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two sweeps do not converge, by design
        for solver in ("cg", "cholesky", "sketch"):
            for dtype in (np.float64, np.float32):
                est = AltMinCompleter(k, solver=solver, max_iter=2, random_state=0)
                est.fit((r, c, X[r, c].astype(dtype)), shape=(m, n))
                est.predict(r[:5], c[:5])


def _recovery():
    import numpy as np

    from .recovery import EntrySampling, GaussianMeasurements, RankOneMeasurements, SubGMRecovery

    rng = _rng()
    d, r = 8, 2
    V = rng.standard_normal((d, r))
    ops = [GaussianMeasurements(60, (d, d), random_state=0),
           GaussianMeasurements(60, (d, d), stored=False, random_state=0),
           RankOneMeasurements(rng.standard_normal((60, d)))]
    rows, cols = np.divmod(np.arange(d * d), d)
    for op in ops:
        for loss in ("l1", "l2"):
            SubGMRecovery(r, loss=loss, max_iter=2, random_state=0).fit(op, op(V))
    M = V @ V.T
    SubGMRecovery(r, max_iter=2, symmetric=False, random_state=0).fit(
        EntrySampling(rows, cols, (d, d)), M.ravel())


def _chebtucker():
    import numpy as np

    from .chebtucker import ChebTucker, LongRangePotential

    ft = ChebTucker.fit(lambda x, y, z: np.exp(x + y * z), [[-1, 1]] * 3, tol=1e-6)
    ft(np.zeros((2, 3)))
    ft(np.zeros((2, 3), dtype=np.float32))
    x = np.linspace(-1, 1, 3)
    ft.on_grid(x, x, x, form="tucker")
    LongRangePotential([[0.0, 0.0, 0.0]], [1.0], a=1.0)(x, x, x)


def _funbat():
    import numpy as np

    from .funbat import FunBaT

    rng = _rng()
    X, y = rng.uniform(size=(40, 3)), rng.standard_normal(40)
    for cp in (False, True):
        FunBaT(rank=2, n_epochs=2, warmup_epochs=1, cp=cp, random_state=0).fit(X, y).predict(X[:3])


def _ssm():
    import numpy as np

    from .ssm import hippo, hippo_diagonal, pseudospectrum, ptd, transfer_function

    h = hippo(8)
    ptd(h.A, gamma=0.2, random_state=0)
    d = hippo_diagonal(8)
    s = 1j * np.linspace(0.1, 10, 20)
    transfer_function(d.eigenvalues, d.B, d.V[0], s)                      # one input, output
    transfer_function(d.eigenvalues, np.c_[d.B, d.B], d.V[:2], s)         # several
    transfer_function(h.A, h.B, np.ones(8), s)                            # dense A (Schur)
    pseudospectrum(hippo(8).A, np.array([0.5 + 0.5j, -1.0 + 2.0j]))


#: Area -> a function that calls every kernel of the area on tiny inputs.
WARMUPS = {"random_projection": _random_projection, "sketching": _sketching,
           "sampling": _sampling, "completion": _completion, "recovery": _recovery,
           "chebtucker": _chebtucker, "funbat": _funbat, "ssm": _ssm}


def compile_areas(areas=None, verbose=True):
    """Compile (and cache) every kernel of ``areas`` (default: all); return seconds per area.

    Examples
    --------
    >>> seconds = compile_areas(["chebtucker"], verbose=False)
    >>> sorted(seconds)
    ['chebtucker']
    """
    import time

    from ._progress import progress

    chosen = list(WARMUPS) if not areas else list(areas)
    unknown = sorted(set(chosen) - set(WARMUPS))
    if unknown:
        raise ValueError(f"areas: unknown {', '.join(unknown)}; choose from "
                         f"{', '.join(WARMUPS)}")
    seconds = {}
    bar = progress(chosen, verbose=verbose, desc="compiling")
    for area in bar:
        if verbose:
            bar.set_postfix_str(area)
        start = time.perf_counter()
        WARMUPS[area]()
        seconds[area] = time.perf_counter() - start
    return seconds
