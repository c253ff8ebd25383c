"""FastRP graph embeddings (Chen, Sultan, Tian, Chen & Skiena, CIKM 2019)."""

import numpy as np

from .._array import Origin, engine_of, kernels, namespaces
from .._dask import check_rows, is_dask
from .._validation import (check_array, check_bool, check_choice, check_dtype, check_int,
                           check_memory, check_scalar, check_seed, unit_scale)


def fastrp(adjacency, dim=128, weights=(0.0, 0.0, 1.0, 1.0), beta=0.0, *, s="auto",
           normalize=True, standardize=True, self_weight=0.0, direction="out",
           random_state=None, dtype=np.float32):
    r"""Fast random projection embedding of a graph's nodes.

    With ``A = D^{-1} S`` the transition matrix of the (weighted) adjacency ``S``, ``L`` the
    diagonal of ``(deg / sum(deg))^beta`` and ``R`` a very sparse random sign matrix
    (``n x dim``), the embedding is

    .. math:: \alpha_0 \, \nu(L R) + \sum_{i=1}^{q} \alpha_i \, \nu(A^i L R)

    where ``nu`` normalizes each row to unit length (the identity if ``normalize=False``,
    which gives exactly ``M R`` with ``M = sum alpha_i A^i L``). ``M`` is never formed: each
    power costs one sparse-times-dense product, fused with the normalize-and-add.

    Parameters
    ----------
    adjacency : sparse matrix or array of shape (n, n)
        Nonnegative edge weights; ``adjacency[i, j]`` is the edge from ``i`` to ``j``.
        SciPy sparse (any format), dense arrays, CuPy/cupyx on the GPU, or a dask array
        chunked by rows (CSR chunks, or dense, SciPy or CuPy ones).
    dim : int
        Embedding dimension.
    weights : sequence of float
        ``alpha_1, ..., alpha_q``, the weight of each power. Powers with weight 0 are still
        propagated (later powers need them) but not added.
    beta : float
        Degree normalization strength (the paper tunes it in ``[-1, 0]``).
    s : float or 'auto'
        Sparsity of ``R``: entries are nonzero with probability ``1/s``. ``'auto'`` is the
        paper's ``sqrt(n)`` when the first two powers and ``self_weight`` carry no weight
        (their rows are then averaged over many random vectors), else 3 (Achlioptas), which
        keeps low powers accurate.
    normalize : bool
        Row-normalize each power before it is added (the paper; the propagated copy itself
        stays unnormalized).
    standardize : bool
        Finally z-score each column (the reference code always does; columns with zero
        spread are left at 0).
    self_weight : float
        ``alpha_0``, the weight of each node's own random vector (gives isolated nodes a
        nonzero embedding).
    direction : {'out', 'in', 'symmetrize'}
        For directed graphs: walk along out-edges (``S`` as given), along in-edges (``S^T``),
        or on ``S + S^T``. All three agree on symmetric graphs.
    random_state : None, int, RandomState or Generator
        Seed of ``R``; row ``j`` of ``R`` depends only on ``(seed, j)``.
    dtype : {numpy.float32, numpy.float64}
        Precision of the embedding (the degree scaling is computed in float64 first).

    Returns
    -------
    array of shape (n, dim)
        In the caller's framework and on its device; for a dask ``adjacency`` a lazy dask
        array with its row chunks.

    Notes
    -----
    * Isolated nodes (and sinks for ``direction='out'``) have degree 0: their rows of ``A``
      and ``L`` are zero, so they embed to 0 unless ``self_weight`` is nonzero, and zero rows
      are never divided by their norm.
    * Self loops are kept as stored: they add to the degree and to ``A[i, i]``.
    * Weighted graphs use the weighted degree, as in the paper (Neo4j divides by the edge
      count instead).
    * On dask, the degrees are computed at the call (one pass over the chunks, which also
      checks them: NaN/inf or negative weights raise here, naming ``adjacency``); the
      embedding is lazy. Each power is one task per row chunk, ``A[rows] @ N`` with the
      whole previous ``n x dim`` power ``N`` (one graph key, sent once to each worker: it
      must fit a worker's memory, as must the whole ``adjacency`` for ``direction='in'`` or
      ``'symmetrize'``, which transpose it block by block). The result equals the in-core
      one up to the order of the column sums of ``standardize`` (bitwise without it).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from nla import fastrp
    >>> S = sp.random(200, 200, density=0.05, random_state=0, format="csr")
    >>> E = fastrp(S + S.T, dim=16, random_state=0)
    >>> E.shape, E.dtype
    ((200, 16), dtype('float32'))
    """
    origin = Origin(adjacency)
    dim = check_int(dim, "dim", low=1)
    weights = _check_weights(weights)
    beta = check_scalar(beta, "beta")
    self_weight = check_scalar(self_weight, "self_weight")
    if not any(weights) and self_weight == 0.0:
        raise ValueError("weights are all zero and self_weight is 0: the embedding would be 0")
    direction = check_choice(direction, "direction", {"out", "in", "symmetrize"})
    dtype = check_dtype(dtype)
    normalize = check_bool(normalize, "normalize")
    standardize = check_bool(standardize, "standardize")
    if standardize:   # the z-score removes the weights' common scale: divide it out (exactly)
        unit = unit_scale(max(max(abs(w) for w in weights), abs(self_weight)))
        weights, self_weight = tuple(w / unit for w in weights), self_weight / unit
    on_dask = is_dask(adjacency)
    S = (check_rows if on_dask else check_array)(adjacency, "adjacency", sparse=True,
                                                 dtype=(np.float64,))
    n = S.shape[0]
    if S.shape[0] != S.shape[1]:
        raise ValueError(f"adjacency must be square, got shape {S.shape}")
    check_memory(3 * n * dim, "dim", itemsize=dtype.itemsize)  # R, the power and the sum
    engine = engine_of(S)
    xp, sparse = namespaces(engine)
    if isinstance(s, str) and s == "auto":
        low_powers_unused = not any(weights[:2]) and self_weight == 0
        s = np.sqrt(n) if low_powers_unused else 3.0
    else:
        s = check_scalar(s, "s", low=1.0)
    seed = check_seed(random_state)
    K = kernels("random_projection", engine)
    overflow = (f"fastrp: the embedding overflows {dtype.name} (weights {tuple(weights)}, "
                f"self_weight {self_weight:g}, beta {beta:g}); use smaller weights/self_weight "
                f"or |beta|, normalize=True, standardize=True or dtype=float64")
    if on_dask:
        from ._fastrp_dask import Propagation

        run = Propagation(S, direction, engine)
        inv_deg, ell = degree_scaling(run.degrees(), beta, normalize, dtype, xp)
        return run.embedding(inv_deg, ell, seed, dim, 1.0 / s, weights, self_weight,
                             normalize, standardize, dtype, overflow)

    S = oriented(checked_adjacency(S, sparse), direction)
    inv_deg, ell = degree_scaling(xp.asarray(S.sum(axis=1)).ravel(), beta, normalize, dtype,
                                  xp)
    A = K.scale_rows(S, inv_deg, dtype)
    LR = seeded_rows(K, seed, n, dim, 1.0 / s, ell, dtype)

    acc = xp.zeros((n, dim), dtype=dtype)
    if self_weight:
        add_normalized_rows(acc, LR.toarray(), self_weight, normalize)
    N = K.project_sparse(A, LR, True)
    if weights[0]:
        add_normalized_rows(acc, N, weights[0], normalize)
    spare = xp.empty_like(N)
    for w in weights[1:]:  # ping-pong between two buffers: A @ N never allocates
        N, spare = K.propagate(A, N, spare, acc, w, normalize), N
    del N, spare
    if not bool(xp.isfinite(acc).all()):
        raise FloatingPointError(overflow)
    if standardize:
        K.standardize(acc)
    return origin.restore(acc)


