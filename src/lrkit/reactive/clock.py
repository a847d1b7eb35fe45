"""Wall-clock progress: drive any schedule by seconds of training, or fit it to a time budget.

A :class:`WallClock` measures *training* time: seconds since it started, minus the spans it
was paused (evaluation, checkpointing), plus the seconds restored from a checkpoint. It turns
that into schedule progress three ways (``mode``):

* no ``budget``: progress is elapsed seconds, so ``step_decay(600, decay=0.5)`` halves the
  learning rate every ten minutes;
* ``budget=B`` (``mode='time'``): progress is ``elapsed / B * L`` for a schedule of length
  ``L``, so any finite schedule reaches its end exactly when the budget runs out
  (budgeted training, Li et al., 2020);
* ``budget=B, mode='hybrid'``: progress is ``max(updates, elapsed / B * L)``. A step-based
  run keeps its step schedule while it is on pace; when it falls behind, time leads, so a
  warmup-stable-decay schedule starts its final decay early and reaches its floor when the
  budget ends.

The clock source is injectable (``clock=``) so tests use a :class:`FakeClock`.

>>> fake = FakeClock()
>>> wall = WallClock(budget=100.0, clock=fake)
>>> wall.start(); fake.advance(30)
>>> with wall.paused():
...     fake.advance(1000)          # evaluation: not counted
>>> fake.advance(20); wall.elapsed()
50.0
>>> wall.progress(cosine(1000))     # half the budget is half the schedule
500.0
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from lrkit.core.schedule import Schedule
from lrkit.reactive._schema import Reader

__all__ = ["AGREE", "CLOCK_MODES", "FakeClock", "WallClock"]

#: How a :class:`WallClock` with a budget maps time to progress.
CLOCK_MODES = ("time", "hybrid")
_STATE_VERSION = 1
AGREE = ("rank0", "max")
"""How ranks agree on elapsed seconds under ``torch.distributed``
(see :func:`lrkit.torch.distributed.agree_elapsed`)."""


class FakeClock:
    """A clock for tests: returns its current time; :meth:`advance` moves it forward.

    >>> c = FakeClock(5.0); c.advance(2.5); c()
    7.5
    """

    def __init__(self, start: float = 0.0):
        if not _seconds(start):
            raise ValueError(f"FakeClock: start must be a finite number of seconds, got {start!r}")
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if not (_seconds(seconds) and seconds >= 0):
            raise ValueError(
                f"FakeClock.advance: seconds must be a finite number >= 0, got {seconds!r}; clocks do not go back"
            )
        self.now += float(seconds)


def _seconds(value: Any) -> bool:
    """Whether ``value`` is a finite real number (a bool is not: a clock reads seconds)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


