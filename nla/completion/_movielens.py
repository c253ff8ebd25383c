"""MovieLens 100K folds and the tuning recipe used by the tour, the asv suite and the tests.

The data are never shipped with nla (their license forbids redistribution): they are read
from a folder holding the official ``uK.base`` / ``uK.test`` files (tab separated
``user item rating timestamp``, 1-based ids) and ``u.info``.
"""

import os
import warnings

import numpy as np

from ._altmin import AltMinCompleter


def default_dir():
    """Where MovieLens 100K is looked for: ``$NLA_DATA/ml-100k`` when ``NLA_DATA`` is set, else
    the checkout's ``../shared/data/ml-100k`` seen from the working directory (the repository
    root, where the tour, tests and asv run), else the same beside the source tree (an
    editable install run from elsewhere)."""
    if os.environ.get("NLA_DATA"):
        return os.path.join(os.environ["NLA_DATA"], "ml-100k")
    here = os.path.join(os.path.dirname(__file__), "..", "..")
    roots = [os.path.abspath(os.path.join(base, "..", "shared", "data", "ml-100k"))
             for base in (os.getcwd(), here)]
    return next((root for root in roots if os.path.isdir(root)), roots[0])


#: The recipe: rank and reg searched on a validation part of the training fold.
RANKS, REGS = (5, 10, 20), (0.07, 0.1, 0.13, 0.16, 0.2)
#: Star ratings: predictions are clipped to this range.
STARS = (1.0, 5.0)


def available(root=None, fold=2):
    """Whether ``root`` (default :func:`default_dir`) holds fold ``fold`` (``u{fold}.base`` and
    ``u{fold}.test``)."""
    root = default_dir() if root is None else root
    return all(os.path.isfile(os.path.join(root, f"u{fold}.{part}"))
               for part in ("base", "test"))


def shape_of(root=None):
    """``(users, items)`` from ``u.info`` (943 x 1682 for MovieLens 100K)."""
    root = default_dir() if root is None else root
    counts = {}
    with open(os.path.join(root, "u.info")) as f:
        for line in f:
            value, name = line.split()
            counts[name] = int(value)
    return counts["users"], counts["items"]


def load_fold(fold, root=None):
    """``(train, test)`` of fold ``fold`` as ``((rows, cols, vals), shape)`` pairs, 0-based."""
    root = default_dir() if root is None else root
    shape = shape_of(root)
    out = []
    for part in ("base", "test"):
        a = np.loadtxt(os.path.join(root, f"u{fold}.{part}"), dtype=np.int64, usecols=(0, 1, 2))
        out.append(((a[:, 0] - 1, a[:, 1] - 1, a[:, 2].astype(np.float64)), shape))
    return tuple(out)


def tuned_fit(train, ranks=RANKS, regs=REGS, *, fraction=0.1, max_iter=25, patience=5,
              plateau=5e-4, solver="cholesky", random_state=0):
    """Choose ``rank``, ``reg`` and the number of sweeps on a validation part of ``train``,
    then refit on all of ``train`` with them.

    Every ``(rank, reg)`` is fitted with ``biases=True``, ``value_range=(1, 5)`` and early
    stopping on a hash-selected ``fraction`` of the training observations; the pair with the
    lowest validation RMSE wins, with the fewest sweeps whose validation RMSE is within a
    factor ``1 + plateau`` of its best.

    Returns
    -------
    est : AltMinCompleter
        The final fit on all of ``train``.
    table : list of (val_rmse, rank, reg, sweeps)
        The search, best first.
    """
    table = []
    for rank in ranks:
        for reg in regs:
            est = AltMinCompleter(rank, biases=True, reg=reg, solver=solver,
                                  value_range=STARS, validation_fraction=fraction,
                                  n_iter_no_change=patience, max_iter=max_iter, tol=0,
                                  random_state=random_state)
            fit(est, train)
            val = np.array(est.history_["val_rmse"])
            # the fewest sweeps within `plateau` of the best: later sweeps gain less than the
            # validation noise (~0.007 RMSE for 8,000 held-out ratings) and cost time
            sweeps = int(np.argmax(val <= (1 + plateau) * val.min())) + 1
            table.append((float(val.min()), rank, reg, sweeps))
    table.sort()
    final = final_estimator(*table[0][1:], solver=solver, random_state=random_state)
    return fit(final, train), table


def fit(est, train):
    """``est.fit`` on ``((rows, cols, vals), shape)``, quiet about items without ratings
    (some of the 1682 items have none in a training fold; their offsets and factors are 0)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "0 rows and .* columns of X have no observation")
        return est.fit(train[0], shape=train[1])


def final_estimator(rank, reg, sweeps, *, solver="cholesky", random_state=0):
    """The final fit's estimator for a tuned ``(rank, reg, sweeps)`` (not fitted)."""
    return AltMinCompleter(rank, biases=True, reg=reg, solver=solver, value_range=STARS,
                           max_iter=sweeps, tol=0, random_state=random_state)


def surprise_trainset(train):
    """scikit-surprise's training set of ``((rows, cols, vals), shape)`` (ImportError without
    scikit-surprise)."""
    import pandas as pd
    import surprise

    (rows, cols, vals), _ = train
    frame = pd.DataFrame({"user": rows, "item": cols, "rating": vals})
    data = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=STARS))
    return data.build_full_trainset()


def surprise_algo(name):
    """The peer, unfitted: surprise's ``name`` ('SVD' or 'SVDpp'), defaults, random_state=0."""
    import surprise

    return getattr(surprise, name)(random_state=0)


def surprise_rmse(algo, test):
    """Test RMSE of a fitted surprise algorithm on ``((rows, cols, vals), shape)``."""
    (rows, cols, vals), _ = test
    pred = np.array([algo.predict(u, i).est for u, i in zip(rows.tolist(), cols.tolist())])
    return float(np.sqrt(np.mean((pred - vals) ** 2)))
