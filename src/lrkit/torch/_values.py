"""The one cache of :class:`lrkit.torch.Scheduler`: every distinct schedule's values at whole progress counts.

Blocks of ``W`` updates (256 for up to 16 distinct schedules, 32 beyond, for memory) are evaluated with
numpy at once and aligned to absolute progress, so a resumed run reads bitwise the same values as an
uninterrupted one. ``step()`` then costs an index and a write.

>>> import lrkit as lk
>>> Values([lk.linear(4)], None).at(2)
[0.5]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrkit.core.schedule import Schedule

__all__ = ["BLOCK", "Values", "moved"]

_WIDE = 8  # log2 of the block for up to _FEW schedules: a refill costs ~20 us, so 256 updates amortise it
_SHIFT = 5  # log2 of the block for more schedules (memory: 32 floats each)
_FEW = 16
BLOCK = 1 << _WIDE  #: updates per block of values computed at once (up to 16 distinct schedules; 32 beyond)


class Values:
    """The values of every distinct schedule at whole progress counts: the one cache of the adapter.

    One numpy array of shape ``(schedules, W)`` holds block ``k`` (progress ``[W k, W (k+1))``; ``W`` is
    256 for up to 16 schedules, else 32), each row ``schedule(np.arange(W k, W (k+1)))`` (divided by
    ``updates_per_epoch`` if given).
    Blocks are aligned to absolute progress, so a resumed run reads bitwise the same values.
    """

    __slots__ = ("_functions", "block", "mask", "positions", "schedules", "shift", "table", "upe")

    def __init__(
        self, schedules: list[Schedule], upe: float | None, positions: list[tuple[float, float]] | None = None
    ):
        self.schedules = schedules  # the pure (resolved) schedule of each index; replaced on a reduction
        self.upe = upe
        self.positions = positions  # per schedule (anchor, position) after a horizon change, else None
        self.block = -1
        self.table: Any = None
        # 256 updates per block for a few schedules (a refill amortised to ~0.1 us), 32 for many (memory);
        # fixed by the number of schedules, so a resumed run fills the very same blocks
        self.shift = _WIDE if len(schedules) <= _FEW else _SHIFT
        self.mask = (1 << self.shift) - 1
        self._functions: list[Any] | None = None

    def functions(self) -> list[Any]:
        """Each schedule's scalar function (:meth:`lrkit.Schedule.math_function`): the clock and token paths."""
        functions = self._functions
        if functions is None:
            functions = self._functions = [s.math_function() for s in self.schedules]
        return functions

    def fill(self, k: int) -> Any:
        t = np.arange(k << self.shift, (k + 1) << self.shift, dtype=np.float64)
        if self.upe is not None:
            t = t / self.upe
        table = self.table
        if table is None:  # one array for the life of the adapter, refilled in place (no peak of two blocks)
            table = self.table = np.empty((len(self.schedules), t.size), dtype=np.float64)
        if self.positions is None:
            for j, s in enumerate(self.schedules):
                table[j] = s(t)
        else:  # after a horizon change: schedule j runs at (t - anchor) + position (lrkit.reactive.horizon)
            for j, (s, at) in enumerate(zip(self.schedules, self.positions)):
                table[j] = s(moved(t, at))
        self.block = k
        return table

    def at(self, n: int) -> list[float]:
        """Every schedule's value at progress ``n`` (refilling the block if needed)."""
        table = self.table if n >> self.shift == self.block else self.fill(n >> self.shift)
        return table[:, n & self.mask].tolist()  # type: ignore[no-any-return]

    def replace(self, j: int, schedule: Schedule) -> None:
        self.schedules[j] = schedule
        self.block = -1
        self._functions = None


def moved(t: Any, at: tuple[float, float]) -> Any:
    """Progress ``t`` mapped onto a schedule moved by a horizon change: ``(t - anchor) + position``, >= 0."""
    anchor, position = at
    if anchor == 0 and position == 0:
        return t
    if isinstance(t, np.ndarray):
        return np.maximum((t - anchor) + position, 0.0)
    return max((t - anchor) + position, 0.0)
