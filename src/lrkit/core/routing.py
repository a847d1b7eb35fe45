"""Routing: which child of a combinator runs at step ``t``, and at what local step.

Every combinator describes its children once, as :class:`Route` values: the child, the
span ``[lo, hi)`` of the parent's (clipped) step on which the child is in charge, and the
:class:`TimeMap` from the parent's step to the child's local step. Routes are the only
description of time: evaluation (every combinator's ``_eval`` reads its children through
:meth:`Route.value`), the reactive state (which plateau observes a metric at step ``t``:
:meth:`lrkit.reactive.Controller.active`) and the plots' phase marks
(:meth:`lrkit.Schedule.phase_starts`) all read them; nothing else derives a local step.

============  =========================================  ===============================
combinator    routes                                     local step
============  =========================================  ===============================
join          piece ``i`` on ``[S_i, S_{i+1})``          ``t - S_i`` (:class:`Offset`)
repeat        the schedule everywhere                    ``t - k L`` (:class:`Periodic`)
shift         the schedule everywhere                    ``max(t + by, 0)`` (:class:`Shift`)
stretch       the schedule everywhere                    ``t / by`` (:class:`Dilate`)
cyclic        the amplitude everywhere                   the cycle index (:class:`CycleIndex`)
product, ...  every factor everywhere                    ``t`` (:data:`IDENTITY`)
============  =========================================  ===============================

Phase marks are bounded: a node gives at most ``limit`` marks (:data:`PHASE_MARKS` by default),
the first ones, so ``sgdr(5).phase_starts(1e7)`` is 1,000 marks, not 2,000,000.

This module imports nothing of lrkit but the namespaces (:mod:`lrkit.core.backend`): a route's child is any value with
``_at(t, xp)``, ``length`` and ``phase_starts(until, limit)`` (a :class:`lrkit.Schedule`).

>>> import lrkit as lk
>>> from lrkit.core.backend import MATH
>>> s = lk.warmup(10) >> (lk.constant(1.0, 90) * lk.plateau())
>>> [(type(r.child).__name__, r.lo, r.hi) for r in s.routes()]
[('Warmup', 0, 10), ('Product', 10, inf)]
>>> s.routes()[1].map.forward(25.0, MATH)
15.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lrkit.core.backend import NUMPY

if TYPE_CHECKING:
    from lrkit.core.backend import Namespace

__all__ = ["IDENTITY", "PHASE_MARKS", "CycleIndex", "Dilate", "Offset", "Periodic", "Route", "Shift", "TimeMap"]

#: The most phase marks one node gives (the first ones): more would be denser than a plot's pixels.
PHASE_MARKS = 1000


class TimeMap:
    """A map from a parent's step to a child's local step (and back, for phase marks)."""

    #: Whether sorted steps map to sorted local steps (a restart does not: :class:`Periodic`).
    keeps_order = True

    def forward(self, t: Any, xp: Namespace) -> Any:
        """The child's local step at the parent's step ``t`` (any namespace)."""
        return t

    def span(self, lo: float, hi: float) -> float:
        """The local steps the child reaches while the parent runs ``[lo, hi)``."""
        return hi

    def inverse(self, marks: list[float], lo: float, hi: float, limit: int) -> list[float]:
        """Parent steps in ``[lo, hi)`` where the child's local ``marks`` fall (plus restarts), at most ``limit``."""
        return [m for m in marks if lo <= m < hi][:limit]


#: The parent's step, unchanged (products, scales, clamps, noise, take, recipes).
IDENTITY = TimeMap()


@dataclass(frozen=True)
class Offset(TimeMap):
    """``local = t - offset``: a piece of a join."""

    offset: float

    def forward(self, t: Any, xp: Namespace) -> Any:
        if not self.offset:  # the first piece: t - 0 is t, bit for bit (no pass over an array)
            return t
        if xp.traced:  # pieces that are not in charge are evaluated too: keep their step >= 0
            return xp.from_zero(t - self.offset)
        return t - self.offset

    def span(self, lo: float, hi: float) -> float:
        return hi - self.offset

    def inverse(self, marks: list[float], lo: float, hi: float, limit: int) -> list[float]:
        return [m + self.offset for m in marks if lo <= m + self.offset < hi][:limit]