class WallClock:
    """Seconds of training (pauses excluded, restored time included) and the progress they give.

    ``budget``: seconds the run may take (``None``: progress is plain seconds). ``mode``:
    ``'time'`` or ``'hybrid'`` (see the module docstring). ``clock``: a function returning
    seconds (default :func:`time.monotonic`). ``agree``: how processes of a distributed run agree
    on the seconds before they are used, ``'rank0'`` (rank 0's clock, default) or ``'max'`` (the
    slowest rank's, so no rank overruns a budget); the torch adapter applies it.

    The clock starts at :meth:`start` or at the first :meth:`elapsed`/:meth:`progress` call,
    whichever comes first (an adapter calls it when it sets the first learning rate). Pauses
    nest: time counts again when every :meth:`pause` has had its :meth:`resume`. Elapsed time
    never decreases: when the clock source steps back (NTP, a VM migration) the clock keeps counting
    from its last reading (the step back is not counted, the time after it is) and warns once.

    Progress with a budget: ``elapsed / budget * L`` for a schedule of length ``L``.

    >>> fake = FakeClock()
    >>> wall = WallClock(budget=3600.0, clock=fake)
    >>> wall.start(); fake.advance(900)
    >>> wall.progress(cosine(10_000))           # a quarter of the budget: a quarter of the schedule
    2500.0
    """

    def __init__(
        self,
        budget: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        mode: str = "time",
        agree: str = "rank0",
    ):
        if budget is not None:
            if not _seconds(budget):
                raise ValueError(f"WallClock: budget must be a finite number of seconds > 0 or None, got {budget!r}")
            if budget <= 0:
                raise ValueError(f"WallClock: budget must be > 0 seconds, got {budget!r}; e.g. 7200 for two hours")
        if not callable(clock):
            raise ValueError(
                f"WallClock: clock must be a function returning seconds (like time.monotonic), got {clock!r}"
            )
        if mode not in CLOCK_MODES:
            raise ValueError(f"WallClock: mode must be one of {', '.join(map(repr, CLOCK_MODES))}, got {mode!r}")
        if agree not in AGREE:
            raise ValueError(f"WallClock: agree must be one of {', '.join(map(repr, AGREE))}, got {agree!r}")
        if mode == "hybrid" and budget is None:
            raise ValueError("WallClock: mode='hybrid' needs a budget in seconds; give budget=...")
        self.budget: float | None = None if budget is None else float(budget)
        self.mode = mode
        self.agree = agree
        self.clock = clock
        self._offset = 0.0  # seconds banked: closed running spans and restored time
        self._since: float | None = None  # clock reading when the current running span began
        self._started = False
        self._depth = 0  # pause nesting depth
        self._last = 0.0  # the largest elapsed value returned so far
        self._read: float | None = None  # the source's last reading (a later, smaller one is a step back)
        self._warned_back = False

    def __repr__(self) -> str:
        budget = "" if self.budget is None else f"budget={self.budget!r}, "
        return f"WallClock({budget}mode={self.mode!r}, elapsed={self.elapsed() if self._started else 0.0!r})"

    def _now(self) -> float:
        now = self.clock()
        if not _seconds(now):
            raise ValueError(
                f"WallClock: the clock returned {now!r}; it must return finite seconds (a float, like "
                "time.monotonic(); a FakeClock instance, not the class)"
            )
        now = float(now)
        read = self._read
        if read is not None and now < read:  # the source stepped back: count on from its last reading
            if self._since is not None:
                self._since -= read - now
            if not self._warned_back:
                self._warned_back = True
                warnings.warn(
                    f"WallClock: the clock source stepped back by {read - now:g} s (NTP, a VM migration?); "
                    "counting on from its last reading, the step back not counted (said once)",
                    UserWarning,
                    stacklevel=4,
                )
        self._read = now
        return now

    # -- running / paused -------------------------------------------------------
    def start(self) -> None:
        """Start counting (no effect once started)."""
        if not self._started:
            self._started = True
            if self._depth == 0:
                self._since = self._now()

    @property
    def running(self) -> bool:
        """Started and not paused."""
        return self._started and self._depth == 0

    def pause(self) -> None:
        """Stop counting until the matching :meth:`resume`."""
        if self._depth == 0 and self._since is not None:
            self._offset += max(0.0, self._now() - self._since)
            self._since = None
        self._depth += 1

    def resume(self) -> None:
        """Count again (after as many resumes as pauses)."""
        if self._depth == 0:
            raise RuntimeError("WallClock.resume() without a matching pause(); use `with clock.paused(): ...`")
        self._depth -= 1
        if self._depth == 0 and self._started:
            self._since = self._now()

    @contextmanager
    def paused(self) -> Iterator[WallClock]:
        """``with clock.paused(): evaluate()`` — the time inside is not counted."""
        self.pause()
        try:
            yield self
        finally:
            self.resume()

    # -- readings ---------------------------------------------------------------
    def elapsed(self) -> float:
        """Seconds of training so far (starts the clock if needed)."""
        if not self._started:
            self.start()
        seconds = self._offset
        since = self._since
        if since is not None:
            span = self._now() - since
            if span > 0.0:
                seconds += span
        if seconds > self._last:
            self._last = seconds
        return self._last

    def remaining(self) -> float:
        """Seconds of budget left (may be negative once overrun)."""
        if self.budget is None:
            raise ValueError("WallClock.remaining(): this clock has no budget; give WallClock(budget=seconds)")
        return self.budget - self.elapsed()

    def progress(self, schedule: Schedule, updates: float | None = None, elapsed: float | None = None) -> float:
        """The progress at which to evaluate ``schedule`` now.

        ``elapsed`` without a budget; ``elapsed / budget * schedule.length`` with one;
        ``max(updates, elapsed / budget * schedule.length)`` in ``'hybrid'`` mode, where
        ``updates`` is the step-based progress so far (the adapter passes it). ``elapsed``
        overrides the clock's own reading (an adapter passes the seconds agreed across ranks).
        """
        seconds = self.elapsed() if elapsed is None else float(elapsed)
        if self.budget is None:
            return seconds
        length = schedule.length
        if length is None:
            raise ValueError(
                f"WallClock: a budget needs a finite schedule to fit into it, got the infinite {schedule!r}; "
                "bound it (take(schedule, steps)) or drop the budget to drive it by seconds"
            )
        timed = seconds / self.budget * length
        if self.mode == "time":
            return timed
        if updates is None:
            raise ValueError("WallClock(mode='hybrid').progress needs updates= (the optimizer updates so far)")
        return max(float(updates), timed)

    # -- checkpointing -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{'version': 1, 'elapsed': seconds, 'budget': ..., 'mode': ...}`` (JSON-safe)."""
        return {
            "version": _STATE_VERSION,
            "elapsed": self.elapsed() if self._started else 0.0,
            "budget": self.budget,
            "mode": self.mode,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from the saved elapsed seconds; the time between save and load is not counted.

        The budget and mode stay as constructed (so a resumed run may be given a new budget);
        whether the clock is paused right now is live state and is kept as it is. The whole state is
        checked first (a refused state changes nothing): ``ValueError`` naming the key.
        """
        self.apply_state(self.parse_state(state))

    @staticmethod
    def parse_state(state: Any, who: str = "WallClock.load_state_dict", where: str = "") -> float:
        """The elapsed seconds of a checked :meth:`state_dict` (nothing changes; ``ValueError`` naming the key)."""
        reader = Reader(who, state, "WallClock.state_dict()", where)
        reader.version(_STATE_VERSION)
        reader.only({"version", "elapsed", "budget", "mode"})
        elapsed = reader.number("elapsed", low=0.0)
        reader.number("budget", low=0.0, none=True)
        if reader.state["budget"] == 0:
            raise reader.error("budget", "a number of seconds > 0 or None", 0)
        reader.choice("mode", CLOCK_MODES)
        return float(elapsed)

    def apply_state(self, elapsed: float) -> None:
        """Continue from ``elapsed`` seconds (from :meth:`parse_state`)."""
        self._offset = elapsed
        self._last = elapsed
        self._started = True
        self._since = self._now() if self._depth == 0 else None
