"""What progress counts for :class:`lrkit.torch.Scheduler`: updates, calls, tokens, samples or a clock.

``advance="update"`` counts real optimizer updates (a step post-hook increments :attr:`Progress.count`);
``"call"`` counts ``step()`` calls; ``"tokens"``/``"samples"`` the count fed to ``step(tokens=n)`` (a
:class:`~lrkit.torch._tokens.TokenCounter`, agreed across ranks); ``updates_per_epoch=N`` makes progress
``updates / N`` (fractional epochs); a ``clock`` (:class:`lrkit.reactive.WallClock`) makes it seconds, read
at each ``step()``.

>>> p = Progress("update", 4, None, "sum")
>>> p.count[0] = 6; p.epochs(p.count[0])
1.5
"""

from __future__ import annotations

import math
import numbers
import weakref
from collections.abc import Callable
from typing import Any

import torch.distributed as dist

from lrkit.core.schedule import Schedule
from lrkit.torch._tokens import ACROSS, UNITS, TokenCounter
from lrkit.torch.distributed import agree_elapsed

__all__ = ["ADVANCE", "Progress", "update_skipped"]

ADVANCE = ("update", "call", *UNITS)
_DISTRIBUTED = dist.is_available()  # False: no process group can ever be initialised in this build


def update_skipped(optimizer: Any) -> bool:
    """Whether the ``optimizer.step()`` that just ran made no update: ``GradScaler`` found inf/NaN gradients.

    For most optimizers ``GradScaler.step`` then skips ``optimizer.step()`` (no step hook runs). Optimizers
    that scale for AMP themselves (``fused=True`` Adam/AdamW/SGD: ``_step_supports_amp_scaling``) are
    stepped with ``optimizer.found_inf`` set and skip the update in their kernel, so their step hooks do
    run: this reads that flag (a device sync on CUDA, in that case only).
    """
    found = getattr(optimizer, "found_inf", None)
    return found is not None and bool(found)


