"""The range test's learning rates: a geometric (or linear) sweep, as an lrkit schedule."""

from __future__ import annotations

from lrkit.core import _validate as v
from lrkit.core.families import Anneal
from lrkit.core.schedule import Schedule


def sweep(iterations: int, start: float = 1e-7, end: float = 10.0, mode: str = "exp") -> Schedule:
    """The range test's learning rates as an lrkit schedule of the update index (absolute LRs).

    ``sweep(N, start, end)(i)`` is the LR of update ``i``; ``start`` at ``i = 0``, ``end`` at
    ``i = N - 1``. ``mode`` is ``'exp'`` (geometric) or ``'linear'``.

    >>> s = sweep(5, 1e-4, 1.0)
    >>> s([0, 1, 2, 3, 4]).round(10).tolist()
    [0.0001, 0.001, 0.01, 0.1, 1.0]
    >>> sweep(3, 0.1, 0.3, mode='linear')(1)
    0.2
    """
    who = "sweep"
    iterations = v.integer(who, "iterations", iterations, minimum=2)
    start = v.positive(who, "start", start, "the sweep starts at a small positive LR such as 1e-7")
    end = v.number(who, "end", end)
    if not end > start:
        raise ValueError(f"{who}: end must be > start, got start={start!r}, end={end!r}; a range test sweeps upwards")
    mode = v.choice(who, "mode", mode, ("exp", "linear"))
    return Anneal(iterations - 1, start, end, shape=mode)
