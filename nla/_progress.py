"""Progress reporting for long fits (tqdm), shared by every iterative driver."""

from tqdm.auto import tqdm


def progress(iterable=None, *, total=None, verbose=False, desc=None):
    """``iterable`` wrapped in a tqdm bar when ``verbose``, else returned as is.

    Examples
    --------
    >>> sum(progress(range(3)))
    3
    """
    if not verbose:
        return iterable if iterable is not None else range(total)
    return tqdm(iterable if iterable is not None else range(total), total=total, desc=desc,
                leave=False)