class Progress:
    """The measure of progress and its counters (checked at construction: one ``ValueError`` naming the argument).

    Attributes: ``count``, the optimizer's real updates (a one-element list the step post-hook increments);
    ``tokens``, the token/sample counter (``advance="tokens"``/``"samples"``, else None); ``ranks``, whether
    ranks must agree (a process group is initialised: re-checked by every general ``step()``).
    """

    __slots__ = ("advance", "agreed", "by_update", "clock", "count", "ranks", "tokens", "unit", "upe")

    def __init__(self, advance: Any, updates_per_epoch: Any, clock: Any, across: Any) -> None:
        if advance not in ADVANCE:
            raise ValueError(f"Scheduler: advance must be 'update', 'call', 'tokens' or 'samples', got {advance!r}")
        if across not in ACROSS:
            raise ValueError(f"Scheduler: across must be 'sum' or 'rank0', got {across!r}")
        if advance in UNITS and clock is not None:
            raise ValueError(
                f"Scheduler: advance={advance!r} and clock= are two measures of progress; give one "
                "(a schedule in tokens, or a WallClock)"
            )
        if clock is not None and not all(callable(getattr(clock, name, None)) for name in ("elapsed", "progress")):
            raise ValueError(
                "Scheduler: clock must be a lrkit.reactive.WallClock (progress in seconds), got "
                f"{type(clock).__name__} {clock!r}; a time source goes inside it: "
                "clock=WallClock(clock=time.monotonic), and in tests "
                "clock=WallClock(clock=FakeClock())"
            )
        if updates_per_epoch is not None:
            if advance != "update":
                raise ValueError("Scheduler: updates_per_epoch needs advance='update' (progress in fractional epochs)")
            if (
                isinstance(updates_per_epoch, bool)
                or not isinstance(updates_per_epoch, numbers.Real)
                or not 0 < float(updates_per_epoch) < math.inf
            ):
                raise ValueError(f"Scheduler: updates_per_epoch must be a number > 0, got {updates_per_epoch!r}")
            updates_per_epoch = float(updates_per_epoch)
        self.advance: str = advance
        self.by_update = advance == "update"
        self.unit: str | None = advance if advance in UNITS else None
        self.upe: float | None = updates_per_epoch
        self.clock = clock
        self.tokens = TokenCounter(advance, across) if advance in UNITS else None
        self.count = [0]
        self.ranks = False
        self.agreed: tuple[float, float] | None = None  # (this rank's seconds, the ranks' agreed seconds) last read

    def attach(self, optimizer: Any, owner: Any, rewrite: Callable[[Any], None]) -> None:
        """Count ``optimizer``'s real updates with a step post-hook, and call ``rewrite(owner)`` after each
        ``optimizer.load_state_dict`` (it replaces the param-group dicts, holding the saved values: writing the
        owner's values into the new dicts at once makes the load order of optimizer and Scheduler free).

        The hooks hold only the counter and a weak reference, never the owner, and are removed when it is collected.
        """
        box = self.count

        def _on_update(opt: Any, args: Any, kwargs: Any) -> None:
            if not update_skipped(opt):
                box[0] += 1

        handle = optimizer.register_step_post_hook(_on_update)
        weakref.finalize(owner, handle.remove)
        me = weakref.ref(owner)

        def _on_load(opt: Any) -> None:
            live = me()
            if live is not None:
                rewrite(live)

        loaded = optimizer.register_load_state_dict_post_hook(_on_load)
        weakref.finalize(owner, loaded.remove)

    def check_ranks(self) -> bool:
        """Whether ranks must agree (a metric, a clock, a count): a process group is initialised now."""
        self.ranks = _DISTRIBUTED and dist.is_initialized()
        return self.ranks

    def epochs(self, n: float) -> float:
        """Progress ``n`` (updates) in the schedule's unit: ``n / updates_per_epoch``, or ``n``."""
        return n / self.upe if self.upe is not None else float(n)

    def saved(self, n: int) -> int:
        """The progress a checkpoint records: the updates counted (``advance="update"``), else ``n``."""
        return self.count[0] if self.by_update else n

    def clock_reading(self, n: int) -> tuple[float, float]:
        """(seconds, updates) at this instant: the seconds agreed across ranks, the ``n`` updates as progress."""
        clock = self.clock
        seconds = float(clock.elapsed())
        if self.ranks:
            local, seconds = seconds, agree_elapsed(seconds, getattr(clock, "agree", "rank0"))
            self.agreed = (local, seconds)
        return seconds, n / self.upe if self.upe is not None else float(n)

    def clock_state(self) -> dict[str, Any]:
        """The clock's state holding the seconds the ranks agreed on, not this rank's own: the agreed reading
        plus this rank's seconds since it (a checkpoint saved by rank 0 resumes every rank where the run's agreed
        progress was; with ``agree="max"`` the slowest rank's, which rank 0's own seconds are behind)."""
        state: dict[str, Any] = self.clock.state_dict()
        elapsed = state.get("elapsed")
        if self.agreed is not None and isinstance(elapsed, float):
            local, agreed = self.agreed
            state["elapsed"] = agreed + max(0.0, elapsed - local)
        return state

    def clock_progress(self, schedules: list[Schedule], n: int) -> list[float]:
        """Each schedule's progress on the clock at this instant."""
        seconds, updates = self.clock_reading(n)
        return [self.clock.progress(s, updates, seconds) for s in schedules]

    def add(self, who: str, tokens: Any, samples: Any) -> None:
        """``Scheduler.count`` (and ``step(tokens=n)``'s count): this rank's count, checked, added to the pending."""
        if tokens is None and samples is None:
            return
        unit = self.unit
        if self.tokens is None or unit is None:
            name = "tokens" if tokens is not None else "samples"
            raise ValueError(
                f"Scheduler.{who}({name}=...): this Scheduler counts {self.advance}s; build it with "
                f"Scheduler(..., advance={name!r}) to drive the schedule by the {name} fed"
            )
        other = "samples" if unit == "tokens" else "tokens"
        if (samples if unit == "tokens" else tokens) is not None:
            raise ValueError(
                f"Scheduler.{who}({other}=...): this Scheduler counts {unit} (advance={unit!r}); pass {unit}=n"
            )
        self.tokens.add(who, tokens if unit == "tokens" else samples)

    def take(self, tokens: Any, samples: Any) -> int:
        """``step(tokens=n)``: add this update's count, agreed across ranks; the new total (a refused count: none)."""
        counter = self.tokens
        if counter is None:
            self.add("step", tokens, samples)  # raises: this Scheduler counts updates or calls
            raise AssertionError("unreachable: add raises without a token counter")
        pending = counter.pending
        try:
            self.add("step", tokens, samples)
            return counter.take()
        except ValueError:
            counter.pending = pending  # a refused count leaves nothing behind
            raise
