"""Low-rank matrix completion by robust alternating minimization in nearly linear time."""

from ._altmin import AltMinCompleter

__all__ = ["AltMinCompleter"]