def checked_adjacency(S, sparse):
    """Checked ``S`` (all of it, or one row chunk) as CSR; negative weights raise."""
    S = sparse.csr_matrix(S)
    if bool((S.data < 0).any()):
        raise ValueError("adjacency has negative weights; FastRP averages over neighbours and "
                         "needs nonnegative weights")
    return S


def oriented(S, direction):
    """The matrix that FastRP walks on: ``S``, ``S^T`` or ``S + S^T`` (canonical CSR)."""
    if direction == "in":
        return S.T.tocsr()
    if direction == "symmetrize":
        return (S + S.T).tocsr()
    return S


def degree_scaling(deg, beta, normalize, dtype, xp):
    """``(1 / deg, (deg / sum(deg))^beta)``, both 0 where ``deg`` is 0."""
    positive = deg > 0
    inv_deg = xp.where(positive, 1.0 / xp.where(positive, deg, 1.0), 0.0)
    with np.errstate(over="ignore", under="ignore"):
        ell = xp.where(positive, (xp.where(positive, deg, 1.0) / deg.sum()) ** beta, 0.0)
        if normalize and beta != 0 and not _fits(ell, dtype, xp):
            # Row normalization cancels the common scale of L: (deg / deg.sum())^beta for a
            # large |beta| is taken relative to its largest entry, in logs, so it stays finite.
            log_ell = beta * xp.log(xp.where(positive, deg, 1.0) / deg.sum())
            top = float(xp.where(positive, log_ell, -np.inf).max())
            ell = xp.where(positive, xp.exp(log_ell - top), 0.0)
    return inv_deg, ell


def seeded_rows(K, seed, n, dim, density, ell, dtype):
    """``L R``: the seeded sparse sign matrix ``R`` (n x dim), rows scaled by ``ell``."""
    # Row j of R has Binomial(dim, density) entries +-1; the 1/sqrt scaling is irrelevant
    # under normalization and kept out so that normalize=False gives exactly M R.
    return K.scale_rows(K.generate(seed, n, dim, density, 1.0, dtype), ell, dtype)


def _fits(values, dtype, xp):
    # True when the nonzero values are finite and stay normal numbers in dtype.
    info = np.finfo(dtype)
    big = float(xp.abs(values).max()) if values.size else 0.0
    nonzero = values[values != 0]
    small = float(xp.abs(nonzero).min()) if nonzero.size else 1.0
    return big <= info.max and small >= info.tiny


def _check_weights(weights):
    try:
        values = list(weights)
    except TypeError:
        raise TypeError(f"weights must be a sequence of numbers, got {weights!r}") from None
    if not values:
        raise ValueError("weights must hold at least one power weight")
    return [check_scalar(w, "weights") for w in values]   # names weights for 'a', NaN, [1]


def add_normalized_rows(acc, N, weight, normalize):
    """``acc += weight * rownorm(N)`` in place for NumPy or CuPy arrays; zero rows stay zero.

    An overflow is not warned about here: the driver checks the finished embedding and raises.
    """
    if normalize:
        norms = ((N.astype("float64") ** 2).sum(axis=1)) ** 0.5
        scale = weight / (norms + (norms == 0)) * (norms > 0)
        with np.errstate(over="ignore", invalid="ignore"):
            acc += (scale[:, None] * N).astype(acc.dtype)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            acc += acc.dtype.type(weight) * N
