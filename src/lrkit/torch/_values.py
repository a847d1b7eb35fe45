"""The one cache of :class:`lrkit.torch.Scheduler`: every distinct schedule's values at whole progress counts.

Up to 16 distinct schedules, blocks of 1,024 updates are evaluated with numpy at once and aligned to absolute
progress (block ``k`` covers ``[1024 k, 1024 (k+1))``), so a resumed run reads bitwise the same values as an
uninterrupted one and ``step()`` costs an index and a write. Beyond 16 (per-layer schedules), each value
is the schedule's compiled scalar form (:meth:`lrkit.Schedule.math_function`) at every update: the same
cost at every update, no periodic refill (bitwise the numpy values: the compiled form is).

A plateau that multiplies the whole schedule (``s * plateau(...)``) keeps its row: a reduction to scale
``m`` writes ``row * m``, bitwise what the resolved schedule ``s * (plateau * m)`` gives (a product of two
factors; or the plateau the last factor, as :class:`~lrkit.core.combinators.Product` multiplies left to
right), with no rebuild and no re-evaluation. Any other plateau is resolved by its
:class:`~lrkit.reactive.Controller` and its row re-evaluated.

>>> import lrkit as lk
>>> Values([lk.linear(4)], None).at(2)
[0.5]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lrkit.core.backend import MATH, NUMPY
from lrkit.core.combinators import Product
from lrkit.core.plateau import Plateau
from lrkit.core.schedule import Schedule
from lrkit.reactive.controller import Controller
from lrkit.reactive.horizon import Move

__all__ = ["BLOCK", "FEW", "Values", "scalable"]

_SHIFT = 10  # log2 of the block: a refill costs ~30-50 us (~0.2 us per update at 256), so 1,024 amortise it
FEW = 16  #: distinct schedules evaluated in numpy blocks; beyond, each by its compiled scalar form
BLOCK = 1 << _SHIFT  #: updates per block of values computed at once


def scalable(schedule: Schedule) -> bool:
    """Whether ``schedule`` is ``s * plateau(...)`` with its only plateau a factor its reduction can scale exactly."""
    if not isinstance(schedule, Product):
        return False
    factors = schedule.factors
    plateaus = [node for node in schedule.walk() if isinstance(node, Plateau)]
    return len(plateaus) == 1 and (factors[-1] is plateaus[0] or (len(factors) == 2 and plateaus[0] in factors))


class Values:
    """The values of every distinct schedule at progress ``t``: ``scale_j * schedule_j(move_j.local(t))``.

    ``t`` is divided by ``updates_per_epoch`` if given; ``move_j`` is a horizon change's
    :class:`lrkit.horizon.Move` (the one time map of :mod:`lrkit.reactive.horizon`; none by default),
    ``scale_j`` a scalable plateau's multiplier (1.0, else not applied). ``ends[j]`` is where schedule ``j``
    ends in progress (its move applied; ``inf`` for an infinite one or a bare plateau), ``end`` the first
    end in updates.
    """

    __slots__ = (
        "_functions", "base", "block", "end", "ends", "mask", "moves", "scales", "schedules", "shift", "table", "upe"
    )

    def __init__(self, schedules: list[Schedule], upe: float | None, moves: list[Move] | None = None) -> None:
        self.schedules = schedules  # the schedule of each row (a resolved one after a non-scalable reduction)
        self.upe = upe
        self.moves = moves
        # length 0 (a bare plateau multiplier) has no duration to run past: no end warning for it
        ends = [math.inf if not s.length else float(s.length) for s in schedules]
        if moves is not None:
            ends = [m.progress(e) for e, m in zip(ends, moves)]
        self.ends = ends
        end = min(ends, default=math.inf)
        self.end = end * upe if (upe is not None and math.isfinite(end)) else end
        self.scales: list[float | None] = [1.0 if scalable(s) else None for s in schedules]
        self.block = -1
        self.table: Any = None  # the block's values (None beyond FEW schedules: scalar forms)
        self.base: Any = None  # the block's values before scaling, for scalable rows
        self.shift = _SHIFT
        self.mask = (1 << self.shift) - 1
        self._functions: list[Callable[[float], float]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # pickle / deepcopy: the scalar forms are compiled functions (not picklable), built again when first needed
        state = {name: getattr(self, name) for name in self.__slots__}
        state["_functions"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    @property
    def blocks(self) -> bool:
        """Whether values come from numpy blocks (the fast path of ``step()`` reads them)."""
        return len(self.schedules) <= FEW

    def copy(self) -> Values:
        out = Values(list(self.schedules), self.upe, self.moves)
        out.scales = list(self.scales)
        return out

    def functions(self) -> list[Callable[[float], float]]:
        """Each schedule's scalar function, its plateau scale applied (clock and token progress, many schedules)."""
        functions = self._functions
        if functions is None:
            functions = []
            for s, m in zip(self.schedules, self.scales):
                f = s.math_function()
                functions.append(f if m is None or m == 1.0 else _scaled(f, m))
            self._functions = functions
        return functions

    def scalar(self, t: float) -> list[float]:
        """Every schedule's value at fractional progress ``t`` (horizon moves applied)."""
        if self.moves is None:
            values = [f(t) for f in self.functions()]
        else:
            values = [f(m.local(t, MATH)) for f, m in zip(self.functions(), self.moves)]
        return _finite(values, self.schedules, f"progress {t:g}")

    def at_clock(
        self, schedules: list[Schedule], progress: Callable[[Schedule, float, float], float], updates: float,
        seconds: float,
    ) -> tuple[list[float], float]:
        """Every schedule's value on a clock, ``progress(schedule, updates, seconds)`` for each of the (given)
        ``schedules`` (``math``, one pass), and the furthest progress past a schedule's end (``-inf`` if none)."""
        values: list[float] = []
        late = -math.inf
        for function, schedule, end in zip(self.functions(), schedules, self.ends):
            p = progress(schedule, updates, seconds)
            if p > end and p > late:
                late = p
            values.append(function(p))
        return _finite(values, self.schedules, f"{seconds:g} s"), late

    def fill(self, k: int) -> Any:
        t = np.arange(k << self.shift, (k + 1) << self.shift, dtype=np.float64)
        if self.upe is not None:
            t = t / self.upe
        table = self.table
        if table is None:  # one array for the life of the adapter, refilled in place (no peak of two blocks)
            table = self.table = np.empty((len(self.schedules), t.size), dtype=np.float64)
        for j, s in enumerate(self.schedules):
            table[j] = s(t if self.moves is None else self.moves[j].local(t, NUMPY))
        if any(m is not None for m in self.scales):
            self.base = table.copy()
            for j, m in enumerate(self.scales):
                if m is not None and m != 1.0:
                    np.multiply(self.base[j], m, out=table[j])
        if not np.isfinite(table).all():  # once per block: an overflowing product would reach the optimizer
            j, i = np.argwhere(~np.isfinite(table))[0]
            _finite([float(table[j, i])], [self.schedules[j]], f"update {(k << self.shift) + int(i)}")
        self.block = k
        return table

    def at(self, n: int) -> list[float]:
        """Every schedule's value at whole progress ``n``."""
        if not self.blocks:
            return self.scalar(n / self.upe if self.upe is not None else float(n))
        table = self.table if n >> self.shift == self.block else self.fill(n >> self.shift)
        return table[:, n & self.mask].tolist()  # type: ignore[no-any-return]

    def update(self, j: int, controller: Controller) -> None:
        """Row ``j``'s plateau changed: scale it in place (scalable) or re-evaluate the resolved schedule."""
        m = self.scales[j]
        if m is None:
            self.schedules[j] = controller.resolve()
            self.block = -1
            self._functions = None
            return
        m = controller.states[0].scale
        self.scales[j] = m
        self._functions = None
        if self.block >= 0 and self.base is not None:
            np.multiply(self.base[j], m, out=self.table[j])


def _finite(values: list[float], schedules: list[Schedule], where: str) -> list[float]:
    """``values``, refused (``ValueError``) where one is not finite: it would be written to the optimizer."""
    if math.isfinite(sum(values)):  # one C loop for the common case (a sum of finite values can overflow: then look)
        return values
    for value, schedule in zip(values, schedules):
        if not math.isfinite(value):
            raise ValueError(
                f"Scheduler: schedule {schedule!r} gives {value} at {where}; a learning rate must be finite (a "
                "product or scale of the schedule overflows float64: lower its values)"
            )
    return values


def _scaled(f: Callable[[float], float], m: float) -> Callable[[float], float]:
    def scaled(t: float) -> float:
        return f(t) * m

    return scaled