@dataclass(frozen=True)
class Shift(TimeMap):
    """``local = max(t + by, 0)``: :func:`shift`."""

    by: float

    def forward(self, t: Any, xp: Namespace) -> Any:
        return xp.from_zero(t + self.by)

    def span(self, lo: float, hi: float) -> float:
        return max(hi + self.by, 0.0)

    def inverse(self, marks: list[float], lo: float, hi: float, limit: int) -> list[float]:
        return [m - self.by for m in marks if lo <= m - self.by < hi][:limit]


@dataclass(frozen=True)
class Dilate(TimeMap):
    """``local = t / by``: :func:`stretch` (a division, as its formula says: ``t * (1 / by)`` rounds differently)."""

    by: float

    def forward(self, t: Any, xp: Namespace) -> Any:
        return t / self.by

    def span(self, lo: float, hi: float) -> float:
        return hi / self.by

    def inverse(self, marks: list[float], lo: float, hi: float, limit: int) -> list[float]:
        return [m * self.by for m in marks if lo <= m * self.by < hi][:limit]


@dataclass(frozen=True)
class Periodic(TimeMap):
    """``local = t - k * period``, ``k = floor(t / period)`` (at most ``times - 1``): :func:`repeat`."""

    period: float
    times: int | None = None
    keeps_order = False  # a sawtooth: sorted steps restart

    def forward(self, t: Any, xp: Namespace) -> Any:
        k = xp.quotient(t, self.period)
        # where t / period rounds up to an integer (t near 2**53 / period), k * period passes t: one restart less,
        # so the local step is never negative (a no-op wherever k * period <= t, as the traced quotient ensures)
        k = xp.where(k * self.period > t, k - 1.0, k)
        if self.times is not None:
            k = xp.minimum(k, float(self.times - 1))
        # >= 0 also where t / period is so large that k * period rounds past t even with one restart less
        return xp.maximum(t - k * self.period, 0.0)

    def span(self, lo: float, hi: float) -> float:
        return min(hi, self.period)

    def inverse(self, marks: list[float], lo: float, hi: float, limit: int) -> list[float]:
        count = self.times if self.times is not None else (math.ceil(hi / self.period) if math.isfinite(hi) else None)
        inside = [m for m in marks if 0 < m < self.period]
        out: list[float] = []
        first = max(int(lo // self.period), 0) if math.isfinite(lo) else 0  # (repetitions before lo mark nothing)
        # forever up to inf: the first `limit` marks, as up to a huge step (each repetition after lo marks a restart)
        for k in range(first, first + limit + 2 if count is None else min(count, first + limit + 2)):
            base = k * self.period
            if base >= hi or len(out) >= limit:
                break
            if base > lo:
                out.append(base)  # a restart
            out.extend(base + m for m in inside if lo <= base + m < hi)
        return out[:limit]


@dataclass(frozen=True)
class CycleIndex(TimeMap):
    """``local = floor(t / period)``: :func:`cyclic`'s amplitude, evaluated at the cycle index."""

    period: float

    def forward(self, t: Any, xp: Namespace) -> Any:
        return xp.quotient(t, self.period)

    def span(self, lo: float, hi: float) -> float:
        return math.floor(hi / self.period) if math.isfinite(hi) else hi

    def inverse(self, marks: list[float], lo: float, hi: float, limit: int) -> list[float]:
        return []  # the amplitude's own phases are cycle numbers, not steps


@dataclass(frozen=True)
class Route:
    """``child`` runs on the parent's steps ``[lo, hi)`` at local step ``map.forward(t)``."""

    child: Any  # a lrkit.Schedule (not imported: routing sits below the values)
    lo: float = 0.0
    hi: float = math.inf
    map: TimeMap = IDENTITY

    def value(self, t: Any, xp: Namespace) -> Any:
        """The child's value at the parent's step ``t``."""
        if xp.sorted and not self.map.keeps_order:  # the local steps are no longer sorted
            return self.child._at(self.map.forward(t, xp), NUMPY)
        return self.child._at(self.map.forward(t, xp), xp)
