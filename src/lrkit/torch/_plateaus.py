"""The metrics of :class:`lrkit.torch.Scheduler`: each schedule holding a ``plateau(...)`` has a
:class:`~lrkit.reactive.Controller` that observes ``step(metric)``; a reduction updates that schedule's row
of values (:meth:`lrkit.torch._values.Values.update`).

The metric is reduced across ranks first (a collective: every rank calls it, in the same order).

>>> import lrkit as lk
>>> from lrkit.torch._values import Values
>>> p = Plateaus([lk.constant(1.0, 100) * lk.plateau(patience=0, factor=0.5)])
>>> cache = Values([lk.constant(1.0, 100) * lk.plateau(patience=0, factor=0.5)], None)
>>> p.observe(1.0, 1.0, None, cache), p.observe(2.0, 2.0, None, cache), cache.at(3)
(False, True, [0.5])
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from lrkit.core.plateau import Plateau
from lrkit.core.plateau import metric as as_metric
from lrkit.core.schedule import Schedule
from lrkit.reactive.controller import Controller
from lrkit.torch._values import Values
from lrkit.torch.distributed import reduce_metric

__all__ = ["Plateaus", "number", "reactive"]


def reactive(schedule: Schedule) -> bool:
    """Whether ``schedule`` holds a ``plateau(...)``."""
    return any(isinstance(node, Plateau) for node in schedule.walk())


def number(metric: Any) -> float:
    """The metric as a float (:func:`lrkit.core.plateau.metric`: numbers, numpy scalars, 0-d tensors); else a
    ``ValueError``."""
    return as_metric(metric, "Scheduler.step(metric=...)")


class Plateaus:
    """``active``: ``(j, controller)`` for each schedule ``j`` with a plateau; ``direct``: with exactly one plateau
    listening at every step, its ``(feed, controller, j)`` (``feed``: :meth:`Controller.feeder`, the plateau's rule
    bound to its state), which the fast path feeds directly; ``feed``: that feed when no ranks must agree (``step``
    calls it inline), else ``None``."""

    __slots__ = ("active", "direct", "feed")

    def __init__(self, schedules: list[Schedule]) -> None:
        self.active = [(j, Controller(s)) for j, s in enumerate(schedules) if reactive(s)]
        self.direct: tuple[Callable[[Any], bool], Controller, int] | None = None
        self.feed: Callable[[Any], bool] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # pickle / deepcopy: the feed is a plateau's rule bound to its state (not picklable); armed again by arm()
        return {"active": self.active, "direct": None, "feed": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def arm(self, ranks: bool = False) -> None:
        """Prepare the fast path's feed (at each arming: a reduction may change which plateau listens; ``ranks``:
        whether ranks must agree, as last checked)."""
        feed = self.active[0][1].feeder() if len(self.active) == 1 else None
        self.direct = None if feed is None else (feed, self.active[0][1], self.active[0][0])
        self.feed = None if ranks else feed

    def reduced(self, cache: Values) -> None:
        """The direct plateau changed its scale (through :attr:`feed`): update its row of ``cache``."""
        _, controller, j = self.direct  # type: ignore[misc]
        cache.update(j, controller)

    def refuse(self, metric: Any) -> None:
        """``step(metric)`` with no plateau to feed: the one clear error (an int: torch's deprecated epoch)."""
        if isinstance(metric, numbers.Integral) and not isinstance(metric, bool):
            raise ValueError(
                f"Scheduler.step({metric!r}): lrkit's Scheduler takes no epoch argument (torch deprecated "
                "step(epoch)): progress is counted from optimizer updates, never set. Call step() with no "
                "argument; to step once per epoch build Scheduler(..., advance='call')"
            )
        raise ValueError(
            f"Scheduler.step(metric={metric!r}): the schedule has no plateau(...) to feed; "
            "call step() without a metric, or put a plateau in the schedule"
        )

    def observe(self, metric: Any, at: Any, where: list[float] | None, cache: Values) -> bool:
        """Each plateau observes ``metric`` (reduced across ranks) at progress ``at`` (``where[j]``: schedule
        ``j``'s, on a clock); ``True`` if a value changed (its row of ``cache`` updated)."""
        if not self.active:
            self.refuse(metric)
        value = float(reduce_metric(number(metric)))
        return self._feed(value, at, where, cache)

    def observe_fast(self, metric: Any, at: Any, ranks: bool, cache: Values) -> bool:
        """:meth:`observe` on the fast path (``ranks``: whether ranks must agree, as last checked); one plateau
        listening at every step is fed its rule directly."""
        direct = self.direct
        if direct is None:
            value = metric if type(metric) is float else number(metric)
            if ranks:  # a collective: every rank calls it, in the same order
                value = float(reduce_metric(value))
            return self._feed(value, at, None, cache)
        feed, controller, j = direct
        if type(metric) is not float:
            metric = number(metric)
        if ranks:  # a collective: every rank calls it, in the same order
            metric = reduce_metric(metric)
        changed = feed(metric)
        if changed:
            cache.update(j, controller)
        return changed

    def _feed(self, value: float, at: Any, where: list[float] | None, cache: Values) -> bool:
        changed = False
        for j, controller in self.active:
            if controller.observe(value, at if where is None else where[j]):
                cache.update(j, controller)
                changed = True
        return changed
